package dev.sluice.gateway.responses;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.gateway.chat.ChatRequestValidator;
import dev.sluice.gateway.runs.ApiException;
import dev.sluice.wire.json.Json;
import java.util.Set;

/** {@code text.format} ({@code text}, {@code json_object}, {@code json_schema}) and its chat {@code response_format}. */
final class TextFormat {

    private TextFormat() {}

    static ObjectNode normalize(JsonNode text) {
        var out = Json.object();
        if (text == null || text.isNull()) {
            out.putObject("format").put("type", "text");
            return out;
        }
        if (!text.isObject()) throw ApiException.badRequest("Invalid type for 'text': expected an object.", "text");
        var format = text.get("format");
        var type = format == null || format.isNull() ? "text" : format.path("type").asText(""); // verbosity alone keeps text
        switch (type) {
            case "text", "json_object" -> out.putObject("format").put("type", type);
            case "json_schema" -> {
                var name = format.get("name");
                if (name == null || name.isNull()) throw ApiException.badRequest("Missing required parameter: 'text.format.name'.", "text.format.name");
                if (!name.isTextual() || !ChatRequestValidator.NAME.matcher(name.asText()).matches()) {
                    throw ApiException.badRequest("Invalid 'text.format.name': must be 1 to 64 characters of a-z, A-Z, 0-9, '_' or '-'.", "text.format.name");
                }
                var schema = format.get("schema");
                if (schema == null || schema.isNull()) throw ApiException.badRequest("Missing required parameter: 'text.format.schema'.", "text.format.schema");
                if (!schema.isObject()) throw ApiException.badRequest("Invalid type for 'text.format.schema': expected an object (a JSON schema).", "text.format.schema");
                var schemaType = schema.get("type");
                if (schemaType != null && !schemaType.isTextual() && !schemaType.isArray()) {
                    throw ApiException.badRequest("Invalid schema for response_format '" + name.asText() + "': 'type' must be a string or an array.", "text.format.schema");
                }
                var strict = format.get("strict");
                if (strict != null && !strict.isNull() && !strict.isBoolean()) {
                    throw ApiException.badRequest("Invalid type for 'text.format.strict': expected a boolean.", "text.format.strict");
                }
                var description = format.get("description");
                if (description != null && !description.isNull() && !description.isTextual()) {
                    throw ApiException.badRequest("Invalid type for 'text.format.description': expected a string.", "text.format.description");
                }
                var f = out.putObject("format");
                f.put("type", "json_schema");
                f.put("name", name.asText());
                f.set("schema", schema.deepCopy());
                if (format.path("description").isTextual()) f.set("description", format.get("description"));
                f.put("strict", format.path("strict").asBoolean(false));
            }
            default -> throw ApiException.badRequest("Invalid value for 'text.format.type': '" + type + "'. Supported values are: 'text', 'json_object' and 'json_schema'.", "text.format.type");
        }
        var verbosity = text.get("verbosity");
        if (verbosity != null && !verbosity.isNull()) {
            if (!verbosity.isTextual() || !Set.of("low", "medium", "high").contains(verbosity.asText())) {
                throw ApiException.badRequest("Invalid value for 'text.verbosity': expected 'low', 'medium' or 'high'.", "text.verbosity");
            }
            out.set("verbosity", verbosity);
        }
        return out;
    }

    /** The chat {@code response_format}, or null for plain text. */
    static ObjectNode toChat(ObjectNode text) {
        var format = text.get("format");
        var type = format.get("type").asText();
        if (type.equals("text")) return null;
        var out = Json.object();
        out.put("type", type);
        if (type.equals("json_schema")) {
            var s = out.putObject("json_schema");
            s.set("name", format.get("name"));
            if (format.has("description")) s.set("description", format.get("description"));
            s.set("schema", format.get("schema"));
            s.set("strict", format.get("strict"));
        }
        return out;
    }
}
