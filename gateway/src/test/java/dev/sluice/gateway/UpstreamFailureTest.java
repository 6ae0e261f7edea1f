package dev.sluice.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.wire.json.Json;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Upstream failures, before and after the first byte, and the client hanging up: each has a
 * client-visible outcome a user can rely on, and a hang-up always reaches the upstream.
 */
class UpstreamFailureTest {

    static final AtomicReference<Function<JsonNode, FakeUpstream.Reply>> next = new AtomicReference<>();
    static FakeUpstream upstream;
    static TestGateway gw;

    static final String CHUNK = "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n";

    @BeforeAll
    static void start() throws Exception {
        upstream = new FakeUpstream(body -> next.get().apply(body));
        gw = TestGateway.yaml("""
                limits:
                  keepalive: 100ms
                providers:
                  fake:
                    type: openai
                    base_url: %1$s
                    timeouts:
                      first_byte: 1s
                      idle: 1500ms
                  slow:
                    type: openai
                    base_url: %1$s
                    timeouts:
                      first_byte: 300ms
                      total: 1s
                  down:
                    type: openai
                    base_url: http://127.0.0.1:1/v1
                """.formatted(upstream.baseUrl()));
    }

    @AfterAll
    static void stop() throws Exception {
        gw.close();
        upstream.close();
    }

    static String chat(boolean stream) {
        return "{\"model\":\"fake/m\",\"stream\":" + stream + ",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    }

    @Test
    void rateLimitBeforeFirstByteKeepsStatusBodyAndRetryAfter() throws Exception {
        next.set(b -> FakeUpstream.Reply.json(429, "{\"error\":{\"message\":\"Slow down\",\"type\":\"rate_limit_error\",\"param\":null,\"code\":\"rate_limit_exceeded\"}}", Map.of("Retry-After", "12")));
        for (boolean stream : new boolean[] {false, true}) {
            var r = gw.post("/chat/completions", chat(stream));
            assertThat(r.statusCode()).isEqualTo(429);
            assertThat(r.headers().firstValue("retry-after")).hasValue("12");
            var error = Json.parse(r.body()).get("error");
            assertThat(error.get("message").asText()).isEqualTo("Slow down");
            assertThat(error.get("code").asText()).isEqualTo("rate_limit_exceeded");
        }
    }

    @Test
    void serverErrorBeforeFirstByteIsRelayed() throws Exception {
        next.set(b -> FakeUpstream.Reply.json(503, "upstream overloaded, not json", Map.of()));
        var r = gw.post("/chat/completions", chat(true));
        assertThat(r.statusCode()).isEqualTo(503);
        assertThat(Json.parse(r.body()).at("/error/message").asText()).contains("503").contains("upstream overloaded");
    }

    @Test
    void unreachableUpstreamIs502() throws Exception {
        var r = gw.post("/chat/completions", "{\"model\":\"down/m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        assertThat(r.statusCode()).isEqualTo(502);
        assertThat(Json.parse(r.body()).at("/error/code").asText()).isEqualTo("upstream_unreachable");
    }

    @Test
    void silentUpstreamIs504() throws Exception {
        // A reply whose headers never come: stall before the status line. A stream is bounded by the first-byte
        // timeout; a non-streamed answer's head only comes once it is complete, so the total timeout bounds it.
        next.set(b -> { sleep(2000); return FakeUpstream.Reply.json(200, "{}", Map.of()); });
        var cases = Map.of(chat(true), "no response headers within 1000 ms", // fake: first_byte 1s
                chat(true).replace("fake/m", "slow/m"), "no response headers within 300 ms", // slow: first_byte 300ms
                chat(false).replace("fake/m", "slow/m"), "total timeout of 1000 ms"); // slow: total 1s
        for (var c : cases.entrySet()) {
            var r = gw.post("/chat/completions", c.getKey());
            assertThat(r.statusCode()).as(c.getKey()).isEqualTo(504);
            var error = Json.parse(r.body()).get("error");
            assertThat(error.get("type").asText()).isEqualTo("timeout_error");
            assertThat(error.get("message").asText()).contains(c.getValue());
        }
    }

    @Test
    void stallAfterFirstByteBecomesAnErrorEvent() throws Exception {
        next.set(b -> FakeUpstream.Reply.sse(CHUNK.getBytes(StandardCharsets.UTF_8), 1000, 0).stalling());
        var r = gw.stream(chat(true));
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.endsWithDone()).isFalse();
        var last = Json.parse(r.events().getLast().data());
        assertThat(last.at("/error/code").asText()).isEqualTo("upstream_timeout");
        assertThat(r.comments()).as("keep-alives flowed while the upstream was silent").contains("keep-alive");
    }

    @Test
    void upstreamCutMidStreamIsAnErrorEventNotATruncation() throws Exception {
        next.set(b -> FakeUpstream.Reply.sse(CHUNK.getBytes(StandardCharsets.UTF_8), 1000, 0));
        var r = gw.stream(chat(true));
        assertThat(r.endsWithDone()).isFalse();
        var last = Json.parse(r.events().getLast().data());
        assertThat(last.at("/error/code").asText()).isEqualTo("upstream_incomplete");
        var nonStream = gw.post("/chat/completions", chat(false));
        assertThat(nonStream.statusCode()).isEqualTo(502);
    }

    @Test
    void clientHangUpCancelsTheUpstreamPromptly() throws Exception {
        for (boolean stream : new boolean[] {true, false}) {
            next.set(b -> FakeUpstream.Reply.sse(CHUNK.getBytes(StandardCharsets.UTF_8), 1000, 0).stalling());
            int before = upstream.seen.size();
            var request = HttpRequest.newBuilder(URI.create(gw.base() + "/chat/completions"))
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(chat(stream))).build();
            var future = gw.http.sendAsync(request, HttpResponse.BodyHandlers.ofInputStream());
            waitFor(() -> upstream.seen.size() > before);
            if (stream) {
                var in = future.get().body();
                in.read(); // the first bytes arrived: the stream is live
                in.close();
            } else {
                Thread.sleep(200);
                future.cancel(true);
            }
            long hungUp = System.nanoTime();
            var seen = upstream.seen.get(before);
            assertThat(seen.awaitClosed(2000)).as("upstream connection closed after client hang-up (stream=%s)", stream).isTrue();
            assertThat(Duration.ofNanos(seen.closedAtNanos - hungUp).toMillis()).isLessThan(1000);
        }
    }

    static void waitFor(java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError("timed out waiting");
            Thread.sleep(10);
        }
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
