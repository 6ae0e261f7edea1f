package dev.sluice.gateway.resilience;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.gateway.provider.UpstreamRequest;
import dev.sluice.gateway.routing.Balancer;
import dev.sluice.gateway.routing.Route;
import java.util.ArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.BiFunction;

/**
 * Opens a chat-shaped request on a route the one way every front end does: balancer order, retries and
 * fallbacks before the first byte ({@link RetryingOpener}), then mid-stream continuation and guaranteed
 * usage ({@link ResilientStream}). Shared so chat completions and Responses fail over identically.
 */
public final class RouteOpener {

    private RouteOpener() {}

    /**
     * @param auth the client's {@code Authorization} header, forwarded where the provider config asks for it (may be null)
     * @throws UpstreamFailure      every deployment refused before the first byte
     * @throws InterruptedException the calling thread was interrupted (the client left, or a cancel)
     */
    public static ResilientStream open(Route route, ObjectNode body, String auth) throws UpstreamFailure, InterruptedException {
        return open(route, body, auth, true);
    }

    /**
     * As {@link #open(Route, ObjectNode, String)}; {@code streamed} false says the caller needs the answer only
     * whole, so providers may ask their upstream for a non-streamed answer.
     */
    public static ResilientStream open(Route route, ObjectNode body, String auth, boolean streamed) throws UpstreamFailure, InterruptedException {
        BiFunction<Route.Target, ObjectNode, UpstreamRequest> requestFor = (t, b) ->
                new UpstreamRequest(b, t.deployment().model(), t.deployment().options(), auth, route.policy().timeouts(), streamed);
        var plan = Balancer.order(route, ThreadLocalRandom.current());
        var opener = new RetryingOpener(route.policy(), RetryingOpener.Sleeper.REAL);
        var opened = opener.open(plan, t -> requestFor.apply(t, body), new ArrayList<>());
        return new ResilientStream(opened, plan, body, route.policy(), requestFor, opener);
    }
}
