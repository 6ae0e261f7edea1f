package dev.sluice.gateway.chat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.gateway.config.GatewayConfig.Limits;
import dev.sluice.gateway.http.ApiError;
import dev.sluice.gateway.http.Exchange;
import dev.sluice.gateway.http.HttpHandler;
import dev.sluice.gateway.provider.UpstreamStream;
import dev.sluice.gateway.resilience.Attempt;
import dev.sluice.gateway.resilience.ResilientStream;
import dev.sluice.gateway.resilience.RouteOpener;
import dev.sluice.gateway.resilience.UpstreamFailure;
import dev.sluice.gateway.routing.Route;
import dev.sluice.gateway.routing.Router;
import dev.sluice.gateway.usage.TokenEstimator;
import dev.sluice.gateway.usage.UsageRecord;
import dev.sluice.gateway.usage.UsageSink;
import dev.sluice.gateway.usage.UsageTracker;
import dev.sluice.wire.chat.ChatAccumulator;
import dev.sluice.wire.chat.StreamError;
import dev.sluice.wire.chat.StreamEvent;
import dev.sluice.wire.json.Json;
import java.io.IOException;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Semaphore;

/**
 * {@code POST /v1/chat/completions}: validates, routes, opens the upstream stream and answers either as
 * a {@code chat.completion} object or as an SSE stream of chunks, from the same canonical events.
 * A non-streaming request is sent upstream without streaming too (unless its provider is configured to
 * always stream); either way the answer arrives as canonical events.
 */
public final class ChatCompletionsHandler implements HttpHandler {

    private static final System.Logger LOG = System.getLogger(ChatCompletionsHandler.class.getName());

    private final Router router;
    private final Limits limits;
    private final Semaphore streams;
    private final UsageSink usage;

    public ChatCompletionsHandler(Router router, Limits limits, UsageSink usage) {
        this.router = router;
        this.limits = limits;
        this.usage = usage;
        this.streams = new Semaphore(limits.maxConcurrentStreams());
    }

    @Override
    public void handle(Exchange ex) {
        ObjectNode body;
        try {
            var node = Json.parse(ex.body());
            if (!node.isObject()) {
                ex.sendError(ApiError.invalidRequest("The request body must be a JSON object.", null, "invalid_body"));
                return;
            }
            body = (ObjectNode) node;
        } catch (IllegalArgumentException e) {
            ex.sendError(ApiError.invalidRequest("We could not parse the JSON body of your request. The API expects a JSON payload: "
                    + e.getCause().getMessage().lines().findFirst().orElse(""), null, "invalid_json"));
            return;
        }
        var invalid = ChatRequestValidator.validate(body);
        if (invalid.isPresent()) {
            ex.sendError(invalid.get());
            return;
        }
        var model = body.get("model").asText();
        var route = router.route(model);
        if (route.isEmpty()) {
            ex.sendError(ApiError.notFound("The model `" + model + "` does not exist or you do not have access to it.", "model", "model_not_found"));
            return;
        }
        if (!streams.tryAcquire()) {
            ex.sendError(new ApiError(429, "Too many concurrent requests: the gateway's limit is " + limits.maxConcurrentStreams() + ".",
                    "rate_limit_error", null, "concurrency_limit_exceeded", Map.of("Retry-After", "1")));
            return;
        }
        try {
            serve(ex, body, model, route.get());
        } finally {
            streams.release();
        }
    }

    private void serve(Exchange ex, ObjectNode body, String model, Route route) {
        // A client that gives up while the upstream is still thinking about its first byte must cancel it
        // too: interrupting this thread aborts the pending exchange (and any backoff wait).
        // Once the answer is open, closing it comes first, so the reading thread sees a cancelled stream
        // rather than a failed one.
        var handlerThread = Thread.currentThread();
        var opened = new java.util.concurrent.atomic.AtomicReference<ResilientStream>();
        ex.onClientGone(() -> {
            var open = opened.get();
            if (open != null) open.close();
            handlerThread.interrupt();
        });
        ResilientStream upstream;
        try {
            upstream = RouteOpener.open(route, body, ex.header("Authorization"), body.path("stream").asBoolean(false));
            opened.set(upstream);
        } catch (UpstreamFailure f) {
            var error = UpstreamErrors.toApiError(f.last(), f.deployment()).withHeader("x-sluice-attempts", describe(f.attempts()));
            ex.sendError(error);
            usage.record(new UsageRecord(ex.requestId(), model, f.deployment(), 0, 0, false, f.attempts().size(), "upstream_refused"));
            return;
        } catch (InterruptedException e) {
            return; // the client is gone; nothing was opened
        }
        if (!ex.isOpen()) upstream.close(); // the client left while it was being opened
        var headers = Map.of("x-sluice-deployment", upstream.target().label(), "x-sluice-attempts", describe(upstream.attempts()));
        boolean stream = body.path("stream").asBoolean(false);
        var tracker = new UsageTracker();
        String outcome = "error";
        try (upstream) {
            outcome = stream ? stream(ex, body, model, upstream, headers, tracker) : complete(ex, model, upstream, headers, tracker);
        } finally {
            if (!ex.isOpen() && !outcome.equals("completed")) outcome = "client_cancelled";
            var reported = tracker.reported();
            int prompt = reported != null ? reported.path("prompt_tokens").asInt() : TokenEstimator.prompt(body);
            int completion = reported != null ? reported.path("completion_tokens").asInt() : tracker.estimatedCompletionTokens();
            boolean estimated = reported == null || reported.path("estimated").asBoolean(false);
            usage.record(new UsageRecord(ex.requestId(), model, upstream.target().label(), prompt, completion, estimated, upstream.attempts().size(), outcome));
        }
    }

