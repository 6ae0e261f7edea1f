package dev.sluice.gateway.chat;

import dev.sluice.gateway.http.ApiError;
import dev.sluice.gateway.provider.UpstreamException;
import dev.sluice.wire.chat.StreamError;
import dev.sluice.wire.json.Json;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.http.HttpTimeoutException;
import java.util.LinkedHashMap;
import java.util.regex.Pattern;

/** Maps upstream failures to what the client is told: OpenAI-shaped errors with a status that says whose fault it is. */
public final class UpstreamErrors {

    private UpstreamErrors() {}

    /** A failure before the answer started: the upstream's own status and error when it sent one, else 502/504. */
    public static ApiError toApiError(UpstreamException e, String deployment) {
        return switch (e.kind()) {
            case TIMEOUT -> ApiError.server(504, "The upstream (" + deployment + ") did not answer in time: " + e.getMessage(), "upstream_timeout");
            case CONNECTION -> switch (connectionFailure(e)) {
                case UNREACHABLE -> ApiError.server(502, "Could not reach the upstream (" + deployment + "): " + e.getMessage(), "upstream_unreachable");
                case MALFORMED -> ApiError.server(502, "The upstream (" + deployment + ") sent a malformed response: " + e.getMessage(), "bad_upstream_response");
                case BROKEN -> ApiError.server(502, "The upstream (" + deployment + ") failed: " + e.getMessage(), "upstream_error");
            };
            case CREDENTIALS -> ApiError.server(502, "The upstream (" + deployment + ") refused the gateway's credentials (HTTP "
                    + e.status() + "): " + relayed(e, deployment).message(), "upstream_auth_failed");
            case HTTP -> relayed(e, deployment);
        };
    }

    /** The upstream's error status and body, as the client is given them. */
    private static ApiError relayed(UpstreamException e, String deployment) {
        int status = e.status() >= 400 && e.status() <= 599 ? e.status() : 502;
        String message = "The upstream (" + deployment + ") answered with HTTP " + e.status() + ".";
        String type = status >= 500 ? "server_error" : "invalid_request_error";
        String param = null, code = null;
        if (e.body() != null && e.body().length > 0) {
            try {
                var node = Json.parse(e.body());
                var err = node.has("error") ? node.get("error") : node;
                if (err.isTextual()) {
                    message = err.asText();
                } else if (err.isObject()) {
                    if (err.hasNonNull("message")) message = err.get("message").asText();
                    if (err.hasNonNull("type")) type = err.get("type").asText();
                    param = Json.text(err.get("param"));
                    code = Json.text(err.get("code"));
                }
            } catch (IllegalArgumentException notJson) {
                var text = new String(e.body(), java.nio.charset.StandardCharsets.UTF_8).strip();
                if (!text.isEmpty()) message = message + " " + (text.length() > 500 ? text.substring(0, 500) + "..." : text);
            }
        }
        var headers = new LinkedHashMap<String, String>();
        if (e.retryAfter() != null) headers.put("Retry-After", Long.toString(Math.max(0, (e.retryAfter().toMillis() + 999) / 1000)));
        return new ApiError(status, message, type, param, code, headers);
    }

    /**
     * An error the upstream reported inside its stream, answered as an error status (to a non-streaming client, or
     * to a streaming one before its first chunk): the status the error names, else the one its type or code means.
     */
    public static ApiError toApiError(StreamError error) {
        int status = 0;
        var raw = error.raw();
        var candidates = new String[] {error.code(), raw == null ? null : Json.text(raw.get("status_code")), raw == null ? null : Json.text(raw.get("status"))};
        for (var c : candidates) {
            if (c != null && c.matches("[45]\\d\\d")) {
                status = Integer.parseInt(c);
                break;
            }
        }
        if (status == 0) status = statusOf(error.type(), error.code());
        var type = error.type() != null ? error.type() : status < 500 ? "invalid_request_error" : "server_error";
        return new ApiError(status, error.message(), type, error.param(), error.code(), null);
    }

