package dev.sluice.gateway.resilience;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.gateway.provider.UpstreamRequest;
import dev.sluice.gateway.routing.Balancer;
import dev.sluice.gateway.routing.Route;
import java.util.ArrayList;
import java.util.List;
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
        var plan = plan(route);
        var opener = opener(route);
        var opened = opener.open(plan, t -> request(route, t, body, auth, streamed), new ArrayList<>());
        return resilient(route, body, auth, streamed, plan, opener, opened);
    }

    /** The deployments in the order to try them (the balancer's choice). */
    public static List<Route.Target> plan(Route route) {
        return Balancer.order(route, ThreadLocalRandom.current());
    }

    public static RetryingOpener opener(Route route) {
        return new RetryingOpener(route.policy(), RetryingOpener.Sleeper.REAL);
    }

    /** What deployment {@code target} is asked, for {@code body}. */
    public static UpstreamRequest request(Route route, Route.Target target, ObjectNode body, String auth, boolean streamed) {
        return new UpstreamRequest(body, target.deployment().model(), target.deployment().options(), auth, route.policy().timeouts(), streamed);
    }

    /** The answer as the client sees it, from the first opened attempt on (continuations use the same plan and opener). */
    public static ResilientStream resilient(Route route, ObjectNode body, String auth, boolean streamed, List<Route.Target> plan,
            RetryingOpener opener, RetryingOpener.Opened opened) {
        BiFunction<Route.Target, ObjectNode, UpstreamRequest> requestFor = (t, b) -> request(route, t, b, auth, streamed);
        return new ResilientStream(opened, plan, body, route.policy(), requestFor, opener);
    }
}