    private static String describe(List<Attempt> attempts) {
        return String.join(", ", attempts.stream().map(Attempt::toString).toList());
    }

    /** Relays the answer as SSE chunks; returns how it ended. */
    private String stream(Exchange ex, ObjectNode body, String model, UpstreamStream upstream, Map<String, String> headers, UsageTracker tracker) {
        boolean includeUsage = body.path("stream_options").path("include_usage").asBoolean(false);
        var writer = new ChatChunkWriter(model, includeUsage);
        var sse = ex.startEventStream(headers, limits.keepAlive());
        var progress = new Progress();
        try {
            StreamEvent event;
            while ((event = upstream.next()) != null) {
                progress.accept(event);
                tracker.accept(event);
                for (var frame : writer.onEvent(event)) {
                    if (!sse.queue(frame)) return "client_cancelled"; // closing the upstream is the caller's job
                }
                if (event instanceof StreamEvent.Error) return "error";
                // What one upstream read brought goes out in one write; the next event would block.
                if (upstream.buffered() == 0 && !sse.flush()) return "client_cancelled";
            }
            if (!upstream.completed() && !progress.allChoicesFinished()) {
                sse.queue(writer.error(StreamError.of("The upstream closed the stream before the answer was complete.", "server_error", "upstream_incomplete")));
                return "error";
            }
            for (var frame : writer.finish()) if (!sse.queue(frame)) return "client_cancelled";
            return "completed";
        } catch (IOException e) {
            if (sse.isOpen()) {
                LOG.log(System.Logger.Level.WARNING, "upstream failed mid-stream: " + e.getMessage());
                sse.queue(writer.error(StreamError.of(UpstreamErrors.describe(e), UpstreamErrors.isTimeout(e) ? "timeout_error" : "server_error",
                        UpstreamErrors.isTimeout(e) ? "upstream_timeout" : "upstream_error")));
            }
            return "error";
        } finally {
            // The client's response ends first: closing the upstream may wait briefly for its body to end.
            sse.end();
            upstream.close();
        }
    }

    /** Answers with one chat.completion object built from the stream; returns how it ended. */
    private String complete(Exchange ex, String model, UpstreamStream upstream, Map<String, String> headers, UsageTracker tracker) {
        var acc = new ChatAccumulator();
        var progress = new Progress();
        try {
            StreamEvent event;
            while ((event = upstream.next()) != null) {
                progress.accept(event);
                tracker.accept(event);
                acc.accept(event);
                if (event instanceof StreamEvent.Error e) {
                    ex.sendError(UpstreamErrors.toApiError(e.error()));
                    return "error";
                }
            }
        } catch (IOException e) {
            if (ex.isOpen()) {
                boolean timeout = UpstreamErrors.isTimeout(e);
                ex.sendError(ApiError.server(timeout ? 504 : 502, UpstreamErrors.describe(e), timeout ? "upstream_timeout" : "upstream_error"));
            }
            return "error";
        }
        if (!ex.isOpen()) return "client_cancelled";
        if (!upstream.completed() && !progress.allChoicesFinished()) {
            ex.sendError(ApiError.server(502, "The upstream closed the stream before the answer was complete.", "upstream_incomplete"));
            return "error";
        }
        var json = acc.result().toJson();
        if (json.path("id").isNull()) json.put("id", "chatcmpl-" + Long.toHexString(System.nanoTime()));
        if (json.path("model").isNull()) json.put("model", model);
        if (json.path("created").asLong() == 0) json.put("created", System.currentTimeMillis() / 1000);
        ex.sendJson(200, json, headers);
        return "completed";
    }

    /** Which choices have started and finished: a stream whose choices all finished is complete even without [DONE]. */
    private static final class Progress {
        private final Set<Integer> started = new HashSet<>();
        private final Set<Integer> finished = new HashSet<>();

        void accept(StreamEvent event) {
            switch (event) {
                case StreamEvent.Role r -> started.add(r.choice());
                case StreamEvent.TextDelta t -> started.add(t.choice());
                case StreamEvent.Finish f -> {
                    started.add(f.choice());
                    finished.add(f.choice());
                }
                default -> {}
            }
        }

        boolean allChoicesFinished() {
            return !started.isEmpty() && finished.containsAll(started);
        }
    }
}
