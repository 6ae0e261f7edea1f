package dev.sluice.gateway.runs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.gateway.provider.UpstreamStream;
import dev.sluice.gateway.resilience.Attempt;
import dev.sluice.gateway.resilience.ResilientStream;
import dev.sluice.gateway.usage.TokenEstimator;
import dev.sluice.gateway.usage.UsageRecord;
import dev.sluice.gateway.resilience.RouteOpener;
import dev.sluice.gateway.resilience.UpstreamFailure;
import dev.sluice.gateway.store.Kind;
import dev.sluice.gateway.store.StoredObject;
import dev.sluice.wire.chat.StreamError;
import dev.sluice.wire.chat.StreamEvent;
import dev.sluice.wire.json.Json;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * One pass of a run, on its worker thread: from {@code queued} to {@code in_progress}, one answer from the
 * run's route (through the gateway's resilience path, like chat completions), and then {@code completed},
 * {@code requires_action}, {@code incomplete}, {@code failed} or {@code cancelled}. The route's canonical stream events become a message (text deltas) and/or a tool-calls
 * step (tool call deltas), logged as the official Assistants stream events as they arrive.
 */
final class RunExecution {

    private final RunEngine engine;
    private final String runId;
    private volatile boolean cancelled;
    private volatile UpstreamStream upstream;
    // The worker while it waits on the upstream (connect, first byte, a backoff sleep, the next event), so
    // that a cancel can interrupt it there; null while it writes to the store, which must not see interrupts.
    private final Object waitGate = new Object();
    private Thread waiting;

    private ObjectNode run;
    private ObjectNode internal;
    // The message being written, and its step.
    private StoredObject message;
    private StoredObject messageStep;
    private final StringBuilder text = new StringBuilder();
    // The tool-calls step, and its calls by upstream index.
    private StoredObject toolStep;
    private final Map<Integer, ObjectNode> calls = new TreeMap<>();
    private String finishReason;
    private JsonNode usage;
    // The model request of this pass, to estimate what it cost when the upstream reported nothing.
    private ObjectNode request;

    RunExecution(RunEngine engine, String runId) {
        this.engine = engine;
        this.runId = runId;
    }

    /** Called by cancel, under the run's lock: stops the upstream request; the worker ends the run as cancelled. */
    void cancel() {
        cancelled = true;
        // Close first so that the resilient stream, seeing the read fail, does not take it for an upstream
        // failure to fail over from; then wake a worker that is still opening or backing off.
        var u = upstream;
        if (u != null) u.close();
        synchronized (waitGate) {
            if (waiting != null) waiting.interrupt();
        }
    }

    /** An upstream call that a cancel may interrupt. */
    private interface UpstreamCall<T> {
        T call() throws IOException, UpstreamFailure, InterruptedException;
    }

    /** Runs {@code call} interruptible by {@link #cancel()}; no interrupt outlives it. */
    private <T> T upstreamCall(UpstreamCall<T> call) throws IOException, UpstreamFailure, InterruptedException {
        synchronized (waitGate) {
            if (cancelled) throw new InterruptedException("cancelled");
            waiting = Thread.currentThread();
        }
        try {
            return call.call();
        } finally {
            synchronized (waitGate) {
                waiting = null;
                Thread.interrupted();
            }
        }
    }

    /** Why a pass failed: a {@code last_error} code as OpenAI uses them, and a message. */
    private record Failure(String code, String message) {
        static Failure of(StreamError error) {
            boolean rateLimited = "rate_limit_exceeded".equals(error.code()) || "429".equals(error.code()) || "rate_limit_error".equals(error.type());
            return new Failure(rateLimited ? "rate_limit_exceeded" : "server_error", error.message());
        }
    }

    /** The gateway is shutting down: stop the upstream and leave the run for recovery at the next start. */
    void abandon() {
        var u = upstream;
        if (u != null) u.close();
    }

