package dev.sluice.wire.chat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.wire.json.Json;

/**
 * An error in OpenAI's shape. {@code code} is kept as text because providers send strings and numbers;
 * {@code raw} is the provider's own error object when there was one.
 */
public record StreamError(String message, String type, String code, String param, JsonNode raw) {

    public StreamError {
        if (message == null || message.isEmpty()) message = "upstream error";
    }

    public static StreamError of(String message, String type, String code) {
        return new StreamError(message, type, code, null, null);
    }

    /** An error object as servers send it: OpenAI's {@code {message, type, param, code}}, wrapped in {@code error} or not, or a bare string. */
    public static StreamError from(JsonNode error) {
        if (error.isTextual()) return of(error.asText(), "server_error", null);
        var inner = error.has("error") && error.get("error").isObject() ? error.get("error") : error;
        return new StreamError(Json.text(inner.get("message")), Json.text(inner.get("type")), Json.text(inner.get("code")),
                Json.text(inner.get("param")), inner);
    }
}
