package dev.sluice.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.wire.chat.ChatAccumulator;
import dev.sluice.wire.chat.ChatStreamParser;
import dev.sluice.wire.fixtures.Fixtures;
import dev.sluice.wire.fixtures.Fixtures.Fixture;
import dev.sluice.wire.json.Json;
import dev.sluice.wire.openapi.OpenApiValidator;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every real provider transcript, served by a fake upstream in small pieces, relayed by the gateway:
 * what a client rebuilds from the gateway's stream equals what the upstream said, every chunk the gateway
 * emits validates against OpenAI's spec, and an upstream error never turns into a clean end.
 */
class UpstreamFixtureTest {

    static FakeUpstream upstream;
    static TestGateway gw;
    static final Map<String, Fixture> byName = new ConcurrentHashMap<>();

    @BeforeAll
    static void start() throws Exception {
        Assumptions.assumeTrue(Fixtures.available(), "../shared/fixtures/upstream-sse is absent: fixture relay tests skipped");
        for (var f : Fixtures.chat()) byName.put(f.name(), f);
        upstream = new FakeUpstream(body -> {
            var model = body.get("model").asText();
            // "whole:<fixture>" answers as a non-streaming upstream does: the completion the fixture's stream builds.
            if (model.startsWith("whole:")) return FakeUpstream.Reply.json(200, Json.write(completionOf(byName.get(model.substring(6)))), Map.of());
            return FakeUpstream.Reply.sse(byName.get(model).bytes(), 97, 0);
        });
        gw = TestGateway.yaml("""
                providers:
                  fake:
                    type: openai
                    base_url: %1$s
                    api_key: sk-test
                  streamed:
                    type: openai
                    base_url: %1$s
                    api_key: sk-test
                    always_stream: true
                  threaded:
                    type: openai
                    base_url: %1$s
                    api_key: sk-test
                    event_loop: false
                """.formatted(upstream.baseUrl()));
    }

    @AfterAll
    static void stop() throws Exception {
        if (gw != null) gw.close();
        if (upstream != null) upstream.close();
    }

    static Stream<Fixture> fixtures() {
        Assumptions.assumeTrue(Fixtures.available(), "../shared/fixtures/upstream-sse is absent");
        return Fixtures.chat().stream();
    }

    /**
     * Each fixture through both relays: on the client connection's event loop (provider {@code fake}, the
     * default) and on a virtual thread (provider {@code threaded}, {@code event_loop: false}).
     */
    static Stream<org.junit.jupiter.params.provider.Arguments> fixturesBothWays() {
        return fixtures().flatMap(f -> Stream.of(org.junit.jupiter.params.provider.Arguments.of(f, "fake"),
                org.junit.jupiter.params.provider.Arguments.of(f, "threaded")));
    }

