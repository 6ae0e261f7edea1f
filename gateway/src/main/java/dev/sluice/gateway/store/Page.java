package dev.sluice.gateway.store;

import java.util.List;

/** One page of a list and whether more items follow in the requested direction. */
public record Page(List<StoredObject> items, boolean hasMore) {
    public Page {
        items = List.copyOf(items);
    }
}
