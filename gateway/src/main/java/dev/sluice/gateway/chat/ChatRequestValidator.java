package dev.sluice.gateway.chat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.gateway.http.ApiError;
import dev.sluice.gateway.http.IntegerParams;
import dev.sluice.wire.json.Json;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Checks a chat completions request the way OpenAI does, so a bad request gets a 400 naming the
 * parameter instead of an upstream's surprise. Only what is known is checked; unknown fields pass through.
 */
public final class ChatRequestValidator {

    /** OpenAI's rule for function, tool and schema names. */
    public static final Pattern NAME = Pattern.compile("[a-zA-Z0-9_-]{1,64}");

    /** OpenAI's words for a name that breaks {@link #NAME}, at {@code param}. */
    public static String nameMismatch(String param) {
        return "Invalid '" + param + "': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.";
    }

    private static final Set<String> ROLES = Set.of("system", "developer", "user", "assistant", "tool", "function");

    private ChatRequestValidator() {}

    public static Optional<ApiError> validate(ObjectNode body) {
        try {
            check(body);
            return Optional.empty();
        } catch (Invalid e) {
            return Optional.of(e.error);
        }
    }

    private static final class Invalid extends Exception {
        final ApiError error;

        Invalid(ApiError error) {
            super(error.message(), null, false, false);
            this.error = error;
        }
    }

    private static void check(ObjectNode body) throws Invalid {
        var model = body.get("model");
        if (model == null || model.isNull()) throw missing("model");
        if (!model.isTextual()) throw type("model", "a string", model);
        if (model.asText().isBlank()) throw invalid("model", "Invalid 'model': empty string. Expected a model name.", "empty_string");

        var messages = body.get("messages");
        if (messages == null || messages.isNull()) throw missing("messages");
        if (!messages.isArray()) throw type("messages", "an array", messages);
        if (messages.isEmpty()) {
            throw invalid("messages", "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.", "empty_array");
        }
        for (int i = 0; i < messages.size(); i++) message(messages.get(i), "messages[" + i + "]");

        bool(body, "stream");
        var options = body.get("stream_options");
        if (options != null && !options.isNull()) {
            if (!body.path("stream").asBoolean(false)) {
                throw invalid("stream_options", "The 'stream_options' parameter is only allowed when 'stream' is enabled.", "invalid_value");
            }
            if (!options.isObject()) throw type("stream_options", "an object", options);
            bool(options, "include_usage", "stream_options.include_usage");
        }
        integer(body, "n", 1, 128);
        number(body, "temperature", 0, 2);
        number(body, "top_p", 0, 1);
        number(body, "presence_penalty", -2, 2);
        number(body, "frequency_penalty", -2, 2);
        integer(body, "max_tokens", 1, Integer.MAX_VALUE);
        integer(body, "max_completion_tokens", 1, Integer.MAX_VALUE);
        integer(body, "seed", Long.MIN_VALUE, Long.MAX_VALUE);
        bool(body, "logprobs");
        integer(body, "top_logprobs", 0, 20);
        if (body.hasNonNull("top_logprobs") && !body.path("logprobs").asBoolean(false)) {
            throw invalid("top_logprobs", "Invalid value for 'top_logprobs': 'logprobs' must be set to true when 'top_logprobs' is used.", "invalid_value");
        }
        bool(body, "parallel_tool_calls");
        string(body, "user");

        var stop = body.get("stop");
        if (stop != null && !stop.isNull()) {
            if (stop.isArray()) {
                if (stop.size() > 4) throw invalid("stop", "Invalid 'stop': array too long. Expected an array with maximum length 4, but got an array with length " + stop.size() + " instead.", "array_above_max_length");
                for (int i = 0; i < stop.size(); i++) if (!stop.get(i).isTextual()) throw type("stop[" + i + "]", "a string", stop.get(i));
            } else if (!stop.isTextual()) {
                throw type("stop", "a string or array of strings", stop);
            }
        }

        var tools = body.get("tools");
        if (tools != null && !tools.isNull()) {
            if (!tools.isArray()) throw type("tools", "an array", tools);
            for (int i = 0; i < tools.size(); i++) tool(tools.get(i), "tools[" + i + "]");
        }
        var toolChoice = body.get("tool_choice");
        if (toolChoice != null && !toolChoice.isNull()) toolChoice(toolChoice, tools == null || !tools.isArray() ? Json.NODES.arrayNode() : tools);
        var format = body.get("response_format");
        if (format != null && !format.isNull()) {
            if (!format.isObject()) throw type("response_format", "an object", format);
            var t = format.path("type").asText("");
            if (!List.of("text", "json_object", "json_schema").contains(t)) {
                throw invalid("response_format.type", "Invalid value: '" + t + "'. Supported values are: 'text', 'json_object', and 'json_schema'.", "invalid_value");
            }
            if (t.equals("json_schema") && !format.path("json_schema").isObject()) throw missing("response_format.json_schema");
        }
        var metadata = body.get("metadata");
        if (metadata != null && !metadata.isNull()) {
            if (!metadata.isObject()) throw type("metadata", "an object", metadata);
            for (var it = metadata.properties().iterator(); it.hasNext(); ) {
                var e = it.next();
                if (!e.getValue().isTextual()) throw type("metadata." + e.getKey(), "a string", e.getValue());
            }
        }
    }

