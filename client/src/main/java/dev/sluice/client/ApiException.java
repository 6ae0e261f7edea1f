package dev.sluice.client;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.wire.json.Json;
import java.net.http.HttpHeaders;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;

/**
 * The upstream answered with an HTTP error status (anything but 2xx). Unchecked, like the errors of the
 * official SDKs: callers that care catch it (or one of its kinds) where they can act on it.
 *
 * <p>Everything needed to relay the error unchanged is kept: the status, the raw body bytes and the response
 * headers (Retry-After, x-request-id, rate-limit headers). The OpenAI error fields are parsed from
 * {@code {"error": {...}}}, a bare {@code {"message": ...}} object, FastAPI's {@code {"detail": ...}}, or
 * plain text. Catch a subclass ({@link RateLimit}, {@link BadRequest}...) or switch on {@link #kind()}.
 */
public sealed class ApiException extends RuntimeException
        permits ApiException.BadRequest, ApiException.Authentication, ApiException.PermissionDenied,
                ApiException.NotFound, ApiException.Conflict, ApiException.UnprocessableEntity,
                ApiException.RateLimit, ApiException.InternalServer {

    /** Error bodies are read up to this size; the gateway relays them, so they are kept whole when sane. */
    public static final int MAX_BODY_BYTES = 1 << 20;

    public enum Kind {
        BAD_REQUEST, AUTHENTICATION, PERMISSION_DENIED, NOT_FOUND, CONFLICT, UNPROCESSABLE_ENTITY,
        RATE_LIMIT, INTERNAL_SERVER, OTHER;

        public static Kind of(int status) {
            return switch (status) {
                case 400 -> BAD_REQUEST;
                case 401 -> AUTHENTICATION;
                case 403 -> PERMISSION_DENIED;
                case 404 -> NOT_FOUND;
                case 409 -> CONFLICT;
                case 422 -> UNPROCESSABLE_ENTITY;
                case 429 -> RATE_LIMIT;
                default -> status >= 500 && status <= 599 ? INTERNAL_SERVER : OTHER;
            };
        }
    }

    private final int status;
    private final String errorMessage, type, code, param;
    private final JsonNode error;
    private final byte[] body;
    private final HttpHeaders headers;

    private ApiException(int status, HttpHeaders headers, byte[] body, JsonNode error) {
        super(describe(status, error, body));
        this.status = status;
        this.headers = headers;
        this.body = body.clone();
        this.error = error;
        this.errorMessage = error == null ? null : Json.text(error.get("message"));
        this.type = error == null ? null : Json.text(error.get("type"));
        this.code = error == null ? null : Json.text(error.get("code"));
        this.param = error == null ? null : Json.text(error.get("param"));
    }

    /** The exception of the right kind for a response; the gateway and tests use it to build one. */
    public static ApiException of(int status, HttpHeaders headers, byte[] body) {
        var error = errorObject(body);
        return switch (Kind.of(status)) {
            case BAD_REQUEST -> new BadRequest(status, headers, body, error);
            case AUTHENTICATION -> new Authentication(status, headers, body, error);
            case PERMISSION_DENIED -> new PermissionDenied(status, headers, body, error);
            case NOT_FOUND -> new NotFound(status, headers, body, error);
            case CONFLICT -> new Conflict(status, headers, body, error);
            case UNPROCESSABLE_ENTITY -> new UnprocessableEntity(status, headers, body, error);
            case RATE_LIMIT -> new RateLimit(status, headers, body, error);
            case INTERNAL_SERVER -> new InternalServer(status, headers, body, error);
            case OTHER -> new ApiException(status, headers, body, error);
        };
    }

    public int status() {
        return status;
    }

    public Kind kind() {
        return Kind.of(status);
    }

    /** The provider's error message, or null when the body carried none. */
    public String errorMessage() {
        return errorMessage;
    }

    public String type() {
        return type;
    }

    /** The error code as text (providers send strings or numbers). */
    public String code() {
        return code;
    }

    public String param() {
        return param;
    }

    /** The parsed error object (the value of {@code error}, or the body itself), or null for non-JSON bodies. */
    public JsonNode error() {
        return error;
    }

    /** The {@code x-request-id} response header, or null. */
    public String requestId() {
        return headers.firstValue("x-request-id").orElse(null);
    }

    /** How long the server asked to wait, from {@code retry-after-ms} or {@code Retry-After} (seconds or HTTP date). */
    public Optional<Duration> retryAfter() {
        return RetryAfter.parse(headers);
    }

    /** The response body exactly as received (a copy); at most {@link #MAX_BODY_BYTES} bytes. */
    public byte[] body() {
        return body.clone();
    }

    public String bodyText() {
        return new String(body, StandardCharsets.UTF_8);
    }

    public HttpHeaders headers() {
        return headers;
    }

    private static JsonNode errorObject(byte[] body) {
        JsonNode root;
        try {
            root = Json.parse(body);
        } catch (IllegalArgumentException e) {
            return null;
        }
        if (root == null || !root.isObject()) return null;
        var inner = root.get("error");
        if (inner != null && inner.isObject()) return inner;
        if (inner != null && inner.isTextual()) return Json.object().put("message", inner.asText());
        var detail = root.get("detail");
        if (!root.has("message") && detail != null) return Json.object().put("message", Json.text(detail));
        return root;
    }

    private static String describe(int status, JsonNode error, byte[] body) {
        var message = error == null ? null : Json.text(error.get("message"));
        var type = error == null ? null : Json.text(error.get("type"));
        if (message == null) {
            var text = new String(body, StandardCharsets.UTF_8).strip();
            message = text.isEmpty() ? "(no body)" : text.length() > 500 ? text.substring(0, 500) + "..." : text;
        }
        return "HTTP " + status + (type == null ? "" : " " + type) + ": " + message;
    }

    public static final class BadRequest extends ApiException {
        BadRequest(int s, HttpHeaders h, byte[] b, JsonNode e) { super(s, h, b, e); }
    }

    public static final class Authentication extends ApiException {
        Authentication(int s, HttpHeaders h, byte[] b, JsonNode e) { super(s, h, b, e); }
    }

    public static final class PermissionDenied extends ApiException {
        PermissionDenied(int s, HttpHeaders h, byte[] b, JsonNode e) { super(s, h, b, e); }
    }

    public static final class NotFound extends ApiException {
        NotFound(int s, HttpHeaders h, byte[] b, JsonNode e) { super(s, h, b, e); }
    }

    public static final class Conflict extends ApiException {
        Conflict(int s, HttpHeaders h, byte[] b, JsonNode e) { super(s, h, b, e); }
    }

    public static final class UnprocessableEntity extends ApiException {
        UnprocessableEntity(int s, HttpHeaders h, byte[] b, JsonNode e) { super(s, h, b, e); }
    }

    public static final class RateLimit extends ApiException {
        RateLimit(int s, HttpHeaders h, byte[] b, JsonNode e) { super(s, h, b, e); }
    }

    /** Any 5xx. */
    public static final class InternalServer extends ApiException {
        InternalServer(int s, HttpHeaders h, byte[] b, JsonNode e) { super(s, h, b, e); }
    }
}
