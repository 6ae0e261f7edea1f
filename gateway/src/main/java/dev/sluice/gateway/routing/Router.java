package dev.sluice.gateway.routing;

import dev.sluice.gateway.config.GatewayConfig;
import dev.sluice.gateway.config.GatewayConfig.Deployment;
import dev.sluice.gateway.config.GatewayConfig.RoutePolicy;
import dev.sluice.gateway.provider.Provider;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Resolves the model a client asked for: a configured public name first, then {@code provider/model}
 * addressing (e.g. {@code openrouter/anthropic/claude-3.5-sonnet}, {@code sim/echo}), then, in proxy mode,
 * the name unchanged on the passthrough provider.
 */
public final class Router {

    /** Models of the built-in simulator, listed by {@code /v1/models}. */
    public static final List<String> SIM_MODELS = List.of("echo", "lorem");

    private final Map<String, Provider> providers;
    private final Map<String, Route> routes = new LinkedHashMap<>();
    private final String passthrough;
    private final Map<String, String> providerTypes = new LinkedHashMap<>();
    private final Map<String, DeploymentHealth> health = new java.util.concurrent.ConcurrentHashMap<>();

    public Router(GatewayConfig config, Map<String, Provider> providers) {
        this.providers = Map.copyOf(providers);
        this.passthrough = config.passthroughProvider();
        config.providers().forEach((name, p) -> providerTypes.put(name, p.type()));
        for (var model : config.models()) {
            var targets = new ArrayList<Route.Target>();
            for (var d : model.deployments()) targets.add(target(provider(d.provider()), d));
            routes.put(model.name(), new Route(model.name(), targets, model.policy()));
        }
    }

    /** One health record per deployment, shared by configured routes and provider/model addressing alike. */
    private Route.Target target(Provider provider, Deployment d) {
        return new Route.Target(provider, d, health.computeIfAbsent(provider.name() + "/" + d.model(), k -> new DeploymentHealth()));
    }

    public Optional<Route> route(String model) {
        var configured = routes.get(model);
        if (configured != null) return Optional.of(configured);
        int slash = model.indexOf('/');
        if (slash > 0 && slash < model.length() - 1) {
            var provider = providers.get(model.substring(0, slash));
            if (provider != null) {
                var upstreamModel = model.substring(slash + 1);
                return Optional.of(new Route(model, List.of(target(provider, new Deployment(provider.name(), upstreamModel, 1, Map.of()))), RoutePolicy.DEFAULTS));
            }
        }
        if (passthrough != null) {
            var provider = provider(passthrough);
            return Optional.of(new Route(model, List.of(target(provider, new Deployment(passthrough, model, 1, Map.of()))), RoutePolicy.DEFAULTS));
        }
        return Optional.empty();
    }

    /** The model ids this gateway can name without asking an upstream: configured names and simulator models. */
    public List<String> modelIds() {
        var ids = new ArrayList<>(routes.keySet());
        providerTypes.forEach((name, type) -> {
            if (type.equals("sim")) for (var m : SIM_MODELS) ids.add(name + "/" + m);
        });
        return ids;
    }

    public String passthroughProvider() {
        return passthrough;
    }

    public Provider provider(String name) {
        var p = providers.get(name);
        if (p == null) throw new IllegalArgumentException("no provider named " + name);
        return p;
    }
}
