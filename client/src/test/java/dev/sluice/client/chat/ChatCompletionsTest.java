package dev.sluice.client.chat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.client.IncompleteStreamException;
import dev.sluice.client.SluiceClient;
import dev.sluice.client.StreamErrorException;
import dev.sluice.client.testing.FakeUpstream;
import dev.sluice.client.testing.RawUpstream;
import dev.sluice.wire.chat.ChatAccumulator;
import dev.sluice.wire.chat.ChatCompletion;
import dev.sluice.wire.chat.ChatStreamParser;
import dev.sluice.wire.fixtures.Fixtures;
import dev.sluice.wire.fixtures.Fixtures.Fixture;
import dev.sluice.wire.json.Json;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Blocking completions, the request builder, and the chat.completion reader. */
class ChatCompletionsTest {

    static final String COMPLETION = """
            {"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion","created":1741569952,
             "model":"gpt-4.1-2025-04-14",
             "choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":null,"annotations":[],
               "tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\\"city\\":\\"Paris\\"}"}},
                             {"id":"call_2","type":"function","function":{"name":"get_time","arguments":"{}"}}]},
               "logprobs":null,"finish_reason":"tool_calls"}],
             "usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29},
             "service_tier":"default","system_fingerprint":"fp_1"}
            """;

