package dev.sluice.gateway.resilience;

import dev.sluice.gateway.config.GatewayConfig.RoutePolicy;
import dev.sluice.gateway.provider.EventLoopProvider;
import dev.sluice.gateway.provider.UpstreamException;
import dev.sluice.gateway.provider.UpstreamRequest;
import dev.sluice.gateway.provider.UpstreamStream;
import dev.sluice.gateway.routing.Route;
import dev.sluice.wire.chat.StreamEvent;
import io.netty.channel.EventLoop;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The retry and fallback stage, before the first byte: tries the deployments in the order the balancer
 * chose, retrying each on connection failures, timeouts, 408/409/429 and 5xx with exponential backoff and
 * jitter (honouring Retry-After), then falling back to the next. Client errors (other 4xx) end it at once:
 * every deployment would refuse them alike. Deployment health (cooldown, in-flight) is updated as it goes.
 */
public final class RetryingOpener {

    /** An opened answer: the stream, which deployment serves it, and everything tried on the way. */
    public record Opened(UpstreamStream stream, Route.Target target, List<Attempt> attempts) {}

    /** Waits between attempts; tests replace it to avoid real sleeps. */
    public interface Sleeper {
        void sleep(Duration duration) throws InterruptedException;

        Sleeper REAL = d -> Thread.sleep(d);
    }

    private final RoutePolicy policy;
    private final Sleeper sleeper;

    public RetryingOpener(RoutePolicy policy, Sleeper sleeper) {
        this.policy = policy;
        this.sleeper = sleeper;
    }

    /**
     * @param plan       deployments in the order to try
     * @param requestFor the request for a deployment (its upstream model, options)
     */
    public Opened open(List<Route.Target> plan, Function<Route.Target, UpstreamRequest> requestFor, List<Attempt> attempts)
            throws UpstreamFailure, InterruptedException {
        if (plan.isEmpty()) throw new UpstreamFailure(null, "none", attempts);
        var walk = new Walk(plan, attempts);
        while (true) {
            if (Thread.currentThread().isInterrupted()) throw new InterruptedException("client gone");
            var target = walk.target();
            try {
                return walk.succeeded(target.provider().open(requestFor.apply(target)));
            } catch (UpstreamException e) {
                var wait = walk.failed(e);
                if (wait.isPositive()) sleeper.sleep(wait);
            }
        }
    }

    /** What {@link #openOn} reports, on the loop. */
    public interface Outcome {
        /** {@code pushing} is the provider's own stream inside {@code opened}, to be told where its news go. */
        void opened(Opened opened, EventLoopProvider.Pushing pushing);

        void failed(UpstreamFailure failure);
    }

    /**
     * {@link #open} on an event loop, without blocking: every deployment's provider must be an
     * {@link EventLoopProvider}; backoff waits are timers on the loop. Returns a handle that cancels what is in
     * flight (the attempt, or the wait before the next one); after it, {@code outcome} is not told.
     */
    public Runnable openOn(EventLoop loop, List<Route.Target> plan, Function<Route.Target, UpstreamRequest> requestFor,
            List<Attempt> attempts, Outcome outcome) {
        if (plan.isEmpty()) {
            loop.execute(() -> outcome.failed(new UpstreamFailure(null, "none", attempts)));
            return () -> {};
        }
        var walk = new Walk(plan, attempts);
        var attempt = new Object() {
            volatile boolean cancelled;
            volatile Runnable inFlight = () -> {};

            void next() {
                if (cancelled) return;
                var target = walk.target();
                var provider = (EventLoopProvider) target.provider();
                var opening = new EventLoopProvider.Opening() {
                    @Override
                    public void opened(EventLoopProvider.Pushing stream) {
                        if (cancelled) {
                            stream.close();
                            return;
                        }
                        outcome.opened(walk.succeeded(stream), stream);
                    }

                    @Override
                    public void failed(UpstreamException e) {
                        if (cancelled) return;
                        Duration wait;
                        try {
                            wait = walk.failed(e);
                        } catch (UpstreamFailure f) {
                            outcome.failed(f);
                            return;
                        }
                        if (!wait.isPositive()) {
                            next();
                            return;
                        }
                        var timer = loop.schedule(() -> next(), wait.toNanos(), TimeUnit.NANOSECONDS);
                        inFlight = () -> timer.cancel(false);
                    }
                };
                try {
                    inFlight = provider.openOn(loop, requestFor.apply(target), opening);
                } catch (RuntimeException e) {
                    // The request could not even be sent (say, a header value the config got wrong): a failed
                    // attempt like any other, so the client is answered, not left waiting on a timer's exception.
                    opening.failed(UpstreamException.connection("The request could not be sent: " + e.getMessage(), e));
                }
            }
        };
        if (loop.inEventLoop()) attempt.next();
        else loop.execute(attempt::next);
        return () -> {
            attempt.cancelled = true;
            attempt.inFlight.run();
        };
    }