    @ParameterizedTest(name = "{0} via {1}")
    @MethodSource("fixturesBothWays")
    void relayedStreamRebuildsTheSameAnswer(Fixture fixture, String provider) throws Exception {
        var direct = direct(fixture);
        var want = direct.result();

        var r = gw.stream("""
                {"model":"%s/%s","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}"""
                .formatted(provider, fixture.name()));
        if (r.status() != 200) {
            // An upstream error before any chunk of the answer is the client's error status, carrying its message.
            assertThat(direct.errors()).as("only an upstream error may turn a relayed stream into an error status").isNotEmpty();
            assertThat(want.choices().stream().allMatch(c -> c.message().content() == null && c.message().toolCalls().isEmpty()
                    && c.message().reasoning() == null && c.message().refusal() == null)).as("nothing of the answer came first").isTrue();
            assertThat(r.status()).isBetween(400, 599);
            var body = Json.parse(r.raw());
            assertThat(body.at("/error/message").asText()).isEqualTo(direct.errors().getFirst().message());
            if (OpenApiValidator.available()) OpenApiValidator.shared().assertValid("ErrorResponse", body);
            return;
        }
        var seen = upstream.seen.getLast();
        assertThat(seen.headers.get("authorization")).isEqualTo("Bearer sk-test");
        assertThat(seen.body.get("stream").asBoolean()).isTrue();
        assertThat(seen.body.at("/stream_options/include_usage").asBoolean()).isTrue();

        var relayed = accumulate(r.raw().getBytes(StandardCharsets.UTF_8));
        var got = relayed.result();

        boolean upstreamErrored = !direct.errors().isEmpty();
        if (upstreamErrored) {
            assertThat(r.endsWithDone()).as("an upstream error must not end as a clean [DONE]").isFalse();
            assertThat(relayed.errors()).isNotEmpty();
            assertThat(relayed.errors().getFirst().message()).isEqualTo(direct.errors().getFirst().message());
        } else {
            assertThat(r.endsWithDone()).isTrue();
        }
        boolean relayedAnyChunk = r.chunks().stream().anyMatch(c -> !c.has("error"));
        if (want.id() != null && relayedAnyChunk) assertThat(got.id()).as("the upstream's id is kept").isEqualTo(want.id());
        assertUsage(got.usage(), want.usage());
        // A choice that carried nothing but finish_reason "error" has nothing to relay: the error event says it.
        var wantChoices = want.choices().stream().filter(c -> !("error".equals(c.finishReason()) && c.message().content() == null
                && c.message().toolCalls().isEmpty() && c.message().reasoning() == null && c.message().refusal() == null)).toList();
        assertThat(got.choices()).hasSameSizeAs(wantChoices);
        for (var w : wantChoices) {
            var g = got.choice(w.index());
            assertThat(g.message().content()).as("content").isEqualTo(w.message().content());
            assertThat(g.message().refusal()).as("refusal").isEqualTo(w.message().refusal());
            assertThat(g.message().reasoning()).as("reasoning").isEqualTo(w.message().reasoning());
            assertThat(g.message().toolCalls()).as("tool calls").isEqualTo(w.message().toolCalls());
            // OpenAI has no "error" finish reason: the gateway says it with an error event instead.
            assertThat(g.finishReason()).as("finish_reason").isEqualTo("error".equals(w.finishReason()) ? null : w.finishReason());
            assertThat(g.logprobs()).as("logprobs").isEqualTo(w.logprobs());
        }
        if (OpenApiValidator.available()) {
            var spec = OpenApiValidator.shared();
            for (var chunk : r.chunks()) {
                if (chunk.has("error")) spec.assertValid("ErrorResponse", chunk);
                else spec.assertValid("CreateChatCompletionStreamResponse", chunk);
            }
        }
    }

    /** A chat completions SSE body parsed and accumulated by the shared parser and accumulator. */
    static ChatAccumulator accumulate(byte[] sse) {
        var acc = new ChatAccumulator();
        var parser = new ChatStreamParser(acc);
        parser.feed(sse);
        parser.end();
        return acc;
    }

    /** The fixture's stream accumulated straight from its bytes: what the upstream said. */
    static ChatAccumulator direct(Fixture fixture) {
        return accumulate(fixture.bytes());
    }

    static com.fasterxml.jackson.databind.node.ObjectNode completionOf(Fixture fixture) {
        return direct(fixture).result().toJson();
    }

    /**
     * A non-streaming request goes upstream non-streamed (no {@code stream_options}, which OpenAI refuses without
     * a stream), and the upstream's completion comes back as the same answer: content, tool calls, refusal,
     * reasoning, logprobs, finish reasons, usage and identity.
     */
    @ParameterizedTest(name = "{0} via {1}")
    @MethodSource("fixturesBothWays")
    void nonStreamedUpstreamAnswerIsRelayed(Fixture fixture, String provider) throws Exception {
        var direct = direct(fixture);
        Assumptions.assumeTrue(direct.errors().isEmpty(), "an errored stream has no completion for a non-streaming upstream to send");
        var want = direct.result().toJson();

        var r = gw.post("/chat/completions", """
                {"model":"%s/whole:%s","temperature":0.5,"messages":[{"role":"user","content":"hi"}]}""".formatted(provider, fixture.name()));
        var seen = upstream.seen.getLast();
        assertThat(seen.body.get("model").asText()).isEqualTo("whole:" + fixture.name());
        assertThat(seen.body.get("stream").asBoolean()).as("asked without streaming").isFalse();
        assertThat(seen.body.has("stream_options")).isFalse();
        assertThat(seen.body.get("temperature").asDouble()).isEqualTo(0.5);
        assertThat(seen.headers.get("accept")).isEqualTo("application/json");

        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        var got = Json.parse(r.body());
        if (OpenApiValidator.available()) OpenApiValidator.shared().assertValid("CreateChatCompletionResponse", got);
        var expected = (com.fasterxml.jackson.databind.node.ObjectNode) Json.parse(Json.write(want)); // numbers as parsed
        // Where the upstream sent no identity, the gateway fills it in, as it does for streams.
        if (!want.path("model").isTextual()) expected.put("model", provider + "/whole:" + fixture.name());
        if (!want.path("id").isTextual()) expected.set("id", got.get("id"));
        if (want.path("created").asLong() == 0) expected.set("created", got.get("created"));
        assertThat(got.get("id").asText()).isNotEmpty();
        assertUsage(got.get("usage"), want.get("usage"));
        if (!want.has("usage")) expected.set("usage", got.get("usage")); // an estimate, marked as such (checked above)
        for (var field : (Iterable<String>) expected::fieldNames) assertThat(got.get(field)).as(field).isEqualTo(expected.get(field));
        assertThat(got).as("the upstream's completion, relayed").isEqualTo(expected);
    }

