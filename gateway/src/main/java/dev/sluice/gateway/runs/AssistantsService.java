package dev.sluice.gateway.runs;

import dev.sluice.gateway.config.GatewayConfig;
import dev.sluice.gateway.http.Exchange;
import dev.sluice.gateway.routing.Router;

/**
 * The gateway's handle on the Assistants API. Durable storage opens at startup (creating the database,
 * migrating it and settling runs a crashed process left behind); in-memory storage, which only configs
 * built in code get, opens on the first Assistants request, so gateways that never use it pay nothing.
 */
public final class AssistantsService implements AutoCloseable {

    private final GatewayConfig config;
    private final Router router;
    private volatile AssistantsApi api;

    private final dev.sluice.gateway.usage.UsageSink usage;

    public AssistantsService(GatewayConfig config, Router router, dev.sluice.gateway.usage.UsageSink usage) {
        this.config = config;
        this.router = router;
        this.usage = usage;
        if (!config.storage().type().equals("memory")) api = AssistantsApi.start(config, router, usage);
    }

    public boolean handles(String route) {
        return AssistantsApi.handles(route);
    }

    public void handle(Exchange ex, String route) throws InterruptedException {
        api().handle(ex, route);
    }

    public AssistantsApi api() {
        var a = api;
        if (a != null) return a;
        synchronized (this) {
            if (api == null) api = AssistantsApi.start(config, router, usage);
            return api;
        }
    }

    @Override
    public void close() {
        var a = api;
        if (a != null) a.close();
    }
}
