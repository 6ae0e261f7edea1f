package dev.sluice.client;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * Read timeouts for blocking sockets without {@code SO_TIMEOUT}. A timed read on a virtual thread parks
 * with a deadline, and every such park schedules (and cancels) a task on the JDK scheduler's delay queue,
 * waking its thread: on a relay that reads one chunk at a time, that is one more thread wake-up per chunk.
 * Here reads park untimed; one daemon thread looks at the armed deadlines every {@link #TICK_MILLIS} and
 * closes the socket of a read that outlived its own, which releases the reader. A timeout therefore fires
 * up to one tick late, never early.
 */
final class ReadDeadlines {

    static final long TICK_MILLIS = 10;

    /** The deadline value a timed-out read finds: the watchdog claimed it and is closing the socket. */
    static final long EXPIRED = Long.MIN_VALUE;

    /** One watched connection: its armed deadline ({@link System#nanoTime()}, 0 when no read is timed) and how to abort it. */
    interface Watched {
        AtomicLong deadline();

        void abort();
    }

    private static final ReadDeadlines SHARED = new ReadDeadlines();

    static ReadDeadlines shared() {
        return SHARED;
    }

    private final Set<Watched> watched = ConcurrentHashMap.newKeySet();
    private volatile Thread thread;

    void watch(Watched w) {
        watched.add(w);
        var t = thread;
        if (t == null) start();
        else LockSupport.unpark(t); // it parks without a tick while nothing is watched
    }

    void unwatch(Watched w) {
        watched.remove(w);
    }

    /** Arms a read: it must end before {@code timeoutNanos} from now. */
    static void arm(Watched w, long timeoutNanos) {
        long d = System.nanoTime() + timeoutNanos;
        w.deadline().set(d == 0 || d == EXPIRED ? 1 : d);
    }

    /** Disarms after the read returned or failed; true when the watchdog had already timed it out. */
    static boolean expired(Watched w) {
        return w.deadline().getAndSet(0) == EXPIRED;
    }

    private synchronized void start() {
        if (thread != null) return;
        thread = Thread.ofPlatform().daemon().name("sluice-read-deadlines").start(this::run);
    }

    private void run() {
        while (true) {
            if (watched.isEmpty()) LockSupport.park(this);
            else LockSupport.parkNanos(this, TimeUnit.MILLISECONDS.toNanos(TICK_MILLIS));
            long now = System.nanoTime();
            for (var w : watched) {
                var deadline = w.deadline();
                long d = deadline.get();
                if (d != 0 && d != EXPIRED && now - d >= 0 && deadline.compareAndSet(d, EXPIRED)) {
                    try {
                        w.abort();
                    } catch (RuntimeException ignored) {
                        // a socket that fails to close is closed already
                    }
                }
            }
        }
    }
}