    @org.junit.jupiter.api.Test
    void alwaysStreamProviderStreamsEvenForNonStreamingClients() throws Exception {
        var fixture = byName.values().stream().filter(f -> f.name().startsWith("openai-")).findFirst().orElseThrow();
        var r = gw.post("/chat/completions", """
                {"model":"streamed/%s","messages":[{"role":"user","content":"hi"}]}""".formatted(fixture.name()));
        assertThat(r.statusCode()).isEqualTo(200);
        var seen = upstream.seen.getLast();
        assertThat(seen.body.get("stream").asBoolean()).isTrue();
        assertThat(seen.body.at("/stream_options/include_usage").asBoolean()).isTrue();
        assertThat(Json.parse(r.body()).at("/choices/0/message/content").asText()).isEqualTo(completionOf(fixture).at("/choices/0/message/content").asText());
    }

    /**
     * A request body above what the event loop parses itself ({@code INLINE_BODY_BYTES}) is served on a
     * virtual thread; the client cannot tell: the whole body reaches the upstream and the answer comes back.
     */
    @org.junit.jupiter.api.Test
    void largeRequestBodiesAreRelayedAsWell() throws Exception {
        var fixture = byName.values().stream().filter(f -> f.name().startsWith("openai-"))
                .filter(f -> direct(f).errors().isEmpty() && completionOf(f).at("/choices/0/message/content").isTextual())
                .findFirst().orElseThrow();
        var big = "x".repeat(dev.sluice.gateway.chat.ChatCompletionsHandler.INLINE_BODY_BYTES + 1000);
        for (boolean stream : new boolean[] {true, false}) {
            var body = """
                    {"model":"fake/%s","stream":%b,"messages":[{"role":"user","content":"%s"}]}""".formatted(fixture.name(), stream, big);
            var r = gw.post("/chat/completions", body);
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(upstream.seen.getLast().body.at("/messages/0/content").asText()).isEqualTo(big);
            var content = stream ? accumulate(r.body().getBytes(StandardCharsets.UTF_8)).result().choice(0).message().content()
                    : Json.parse(r.body()).at("/choices/0/message/content").asText();
            assertThat(content).isEqualTo(completionOf(fixture).at("/choices/0/message/content").asText());
        }
    }

    /** The upstream's usage exactly; where it sent none, a tokenizer estimate marked as such. */
    static void assertUsage(com.fasterxml.jackson.databind.JsonNode got, com.fasterxml.jackson.databind.JsonNode want) {
        if (want != null) {
            assertThat(got).as("usage").isEqualTo(want);
            return;
        }
        assertThat(got).as("estimated usage").isNotNull();
        assertThat(got.path("estimated").asBoolean()).isTrue();
        assertThat(got.path("total_tokens").asInt()).isEqualTo(got.path("prompt_tokens").asInt() + got.path("completion_tokens").asInt());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("fixtures")
    void nonStreamingAnswerFromTheSameStream(Fixture fixture) throws Exception {
        var direct = direct(fixture);
        var r = gw.post("/chat/completions", """
                {"model":"fake/%s","messages":[{"role":"user","content":"hi"}]}""".formatted(fixture.name()));
        var json = Json.parse(r.body());
        if (!direct.errors().isEmpty()) {
            assertThat(r.statusCode()).isGreaterThanOrEqualTo(400);
            assertThat(json.at("/error/message").asText()).isEqualTo(direct.errors().getFirst().message());
            if (OpenApiValidator.available()) OpenApiValidator.shared().assertValid("ErrorResponse", json);
            return;
        }
        assertThat(r.statusCode()).isEqualTo(200);
        var want = direct.result();
        if (OpenApiValidator.available()) OpenApiValidator.shared().assertValid("CreateChatCompletionResponse", json);
        assertUsage(json.get("usage"), want.usage());
        for (var w : want.choices()) {
            var c = json.get("choices").get(w.index());
            assertThat(Json.text(c.at("/message/content"))).isEqualTo(w.message().content());
            assertThat(Json.text(c.get("finish_reason"))).isEqualTo(w.finishReason());
            assertThat(c.at("/message/tool_calls").size()).isEqualTo(w.message().toolCalls().size());
        }
    }
}
