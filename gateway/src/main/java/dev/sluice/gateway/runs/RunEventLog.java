package dev.sluice.gateway.runs;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.gateway.store.RunEvent;
import dev.sluice.gateway.store.RunEventRepository;
import dev.sluice.wire.json.Json;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongFunction;
import java.util.function.Predicate;

/**
 * Every run's events, append-only, with gap-free sequence numbers from 1. An event is written to the store
 * before anyone can read it, so what a subscriber saw is never lost. While a run is active its events are
 * also kept in memory, where followers wait for the next one; a subscriber that starts late, lags or
 * reconnects reads what it missed (from memory, or from the store for older events) and then follows live.
 * Nothing is appended after a terminal event.
 */
public final class RunEventLog implements AutoCloseable {

    /** How long a finished run's events stay in memory for late subscribers before only the store has them. */
    private static final long EVICT_AFTER_MS = 30_000;
    private static final int READ_BATCH = 512;

    private final RunEventRepository repository;
    private final Predicate<String> terminal;
    private final Map<String, Live> live = new ConcurrentHashMap<>();
    private final ScheduledExecutorService evictor = Executors.newSingleThreadScheduledExecutor(r -> {
        var t = new Thread(r, "sluice-run-log-evictor");
        t.setDaemon(true);
        return t;
    });

    public RunEventLog(RunEventRepository repository) {
        this(repository, Runs::terminalEvent);
    }

    /**
     * A log whose streams end with the events {@code terminal} accepts. The Responses API keeps its events
     * in the same table with its own terminal events ({@code response.completed}...), through its own log.
     */
    public RunEventLog(RunEventRepository repository, Predicate<String> terminal) {
        this.repository = repository;
        this.terminal = terminal;
    }

    /** The events of one run held in memory: {@code events.get(i)} has sequence number {@code firstSeq + i}. */
    private static final class Live {
        final ReentrantLock lock = new ReentrantLock();
        final Condition changed = lock.newCondition();
        final long firstSeq;
        final ArrayList<RunEvent> events = new ArrayList<>();
        long lastSeq;
        boolean terminal;

        Live(long lastSeq, boolean terminal) {
            this.firstSeq = lastSeq + 1;
            this.lastSeq = lastSeq;
            this.terminal = terminal;
        }
    }

    /** Appends an event; returns it, or null when the run's log already ended with a terminal event. */
    public RunEvent append(String runId, String event, JsonNode data) {
        return append(runId, event, seq -> data);
    }

    /**
     * Appends an event whose data depends on its sequence number (Responses events carry theirs in the
     * payload); {@code data} is called under the log's lock with the number the event gets.
     */
    public RunEvent append(String runId, String event, LongFunction<JsonNode> data) {
        var l = live.computeIfAbsent(runId, this::load);
        l.lock.lock();
        try {
            if (l.terminal) return null;
            long seq = l.lastSeq + 1;
            var e = new RunEvent(runId, seq, event, Json.write(data.apply(seq)), System.currentTimeMillis());
            repository.append(e);
            l.events.add(e);
            l.lastSeq = e.seq();
            if (terminal.test(event)) {
                l.terminal = true;
                evictor.schedule(() -> live.remove(runId, l), EVICT_AFTER_MS, TimeUnit.MILLISECONDS);
            }
            l.changed.signalAll();
            return e;
        } finally {
            l.lock.unlock();
        }
    }

    private Live load(String runId) {
        long last = repository.lastSeq(runId);
        boolean ended = false;
        if (last > 0) {
            var tail = repository.read(runId, last - 1, 1);
            ended = !tail.isEmpty() && terminal.test(tail.getFirst().event());
        }
        return new Live(last, ended);
    }

    /** The highest sequence number so far (0 for none). */
    public long lastSeq(String runId) {
        var l = live.get(runId);
        if (l != null) {
            l.lock.lock();
            try {
                return l.lastSeq;
            } finally {
                l.lock.unlock();
            }
        }
        return repository.lastSeq(runId);
    }

    /**
     * The events after {@code afterSeq}, waiting up to {@code waitNanos} for one when there are none yet.
     * Returns an empty list on timeout.
     */
    public List<RunEvent> read(String runId, long afterSeq, long waitNanos) throws InterruptedException {
        var l = live.get(runId);
        if (l == null || afterSeq + 1 < l.firstSeq) {
            var stored = repository.read(runId, afterSeq, READ_BATCH);
            if (!stored.isEmpty()) return stored;
            l = live.get(runId);
            if (l == null) {
                // Nothing in memory: the run is idle (or being picked up). Look again shortly.
                TimeUnit.NANOSECONDS.sleep(Math.min(waitNanos, TimeUnit.MILLISECONDS.toNanos(100)));
                return List.of();
            }
        }
        l.lock.lock();
        try {
            long nanos = waitNanos;
            while (l.lastSeq <= afterSeq) {
                if (nanos <= 0) return List.of();
                nanos = l.changed.awaitNanos(nanos);
            }
            int from = (int) (afterSeq + 1 - l.firstSeq);
            return List.copyOf(l.events.subList(from, l.events.size()));
        } finally {
            l.lock.unlock();
        }
    }

    /** Everything recorded for a run, from the store. */
    public List<RunEvent> all(String runId) {
        var out = new ArrayList<RunEvent>();
        long after = 0;
        while (true) {
            var batch = repository.read(runId, after, READ_BATCH);
            if (batch.isEmpty()) return out;
            out.addAll(batch);
            after = batch.getLast().seq();
        }
    }

    public void forget(String runId) {
        live.remove(runId);
        repository.deleteRun(runId);
    }

    @Override
    public void close() {
        evictor.shutdownNow();
    }
}
