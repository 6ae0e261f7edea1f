package dev.sluice.gateway.store;

import java.util.concurrent.atomic.AtomicLong;

/** Increasing list-order keys: microseconds since the epoch, bumped so that no two are equal in one process. */
public final class SortKeys {

    private static final AtomicLong LAST = new AtomicLong();

    private SortKeys() {}

    public static long next() {
        long now = System.currentTimeMillis() * 1000;
        return LAST.updateAndGet(last -> Math.max(last + 1, now));
    }
}
