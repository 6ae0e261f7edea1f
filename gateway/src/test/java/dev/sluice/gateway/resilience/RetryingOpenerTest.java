package dev.sluice.gateway.resilience;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.gateway.config.GatewayConfig.Deployment;
import dev.sluice.gateway.config.GatewayConfig.RoutePolicy;
import dev.sluice.gateway.config.GatewayConfig.Strategy;
import dev.sluice.gateway.provider.EventLoopProvider;
import dev.sluice.gateway.provider.Provider;
import io.netty.channel.EventLoop;
import dev.sluice.gateway.provider.UpstreamException;
import dev.sluice.gateway.provider.UpstreamRequest;
import dev.sluice.gateway.provider.UpstreamStream;
import dev.sluice.gateway.routing.Balancer;
import dev.sluice.gateway.routing.DeploymentHealth;
import dev.sluice.gateway.routing.Route;
import dev.sluice.wire.chat.StreamEvent;
import dev.sluice.wire.json.Json;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The retry and fallback stage on its own, with scripted providers and a recorded (not real) clock. */
class RetryingOpenerTest {

    /**
     * A provider that answers with the scripted outcomes in order: an exception to throw, or null to open. On an
     * event loop it answers the same way, a moment later, on the loop.
     */
    static final class Scripted implements EventLoopProvider {
        final String name;
        final Deque<UpstreamException> outcomes = new ArrayDeque<>();
        int calls;

        Scripted(String name, UpstreamException... failures) {
            this.name = name;
            for (var f : failures) outcomes.add(f);
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public Runnable openOn(EventLoop loop, UpstreamRequest request, Opening opening) {
            loop.execute(() -> {
                calls++;
                var next = outcomes.poll();
                if (next != null) opening.failed(next);
                else opening.opened(new Pushed());
            });
            return () -> {};
        }

        @Override
        public UpstreamStream open(UpstreamRequest request) throws UpstreamException {
            calls++;
            var next = outcomes.poll();
            if (next != null) throw next;
            return new Pushed();
        }
    }

    /** An answer that is over at once. */
    static final class Pushed implements EventLoopProvider.Pushing {
        @Override
        public void onData(Runnable onData) {}

        @Override
        public void setReading(boolean reading) {}

        @Override
        public StreamEvent next() {
            return null;
        }

        @Override
        public boolean completed() {
            return true;
        }

        @Override
        public void close() {}
    }

    static UpstreamException http(int status) {
        return UpstreamException.http(status, "status " + status, null, null, null);
    }

    static UpstreamException http429(Duration retryAfter) {
        return UpstreamException.http(429, "slow down", null, null, retryAfter);
    }

    final List<Duration> slept = new ArrayList<>();
    final RetryingOpener.Sleeper sleeper = slept::add;

    static Route route(RoutePolicy policy, Provider... providers) {
        var targets = new ArrayList<Route.Target>();
        for (var p : providers) targets.add(new Route.Target(p, new Deployment(p.name(), "m", 1, Map.of()), new DeploymentHealth()));
        return new Route("m", targets, policy);
    }

    static UpstreamRequest request(Route.Target t) {
        return new UpstreamRequest(Json.object(), t.deployment().model(), Map.of(), null, null, true);
    }

    RetryingOpener.Opened open(Route route) throws Exception {
        return new RetryingOpener(route.policy(), sleeper).open(route.targets(), RetryingOpenerTest::request, new ArrayList<>());
    }

    @Test
    void retriesTransientFailuresThenSucceeds() throws Exception {
        var a = new Scripted("a", http(503), UpstreamException.connection("refused", null));
        var opened = open(route(RoutePolicy.DEFAULTS, a));
        assertThat(a.calls).isEqualTo(3);
        assertThat(opened.attempts()).extracting(Attempt::outcome).containsExactly("503", "connection", "ok");
        assertThat(slept).hasSize(2);
        // Exponential with ±25% jitter around 250 ms, then 500 ms.
        assertThat(slept.get(0).toMillis()).isBetween(187L, 313L);
        assertThat(slept.get(1).toMillis()).isBetween(375L, 625L);
    }

    @Test
    void clientErrorsAreNeitherRetriedNorFallenBackFrom() {
        var a = new Scripted("a", http(400));
        var b = new Scripted("b");
        assertThatThrownBy(() -> open(route(RoutePolicy.DEFAULTS, a, b)))
                .isInstanceOf(UpstreamFailure.class)
                .satisfies(f -> assertThat(((UpstreamFailure) f).last().status()).isEqualTo(400));
        assertThat(a.calls).isEqualTo(1);
        assertThat(b.calls).isZero();
    }

