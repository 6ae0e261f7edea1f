package dev.sluice.client.responses;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.client.IncompleteStreamException;
import dev.sluice.client.SluiceClient;
import dev.sluice.client.StreamErrorException;
import dev.sluice.client.testing.FakeUpstream;
import dev.sluice.client.testing.RawUpstream;
import dev.sluice.wire.fixtures.Fixtures;
import dev.sluice.wire.fixtures.Fixtures.Fixture;
import dev.sluice.wire.json.Json;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The Responses API: blocking create, and the recorded Responses streams replayed over loopback. */
class ResponsesTest {

    static Stream<Fixture> responsesFixtures() {
        Assumptions.assumeTrue(Fixtures.available(), "../shared/fixtures/upstream-sse is absent");
        return Fixtures.all().stream().filter(f -> f.name().contains("responses"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("responsesFixtures")
    void streamsRecordedResponses(Fixture fixture) throws Exception {
        var expected = fixture.expected();
        try (var upstream = FakeUpstream.start((ex, req, i) -> FakeUpstream.ssePieces(ex, fixture.bytes(), 64, 7));
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).build();
                var stream = client.responses().stream(Json.object().put("model", "m").put("input", "hi"))) {
            var counts = new LinkedHashMap<String, Integer>();
            var text = new TreeMap<Integer, StringBuilder>();
            var arguments = new TreeMap<Integer, StringBuilder>();
            for (var event : stream) {
                counts.merge(event.type(), 1, Integer::sum);
                int index = event.data().path("output_index").asInt();
                switch (event.type()) {
                    case "response.output_text.delta" -> text.computeIfAbsent(index, k -> new StringBuilder()).append(event.data().get("delta").asText());
                    case "response.function_call_arguments.delta" -> arguments.computeIfAbsent(index, k -> new StringBuilder()).append(event.data().get("delta").asText());
                    default -> { }
                }
            }
            var wantCounts = new LinkedHashMap<String, Integer>();
            expected.get("event_counts").properties().forEach(e -> wantCounts.put(e.getKey(), e.getValue().asInt()));
            wantCounts.remove("[DONE]"); // OpenRouter's end marker, not an event
            assertThat(counts).isEqualTo(wantCounts);
            for (var output : expected.get("output")) {
                int index = output.get("output_index").asInt();
                switch (output.get("type").asText()) {
                    case "message" -> assertThat(text.get(index).toString()).isEqualTo(output.get("text").asText());
                    case "function_call" -> assertThat(arguments.get(index).toString()).isEqualTo(output.get("arguments").asText());
                    default -> { }
                }
            }
            var response = stream.finalResponse();
            assertThat(response.get("status").asText()).isEqualTo(expected.get("status").asText());
            assertThat(response.get("usage")).isEqualTo(expected.get("usage"));
            assertThat(upstream.requests().getFirst().path()).isEqualTo("/v1/responses");
            assertThat(upstream.requests().getFirst().json().get("stream").asBoolean()).isTrue();
        }
    }

    @Test
    void createReturnsTheJson() throws Exception {
        try (var upstream = FakeUpstream.start((ex, req, i) -> FakeUpstream.json(ex, 200, "{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"completed\",\"output_text\":\"hi\"}"));
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).build()) {
            var body = Json.object().put("model", "m").put("input", "hi").put("stream", true);
            var response = client.responses().create(body);
            assertThat(response.get("id").asText()).isEqualTo("resp_1");
            assertThat(upstream.requests().getFirst().json()).isEqualTo(Json.parse("{\"model\":\"m\",\"input\":\"hi\"}"));
        }
    }

    @Test
    void errorEventsRaiseAfterBeingDelivered() throws Exception {
        var body = ("event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"r\"}}\n\n"
                + "event: error\ndata: {\"type\":\"error\",\"code\":\"server_error\",\"message\":\"The server had an error\",\"param\":null}\n\n")
                .getBytes(StandardCharsets.UTF_8);
        assertRaisedAfterDelivery(body, "The server had an error", "server_error");
    }

    /** Streams {@code body}: the events come through, the last as an "error" event, and then the error is raised. */
    private static void assertRaisedAfterDelivery(byte[] body, String message, String code) throws Exception {
        try (var upstream = FakeUpstream.start((ex, req, i) -> FakeUpstream.sse(ex, body));
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).build();
                var stream = client.responses().stream(Json.object().put("model", "m"))) {
            var types = new ArrayList<String>();
            assertThatThrownBy(() -> stream.forEach(e -> types.add(e.type())))
                    .isInstanceOfSatisfying(StreamErrorException.class, e -> {
                        assertThat(e.error().message()).isEqualTo(message);
                        assertThat(e.code()).isEqualTo(code);
                    });
            assertThat(types).containsExactly("response.created", "error");
        }
    }

