package dev.sluice.gateway;

import dev.sluice.gateway.http.ApiError;
import dev.sluice.gateway.http.Exchange;
import dev.sluice.gateway.http.HttpHandler;
import dev.sluice.gateway.routing.Router;
import dev.sluice.wire.json.Json;
import java.util.LinkedHashSet;
import java.util.Map;

/**
 * {@code GET /v1/models} and {@code GET /v1/models/{id}}: the configured public names and simulator models,
 * plus, in proxy mode, what the upstream itself lists.
 */
final class ModelsHandler implements HttpHandler {

    private final Router router;
    private final long created = System.currentTimeMillis() / 1000;

    ModelsHandler(Router router) {
        this.router = router;
    }

    @Override
    public void handle(Exchange ex) {
        var path = ex.path();
        var id = path.substring(path.indexOf("/models") + "/models".length());
        if (id.startsWith("/")) id = id.substring(1);
        if (!id.isEmpty()) {
            if (router.route(id).isEmpty()) {
                ex.sendError(ApiError.notFound("The model '" + id + "' does not exist", "model", "model_not_found"));
            } else {
                ex.sendJson(200, model(id, owner(id)), Map.of());
            }
            return;
        }
        var ids = new LinkedHashSet<>(router.modelIds());
        if (router.passthroughProvider() != null) {
            ids.addAll(router.provider(router.passthroughProvider()).listModels(ex.header("Authorization")));
        }
        var list = Json.object();
        list.put("object", "list");
        var data = list.putArray("data");
        for (var m : ids) data.add(model(m, owner(m)));
        ex.sendJson(200, list, Map.of());
    }

    private String owner(String id) {
        var route = router.route(id);
        return route.map(r -> r.targets().getFirst().provider().name()).orElse("sluice");
    }

    private com.fasterxml.jackson.databind.node.ObjectNode model(String id, String owner) {
        var m = Json.object();
        m.put("id", id);
        m.put("object", "model");
        m.put("created", created);
        m.put("owned_by", owner);
        return m;
    }

}
