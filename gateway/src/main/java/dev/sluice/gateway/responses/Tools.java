package dev.sluice.gateway.responses;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.sluice.gateway.chat.ChatRequestValidator;
import dev.sluice.gateway.runs.ApiException;
import dev.sluice.wire.json.Json;
import java.util.Set;

/** Responses function tools and {@code tool_choice}, validated and in the shape the response object echoes. */
final class Tools {

    private Tools() {}

    static ArrayNode normalize(JsonNode tools) {
        var out = Json.NODES.arrayNode();
        if (tools == null || tools.isNull()) return out;
        if (!tools.isArray()) throw ApiException.badRequest("Invalid type for 'tools': expected an array.", "tools");
        int i = 0;
        for (var tool : tools) {
            var at = "tools[" + i++ + "]";
            var type = tool.path("type").asText("");
            if (!type.equals("function")) {
                // Built-in tools (web search, file search, computer use...) run inside OpenAI; no provider can run them here.
                throw ApiException.badRequest("Invalid value for '" + at + ".type': '" + type + "' is not supported by Sluice. Supported values are: 'function'.", at + ".type");
            }
            if (!tool.path("name").isTextual() || tool.get("name").asText().isBlank()) {
                throw ApiException.badRequest("Missing required parameter: '" + at + ".name'.", at + ".name");
            }
            // Checked here, as chat completions check it: an upstream would refuse it naming its own 'tools[i].function.name'.
            if (!ChatRequestValidator.NAME.matcher(tool.get("name").asText()).matches()) {
                throw ApiException.badRequest(ChatRequestValidator.nameMismatch(at + ".name"), at + ".name");
            }
            var parameters = tool.get("parameters");
            if (parameters != null && !parameters.isNull() && !parameters.isObject()) {
                throw ApiException.badRequest("Invalid type for '" + at + ".parameters': expected an object (a JSON schema).", at + ".parameters");
            }
            for (var field : new String[] {"description", "strict"}) {
                var value = tool.get(field);
                boolean ok = value == null || value.isNull() || (field.equals("strict") ? value.isBoolean() : value.isTextual());
                if (!ok) throw ApiException.badRequest("Invalid type for '" + at + "." + field + "': expected a " + (field.equals("strict") ? "boolean" : "string") + ".", at + "." + field);
            }
            var t = out.addObject();
            t.put("type", "function");
            t.put("name", tool.get("name").asText());
            t.set("description", tool.path("description").isTextual() ? tool.get("description") : Json.NODES.nullNode());
            t.set("parameters", parameters == null ? Json.NODES.nullNode() : parameters.deepCopy());
            // Responses functions are strict unless the request says otherwise.
            t.put("strict", tool.path("strict").asBoolean(true));
        }
        return out;
    }

    static Set<String> names(ArrayNode tools) {
        var names = new java.util.HashSet<String>();
        for (var t : tools) names.add(t.get("name").asText());
        return names;
    }

    static JsonNode toolChoice(JsonNode node) {
        if (node == null || node.isNull()) return Json.NODES.textNode("auto");
        if (node.isTextual() && Set.of("auto", "none", "required").contains(node.asText())) return node;
        if (node.isObject() && node.path("type").asText().equals("function") && node.path("name").isTextual()) {
            var c = Json.object();
            c.put("type", "function");
            c.put("name", node.get("name").asText());
            return c;
        }
        throw ApiException.badRequest("Invalid value for 'tool_choice': expected 'none', 'auto', 'required' or {\"type\": \"function\", \"name\": ...}.", "tool_choice");
    }

    /** The tools as chat completions function tools; {@code strict} only when the client set it, as chat defaults differ. */
    static ArrayNode toChat(ArrayNode tools, JsonNode original) {
        var out = Json.NODES.arrayNode();
        int i = 0;
        for (var t : tools) {
            var c = out.addObject();
            c.put("type", "function");
            var f = c.putObject("function");
            f.put("name", t.get("name").asText());
            if (t.get("description").isTextual()) f.set("description", t.get("description"));
            if (t.get("parameters").isObject()) f.set("parameters", t.get("parameters"));
            var given = original == null ? null : original.path(i).get("strict");
            if (given != null && given.isBoolean()) f.set("strict", given);
            i++;
        }
        return out;
    }

    static JsonNode choiceToChat(JsonNode choice) {
        if (choice.isTextual()) return choice;
        var c = Json.object();
        c.put("type", "function");
        c.putObject("function").put("name", choice.get("name").asText());
        return c;
    }
}
