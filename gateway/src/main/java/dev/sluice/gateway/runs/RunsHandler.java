package dev.sluice.gateway.runs;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.gateway.http.ApiError;
import dev.sluice.gateway.http.Exchange;
import dev.sluice.gateway.store.Kind;
import dev.sluice.gateway.store.SortKeys;
import dev.sluice.gateway.store.Store;
import dev.sluice.gateway.store.StoredObject;
import dev.sluice.wire.json.Json;
import java.util.ArrayList;
import java.util.Map;

/**
 * {@code /v1/threads/{thread_id}/runs} and {@code /v1/threads/runs}: create (optionally streamed),
 * list, retrieve, modify, cancel, submit tool outputs (optionally streamed), steps, and Sluice's
 * {@code GET .../runs/{run_id}/events} to follow or replay a run's stream (with {@code Last-Event-ID}).
 */
final class RunsHandler {

    private final Store store;
    private final RunEngine engine;
    private final RunStreamer streamer;
    private final AssistantsHandler assistants;
    private final ThreadsHandler threads;

    RunsHandler(Store store, RunEngine engine, RunStreamer streamer, AssistantsHandler assistants, ThreadsHandler threads) {
        this.store = store;
        this.engine = engine;
        this.streamer = streamer;
        this.assistants = assistants;
        this.threads = threads;
    }

    void create(Exchange ex, String threadId) throws InterruptedException {
        var req = Requests.body(ex);
        boolean stream = Requests.bool(req, "stream", false);
        var run = engine.locked(threadId, () -> {
            threads.find(threadId);
            requireNoActiveRun(threadId);
            var r = newRun(req, threadId);
            var extra = new ArrayList<StoredObject>();
            var additional = req.get("additional_messages");
            if (additional != null && !additional.isNull()) {
                if (!additional.isArray()) throw ApiException.badRequest("Invalid type for 'additional_messages': expected an array.", "additional_messages");
                int i = 0;
                for (var m : additional) extra.add(Messages.fromRequest(threadId, m, "additional_messages[" + i++ + "]"));
            }
            for (var m : extra) store.objects(Kind.MESSAGE).insert(m);
            engine.submit(r, ex.header("Authorization"));
            return r;
        });
        respond(ex, run, stream);
    }

    void createAndRun(Exchange ex) throws InterruptedException {
        var req = Requests.body(ex);
        boolean stream = Requests.bool(req, "stream", false);
        var threadReq = Requests.optionalObject(req, "thread", "thread");
        // The thread and the run are both validated before either is stored: a request refused for a bad run
        // parameter must not leave a thread behind.
        var thread = threads.prepare(threadReq != null ? threadReq : Json.object(), "thread.");
        var newRun = newRun(req, thread.id());
        threads.insert(thread);
        var run = engine.locked(thread.id(), () -> {
            engine.emit(newRun.id(), "thread.created", thread.thread().body());
            engine.submit(newRun, ex.header("Authorization"));
            return newRun;
        });
        respond(ex, run, stream);
    }

    private void respond(Exchange ex, StoredObject run, boolean stream) throws InterruptedException {
        if (stream) streamer.stream(ex, run.id(), 0);
        else ex.sendJson(200, run.body(), Map.of());
    }

    private void requireNoActiveRun(String threadId) {
        for (var run : store.objects(Kind.RUN).all(threadId)) {
            if (Runs.ACTIVE.contains(run.status())) {
                throw ApiException.badRequest("Thread " + threadId + " already has an active run " + run.id() + ".", null);
            }
        }
    }

    private StoredObject newRun(ObjectNode req, String threadId) {
        var assistant = assistants.find(Requests.requiredString(req, "assistant_id")).body();
        var r = Json.object();
        var id = Ids.next("run_");
        long now = Ids.nowSeconds();
        r.put("id", id);
        r.put("object", "thread.run");
        r.put("created_at", now);
        r.put("assistant_id", assistant.get("id").asText());
        r.put("thread_id", threadId);
        r.put("status", "queued");
        r.putNull("started_at");
        r.put("expires_at", now + RunEngine.EXPIRES_AFTER_SECONDS);
        r.putNull("cancelled_at");
        r.putNull("failed_at");
        r.putNull("completed_at");
        r.putNull("required_action");
        r.putNull("last_error");
        var requested = Requests.nullableString(req, "model"); // a model of another type is a 400, not the assistant's model
        var model = requested.isTextual() ? requested.asText() : assistant.path("model").asText();
        if (engine.router().route(model).isEmpty()) {
            throw new ApiException(ApiError.notFound("The model `" + model + "` does not exist or you do not have access to it.", "model", "model_not_found"));
        }
        r.put("model", model);
        var instructions = req.has("instructions") && !req.get("instructions").isNull()
                ? Requests.nullableString(req, "instructions").asText() : assistant.path("instructions").asText("");
        var additional = Requests.nullableString(req, "additional_instructions");
        if (additional.isTextual() && !additional.asText().isEmpty()) {
            instructions = instructions.isEmpty() ? additional.asText() : instructions + "\n\n" + additional.asText();
        }
        r.put("instructions", instructions);
        var tools = Requests.tools(req, "tools");
        r.set("tools", tools != null ? tools : assistant.path("tools").deepCopy());
        r.set("tool_resources", assistant.path("tool_resources").isObject() ? assistant.get("tool_resources").deepCopy() : Json.object());
        r.set("metadata", Requests.metadata(req, "metadata"));
        var temperature = Requests.number(req, "temperature", 0, 2);
        r.set("temperature", temperature.isNull() ? assistant.path("temperature").isNumber() ? assistant.get("temperature") : Json.NODES.numberNode(1.0) : temperature);
        var topP = Requests.number(req, "top_p", 0, 1);
        r.set("top_p", topP.isNull() ? assistant.path("top_p").isNumber() ? assistant.get("top_p") : Json.NODES.numberNode(1.0) : topP);
        r.putNull("reasoning_effort");
        r.set("max_completion_tokens", Requests.positiveInt(req, "max_completion_tokens", 256));
        r.set("max_prompt_tokens", Requests.positiveInt(req, "max_prompt_tokens", 256));
        r.set("truncation_strategy", Requests.truncationStrategy(req));
        r.putNull("incomplete_details");
        r.putNull("usage");
        r.set("response_format", req.has("response_format") ? Requests.responseFormat(req)
                : assistant.has("response_format") ? assistant.get("response_format").deepCopy() : Json.NODES.textNode("auto"));
        r.set("tool_choice", Requests.toolChoice(req));
        r.put("parallel_tool_calls", Requests.bool(req, "parallel_tool_calls", true));
        var internal = Json.object();
        if (req.path("sim").isObject()) internal.set("sim", req.get("sim").deepCopy());
        return new StoredObject(id, threadId, null, SortKeys.next(), "queued", r, internal);
    }