    void run() {
        var started = engine.locked(runId, () -> {
            var stored = engine.runs().get(runId).orElse(null);
            if (stored == null || !stored.status().equals("queued")) return null;
            var body = stored.body().deepCopy();
            body.put("status", "in_progress");
            if (body.path("started_at").isNull()) body.put("started_at", Ids.nowSeconds());
            var updated = stored.withBody(body);
            engine.runs().update(updated);
            engine.emit(runId, "thread.run.in_progress", body);
            return updated;
        });
        if (started == null) return;
        run = started.body();
        internal = started.internal();

        long used = internal.path("completion_tokens_used").asLong(0);
        var maxCompletion = run.path("max_completion_tokens");
        long budget = maxCompletion.isIntegralNumber() ? maxCompletion.asLong() - used : Long.MAX_VALUE;
        if (budget <= 0) {
            endIncomplete("max_completion_tokens");
            return;
        }
        try {
            request = engine.prompts().build(run, internal, budget);
        } catch (PromptBuilder.TooLong e) {
            endIncomplete("max_prompt_tokens");
            return;
        }
        var model = run.get("model").asText();
        var route = engine.router().route(model);
        if (route.isEmpty()) {
            endFailed("invalid_prompt", "The model `" + model + "` does not exist or you do not have access to it.");
            return;
        }
        ResilientStream stream;
        try {
            // The same path as chat completions: balancer order, retries with backoff (Retry-After honoured),
            // fallback to the next deployment, cooldown, the route's timeouts, and mid-stream continuation.
            stream = upstreamCall(() -> RouteOpener.open(route.get(), request, engine.authorization(runId)));
        } catch (UpstreamFailure f) {
            var e = f.last();
            endFailed(e.status() == 429 ? "rate_limit_exceeded" : "server_error", "The model request failed (" + f.deployment() + "): "
                    + e.statusAndMessage() + " [attempts: " + Attempt.describe(f.attempts()) + "]");
            return;
        } catch (InterruptedException | IOException e) {
            settle(cancelled ? null : new Failure("server_error", "The model request was interrupted: " + e));
            return;
        }
        upstream = stream;
        if (cancelled) stream.close();
        Failure failure = null;
        try (stream) {
            StreamEvent event;
            while ((event = upstreamCall(stream::next)) != null) {
                switch (event) {
                    case StreamEvent.TextDelta t when t.choice() == 0 -> onText(t.text());
                    case StreamEvent.ToolCallStart s when s.choice() == 0 -> onToolCallStart(s);
                    case StreamEvent.ToolCallArguments a when a.choice() == 0 -> onToolCallArguments(a);
                    case StreamEvent.Finish f when f.choice() == 0 -> finishReason = f.reason();
                    case StreamEvent.Usage u -> usage = u.usage();
                    case StreamEvent.Error e -> failure = Failure.of(e.error());
                    default -> {}
                }
                if (failure != null) break;
            }
            if (failure == null && !cancelled && finishReason == null && !stream.completed()) {
                failure = new Failure("server_error", "The model's stream ended before the answer was complete.");
            }
        } catch (IOException | InterruptedException | UpstreamFailure e) {
            if (!cancelled) failure = new Failure("server_error", "The model request failed mid-stream: " + e.getMessage());
        }
        settle(failure);
    }

    private void onText(String delta) {
        if (delta.isEmpty()) return;
        if (message == null) startMessage();
        text.append(delta);
        var d = Json.object();
        d.put("id", message.id());
        d.put("object", "thread.message.delta");
        var part = d.putObject("delta").putArray("content").addObject();
        part.put("index", 0);
        part.put("type", "text");
        part.putObject("text").put("value", delta);
        engine.emit(runId, "thread.message.delta", d);
    }

    private void startMessage() {
        var step = Steps.create(run, "message_creation");
        var messageId = Ids.next("msg_");
        step.with("step_details").putObject("message_creation").put("message_id", messageId);
        messageStep = Steps.stored(step);
        engine.store().objects(Kind.STEP).insert(messageStep);
        engine.emit(runId, "thread.run.step.created", step);
        engine.emit(runId, "thread.run.step.in_progress", step);
        var m = Messages.create(messageId, run.get("thread_id").asText(), "assistant", run.get("assistant_id").asText(), runId, "in_progress");
        message = Messages.stored(m);
        engine.store().objects(Kind.MESSAGE).insert(message);
        engine.emit(runId, "thread.message.created", m);
        engine.emit(runId, "thread.message.in_progress", m);
    }

    private void onToolCallStart(StreamEvent.ToolCallStart s) {
        if (message != null && messageStep != null && message.status().equals("in_progress")) completeMessage("completed", null);
        if (toolStep == null) {
            var step = Steps.create(run, "tool_calls");
            toolStep = Steps.stored(step);
            engine.store().objects(Kind.STEP).insert(toolStep);
            engine.emit(runId, "thread.run.step.created", step);
            engine.emit(runId, "thread.run.step.in_progress", step);
        }
        int index = calls.size();
        var call = Json.object();
        call.put("id", s.id() == null ? Ids.next("call_") : s.id());
        call.put("type", "function");
        var f = call.putObject("function");
        f.put("name", s.name());
        f.put("arguments", "");
        f.putNull("output");
        calls.put(s.index(), call);
        var delta = call.deepCopy();
        delta.put("index", index);
        engine.emit(runId, "thread.run.step.delta", Steps.delta(toolStep.id(), reorder(delta)));
    }

