package dev.sluice.gateway.routing;

import dev.sluice.gateway.config.GatewayConfig.Deployment;
import dev.sluice.gateway.provider.Provider;
import java.util.List;

/** Where a public model name goes: its deployments in order of preference, each with its provider. */
public record Route(String model, List<Target> targets) {

    public record Target(Provider provider, Deployment deployment) {
        /** {@code provider/model}, as shown in logs and the {@code x-sluice-deployment} header. */
        public String label() {
            return provider.name() + "/" + deployment.model();
        }
    }

    public Route {
        targets = List.copyOf(targets);
    }
}
