package dev.sluice.gateway.routing;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Live state of one deployment, shared by every request: answers in flight (for least-in-flight balancing)
 * and consecutive failures, which put it in cooldown (a circuit breaker) so traffic goes elsewhere.
 */
public final class DeploymentHealth {

    private final AtomicInteger inFlight = new AtomicInteger();
    private final AtomicInteger consecutiveFailures = new AtomicInteger();
    private final AtomicLong coolUntilNanos = new AtomicLong();

    public int inFlight() {
        return inFlight.get();
    }

    public void started() {
        inFlight.incrementAndGet();
    }

    public void ended() {
        inFlight.decrementAndGet();
    }

    public void succeeded() {
        consecutiveFailures.set(0);
        coolUntilNanos.set(0);
    }

    /** Records a failure; after {@code threshold} in a row the deployment cools down for {@code cooldownNanos}. */
    public void failed(int threshold, long cooldownNanos) {
        if (consecutiveFailures.incrementAndGet() >= threshold) {
            coolUntilNanos.set(System.nanoTime() + cooldownNanos);
        }
    }

    public boolean coolingDown() {
        long until = coolUntilNanos.get();
        return until != 0 && System.nanoTime() - until < 0;
    }

    public int consecutiveFailures() {
        return consecutiveFailures.get();
    }
}
