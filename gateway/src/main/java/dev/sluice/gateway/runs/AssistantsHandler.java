package dev.sluice.gateway.runs;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.gateway.http.Exchange;
import dev.sluice.gateway.routing.Router;
import dev.sluice.gateway.store.Kind;
import dev.sluice.gateway.store.ObjectRepository;
import dev.sluice.gateway.store.SortKeys;
import dev.sluice.gateway.store.StoredObject;
import dev.sluice.wire.json.Json;
import java.util.Map;

/** {@code /v1/assistants}: create, list, retrieve, modify, delete. */
final class AssistantsHandler {

    /** OpenAI's limits on these fields, in characters. */
    private static final Map<String, Integer> MAX_LENGTHS = Map.of("name", 256, "description", 512, "instructions", 256_000);

    private final ObjectRepository assistants;
    private final Router router;

    AssistantsHandler(ObjectRepository assistants, Router router) {
        this.assistants = assistants;
        this.router = router;
    }

    void create(Exchange ex) {
        var req = Requests.body(ex);
        var a = Json.object();
        a.put("id", Ids.next("asst_"));
        a.put("object", "assistant");
        a.put("created_at", Ids.nowSeconds());
        a.set("name", Json.NODES.nullNode());
        a.set("description", Json.NODES.nullNode());
        a.put("model", model(req, true));
        a.set("instructions", Json.NODES.nullNode());
        a.putArray("tools");
        a.putObject("metadata");
        a.putObject("tool_resources");
        a.put("temperature", 1.0);
        a.put("top_p", 1.0);
        a.put("response_format", "auto");
        apply(a, req);
        assistants.insert(new StoredObject(a.get("id").asText(), null, null, SortKeys.next(), null, a, Json.object()));
        ex.sendJson(200, a, Map.of());
    }

    void list(Exchange ex) {
        ex.sendJson(200, Lists.response(assistants.list(null, null, Lists.request(ex)), StoredObject::body), Map.of());
    }

    void get(Exchange ex, String id) {
        ex.sendJson(200, find(id).body(), Map.of());
    }

    void modify(Exchange ex, String id) {
        var req = Requests.body(ex);
        var stored = find(id);
        var a = stored.body().deepCopy();
        if (req.has("model")) a.put("model", model(req, true));
        apply(a, req);
        assistants.update(stored.withBody(a));
        ex.sendJson(200, a, Map.of());
    }

    void delete(Exchange ex, String id) {
        find(id);
        assistants.delete(id);
        var out = Json.object();
        out.put("id", id);
        out.put("object", "assistant.deleted");
        out.put("deleted", true);
        ex.sendJson(200, out, Map.of());
    }

    StoredObject find(String id) {
        return assistants.get(id).orElseThrow(() -> ApiException.notFound("assistant", id));
    }

    private String model(ObjectNode req, boolean required) {
        var model = Requests.requiredString(req, "model");
        if (router.route(model).isEmpty()) {
            throw new ApiException(dev.sluice.gateway.http.ApiError.notFound("The model `" + model + "` does not exist or you do not have access to it.", "model", "model_not_found"));
        }
        return model;
    }

    private static void apply(ObjectNode a, ObjectNode req) {
        for (var field : new String[] {"name", "description", "instructions"}) {
            if (req.has(field)) a.set(field, Requests.nullableString(req, field, MAX_LENGTHS.get(field)));
        }
        var tools = Requests.tools(req, "tools");
        if (tools != null) a.set("tools", tools);
        if (req.has("metadata")) a.set("metadata", Requests.metadata(req, "metadata"));
        var toolResources = Requests.optionalObject(req, "tool_resources", "tool_resources");
        if (toolResources != null) a.set("tool_resources", toolResources);
        if (req.has("temperature")) a.set("temperature", Requests.number(req, "temperature", 0, 2));
        if (req.has("top_p")) a.set("top_p", Requests.number(req, "top_p", 0, 1));
        if (req.has("response_format")) a.set("response_format", Requests.responseFormat(req));
    }

    static Kind kind() {
        return Kind.ASSISTANT;
    }
}
