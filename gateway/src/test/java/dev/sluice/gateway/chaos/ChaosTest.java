package dev.sluice.gateway.chaos;

import static dev.sluice.gateway.chaos.FaultyUpstream.TEXT;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.client.ApiException;
import dev.sluice.client.RequestOptions;
import dev.sluice.client.SluiceClient;
import dev.sluice.client.StreamErrorException;
import dev.sluice.gateway.TestGateway;
import dev.sluice.gateway.chaos.FaultyUpstream.Mode;
import dev.sluice.gateway.config.ConfigLoader;
import dev.sluice.gateway.usage.UsageRecord;
import dev.sluice.wire.json.Json;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The chaos table: each upstream fault, and what a client of the gateway sees, through the Sluice client.
 *
 * <p>Two routes per fault: {@code single-<fault>} has the faulty deployment only (what the failure looks
 * like to a client: an OpenAI error with a status before the first byte, an error event after it, never a
 * silent truncation); {@code fallback-<fault>} is faulty → healthy (retries, fallback and mid-stream
 * continuation make the client see one normal, complete answer). Every row is run streaming and not
 * streaming, concurrently. The non-streaming client's request goes upstream non-streamed (the faulty
 * upstream streams anyway, as some servers do), so a fault anywhere in the upstream's answer is a failure
 * before its first byte: retried and fallen back from. Timeouts are small (first byte 1 s, idle 1 s, total
 * 3 s, which is what bounds a non-streamed answer) so the table runs in seconds.
 */
class ChaosTest {

    /** What the client sees. */
    enum Kind { COMPLETE, HTTP_ERROR, STREAM_ERROR }

    /**
     * One expected outcome. For HTTP errors: status, OpenAI error code (null: not checked), a piece of the
     * message, Retry-After (null: absent), and the attempts the gateway made (x-sluice-attempts).
     * For stream errors: the error code of the event; the non-streaming client then gets {@code status}.
     */
    record Expect(Kind kind, int status, String code, String message, String retryAfter, int attempts) {
        static Expect complete() {
            return new Expect(Kind.COMPLETE, 200, null, null, null, 0);
        }

        static Expect http(int status, String code, String message, String retryAfter, int attempts) {
            return new Expect(Kind.HTTP_ERROR, status, code, message, retryAfter, attempts);
        }

        /** An error event mid-stream (streaming); a {@code status} error for the non-streaming client. */
        static Expect midStream(String code, int status) {
            return new Expect(Kind.STREAM_ERROR, status, code, null, null, 0);
        }
    }

    /** Who serves the answer on the fallback route, by the x-sluice-deployment header. */
    enum ServedBy { FAULTY, HEALTHY }

    /**
     * The table: fault → outcome on the single-deployment route (for the streaming client, and where it
     * differs, for the non-streaming one), and who serves the stream on the fallback route.
     */
    enum Row {
        // The upstream was reached: a reset is its failure, not "could not reach".
        RESET_BEFORE_FIRST_BYTE(Mode.RESET_BEFORE_FIRST_BYTE, Expect.http(502, "upstream_error", ") failed: ", null, 3), ServedBy.HEALTHY),
        RESET_MID_STREAM(Mode.RESET_MID_STREAM, Expect.midStream("upstream_error", 502),
                Expect.http(502, "upstream_error", ") failed: ", null, 3), ServedBy.FAULTY),
        STALL_BEFORE_FIRST_BYTE(Mode.STALL_BEFORE_FIRST_BYTE, Expect.http(504, "upstream_timeout", "did not answer in time", null, 3), ServedBy.HEALTHY),
        STALL_AFTER_FIRST_BYTE(Mode.STALL_AFTER_FIRST_BYTE, Expect.midStream("upstream_timeout", 504),
                Expect.http(504, "upstream_timeout", "did not answer in time", null, 3), ServedBy.FAULTY),
        GARBAGE_STATUS_LINE(Mode.GARBAGE_STATUS_LINE, Expect.http(502, "bad_upstream_response", ") sent a malformed response: ", null, 3), ServedBy.HEALTHY),
        GARBAGE_SSE(Mode.GARBAGE_SSE, Expect.midStream(null, 502), ServedBy.FAULTY),
        // The cut-off last event is still parsed (lenient end of stream) and reported as malformed, never dropped.
        TRUNCATED_SSE(Mode.TRUNCATED_SSE, Expect.midStream("bad_upstream_response", 502), ServedBy.FAULTY),
        UTF8_SPLIT(Mode.UTF8_SPLIT, Expect.complete(), ServedBy.FAULTY),
        OVERSIZED_LINE(Mode.OVERSIZED_LINE, Expect.midStream("bad_upstream_response", 502), ServedBy.FAULTY),
        RATE_LIMITED_RETRY_AFTER_1S(Mode.RATE_LIMITED, Expect.http(429, "rate_limit_exceeded", "chaos: slow down", "1", 3), ServedBy.HEALTHY),
        RATE_LIMITED_RETRY_AFTER_30S(Mode.RATE_LIMITED_LONG, Expect.http(429, "rate_limit_exceeded", "chaos: slow down a lot", "30", 1), ServedBy.HEALTHY),
        HTTP_500(Mode.HTTP_500, Expect.http(500, "chaos_500", "chaos: internal error", null, 3), ServedBy.HEALTHY),
        HTTP_503(Mode.HTTP_503, Expect.http(503, null, "chaos: overloaded", null, 3), ServedBy.HEALTHY),
        SLOW_DRIP(Mode.SLOW_DRIP, Expect.complete(), ServedBy.FAULTY);

