package dev.sluice.gateway.responses;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.gateway.chat.UpstreamErrors;
import dev.sluice.gateway.config.GatewayConfig;
import dev.sluice.gateway.http.ApiError;
import dev.sluice.gateway.http.Exchange;
import dev.sluice.gateway.resilience.ResilientStream;
import dev.sluice.gateway.resilience.RouteOpener;
import dev.sluice.gateway.resilience.UpstreamFailure;
import dev.sluice.gateway.routing.Router;
import dev.sluice.gateway.runs.ApiException;
import dev.sluice.gateway.runs.Ids;
import dev.sluice.gateway.runs.RunEventLog;
import dev.sluice.gateway.store.Kind;
import dev.sluice.gateway.store.ObjectRepository;
import dev.sluice.gateway.store.PageRequest;
import dev.sluice.gateway.store.SortKeys;
import dev.sluice.gateway.store.Store;
import dev.sluice.gateway.store.StoreException;
import dev.sluice.gateway.store.StoredObject;
import dev.sluice.gateway.usage.UsageRecord;
import dev.sluice.gateway.usage.UsageSink;
import dev.sluice.wire.json.Json;
import dev.sluice.wire.sse.SseWriter;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The Responses API: {@code POST /responses} (streamed or not, in the foreground or the background),
 * {@code GET}/{@code DELETE /responses/{id}}, {@code POST /responses/{id}/cancel} and
 * {@code GET /responses/{id}/input_items}. Stored responses live in the same store as threads and runs, and
 * their events in the same event log, so {@code GET /responses/{id}?stream=true&starting_after=N} replays
 * and follows a response exactly as a run's events are.
 */
