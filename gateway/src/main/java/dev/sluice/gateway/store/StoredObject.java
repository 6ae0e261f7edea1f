package dev.sluice.gateway.store;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * One stored object: its API JSON ({@code body}, exactly what clients see) plus the columns the store
 * indexes and Sluice's own bookkeeping ({@code internal}, never shown to clients).
 *
 * @param id       the object id ({@code msg_...})
 * @param parentId the owner used for listing: a message's or run's thread, a step's run; null for top-level objects
 * @param refId    a secondary filter: a message's run; null otherwise
 * @param sortKey  list order, unique and increasing in creation order
 * @param status   the status column (runs, messages, steps); null when the kind has none
 * @param body     the API object
 * @param internal bookkeeping that is not part of the API object (may be empty)
 */
public record StoredObject(String id, String parentId, String refId, long sortKey, String status, ObjectNode body, ObjectNode internal) {

    public StoredObject withBody(ObjectNode body) {
        return new StoredObject(id, parentId, refId, sortKey, body.path("status").isTextual() ? body.get("status").asText() : status, body, internal);
    }

    public StoredObject withInternal(ObjectNode internal) {
        return new StoredObject(id, parentId, refId, sortKey, status, body, internal);
    }
}
