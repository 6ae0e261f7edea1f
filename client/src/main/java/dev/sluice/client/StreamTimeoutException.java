package dev.sluice.client;

import java.net.http.HttpTimeoutException;
import java.time.Duration;

/**
 * A timeout expired: no response headers in time ({@link Kind#FIRST_BYTE}), no bytes for too long in the
 * middle of a body ({@link Kind#IDLE}), or the whole call took too long ({@link Kind#TOTAL}). The exchange
 * is cancelled (its connection closed) before this is thrown.
 */
public final class StreamTimeoutException extends HttpTimeoutException {

    public enum Kind { FIRST_BYTE, IDLE, TOTAL }

    private final Kind kind;
    private final Duration timeout;

    public StreamTimeoutException(Kind kind, Duration timeout) {
        super(switch (kind) {
            case FIRST_BYTE -> "no response headers within " + timeout.toMillis() + " ms";
            case IDLE -> "no bytes received for " + timeout.toMillis() + " ms";
            case TOTAL -> "call exceeded its total timeout of " + timeout.toMillis() + " ms";
        });
        this.kind = kind;
        this.timeout = timeout;
    }

    /**
     * The timeout that expired when a wait for {@code kind} ended: {@link Kind#TOTAL} if the call's deadline
     * (a {@link System#nanoTime()}; {@code total} null when there is none) has passed, else {@code kind}.
     */
    static StreamTimeoutException expired(Kind kind, Duration timeout, Duration total, long deadline) {
        return total != null && deadline - System.nanoTime() <= 0 ? new StreamTimeoutException(Kind.TOTAL, total) : new StreamTimeoutException(kind, timeout);
    }

    public Kind kind() {
        return kind;
    }

    public Duration timeout() {
        return timeout;
    }
}
