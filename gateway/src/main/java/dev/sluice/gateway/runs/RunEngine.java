package dev.sluice.gateway.runs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.gateway.routing.Router;
import dev.sluice.gateway.store.Kind;
import dev.sluice.gateway.store.ObjectRepository;
import dev.sluice.gateway.store.Store;
import dev.sluice.gateway.store.StoredObject;
import dev.sluice.wire.json.Json;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Executes runs: a queue of run ids and workers on virtual threads (at most {@code maxConcurrentRuns} at
 * once). Every change of a run's status goes through here, under that run's lock, and is written to the
 * store and then to the run's event log. Also cancels runs, resumes them with tool outputs, expires runs
 * left waiting for outputs, and settles runs left in flight by a previous process.
 */
public final class RunEngine implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(RunEngine.class.getName());
    /** How long a run may wait in the queue or for tool outputs before it expires, as OpenAI's 10 minutes. */
    static final long EXPIRES_AFTER_SECONDS = 600;

    private final Store store;
    private final RunEventLog log;
    private final Router router;
    private final PromptBuilder prompts;
    private final LinkedBlockingQueue<String> queue = new LinkedBlockingQueue<>();
    private final Semaphore slots;
    private final Map<String, RunExecution> executing = new ConcurrentHashMap<>();
    /**
     * The Authorization header of the request that last queued each run (created it, or gave it tool outputs),
     * for providers that forward the client's own key (proxy mode without an upstream key), as chat
     * completions do. In memory only, never stored or logged, and dropped when the run ends. A run queued
     * again after a restart has none: such an upstream refuses it, and the run fails saying so.
     */
    private final Map<String, String> authorizations = new ConcurrentHashMap<>();
    private final ReentrantLock[] locks = new ReentrantLock[256];
    private final Thread dispatcher;
    private final Thread sweeper;
    private volatile boolean closed;

    private final dev.sluice.gateway.usage.UsageSink usage;

    public RunEngine(Store store, RunEventLog log, Router router, int maxConcurrentRuns, dev.sluice.gateway.usage.UsageSink usage) {
        this.usage = usage;
        this.store = store;
        this.log = log;
        this.router = router;
        this.prompts = new PromptBuilder(store);
        this.slots = new Semaphore(maxConcurrentRuns);
        for (int i = 0; i < locks.length; i++) locks[i] = new ReentrantLock();
        this.dispatcher = Thread.ofVirtual().name("sluice-run-dispatcher").start(this::dispatch);
        this.sweeper = Thread.ofVirtual().name("sluice-run-sweeper").start(this::sweep);
    }

    Store store() {
        return store;
    }

    RunEventLog log() {
        return log;
    }

    /** Where each model call of a run reports what it cost, as chat completions do. */
    dev.sluice.gateway.usage.UsageSink usage() {
        return usage;
    }

    Router router() {
        return router;
    }

    PromptBuilder prompts() {
        return prompts;
    }

    ObjectRepository runs() {
        return store.objects(Kind.RUN);
    }

    /** Runs {@code action} holding the lock of {@code key} (a run or thread id). */
    <T> T locked(String key, Supplier<T> action) {
        var lock = locks[Math.floorMod(key.hashCode(), locks.length)];
        lock.lock();
        try {
            return action.get();
        } finally {
            lock.unlock();
        }
    }

    // ------------------------------------------------------------------ events and updates

    /** Appends an event to a run's log. */
    void emit(String runId, String event, JsonNode data) {
        log.append(runId, event, data);
    }

    /** Loads a run, applies {@code change} to its body under its lock, saves it and, when {@code event} is set, logs it. */
    StoredObject updateRun(String runId, Consumer<ObjectNode> change, String event) {
        return locked(runId, () -> {
            var run = runs().get(runId).orElseThrow(() -> ApiException.notFound("run", runId));
            var body = run.body().deepCopy();
            change.accept(body);
            var updated = run.withBody(body);
            runs().update(updated);
            if (event != null) emit(runId, event, body);
            return updated;
        });
    }

    void saveInternal(String runId, ObjectNode internal) {
        locked(runId, () -> {
            runs().get(runId).ifPresent(run -> runs().update(run.withInternal(internal)));
            return null;
        });
    }

    /**
     * Stores a new queued run and logs {@code thread.run.created} and {@code thread.run.queued}, then queues it.
     * {@code authorization}: the creating request's Authorization header, or null.
     */
    void submit(StoredObject run, String authorization) {
        authorize(run.id(), authorization);
        runs().insert(run);
        emit(run.id(), "thread.run.created", run.body());
        emit(run.id(), "thread.run.queued", run.body());
        queue.add(run.id());
    }

    // ------------------------------------------------------------------ workers

    private void dispatch() {
        while (!closed) {
            String runId;
            try {
                runId = queue.take();
                slots.acquire();
            } catch (InterruptedException e) {
                return;
            }
            var execution = new RunExecution(this, runId);
            executing.put(runId, execution);
            Thread.ofVirtual().name("sluice-run-" + runId).start(() -> {
                try {
                    execution.run();
                } catch (RuntimeException e) {
                    LOG.log(System.Logger.Level.ERROR, "run " + runId + " failed unexpectedly", e);
                    execution.failUnexpectedly(e);
                } finally {
                    executing.remove(runId, execution);
                    slots.release();
                }
            });
        }
    }

    // ------------------------------------------------------------------ cancel, tool outputs, expiry

    /** Cancels a run in any non-terminal state; an executing run's upstream request is cancelled too. */
    StoredObject cancel(String threadId, String runId) {
        return locked(runId, () -> {
            var run = runOf(threadId, runId);
            var status = run.status();
            switch (status) {
                case "queued" -> {
                    queue.remove(runId);
                    return finish(run, "cancelled", b -> b.put("cancelled_at", Ids.nowSeconds()));
                }
                case "requires_action" -> {
                    closeOpenSteps(runId, "cancelled", null);
                    return finish(run, "cancelled", b -> b.put("cancelled_at", Ids.nowSeconds()));
                }
                case "in_progress" -> {
                    var body = run.body().deepCopy();
                    body.put("status", "cancelling");
                    var updated = run.withBody(body);
                    runs().update(updated);
                    emit(runId, "thread.run.cancelling", body);
                    var execution = executing.get(runId);
                    if (execution != null) execution.cancel();
                    return updated;
                }
                case "cancelling" -> {
                    return run;
                }
                default -> throw ApiException.badRequest("Cannot cancel run with status '" + status + "'.", null);
            }
        });
    }

    /**
     * Records tool outputs of a run in {@code requires_action} and queues it again, to call the model with this
     * request's {@code authorization} (or none). Returns the last event before resuming.
     */
    long submitToolOutputs(String threadId, String runId, JsonNode outputs, String authorization) {
        return locked(runId, () -> {
            var run = runOf(threadId, runId);
            expireIfDue(run);
            run = runOf(threadId, runId);
            if (!run.status().equals("requires_action")) {
                throw ApiException.badRequest("Runs in status \"" + run.status() + "\" do not accept tool outputs.", null);
            }
            var pending = new HashMap<String, JsonNode>();
            for (var call : run.body().path("required_action").path("submit_tool_outputs").path("tool_calls")) pending.put(call.path("id").asText(), call);
            var given = new HashMap<String, String>();
            int i = 0;
            for (var o : outputs) {
                var id = o.path("tool_call_id").asText(null);
                if (id == null) throw ApiException.badRequest("Missing required parameter: 'tool_outputs[" + i + "].tool_call_id'.", "tool_outputs[" + i + "].tool_call_id");
                if (!pending.containsKey(id)) throw ApiException.badRequest("No tool call found with id '" + id + "' awaiting output in this run.", "tool_outputs[" + i + "].tool_call_id");
                var out = o.get("output");
                if (out != null && !out.isNull() && !out.isTextual()) {
                    // OpenAI takes only a string; JSON would have reached the model as whatever toString() made of it.
                    throw ApiException.badRequest("Invalid type for 'tool_outputs[" + i + "].output': expected a string.", "tool_outputs[" + i + "].output");
                }
                given.put(id, out == null || out.isNull() ? "" : out.asText());
                i++;
            }
            if (!given.keySet().containsAll(pending.keySet())) {
                var missing = pending.keySet().stream().filter(id -> !given.containsKey(id)).sorted().toList();
                throw ApiException.badRequest("Expected tool outputs for call_ids " + pending.keySet().stream().sorted().toList() + ", got " + given.keySet().stream().sorted().toList() + " (missing " + missing + ").", "tool_outputs");
            }
            long before = log.lastSeq(runId);
            for (var step : store.objects(Kind.STEP).all(runId)) {
                if (!step.status().equals("in_progress") || !step.body().path("type").asText().equals("tool_calls")) continue;
                var body = step.body().deepCopy();
                for (var call : body.with("step_details").withArray("tool_calls")) {
                    var id = call.path("id").asText();
                    if (given.containsKey(id)) ((ObjectNode) call.with("function")).put("output", given.get(id));
                }
                body.put("status", "completed");
                body.put("completed_at", Ids.nowSeconds());
                store.objects(Kind.STEP).update(step.withBody(body));
                emit(runId, "thread.run.step.completed", body);
            }
            var body = run.body().deepCopy();
            body.put("status", "queued");
            body.putNull("required_action");
            runs().update(run.withBody(body));
            authorize(runId, authorization);
            emit(runId, "thread.run.queued", body);
            queue.add(runId);
            return before;
        });
    }

    private void authorize(String runId, String authorization) {
        if (authorization == null) authorizations.remove(runId);
        else authorizations.put(runId, authorization);
    }

    /** The Authorization header a run's model calls forward, or null. */
    String authorization(String runId) {
        return authorizations.get(runId);
    }

    /** Marks a run terminal (status, timestamps, expires_at cleared) and logs the matching event. Call under the run's lock. */
    StoredObject finish(StoredObject run, String status, Consumer<ObjectNode> change) {
        authorizations.remove(run.id());
        var body = run.body().deepCopy();
        body.put("status", status);
        body.putNull("expires_at");
        body.putNull("required_action");
        change.accept(body);
        var updated = run.withBody(body);
        runs().update(updated);
        emit(run.id(), "thread.run." + status, body);
        return updated;
    }

    /** Ends a run's in-progress steps (and their messages) as {@code cancelled}, {@code failed} or {@code expired}. */
    void closeOpenSteps(String runId, String status, ObjectNode lastError) {
        var messages = store.objects(Kind.MESSAGE);
        for (var step : store.objects(Kind.STEP).all(runId)) {
            if (!step.status().equals("in_progress")) continue;
            var body = step.body().deepCopy();
            body.put("status", status);
            body.put(switch (status) {
                case "cancelled" -> "cancelled_at";
                case "expired" -> "expired_at";
                default -> "failed_at";
            }, Ids.nowSeconds());
            if (lastError != null) body.set("last_error", lastError);
            store.objects(Kind.STEP).update(step.withBody(body));
            emit(runId, "thread.run.step." + status, body);
            var messageId = body.path("step_details").path("message_creation").path("message_id").asText(null);
            if (messageId != null) {
                messages.get(messageId).filter(m -> m.status().equals("in_progress")).ifPresent(m -> {
                    var mb = m.body().deepCopy();
                    mb.put("status", "incomplete");
                    mb.put("incomplete_at", Ids.nowSeconds());
                    mb.putObject("incomplete_details").put("reason", status.equals("cancelled") ? "run_cancelled" : status.equals("expired") ? "run_expired" : "run_failed");
                    messages.update(m.withBody(mb));
                    emit(runId, "thread.message.incomplete", mb);
                });
            }
        }
    }

    private StoredObject runOf(String threadId, String runId) {
        var run = runs().get(runId).orElseThrow(() -> ApiException.notFound("run", runId));
        if (!run.parentId().equals(threadId)) throw ApiException.notFound("run", runId);
        return run;
    }

    /** Expires a run that waited too long in the queue or for tool outputs. Call under the run's lock. */
    void expireIfDue(StoredObject run) {
        if (!run.status().equals("requires_action") && !run.status().equals("queued")) return;
        var expiresAt = run.body().path("expires_at");
        if (!expiresAt.isNumber() || expiresAt.asLong() > Ids.nowSeconds()) return;
        if (executing.containsKey(run.id())) return;
        queue.remove(run.id());
        closeOpenSteps(run.id(), "expired", null);
        finish(run, "expired", b -> {});
    }

    private void sweep() {
        while (!closed) {
            try {
                TimeUnit.SECONDS.sleep(2);
                for (var run : runs().withStatus(Set.of("requires_action", "queued"))) {
                    locked(run.id(), () -> {
                        runs().get(run.id()).ifPresent(this::expireIfDue);
                        return null;
                    });
                }
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "run expiry sweep failed: " + e.getMessage());
            }
        }
    }

    // ------------------------------------------------------------------ recovery

    /**
     * Settles runs a previous process left behind. Queued runs had not started: they are queued again and
     * run exactly as if nothing happened. Runs that were executing cannot be resumed exactly (the upstream
     * answer is gone), so they end {@code failed} with a {@code last_error} that says so; the text they had
     * streamed is kept in their (now incomplete) message, rebuilt from the event log.
     */
    public int recover() {
        int settled = 0;
        for (var run : runs().withStatus(List.of("queued", "in_progress", "cancelling"))) {
            if (run.status().equals("queued")) {
                queue.add(run.id());
                continue;
            }
            settled++;
            locked(run.id(), () -> {
                recoverText(run.id());
                var error = Json.object();
                error.put("code", "server_error");
                error.put("message", "The gateway stopped while this run was " + run.status().replace('_', ' ')
                        + " (the process exited or crashed), so the run could not finish. Text streamed until then is kept in an incomplete message.");
                if (run.status().equals("cancelling")) {
                    closeOpenSteps(run.id(), "cancelled", null);
                    finish(run, "cancelled", b -> b.put("cancelled_at", Ids.nowSeconds()));
                } else {
                    closeOpenSteps(run.id(), "failed", error);
                    finish(run, "failed", b -> {
                        b.put("failed_at", Ids.nowSeconds());
                        b.set("last_error", error);
                    });
                }
                return null;
            });
        }
        return settled;
    }

    /** Puts the text of a run's unfinished messages back together from their logged deltas. */
    private void recoverText(String runId) {
        var texts = new HashMap<String, StringBuilder>();
        for (var e : log.all(runId)) {
            if (!e.event().equals("thread.message.delta")) continue;
            var d = Json.parse(e.data());
            var sb = texts.computeIfAbsent(d.path("id").asText(), k -> new StringBuilder());
            for (var part : d.path("delta").path("content")) sb.append(part.path("text").path("value").asText(""));
        }
        var messages = store.objects(Kind.MESSAGE);
        texts.forEach((id, text) -> messages.get(id).filter(m -> m.status().equals("in_progress")).ifPresent(m -> {
            var body = m.body().deepCopy();
            body.putArray("content").add(Messages.textPart(text.toString()));
            messages.update(m.withBody(body));
        }));
    }

    @Override
    public void close() {
        closed = true;
        dispatcher.interrupt();
        sweeper.interrupt();
        for (var e : executing.values()) e.abandon();
    }
}
