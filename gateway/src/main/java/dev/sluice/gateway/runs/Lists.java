package dev.sluice.gateway.runs;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.gateway.http.Exchange;
import dev.sluice.gateway.store.Page;
import dev.sluice.gateway.store.PageRequest;
import dev.sluice.wire.json.Json;

/** OpenAI list pagination: {@code limit}, {@code order}, {@code after}, {@code before} in; {@code {"object":"list",...}} out. */
final class Lists {

    private Lists() {}

    static PageRequest request(Exchange ex) {
        int limit = PageRequest.DEFAULT_LIMIT;
        var l = ex.query("limit");
        if (l != null) {
            try {
                limit = Integer.parseInt(l.trim());
            } catch (NumberFormatException e) {
                throw ApiException.badRequest("Invalid 'limit': expected an integer, got '" + l + "'.", "limit");
            }
            if (limit < 1 || limit > PageRequest.MAX_LIMIT) {
                throw ApiException.badRequest("Invalid 'limit': must be between 1 and " + PageRequest.MAX_LIMIT + ", got " + limit + ".", "limit");
            }
        }
        var order = ex.query("order") == null ? "desc" : ex.query("order");
        if (!order.equals("asc") && !order.equals("desc")) {
            throw ApiException.badRequest("Invalid value for 'order': '" + order + "'. Supported values are: 'asc' and 'desc'.", "order");
        }
        return new PageRequest(limit, order.equals("asc"), blankToNull(ex.query("after")), blankToNull(ex.query("before")));
    }

    static ObjectNode response(Page page, java.util.function.Function<dev.sluice.gateway.store.StoredObject, ObjectNode> render) {
        var out = Json.object();
        out.put("object", "list");
        var data = out.putArray("data");
        for (var item : page.items()) data.add(render.apply(item));
        if (page.items().isEmpty()) {
            out.putNull("first_id");
            out.putNull("last_id");
        } else {
            out.put("first_id", page.items().getFirst().id());
            out.put("last_id", page.items().getLast().id());
        }
        out.put("has_more", page.hasMore());
        return out;
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s;
    }
}