    /**
     * Where the walk through the plan stands: which deployment is next, and what a failure means (retry the
     * same deployment after a wait, go on to the next one, or give up). Both {@link #open} and {@link #openOn}
     * walk with it, so they decide alike.
     */
    private final class Walk {
        private final List<Route.Target> plan;
        private final List<Attempt> attempts;
        private int index, retry;
        private UpstreamException last;
        private Route.Target lastTarget;

        Walk(List<Route.Target> plan, List<Attempt> attempts) {
            this.plan = plan;
            this.attempts = attempts;
        }

        Route.Target target() {
            return plan.get(index);
        }

        Opened succeeded(UpstreamStream stream) {
            var target = target();
            target.health().succeeded();
            attempts.add(new Attempt(target.label(), "ok"));
            return new Opened(tracked(stream, target), target, attempts);
        }

        /** The wait before the next attempt (zero: at once); throws when there is none. */
        Duration failed(UpstreamException e) throws UpstreamFailure {
            var target = target();
            last = e;
            lastTarget = target;
            attempts.add(new Attempt(target.label(), outcome(e)));
            if (!retryable(e)) throw new UpstreamFailure(e, target.label(), attempts);
            target.health().failed(policy.cooldownFailures(), policy.cooldown().toNanos());
            var retryAfter = e.retryAfter();
            boolean worthWaiting = retryAfter == null || retryAfter.compareTo(policy.maxRetryAfter()) <= 0;
            // Rejected credentials stay rejected: the next deployment, not the same one again.
            if (worthWaiting && retry < policy.maxRetries() && e.kind() != UpstreamException.Kind.CREDENTIALS) {
                return delay(retry++, retryAfter);
            }
            index++;
            retry = 0;
            if (index >= plan.size()) throw new UpstreamFailure(last, lastTarget.label(), attempts);
            return Duration.ZERO;
        }
    }

    static boolean retryable(UpstreamException e) {
        return switch (e.kind()) {
            case CONNECTION, TIMEOUT, CREDENTIALS -> true;
            case HTTP -> e.status() == 408 || e.status() == 409 || e.status() == 429 || e.status() >= 500;
        };
    }

    static String outcome(UpstreamException e) {
        return switch (e.kind()) {
            case CONNECTION -> "connection";
            case TIMEOUT -> "timeout";
            case HTTP, CREDENTIALS -> Integer.toString(e.status());
        };
    }

    /** Exponential backoff with ±25% jitter, capped; a Retry-After is waited for at least. */
    Duration delay(int retry, Duration retryAfter) {
        long base = policy.initialBackoff().toMillis() << Math.min(retry, 20);
        long capped = Math.min(base, policy.maxBackoff().toMillis());
        long jittered = (long) (capped * (0.75 + 0.5 * ThreadLocalRandom.current().nextDouble()));
        long wait = retryAfter == null ? jittered : Math.max(retryAfter.toMillis(), jittered);
        return Duration.ofMillis(wait);
    }

    /** Counts the answer as in flight on its deployment until it is closed. */
    static UpstreamStream tracked(UpstreamStream stream, Route.Target target) {
        target.health().started();
        return new UpstreamStream() {
            private boolean closed;

            @Override
            public StreamEvent next() throws IOException {
                return stream.next();
            }

            @Override
            public boolean completed() {
                return stream.completed();
            }

            @Override
            public int buffered() {
                return stream.buffered();
            }

            @Override
            public boolean ready() {
                return stream.ready();
            }

            @Override
            public synchronized void close() {
                if (closed) return;
                closed = true;
                target.health().ended();
                stream.close();
            }
        };
    }

}
