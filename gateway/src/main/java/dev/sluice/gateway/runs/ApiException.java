package dev.sluice.gateway.runs;

import dev.sluice.gateway.http.ApiError;

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

    public static ApiException notFound(String what, String id) {
        return new ApiException(ApiError.notFound("No " + what + " found with id '" + id + "'.", null, null));
    }
}
