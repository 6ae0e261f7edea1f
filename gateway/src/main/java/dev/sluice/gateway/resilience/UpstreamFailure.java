package dev.sluice.gateway.resilience;

import dev.sluice.gateway.provider.UpstreamException;
import java.util.List;

/** Every deployment of a route failed before answering; carries the last failure and what was tried. */
public final class UpstreamFailure extends Exception {

    private final UpstreamException last;
    private final String deployment;
    private final List<Attempt> attempts;

    public UpstreamFailure(UpstreamException last, String deployment, List<Attempt> attempts) {
        super(last.getMessage(), last, false, false);
        this.last = last;
        this.deployment = deployment;
        this.attempts = List.copyOf(attempts);
    }

    public UpstreamException last() {
        return last;
    }

    /** The deployment that failed last. */
    public String deployment() {
        return deployment;
    }

    public List<Attempt> attempts() {
        return attempts;
    }
}