    /** OpenAI's error types and codes (and Anthropic's overload) by the status OpenAI sends them with; 502 for the rest. */
    private static int statusOf(String type, String code) {
        if ("rate_limit_exceeded".equals(code) || "insufficient_quota".equals(code) || "rate_limit_error".equals(type)) return 429;
        if ("invalid_api_key".equals(code) || "authentication_error".equals(type)) return 401;
        if ("permission_error".equals(type)) return 403;
        if ("model_not_found".equals(code) || "not_found_error".equals(type)) return 404;
        if ("context_length_exceeded".equals(code) || "invalid_request_error".equals(type)) return 400;
        if ("overloaded_error".equals(type)) return 503;
        if ("upstream_timeout".equals(code) || "timeout_error".equals(type)) return 504;
        return 502;
    }

    /** An answer cut short: neither [DONE] nor every choice finished. */
    public static final String INCOMPLETE = "The upstream closed the stream before the answer was complete.";
    /** An answer without any choice ({@code [DONE]} after nothing, {@code "choices": []}): a broken upstream, not an empty success. */
    public static final String EMPTY = "The upstream ended its answer without any choice in it.";

    /** A failure of the connection to the upstream while reading its answer, as an error status. */
    public static ApiError toApiError(IOException e) {
        return ApiError.server(isTimeout(e) ? 504 : 502, describe(e), code(e));
    }

    public static boolean isTimeout(IOException e) {
        return e instanceof HttpTimeoutException || e.getClass().getSimpleName().contains("Timeout")
                || (e instanceof InterruptedIOException && !(e.getMessage() != null && e.getMessage().contains("cancel")));
    }

    public static String describe(IOException e) {
        var what = isTimeout(e) ? "The upstream stopped sending data (timeout)"
                : connectionFailure(e) == Failure.MALFORMED ? "The upstream sent a malformed response"
                : "The upstream failed";
        return what + ": " + reason(e);
    }

    /** The error code of a failure while reading an answer: a timeout, a malformed response, or a broken connection. */
    public static String code(IOException e) {
        if (isTimeout(e)) return "upstream_timeout";
        return connectionFailure(e) == Failure.MALFORMED ? "bad_upstream_response" : "upstream_error";
    }

    /** Whose words fit a failure without an answer: nobody answered, the answer broke HTTP, or the connection broke. */
    enum Failure { UNREACHABLE, MALFORMED, BROKEN }

    static Failure connectionFailure(Throwable e) {
        for (var t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            switch (t) {
                case java.net.ProtocolException p -> { return Failure.MALFORMED; }
                case java.net.ConnectException c -> { return Failure.UNREACHABLE; }
                case java.net.UnknownHostException u -> { return Failure.UNREACHABLE; }
                case java.net.NoRouteToHostException n -> { return Failure.UNREACHABLE; }
                case java.nio.channels.UnresolvedAddressException u -> { return Failure.UNREACHABLE; }
                case javax.net.ssl.SSLHandshakeException h -> { return Failure.UNREACHABLE; }
                default -> {}
            }
        }
        return Failure.BROKEN;
    }

    /** Netty's native transport prefixes the system call: "recvAddress(..) failed: Connection reset by peer". */
    private static final Pattern NATIVE_CALL = Pattern.compile("\\b\\w+\\(\\.\\.\\) failed: ");
    /** A nested exception's toString(): "java.lang.IllegalStateException: ...". */
    private static final Pattern CLASS_NAME = Pattern.compile("\\b(?:[a-z_][\\w$]*\\.)+[A-Z][\\w$]*(?:Exception|Error)\\b:? ?");

    /**
     * A failure's message as a client may read it: the first line, without exception class names or the native
     * call that failed. The whole exception goes to the gateway's log, not to the client.
     */
    public static String reason(Throwable e) {
        var message = e.getMessage();
        if (message != null) {
            message = CLASS_NAME.matcher(NATIVE_CALL.matcher(message).replaceAll("")).replaceAll("").strip();
            message = message.lines().findFirst().orElse("").strip();
        }
        if (message != null && !message.isEmpty()) return message;
        return switch (e) {
            case java.net.ConnectException c -> "connection refused";
            case java.nio.channels.ClosedChannelException c -> "the connection was closed";
            case HttpTimeoutException t -> "timed out";
            default -> "I/O error";
        };
    }
}
