package dev.sluice.gateway.http;

import io.netty.channel.Channel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * What a connection's handler thread and its event loop share: actions to run when the client goes away,
 * and the wait for the socket to drain so a slow client never makes the gateway buffer without bound.
 */
final class ChannelState {

    private final Channel channel;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition writable = lock.newCondition();
    private final List<Runnable> closeActions = new ArrayList<>();
    private boolean closed;

    ChannelState(Channel channel) {
        this.channel = channel;
    }

    void onClose(Runnable action) {
        lock.lock();
        try {
            if (!closed) {
                closeActions.add(action);
                return;
            }
        } finally {
            lock.unlock();
        }
        action.run();
    }

    /** The response finished normally: the close actions belong to it and are dropped. */
    void clearCloseActions() {
        lock.lock();
        try {
            closeActions.clear();
        } finally {
            lock.unlock();
        }
    }

    void closed() {
        writableActions.clear();
        List<Runnable> actions;
        lock.lock();
        try {
            closed = true;
            actions = List.copyOf(closeActions);
            closeActions.clear();
            writable.signalAll();
        } finally {
            lock.unlock();
        }
        for (var action : actions) {
            try {
                action.run();
            } catch (RuntimeException ignored) {
                // A failing cancel must not stop the others.
            }
        }
    }

    // On the event loop only.
    private final java.util.ArrayDeque<Runnable> writableActions = new java.util.ArrayDeque<>();

    /** On the event loop: runs {@code action} when the channel is writable (now, if it is). */
    void whenWritable(Runnable action) {
        if (channel.isWritable()) action.run();
        else if (channel.isActive()) writableActions.add(action);
    }

    void writabilityChanged() {
        lock.lock();
        try {
            writable.signalAll();
        } finally {
            lock.unlock();
        }
        while (channel.isWritable() && !writableActions.isEmpty()) writableActions.poll().run();
    }

    /** Blocks while the outbound buffer is above its high-water mark; returns false if the client is gone. */
    boolean awaitWritable() {
        if (channel.isWritable()) return channel.isActive();
        lock.lock();
        try {
            while (!channel.isWritable() && !closed && channel.isActive()) {
                writable.await(100, java.util.concurrent.TimeUnit.MILLISECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            lock.unlock();
        }
        return channel.isActive();
    }
}
