package dev.sluice.gateway.responses;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.gateway.chat.UpstreamErrors;
import dev.sluice.gateway.resilience.ResilientStream;
import dev.sluice.gateway.resilience.RouteOpener;
import dev.sluice.gateway.resilience.UpstreamFailure;
import dev.sluice.gateway.routing.Route;
import dev.sluice.gateway.runs.Ids;
import dev.sluice.gateway.runs.RunEventLog;
import dev.sluice.gateway.store.ObjectRepository;
import dev.sluice.gateway.store.RunEvent;
import dev.sluice.gateway.store.StoredObject;
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
 */
final class ResponseExecution {

    private static final System.Logger LOG = System.getLogger(ResponseExecution.class.getName());

    private final RunEventLog log;
    private final ObjectRepository responses; // null when the response is not stored
    private final Route route;
    private final ObjectNode chatBody;
    private final String auth;
    private final String id;
    private final CountDownLatch ended = new CountDownLatch(1);
    private StoredObject stored;
    private ObjectNode body;
    private volatile Consumer<RunEvent> tee;
    private volatile ResilientStream upstream;
    private volatile Thread worker;
    private volatile boolean cancelled;

    ResponseExecution(RunEventLog log, ObjectRepository responses, StoredObject response, Route route, ObjectNode chatBody, String auth) {
        this.log = log;
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

    /** Sends every event, as it is logged, to {@code listener} too (a foreground stream's client). */
    void tee(Consumer<RunEvent> listener) {
        this.tee = listener;
    }

    /** Logs the opening events: {@code response.created} then {@code response.queued} or {@code response.in_progress}. */
    void begin() {
        emit("response.created", ResponseObjects.event(body));
        emit(body.get("status").asText().equals("queued") ? "response.queued" : "response.in_progress", ResponseObjects.event(body));
    }

    /** Stops the upstream; the worker ends the response as cancelled. */
    void cancel() {
        cancelled = true;
        var u = upstream;
        if (u != null) {
            u.close();
        } else {
            // Still opening (or backing off between retries): the opener gives up when its thread is interrupted.
            var w = worker;
            if (w != null) w.interrupt();
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
        worker = Thread.currentThread();
        try {
            if (body.get("status").asText().equals("queued")) {
                update(b -> b.put("status", "in_progress"));
                emit("response.in_progress", ResponseObjects.event(body));
            }
            var first = opened;
            if (first == null) {
                try {
                    first = RouteOpener.open(route, chatBody, auth);
                } catch (UpstreamFailure f) {
                    var e = f.last();
                    settle(new OutputBuilder(), e.status() == 429 ? "rate_limit_exceeded" : "server_error",
                            "The model request failed (" + f.deployment() + "): " + (e.status() > 0 ? "HTTP " + e.status() + " " : "") + e.getMessage());
                    return;
                } catch (InterruptedException e) {
                    settle(new OutputBuilder(), null, null);
                    return;
                }
            }
            var stream = first;
            upstream = stream;
            Thread.interrupted(); // a cancel that came while opening has closed the stream; the flag must not break storage calls
            if (cancelled) stream.close();
            var builder = new OutputBuilder();
            String failure = null;
            try (stream) {
                StreamEvent event;
                while ((event = stream.next()) != null) {
                    for (var e : builder.accept(event)) emit(e.type(), e.data());
                    if (event instanceof StreamEvent.Error e) {
                        failure = e.error().message();
                        break;
                    }
                }
                if (failure == null && !cancelled && builder.finishReason() == null && !stream.completed()) {
                    failure = "The upstream closed the stream before the answer was complete.";
                }
            } catch (IOException e) {
                if (!cancelled) failure = UpstreamErrors.describe(e);
            }
            settle(builder, failure == null ? null : "server_error", failure);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.ERROR, "response " + id + " failed unexpectedly", e);
            try {
                settle(new OutputBuilder(), "server_error", "Sluice failed while generating the response: " + e);
            } catch (RuntimeException ignored) {
                // the store itself is failing; recovery settles the response at the next start
            }
        } finally {
            ended.countDown();
        }
    }

    /** Closes the open items and ends the response: cancelled, failed ({@code code} set), incomplete or completed. */
    private void settle(OutputBuilder builder, String code, String message) {
        var finishReason = builder.finishReason();
        var cut = cancelled || code != null || "length".equals(finishReason) || "content_filter".equals(finishReason);
        for (var e : builder.finish(cut ? "incomplete" : "completed")) emit(e.type(), e.data());
        var output = builder.visibleOutput();
        var usage = builder.usage();
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
        } else if (cut) {
            update(b -> {
                b.put("status", "incomplete");
                b.putObject("incomplete_details").put("reason", "length".equals(finishReason) ? "max_output_tokens" : "content_filter");
                b.set("output", output);
                if (usage != null) b.set("usage", usage);
            });
            emit("response.incomplete", ResponseObjects.event(body));
        } else {
            update(b -> {
                b.put("status", "completed");
                b.put("completed_at", Ids.nowSeconds());
                b.set("output", output);
                if (usage != null) b.set("usage", usage);
            });
            emit("response.completed", ResponseObjects.event(body));
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
