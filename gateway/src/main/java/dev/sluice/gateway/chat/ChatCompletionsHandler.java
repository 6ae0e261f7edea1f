package dev.sluice.gateway.chat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.gateway.config.GatewayConfig.Limits;
import dev.sluice.gateway.http.ApiError;
import dev.sluice.gateway.http.Exchange;
import dev.sluice.gateway.http.HttpHandler;
import dev.sluice.gateway.provider.EventLoopProvider;
import dev.sluice.gateway.resilience.Attempt;
import dev.sluice.gateway.resilience.ResilientStream;
import dev.sluice.gateway.resilience.RetryingOpener;
import dev.sluice.gateway.resilience.RouteOpener;
import dev.sluice.gateway.resilience.UpstreamFailure;
import dev.sluice.gateway.routing.Route;
import dev.sluice.gateway.routing.Router;
import dev.sluice.gateway.usage.TokenEstimator;
import dev.sluice.gateway.usage.UsageRecord;
import dev.sluice.gateway.usage.UsageSink;
import dev.sluice.wire.json.Json;
import java.util.Map;
import java.util.concurrent.Semaphore;

/**
 * {@code POST /v1/chat/completions}: validates, routes, opens the upstream stream and answers either as
 * a {@code chat.completion} object or as an SSE stream of chunks, from the same canonical events.
 * A non-streaming request is sent upstream without streaming too (unless its provider is configured to
 * always stream); either way the answer arrives as canonical events.
 */
public final class ChatCompletionsHandler implements HttpHandler {

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

    /** Bodies up to this size are parsed on the event loop; larger ones on a virtual thread, off the loop. */
    public static final int INLINE_BODY_BYTES = 64 * 1024;

    /** A validated, routed request. */
    private record Accepted(ObjectNode body, String model, Route route, boolean stream) {}

    @Override
    public void handle(Exchange ex) {
        var accepted = accept(ex);
        if (accepted != null) serveThenRelease(ex, accepted);
    }

    /**
     * On the event loop: a request whose deployments can all be served there is relayed there from start to
     * end, like a reverse proxy does; any other goes to a virtual thread.
     */
    @Override
    public boolean handleOnEventLoop(Exchange ex) {
        if (ex.body().length > INLINE_BODY_BYTES) return false;
        var accepted = accept(ex);
        if (accepted == null) return true;
        boolean onLoop = true;
        for (var target : accepted.route().targets()) {
            onLoop &= target.provider() instanceof EventLoopProvider p && p.servesOnEventLoop();
        }
        if (onLoop) new OnLoop(ex, accepted).start();
        else ex.fork(e -> serveThenRelease(e, accepted));
        return true;
    }

    /** Parses, validates, routes and takes a concurrency permit; null when the request was answered with an error. */
    private Accepted accept(Exchange ex) {
        ObjectNode body;
        try {
            var node = Json.parseRequest(ex.body());
            if (!node.isObject()) {
                ex.sendError(ApiError.notAnObject());
                return null;
            }
            body = (ObjectNode) node;
        } catch (IllegalArgumentException e) {
            ex.sendError(ApiError.invalidJson());
            return null;
        }
        var invalid = ChatRequestValidator.validate(body);
        if (invalid.isPresent()) {
            ex.sendError(invalid.get());
            return null;
        }
        var model = body.get("model").asText();
        var route = router.route(model);
        if (route.isEmpty()) {
            ex.sendError(ApiError.notFound("The model `" + model + "` does not exist or you do not have access to it.", "model", "model_not_found"));
            return null;
        }
        if (!streams.tryAcquire()) {
            ex.sendError(new ApiError(429, "Too many concurrent requests: the gateway's limit is " + limits.maxConcurrentStreams() + ".",
                    "rate_limit_error", null, "concurrency_limit_exceeded", Map.of("Retry-After", "1")));
            return null;
        }
        return new Accepted(body, model, route.get(), body.path("stream").asBoolean(false));
    }

    private void serveThenRelease(Exchange ex, Accepted a) {
        try {
            serve(ex, a);
        } finally {
            streams.release();
        }
    }

