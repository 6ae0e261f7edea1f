package dev.sluice.gateway.responses;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.gateway.chat.UpstreamErrors;
import dev.sluice.gateway.http.ApiError;
import dev.sluice.gateway.resilience.ResilientStream;
import dev.sluice.gateway.resilience.RouteOpener;
import dev.sluice.gateway.resilience.UpstreamFailure;
import dev.sluice.gateway.routing.Route;
import dev.sluice.gateway.runs.Ids;
import dev.sluice.gateway.runs.RunEventLog;
import dev.sluice.gateway.store.ObjectRepository;
import dev.sluice.gateway.store.RunEvent;
import dev.sluice.gateway.store.StoredObject;
import dev.sluice.gateway.usage.TokenEstimator;
import dev.sluice.gateway.usage.UsageRecord;
import dev.sluice.gateway.usage.UsageSink;
import dev.sluice.gateway.usage.UsageTracker;
import dev.sluice.wire.chat.StreamEvent;
import dev.sluice.wire.json.Json;
import java.io.IOException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Generates one response: reads the canonical stream of its upstream answer, writes every semantic event
 * to the response's event log (numbered there, so {@code sequence_number} is the log's order) and, when
 * the response is stored, keeps its stored object up to date. The same code runs a response in the
 * caller's request and in the background; only who reads the log differs.
 *
 * <p>Whatever way it ends, it leaves one usage record in the gateway's {@link UsageSink}, as a chat
 * completion does, with {@code outcome} {@code completed}, {@code incomplete}, {@code error},
 * {@code cancelled} (by {@code POST /responses/{id}/cancel}), {@code client_cancelled} (a foreground
 * client left) or {@code upstream_refused}; and the response's {@code usage} is the upstream's count, or
 * a tokenizer estimate marked {@code "estimated": true} when there is none (a cut-off or cancelled answer).
 */
final class ResponseExecution {

    private static final System.Logger LOG = System.getLogger(ResponseExecution.class.getName());

    private final RunEventLog log;
    private final ObjectRepository responses; // null when the response is not stored
    private final Route route;
    private final ObjectNode chatBody;
    private final String auth;
    private final String id;
    private final UsageSink usageSink;
    private final String requestId;
    private final UsageTracker tracker = new UsageTracker();
    private volatile boolean clientGone;
    private final CountDownLatch ended = new CountDownLatch(1);
    private StoredObject stored;
    private ObjectNode body;
    private volatile Consumer<RunEvent> tee;
    private volatile ResilientStream upstream;
    /**
     * Guards {@link #opening} and {@link #upstream}: a cancel interrupts the worker only while it is inside
     * the opener. An interrupt anywhere else would land in the store's I/O (on PostgreSQL, closing the
     * socket under a half-written event) rather than in the upstream call.
     */
    private final Object gate = new Object();
    private Thread opening;
    private volatile boolean cancelled;
    /** How a failed answer is told to a non-streaming client, as chat completions tell it; null: a plain 502. */
    private volatile ApiError failureError;

    /**
     * @param requestId the HTTP request that created the response, as the usage record names it (chat
     *                  records carry theirs too); the record's deployment and attempts say where it ran
     */
    ResponseExecution(RunEventLog log, ObjectRepository responses, StoredObject response, Route route, ObjectNode chatBody, String auth,
            UsageSink usageSink, String requestId) {
        this.log = log;
        this.usageSink = usageSink;
        this.requestId = requestId;
        this.responses = responses;
        this.stored = response;
        this.body = response.body();
        this.id = response.id();
        this.route = route;
        this.chatBody = chatBody;
        this.auth = auth;
    }

    String id() {
        return id;
    }

    synchronized ObjectNode body() {
        return body.deepCopy();
    }

    /**
     * The error status for a non-streaming client once the response failed: the status an upstream's error
     * event names (429 for a rate limit, 400 for an invalid request...) or 504 for a timeout, as a chat
     * completion answers them; null when a plain 502 says it (a cut or empty answer).
     */
    ApiError failureError() {
        return failureError;
    }

    /** Sends every event, as it is logged, to {@code listener} too (a foreground stream's client). */
    void tee(Consumer<RunEvent> listener) {
        this.tee = listener;
    }

