package dev.sluice.gateway.runs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.gateway.http.ApiError;
import dev.sluice.gateway.http.Exchange;
import dev.sluice.wire.json.Json;
import java.util.Set;

/** Parsing and validating Assistants (and Responses) request bodies, failing with OpenAI's 400 answers. */
public final class Requests {

    private Requests() {}

    /** The body as a JSON object; an empty body counts as {@code {}} (as for POST .../cancel). */
    public static ObjectNode body(Exchange ex) {
        if (ex.body() == null || ex.body().length == 0) return Json.object();
        JsonNode node;
        try {
            node = Json.parseRequest(ex.body());
        } catch (IllegalArgumentException e) {
            throw new ApiException(ApiError.invalidJson());
        }
        if (!node.isObject()) throw new ApiException(ApiError.notAnObject());
        return (ObjectNode) node;
    }

    static String requiredString(ObjectNode body, String field) {
        var node = body.get(field);
        if (node == null || node.isNull()) throw ApiException.badRequest("Missing required parameter: '" + field + "'.", field);
        if (!node.isTextual() || node.asText().isBlank()) throw ApiException.badRequest("Invalid type for '" + field + "': expected a non-empty string.", field);
        return node.asText();
    }

    /** A string or null field; anything else is a 400. */
    public static JsonNode nullableString(ObjectNode body, String field) {
        var node = body.get(field);
        if (node == null || node.isNull()) return Json.NODES.nullNode();
        if (!node.isTextual()) throw ApiException.badRequest("Invalid type for '" + field + "': expected a string.", field);
        return node;
    }

    /** A string or null field of at most {@code maxLength} characters (OpenAI's limits on an assistant's name, description, instructions). */
    static JsonNode nullableString(ObjectNode body, String field, int maxLength) {
        var node = nullableString(body, field);
        if (node.isTextual() && node.asText().length() > maxLength) {
            throw new ApiException(ApiError.invalidRequest("Invalid '" + field + "': string too long. Expected a string with maximum length " + maxLength
                    + ", but got a string with length " + node.asText().length() + " instead.", field, "string_above_max_length"));
        }
        return node;
    }

    /** An object field ({@code tool_resources}) as a copy, or null when absent or null; anything else is a 400. */
    static ObjectNode optionalObject(ObjectNode body, String field, String param) {
        var node = body.get(field);
        if (node == null || node.isNull()) return null;
        if (!node.isObject()) throw ApiException.badRequest("Invalid type for '" + param + "': expected an object.", param);
        return (ObjectNode) node.deepCopy();
    }

    /** Up to 16 string pairs, keys up to 64 and values up to 512 characters, as OpenAI allows. */
    static ObjectNode metadata(ObjectNode body, String field) {
        var node = body.get(field);
        if (node == null || node.isNull()) return Json.object();
        if (!node.isObject()) throw ApiException.badRequest("Invalid type for '" + field + "': expected an object.", field);
        if (node.size() > 16) throw ApiException.badRequest("Invalid '" + field + "': at most 16 key-value pairs are allowed.", field);
        for (var it = node.properties().iterator(); it.hasNext(); ) {
            var e = it.next();
            if (e.getKey().length() > 64) throw ApiException.badRequest("Invalid '" + field + "': keys are at most 64 characters.", field);
            if (!e.getValue().isTextual()) throw ApiException.badRequest("Invalid '" + field + "." + e.getKey() + "': values must be strings.", field);
            if (e.getValue().asText().length() > 512) throw ApiException.badRequest("Invalid '" + field + "': values are at most 512 characters.", field);
        }
        return (ObjectNode) node.deepCopy();
    }

    public static JsonNode number(ObjectNode body, String field, double min, double max) {
        var node = body.get(field);
        if (node == null || node.isNull()) return Json.NODES.nullNode();
        if (!node.isNumber()) throw ApiException.badRequest("Invalid type for '" + field + "': expected a number.", field);
        if (node.asDouble() < min || node.asDouble() > max) {
            throw ApiException.badRequest("Invalid '" + field + "': must be between " + min + " and " + max + ".", field);
        }
        return node;
    }

    static JsonNode positiveInt(ObjectNode body, String field, int min) {
        var node = body.get(field);
        if (node == null || node.isNull()) return Json.NODES.nullNode();
        if (!node.isIntegralNumber()) throw ApiException.badRequest("Invalid type for '" + field + "': expected an integer.", field);
        // Compared exactly: asLong() would take 2^64+300 for 300. The maximum is the gateway's own (OpenAI's spec
        // has none); the run's token budgets are counted in longs.
        ApiException.requireInRange(field, node, min, Integer.MAX_VALUE);
        return node;
    }

