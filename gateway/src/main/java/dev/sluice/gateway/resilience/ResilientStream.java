package dev.sluice.gateway.resilience;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.client.ChatBodyDecoder;
import dev.sluice.gateway.config.GatewayConfig.MidStream;
import dev.sluice.gateway.config.GatewayConfig.RoutePolicy;
import dev.sluice.gateway.provider.UpstreamRequest;
import dev.sluice.gateway.provider.UpstreamStream;
import dev.sluice.gateway.routing.Route;
import dev.sluice.gateway.usage.TokenEstimator;
import dev.sluice.gateway.usage.UsageTracker;
import dev.sluice.wire.chat.ChoiceSet;
import dev.sluice.wire.chat.StreamError;
import dev.sluice.wire.chat.StreamEvent;
import dev.sluice.wire.json.Json;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;

/**
 * The answer as the client sees it, whatever happens upstream after the first byte. When an upstream dies,
 * stalls or reports a transient error mid-answer, the same answer continues from another deployment (or
 * the same one, last), re-asked with the text already sent ({@link Continuation}); the client keeps one
 * stream: one id, no repeated text, one finish, usage summed over the attempts. Failover covers
 * single-choice text answers; once a tool call or several choices have streamed, a failure ends the answer
 * with an error event instead. It also makes sure usage is reported: estimated with a tokenizer, and
 * marked so, when no upstream number exists.
 */
public final class ResilientStream implements UpstreamStream {

    static final int MAX_SWITCHES = 2;

    private final RoutePolicy policy;
    private final List<Route.Target> plan;
    private final ObjectNode originalBody;
    private final BiFunction<Route.Target, ObjectNode, UpstreamRequest> requestFor;
    private final RetryingOpener opener;
    private final List<Attempt> attempts;

    private volatile UpstreamStream current;
    private Route.Target currentTarget;
    private ObjectNode currentBody;
    private volatile boolean closed;
    private int switches;
    /** A mid-answer failure seen and not yet acted on: {@link #poll()} leaves the (blocking) continuation to {@link #next()}. */
    private String failoverReason;

    private final ArrayDeque<StreamEvent> pending = new ArrayDeque<>();
    private final StringBuilder sentText = new StringBuilder();
    private final ChoiceSet choicesSeen = new ChoiceSet();
    private final ChoiceSet finished = new ChoiceSet();
    private boolean toolCallSeen, metadataSent, roleSent, usageSent, ended;
    private UsageTracker attempt = new UsageTracker();
    private JsonNode priorUsage;
    private boolean priorEstimated;

    // After a switch: continuation text held back while it might be a repeat of what was already sent.
    private String dedupeTarget;
    private final StringBuilder dedupeBuffer = new StringBuilder();

    public ResilientStream(RetryingOpener.Opened first, List<Route.Target> plan, ObjectNode body, RoutePolicy policy,
            BiFunction<Route.Target, ObjectNode, UpstreamRequest> requestFor, RetryingOpener opener) {
        this.current = first.stream();
        this.currentTarget = first.target();
        this.plan = List.copyOf(plan);
        this.originalBody = body;
        this.currentBody = body;
        this.policy = policy;
        this.requestFor = requestFor;
        this.opener = opener;
        this.attempts = first.attempts();
    }

    /** Every deployment tried so far, in order. */
    public List<Attempt> attempts() {
        return List.copyOf(attempts);
    }

    /** The deployment serving the answer now. */
    public Route.Target target() {
        return currentTarget;
    }

    /** Whether the usage reported to the client is (partly) an estimate. */
    public boolean usageEstimated() {
        return priorEstimated || (attempt.reported() == null);
    }

    @Override
    public StreamEvent next() throws IOException {
        return advance(true);
    }

    /**
     * {@link #next()} for an event loop, which must never block: the next event when one is at hand, else null.
     * After a null, {@link #isEnded()} says the answer is over and {@link #failoverPending()} that the next step
     * is a continuation, which blocks (it opens another upstream): the caller goes on with {@link #next()} on a
     * thread that may block. Otherwise more must arrive from the upstream first.
     */
    public StreamEvent poll() throws IOException {
        return advance(false);
    }

    /** Every event was taken and the answer is over. */
    public boolean isEnded() {
        return ended && pending.isEmpty();
    }

