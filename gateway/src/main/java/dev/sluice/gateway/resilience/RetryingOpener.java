package dev.sluice.gateway.resilience;

import dev.sluice.gateway.config.GatewayConfig.RoutePolicy;
import dev.sluice.gateway.provider.UpstreamException;
import dev.sluice.gateway.provider.UpstreamRequest;
import dev.sluice.gateway.provider.UpstreamStream;
import dev.sluice.gateway.routing.Route;
import dev.sluice.wire.chat.StreamEvent;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
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
        UpstreamException last = null;
        Route.Target lastTarget = null;
        for (var target : plan) {
            for (int retry = 0; retry <= policy.maxRetries(); retry++) {
                if (Thread.currentThread().isInterrupted()) throw new InterruptedException("client gone");
                try {
                    var stream = target.provider().open(requestFor.apply(target));
                    target.health().succeeded();
                    attempts.add(new Attempt(target.label(), "ok"));
                    return new Opened(tracked(stream, target), target, attempts);
                } catch (UpstreamException e) {
                    last = e;
                    lastTarget = target;
                    attempts.add(new Attempt(target.label(), outcome(e)));
                    if (!retryable(e)) throw new UpstreamFailure(e, target.label(), attempts);
                    target.health().failed(policy.cooldownFailures(), policy.cooldown().toNanos());
                    var retryAfter = e.retryAfter();
                    if (retryAfter != null && retryAfter.compareTo(policy.maxRetryAfter()) > 0) break; // not worth waiting for
                    if (retry == policy.maxRetries()) break;
                    sleeper.sleep(delay(retry, retryAfter));
                }
            }
        }
        throw new UpstreamFailure(last, lastTarget == null ? "none" : lastTarget.label(), attempts);
    }

    static boolean retryable(UpstreamException e) {
        return switch (e.kind()) {
            case CONNECTION, TIMEOUT -> true;
            case HTTP -> e.status() == 408 || e.status() == 409 || e.status() == 429 || e.status() >= 500;
        };
    }

    static String outcome(UpstreamException e) {
        return switch (e.kind()) {
            case CONNECTION -> "connection";
            case TIMEOUT -> "timeout";
            case HTTP -> Integer.toString(e.status());
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
            public synchronized void close() {
                if (closed) return;
                closed = true;
                target.health().ended();
                stream.close();
            }
        };
    }

}