        final Mode mode;
        final Expect single;
        final Expect blocking;
        final ServedBy fallbackServedBy;

        Row(Mode mode, Expect single, ServedBy fallbackServedBy) {
            this(mode, single, single, fallbackServedBy);
        }

        Row(Mode mode, Expect single, Expect blocking, ServedBy fallbackServedBy) {
            this.mode = mode;
            this.single = single;
            this.blocking = blocking;
            this.fallbackServedBy = fallbackServedBy;
        }
    }

    static final List<UsageRecord> usage = new CopyOnWriteArrayList<>();
    static FaultyUpstream upstream;
    static TestGateway gw;
    static SluiceClient client;

    @BeforeAll
    static void start() throws Exception {
        upstream = new FaultyUpstream(600);
        var yaml = new StringBuilder("""
                limits: {keepalive: 15s}
                providers:
                  faulty:
                    type: openai
                    base_url: %1$s
                    timeouts: {connect: 1s, first_byte: 1s, idle: 1s, total: 3s}
                  healthy:
                    type: openai
                    base_url: %1$s
                    timeouts: {connect: 1s, first_byte: 1s, idle: 1s, total: 3s}
                models:
                """.formatted(upstream.baseUrl()));
        for (var mode : Mode.values()) {
            // Defaults (2 retries, Retry-After honoured up to 10 s, continue mid-stream) except a short backoff,
            // and no cooldown, so every row sees the same order of deployments.
            var policy = "backoff: 20ms, cooldown_failures: 1000";
            yaml.append("  - {name: single-").append(mode.model()).append(", ").append(policy)
                    .append(", deployments: [{provider: faulty, model: ").append(mode.model()).append("}]}\n");
            yaml.append("  - {name: fallback-").append(mode.model()).append(", ").append(policy)
                    .append(", deployments: [{provider: faulty, model: ").append(mode.model()).append("}, {provider: healthy, model: ok}]}\n");
        }
        gw = new TestGateway(new ConfigLoader(k -> null).parse(yaml.toString(), "chaos.yaml"), usage::add);
        client = SluiceClient.builder().baseUrl(gw.base()).maxRetries(0)
                .idleTimeout(Duration.ofSeconds(15)).totalTimeout(Duration.ofSeconds(40)).build();
    }

    @AfterAll
    static void stop() throws Exception {
        client.close();
        gw.close();
        // Every connection the gateway opened to the upstream is closed once the table is done.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (upstream.openConnections() > 0 && System.nanoTime() < deadline) Thread.sleep(20);
        int left = upstream.openConnections();
        upstream.close();
        assertThat(left).as("upstream connections left open after the chaos table").isZero();
    }

    static ObjectNode body(String model, boolean stream) {
        var b = Json.object();
        b.put("model", model);
        b.putArray("messages").addObject().put("role", "user").put("content", "Say hello from Cologne.");
        if (stream) {
            b.put("stream", true);
            b.putObject("stream_options").put("include_usage", true);
        }
        return b;
    }

