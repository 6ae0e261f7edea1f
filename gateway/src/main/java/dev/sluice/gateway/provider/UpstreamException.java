package dev.sluice.gateway.provider;

import java.time.Duration;

/**
 * An upstream refused or failed a request before answering. {@code status} is the upstream's HTTP status
 * (0 when no response came: connection failure or timeout); {@code body} its error body when it sent one.
 */
public final class UpstreamException extends Exception {

    /**
     * {@code CREDENTIALS}: a 401 or 403 to credentials the gateway chose (its configured key, or none), not the
     * client's. Only the operator can fix it, so another deployment is tried and the client is not told that
     * its own key was wrong.
     */
    public enum Kind { HTTP, CREDENTIALS, CONNECTION, TIMEOUT }

    private final Kind kind;
    private final int status;
    private final byte[] body;
    private final String contentType;
    private final Duration retryAfter;

    public UpstreamException(Kind kind, int status, String message, byte[] body, String contentType, Duration retryAfter, Throwable cause) {
        super(message, cause);
        this.kind = kind;
        this.status = status;
        this.body = body;
        this.contentType = contentType;
        this.retryAfter = retryAfter;
    }

    public static UpstreamException http(int status, String message, byte[] body, String contentType, Duration retryAfter) {
        return new UpstreamException(Kind.HTTP, status, message, body, contentType, retryAfter, null);
    }

    /** The same refusal, as one of the gateway's own credentials rather than the client's. */
    public UpstreamException asGatewayCredentials() {
        return kind == Kind.HTTP && (status == 401 || status == 403)
                ? new UpstreamException(Kind.CREDENTIALS, status, getMessage(), body, contentType, retryAfter, getCause())
                : this;
    }

    /**
     * The message with {@code HTTP <status>} before it, for a refusal, unless it says so already (the OpenAI
     * provider's messages begin with it): the words a run's or a response's stored error gives.
     */
    public String statusAndMessage() {
        var prefix = "HTTP " + status + " ";
        return status <= 0 || String.valueOf(getMessage()).startsWith(prefix) ? getMessage() : prefix + getMessage();
    }

    public static UpstreamException connection(String message, Throwable cause) {
        return new UpstreamException(Kind.CONNECTION, 0, message, null, null, null, cause);
    }

    public static UpstreamException timeout(String message) {
        return new UpstreamException(Kind.TIMEOUT, 0, message, null, null, null, null);
    }

    public Kind kind() {
        return kind;
    }

    public int status() {
        return status;
    }

    public byte[] body() {
        return body;
    }

    public String contentType() {
        return contentType;
    }

    public Duration retryAfter() {
        return retryAfter;
    }
}
