package dev.sluice.gateway.routing;

import dev.sluice.gateway.config.GatewayConfig;
import dev.sluice.gateway.config.GatewayConfig.Deployment;
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

    public Router(GatewayConfig config, Map<String, Provider> providers) {
        this.providers = Map.copyOf(providers);
        this.passthrough = config.passthroughProvider();
        config.providers().forEach((name, p) -> providerTypes.put(name, p.type()));
        for (var model : config.models()) {
            var targets = new ArrayList<Route.Target>();
            for (var d : model.deployments()) targets.add(new Route.Target(provider(d.provider()), d));
            routes.put(model.name(), new Route(model.name(), targets));
        }
    }

    public Optional<Route> route(String model) {
        var configured = routes.get(model);
        if (configured != null) return Optional.of(configured);
        int slash = model.indexOf('/');
        if (slash > 0 && slash < model.length() - 1) {
            var provider = providers.get(model.substring(0, slash));
            if (provider != null) {
                var upstreamModel = model.substring(slash + 1);
                return Optional.of(new Route(model, List.of(new Route.Target(provider, new Deployment(provider.name(), upstreamModel, 1, Map.of())))));
            }
        }
        if (passthrough != null) {
            var provider = provider(passthrough);
            return Optional.of(new Route(model, List.of(new Route.Target(provider, new Deployment(passthrough, model, 1, Map.of())))));
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
