package dev.sluice.wire.sse;

/** A stream that breaks the SSE framing limits (a line or event larger than allowed). */
public final class SseException extends RuntimeException {
    public SseException(String message) {
        super(message);
    }

    public SseException(String message, Throwable cause) {
        super(message, cause);
    }
}
