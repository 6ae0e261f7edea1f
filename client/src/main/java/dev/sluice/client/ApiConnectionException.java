package dev.sluice.client;

import java.io.IOException;

/**
 * No HTTP response could be obtained: connection refused or reset, DNS or TLS failure, connect timeout. Raised
 * after the retries are spent; {@link #attempts()} says how many were made. The cause is the last failure.
 */
public final class ApiConnectionException extends IOException {

    private final int attempts;

    public ApiConnectionException(String message, int attempts, Throwable cause) {
        super(message + (attempts > 1 ? " (after " + attempts + " attempts)" : ""), cause);
        this.attempts = attempts;
    }

    public int attempts() {
        return attempts;
    }
}