    /** The outcome of one streaming call, as the Sluice client reports it. */
    record Seen(Kind kind, String text, int status, String code, String message, String retryAfter, String attempts, String deployment,
            Throwable failure) {
        @Override
        public String toString() {
            return kind + " status=" + status + " code=" + code + " message=" + message + " retryAfter=" + retryAfter + " attempts=[" + attempts
                    + "] deployment=" + deployment + " text=" + text + (failure == null ? "" : " failure=" + failure);
        }
    }

    static Seen stream(String model) {
        try {
            var s = client.chat().stream(body(model, true), RequestOptions.DEFAULT);
            var attempts = s.headers().firstValue("x-sluice-attempts").orElse(null);
            var deployment = s.headers().firstValue("x-sluice-deployment").orElse(null);
            try (s) {
                var result = s.finalChatCompletion();
                return new Seen(Kind.COMPLETE, result.choice(0).message().content(), 200, null, null, null, attempts, deployment, null);
            } catch (StreamErrorException e) {
                var partial = s.snapshot().choices().isEmpty() ? "" : s.snapshot().choice(0).message().content();
                return new Seen(Kind.STREAM_ERROR, partial, 200, e.code(), e.getMessage(), null, attempts, deployment, e);
            }
        } catch (ApiException e) {
            return new Seen(Kind.HTTP_ERROR, null, e.status(), e.code(), e.errorMessage(), e.headers().firstValue("retry-after").orElse(null),
                    e.headers().firstValue("x-sluice-attempts").orElse(null), null, e);
        } catch (Throwable t) {
            // IncompleteStreamException (a silent truncation), timeouts, anything else: never expected.
            return new Seen(null, null, 0, null, null, null, null, null, t);
        }
    }

    static Seen complete(String model) {
        try {
            var result = client.chat().create(body(model, false));
            return new Seen(Kind.COMPLETE, result.choice(0).message().content(), 200, null, null, null, null, null, null);
        } catch (ApiException e) {
            return new Seen(Kind.HTTP_ERROR, null, e.status(), e.code(), e.errorMessage(), e.headers().firstValue("retry-after").orElse(null),
                    e.headers().firstValue("x-sluice-attempts").orElse(null), null, e);
        } catch (Throwable t) {
            return new Seen(null, null, 0, null, null, null, null, null, t);
        }
    }

    /** Runs the streaming and the non-streaming call at the same time. */
    static Seen[] both(String model) {
        // Blocking calls belong on their own threads, not the (tiny) common pool.
        var threads = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor();
        var s = CompletableFuture.supplyAsync(() -> stream(model), threads);
        var n = CompletableFuture.supplyAsync(() -> complete(model), threads);
        return new Seen[] {s.join(), n.join()};
    }

    static int count(String attempts) {
        return attempts == null || attempts.isEmpty() ? 0 : attempts.split(", ").length;
    }

    @ParameterizedTest(name = "single deployment: {0}")
    @EnumSource(Row.class)
    void singleDeployment(Row row) throws Exception {
        var model = "single-" + row.mode.model();
        var label = "faulty/" + row.mode.model();
        var seen = both(model);
        var streamed = seen[0];
        var blocking = seen[1];
        System.out.printf("CHAOS single   %-30s stream: %s%n               %-30s non-stream: %s%n", row, streamed, "", blocking);
        var e = row.single;
        switch (e.kind()) {
            case COMPLETE -> {
                assertThat(streamed.kind()).as(streamed.toString()).isEqualTo(Kind.COMPLETE);
                assertThat(streamed.text()).isEqualTo(TEXT);
                assertThat(streamed.deployment()).isEqualTo(label);
                assertThat(streamed.attempts()).isEqualTo(label + "=ok");
            }
            case HTTP_ERROR -> assertHttpError(streamed, e, label);
            case STREAM_ERROR -> {
                // The stream starts (200), then ends with an error event the client raises: never a silent end.
                assertThat(streamed.kind()).as(streamed.toString()).isEqualTo(Kind.STREAM_ERROR);
                if (e.code() != null) assertThat(streamed.code()).as(streamed.toString()).isEqualTo(e.code());
                assertThat(streamed.deployment()).isEqualTo(label);
                // Whatever text arrived before the error is a clean prefix of the answer: no repeats, no garbage.
                assertThat(TEXT).as(streamed.toString()).startsWith(streamed.text());
                assertThat(streamed.text()).isNotEmpty();
            }
        }
        var b = row.blocking;
        switch (b.kind()) {
            case COMPLETE -> {
                assertThat(blocking.kind()).as(blocking.toString()).isEqualTo(Kind.COMPLETE);
                assertThat(blocking.text()).isEqualTo(TEXT);
            }
            case HTTP_ERROR -> assertHttpError(blocking, b, label);
            case STREAM_ERROR -> {
                // An error inside the upstream's answer: the non-streaming client gets it as an error status.
                assertThat(blocking.kind()).as(blocking.toString()).isEqualTo(Kind.HTTP_ERROR);
                assertThat(blocking.status()).as(blocking.toString()).isEqualTo(b.status());
                if (b.code() != null) assertThat(blocking.code()).as(blocking.toString()).isEqualTo(b.code());
            }
        }
        assertUsage(model, List.of(outcome(e), outcome(b)));
    }