    /** {@link #poll()} stopped at a mid-answer failure that a continuation will take over. */
    public boolean failoverPending() {
        return failoverReason != null;
    }

    private StreamEvent advance(boolean mayBlock) throws IOException {
        while (true) {
            if (!pending.isEmpty()) return pending.poll();
            if (ended) return null;
            if (failoverReason != null) {
                if (!mayBlock) return null;
                var reason = failoverReason;
                failoverReason = null;
                failover(reason);
                continue;
            }
            if (!mayBlock && !current.ready()) return null;
            StreamEvent event;
            try {
                event = current.next();
            } catch (IOException e) {
                if (!canFailover()) throw e;
                failoverReason = e instanceof java.net.http.HttpTimeoutException ? "timeout" : "connection";
                continue;
            }
            if (event == null) {
                if (!current.completed() && !allFinished() && canFailover()) {
                    failoverReason = "incomplete";
                    continue;
                }
                flushDedupe();
                guaranteeUsage();
                ended = true;
                continue;
            }
            if (event instanceof StreamEvent.Error e) {
                if (isTransient(e.error()) && canFailover()) {
                    failoverReason = "error";
                    continue;
                }
                // The answer ends here: what it cost so far is still reported, ahead of the error.
                flushDedupe();
                guaranteeUsage();
                ended = true;
            }
            accept(event);
        }
    }

    private void accept(StreamEvent event) {
        attempt.accept(event);
        switch (event) {
            case StreamEvent.Metadata m -> {
                if (metadataSent && switches > 0) return; // the stream keeps the identity it started with
                metadataSent = true;
            }
            case StreamEvent.Role r -> {
                choicesSeen.add(r.choice());
                if (r.choice() == 0 && roleSent) return;
                if (r.choice() == 0) roleSent = true;
            }
            case StreamEvent.TextDelta t -> {
                choicesSeen.add(t.choice());
                if (t.choice() == 0 && dedupeTarget != null) {
                    dedupe(t.text());
                    return;
                }
                if (t.choice() == 0) sentText.append(t.text());
            }
            case StreamEvent.ToolCallStart s -> {
                choicesSeen.add(s.choice());
                toolCallSeen = true;
            }
            case StreamEvent.ToolCallArguments a -> toolCallSeen = true;
            case StreamEvent.RefusalDelta r -> choicesSeen.add(r.choice());
            case StreamEvent.ReasoningDelta r -> choicesSeen.add(r.choice());
            case StreamEvent.Finish f -> {
                flushDedupe();
                choicesSeen.add(f.choice());
                finished.add(f.choice());
            }
            case StreamEvent.Usage u -> {
                usageSent = true;
                pending.add(new StreamEvent.Usage(sum(priorUsage, u.usage(), priorEstimated)));
                return;
            }
            default -> flushDedupe();
        }
        pending.add(event);
    }

    /** Holds continuation text while it is a prefix of what was sent; drops an exact repeat. */
    private void dedupe(String text) {
        dedupeBuffer.append(text);
        var buffered = dedupeBuffer.toString();
        if (dedupeTarget.startsWith(buffered)) {
            if (buffered.length() == dedupeTarget.length()) {
                dedupeTarget = null;
                dedupeBuffer.setLength(0);
            }
            return;
        }
        var fresh = buffered.startsWith(dedupeTarget) ? buffered.substring(dedupeTarget.length()) : buffered;
        dedupeTarget = null;
        dedupeBuffer.setLength(0);
        if (!fresh.isEmpty()) {
            sentText.append(fresh);
            pending.add(new StreamEvent.TextDelta(0, fresh));
        }
    }

    private void flushDedupe() {
        if (dedupeTarget == null) return;
        dedupeTarget = null;
        if (!dedupeBuffer.isEmpty()) {
            sentText.append(dedupeBuffer);
            pending.add(new StreamEvent.TextDelta(0, dedupeBuffer.toString()));
            dedupeBuffer.setLength(0);
        }
    }

    private boolean canFailover() {
        // A cancelled answer (closed, or its thread interrupted because the client left) is not an upstream
        // failure: no new attempt, and no mark against the deployment's health.
        return policy.midStream() == MidStream.CONTINUE && !closed && !Thread.currentThread().isInterrupted()
                && switches < MAX_SWITCHES && !toolCallSeen
                && !finished.contains(0) && (choicesSeen.isEmpty() || choicesSeen.isOnly(0))
                && originalBody.path("n").asInt(1) == 1;
    }

