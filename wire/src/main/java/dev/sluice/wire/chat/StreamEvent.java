package dev.sluice.wire.chat;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * The canonical stream model. Every provider translates its wire format into these events and every
 * front end (chat completions SSE, Responses, Assistants runs) translates out of them, so no front end
 * ever sees a provider's format. Choice-scoped events carry the choice index ({@code n > 1}).
 */
public sealed interface StreamEvent {

    /** Identity of the completion. Sent first, and again whenever a later chunk changes a field. */
    record Metadata(String id, String model, long created, String systemFingerprint, String serviceTier)
            implements StreamEvent {}

    /** The role of a choice's message, as sent on its first delta. */
    record Role(int choice, String role) implements StreamEvent {}

    record TextDelta(int choice, String text) implements StreamEvent {}

    /**
     * Reasoning text. {@code field} names where the provider put it ({@code reasoning_content},
     * {@code reasoning}, Mistral thinking parts), so a front end can mirror the caller's dialect.
     */
    record ReasoningDelta(int choice, String text, String field) implements StreamEvent {}

    record RefusalDelta(int choice, String text) implements StreamEvent {}

    /** The first fragment of tool call {@code index}: id, type and function name. */
    record ToolCallStart(int choice, int index, String id, String type, String name) implements StreamEvent {}

    record ToolCallArguments(int choice, int index, String fragment) implements StreamEvent {}

    /**
     * Token log probabilities: arrays of OpenAI token-logprob objects, either may be null. Sent just
     * before the text or refusal delta they describe (both came in one upstream chunk).
     */
    record Logprobs(int choice, JsonNode content, JsonNode refusal) implements StreamEvent {}

    record Finish(int choice, String reason) implements StreamEvent {}

    /** Token usage as the provider reported it (an OpenAI {@code usage} object, details and extensions kept). */
    record Usage(JsonNode usage) implements StreamEvent {}

    /**
     * A provider-specific field the canonical model has no slot for (Azure content filters, OpenRouter's
     * provider and reasoning_details, llama.cpp timings...). Kept so nothing the upstream said is lost.
     */
    record Extra(Scope scope, int choice, String name, JsonNode value) implements StreamEvent {}

    /** An error reported inside the stream. The stream ends after it. */
    record Error(StreamError error) implements StreamEvent {}

    enum Scope { CHUNK, CHOICE, DELTA }

    /**
     * Whether the event is part of a choice's answer: not the completion's identity, its usage, an extra or an
     * error. An answer with none of these has no choice at all (a broken upstream, not an empty success).
     */
    static boolean ofAChoice(StreamEvent event) {
        return !(event instanceof Metadata || event instanceof Usage || event instanceof Extra || event instanceof Error);
    }
}