    /** Logs the opening events: {@code response.created} then {@code response.queued} or {@code response.in_progress}. */
    void begin() {
        emit("response.created", ResponseObjects.event(body));
        emit(body.get("status").asText().equals("queued") ? "response.queued" : "response.in_progress", ResponseObjects.event(body));
    }

    /** A foreground client left: the response ends cancelled, and its usage record says who cancelled it. */
    void clientGone() {
        clientGone = true;
        cancel();
    }

    /** Stops the upstream; the worker ends the response as cancelled. */
    void cancel() {
        cancelled = true;
        synchronized (gate) {
            var u = upstream;
            if (u != null) u.close();
            // Still opening (or backing off between retries): the opener gives up when its thread is interrupted.
            else if (opening != null) opening.interrupt();
        }
    }

    boolean awaitEnd(long millis) throws InterruptedException {
        return ended.await(millis, TimeUnit.MILLISECONDS);
    }

    /**
     * Runs the response to its end. {@code opened} is the upstream a foreground request opened already
     * (so that a refusal could still be its HTTP error); null in the background, where it is opened here.
     */
    void run(ResilientStream opened) {
        try {
            if (body.get("status").asText().equals("queued")) {
                update(b -> b.put("status", "in_progress"));
                emit("response.in_progress", ResponseObjects.event(body));
            }
            var first = opened;
            if (first == null) {
                synchronized (gate) {
                    if (!cancelled) opening = Thread.currentThread();
                }
                UpstreamFailure refused = null;
                try {
                    if (!cancelled) first = RouteOpener.open(route, chatBody, auth);
                } catch (UpstreamFailure f) {
                    refused = f;
                } catch (InterruptedException e) {
                    // cancelled while opening: first stays null
                } finally {
                    endOpening();
                }
                if (refused != null) {
                    var e = refused.last();
                    var status = settle(new OutputBuilder(), null, e.status() == 429 ? "rate_limit_exceeded" : "server_error",
                            "The model request failed (" + refused.deployment() + "): " + e.statusAndMessage());
                    // A cancel that interrupts the opener mid-request fails that attempt too: the response is
                    // cancelled (settle saw it), and its usage record says so rather than blaming the upstream.
                    record(refused.deployment(), 0, 0, false, refused.attempts().size(), cancelled ? outcome(status) : "upstream_refused");
                    return;
                }
                if (first == null) { // cancelled before or while opening (only a cancel interrupts the opener)
                    var status = cancelled ? settle(new OutputBuilder(), null, null, null)
                            : settle(new OutputBuilder(), null, "server_error", "Sluice was interrupted while opening the model request.");
                    record(route.targets().getFirst().label(), 0, 0, false, 0, outcome(status));
                    return;
                }
            }
            var stream = first;
            synchronized (gate) {
                upstream = stream;
            }
            if (cancelled) stream.close();
            var builder = new OutputBuilder();
            String failure = null;
            // Whether anything of a choice came (metadata, usage and chunk-level extras are not a choice's).
            boolean anyChoice = false;
            try (stream) {
                StreamEvent event;
                while ((event = stream.next()) != null) {
                    tracker.accept(event);
                    if (!anyChoice) anyChoice = StreamEvent.ofAChoice(event);
                    for (var e : builder.accept(event)) emit(e.type(), e.data());
                    if (event instanceof StreamEvent.Error e) {
                        failure = e.error().message();
                        failureError = UpstreamErrors.toApiError(e.error());
                        break;
                    }
                }
                if (failure == null && !cancelled && builder.finishReason() == null && !stream.completed()) {
                    failure = UpstreamErrors.INCOMPLETE;
                }
                // [DONE] after nothing is a broken upstream, as for chat completions, not an empty success.
                if (failure == null && !cancelled && !anyChoice) failure = UpstreamErrors.EMPTY;
            } catch (IOException e) {
                if (!cancelled) {
                    failureError = UpstreamErrors.toApiError(e);
                    failure = failureError.message();
                }
            }
            var usage = usage(builder);
            var code = failure == null ? null : failureError != null && failureError.status() == 429 ? "rate_limit_exceeded" : "server_error";
            var status = settle(builder, usage, code, failure);
            record(stream.target().label(), usage.path("prompt_tokens").asInt(), usage.path("completion_tokens").asInt(),
                    usage.path("estimated").asBoolean(false), stream.attempts().size(), outcome(status));
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.ERROR, "response " + id + " failed unexpectedly", e);
            try {
                settle(new OutputBuilder(), null, "server_error", "Sluice failed while generating the response: " + e);
            } catch (RuntimeException ignored) {
                // the store itself is failing; recovery settles the response at the next start
            }
        } finally {
            ended.countDown();
        }
    }

    /** Leaves the opener: no interrupt can come after this, and one that came already is cleared. */
    private void endOpening() {
        synchronized (gate) {
            opening = null;
        }
        Thread.interrupted();
    }

    /**
     * What the answer cost, chat-shaped: the upstream's count (summed over failover attempts by the
     * resilient stream, which marks a partial estimate), else estimated here from the request and what
     * streamed (an answer cancelled or cut off before the upstream's usage chunk).
     */
    private JsonNode usage(OutputBuilder builder) {
        var reported = builder.chatUsage();
        if (reported != null) return reported;
        return TokenEstimator.usage(TokenEstimator.prompt(chatBody), tracker.estimatedCompletionTokens());
    }

    private String outcome() {
        return clientGone ? "client_cancelled" : "cancelled";
    }

    private String outcome(String status) {
        return switch (status) {
            case "cancelled" -> outcome();
            case "failed" -> "error";
            default -> status; // completed, incomplete
        };
    }

    private void record(String deployment, int prompt, int completion, boolean estimated, int attempts, String outcome) {
        try {
            usageSink.record(new UsageRecord(requestId, body.path("model").asText(), deployment, prompt, completion, estimated, attempts, outcome));
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "the usage sink failed for response " + id, e);
        }
    }

    /**
     * Closes the open items and ends the response: cancelled, failed ({@code code} set), incomplete or
     * completed; returns that status. {@code chatUsage} is null when nothing reached an upstream.
     */
    private String settle(OutputBuilder builder, JsonNode chatUsage, String code, String message) {
        var finishReason = builder.finishReason();
        var cut = cancelled || code != null || "length".equals(finishReason) || "content_filter".equals(finishReason);
        for (var e : builder.finish(cut ? "incomplete" : "completed")) emit(e.type(), e.data());
        var output = builder.visibleOutput();
        var usage = chatUsage == null ? null : OutputBuilder.responsesUsage(chatUsage);
        if (cancelled) {
            update(b -> {
                b.put("status", "cancelled");
                b.set("output", output);
                if (usage != null) b.set("usage", usage);
            });
            var e = Json.object();
            e.put("code", "response_cancelled");
            e.put("message", "The response was cancelled.");
            e.putNull("param");
            emit("error", e);
            return "cancelled";
        } else if (code != null) {
            update(b -> {
                b.put("status", "failed");
                var error = b.putObject("error");
                error.put("code", code);
                error.put("message", message);
                b.set("output", output);
                if (usage != null) b.set("usage", usage);
            });
            emit("response.failed", ResponseObjects.event(body));
            return "failed";
        } else if (cut) {
            update(b -> {
                b.put("status", "incomplete");
                b.putObject("incomplete_details").put("reason", "length".equals(finishReason) ? "max_output_tokens" : "content_filter");
                b.set("output", output);
                if (usage != null) b.set("usage", usage);
            });
            emit("response.incomplete", ResponseObjects.event(body));
            return "incomplete";
        } else {
            update(b -> {
                b.put("status", "completed");
                b.put("completed_at", Ids.nowSeconds());
                b.set("output", output);
                if (usage != null) b.set("usage", usage);
            });
            emit("response.completed", ResponseObjects.event(body));
            return "completed";
        }
    }

    private synchronized void update(Consumer<ObjectNode> change) {
        var copy = body.deepCopy();
        change.accept(copy);
        body = copy;
        stored = stored.withBody(copy);
        if (responses != null) responses.update(stored);
    }

    /** Logs an event with its {@code type} and {@code sequence_number} first, as OpenAI orders them. */
    private void emit(String type, ObjectNode data) {
        var e = log.append(id, type, seq -> {
            var event = Json.object();
            event.put("type", type);
            event.put("sequence_number", seq - 1); // OpenAI numbers a response's events from 0
            event.setAll(data);
            return event;
        });
        var listener = tee;
        if (e != null && listener != null) listener.accept(e);
    }
}