    private boolean allFinished() {
        return !choicesSeen.isEmpty() && finished.containsAll(choicesSeen);
    }

    /** Errors that another attempt could fix: not the client's fault (no 4xx code, not an invalid request). */
    static boolean isTransient(StreamError error) {
        var code = error.code();
        if (code != null && code.matches("4\\d\\d") && !code.equals("408") && !code.equals("429")) return false;
        var raw = error.raw();
        var status = raw == null ? null : Json.text(raw.get("status_code"));
        if (status != null && status.matches("4\\d\\d") && !status.equals("408") && !status.equals("429")) return false;
        return !"invalid_request_error".equals(error.type()) && !"content_filter".equals(code)
                && !ChatBodyDecoder.TOO_LARGE.equals(code);
    }

    private void failover(String reason) throws IOException {
        attempts.add(new Attempt(currentTarget.label(), "midstream-" + reason));
        currentTarget.health().failed(policy.cooldownFailures(), policy.cooldown().toNanos());
        var reported = attempt.reported();
        var used = reported != null ? reported
                : TokenEstimator.usage(TokenEstimator.prompt(currentBody), attempt.estimatedCompletionTokens());
        priorEstimated |= reported == null;
        priorUsage = sum(priorUsage, used, false);
        current.close();

        // Another deployment first; the one that failed only as the last resort.
        var order = new ArrayList<Route.Target>();
        for (var t : plan) if (t != currentTarget) order.add(t);
        order.add(currentTarget);
        String partial = sentText.toString();
        int soFar = priorUsage.path("completion_tokens").asInt();
        try {
            var opened = opener.open(order, t -> {
                var mode = String.valueOf(t.deployment().options().getOrDefault("continuation", "prefill"));
                currentBody = Continuation.body(originalBody, partial, mode, soFar);
                return requestFor.apply(t, currentBody);
            }, attempts);
            if (closed) {
                opened.stream().close();
                throw new IOException("cancelled");
            }
            current = opened.stream();
            currentTarget = opened.target();
            switches++;
            attempt = new UsageTracker();
            // Even a one-word partial: a model that restarts its answer repeats it exactly, while one that continues
            // it almost never begins with the very same text.
            dedupeTarget = partial.isEmpty() ? null : partial;
            dedupeBuffer.setLength(0);
        } catch (UpstreamFailure f) {
            ended = true;
            if (usageSent || priorUsage != null) pending.add(new StreamEvent.Usage(priorUsage));
            pending.add(new StreamEvent.Error(StreamError.of("The upstream failed mid-answer (" + reason + ") and no deployment could continue it: "
                    + f.getMessage(), "server_error", "upstream_failover_failed")));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("cancelled while failing over");
        }
    }

    private void guaranteeUsage() {
        if (attempt.reported() != null) return;
        var estimate = TokenEstimator.usage(TokenEstimator.prompt(currentBody), attempt.estimatedCompletionTokens());
        pending.add(new StreamEvent.Usage(sum(priorUsage, estimate, true)));
        usageSent = true;
    }

    /** Adds the counts of two usage objects; the later one's details are kept. */
    static JsonNode sum(JsonNode prior, JsonNode later, boolean estimated) {
        if (prior == null) {
            if (!estimated || later.has("estimated")) return later;
            var copy = ((ObjectNode) later).deepCopy();
            copy.put("estimated", true);
            return copy;
        }
        var out = later.isObject() ? ((ObjectNode) later).deepCopy() : Json.object();
        for (var field : new String[] {"prompt_tokens", "completion_tokens", "total_tokens"}) {
            out.put(field, prior.path(field).asInt() + later.path(field).asInt());
        }
        if (estimated || prior.path("estimated").asBoolean() || later.path("estimated").asBoolean()) out.put("estimated", true);
        return out;
    }

    @Override
    public boolean completed() {
        return current.completed() || allFinished();
    }

    @Override
    public int buffered() {
        // While a continuation is checked for repeats, events may be held back: count none from upstream, so
        // a relay flushes rather than wait on them.
        return pending.size() + (dedupeTarget == null && !ended ? current.buffered() : 0);
    }

    @Override
    public void close() {
        closed = true;
        current.close();
    }
}