    @Test
    void aStreamWithoutTerminalEventIsIncomplete() throws Exception {
        var body = "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"r\"}}\n\n".getBytes(StandardCharsets.UTF_8);
        try (var upstream = FakeUpstream.start((ex, req, i) -> FakeUpstream.sse(ex, body));
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).build();
                var stream = client.responses().stream(Json.object().put("model", "m"))) {
            assertThatThrownBy(stream::finalResponse).isInstanceOf(IncompleteStreamException.class);
        }
    }

    @Test
    void anErrorObjectAsUnnamedDataIsRaised() throws Exception {
        var body = ("event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"r\"}}\n\n"
                + "data: {\"error\":{\"message\":\"Upstream overloaded\",\"type\":\"server_error\",\"code\":\"overloaded\"}}\n\n")
                .getBytes(StandardCharsets.UTF_8);
        // It was read as a "message" event and dropped: the caller only learnt that the stream ended early.
        assertRaisedAfterDelivery(body, "Upstream overloaded", "overloaded");
    }

    @Test
    void anErrorEventWithATextErrorKeepsItsText() throws Exception {
        var body = "event: error\ndata: {\"type\":\"error\",\"error\":\"quota exhausted\"}\n\n".getBytes(StandardCharsets.UTF_8);
        try (var upstream = FakeUpstream.start((ex, req, i) -> FakeUpstream.sse(ex, body));
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).build();
                var stream = client.responses().stream(Json.object().put("model", "m"))) {
            assertThatThrownBy(stream::finalResponse)
                    .isInstanceOfSatisfying(StreamErrorException.class, e -> assertThat(e.error().message()).isEqualTo("quota exhausted"));
        }
    }

    @Test
    void aLineBeyondTheFramingLimitIsAStreamErrorAndClosesTheConnection() throws Exception {
        var closed = new java.util.concurrent.CompletableFuture<Boolean>();
        try (var upstream = RawUpstream.start(c -> {
                    c.write(RawUpstream.SSE_HEAD);
                    c.chunk("data: ");
                    var piece = "a".repeat(64 * 1024);
                    try {
                        for (int i = 0; i < 80; i++) c.chunk(piece); // 5 MiB: past the 4 MiB line limit
                        closed.complete(c.awaitClientClose(Duration.ofSeconds(5)));
                    } catch (java.io.IOException e) {
                        closed.complete(true); // the client closed while we were writing
                    }
                });
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).maxRetries(0).build();
                var stream = client.responses().stream(Json.object().put("model", "m"))) {
            // wire's SseException escaped as is, and the connection stayed open until the stream was closed.
            assertThatThrownBy(() -> stream.forEach(e -> { }))
                    .isInstanceOfSatisfying(StreamErrorException.class, e -> {
                        assertThat(e.code()).isEqualTo("bad_upstream_response");
                        assertThat(e.getMessage()).startsWith("Malformed stream from upstream: SSE line exceeds");
                    });
            assertThat(closed.get(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        }
    }
}
