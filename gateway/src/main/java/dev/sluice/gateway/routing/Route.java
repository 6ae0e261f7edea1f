package dev.sluice.gateway.routing;

import dev.sluice.gateway.config.GatewayConfig.Deployment;
import dev.sluice.gateway.config.GatewayConfig.RoutePolicy;
import dev.sluice.gateway.provider.Provider;
import java.util.List;

/** Where a public model name goes: its deployments in order of preference, and how to fail over between them. */
public record Route(String model, List<Target> targets, RoutePolicy policy) {

    public record Target(Provider provider, Deployment deployment, DeploymentHealth health) {
        /** {@code provider/model}, as shown in logs and the {@code x-sluice-deployment} header. */
        public String label() {
            return provider.name() + "/" + deployment.model();
        }
    }

    public Route {
        targets = List.copyOf(targets);
    }
}