    private void onToolCallArguments(StreamEvent.ToolCallArguments a) {
        var call = calls.get(a.index());
        if (call == null || a.fragment().isEmpty()) return;
        var f = call.with("function");
        f.put("arguments", f.path("arguments").asText() + a.fragment());
        int index = new ArrayList<>(calls.keySet()).indexOf(a.index());
        var delta = Json.object();
        delta.put("index", index);
        delta.put("type", "function");
        delta.putObject("function").put("arguments", a.fragment());
        engine.emit(runId, "thread.run.step.delta", Steps.delta(toolStep.id(), delta));
    }

    /** {@code index} first, as OpenAI orders a tool call delta. */
    private static ObjectNode reorder(ObjectNode delta) {
        var out = Json.object();
        out.set("index", delta.get("index"));
        delta.properties().forEach(e -> {
            if (!e.getKey().equals("index")) out.set(e.getKey(), e.getValue());
        });
        return out;
    }

    /** Completes (or leaves incomplete) the message and completes its step. */
    private void completeMessage(String status, String incompleteReason) {
        closeMessage(status, incompleteReason);
        var step = messageStep.body().deepCopy();
        step.put("status", "completed");
        step.put("completed_at", Ids.nowSeconds());
        if (toolStep == null) step.set("usage", passUsage());
        messageStep = messageStep.withBody(step);
        engine.store().objects(Kind.STEP).update(messageStep);
        engine.emit(runId, "thread.run.step.completed", step);
    }

    /**
     * Ends the message with the text streamed so far, leaving its step open: a run that fails or is cancelled
     * mid-message closes that step as {@code failed} (with the run's last_error) or {@code cancelled} through
     * {@link RunEngine#closeOpenSteps}, as it does after a restart, instead of reporting it completed.
     */
    private void closeMessage(String status, String incompleteReason) {
        var messages = engine.store().objects(Kind.MESSAGE);
        var body = message.body().deepCopy();
        body.putArray("content").add(Messages.textPart(text.toString()));
        body.put("status", status);
        if (status.equals("completed")) body.put("completed_at", Ids.nowSeconds());
        else {
            body.put("incomplete_at", Ids.nowSeconds());
            body.putObject("incomplete_details").put("reason", incompleteReason);
        }
        message = message.withBody(body);
        messages.update(message);
        engine.emit(runId, "thread.message." + status, body);
    }

    /** Ends the pass, under the run's lock so that a concurrent cancel is seen. */
    private void settle(Failure failure) {
        engine.locked(runId, () -> {
            if (usage == null && upstream != null) usage = estimatedUsage();
            recordUsage();
            var current = engine.runs().get(runId).orElseThrow();
            report(cancelled || current.status().equals("cancelling") ? "cancelled"
                    : failure != null ? "error"
                    : !calls.isEmpty() ? "requires_action"
                    : "length".equals(finishReason) ? "incomplete" : "completed");
            if (cancelled || current.status().equals("cancelling")) {
                if (message != null && message.status().equals("in_progress")) closeMessage("incomplete", "run_cancelled");
                engine.closeOpenSteps(runId, "cancelled", null);
                engine.finish(current, "cancelled", b -> {
                    b.put("cancelled_at", Ids.nowSeconds());
                    b.set("usage", totalUsage());
                });
                return null;
            }
            if (failure != null) {
                var error = Json.object();
                error.put("code", failure.code());
                error.put("message", failure.message());
                if (message != null && message.status().equals("in_progress")) closeMessage("incomplete", "run_failed");
                engine.closeOpenSteps(runId, "failed", error);
                engine.finish(current, "failed", b -> {
                    b.put("failed_at", Ids.nowSeconds());
                    b.set("last_error", error);
                    b.set("usage", totalUsage());
                });
                return null;
            }
            if (!calls.isEmpty()) {
                requireAction(current);
                return null;
            }
            boolean truncated = "length".equals(finishReason);
            if (message == null) startMessage(); // an empty answer still gets its (empty) message
            completeMessage(truncated ? "incomplete" : "completed", truncated ? "max_tokens" : null);
            if (truncated) {
                engine.finish(current, "incomplete", b -> {
                    b.putObject("incomplete_details").put("reason", "max_completion_tokens");
                    b.set("usage", totalUsage());
                });
            } else {
                engine.finish(current, "completed", b -> {
                    b.put("completed_at", Ids.nowSeconds());
                    b.set("usage", totalUsage());
                });
            }
            return null;
        });
    }

