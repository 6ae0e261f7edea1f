package dev.sluice.gateway.runs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.gateway.http.Exchange;
import dev.sluice.gateway.store.Kind;
import dev.sluice.gateway.store.SortKeys;
import dev.sluice.gateway.store.Store;
import dev.sluice.gateway.store.StoredObject;
import dev.sluice.wire.json.Json;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** {@code /v1/threads}: create (with initial messages), retrieve, modify, delete (with everything in it). */
final class ThreadsHandler {

    private final Store store;
    private final RunEngine engine;

    ThreadsHandler(Store store, RunEngine engine) {
        this.store = store;
        this.engine = engine;
    }

    void create(Exchange ex) {
        var thread = prepare(Requests.body(ex), "");
        insert(thread);
        ex.sendJson(200, thread.thread().body(), Map.of());
    }

    /** A thread and its initial messages, validated and built but not stored yet. */
    record NewThread(StoredObject thread, List<StoredObject> messages) {
        String id() {
            return thread.id();
        }
    }

    /**
     * Builds a thread and its initial messages from a create-thread body ({@code param} prefixes error names),
     * storing nothing: create-and-run validates its run too before {@link #insert} keeps either.
     */
    NewThread prepare(ObjectNode req, String param) {
        var t = Json.object();
        var id = Ids.next("thread_");
        t.put("id", id);
        t.put("object", "thread");
        t.put("created_at", Ids.nowSeconds());
        var toolResources = Requests.optionalObject(req, "tool_resources", param + "tool_resources");
        t.set("tool_resources", toolResources != null ? toolResources : Json.object());
        t.set("metadata", Requests.metadata(req, "metadata"));
        var messages = new ArrayList<StoredObject>();
        var list = req.get("messages");
        if (list != null && !list.isNull()) {
            if (!list.isArray()) throw ApiException.badRequest("Invalid type for '" + param + "messages': expected an array.", param + "messages");
            int i = 0;
            for (JsonNode m : list) messages.add(Messages.fromRequest(id, m, param + "messages[" + i++ + "]"));
        }
        return new NewThread(new StoredObject(id, null, null, SortKeys.next(), null, t, Json.object()), messages);
    }

    void insert(NewThread thread) {
        store.objects(Kind.THREAD).insert(thread.thread());
        for (var m : thread.messages()) store.objects(Kind.MESSAGE).insert(m);
    }

    void get(Exchange ex, String id) {
        ex.sendJson(200, find(id).body(), Map.of());
    }

    void modify(Exchange ex, String id) {
        var req = Requests.body(ex);
        var stored = find(id);
        var t = stored.body().deepCopy();
        if (req.has("metadata")) t.set("metadata", Requests.metadata(req, "metadata"));
        var toolResources = Requests.optionalObject(req, "tool_resources", "tool_resources");
        if (toolResources != null) t.set("tool_resources", toolResources);
        store.objects(Kind.THREAD).update(stored.withBody(t));
        ex.sendJson(200, t, Map.of());
    }

    void delete(Exchange ex, String id) {
        engine.locked(id, () -> {
            find(id);
            for (var run : store.objects(Kind.RUN).all(id)) {
                if (Runs.ACTIVE.contains(run.status())) {
                    throw ApiException.badRequest("Thread " + id + " has an active run (" + run.id() + "); cancel it before deleting the thread.", null);
                }
            }
            for (var run : store.objects(Kind.RUN).all(id)) {
                store.objects(Kind.STEP).deleteByParent(run.id());
                engine.log().forget(run.id());
            }
            store.objects(Kind.RUN).deleteByParent(id);
            store.objects(Kind.MESSAGE).deleteByParent(id);
            store.objects(Kind.THREAD).delete(id);
            return null;
        });
        var out = Json.object();
        out.put("id", id);
        out.put("object", "thread.deleted");
        out.put("deleted", true);
        ex.sendJson(200, out, Map.of());
    }

    StoredObject find(String id) {
        return store.objects(Kind.THREAD).get(id).orElseThrow(() -> ApiException.notFound("thread", id));
    }
}
