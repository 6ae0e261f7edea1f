package dev.sluice.gateway.http;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.wire.json.Json;
import java.util.Map;

/**
 * An error answer in OpenAI's shape, {@code {"error":{"message","type","param","code"}}}, with its HTTP
 * status and any headers it needs (Retry-After).
 */
public record ApiError(int status, String message, String type, String param, String code, Map<String, String> headers) {

    public ApiError {
        headers = headers == null ? Map.of() : Map.copyOf(headers);
    }

    public static ApiError invalidRequest(String message, String param, String code) {
        return new ApiError(400, message, "invalid_request_error", param, code, null);
    }

    /**
     * A request body that is not JSON (or has something after its JSON value), in OpenAI's words: what the
     * parser would say (feature names, source locations) is no business of the client's.
     */
    public static ApiError invalidJson() {
        return invalidRequest("We could not parse the JSON body of your request. The API expects a JSON payload.", null, "invalid_json");
    }

    /** A request body that is JSON but not an object. */
    public static ApiError notAnObject() {
        return invalidRequest("The request body must be a JSON object.", null, "invalid_body");
    }

    public static ApiError notFound(String message, String param, String code) {
        return new ApiError(404, message, "invalid_request_error", param, code, null);
    }

    public static ApiError server(int status, String message, String code) {
        return new ApiError(status, message, status == 504 ? "timeout_error" : "server_error", null, code, null);
    }

    /**
     * 405 for a path that exists with other methods, with the Allow header RFC 9110 requires. HEAD is added
     * wherever GET is allowed, as it is served wherever GET is.
     */
    public static ApiError methodNotAllowed(String method, String path, String... allowed) {
        var methods = new java.util.ArrayList<String>();
        for (var m : allowed) {
            methods.add(m);
            if (m.equals("GET")) methods.add("HEAD");
        }
        return new ApiError(405, "Method " + method + " is not allowed on " + path + ".", "invalid_request_error", null, "method_not_allowed",
                Map.of("Allow", String.join(", ", methods)));
    }

    public ApiError withHeader(String name, String value) {
        var copy = new java.util.LinkedHashMap<>(headers);
        copy.put(name, value);
        return new ApiError(status, message, type, param, code, copy);
    }

    public ObjectNode toJson() {
        var root = Json.object();
        var error = root.putObject("error");
        error.put("message", message);
        error.put("type", type);
        error.put("param", param);
        error.put("code", code);
        return root;
    }
}