    @Test
    void createReadsTheCompletionAndSendsTheBodyWithoutStreamFlags() throws Exception {
        try (var upstream = FakeUpstream.start((ex, req, i) -> FakeUpstream.json(ex, 200, COMPLETION));
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).apiKey("k").build()) {
            var request = ChatRequest.builder()
                    .model("gpt-4.1")
                    .system("Be brief.")
                    .user("Weather and time in Paris?")
                    .tool("get_weather", "Weather of a city", (com.fasterxml.jackson.databind.node.ObjectNode) Json.parse("{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}"))
                    .temperature(0.2)
                    .maxCompletionTokens(100)
                    .includeUsage(true)
                    .set("top_k", 5)
                    .build();
            var completion = client.chat().create(request);

            assertThat(completion.id()).isEqualTo("chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT");
            assertThat(completion.created()).isEqualTo(1741569952L);
            assertThat(completion.serviceTier()).isEqualTo("default");
            var message = completion.choice(0).message();
            assertThat(message.content()).isNull();
            assertThat(message.toolCalls()).containsExactly(
                    new ChatCompletion.ToolCall(0, "call_1", "function", "get_weather", "{\"city\":\"Paris\"}"),
                    new ChatCompletion.ToolCall(1, "call_2", "function", "get_time", "{}"));
            assertThat(message.extras()).containsEntry("annotations", Json.parse("[]"));
            assertThat(completion.choice(0).finishReason()).isEqualTo("tool_calls");
            assertThat(completion.usage().get("total_tokens").asInt()).isEqualTo(29);

            var sent = upstream.requests().getFirst().json();
            assertThat(sent.has("stream")).isFalse();
            assertThat(sent.has("stream_options")).isFalse();
            assertThat(sent.get("top_k").isIntegralNumber()).as("an integer, not 5.0").isTrue();
            assertThat(sent.get("top_k").asInt()).isEqualTo(5);
            assertThat(sent.get("temperature").asDouble()).isEqualTo(0.2);
            assertThat(sent.get("max_completion_tokens").asInt()).isEqualTo(100);
            assertThat(sent.get("messages")).isEqualTo(Json.parse(
                    "[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"Weather and time in Paris?\"}]"));
            assertThat(sent.at("/tools/0/function/name").asText()).isEqualTo("get_weather");
            assertThat(upstream.requests().getFirst().header("Accept")).isEqualTo("application/json");
        }
    }

    /** openai-java refuses a completion without choices too; this SDK returned one, as if the model had said nothing. */
    @Test
    void aSuccessWithoutChoicesOrWithAnErrorIsNotACompletion() throws Exception {
        var request = ChatRequest.builder().model("m").user("hi").build();
        for (var body : List.of("{}", "{\"id\":\"x\",\"object\":\"chat.completion\",\"choices\":[]}")) {
            try (var upstream = FakeUpstream.start((ex, req, i) -> FakeUpstream.json(ex, 200, body));
                    var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).build()) {
                assertThatThrownBy(() -> client.chat().create(request)).isInstanceOf(java.io.IOException.class)
                        .hasMessageContaining("no choices");
            }
        }
        var failure = "{\"error\":{\"message\":\"model overloaded\",\"type\":\"server_error\",\"code\":\"overloaded\"}}";
        try (var upstream = FakeUpstream.start((ex, req, i) -> FakeUpstream.json(ex, 200, failure));
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).build()) {
            assertThatThrownBy(() -> client.chat().create(request)).isInstanceOfSatisfying(dev.sluice.client.StreamErrorException.class, e -> {
                assertThat(e.error().message()).isEqualTo("model overloaded");
                assertThat(e.code()).isEqualTo("overloaded");
            });
        }
    }

    @Test
    void rawBodiesPassThroughUnchanged() throws Exception {
        try (var upstream = FakeUpstream.start((ex, req, i) -> FakeUpstream.json(ex, 200, COMPLETION));
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).build()) {
            var body = (com.fasterxml.jackson.databind.node.ObjectNode) Json.parse(
                    "{\"model\":\"x\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}],\"provider\":{\"order\":[\"a\"]},\"min_p\":0.1,\"stream\":true}");
            client.chat().create(body);
            var sent = upstream.requests().getFirst().json();
            var expected = body.deepCopy();
            expected.remove("stream");
            assertThat(sent).isEqualTo(expected);
            assertThat(body.get("stream").asBoolean()).as("the caller's body is not modified").isTrue();
        }
    }

    @Test
    void streamedRequestsCarryTheStreamFlag() throws Exception {
        var bytes = ("data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n").getBytes(StandardCharsets.UTF_8);
        try (var upstream = FakeUpstream.start((ex, req, i) -> FakeUpstream.sse(ex, bytes));
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).build()) {
            var request = ChatRequest.builder().model("m").user("hi").includeUsage(true).build();
            try (var stream = client.chat().stream(request)) {
                assertThat(stream.finalChatCompletion().choice(0).message().content()).isEqualTo("ok");
                assertThat(stream.headers().firstValue("content-type")).hasValue("text/event-stream");
            }
            var sent = upstream.requests().getFirst().json();
            assertThat(sent.get("stream").asBoolean()).isTrue();
            assertThat(sent.at("/stream_options/include_usage").asBoolean()).isTrue();
        }
    }

    @Test
    void aChatStreamIsIteratedOnce() throws Exception {
        var bytes = ("data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n").getBytes(StandardCharsets.UTF_8);
        try (var upstream = FakeUpstream.start((ex, req, i) -> FakeUpstream.sse(ex, bytes));
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).build();
                var stream = client.chat().stream(ChatRequest.builder().model("m").user("hi").build())) {
            var types = stream.stream().map(e -> e.getClass().getSimpleName()).toList();
            assertThat(types).containsExactly("Chunk", "Chunk", "ContentDelta", "Chunk", "ContentDone", "Finish");
            assertThatThrownBy(stream::iterator).isInstanceOf(IllegalStateException.class);
            assertThat(stream.finalChatCompletion().choice(0).finishReason()).isEqualTo("stop");
        }
    }

    @Test
    void finalChatCompletionAfterPartOfTheEventsGivesTheWholeAnswer() throws Exception {
        // Text, then a tool call in pieces: what is drained unread must still be accumulated whole.
        var sse = new StringBuilder();
        var text = new StringBuilder();
        for (int i = 0; i < 200; i++) {
            var word = "w" + i + " ";
            text.append(word);
            sse.append("data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"").append(word).append("\"},\"finish_reason\":null}]}\n\n");
        }
        sse.append("data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\"\"}}]},\"finish_reason\":null}]}\n\n");
        sse.append("data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\":1}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\n");
        sse.append("data: [DONE]\n\n");
        var bytes = sse.toString().getBytes(StandardCharsets.UTF_8);
        try (var upstream = FakeUpstream.start((ex, req, i) -> FakeUpstream.sse(ex, bytes));
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).build()) {
            var request = ChatRequest.builder().model("m").user("hi").build();
            ChatCompletion iterated;
            try (var stream = client.chat().stream(request)) {
                stream.forEach(e -> {});
                iterated = stream.finalChatCompletion();
            }
            try (var stream = client.chat().stream(request)) {
                var events = stream.iterator();
                for (int i = 0; i < 3; i++) events.next();
                var drained = stream.finalChatCompletion();
                assertThat(drained.choice(0).message().content()).isEqualTo(text.toString());
                assertThat(drained.choice(0).message().toolCalls().getFirst().arguments()).isEqualTo("{\"a\":1}");
                assertThat(drained.toJson()).isEqualTo(iterated.toJson());
                // The rest was dropped: iteration has nothing more to give.
                assertThat(events.hasNext()).isFalse();
            }
        }
    }

    @Test
    void finishReasonErrorWithoutAnErrorObjectIsStillAnError() throws Exception {
        var bytes = ("data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"par\"},\"finish_reason\":\"error\"}]}\n\ndata: [DONE]\n\n").getBytes(StandardCharsets.UTF_8);
        try (var upstream = FakeUpstream.start((ex, req, i) -> FakeUpstream.sse(ex, bytes));
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).build();
                var stream = client.chat().stream(ChatRequest.builder().model("m").user("hi").build())) {
            assertThatThrownBy(stream::finalChatCompletion).isInstanceOf(StreamErrorException.class).hasMessageContaining("finish_reason");
            assertThat(stream.snapshot().choice(0).message().content()).isEqualTo("par");
        }
    }

    @Test
    void anEmptyBodyIsIncomplete() throws Exception {
        try (var upstream = FakeUpstream.start((ex, req, i) -> FakeUpstream.sse(ex, new byte[0]));
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).build();
                var stream = client.chat().stream(ChatRequest.builder().model("m").user("hi").build())) {
            assertThatThrownBy(() -> stream.forEach(e -> { })).isInstanceOf(IncompleteStreamException.class);
        }
    }

    @Test
    void aSuccessThatIsNotAnEventStreamSaysSo() throws Exception {
        var page = "<html><body>Sign in to the Wi-Fi</body></html>".getBytes(StandardCharsets.UTF_8);
        try (var upstream = FakeUpstream.start((ex, req, i) -> {
                    ex.getResponseHeaders().set("Content-Type", "text/html; charset=utf-8");
                    ex.sendResponseHeaders(200, page.length);
                    ex.getResponseBody().write(page);
                });
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).build();
                var stream = client.chat().stream(ChatRequest.builder().model("m").user("hi").build())) {
            // "the body ended without data: [DONE]" alone reads like a stream cut short, not a page that is no stream.
            assertThatThrownBy(() -> stream.forEach(e -> { }))
                    .isInstanceOf(IncompleteStreamException.class)
                    .hasMessage("stream ended prematurely: the body ended without data: [DONE] (its Content-Type is text/html; charset=utf-8, not text/event-stream)");
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void aBodyCutShortIsSaidInPlainWordsOnBothTransports(boolean chunked) throws Exception {
        var chunk = "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"par\"}}]}\n\n";
        try (var upstream = RawUpstream.start(c -> {
                    if (chunked) {
                        c.write(RawUpstream.SSE_HEAD);
                        c.chunk(chunk);
                        c.write("40\r\ndata: {\"id\"");
                    } else {
                        c.write("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 1000\r\n\r\n" + chunk);
                    }
                });
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).maxRetries(0).build();
                var stream = client.chat().stream(ChatRequest.builder().model("m").user("hi").build())) {
            // The JDK transport said "chunked transfer encoding, state: READING_DATA" or "fixed content-length: 1000,
            // bytes received: 65", its parser's terms.
            assertThatThrownBy(() -> stream.forEach(e -> { }))
                    .isInstanceOf(java.io.UncheckedIOException.class)
                    .hasMessage("the server closed the connection before the response body ended");
            assertThat(stream.snapshot().choice(0).message().content()).isEqualTo("par");
        }
    }

    static Stream<Fixture> chatFixtures() {
        Assumptions.assumeTrue(Fixtures.available(), "../shared/fixtures/upstream-sse is absent");
        return Fixtures.chat().stream();
    }

    /** The reader and wire's toJson() agree: reading what a completion writes gives it back. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("chatFixtures")
    void readerRoundTripsEveryAccumulatedFixture(Fixture fixture) {
        var acc = new ChatAccumulator();
        var parser = new ChatStreamParser(acc);
        parser.feed(fixture.bytes());
        parser.end();
        var completion = acc.result();
        var json = completion.toJson();
        var read = ChatCompletionReader.read(json);
        assertThat(read.toJson()).isEqualTo(json);
        boolean exact = completion.choices().stream().allMatch(c -> c.message().role() != null
                && !"content[].thinking[]".equals(c.message().reasoningField()));
        if (exact) assertThat(read).isEqualTo(completion);
    }

    @Test
    void readerHandlesProviderShapes() {
        var mistral = ChatCompletionReader.read(Json.parse("""
                {"id":"m","choices":[{"message":{"role":"assistant","content":[
                  {"type":"thinking","thinking":[{"type":"text","text":"hmm"}]},{"type":"text","text":"42"}]},"finish_reason":"stop"}]}
                """));
        assertThat(mistral.choice(0).message().content()).isEqualTo("42");
        assertThat(mistral.choice(0).message().reasoning()).isEqualTo("hmm");
        var deepseek = ChatCompletionReader.read(Json.parse("""
                {"id":"d","choices":[{"index":0,"message":{"role":"assistant","content":"4","reasoning_content":"2+2"},"finish_reason":"stop"}]}
                """));
        assertThat(deepseek.choice(0).message().reasoning()).isEqualTo("2+2");
        assertThat(deepseek.choice(0).message().reasoningField()).isEqualTo("reasoning_content");
        var ollama = ChatCompletionReader.read(Json.parse("""
                {"id":"o","choices":[{"index":0,"message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"f","arguments":{"a":1}}}]},"finish_reason":"tool_calls"}],"x_extra":{"k":1}}
                """));
        assertThat(ollama.choice(0).message().content()).isNull();
        assertThat(ollama.choice(0).message().toolCalls().getFirst().arguments()).isEqualTo("{\"a\":1}");
        assertThat(ollama.extras()).isEqualTo(Map.of("x_extra", Json.parse("{\"k\":1}")));
    }

    @Test
    void messagesSerialize() {
        var call = new ChatCompletion.ToolCall(0, "call_1", "function", "f", "{\"a\":1}");
        var messages = List.of(
                ChatMessage.developer("d"),
                ChatMessage.assistant(new ChatCompletion.Message("assistant", null, null, null, null, List.of(call), Map.of())),
                ChatMessage.tool("call_1", "result"),
                ChatMessage.raw((com.fasterxml.jackson.databind.node.ObjectNode) Json.parse("{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"x\"}]}")));
        JsonNode json = ChatRequest.builder().messages(messages).build().toJson().get("messages");
        assertThat(json).isEqualTo(Json.parse("""
                [{"role":"developer","content":"d"},
                 {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\\"a\\":1}"}}]},
                 {"role":"tool","tool_call_id":"call_1","content":"result"},
                 {"role":"user","content":[{"type":"text","text":"x"}]}]
                """));
    }
}
