package dev.sluice.gateway.responses;

import dev.sluice.gateway.config.GatewayConfig;
import dev.sluice.gateway.http.Exchange;
import dev.sluice.gateway.routing.Router;
import dev.sluice.gateway.runs.AssistantsService;
import dev.sluice.gateway.usage.UsageSink;

/**
 * The gateway's handle on the Responses API. It shares the Assistants store (and so its database and
 * lifecycle): opened with it at startup for durable storage, on first use for in-memory storage.
 */
public final class ResponsesService implements AutoCloseable {

    private final GatewayConfig config;
    private final Router router;
    private final AssistantsService assistants;
    private final UsageSink usage;
    private volatile ResponsesApi api;

    /** @param usage where each response's usage record goes, the sink chat completions record to */
    public ResponsesService(GatewayConfig config, Router router, AssistantsService assistants, UsageSink usage) {
        this.config = config;
        this.usage = usage;
        this.router = router;
        this.assistants = assistants;
        if (!config.storage().type().equals("memory")) api();
    }

    public boolean handles(String route) {
        return ResponsesApi.handles(route);
    }

    public void handle(Exchange ex, String route) throws InterruptedException {
        api().handle(ex, route);
    }

    private ResponsesApi api() {
        var a = api;
        if (a != null) return a;
        synchronized (this) {
            if (api == null) api = new ResponsesApi(assistants.api().store(), router, config.limits(), usage);
            return api;
        }
    }

    @Override
    public void close() {
        var a = api;
        if (a != null) a.close();
    }
}
