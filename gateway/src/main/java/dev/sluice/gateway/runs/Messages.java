package dev.sluice.gateway.runs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.gateway.store.SortKeys;
import dev.sluice.gateway.store.StoredObject;
import dev.sluice.wire.json.Json;

/** {@code thread.message} objects: building them from requests and reading their text back for prompts. */
final class Messages {

    private Messages() {}

    /**
     * A user or assistant message from a create-message request (also used for thread.messages and
     * additional_messages). {@code param} is where the message sits in the request: empty when it is the
     * whole body, so its fields are named {@code role}, not {@code .role}.
     */
    static StoredObject fromRequest(String threadId, JsonNode request, String param) {
        if (!request.isObject()) throw ApiException.badRequest("Invalid type for '" + param + "': expected an object.", param);
        var r = (ObjectNode) request;
        var roleParam = field(param, "role");
        var roleNode = r.get("role");
        if (roleNode == null || roleNode.isNull()) throw ApiException.badRequest("Missing required parameter: '" + roleParam + "'.", roleParam);
        var role = roleNode.asText();
        if (!roleNode.isTextual() || !role.equals("user") && !role.equals("assistant")) {
            throw ApiException.badRequest("Invalid value for '" + roleParam + "': '" + role + "'. Supported values are: 'user' and 'assistant'.", roleParam);
        }
        var content = content(r.get("content"), field(param, "content"));
        var m = create(Ids.next("msg_"), threadId, role, null, null, "completed");
        m.set("content", content);
        var attachments = r.get("attachments");
        if (attachments != null && !attachments.isNull() && !attachments.isArray()) {
            throw ApiException.badRequest("Invalid type for '" + field(param, "attachments") + "': expected an array.", field(param, "attachments"));
        }
        m.set("attachments", attachments != null && attachments.isArray() ? attachments.deepCopy() : Json.NODES.arrayNode());
        m.set("metadata", Requests.metadata(r, "metadata"));
        m.put("completed_at", m.get("created_at").asLong());
        return stored(m);
    }

    /** {@code prefix.name}, or just {@code name} when the object is the request body itself. */
    private static String field(String prefix, String name) {
        return prefix.isEmpty() ? name : prefix + "." + name;
    }

    static ObjectNode create(String id, String threadId, String role, String assistantId, String runId, String status) {
        var m = Json.object();
        m.put("id", id);
        m.put("object", "thread.message");
        m.put("created_at", Ids.nowSeconds());
        m.put("assistant_id", assistantId);
        m.put("thread_id", threadId);
        m.put("run_id", runId);
        m.put("status", status);
        m.putNull("incomplete_details");
        m.putNull("incomplete_at");
        m.putNull("completed_at");
        m.put("role", role);
        m.putArray("content");
        m.putArray("attachments");
        m.putObject("metadata");
        return m;
    }

    static StoredObject stored(ObjectNode m) {
        var runId = m.path("run_id").isTextual() ? m.get("run_id").asText() : null;
        return new StoredObject(m.get("id").asText(), m.get("thread_id").asText(), runId, SortKeys.next(), m.get("status").asText(), m, Json.object());
    }

    /** Content parts from a string or an array of parts, as OpenAI stores them. */
    static ArrayNode content(JsonNode node, String param) {
        var out = Json.NODES.arrayNode();
        if (node == null || node.isNull()) throw ApiException.badRequest("Missing required parameter: '" + param + "'.", param);
        if (node.isTextual()) {
            out.add(textPart(node.asText()));
            return out;
        }
        if (!node.isArray() || node.isEmpty()) throw ApiException.badRequest("Invalid '" + param + "': expected a string or a non-empty array of content parts.", param);
        int i = 0;
        for (var part : node) {
            var type = part.path("type").asText("");
            switch (type) {
                case "text" -> {
                    if (!part.path("text").isTextual()) throw ApiException.badRequest("Missing required parameter: '" + param + "[" + i + "].text'.", param + "[" + i + "].text");
                    out.add(textPart(part.get("text").asText()));
                }
                case "image_url", "image_file" -> {
                    // image_url.url / image_file.file_id, as OpenAI requires them.
                    var key = type.equals("image_url") ? "url" : "file_id";
                    if (!part.path(type).path(key).isTextual()) {
                        var missing = param + "[" + i + "]." + type + "." + key;
                        throw ApiException.badRequest("Missing required parameter: '" + missing + "'.", missing);
                    }
                    out.add(part.deepCopy());
                }
                default -> throw ApiException.badRequest("Invalid value for '" + param + "[" + i + "].type': '" + type + "'. Supported values are: 'text', 'image_url' and 'image_file'.", param + "[" + i + "].type");
            }
            i++;
        }
        return out;
    }

    static ObjectNode textPart(String value) {
        var part = Json.object();
        part.put("type", "text");
        var text = part.putObject("text");
        text.put("value", value);
        text.putArray("annotations");
        return part;
    }

    /** The text of a message's content parts, joined. */
    static String text(JsonNode message) {
        var out = new StringBuilder();
        for (var part : message.path("content")) {
            if (part.path("type").asText().equals("text")) out.append(part.path("text").path("value").asText());
        }
        return out.toString();
    }
}
