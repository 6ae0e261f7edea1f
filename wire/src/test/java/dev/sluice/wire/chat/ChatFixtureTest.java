package dev.sluice.wire.chat;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.wire.fixtures.Fixtures;
import dev.sluice.wire.fixtures.Fixtures.Fixture;
import dev.sluice.wire.json.Json;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every OpenAI-compatible chat transcript in ../shared/fixtures/upstream-sse, parsed by the shared parser
 * and rebuilt by the shared accumulator, must equal the fixture's expected result, whole and split at
 * random byte boundaries.
 */
class ChatFixtureTest {

    static Stream<Fixture> chatFixtures() {
        Assumptions.assumeTrue(Fixtures.available(), "../shared/fixtures/upstream-sse is absent: fixture tests skipped");
        var list = Fixtures.chat();
        assertThat(list).hasSizeGreaterThanOrEqualTo(20);
        return list.stream();
    }

    record Parsed(List<StreamEvent> events, ChatAccumulator accumulator, ChatStreamParser parser) {}

    static Parsed parse(byte[] body, int maxPiece, long seed) {
        var events = new ArrayList<StreamEvent>();
        var acc = new ChatAccumulator();
        var parser = new ChatStreamParser(e -> {
            events.add(e);
            acc.accept(e);
        });
        if (maxPiece <= 0) {
            parser.feed(body);
        } else {
            var random = new Random(seed);
            for (int i = 0; i < body.length; ) {
                int n = Math.min(body.length - i, 1 + random.nextInt(maxPiece));
                parser.feed(body, i, n);
                i += n;
            }
        }
        parser.end();
        return new Parsed(events, acc, parser);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("chatFixtures")
    void accumulatesExpectedResult(Fixture fixture) {
        var parsed = parse(fixture.bytes(), 0, 0);
        var expected = fixture.expected();
        var result = parsed.accumulator().result();

        assertThat(result.id()).as("id").isEqualTo(Json.text(expected.get("id")));
        assertThat(result.model()).as("model").isEqualTo(Json.text(expected.get("model")));
        assertThat(result.systemFingerprint()).as("system_fingerprint").isEqualTo(Json.text(expected.get("system_fingerprint")));
        assertThat(result.serviceTier()).as("service_tier").isEqualTo(Json.text(expected.get("service_tier")));
        assertThat(parsed.parser().done()).as("[DONE] seen").isEqualTo(expected.get("done_marker").asBoolean());
        assertThat(parsed.parser().dataEvents()).as("data events").isEqualTo(expected.get("data_events").asInt() - (expected.get("done_marker").asBoolean() ? 1 : 0));

        // Groq reports usage only under x_groq; the decoder lifts it into the usage slot.
        var expectedUsage = nonNull(expected.get("usage")) != null ? expected.get("usage") : nonNull(expected.get("x_groq_usage"));
        assertThat(result.usage()).as("usage").isEqualTo(expectedUsage);

        for (var key : List.of("provider", "prompt_filter_results", "timings")) {
            if (nonNull(expected.get(key)) != null) assertThat(result.extras().get(key)).as(key).isEqualTo(expected.get(key));
        }

        var expectedErrors = expected.get("errors");
        var errors = parsed.accumulator().errors().stream()
                .filter(e -> e.raw() != null) // finish_reason "error" is also raised, without a raw provider object
                .toList();
        assertThat(errors).as("errors").hasSize(expectedErrors.size());
        for (int i = 0; i < errors.size(); i++) {
            var want = expectedErrors.get(i).get("error");
            assertThat(errors.get(i).raw()).as("error %d", i).isEqualTo(want);
            assertThat(errors.get(i).message()).isEqualTo(want.get("message").asText());
            assertThat(errors.get(i).code()).isEqualTo(Json.text(want.get("code")));
        }

        var expectedChoices = expected.get("choices");
        assertThat(result.choices()).as("choices").hasSize(expectedChoices.size());
        for (var want : expectedChoices) {
            int index = want.get("index").asInt();
            var choice = result.choice(index);
            assertThat(choice).as("choice %d", index).isNotNull();
            var m = choice.message();
            assertThat(m.role()).as("role").isEqualTo(Json.text(want.get("role")));
            assertThat(m.content()).as("content").isEqualTo(Json.text(want.get("content")));
            assertThat(m.refusal()).as("refusal").isEqualTo(Json.text(want.get("refusal")));
            assertThat(m.reasoning()).as("reasoning").isEqualTo(Json.text(want.get("reasoning")));
            if (want.has("reasoning_field")) assertThat(m.reasoningField()).as("reasoning field").isEqualTo(want.get("reasoning_field").asText());
            assertThat(choice.finishReason()).as("finish_reason").isEqualTo(Json.text(want.get("finish_reason")));

            var wantCalls = want.get("tool_calls");
            assertThat(m.toolCalls()).as("tool calls").hasSize(wantCalls.size());
            for (int i = 0; i < wantCalls.size(); i++) {
                var w = wantCalls.get(i);
                var call = m.toolCalls().get(i);
                assertThat(call.index()).isEqualTo(w.get("index").asInt());
                assertThat(call.id()).as("tool id").isEqualTo(Json.text(w.get("id")));
                assertThat(call.type()).as("tool type").isEqualTo(Json.text(w.get("type")));
                assertThat(call.name()).as("tool name").isEqualTo(Json.text(w.get("name")));
                assertThat(call.arguments()).as("tool arguments").isEqualTo(Json.text(w.get("arguments")));
            }
            if (want.has("reasoning_details")) {
                assertThat(m.extras().get("reasoning_details")).as("reasoning_details").isEqualTo(want.get("reasoning_details"));
            }
            for (var key : List.of("native_finish_reason", "stop_reason")) {
                if (want.has(key)) assertThat(choice.extras().get(key)).as(key).isEqualTo(want.get(key));
            }
            if (want.has("content_filter_results_last")) {
                assertThat(choice.extras().get("content_filter_results")).isEqualTo(want.get("content_filter_results_last"));
            }
            if (want.has("logprobs_content_tokens")) {
                var tokens = new ArrayList<String>();
                choice.logprobs().get("content").forEach(t -> tokens.add(t.get("token").asText()));
                assertThat(tokens).as("logprob tokens").containsExactlyElementsOf(texts(want.get("logprobs_content_tokens")));
            }
            if (want.has("logprobs_refusal_tokens")) {
                var tokens = new ArrayList<String>();
                choice.logprobs().get("refusal").forEach(t -> tokens.add(t.get("token").asText()));
                assertThat(tokens).as("refusal logprob tokens").containsExactlyElementsOf(texts(want.get("logprobs_refusal_tokens")));
            }
        }

        // The rebuilt object is a well-formed chat.completion.
        ObjectNode json = result.toJson();
        assertThat(json.get("object").asText()).isEqualTo("chat.completion");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("chatFixtures")
    void anyByteSplitGivesTheSameEventsAndResult(Fixture fixture) {
        var whole = parse(fixture.bytes(), 0, 0);
        for (long seed = 1; seed <= 5; seed++) {
            var split = parse(fixture.bytes(), (int) (1 + seed * 3 % 11), seed);
            assertThat(split.events()).as("events, seed %d", seed).isEqualTo(whole.events());
            assertThat(split.accumulator().result()).as("result, seed %d", seed).isEqualTo(whole.accumulator().result());
        }
    }

    /**
     * An upstream asked with {@code stream: false} answers with the completion itself: decoding that body must
     * give the same completion as its stream, so a non-streaming client gets the same answer either way.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("chatFixtures")
    void nonStreamedCompletionDecodesToTheSameResult(Fixture fixture) {
        var streamed = parse(fixture.bytes(), 0, 0).accumulator();
        Assumptions.assumeTrue(streamed.errors().isEmpty(), "an errored stream has no completion to answer with");
        var completion = Json.bytes(streamed.result().toJson());

        var acc = new ChatAccumulator();
        var parser = new ChatStreamParser(acc::accept);
        parser.completion(completion, 0, completion.length);

        assertThat(parser.end()).as("complete").isTrue();
        assertThat(acc.errors()).isEmpty();
        assertThat(acc.result().toJson()).isEqualTo(streamed.result().toJson());
    }

    @org.junit.jupiter.api.Test
    void nonStreamedErrorBodyIsAnErrorEvent() {
        var body = "{\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\",\"param\":null,\"code\":\"overloaded\"}}".getBytes();
        var events = new ArrayList<StreamEvent>();
        var parser = new ChatStreamParser(events::add);
        parser.completion(body, 0, body.length);
        assertThat(parser.errored()).isTrue();
        assertThat(events).singleElement().isInstanceOfSatisfying(StreamEvent.Error.class,
                e -> assertThat(e.error().code()).isEqualTo("overloaded"));
    }

    private static JsonNode nonNull(JsonNode node) {
        return node == null || node.isNull() ? null : node;
    }

    private static List<String> texts(JsonNode array) {
        var out = new ArrayList<String>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }
}