    /** Tools of an assistant or run: function tools (name required), code_interpreter and file_search. */
    static JsonNode tools(ObjectNode body, String field) {
        var node = body.get(field);
        if (node == null || node.isNull()) return null;
        if (!node.isArray()) throw ApiException.badRequest("Invalid type for '" + field + "': expected an array.", field);
        if (node.size() > 128) throw ApiException.badRequest("Invalid '" + field + "': at most 128 tools.", field);
        int i = 0;
        for (var tool : node) {
            var type = tool.path("type").asText("");
            if (!Set.of("function", "code_interpreter", "file_search").contains(type)) {
                throw ApiException.badRequest("Invalid value for '" + field + "[" + i + "].type': '" + type + "'. Supported values are: 'code_interpreter', 'file_search' and 'function'.", field + "[" + i + "].type");
            }
            if (type.equals("function") && !tool.path("function").path("name").isTextual()) {
                throw ApiException.badRequest("Missing required parameter: '" + field + "[" + i + "].function.name'.", field + "[" + i + "].function.name");
            }
            i++;
        }
        return node.deepCopy();
    }

    /** {@code auto}, {@code none}, {@code required}, or {@code {"type":"function","function":{"name":...}}}. */
    static JsonNode toolChoice(ObjectNode body) {
        var node = body.get("tool_choice");
        if (node == null || node.isNull()) return Json.NODES.textNode("auto");
        if (node.isTextual() && Set.of("auto", "none", "required").contains(node.asText())) return node;
        if (node.isObject() && node.path("type").asText().equals("function") && node.path("function").path("name").isTextual()) return node.deepCopy();
        if (node.isObject() && Set.of("code_interpreter", "file_search").contains(node.path("type").asText())) return node.deepCopy();
        throw ApiException.badRequest("Invalid value for 'tool_choice': expected 'none', 'auto', 'required' or a tool object.", "tool_choice");
    }

    /** {@code auto}, {@code {"type":"text"}}, {@code {"type":"json_object"}} or a json_schema format. */
    static JsonNode responseFormat(ObjectNode body) {
        var node = body.get("response_format");
        if (node == null || node.isNull()) return Json.NODES.textNode("auto");
        if (node.isTextual() && node.asText().equals("auto")) return node;
        if (node.isObject() && Set.of("text", "json_object", "json_schema").contains(node.path("type").asText())) return node.deepCopy();
        throw ApiException.badRequest("Invalid value for 'response_format': expected 'auto' or an object with type 'text', 'json_object' or 'json_schema'.", "response_format");
    }

    static ObjectNode truncationStrategy(ObjectNode body) {
        var node = body.get("truncation_strategy");
        var out = Json.object();
        if (node == null || node.isNull()) {
            out.put("type", "auto");
            out.putNull("last_messages");
            return out;
        }
        var type = node.path("type").asText("");
        if (!type.equals("auto") && !type.equals("last_messages")) {
            throw ApiException.badRequest("Invalid value for 'truncation_strategy.type': expected 'auto' or 'last_messages'.", "truncation_strategy.type");
        }
        out.put("type", type);
        var last = node.get("last_messages");
        if (last != null && !last.isNull()) {
            if (!last.isIntegralNumber()) throw ApiException.badRequest("Invalid type for 'truncation_strategy.last_messages': expected an integer.", "truncation_strategy.last_messages");
            // Checked exactly before asInt(), which would read 2^32+1 as 1.
            ApiException.requireInRange("truncation_strategy.last_messages", last, 1, Integer.MAX_VALUE);
            out.put("last_messages", last.asInt());
        } else {
            if (type.equals("last_messages")) throw ApiException.badRequest("Missing required parameter: 'truncation_strategy.last_messages'.", "truncation_strategy.last_messages");
            out.putNull("last_messages");
        }
        return out;
    }

    public static boolean bool(ObjectNode body, String field, boolean fallback) {
        var node = body.get(field);
        if (node == null || node.isNull()) return fallback;
        if (!node.isBoolean()) throw ApiException.badRequest("Invalid type for '" + field + "': expected a boolean.", field);
        return node.asBoolean();
    }
}