    static void assertHttpError(Seen s, Expect e, String label) {
        assertThat(s.kind()).as(s.toString()).isEqualTo(Kind.HTTP_ERROR);
        assertThat(s.status()).as(s.toString()).isEqualTo(e.status());
        if (e.code() != null) assertThat(s.code()).as(s.toString()).isEqualTo(e.code());
        assertThat(s.message()).as(s.toString()).contains(e.message());
        if (e.retryAfter() == null) assertThat(s.retryAfter()).as(s.toString()).isNull();
        else assertThat(s.retryAfter()).as(s.toString()).isEqualTo(e.retryAfter());
        assertThat(count(s.attempts())).as(s.toString()).isEqualTo(e.attempts());
        assertThat(s.attempts()).startsWith(label + "=");
    }

    /** The usage record's outcome for what the client saw. */
    static String outcome(Expect e) {
        return switch (e.kind()) {
            case COMPLETE -> "completed";
            case HTTP_ERROR -> "upstream_refused";
            case STREAM_ERROR -> "error";
        };
    }

    @ParameterizedTest(name = "faulty -> healthy: {0}")
    @EnumSource(Row.class)
    void withFallback(Row row) throws Exception {
        var model = "fallback-" + row.mode.model();
        var faulty = "faulty/" + row.mode.model();
        var seen = both(model);
        var streamed = seen[0];
        var blocking = seen[1];
        System.out.printf("CHAOS fallback %-30s stream: %s%n               %-30s non-stream: %s%n", row, streamed, "", blocking);
        for (var s : seen) {
            assertThat(s.kind()).as(s.toString()).isEqualTo(Kind.COMPLETE);
            assertThat(s.text()).as(s.toString()).isEqualTo(TEXT);
        }
        var served = row.fallbackServedBy == ServedBy.HEALTHY ? "healthy/ok" : faulty;
        assertThat(streamed.deployment()).as(streamed.toString()).isEqualTo(served);
        assertThat(streamed.attempts()).as(streamed.toString()).startsWith(faulty + "=").endsWith(served + "=ok");
        if (row.fallbackServedBy == ServedBy.HEALTHY) {
            // Before the first byte: the faulty deployment was tried (and retried when worth it) first.
            int expected = row.single.kind() == Kind.HTTP_ERROR ? row.single.attempts() + 1 : 1;
            assertThat(count(streamed.attempts())).as(streamed.toString()).isEqualTo(expected);
        }
        assertUsage(model, List.of("completed", "completed"));
    }

    /** One usage record per request, with the outcome the client saw. */
    static void assertUsage(String model, List<String> outcomes) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        List<String> got;
        do {
            got = new ArrayList<>();
            for (var r : usage) if (r.model().equals(model)) got.add(r.outcome());
            if (got.size() >= outcomes.size()) break;
            Thread.sleep(10);
        } while (System.nanoTime() < deadline);
        assertThat(got).as("usage outcomes for " + model).containsExactlyInAnyOrderElementsOf(outcomes);
    }
}
