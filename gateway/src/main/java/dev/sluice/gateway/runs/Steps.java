package dev.sluice.gateway.runs;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.gateway.store.SortKeys;
import dev.sluice.gateway.store.StoredObject;
import dev.sluice.wire.json.Json;

/** {@code thread.run.step} objects and their deltas. */
final class Steps {

    private Steps() {}

    static ObjectNode create(ObjectNode run, String type) {
        var s = Json.object();
        s.put("id", Ids.next("step_"));
        s.put("object", "thread.run.step");
        s.put("created_at", Ids.nowSeconds());
        s.put("run_id", run.get("id").asText());
        s.put("assistant_id", run.get("assistant_id").asText());
        s.put("thread_id", run.get("thread_id").asText());
        s.put("type", type);
        s.put("status", "in_progress");
        s.putNull("cancelled_at");
        s.putNull("completed_at");
        s.set("expired_at", Json.NODES.nullNode());
        s.putNull("failed_at");
        s.putNull("last_error");
        var details = s.putObject("step_details");
        details.put("type", type);
        if (type.equals("tool_calls")) details.putArray("tool_calls");
        s.putObject("metadata");
        s.putNull("usage");
        return s;
    }

    static StoredObject stored(ObjectNode step) {
        return new StoredObject(step.get("id").asText(), step.get("run_id").asText(), step.get("thread_id").asText(), SortKeys.next(),
                step.get("status").asText(), step, Json.object());
    }

    static ObjectNode delta(String stepId, ObjectNode toolCallDelta) {
        var d = Json.object();
        d.put("id", stepId);
        d.put("object", "thread.run.step.delta");
        var details = d.putObject("delta").putObject("step_details");
        details.put("type", "tool_calls");
        details.putArray("tool_calls").add(toolCallDelta);
        return d;
    }
}
