package dev.sluice.wire.chat;

import com.fasterxml.jackson.databind.JsonNode;

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
}
