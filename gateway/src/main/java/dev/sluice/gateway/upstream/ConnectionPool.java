package dev.sluice.gateway.upstream;

import io.netty.channel.EventLoop;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.concurrent.TimeUnit;

/**
 * The idle keep-alive connections of one event loop, by target. Only ever touched on that loop, so plain
 * collections and no locks. Newest connections are reused first: the oldest are the likeliest to have been
 * closed by the server, and they are the ones the sweep retires.
 */
final class ConnectionPool {

    static final long IDLE_NANOS = TimeUnit.SECONDS.toNanos(60);
    static final int MAX_IDLE_PER_TARGET = 256;
    private static final long SWEEP_SECONDS = 15;

    private final EventLoop loop;
    private final HashMap<UpstreamHttp.Target, ArrayDeque<Connection>> idle = new HashMap<>();
    private ScheduledFuture<?> sweep;
    private boolean closed;

    ConnectionPool(EventLoop loop) {
        this.loop = loop;
    }

    EventLoop loop() {
        return loop;
    }

    /** A live idle connection to {@code target}, or null. */
    Connection checkout(UpstreamHttp.Target target) {
        var deque = idle.get(target);
        if (deque == null) return null;
        var now = System.nanoTime();
        Connection c;
        while ((c = deque.pollLast()) != null) {
            if (c.isActive() && now - c.idleSince < IDLE_NANOS) return c;
            c.close();
        }
        return null;
    }

    /** Takes back a connection whose exchange ended cleanly; closes it if the pool is full or closed. */
    void release(Connection c) {
        c.unbind();
        if (closed || !c.isActive()) {
            c.close();
            return;
        }
        var deque = idle.computeIfAbsent(c.target(), t -> new ArrayDeque<>());
        if (deque.size() >= MAX_IDLE_PER_TARGET) {
            c.close();
            return;
        }
        c.idleSince = System.nanoTime();
        deque.addLast(c);
        if (sweep == null) sweep = loop.scheduleAtFixedRate(this::sweep, SWEEP_SECONDS, SWEEP_SECONDS, TimeUnit.SECONDS);
    }

    /** Forgets a connection that closed (the server hung up on it while pooled, or it was retired). */
    void remove(Connection c) {
        var deque = idle.get(c.target());
        if (deque != null && deque.remove(c) && deque.isEmpty()) idle.remove(c.target());
    }

    private void sweep() {
        var now = System.nanoTime();
        for (var it = idle.values().iterator(); it.hasNext(); ) {
            var deque = it.next();
            while (!deque.isEmpty() && now - deque.peekFirst().idleSince >= IDLE_NANOS) deque.pollFirst().close();
            if (deque.isEmpty()) it.remove();
        }
        // No timer ticks on a loop whose pool is empty; release() starts it again.
        if (idle.isEmpty()) cancelSweep();
    }

    private void cancelSweep() {
        if (sweep != null) {
            sweep.cancel(false);
            sweep = null;
        }
    }

    void close() {
        closed = true;
        cancelSweep();
        var all = idle.values().stream().flatMap(ArrayDeque::stream).toList();
        idle.clear();
        all.forEach(Connection::close);
    }
}
