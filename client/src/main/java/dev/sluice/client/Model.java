package dev.sluice.client;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.wire.json.Json;

/** One entry of {@code GET /models}; {@code raw} keeps provider fields (context length, pricing...). */
public record Model(String id, long created, String ownedBy, JsonNode raw) {

    static Model of(JsonNode node) {
        return new Model(Json.text(node.get("id")), node.path("created").asLong(0), Json.text(node.get("owned_by")), node);
    }
}