    @Test
    void fallsBackToTheNextDeploymentAfterRetries() throws Exception {
        var a = new Scripted("a", http(500), http(502), http(503));
        var b = new Scripted("b");
        var opened = open(route(RoutePolicy.DEFAULTS, a, b));
        assertThat(opened.target().provider()).isSameAs(b);
        assertThat(opened.attempts()).extracting(Attempt::toString).containsExactly("a/m=500", "a/m=502", "a/m=503", "b/m=ok");
    }

    @Test
    void retryAfterIsHonouredAndALongOneSkipsToTheNextDeployment() throws Exception {
        var a = new Scripted("a", http429(Duration.ofSeconds(3)));
        open(route(RoutePolicy.DEFAULTS, a));
        assertThat(slept).containsExactly(Duration.ofSeconds(3));

        slept.clear();
        var slow = new Scripted("slow", http429(Duration.ofSeconds(60)));
        var b = new Scripted("b");
        var opened = open(route(RoutePolicy.DEFAULTS, slow, b));
        assertThat(slept).as("no 60 s wait: the next deployment is tried at once").isEmpty();
        assertThat(opened.target().provider()).isSameAs(b);
    }

    @Test
    void everyDeploymentFailingReportsTheLastFailureAndTheAttempts() {
        var a = new Scripted("a", http(503), http(503), http(503));
        var b = new Scripted("b", UpstreamException.timeout("slow"), UpstreamException.timeout("slow"), UpstreamException.timeout("slow"));
        assertThatThrownBy(() -> open(route(RoutePolicy.DEFAULTS, a, b)))
                .isInstanceOfSatisfying(UpstreamFailure.class, f -> {
                    assertThat(f.last().kind()).isEqualTo(UpstreamException.Kind.TIMEOUT);
                    assertThat(f.deployment()).isEqualTo("b/m");
                    assertThat(f.attempts()).hasSize(6);
                });
    }

    @Test
    void aDeploymentThatKeepsFailingCoolsDownAndGoesLast() throws Exception {
        var policy = new RoutePolicy(Strategy.ORDERED, 0, Duration.ofMillis(1), Duration.ofMillis(1), Duration.ofSeconds(1), 2, Duration.ofMinutes(1),
                RoutePolicy.DEFAULTS.midStream(), null);
        var a = new Scripted("a", http(500), http(500));
        var b = new Scripted("b");
        var route = route(policy, a, b);
        open(route);
        assertThat(Balancer.order(route, new SplittableRandom(1)).getFirst().provider()).as("one failure: still first").isSameAs(a);
        open(route);
        var order = Balancer.order(route, new SplittableRandom(1));
        assertThat(order).extracting(t -> t.provider().name()).containsExactly("b", "a");
        assertThat(route.targets().getFirst().health().coolingDown()).isTrue();
        // A success clears it.
        route.targets().getFirst().health().succeeded();
        assertThat(Balancer.order(route, new SplittableRandom(1)).getFirst().provider()).isSameAs(a);
    }

    @Test
    void weightedBalancingFollowsTheWeights() {
        var policy = new RoutePolicy(Strategy.WEIGHTED, 0, Duration.ofMillis(1), Duration.ofMillis(1), Duration.ofSeconds(1), 3, Duration.ofMinutes(1),
                RoutePolicy.DEFAULTS.midStream(), null);
        var a = new Route.Target(new Scripted("a"), new Deployment("a", "m", 3, Map.of()), new DeploymentHealth());
        var b = new Route.Target(new Scripted("b"), new Deployment("b", "m", 1, Map.of()), new DeploymentHealth());
        var route = new Route("m", List.of(a, b), policy);
        var counts = new HashMap<String, Integer>();
        var random = new SplittableRandom(42);
        for (int i = 0; i < 10_000; i++) counts.merge(Balancer.order(route, random).getFirst().provider().name(), 1, Integer::sum);
        assertThat(counts.get("a") / 10_000.0).isBetween(0.72, 0.78);
        assertThat(Balancer.order(route, random)).hasSize(2);
    }

    @Test
    void leastInFlightPicksTheIdlestDeployment() {
        var policy = new RoutePolicy(Strategy.LEAST_IN_FLIGHT, 0, Duration.ofMillis(1), Duration.ofMillis(1), Duration.ofSeconds(1), 3, Duration.ofMinutes(1),
                RoutePolicy.DEFAULTS.midStream(), null);
        var route = route(policy, new Scripted("a"), new Scripted("b"), new Scripted("c"));
        route.targets().get(0).health().started();
        route.targets().get(0).health().started();
        route.targets().get(1).health().started();
        assertThat(Balancer.order(route, new SplittableRandom(1))).extracting(t -> t.provider().name()).containsExactly("c", "a", "b");
    }

