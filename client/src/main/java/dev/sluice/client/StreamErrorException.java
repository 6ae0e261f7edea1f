package dev.sluice.client;

import dev.sluice.wire.chat.StreamError;

/**
 * The upstream reported an error inside a successful (200) stream: an OpenAI-style {@code error} object, an
 * {@code event: error}, or {@code finish_reason: "error"}. Carries the provider's message, type and code.
 */
public final class StreamErrorException extends RuntimeException {

    private final StreamError error;

    public StreamErrorException(StreamError error) {
        super(error.message() + (error.code() == null ? "" : " (code " + error.code() + ")"));
        this.error = error;
    }

    public StreamError error() {
        return error;
    }

    public String type() {
        return error.type();
    }

    public String code() {
        return error.code();
    }

    public String param() {
        return error.param();
    }
}
