package dev.sluice.client.responses;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * One event of a Responses API stream: its type ({@code response.output_text.delta}...) and its JSON data.
 * The type comes from the SSE {@code event:} line, or from the data's {@code type} field when a server sends
 * data-only events (OpenRouter).
 */
public record ResponseEvent(String type, JsonNode data) {

    /** {@code sequence_number}, or -1 when the server sends none. */
    public long sequenceNumber() {
        return data.path("sequence_number").asLong(-1);
    }

    /** Whether the response is over after this event. */
    public boolean terminal() {
        return switch (type) {
            case "response.completed", "response.failed", "response.incomplete", "error" -> true;
            default -> false;
        };
    }
}