    // ------------------------------------------------------------------ the same walk on an event loop

    static final RoutePolicy FAST = new RoutePolicy(Strategy.ORDERED, 2, Duration.ofMillis(5), Duration.ofMillis(20), Duration.ofSeconds(10), 1000,
            Duration.ofMinutes(1), RoutePolicy.DEFAULTS.midStream(), null);

    /** What openOn reported, and on which thread. */
    static final class Reported implements RetryingOpener.Outcome {
        final java.util.concurrent.CompletableFuture<Object> result = new java.util.concurrent.CompletableFuture<>();
        volatile boolean onLoop;
        final EventLoop loop;

        Reported(EventLoop loop) {
            this.loop = loop;
        }

        @Override
        public void opened(RetryingOpener.Opened opened, EventLoopProvider.Pushing pushing) {
            onLoop = loop.inEventLoop();
            result.complete(opened);
        }

        @Override
        public void failed(UpstreamFailure failure) {
            onLoop = loop.inEventLoop();
            result.complete(failure);
        }

        Object await() throws Exception {
            return result.get(10, java.util.concurrent.TimeUnit.SECONDS);
        }
    }

    static Reported openOn(EventLoop loop, Route route) {
        var reported = new Reported(loop);
        new RetryingOpener(route.policy(), d -> {
            throw new AssertionError("the loop opener must not sleep");
        }).openOn(loop, route.targets(), RetryingOpenerTest::request, new ArrayList<>(), reported);
        return reported;
    }

    @Test
    void onAnEventLoopRetriesAndFallbacksGoTheSameWayWithTimersInsteadOfSleeps() throws Exception {
        var group = new io.netty.channel.DefaultEventLoopGroup(1);
        try {
            var loop = group.next();
            var a = new Scripted("a", http(500), http(502), http(503));
            var b = new Scripted("b");
            long start = System.nanoTime();
            var reported = openOn(loop, route(FAST, a, b));
            var opened = (RetryingOpener.Opened) reported.await();
            assertThat(reported.onLoop).isTrue();
            assertThat(opened.target().provider()).isSameAs(b);
            assertThat(opened.attempts()).extracting(Attempt::toString).containsExactly("a/m=500", "a/m=502", "a/m=503", "b/m=ok");
            // Two backoff waits (5 ms, then 10 ms, each -25% at most) passed on the loop's timers.
            assertThat(Duration.ofNanos(System.nanoTime() - start).toMillis()).isGreaterThanOrEqualTo(11);

            var c = new Scripted("c", http(400));
            var d = new Scripted("d");
            var refused = (UpstreamFailure) openOn(loop, route(FAST, c, d)).await();
            assertThat(refused.last().status()).as("a client error ends the walk").isEqualTo(400);
            assertThat(d.calls).isZero();

            var e = new Scripted("e", http(503), http(503), http(503));
            var f = new Scripted("f", UpstreamException.timeout("slow"), UpstreamException.timeout("slow"), UpstreamException.timeout("slow"));
            var failed = (UpstreamFailure) openOn(loop, route(FAST, e, f)).await();
            assertThat(failed.last().kind()).isEqualTo(UpstreamException.Kind.TIMEOUT);
            assertThat(failed.attempts()).hasSize(6);
        } finally {
            group.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS);
        }
    }

    @Test
    void cancellingOnAnEventLoopStopsTheWaitBeforeTheNextAttempt() throws Exception {
        var group = new io.netty.channel.DefaultEventLoopGroup(1);
        try {
            var loop = group.next();
            var slowPolicy = new RoutePolicy(Strategy.ORDERED, 2, Duration.ofMillis(300), Duration.ofMillis(300), Duration.ofSeconds(10), 1000,
                    Duration.ofMinutes(1), RoutePolicy.DEFAULTS.midStream(), null);
            var a = new Scripted("a", http(503));
            var reported = new Reported(loop);
            var cancel = new RetryingOpener(slowPolicy, RetryingOpener.Sleeper.REAL)
                    .openOn(loop, route(slowPolicy, a).targets(), RetryingOpenerTest::request, new ArrayList<>(), reported);
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (a.calls == 0 && System.nanoTime() < deadline) Thread.sleep(1);
            cancel.run();
            Thread.sleep(600); // past the backoff: a retry would have happened by now
            assertThat(a.calls).as("no attempt after the cancel").isEqualTo(1);
            assertThat(reported.result).as("nobody is told after a cancel").isNotDone();
        } finally {
            group.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS);
        }
    }
}