    void list(Exchange ex, String threadId) {
        threads.find(threadId);
        ex.sendJson(200, Lists.response(store.objects(Kind.RUN).list(threadId, null, Lists.request(ex)), StoredObject::body), Map.of());
    }

    void get(Exchange ex, String threadId, String runId) {
        var run = find(threadId, runId);
        engine.locked(runId, () -> {
            engine.expireIfDue(run);
            return null;
        });
        ex.sendJson(200, find(threadId, runId).body(), Map.of());
    }

    void modify(Exchange ex, String threadId, String runId) {
        var req = Requests.body(ex);
        find(threadId, runId);
        var metadata = req.has("metadata") ? Requests.metadata(req, "metadata") : null;
        var updated = engine.updateRun(runId, b -> {
            if (metadata != null) b.set("metadata", metadata);
        }, null);
        ex.sendJson(200, updated.body(), Map.of());
    }

    void cancel(Exchange ex, String threadId, String runId) {
        threads.find(threadId);
        ex.sendJson(200, engine.cancel(threadId, runId).body(), Map.of());
    }

    void submitToolOutputs(Exchange ex, String threadId, String runId) throws InterruptedException {
        var req = Requests.body(ex);
        boolean stream = Requests.bool(req, "stream", false);
        threads.find(threadId);
        var outputs = req.get("tool_outputs");
        if (outputs == null || outputs.isNull()) throw ApiException.badRequest("Missing required parameter: 'tool_outputs'.", "tool_outputs");
        if (!outputs.isArray()) throw ApiException.badRequest("Invalid type for 'tool_outputs': expected an array.", "tool_outputs");
        long before = engine.submitToolOutputs(threadId, runId, outputs, ex.header("Authorization"));
        if (stream) streamer.stream(ex, runId, before);
        else ex.sendJson(200, find(threadId, runId).body(), Map.of());
    }

    void listSteps(Exchange ex, String threadId, String runId) {
        find(threadId, runId);
        ex.sendJson(200, Lists.response(store.objects(Kind.STEP).list(runId, null, Lists.request(ex)), StoredObject::body), Map.of());
    }

    void getStep(Exchange ex, String threadId, String runId, String stepId) {
        find(threadId, runId);
        var step = store.objects(Kind.STEP).get(stepId).filter(s -> s.parentId().equals(runId))
                .orElseThrow(() -> ApiException.notFound("run step", stepId));
        ex.sendJson(200, step.body(), Map.of());
    }

    /** Replays and follows a run's stream; {@code Last-Event-ID} (or {@code ?after=}) resumes after that event. */
    void events(Exchange ex, String threadId, String runId) throws InterruptedException {
        find(threadId, runId);
        var from = ex.header("Last-Event-ID");
        if (from == null || from.isBlank()) from = ex.query("after");
        long after = 0;
        if (from != null && !from.isBlank()) {
            try {
                after = Long.parseLong(from.trim());
            } catch (NumberFormatException e) {
                throw ApiException.badRequest("Invalid Last-Event-ID '" + from + "': expected the id of an event of this run.", null);
            }
            // An id the run never gave out would be waited for forever, also on a run that has ended.
            long last = engine.log().lastSeq(runId);
            if (after > last) {
                throw ApiException.badRequest("Invalid Last-Event-ID '" + from + "': run " + runId + " has no event " + after + " (its last is " + last + ").", null);
            }
        }
        streamer.stream(ex, runId, after);
    }

    private StoredObject find(String threadId, String runId) {
        threads.find(threadId);
        var run = store.objects(Kind.RUN).get(runId).orElseThrow(() -> ApiException.notFound("run", runId));
        if (!run.parentId().equals(threadId)) throw ApiException.notFound("run", runId);
        return run;
    }
}