public final class ResponsesApi implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(ResponsesApi.class.getName());
    private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(500);

    private final Router router;
    private final GatewayConfig.Limits limits;
    private final ObjectRepository responses;
    private final ObjectRepository items;
    private final RunEventLog log;
    private final RunEventLog transientLog = new RunEventLog(new MemoryEventRepository(), ResponseObjects::terminalEvent);
    private final Map<String, ResponseExecution> executing = new ConcurrentHashMap<>();
    private final UsageSink usage;

    public ResponsesApi(Store store, Router router, GatewayConfig.Limits limits, UsageSink usage) {
        this.router = router;
        this.usage = usage;
        this.limits = limits;
        this.responses = store.objects(Kind.RESPONSE);
        this.items = store.objects(Kind.RESPONSE_ITEM);
        this.log = new RunEventLog(store.runEvents(), ResponseObjects::terminalEvent);
        int settled = recover();
        if (settled > 0) LOG.log(System.Logger.Level.WARNING, settled + " response(s) left in flight by the previous process ended as failed");
    }

    public static boolean handles(String route) {
        return route.equals("/responses") || route.startsWith("/responses/");
    }

    public void handle(Exchange ex, String route) throws InterruptedException {
        try {
            var p = route.substring(1).split("/", -1);
            var method = ex.method();
            boolean get = method.equals("GET") || method.equals("HEAD"); // HEAD is answered as GET, the codec drops the body
            int n = p.length;
            if (n == 1 && method.equals("POST")) create(ex);
            else if (n == 2 && get) get(ex, p[1]);
            else if (n == 2 && method.equals("DELETE")) delete(ex, p[1]);
            else if (n == 3 && p[2].equals("cancel") && method.equals("POST")) cancel(ex, p[1]);
            else if (n == 3 && p[2].equals("input_items") && get) inputItems(ex, p[1]);
            else if (n <= 2 || (n == 3 && Set.of("cancel", "input_items").contains(p[2]))) {
                String[] allowed = n == 1 ? new String[] {"POST"} : n == 2 ? new String[] {"GET", "DELETE"}
                        : p[2].equals("cancel") ? new String[] {"POST"} : new String[] {"GET"};
                ex.sendError(ApiError.methodNotAllowed(method, ex.path(), allowed));
            } else {
                ex.sendError(ApiError.notFound("Invalid URL (" + method + " " + ex.path() + ")", null, null));
            }
        } catch (ApiException e) {
            ex.sendError(e.error());
        } catch (StoreException e) {
            LOG.log(System.Logger.Level.ERROR, "storage failed on " + ex.method() + " " + ex.path(), e);
            ex.sendError(ApiError.server(500, "The gateway's storage failed: " + e.getMessage(), "storage_error"));
        }
    }

    // ------------------------------------------------------------------ create

    private void create(Exchange ex) throws InterruptedException {
        var raw = ex.body() == null || ex.body().length == 0 ? null : safeParse(ex.body());
        var req = ResponseRequest.parse(ex);
        var context = new ArrayList<ObjectNode>();
        if (req.previousResponseId() != null) context.addAll(history(req.previousResponseId()));
        context.addAll(req.input());
        var chatBody = ChatBody.build(req, context, raw == null ? null : raw.get("tools"));
        var route = router.route(req.model()).orElseThrow(() -> new ApiException(ApiError.notFound(
                "The model `" + req.model() + "` does not exist or you do not have access to it.", "model", "model_not_found")));
        var id = Ids.next("resp_");
        var body = ResponseObjects.create(id, req, req.background() ? "queued" : "in_progress");
        var response = new StoredObject(id, null, req.previousResponseId(), SortKeys.next(), body.get("status").asText(), body, Json.object());
        var repo = req.store() ? responses : null;
        var eventLog = req.store() ? log : transientLog;

        if (req.background()) {
            save(response, req.input());
            var execution = new ResponseExecution(eventLog, repo, response, route, chatBody, ex.header("Authorization"), usage, ex.requestId());
            executing.put(id, execution);
            execution.begin();
            Thread.ofVirtual().name("sluice-response-" + id).start(() -> {
                try {
                    execution.run(null);
                } finally {
                    executing.remove(id, execution);
                }
            });
            if (req.stream()) follow(ex, id, 0);
            else ex.sendJson(200, body, Map.of());
            return;
        }

        // In the foreground the upstream is opened first, so that a refusal is this request's HTTP error.
        // A client that leaves while it is being opened interrupts the opener, and only the opener: once the
        // response is being stored, an interrupt would break the store's I/O (a PostgreSQL socket closes on it).
        var handlerThread = Thread.currentThread();
        var opening = new boolean[] {true};
        ex.onClientGone(() -> {
            synchronized (opening) {
                if (opening[0]) handlerThread.interrupt();
            }
        });
        ResilientStream upstream;
        try {
            upstream = RouteOpener.open(route, chatBody, ex.header("Authorization"));
        } catch (UpstreamFailure f) {
            // A client that leaves interrupts the opener, which can fail the attempt under way rather than throw
            // InterruptedException: that is the client's cancel, not the upstream's refusal.
            boolean gone = !ex.isOpen();
            if (!gone) ex.sendError(UpstreamErrors.toApiError(f.last(), f.deployment()));
            usage.record(new UsageRecord(ex.requestId(), req.model(), f.deployment(), 0, 0, false, f.attempts().size(), gone ? "client_cancelled" : "upstream_refused"));
            return;
        } catch (InterruptedException e) {
            // The client is gone (during a backoff, say); nothing was opened, but the response still leaves its record.
            usage.record(new UsageRecord(ex.requestId(), req.model(), route.targets().getFirst().label(), 0, 0, false, 0, "client_cancelled"));
            return;
        } finally {
            synchronized (opening) {
                opening[0] = false;
            }
        }
        Thread.interrupted();
        if (repo != null) {
            try {
                save(response, req.input());
            } catch (RuntimeException e) {
                upstream.close(); // nothing will read it: release the upstream request rather than leave it generating
                throw e;
            }
        }
        var execution = new ResponseExecution(eventLog, repo, response, route, chatBody, ex.header("Authorization"), usage, ex.requestId());
        executing.put(id, execution);
        var headers = Map.of("x-sluice-deployment", upstream.target().label());
        try {
            if (req.stream()) {
                var sse = ex.startEventStream(headers, limits.keepAlive());
                // A foreground response lives as long as its request: a client that leaves cancels it.
                ex.onClientGone(execution::clientGone);
                execution.tee(e -> {
                    if (!sse.send(SseWriter.event(e.event(), null, e.data()))) execution.clientGone();
                });
                try {
                    execution.begin();
                    execution.run(upstream);
                } finally {
                    sse.end();
                }
            } else {
                ex.onClientGone(execution::clientGone);
                execution.begin();
                execution.run(upstream);
                var result = execution.body();
                if (!ex.isOpen()) return;
                if (result.get("status").asText().equals("failed")) {
                    var error = execution.failureError();
                    ex.sendError(error != null ? error : ApiError.server(502, result.get("error").get("message").asText(), "upstream_error"));
                } else {
                    ex.sendJson(200, result, headers);
                }
            }
        } finally {
            executing.remove(id, execution);
            if (repo == null) transientLog.forget(id);
        }
    }

    private static ObjectNode safeParse(byte[] body) {
        try {
            var node = Json.parseRequest(body);
            return node.isObject() ? (ObjectNode) node : null;
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private void save(StoredObject response, List<ObjectNode> input) {
        responses.insert(response);
        for (var item : input) items.insert(new StoredObject(itemKey(response.id(), item.get("id").asText()), response.id(), null, SortKeys.next(), null, item, Json.object()));
    }

    /**
     * An input item's row key: scoped by its response, since a client that manages its own context sends the
     * same item (with the id it was given) again in every later request, and the rows of each must coexist.
     */
    private static String itemKey(String responseId, String itemId) {
        return responseId + "/" + itemId;
    }

    /** The row an {@code after}/{@code before} item id names; rows stored before keys were scoped use the item's own id. */
    private String itemCursor(String responseId, String itemId) {
        if (itemId == null) return null;
        var scoped = itemKey(responseId, itemId);
        return items.get(scoped).isPresent() ? scoped : itemId;
    }

    /** The conversation up to and including {@code previousId}: each earlier response's input items, then its output. */
    private List<ObjectNode> history(String previousId) {
        var chain = new ArrayList<StoredObject>();
        var first = responses.get(previousId).orElseThrow(() -> new ApiException(ApiError.notFound(
                "Previous response with id '" + previousId + "' not found.", "previous_response_id", null)));
        if (!ResponseObjects.TERMINAL_STATUSES.contains(first.status())) {
            throw ApiException.badRequest("Previous response with id '" + previousId + "' is still " + first.status().replace('_', ' ')
                    + "; wait for it to finish before continuing from it.", "previous_response_id");
        }
        for (StoredObject r = first; r != null; ) {
            chain.add(r);
            if (r.refId() == null) break;
            var earlier = r.refId();
            // A deleted earlier turn takes its part of the conversation with it: answering from what is left would
            // silently drop context the client believes the model sees.
            r = responses.get(earlier).orElseThrow(() -> new ApiException(ApiError.notFound("Previous response with id '" + previousId
                    + "' cannot be continued: an earlier response of its conversation ('" + earlier + "') was deleted.", "previous_response_id", null)));
        }
        Collections.reverse(chain);
        var out = new ArrayList<ObjectNode>();
        for (var r : chain) {
            for (var item : items.all(r.id())) out.add(item.body());
            for (var item : r.body().path("output")) out.add((ObjectNode) item);
        }
        return out;
    }

    // ------------------------------------------------------------------ retrieve, follow, delete, cancel

    private StoredObject find(String id) {
        return responses.get(id).orElseThrow(() -> new ApiException(ApiError.notFound("Response with id '" + id + "' not found.", null, null)));
    }

    private void get(Exchange ex, String id) throws InterruptedException {
        var response = find(id);
        if (!"true".equals(ex.query("stream"))) {
            ex.sendJson(200, response.body(), Map.of());
            return;
        }
        long after = 0;
        var startingAfter = ex.query("starting_after");
        if (startingAfter == null) startingAfter = ex.header("Last-Event-ID");
        if (startingAfter != null) {
            long n;
            try {
                n = Long.parseLong(startingAfter.trim());
            } catch (NumberFormatException e) {
                throw ApiException.badRequest("Invalid 'starting_after': expected an integer sequence number.", "starting_after");
            }
            // -1 asks for every event (sequence numbers start at 0), as the official SDKs' examples resume from scratch.
            if (n < -1) throw ApiException.badRequest("Invalid 'starting_after': expected a sequence number, or -1 for every event.", "starting_after");
            // Sequence numbers start at 0, the log's at 1; the largest long is past any log's end (not an overflow to a negative).
            after = n == Long.MAX_VALUE ? n : n + 1;
        }
        follow(ex, id, after);
    }

    /** Streams a response's events after log position {@code afterSeq}, following it live to its terminal event. */
    private void follow(Exchange ex, String id, long afterSeq) throws InterruptedException {
        var sse = ex.startEventStream(Map.of(), limits.keepAlive());
        try {
            long cursor = afterSeq;
            while (sse.isOpen()) {
                for (var e : log.read(id, cursor, POLL_NANOS)) {
                    if (!sse.send(SseWriter.event(e.event(), null, e.data()))) return;
                    cursor = e.seq();
                    if (ResponseObjects.terminalEvent(e.event())) return;
                }
                // A response whose log already ended before this cursor has nothing more to send. The order of
                // the checks matters: only once nothing executes it (and its end is stored) is the log's last
                // number final. Read first, a slow store could see the number before the terminal event was
                // appended and the status after, and the stream would end one event short.
                boolean finished = !executing.containsKey(id)
                        && ResponseObjects.TERMINAL_STATUSES.contains(responses.get(id).map(StoredObject::status).orElse("completed"));
                if (finished && cursor >= log.lastSeq(id)) return;
            }
        } finally {
            sse.end();
        }
    }

    private void delete(Exchange ex, String id) throws InterruptedException {
        find(id);
        var running = executing.get(id);
        if (running != null) {
            running.cancel();
            running.awaitEnd(10_000);
        }
        items.deleteByParent(id);
        responses.delete(id);
        log.forget(id);
        var out = Json.object();
        out.put("id", id);
        out.put("object", "response");
        out.put("deleted", true);
        ex.sendJson(200, out, Map.of());
    }

    private void cancel(Exchange ex, String id) throws InterruptedException {
        var response = find(id);
        if (!response.body().path("background").asBoolean(false)) {
            throw ApiException.badRequest("Cannot cancel a synchronous response: only responses created with 'background': true can be cancelled.", null);
        }
        var status = response.status();
        if (!status.equals("cancelled") && ResponseObjects.TERMINAL_STATUSES.contains(status)) {
            throw ApiException.badRequest("Cannot cancel a response with status '" + status + "'.", null);
        }
        var running = executing.get(id);
        if (running != null) {
            running.cancel();
            running.awaitEnd(10_000);
        }
        ex.sendJson(200, find(id).body(), Map.of());
    }

    private void inputItems(Exchange ex, String id) {
        find(id);
        int limit = PageRequest.DEFAULT_LIMIT;
        var l = ex.query("limit");
        if (l != null) {
            try {
                limit = Integer.parseInt(l);
            } catch (NumberFormatException e) {
                throw ApiException.badRequest("Invalid 'limit': expected an integer.", "limit");
            }
            if (limit < 1 || limit > PageRequest.MAX_LIMIT) throw ApiException.badRequest("Invalid 'limit': must be between 1 and 100.", "limit");
        }
        var order = ex.query("order") == null ? "desc" : ex.query("order");
        if (!order.equals("asc") && !order.equals("desc")) throw ApiException.badRequest("Invalid value for 'order': expected 'asc' or 'desc'.", "order");
        var page = items.list(id, null, new PageRequest(limit, order.equals("asc"), itemCursor(id, ex.query("after")), itemCursor(id, ex.query("before"))));
        var out = Json.object();
        out.put("object", "list");
        var data = out.putArray("data");
        for (var item : page.items()) data.add(item.body());
        out.put("first_id", page.items().isEmpty() ? null : page.items().getFirst().body().get("id").asText());
        out.put("last_id", page.items().isEmpty() ? null : page.items().getLast().body().get("id").asText());
        out.put("has_more", page.hasMore());
        ex.sendJson(200, out, Map.of());
    }

    // ------------------------------------------------------------------ recovery

    /**
     * Responses a previous process left queued or in progress cannot be resumed (the upstream answer is
     * gone): they end {@code failed}, with an error that says why. Their logged events are replayed first,
     * so the items that were open are closed (with the ids clients saw, marked {@code incomplete}) and the
     * stored output keeps every delta that was committed; the log then ends with {@code response.failed},
     * so a client following or resuming the stream is told rather than left waiting.
     */
    private int recover() {
        int settled = 0;
        for (var r : responses.withStatus(List.of("queued", "in_progress"))) {
            var logged = new ArrayList<com.fasterxml.jackson.databind.JsonNode>();
            for (var e : log.all(r.id())) logged.add(Json.parse(e.data()));
            var builder = OutputBuilder.replay(logged);
            for (var e : builder.finish("incomplete")) append(r.id(), e.type(), e.data());
            var body = r.body().deepCopy();
            body.put("status", "failed");
            var error = body.putObject("error");
            error.put("code", "server_error");
            error.put("message", "The gateway stopped while this response was " + r.status().replace('_', ' ') + " (the process exited or crashed), so it could not finish.");
            body.set("output", builder.visibleOutput());
            responses.update(r.withBody(body));
            append(r.id(), "response.failed", ResponseObjects.event(body));
            settled++;
        }
        return settled;
    }

    private void append(String id, String type, ObjectNode data) {
        log.append(id, type, seq -> {
            var e = Json.object();
            e.put("type", type);
            e.put("sequence_number", seq - 1);
            e.setAll(data);
            return e;
        });
    }

    @Override
    public void close() {
        for (var e : executing.values()) e.cancel();
        log.close();
        transientLog.close();
    }
}
