package dev.sluice.gateway.runs;

import dev.sluice.gateway.http.Exchange;
import dev.sluice.gateway.store.Kind;
import dev.sluice.gateway.store.Store;
import dev.sluice.gateway.store.StoredObject;
import dev.sluice.wire.json.Json;
import java.util.Map;

/** {@code /v1/threads/{thread_id}/messages}: create, list (optionally by run), retrieve, modify, delete. */
final class MessagesHandler {

    private final Store store;
    private final RunEngine engine;
    private final ThreadsHandler threads;

    MessagesHandler(Store store, RunEngine engine, ThreadsHandler threads) {
        this.store = store;
        this.engine = engine;
        this.threads = threads;
    }

    void create(Exchange ex, String threadId) {
        var req = Requests.body(ex);
        var message = engine.locked(threadId, () -> {
            threads.find(threadId);
            requireIdle(threadId);
            var m = Messages.fromRequest(threadId, req, "");
            store.objects(Kind.MESSAGE).insert(m);
            return m;
        });
        ex.sendJson(200, message.body(), Map.of());
    }

    /** A thread with a run in progress takes no new messages and no new run (400), as in OpenAI's API. */
    void requireIdle(String threadId) {
        for (var run : store.objects(Kind.RUN).withStatus(Runs.ACTIVE)) {
            if (run.parentId().equals(threadId)) {
                throw ApiException.badRequest("Can't add messages to " + threadId + " while a run " + run.id() + " is active.", null);
            }
        }
    }

    void list(Exchange ex, String threadId) {
        threads.find(threadId);
        var page = store.objects(Kind.MESSAGE).list(threadId, ex.query("run_id"), Lists.request(ex));
        ex.sendJson(200, Lists.response(page, StoredObject::body), Map.of());
    }

    void get(Exchange ex, String threadId, String id) {
        ex.sendJson(200, find(threadId, id).body(), Map.of());
    }

    void modify(Exchange ex, String threadId, String id) {
        var req = Requests.body(ex);
        var stored = find(threadId, id);
        var m = stored.body().deepCopy();
        if (req.has("metadata")) m.set("metadata", Requests.metadata(req, "metadata"));
        store.objects(Kind.MESSAGE).update(stored.withBody(m));
        ex.sendJson(200, m, Map.of());
    }

    void delete(Exchange ex, String threadId, String id) {
        find(threadId, id);
        store.objects(Kind.MESSAGE).delete(id);
        var out = Json.object();
        out.put("id", id);
        out.put("object", "thread.message.deleted");
        out.put("deleted", true);
        ex.sendJson(200, out, Map.of());
    }

    private StoredObject find(String threadId, String id) {
        threads.find(threadId);
        var m = store.objects(Kind.MESSAGE).get(id).orElseThrow(() -> ApiException.notFound("message", id));
        if (!m.parentId().equals(threadId)) throw ApiException.notFound("message", id);
        return m;
    }
}