    /** On a virtual thread: opens (retrying, falling back) and relays, blocking as it goes. */
    private void serve(Exchange ex, Accepted a) {
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
            upstream = RouteOpener.open(a.route(), a.body(), ex.header("Authorization"), a.stream());
            opened.set(upstream);
        } catch (UpstreamFailure f) {
            refused(ex, a, f);
            return;
        } catch (InterruptedException e) {
            return; // the client is gone; nothing was opened
        }
        if (!ex.isOpen()) upstream.close(); // the client left while it was being opened
        relay(ex, a, upstream, () -> {}).pull();
    }

    private void refused(Exchange ex, Accepted a, UpstreamFailure f) {
        var error = UpstreamErrors.toApiError(f.last(), f.deployment()).withHeader("x-sluice-attempts", Attempt.describe(f.attempts()));
        ex.sendError(error);
        usage.record(new UsageRecord(ex.requestId(), a.model(), f.deployment(), 0, 0, false, f.attempts().size(), "upstream_refused"));
    }

    /** The relay from an opened upstream to the client, which records usage when it ends. */
    private ChatRelay relay(Exchange ex, Accepted a, ResilientStream upstream, Runnable after) {
        java.util.function.Supplier<Map<String, String>> headers = () -> Map.of("x-sluice-deployment", upstream.target().label(),
                "x-sluice-attempts", Attempt.describe(upstream.attempts()));
        boolean includeUsage = a.body().path("stream_options").path("include_usage").asBoolean(false);
        ChatAnswer answer = a.stream() ? new ChatAnswer.Streamed(ex, a.model(), includeUsage, headers, limits)
                : new ChatAnswer.Whole(ex, a.model(), headers);
        return new ChatRelay(upstream, answer, r -> {
            recordUsage(ex, a, r);
            after.run();
        });
    }

    private void recordUsage(Exchange ex, Accepted a, ChatRelay relay) {
        var upstream = relay.upstream();
        var outcome = relay.answer().outcome();
        if (!ex.isOpen() && !outcome.equals("completed")) outcome = "client_cancelled";
        var tracker = relay.answer().tracker;
        var reported = tracker.reported();
        int prompt = reported != null ? reported.path("prompt_tokens").asInt() : TokenEstimator.prompt(a.body());
        int completion = reported != null ? reported.path("completion_tokens").asInt() : tracker.estimatedCompletionTokens();
        boolean estimated = reported == null || reported.path("estimated").asBoolean(false);
        usage.record(new UsageRecord(ex.requestId(), a.model(), upstream.target().label(), prompt, completion, estimated, upstream.attempts().size(), outcome));
    }

    /**
     * One request served on its connection's event loop: the attempts (with backoff timers), the upstream's
     * bytes and the client's writes all happen on that one thread. Only a mid-answer continuation moves to a
     * virtual thread ({@link ChatRelay#push}).
     */
    private final class OnLoop {
        private final Exchange ex;
        private final Accepted a;
        private volatile boolean gone;
        private volatile Runnable cancelOpening = () -> {};
        private volatile ChatRelay relay;
        private boolean paused; // on the loop

        OnLoop(Exchange ex, Accepted a) {
            this.ex = ex;
            this.a = a;
        }

        void start() {
            var auth = ex.header("Authorization");
            var opener = RouteOpener.opener(a.route());
            var plan = RouteOpener.plan(a.route());
            ex.onClientGone(this::clientGone);
            if (gone) {
                streams.release();
                return;
            }
            try {
                cancelOpening = opener.openOn(ex.eventLoop(), plan, t -> RouteOpener.request(a.route(), t, a.body(), auth, a.stream()),
                    new java.util.ArrayList<>(), new RetryingOpener.Outcome() {
                        @Override
                        public void opened(RetryingOpener.Opened opened, EventLoopProvider.Pushing pushing) {
                            var upstream = RouteOpener.resilient(a.route(), a.body(), auth, a.stream(), plan, opener, opened);
                            ChatRelay r;
                            try {
                                r = relay(ex, a, upstream, streams::release);
                            } catch (RuntimeException e) {
                                upstream.close();
                                streams.release();
                                ex.abort(e);
                                return;
                            }
                            relay = r;
                            if (gone) {
                                r.cancel();
                                return;
                            }
                            pushing.onData(() -> {
                                r.push();
                                // A client reading slower than the upstream sends: stop reading the upstream
                                // (its TCP window fills, it waits) rather than buffer without bound.
                                if (!paused && !ex.isWritable() && ex.isOpen()) {
                                    paused = true;
                                    pushing.setReading(false);
                                    ex.whenWritable(() -> {
                                        paused = false;
                                        pushing.setReading(true);
                                    });
                                }
                            });
                        }

                        @Override
                        public void failed(UpstreamFailure f) {
                            streams.release();
                            if (!gone) refused(ex, a, f);
                        }
                    });
            } catch (RuntimeException e) {
                // Opening failed in the gateway itself (not the upstream): answered here, since no thread would.
                streams.release();
                ex.abort(e);
            }
        }

        private void clientGone() {
            gone = true;
            cancelOpening.run();
            var r = relay;
            if (r != null) r.cancel();
        }
    }
}
