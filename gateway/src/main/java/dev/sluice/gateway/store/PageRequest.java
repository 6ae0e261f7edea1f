package dev.sluice.gateway.store;

/**
 * A page of a list, as the OpenAI list endpoints ask for it: at most {@code limit} items in {@code ascending}
 * or descending creation order, starting after the object {@code after} or ending before {@code before}
 * (ids; either may be null).
 */
public record PageRequest(int limit, boolean ascending, String after, String before) {

    public static final int DEFAULT_LIMIT = 20;
    public static final int MAX_LIMIT = 100;

    public PageRequest {
        if (limit < 1 || limit > MAX_LIMIT) throw new IllegalArgumentException("limit must be between 1 and " + MAX_LIMIT);
    }
}