    private static void message(JsonNode m, String where) throws Invalid {
        if (!m.isObject()) throw type(where, "an object", m);
        var role = m.get("role");
        if (role == null || role.isNull()) throw missing(where + ".role");
        if (!role.isTextual() || !ROLES.contains(role.asText())) {
            throw invalid(where + ".role", "Invalid value: '" + role.asText() + "'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.", "invalid_value");
        }
        var content = m.get("content");
        switch (role.asText()) {
            case "assistant" -> {
                boolean hasCalls = m.path("tool_calls").isArray() && !m.path("tool_calls").isEmpty();
                if ((content == null || content.isNull()) && !hasCalls && !m.hasNonNull("function_call") && !m.hasNonNull("refusal")) {
                    throw missing(where + ".content");
                }
            }
            case "tool" -> {
                if (content == null || content.isNull()) throw missing(where + ".content");
                if (!m.hasNonNull("tool_call_id")) throw missing(where + ".tool_call_id");
            }
            default -> {
                if (content == null || content.isNull()) throw missing(where + ".content");
            }
        }
        if (content != null && !content.isNull() && !content.isTextual() && !content.isArray()) {
            throw type(where + ".content", "a string or array of content parts", content);
        }
        // A function message's content is a string in OpenAI's spec; its arrays are left to the upstream.
        if (content != null && content.isArray() && PART_TYPES.containsKey(role.asText())) parts(content, role.asText(), where);
    }

    /** The content part types each role may send, in the order OpenAI's errors list them. */
    private static final java.util.Map<String, List<String>> PART_TYPES = java.util.Map.of(
            "user", List.of("text", "image_url", "input_audio", "file"),
            "system", List.of("text"),
            "developer", List.of("text"),
            "assistant", List.of("text", "refusal"),
            "tool", List.of("text"));

