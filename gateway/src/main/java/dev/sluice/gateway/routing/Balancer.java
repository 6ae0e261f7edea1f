package dev.sluice.gateway.routing;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.random.RandomGenerator;

/**
 * Orders a route's deployments for one request: healthy ones first (the first picked by the route's
 * strategy, the rest in configured order as fallbacks), deployments in cooldown last, as a last resort.
 */
public final class Balancer {

    private Balancer() {}

    public static List<Route.Target> order(Route route, RandomGenerator random) {
        var healthy = new ArrayList<Route.Target>();
        var cooling = new ArrayList<Route.Target>();
        for (var t : route.targets()) (t.health().coolingDown() ? cooling : healthy).add(t);
        if (healthy.size() > 1) {
            int first = switch (route.policy().strategy()) {
                case ORDERED -> 0;
                case WEIGHTED -> weighted(healthy, random);
                case LEAST_IN_FLIGHT -> leastInFlight(healthy);
            };
            healthy.addFirst(healthy.remove(first));
        }
        healthy.addAll(cooling);
        return healthy;
    }

    private static int weighted(List<Route.Target> targets, RandomGenerator random) {
        int total = 0;
        for (var t : targets) total += Math.max(0, t.deployment().weight());
        if (total <= 0) return 0;
        int pick = random.nextInt(total);
        for (int i = 0; i < targets.size(); i++) {
            pick -= Math.max(0, targets.get(i).deployment().weight());
            if (pick < 0) return i;
        }
        return 0;
    }

    private static int leastInFlight(List<Route.Target> targets) {
        // Ties go to the earlier (preferred) deployment.
        var best = targets.stream().min(Comparator.comparingInt((Route.Target t) -> t.health().inFlight())).orElseThrow();
        return targets.indexOf(best);
    }

}
