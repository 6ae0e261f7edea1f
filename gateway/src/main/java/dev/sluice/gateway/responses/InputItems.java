package dev.sluice.gateway.responses;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.gateway.runs.ApiException;
import dev.sluice.gateway.runs.Ids;
import dev.sluice.wire.json.Json;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Turns a request's {@code input} (a string or a list of items) into item resources, the objects
 * {@code input_items} lists: messages with text content, {@code function_call}, {@code function_call_output},
 * and {@code reasoning} items handed back by clients that manage context themselves (kept, not sent upstream).
 */
final class InputItems {

    private static final Set<String> ROLES = Set.of("user", "assistant", "system", "developer");

    private InputItems() {}

    static List<ObjectNode> normalize(JsonNode input) {
        var out = new ArrayList<ObjectNode>();
        if (input == null || input.isNull()) return out;
        if (input.isTextual()) {
            out.add(message(Ids.next("msg_"), "user", textParts(input.asText(), "input_text")));
            return out;
        }
        if (!input.isArray()) throw ApiException.badRequest("Invalid type for 'input': expected a string or an array of input items.", "input");
        int i = 0;
        var ids = new HashSet<String>();
        for (var item : input) {
            var at = "input[" + i++ + "]";
            if (!item.isObject()) throw ApiException.badRequest("Invalid type for '" + at + "': expected an object.", at);
            // An item id names one item of the conversation: twice in one input is a client error, as at OpenAI
            // (and the stored input items could not tell the two apart).
            if (item.path("id").isTextual() && !ids.add(item.get("id").asText())) {
                throw ApiException.badRequest("Duplicate item found with id " + item.get("id").asText() + ". Remove duplicate items from your input and try again.", at + ".id");
            }
            var type = item.path("type").asText(item.has("role") ? "message" : "");
            out.add(switch (type) {
                case "message" -> message(item, at);
                case "function_call" -> functionCall(item, at);
                case "function_call_output" -> functionCallOutput(item, at);
                case "reasoning" -> reasoning(item, at);
                default -> throw ApiException.badRequest("Invalid value for '" + at + ".type': '" + type
                        + "' is not supported by Sluice. Supported values are: 'message', 'function_call', 'function_call_output' and 'reasoning'.", at + ".type");
            });
        }
        return out;
    }

    private static ObjectNode message(JsonNode item, String at) {
        var role = item.path("role").asText("");
        if (!ROLES.contains(role)) {
            throw ApiException.badRequest("Invalid value for '" + at + ".role': '" + role + "'. Supported values are: 'user', 'assistant', 'system' and 'developer'.", at + ".role");
        }
        var partType = role.equals("assistant") ? "output_text" : "input_text";
        var content = item.get("content");
        var parts = Json.NODES.arrayNode();
        if (content != null && content.isTextual()) {
            parts = textParts(content.asText(), partType);
        } else if (content != null && content.isArray()) {
            int j = 0;
            for (var part : content) {
                var p = at + ".content[" + j++ + "]";
                var type = part.path("type").asText("");
                if (!Set.of("input_text", "output_text", "refusal").contains(type)) {
                    throw ApiException.badRequest("Invalid value for '" + p + ".type': '" + type
                            + "' is not supported by Sluice. Supported values are: 'input_text', 'output_text' and 'refusal'.", p + ".type");
                }
                var field = type.equals("refusal") ? "refusal" : "text";
                if (!part.path(field).isTextual()) throw ApiException.badRequest("Missing required parameter: '" + p + "." + field + "'.", p + "." + field);
                if (type.equals("refusal")) {
                    parts.addObject().put("type", "refusal").put("refusal", part.get("refusal").asText());
                } else {
                    parts.add(textParts(part.get("text").asText(), partType).get(0));
                }
            }
        } else {
            throw ApiException.badRequest("Invalid type for '" + at + ".content': expected a string or an array of content parts.", at + ".content");
        }
        var id = item.path("id").isTextual() ? item.get("id").asText() : Ids.next("msg_");
        return message(id, role, parts);
    }

    private static ObjectNode message(String id, String role, com.fasterxml.jackson.databind.node.ArrayNode parts) {
        var m = Json.object();
        m.put("id", id);
        m.put("type", "message");
        m.put("role", role);
        m.set("content", parts);
        m.put("status", "completed");
        return m;
    }

    private static com.fasterxml.jackson.databind.node.ArrayNode textParts(String text, String type) {
        var parts = Json.NODES.arrayNode();
        var p = parts.addObject();
        p.put("type", type);
        p.put("text", text);
        if (type.equals("output_text")) {
            p.putArray("annotations");
            p.putArray("logprobs");
        }
        return parts;
    }

    private static ObjectNode functionCall(JsonNode item, String at) {
        var c = Json.object();
        c.put("id", item.path("id").isTextual() ? item.get("id").asText() : Ids.next("fc_"));
        c.put("type", "function_call");
        c.put("call_id", requiredText(item, "call_id", at));
        c.put("name", requiredText(item, "name", at));
        c.put("arguments", requiredText(item, "arguments", at));
        c.put("status", "completed");
        return c;
    }

    private static ObjectNode functionCallOutput(JsonNode item, String at) {
        var o = Json.object();
        o.put("id", item.path("id").isTextual() ? item.get("id").asText() : Ids.next("fco_"));
        o.put("type", "function_call_output");
        o.put("call_id", requiredText(item, "call_id", at));
        var output = item.get("output");
        if (output == null || output.isNull()) throw ApiException.badRequest("Missing required parameter: '" + at + ".output'.", at + ".output");
        if (output.isTextual()) {
            o.put("output", output.asText());
        } else if (output.isArray()) {
            var text = new StringBuilder();
            for (var part : output) {
                if (!part.path("type").asText().equals("input_text")) {
                    throw ApiException.badRequest("Invalid value for '" + at + ".output': only text output ('input_text' parts) is supported by Sluice.", at + ".output");
                }
                text.append(part.path("text").asText());
            }
            o.put("output", text.toString());
        } else {
            throw ApiException.badRequest("Invalid type for '" + at + ".output': expected a string.", at + ".output");
        }
        o.put("status", "completed");
        return o;
    }

    private static ObjectNode reasoning(JsonNode item, String at) {
        var r = Json.object();
        r.put("id", requiredText(item, "id", at));
        r.put("type", "reasoning");
        var summary = item.get("summary");
        if (summary != null && !summary.isNull() && !summary.isArray()) {
            throw ApiException.badRequest("Invalid type for '" + at + ".summary': expected an array of summary parts.", at + ".summary");
        }
        r.set("summary", summary != null && summary.isArray() ? summary.deepCopy() : Json.NODES.arrayNode());
        return r;
    }

    private static String requiredText(JsonNode item, String field, String at) {
        var node = item.get(field);
        if (node == null || node.isNull()) throw ApiException.badRequest("Missing required parameter: '" + at + "." + field + "'.", at + "." + field);
        if (!node.isTextual()) throw ApiException.badRequest("Invalid type for '" + at + "." + field + "': expected a string.", at + "." + field);
        return node.asText();
    }
}
