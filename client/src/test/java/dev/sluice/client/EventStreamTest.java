package dev.sluice.client;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.client.testing.FakeUpstream;
import dev.sluice.client.testing.RawUpstream;
import dev.sluice.wire.chat.StreamEvent;
import dev.sluice.wire.json.Json;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The low-level stream the gateway relays: the exact contract of {@link SluiceClient#openChatStream}. */
class EventStreamTest {

    static final String CHUNK = "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hi\"},\"finish_reason\":null}]}\n\n";
    static final String FINISH = "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n";
    static final String DONE = "data: [DONE]\n\n";

    static ObjectNode body() {
        var body = Json.object().put("model", "m").put("stream", true);
        body.putArray("messages").addObject().put("role", "user").put("content", "hi");
        body.put("top_k", 40).putObject("provider").put("order", "x"); // provider fields pass through
        return body;
    }

    static List<StreamEvent> drain(EventStream stream) throws Exception {
        var list = new ArrayList<StreamEvent>();
        for (StreamEvent e; (e = stream.next()) != null; ) list.add(e);
        return list;
    }

    @Test
    void sendsTheBodyAsIsWithTheConfiguredHeaders() throws Exception {
        try (var upstream = FakeUpstream.start((ex, req, i) -> {
                    ex.getResponseHeaders().set("x-request-id", "req_1");
                    FakeUpstream.sse(ex, (CHUNK + FINISH + DONE).getBytes(StandardCharsets.UTF_8));
                });
                var client = SluiceClient.builder()
                        .baseUrl(upstream.baseUrl() + "/")
                        .apiKey("sk-test")
                        .organization("org-1")
                        .project("proj-1")
                        .header("X-Default", "d")
                        .header("X-Overridden", "client")
                        .build()) {
            var options = RequestOptions.builder().header("X-Overridden", "request").header("X-Extra", "e").build();
            var body = body();
            try (var stream = client.openChatStream(body, options)) {
                assertThat(stream.status()).isEqualTo(200);
                assertThat(stream.headers().firstValue("x-request-id")).hasValue("req_1");
                assertThat(drain(stream)).hasSize(4);
                assertThat(stream.completed()).isTrue();
            }
            var request = upstream.requests().getFirst();
            assertThat(request.method()).isEqualTo("POST");
            assertThat(request.path()).isEqualTo("/v1/chat/completions");
            assertThat(request.json()).isEqualTo(body);
            assertThat(request.header("Authorization")).isEqualTo("Bearer sk-test");
            assertThat(request.header("OpenAI-Organization")).isEqualTo("org-1");
            assertThat(request.header("OpenAI-Project")).isEqualTo("proj-1");
            assertThat(request.header("X-Default")).isEqualTo("d");
            assertThat(request.header("X-Overridden")).isEqualTo("request");
            assertThat(request.header("X-Extra")).isEqualTo("e");
            assertThat(request.header("Content-Type")).isEqualTo("application/json");
            assertThat(request.header("Accept")).isEqualTo("text/event-stream");
        }
    }

    @Test
    void eventsAreCanonicalAndEndWithNull() throws Exception {
        try (var upstream = FakeUpstream.start((ex, req, i) -> FakeUpstream.sse(ex, (CHUNK + FINISH + DONE).getBytes(StandardCharsets.UTF_8)));
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).build();
                var stream = client.openChatStream(body())) {
            assertThat(drain(stream)).containsExactly(
                    new StreamEvent.Metadata("c1", "m", 1, null, null),
                    new StreamEvent.Role(0, "assistant"),
                    new StreamEvent.TextDelta(0, "Hi"),
                    new StreamEvent.Finish(0, "stop"));
            assertThat(stream.completed()).isTrue();
            assertThat(stream.next()).isNull();
        }
    }

    @Test
    void returnsAtDoneWithoutWaitingForTheBodyToEnd() throws Exception {
        try (var upstream = RawUpstream.start(c -> {
                    c.write(RawUpstream.SSE_HEAD);
                    c.chunk(CHUNK + DONE);
                    c.awaitClientClose(Duration.ofSeconds(10)); // never ends the body
                });
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).idleTimeout(Duration.ofSeconds(5)).build();
                var stream = client.openChatStream(body())) {
            long start = System.nanoTime();
            assertThat(drain(stream)).hasSize(3);
            assertThat(stream.completed()).isTrue();
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(2));
        }
    }

    @Test
    void aBodyThatJustStopsIsNotCompleted() throws Exception {
        try (var upstream = FakeUpstream.start((ex, req, i) -> FakeUpstream.sse(ex, CHUNK.getBytes(StandardCharsets.UTF_8)));
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).build();
                var stream = client.openChatStream(body())) {
            assertThat(drain(stream)).hasSize(3);
            assertThat(stream.completed()).isFalse();
        }
    }

    @Test
    void errorsInTheStreamAreEventsAndComplete() throws Exception {
        var error = "data: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\",\"code\":503}}\n\n";
        try (var upstream = FakeUpstream.start((ex, req, i) -> FakeUpstream.sse(ex, (CHUNK + error).getBytes(StandardCharsets.UTF_8)));
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).build();
                var stream = client.openChatStream(body())) {
            var events = drain(stream);
            assertThat(events.getLast()).isInstanceOfSatisfying(StreamEvent.Error.class, e -> {
                assertThat(e.error().message()).isEqualTo("overloaded");
                assertThat(e.error().code()).isEqualTo("503");
            });
            assertThat(stream.completed()).isTrue();
        }
    }

    @Test
    void malformedChunksArriveAsErrorEvents() throws Exception {
        try (var upstream = FakeUpstream.start((ex, req, i) -> FakeUpstream.sse(ex, "data: {not json\n\n".getBytes(StandardCharsets.UTF_8)));
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).build();
                var stream = client.openChatStream(body())) {
            assertThat(drain(stream)).singleElement().isInstanceOfSatisfying(StreamEvent.Error.class,
                    e -> assertThat(e.error().code()).isEqualTo("bad_upstream_response"));
            assertThat(stream.completed()).isTrue();
        }
    }

    @Test
    void bufferedCountsEventsAvailableWithoutBlocking() throws Exception {
        try (var upstream = RawUpstream.start(c -> {
                    c.write(RawUpstream.SSE_HEAD);
                    c.chunk(CHUNK + FINISH); // one network piece, two chunks
                    c.awaitClientClose(Duration.ofSeconds(10));
                });
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).build();
                var stream = client.openChatStream(body())) {
            assertThat(stream.buffered()).isZero();
            assertThat(stream.next()).isInstanceOf(StreamEvent.Metadata.class);
            assertThat(stream.buffered()).isEqualTo(3);
            for (int i = 0; i < 3; i++) stream.next();
            assertThat(stream.buffered()).isZero();
        }
    }

    @Test
    void errorStatusesThrowBeforeAStreamExists() throws Exception {
        try (var upstream = FakeUpstream.start((ex, req, i) -> FakeUpstream.json(ex, 429,
                        "{\"error\":{\"message\":\"slow down\",\"type\":\"rate_limit_error\",\"code\":\"rate_limit_exceeded\",\"param\":null}}",
                        java.util.Map.of("Retry-After", "7", "x-request-id", "req_429")));
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).maxRetries(0).build()) {
            var thrown = org.assertj.core.api.Assertions.catchThrowableOfType(ApiException.RateLimit.class, () -> client.openChatStream(body()));
            assertThat(thrown.status()).isEqualTo(429);
            assertThat(thrown.retryAfter()).hasValue(Duration.ofSeconds(7));
            assertThat(thrown.requestId()).isEqualTo("req_429");
            assertThat(thrown.bodyText()).contains("slow down");
            assertThat(thrown.headers().firstValue("retry-after")).hasValue("7");
        }
    }

    @Test
    void closingAfterDoneKeepsTheConnectionForTheNextRequest() throws Exception {
        try (var upstream = RawUpstream.start(c -> {
                    for (int i = 0; i < 2; i++) {
                        if (i > 0) c.readRequest();
                        if (c.head().isEmpty()) return; // the client closed this connection
                        c.write(RawUpstream.SSE_HEAD);
                        c.chunk(CHUNK + FINISH + DONE);
                        Thread.sleep(40); // the end of the body comes a little after [DONE]
                        c.endChunks();
                    }
                });
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).build()) {
            for (int i = 0; i < 2; i++) {
                try (var stream = client.openChatStream(body())) {
                    assertThat(drain(stream)).hasSize(4);
                }
                Thread.sleep(200); // past the grace period
            }
            assertThat(upstream.connectionsAccepted()).as("one connection for both streams").isEqualTo(1);
        }
    }

    @Test
    void closingAfterDoneStillClosesABodyThatNeverEnds() throws Exception {
        var closed = new java.util.concurrent.CompletableFuture<Boolean>();
        try (var upstream = RawUpstream.start(c -> {
                    c.write(RawUpstream.SSE_HEAD);
                    c.chunk(CHUNK + DONE);
                    closed.complete(c.awaitClientClose(Duration.ofSeconds(10)));
                });
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).build()) {
            try (var stream = client.openChatStream(body())) {
                assertThat(drain(stream)).hasSize(3);
            }
            assertThat(closed.get(5, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        }
    }

    static final String COMPLETION = "{\"id\":\"c1\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,"
            + "\"message\":{\"role\":\"assistant\",\"content\":\"Hi\",\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}},"
            + "{\"id\":\"call_2\",\"type\":\"function\",\"function\":{\"name\":\"g\",\"arguments\":\"{\\\"a\\\":1}\"}}]},\"finish_reason\":\"tool_calls\"}],"
            + "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}";

    /** A request without streaming is answered with one completion: the stream reads it as the same events. */
    @Test
    void aNonStreamedCompletionReadsAsTheSameEvents() throws Exception {
        try (var upstream = FakeUpstream.start((ex, req, i) -> FakeUpstream.json(ex, 200, COMPLETION));
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).build()) {
            var body = body().put("stream", false);
            try (var stream = client.openChatStream(body)) {
                assertThat(drain(stream)).containsExactly(
                        new StreamEvent.Metadata("c1", "m", 1, null, null),
                        new StreamEvent.Role(0, "assistant"),
                        new StreamEvent.TextDelta(0, "Hi"),
                        new StreamEvent.ToolCallStart(0, 0, "call_1", "function", "f"),
                        new StreamEvent.ToolCallArguments(0, 0, "{}"),
                        new StreamEvent.ToolCallStart(0, 1, "call_2", "function", "g"),
                        new StreamEvent.ToolCallArguments(0, 1, "{\"a\":1}"),
                        new StreamEvent.Finish(0, "tool_calls"),
                        new StreamEvent.Usage(Json.parse("{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}")));
                assertThat(stream.completed()).isTrue();
            }
            assertThat(upstream.requests().getFirst().header("Accept")).isEqualTo("application/json");
        }
    }

    @Test
    void aNonStreamedBodyThatIsNotJsonIsAnErrorEventNotAnEmptyAnswer() throws Exception {
        try (var upstream = FakeUpstream.start((ex, req, i) -> FakeUpstream.json(ex, 200, "{\"id\":\"c1\",\"choices\":[{\"index\":0,"));
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).build();
                var stream = client.openChatStream(body().put("stream", false))) {
            var events = drain(stream);
            assertThat(events).last().isInstanceOfSatisfying(StreamEvent.Error.class,
                    e -> assertThat(e.error().code()).isEqualTo("bad_upstream_response"));
            assertThat(stream.completed()).isTrue();
        }
    }
}