    private void requireAction(StoredObject current) {
        var step = toolStep.body().deepCopy();
        var list = step.with("step_details").putArray("tool_calls");
        var required = Json.object();
        required.put("type", "submit_tool_outputs");
        var requiredCalls = required.putObject("submit_tool_outputs").putArray("tool_calls");
        for (var call : calls.values()) {
            list.add(call.deepCopy());
            var r = requiredCalls.addObject();
            r.put("id", call.get("id").asText());
            r.put("type", "function");
            var f = r.putObject("function");
            f.put("name", call.path("function").path("name").asText());
            f.put("arguments", call.path("function").path("arguments").asText());
        }
        step.set("usage", passUsage());
        toolStep = toolStep.withBody(step);
        engine.store().objects(Kind.STEP).update(toolStep);
        var body = current.body().deepCopy();
        body.put("status", "requires_action");
        body.set("required_action", required);
        body.set("usage", Json.NODES.nullNode());
        engine.runs().update(current.withBody(body).withInternal(internal));
        engine.emit(runId, "thread.run.requires_action", body);
    }

    private void endIncomplete(String reason) {
        engine.locked(runId, () -> {
            var current = engine.runs().get(runId).orElseThrow();
            if (current.status().equals("cancelling") || cancelled) {
                engine.finish(current, "cancelled", b -> b.put("cancelled_at", Ids.nowSeconds()));
                return null;
            }
            engine.finish(current, "incomplete", b -> {
                b.putObject("incomplete_details").put("reason", reason);
                // What earlier passes (before tool outputs) used is still the run's usage.
                if (internal.has("usage")) b.set("usage", totalUsage());
            });
            return null;
        });
    }

    private void endFailed(String code, String messageText) {
        engine.locked(runId, () -> {
            var current = engine.runs().get(runId).orElseThrow();
            if (current.status().equals("cancelling") || cancelled) {
                engine.finish(current, "cancelled", b -> b.put("cancelled_at", Ids.nowSeconds()));
                return null;
            }
            var error = Json.object();
            error.put("code", code);
            error.put("message", messageText);
            engine.finish(current, "failed", b -> {
                b.put("failed_at", Ids.nowSeconds());
                b.set("last_error", error);
            });
            return null;
        });
    }

    void failUnexpectedly(RuntimeException e) {
        try {
            engine.locked(runId, () -> {
                var current = engine.runs().get(runId).orElse(null);
                if (current == null || Runs.TERMINAL.contains(current.status())) return null;
                var error = Json.object();
                error.put("code", "server_error");
                error.put("message", "Sluice failed while executing the run: " + e);
                engine.closeOpenSteps(runId, "failed", error);
                engine.finish(current, "failed", b -> {
                    b.put("failed_at", Ids.nowSeconds());
                    b.set("last_error", error);
                });
                return null;
            });
        } catch (RuntimeException ignored) {
            // the store itself is failing; recovery settles the run at the next start
        }
    }

    // ------------------------------------------------------------------ usage

    private ObjectNode passUsage() {
        var u = Json.object();
        long prompt = usage == null ? 0 : usage.path("prompt_tokens").asLong();
        long completion = usage == null ? 0 : usage.path("completion_tokens").asLong();
        u.put("prompt_tokens", prompt);
        u.put("completion_tokens", completion);
        u.put("total_tokens", prompt + completion);
        return u;
    }

    /**
     * A pass that ended without the upstream's usage chunk (cancelled mid-answer) still cost what it sent and
     * what streamed: counted with the o200k tokenizer and marked estimated, as chat completions count them.
     */
    private JsonNode estimatedUsage() {
        var completion = new StringBuilder(text);
        for (var call : calls.values()) completion.append(call.path("function").path("name").asText()).append(call.path("function").path("arguments").asText());
        return TokenEstimator.usage(TokenEstimator.prompt(request), TokenEstimator.count(completion.toString()));
    }

    private void recordUsage() {
        var pass = passUsage();
        var total = internal.with("usage");
        for (var field : List.of("prompt_tokens", "completion_tokens", "total_tokens")) {
            total.put(field, total.path(field).asLong() + pass.path(field).asLong());
        }
        internal.put("completion_tokens_used", total.path("completion_tokens").asLong());
        engine.saveInternal(runId, internal);
    }

    /** One usage record per model call (a run makes one per pass), keyed by the run's id. */
    private void report(String outcome) {
        if (!(upstream instanceof ResilientStream answer)) return; // no model call was made
        var pass = passUsage();
        boolean estimated = usage == null || usage.path("estimated").asBoolean(false);
        engine.usage().record(new UsageRecord(runId, run.path("model").asText(), answer.target().label(),
                pass.path("prompt_tokens").asInt(), pass.path("completion_tokens").asInt(), estimated, answer.attempts().size(), outcome));
    }

    private ObjectNode totalUsage() {
        return internal.with("usage").deepCopy();
    }
}
