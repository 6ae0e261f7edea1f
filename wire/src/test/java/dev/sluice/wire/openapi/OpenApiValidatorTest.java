package dev.sluice.wire.openapi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class OpenApiValidatorTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String CHUNK = "CreateChatCompletionStreamResponse";

    private static OpenApiValidator validator;
    private static List<String> chunkLines;

    @BeforeAll
    static void load() throws IOException {
        OpenApiValidator.assumeAvailable();
        validator = OpenApiValidator.shared();
        System.out.printf("OpenAPI spec %s loaded in %d ms (%d component schemas)%n",
                validator.source(), validator.loadTime().toMillis(), validator.schemaNames().size());
        var sse = OpenApiValidator.repoRoot()
                .resolve("../shared/fixtures/upstream-sse/openai-chat-parallel-tool-calls.sse");
        chunkLines = Files.readAllLines(sse).stream()
                .filter(line -> line.startsWith("data: {"))
                .map(line -> line.substring("data: ".length()))
                .toList();
    }

    private static ObjectNode json(String text) {
        try {
            return (ObjectNode) JSON.readTree(text);
        } catch (IOException e) {
            throw new IllegalArgumentException(e);
        }
    }

    /** The first chunk that carries a finish_reason, so mutations of it hit every interesting field. */
    private static ObjectNode finishingChunk() {
        return chunkLines.stream().map(OpenApiValidatorTest::json)
                .filter(c -> c.path("choices").path(0).path("finish_reason").isTextual())
                .findFirst().orElseThrow();
    }

    @Test
    void specIsParsedOnceAndHasTheSchemasTheGatewayEmits() {
        assertThat(OpenApiValidator.shared()).isSameAs(validator);
        assertThat(OpenApiValidator.load()).isSameAs(validator);
        assertThat(validator.schemaNames()).contains(
                "CreateChatCompletionStreamResponse", "CreateChatCompletionResponse", "ErrorResponse", "Error",
                "ListModelsResponse", "Model", "Response", "ResponseStreamEvent", "AssistantObject", "RunObject",
                "ThreadObject", "MessageObject", "MessageDeltaObject", "RunStepObject", "RunStepDeltaObject",
                "AssistantStreamEvent");
    }

    @Test
    void everyRealOpenAiChunkIsValid() {
        assertThat(chunkLines).hasSizeGreaterThan(5);
        chunkLines.forEach(line -> validator.assertValid(CHUNK, line));
    }

    @Test
    void chunkWithoutChoicesIsInvalid() {
        var chunk = json(chunkLines.getFirst());
        chunk.remove("choices");
        assertThat(validator.validate(CHUNK, chunk)).containsExactly("$.choices: required property is missing");
    }

    @Test
    void chunkWithStringCreatedIsInvalid() {
        var chunk = json(chunkLines.getFirst());
        chunk.put("created", "1727346178");
        assertThat(validator.validate(CHUNK, chunk))
                .containsExactly("$.created: expected integer, got string \"1727346178\"");
    }

    @Test
    void chunkWithUnknownFinishReasonIsInvalid() {
        var chunk = finishingChunk();
        validator.assertValid(CHUNK, chunk);
        ((ObjectNode) chunk.withArray("choices").get(0)).put("finish_reason", "bogus");
        var errors = validator.validate(CHUNK, chunk);
        assertThat(errors).hasSize(1);
        assertThat(errors.getFirst()).startsWith("$.choices[0].finish_reason: \"bogus\" is not one of [\"stop\"");
    }

    @Test
    void nullableLeftoversAdmitNull() {
        // finish_reason is an enum without null, usage a $ref to an object: both carry nullable: true.
        var chunk = finishingChunk();
        ((ObjectNode) chunk.withArray("choices").get(0)).putNull("finish_reason");
        chunk.putNull("usage");
        validator.assertValid(CHUNK, chunk);
    }

    @Test
    void assertValidListsTheErrors() {
        var chunk = json(chunkLines.getFirst());
        chunk.remove("id");
        chunk.put("object", "chat.completion");
        assertThatThrownBy(() -> validator.assertValid(CHUNK, chunk))
                .isInstanceOf(AssertionError.class)
                .hasMessageContaining("not a valid " + CHUNK + " (2 errors)")
                .hasMessageContaining("$.id: required property is missing")
                .hasMessageContaining("$.object: \"chat.completion\" is not one of [\"chat.completion.chunk\"]");
    }

    @Test
    void handWrittenChatCompletionIsValid() {
        var completion = json("""
                {
                  "id": "chatcmpl-123",
                  "object": "chat.completion",
                  "created": 1727346178,
                  "model": "gpt-4o-2024-08-06",
                  "system_fingerprint": "fp_5050236cbd",
                  "service_tier": "default",
                  "choices": [
                    {
                      "index": 0,
                      "message": {"role": "assistant", "content": "Hello!", "refusal": null, "annotations": []},
                      "logprobs": null,
                      "finish_reason": "stop"
                    },
                    {
                      "index": 1,
                      "message": {
                        "role": "assistant", "content": null, "refusal": null,
                        "tool_calls": [{"id": "call_1", "type": "function",
                                        "function": {"name": "get_weather", "arguments": "{\\"city\\":\\"Paris\\"}"}}]
                      },
                      "logprobs": {
                        "content": [{"token": "Hi", "logprob": -0.1, "bytes": [72, 105], "top_logprobs": []}],
                        "refusal": null
                      },
                      "finish_reason": "tool_calls"
                    }
                  ],
                  "usage": {
                    "prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21,
                    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                    "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                  "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
                  }
                }
                """);
        validator.assertValid("CreateChatCompletionResponse", completion);

        // Streaming's nullable finish_reason does not carry over to the final object.
        ((ObjectNode) completion.withArray("choices").get(0)).putNull("finish_reason");
        assertThat(validator.validate("CreateChatCompletionResponse", completion))
                .containsExactly("$.choices[0].finish_reason: expected string, got null");
    }

    @Test
    void errorResponse() {
        validator.assertValid("ErrorResponse", json("""
                {"error": {"message": "x", "type": "invalid_request_error", "param": null, "code": null}}
                """));
        assertThat(validator.validate("ErrorResponse", json("{\"error\":{}}"))).containsExactlyInAnyOrder(
                "$.error.type: required property is missing",
                "$.error.message: required property is missing",
                "$.error.param: required property is missing",
                "$.error.code: required property is missing");
        var numericCode = json("""
                {"error": {"message": "x", "type": "t", "param": null, "code": 42}}
                """);
        assertThat(validator.validate("ErrorResponse", numericCode))
                .containsExactly("$.error.code: expected one of [string, null], got integer 42");
    }

    @Test
    void listModelsResponse() {
        validator.assertValid("ListModelsResponse", json("""
                {"object": "list",
                 "data": [{"id": "gpt-4o", "object": "model", "created": 1715367049, "owned_by": "system"}]}
                """));
        assertThat(validator.validate("ListModelsResponse", json("""
                {"object": "list", "data": [{"id": "gpt-4o", "object": "model", "owned_by": "system"}]}
                """))).containsExactly("$.data[0].created: required property is missing");
    }

    @Test
    void unionFailuresReportTheClosestBranch() {
        var delta = json("""
                {"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "content_index": 0,
                 "delta": "Hi", "sequence_number": 3, "logprobs": []}
                """);
        validator.assertValid("ResponseStreamEvent", delta);

        delta.remove("sequence_number");
        var errors = validator.validate("ResponseStreamEvent", delta);
        assertThat(errors).containsExactly(
                "$: matches none of 58 anyOf branches; closest is ResponseTextDeltaEvent, which fails with:",
                "$.sequence_number: required property is missing");
    }

    @Test
    void unknownUnionTagListsTheKnownTags() {
        var event = json("{\"type\": \"response.bogus\", \"sequence_number\": 1}");
        var errors = validator.validate("ResponseStreamEvent", event);
        assertThat(errors).hasSize(1);
        assertThat(errors.getFirst()).startsWith("$.type: \"response.bogus\" is not one of [")
                .contains("\"response.output_text.delta\"", "\"response.completed\"", "\"error\"");
    }

    @Test
    void assistantStreamEventsAreEventDataPairs() {
        validator.assertValid("AssistantStreamEvent", json("{\"event\": \"done\", \"data\": \"[DONE]\"}"));
        validator.assertValid("AssistantStreamEvent", json("""
                {"event": "thread.created",
                 "data": {"id": "thread_1", "object": "thread", "created_at": 1699012949,
                          "metadata": {}, "tool_resources": null}}
                """));
        // Every branch misses one tag; the one that matched the event name is the one to report.
        assertThat(validator.validate("AssistantStreamEvent", json("{\"event\": \"done\", \"data\": \"done\"}")))
                .containsExactly("$: matches none of 6 oneOf branches; closest is DoneEvent, which fails with:",
                        "$.data: \"done\" is not one of [\"[DONE]\"]");
    }

    @Test
    void recursiveRefsFollowTheRecursiveAnchor() {
        var filter = json("""
                {"type": "and", "filters": [
                  {"type": "eq", "key": "a", "value": 1},
                  {"type": "or", "filters": [{"type": "in", "key": "b", "value": ["x", 2]}]}
                ]}
                """);
        validator.assertValid("CompoundFilter", filter);

        ((ObjectNode) filter.withArray("filters").get(1).withArray("filters").get(0)).putNull("value");
        assertThat(validator.validate("CompoundFilter", filter)).contains(
                "$.filters[1].filters[0].value: expected one of [string, number, boolean, array], got null");
    }

    @Test
    void unknownSchemaIsAnError() {
        assertThatThrownBy(() -> validator.validate("NoSuchSchema", JSON.nullNode()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("NoSuchSchema");
    }

    @Test
    void everyReferenceInTheSpecResolves() {
        // An unresolvable $ref would be reported on every instance that reaches it; catch it at the source.
        assertThat(validator.unresolvedReferences()).isEmpty();
    }
}
