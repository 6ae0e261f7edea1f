package dev.sluice.client.chat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.wire.chat.StreamEvent;
import java.util.List;

/**
 * What a {@link ChatStream} delivers, after openai-node's ChatCompletionStream events. Every canonical event
 * arrives first as a {@link Chunk}, followed by the typed events derived from it. {@code choice} is the
 * choice index; snapshots are everything received so far for that choice.
 *
 * <p>"Done" events fire once per choice and field, when the choice finishes or, for choices that never
 * finish, when the stream ends: {@link ContentDone}, {@link RefusalDone}, {@link ReasoningDone},
 * {@link LogprobsContentDone}, {@link LogprobsRefusalDone}, then the {@link ToolCallDone}s still open, then
 * {@link Finish}. A tool call is also done as soon as the next tool call of its choice starts.
 */
public sealed interface ChatStreamEvent {

    /** One canonical event decoded from the upstream's chunks: metadata, extras and all the rest, unfiltered. */
    record Chunk(StreamEvent event) implements ChatStreamEvent {}

    record ContentDelta(int choice, String delta, String snapshot) implements ChatStreamEvent {}

    record ContentDone(int choice, String content) implements ChatStreamEvent {}

    record RefusalDelta(int choice, String delta, String snapshot) implements ChatStreamEvent {}

    record RefusalDone(int choice, String refusal) implements ChatStreamEvent {}

    record ReasoningDelta(int choice, String delta, String snapshot) implements ChatStreamEvent {}

    record ReasoningDone(int choice, String reasoning) implements ChatStreamEvent {}

    /** A fragment of the JSON arguments of tool call {@code index}; {@code argumentsSnapshot} is all of them so far. */
    record ToolCallArgumentsDelta(int choice, int index, String name, String delta, String argumentsSnapshot)
            implements ChatStreamEvent {}

    record ToolCallDone(int choice, int index, String id, String name, String arguments) implements ChatStreamEvent {}

    /** Token log probabilities (OpenAI token-logprob objects) of the content just streamed. */
    record LogprobsContentDelta(int choice, List<JsonNode> content, List<JsonNode> snapshot) implements ChatStreamEvent {}

    record LogprobsContentDone(int choice, List<JsonNode> content) implements ChatStreamEvent {}

    record LogprobsRefusalDelta(int choice, List<JsonNode> refusal, List<JsonNode> snapshot) implements ChatStreamEvent {}

    record LogprobsRefusalDone(int choice, List<JsonNode> refusal) implements ChatStreamEvent {}

    /** Token usage as reported (an OpenAI {@code usage} object). */
    record Usage(JsonNode usage) implements ChatStreamEvent {}

    record Finish(int choice, String reason) implements ChatStreamEvent {}
}
