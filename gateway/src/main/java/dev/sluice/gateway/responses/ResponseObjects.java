package dev.sluice.gateway.responses;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.gateway.runs.Ids;
import dev.sluice.wire.json.Json;
import java.util.Set;

/** The {@code response} object in OpenAI's field order, and the event names that end a response's stream. */
final class ResponseObjects {

    static final Set<String> TERMINAL_STATUSES = Set.of("completed", "failed", "incomplete", "cancelled");
    static final Set<String> TERMINAL_EVENTS = Set.of("response.completed", "response.failed", "response.incomplete", "error");

    private ResponseObjects() {}

    static boolean terminalEvent(String event) {
        return TERMINAL_EVENTS.contains(event);
    }

    static ObjectNode create(String id, ResponseRequest req, String status) {
        var r = Json.object();
        r.put("id", id);
        r.put("object", "response");
        r.put("created_at", Ids.nowSeconds());
        r.put("status", status);
        r.put("background", req.background());
        r.putNull("completed_at");
        r.putNull("error");
        r.putNull("incomplete_details");
        r.set("instructions", req.instructions());
        r.set("max_output_tokens", req.maxOutputTokens());
        r.set("max_tool_calls", req.maxToolCalls());
        r.put("model", req.model());
        r.putArray("output");
        r.put("parallel_tool_calls", req.parallelToolCalls());
        r.put("previous_response_id", req.previousResponseId());
        r.set("reasoning", req.reasoning());
        r.put("service_tier", "default");
        r.put("store", req.store());
        r.set("temperature", req.temperature().isNull() ? Json.NODES.numberNode(1.0) : req.temperature());
        r.set("text", req.text());
        r.set("tool_choice", req.toolChoice());
        r.set("tools", req.tools());
        r.set("top_logprobs", req.topLogprobs());
        r.set("top_p", req.topP().isNull() ? Json.NODES.numberNode(1.0) : req.topP());
        r.put("truncation", req.truncation());
        // The spec types usage and user as objects and strings (not nullable): absent until known.
        if (req.user().isTextual()) r.set("user", req.user());
        r.set("metadata", req.metadata());
        return r;
    }

    static ObjectNode event(ObjectNode response) {
        var e = Json.object();
        e.set("response", response.deepCopy());
        return e;
    }
}
