package dev.sluice.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.wire.json.Json;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * What a client is told when an upstream misbehaves: never the gateway's upstream key, an error status
 * (not a 200 stream holding only an error) when nothing of the answer was sent yet, and words rather than
 * parser or socket internals.
 */
class UpstreamErrorsTest {

    static final String KEY = "sk-test-0123456789abcdef";
    static final AtomicReference<Function<JsonNode, FakeUpstream.Reply>> next = new AtomicReference<>();
    static FakeUpstream upstream;
    static TestGateway gw;

    static final String CONTENT = "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n";

    @BeforeAll
    static void start() throws Exception {
        upstream = new FakeUpstream(body -> next.get().apply(body));
        gw = TestGateway.yaml("""
                providers:
                  keyed:
                    type: openai
                    base_url: %s
                    api_key: %s
                    headers: {X-Api-Key: "%s-extra"}
                  down:
                    type: openai
                    base_url: http://127.0.0.1:1/v1
                """.formatted(upstream.baseUrl(), KEY, KEY));
    }

    @AfterAll
    static void stop() throws Exception {
        gw.close();
        upstream.close();
    }

    static String chat(boolean stream) {
        return "{\"model\":\"keyed/m\",\"stream\":" + stream + ",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    }

    static FakeUpstream.Reply sse(String body) {
        return FakeUpstream.Reply.sse(body.getBytes(StandardCharsets.UTF_8), 4096, 0);
    }

    @Test
    void anUpstreamQuotingTheGatewaysKeyNeverShowsItToTheClient() throws Exception {
        // Upstreams that put the Authorization header they were sent into their errors, in every place one can.
        List<Function<JsonNode, FakeUpstream.Reply>> echoes = List.of(
                b -> FakeUpstream.Reply.json(401, "{\"error\":{\"message\":\"Incorrect API key provided: Bearer " + KEY
                        + "\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"invalid_api_key\"}}", Map.of()),
                b -> new FakeUpstream.Reply(500, Map.of("Content-Type", "text/html"),
                        List.of(new FakeUpstream.Piece(("<html>Authorization: Bearer " + KEY + " X-Api-Key: " + KEY + "-extra</html>").getBytes(StandardCharsets.UTF_8), 0)), false),
                b -> sse("data: {\"error\":{\"message\":\"auth broke: Bearer " + KEY + "\",\"type\":\"server_error\",\"code\":\"" + KEY + "\"}}\n\n"),
                b -> sse(CONTENT + "data: {\"error\":{\"message\":\"auth broke: " + KEY + "\",\"type\":\"invalid_request_error\"}}\n\n"));
        for (var echo : echoes) {
            next.set(echo);
            for (boolean stream : new boolean[] {false, true}) {
                var r = gw.post("/chat/completions", chat(stream));
                assertThat(r.statusCode()).as(r.body()).isNotEqualTo(0);
                assertThat(r.body()).doesNotContain(KEY).contains("[redacted]");
                assertThat(r.headers().map().toString()).doesNotContain(KEY);
            }
        }
    }

    @Test
    void anErrorBeforeTheFirstChunkIsAnErrorStatusWithTheAttempts() throws Exception {
        // A 200 stream whose first event is an error, and a JSON error body where a stream was asked for.
        next.set(b -> sse("data: {\"error\":{\"message\":\"Rate limit reached\",\"type\":\"requests\",\"code\":\"rate_limit_exceeded\"}}\n\n"));
        var r = gw.post("/chat/completions", chat(true));
        assertThat(r.statusCode()).isEqualTo(429);
        assertThat(r.headers().firstValue("content-type")).hasValueSatisfying(t -> assertThat(t).startsWith("application/json"));
        assertThat(Json.parse(r.body()).at("/error/code").asText()).isEqualTo("rate_limit_exceeded");
        assertThat(r.headers().firstValue("x-sluice-attempts")).hasValueSatisfying(a -> assertThat(a).contains("keyed/m"));
        assertThat(r.headers().firstValue("x-sluice-deployment")).hasValue("keyed/m");

        next.set(b -> FakeUpstream.Reply.json(200, "{\"error\":{\"message\":\"bad model\",\"type\":\"invalid_request_error\",\"param\":\"model\",\"code\":null}}", Map.of()));
        r = gw.post("/chat/completions", chat(true));
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(Json.parse(r.body()).at("/error/param").asText()).isEqualTo("model");

        // A stream that ends before any of the answer: 502, not a 200 holding an error event.
        next.set(b -> sse(": just a comment\n\n"));
        r = gw.post("/chat/completions", chat(true));
        assertThat(r.statusCode()).isEqualTo(502);
        assertThat(Json.parse(r.body()).at("/error/code").asText()).isEqualTo("upstream_incomplete");

        // An answer without any choice ("choices": [] then [DONE], or a completion without choices) is no success.
        next.set(b -> sse("data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[]}\n\ndata: [DONE]\n\n"));
        for (boolean stream : new boolean[] {true, false}) {
            r = gw.post("/chat/completions", chat(stream));
            assertThat(r.statusCode()).as("stream " + stream).isEqualTo(502);
            assertThat(Json.parse(r.body()).at("/error/message").asText()).contains("without any choice");
        }
        next.set(b -> FakeUpstream.Reply.json(200, "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"m\",\"choices\":null}", Map.of()));
        r = gw.post("/chat/completions", chat(false));
        assertThat(r.statusCode()).isEqualTo(502);

        // Once a chunk went out, the error comes in the stream, as before.
        next.set(b -> sse(CONTENT + "data: {\"error\":{\"message\":\"boom\",\"type\":\"server_error\"}}\n\n"));
        var s = gw.stream(chat(true));
        assertThat(s.status()).isEqualTo(200);
        assertThat(Json.parse(s.events().getLast().data()).at("/error/message").asText()).isEqualTo("boom");
        assertThat(s.text()).isEqualTo("Hel");
    }

    @Test
    void failuresAreDescribedWithoutJavaOrParserInternals() throws Exception {
        var refused = gw.post("/chat/completions", "{\"model\":\"down/m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        assertThat(refused.statusCode()).isEqualTo(502);
        assertThat(Json.parse(refused.body()).at("/error/message").asText())
                .containsIgnoringCase("refused").doesNotContain("(..)").doesNotContain("Exception");

        next.set(b -> sse(CONTENT + "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\n\n"));
        var malformed = gw.stream(chat(true));
        var message = Json.parse(malformed.events().getLast().data()).at("/error/message").asText();
        assertThat(message).startsWith("Malformed chunk from upstream (the JSON ends early)").doesNotContain("Source")
                .doesNotContain("StreamReadFeature").doesNotContain("\n");
        // A wrong character, and nesting past the parser's limit: said plainly, without Jackson's words for it.
        next.set(b -> sse(CONTENT + "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0}]]}\n\n"));
        message = Json.parse(gw.stream(chat(true)).events().getLast().data()).at("/error/message").asText();
        assertThat(message).startsWith("Malformed chunk from upstream (not valid JSON at column 43)").doesNotContain("(code ");
        next.set(b -> sse(CONTENT + "data: {\"id\":\"chatcmpl-1\",\"x\":" + "[".repeat(1500) + "]".repeat(1500) + "}\n\n"));
        message = Json.parse(gw.stream(chat(true)).events().getLast().data()).at("/error/message").asText();
        assertThat(message).startsWith("Malformed chunk from upstream (nested or sized beyond the parser's limits)").doesNotContain("StreamReadConstraints");

        // Bytes that are not text (a compressed body the gateway did not ask for) are not pasted into the message.
        next.set(b -> sse(CONTENT + "data: \u0001\u0002\u0003\ufffd\n\n"));
        malformed = gw.stream(chat(true));
        message = Json.parse(malformed.events().getLast().data()).at("/error/message").asText();
        assertThat(message).contains("not text").doesNotContain("\u0001").doesNotContain("\ufffd");
    }
    /**
     * Some local servers (llama.cpp builds among them) split a multi-byte character across two chunks, so each
     * chunk holds invalid UTF-8. The official SDKs decode such bytes with U+FFFD and carry on; so does the
     * gateway, instead of failing an answer that is otherwise whole.
     */
    @Test
    void invalidUtf8FromTheUpstreamBecomesReplacementCharactersNotAFailure() throws Exception {
        var out = new java.io.ByteArrayOutputStream();
        out.writeBytes(CONTENT.getBytes(StandardCharsets.UTF_8));
        out.writeBytes("data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo \u00e4\u00bd".getBytes(StandardCharsets.ISO_8859_1));
        out.writeBytes("\"},\"finish_reason\":null}]}\n\n".getBytes(StandardCharsets.UTF_8));
        out.writeBytes("data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\u00a0!\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n".getBytes(StandardCharsets.ISO_8859_1));
        var body = out.toByteArray();
        next.set(b -> FakeUpstream.Reply.sse(body, 4096, 0));
        var streamed = gw.stream(chat(true));
        assertThat(streamed.status()).isEqualTo(200);
        assertThat(streamed.endsWithDone()).isTrue();
        assertThat(streamed.text()).isEqualTo("Hello \ufffd\ufffd!");
        assertThat(streamed.chunks().getLast().at("/choices/0/finish_reason").asText()).isEqualTo("stop");

        var completion = new java.io.ByteArrayOutputStream();
        completion.writeBytes("{\"id\":\"chatcmpl-2\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"caf\u00c3 ok\"},\"finish_reason\":\"stop\"}]}".getBytes(StandardCharsets.ISO_8859_1));
        var bytes = completion.toByteArray();
        next.set(b -> new FakeUpstream.Reply(200, Map.of("Content-Type", "application/json"), List.of(new FakeUpstream.Piece(bytes, 0)), false));
        var whole = gw.post("/chat/completions", chat(false));
        assertThat(whole.statusCode()).isEqualTo(200);
        assertThat(Json.parse(whole.body()).at("/choices/0/message/content").asText()).isEqualTo("caf\ufffd ok");
    }
    /** An answer over the size limit was generated and paid for: the gateway says so once and does not ask again. */
    @Test
    void anOversizedCompletionIsAnErrorAndIsNotAskedForAgain() throws Exception {
        var content = "a".repeat(dev.sluice.client.ChatBodyDecoder.MAX_COMPLETION_BYTES);
        next.set(b -> FakeUpstream.Reply.json(200, "{\"id\":\"chatcmpl-3\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"m\","
                + "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"" + content + "\"},\"finish_reason\":\"stop\"}]}", Map.of()));
        int before = upstream.seen.size();
        var r = gw.post("/chat/completions", chat(false));
        assertThat(r.statusCode()).isEqualTo(502);
        var error = Json.parse(r.body()).get("error");
        assertThat(error.get("code").asText()).isEqualTo("completion_too_large");
        assertThat(error.get("message").asText()).contains("larger than");
        assertThat(upstream.seen.size() - before).isEqualTo(1);
    }
}