    private static void parts(JsonNode content, String role, String where) throws Invalid {
        if (content.isEmpty()) {
            throw invalid(where + ".content", "Invalid '" + where + ".content': empty array. Expected an array with minimum length 1, but got an empty array instead.", "empty_array");
        }
        var allowed = PART_TYPES.get(role);
        for (int i = 0; i < content.size(); i++) {
            var part = content.get(i);
            var at = where + ".content[" + i + "]";
            if (!part.isObject()) throw type(at, "an object", part);
            var type = part.get("type");
            if (type == null || type.isNull()) throw missing(at + ".type");
            if (!type.isTextual()) throw type(at + ".type", "a string", type);
            // OpenAI singles images out with its own message, naming the message rather than the part.
            if (type.asText().equals("image_url") && !role.equals("user")) {
                throw invalid(where, "Invalid '" + where + "'. Image URLs are only allowed for messages with role 'user', but this message with role '"
                        + role + "' contains an image URL.", "invalid_value");
            }
            if (!allowed.contains(type.asText())) {
                throw invalid(at + ".type", "Invalid value: '" + type.asText() + "'. Supported values are: " + quoted(allowed) + ".", "invalid_value");
            }
            switch (type.asText()) {
                case "text" -> requiredString(part, "text", at);
                case "refusal" -> requiredString(part, "refusal", at);
                case "image_url" -> {
                    var image = requiredObject(part, "image_url", at);
                    requiredString(image, "url", at + ".image_url");
                    oneOf(image, "detail", at + ".image_url", List.of("auto", "low", "high"));
                }
                case "input_audio" -> {
                    var audio = requiredObject(part, "input_audio", at);
                    requiredString(audio, "data", at + ".input_audio");
                    requiredString(audio, "format", at + ".input_audio");
                    oneOf(audio, "format", at + ".input_audio", List.of("wav", "mp3"));
                }
                case "file" -> {
                    var file = requiredObject(part, "file", at);
                    for (var field : List.of("filename", "file_data", "file_id")) string(file, field, at + ".file." + field);
                }
                default -> throw new IllegalStateException("a part type allowed but not checked: " + type.asText());
            }
        }
    }

    private static JsonNode requiredObject(JsonNode parent, String field, String where) throws Invalid {
        var v = parent.get(field);
        if (v == null || v.isNull()) throw missing(where + "." + field);
        if (!v.isObject()) throw type(where + "." + field, "an object", v);
        return v;
    }

    private static void requiredString(JsonNode parent, String field, String where) throws Invalid {
        var v = parent.get(field);
        if (v == null || v.isNull()) throw missing(where + "." + field);
        if (!v.isTextual()) throw type(where + "." + field, "a string", v);
    }

    /** An optional string field with a fixed set of values. */
    private static void oneOf(JsonNode parent, String field, String where, List<String> values) throws Invalid {
        var v = parent.get(field);
        if (v == null || v.isNull()) return;
        if (!v.isTextual()) throw type(where + "." + field, "a string", v);
        if (!values.contains(v.asText())) {
            throw invalid(where + "." + field, "Invalid value: '" + v.asText() + "'. Supported values are: " + quoted(values) + ".", "invalid_value");
        }
    }

    /** 'a', 'b', and 'c', as OpenAI lists supported values. */
    private static String quoted(List<String> values) {
        var q = values.stream().map(v -> "'" + v + "'").toList();
        if (q.size() == 1) return q.getFirst();
        if (q.size() == 2) return q.get(0) + " and " + q.get(1);
        return String.join(", ", q.subList(0, q.size() - 1)) + ", and " + q.getLast();
    }

    private static void tool(JsonNode tool, String where) throws Invalid {
        if (!tool.isObject()) throw type(where, "an object", tool);
        var type = tool.path("type").asText("");
        switch (type) {
            case "function" -> {
                var fn = tool.get("function");
                if (fn == null || !fn.isObject()) throw missing(where + ".function");
                var name = fn.get("name");
                if (name == null || !name.isTextual() || name.asText().isEmpty()) throw missing(where + ".function.name");
                if (!NAME.matcher(name.asText()).matches()) {
                    throw invalid(where + ".function.name", nameMismatch(where + ".function.name"), "invalid_value");
                }
            }
            case "custom" -> requiredString(requiredObject(tool, "custom", where), "name", where + ".custom");
            case "" -> throw missing(where + ".type");
            // The spec knows only these two; an upstream would refuse any other, so the gateway does first.
            default -> throw invalid(where + ".type", "Invalid value: '" + type + "'. Supported values are: 'function' and 'custom'.", "invalid_value");
        }
    }

