package dev.sluice.gateway;

import dev.sluice.gateway.chat.ChatCompletionsHandler;
import dev.sluice.gateway.config.GatewayConfig;
import dev.sluice.gateway.http.ApiError;
import dev.sluice.gateway.http.Exchange;
import dev.sluice.gateway.http.HttpHandler;
import dev.sluice.gateway.http.HttpServer;
import dev.sluice.gateway.provider.Provider;
import dev.sluice.gateway.provider.openai.OpenAiProvider;
import dev.sluice.gateway.provider.sim.SimProvider;
import dev.sluice.gateway.responses.ResponsesService;
import dev.sluice.gateway.routing.Router;
import dev.sluice.gateway.runs.AssistantsService;
import dev.sluice.gateway.usage.UsageSink;
import dev.sluice.wire.json.Json;
import java.util.LinkedHashMap;
import java.util.Map;

/** A running gateway: providers and routes built from the config, behind the HTTP server. */
public final class Gateway implements AutoCloseable {

    private final HttpServer server;
    private final GatewayConfig config;
    private final Router router;
    private final AssistantsService assistants;
    private final ResponsesService responses;

    private Gateway(GatewayConfig config, UsageSink usage) throws InterruptedException {
        this.config = config;
        var providers = new LinkedHashMap<String, Provider>();
        config.providers().forEach((name, p) -> providers.put(name, switch (p.type()) {
            case "sim" -> new SimProvider(name);
            default -> new OpenAiProvider(p);
        }));
        this.router = new Router(config, providers);
        var chat = new ChatCompletionsHandler(router, config.limits(), usage);
        var models = new ModelsHandler(router);
        this.assistants = new AssistantsService(config, router, usage);
        var assistants = this.assistants;
        this.responses = new ResponsesService(config, router, assistants, usage);
        var responses = this.responses;
        this.server = new HttpServer(config.host(), config.port(), config.limits().maxBodyBytes(),
                config.limits().requestTimeout(), config.limits().idleTimeout(),
                new dev.sluice.gateway.http.Cors(config.cors().allowOrigins(), config.cors().maxAge()), new HttpHandler() {
            @Override
            public void handle(Exchange ex) throws Exception {
                dispatch(ex, chat, models, assistants, responses);
            }

            @Override
            public boolean handleOnEventLoop(Exchange ex) {
                // Chat completions, the hot path, are relayed on the connection's event loop where they can be.
                return ex.method().equals("POST") && route(ex.path()).equals("/chat/completions") && chat.handleOnEventLoop(ex);
            }
        });
    }

    public static Gateway start(GatewayConfig config) throws InterruptedException {
        return new Gateway(config, UsageSink.LOG);
    }

    /** Starts a gateway whose per-request usage records go to {@code usage}. */
    public static Gateway start(GatewayConfig config, UsageSink usage) throws InterruptedException {
        return new Gateway(config, usage);
    }

    private static void dispatch(Exchange ex, ChatCompletionsHandler chat, ModelsHandler models, AssistantsService assistants,
            ResponsesService responses) throws Exception {
        var path = ex.path();
        var route = route(path);
        var method = ex.method();
        if (route.equals("/chat/completions")) {
            if (method.equals("POST")) chat.handle(ex);
            else ex.sendError(ApiError.methodNotAllowed(method, path, "POST"));
        } else if (route.equals("/models") || route.startsWith("/models/")) {
            if (method.equals("GET") || method.equals("HEAD")) models.handle(ex); // HEAD: the codec drops the body
            else ex.sendError(ApiError.methodNotAllowed(method, path, "GET"));
        } else if (responses.handles(route)) {
            responses.handle(ex, route);
        } else if (assistants.handles(route)) {
            assistants.handle(ex, route);
        } else if (path.equals("/healthz")) {
            if (method.equals("GET") || method.equals("HEAD")) {
                var ok = Json.object();
                ok.put("status", "ok");
                ex.sendJson(200, ok, Map.of());
            } else {
                ex.sendError(ApiError.methodNotAllowed(method, path, "GET"));
            }
        } else {
            ex.sendError(ApiError.notFound("Invalid URL (" + method + " " + path + ")", null, null));
        }
    }

    /** Clients differ on whether the base URL ends in /v1; both forms are served. */
    private static String route(String path) {
        return path.startsWith("/v1/") ? path.substring(3) : path;
    }

    public int port() {
        return server.port();
    }

    public GatewayConfig config() {
        return config;
    }

    public Router router() {
        return router;
    }

    @Override
    public void close() {
        server.close();
        responses.close(); // before the Assistants API, which owns the store
        assistants.close();
    }
}
