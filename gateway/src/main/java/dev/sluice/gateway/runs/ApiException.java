package dev.sluice.gateway.runs;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.gateway.http.ApiError;
import dev.sluice.gateway.http.IntegerParams;

/** Ends a request with an OpenAI-shaped error; the Assistants dispatcher turns it into the response. */
public final class ApiException extends RuntimeException {

    private final transient ApiError error;

    public ApiException(ApiError error) {
        super(error.message(), null, false, false);
        this.error = error;
    }

    public ApiError error() {
        return error;
    }

    public static ApiException badRequest(String message, String param) {
        return new ApiException(ApiError.invalidRequest(message, param, null));
    }

    /** A 400 when the integer {@code node} at {@code field} is outside [min, max], compared on its exact value. */
    public static void requireInRange(String field, JsonNode node, long min, long max) {
        IntegerParams.outOfRange(field, node, min, max).ifPresent(e -> {
            throw new ApiException(e);
        });
    }

    public static ApiException notFound(String what, String id) {
        return new ApiException(ApiError.notFound("No " + what + " found with id '" + id + "'.", null, null));
    }
}