    /**
     * A mode, or a named tool that must be one of {@code tools}. Without tools, only 'none' and 'auto' make
     * sense (they are what OpenAI defaults to anyway): 'required' or a named tool cannot be honoured.
     */
    private static void toolChoice(JsonNode choice, JsonNode tools) throws Invalid {
        if (choice.isTextual()) {
            if (!List.of("none", "auto", "required").contains(choice.asText())) {
                throw invalid("tool_choice", "Invalid value: '" + choice.asText() + "'. Supported values are: 'none', 'auto', and 'required'.", "invalid_value");
            }
        } else if (!choice.isObject()) {
            throw type("tool_choice", "a string or object", choice);
        }
        if (tools.isEmpty() && !List.of("none", "auto").contains(choice.asText())) {
            throw invalid("tool_choice", "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.", "invalid_value");
        }
        if (choice.isTextual()) return;
        var type = choice.get("type");
        if (type == null || type.isNull()) throw missing("tool_choice.type");
        if (!type.isTextual()) throw type("tool_choice.type", "a string", type);
        switch (type.asText()) {
            case "function", "custom" -> {
                var kind = type.asText();
                requiredString(requiredObject(choice, kind, "tool_choice"), "name", "tool_choice." + kind);
                var name = choice.get(kind).get("name").asText();
                boolean declared = false;
                for (var tool : tools) declared |= tool.path("type").asText().equals(kind) && tool.path(kind).path("name").asText().equals(name);
                if (!declared) throw invalid("tool_choice", "Invalid value for 'tool_choice': tool choice '" + name + "' not found in 'tools' parameter.", "invalid_value");
            }
            case "allowed_tools" -> requiredObject(choice, "allowed_tools", "tool_choice");
            default -> throw invalid("tool_choice.type", "Invalid value: '" + type.asText() + "'. Supported values are: 'function', 'custom', and 'allowed_tools'.", "invalid_value");
        }
    }

    private static void bool(JsonNode body, String field) throws Invalid {
        bool(body, field, field);
    }

    private static void bool(JsonNode body, String field, String param) throws Invalid {
        var v = body.get(field);
        if (v != null && !v.isNull() && !v.isBoolean()) throw type(param, "a boolean", v);
    }

    private static void string(JsonNode body, String field) throws Invalid {
        string(body, field, field);
    }

    private static void string(JsonNode body, String field, String param) throws Invalid {
        var v = body.get(field);
        if (v != null && !v.isNull() && !v.isTextual()) throw type(param, "a string", v);
    }

    private static void integer(JsonNode body, String field, long min, long max) throws Invalid {
        var v = body.get(field);
        if (v == null || v.isNull()) return;
        if (!v.isIntegralNumber()) throw type(field, "an integer", v);
        var outOfRange = IntegerParams.outOfRange(field, v, min, max);
        if (outOfRange.isPresent()) throw new Invalid(outOfRange.get());
    }

    private static void number(JsonNode body, String field, double min, double max) throws Invalid {
        var v = body.get(field);
        if (v == null || v.isNull()) return;
        if (!v.isNumber()) throw type(field, "a decimal", v);
        double value = v.asDouble();
        if (value < min) throw invalid(field, "Invalid '" + field + "': decimal below minimum value. Expected a value >= " + fmt(min) + ", but got " + v + " instead.", "decimal_below_min_value");
        if (value > max) throw invalid(field, "Invalid '" + field + "': decimal above maximum value. Expected a value <= " + fmt(max) + ", but got " + v + " instead.", "decimal_above_max_value");
    }

    private static String fmt(double d) {
        return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
    }

    private static Invalid missing(String param) {
        return new Invalid(ApiError.invalidRequest("Missing required parameter: '" + param + "'.", param, "missing_required_parameter"));
    }

    private static Invalid type(String param, String expected, JsonNode got) {
        return new Invalid(ApiError.invalidRequest("Invalid type for '" + param + "': expected " + expected + ", but got " + kind(got) + " instead.", param, "invalid_type"));
    }

    private static Invalid invalid(String param, String message, String code) {
        return new Invalid(ApiError.invalidRequest(message, param, code));
    }

    private static String kind(JsonNode node) {
        if (node.isTextual()) return "a string";
        if (node.isBoolean()) return "a boolean";
        if (node.isIntegralNumber()) return "an integer";
        if (node.isNumber()) return "a decimal";
        if (node.isArray()) return "an array";
        if (node.isObject()) return "an object";
        return "null";
    }
}
