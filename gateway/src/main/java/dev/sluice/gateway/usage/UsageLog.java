package dev.sluice.gateway.usage;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * The default usage sink: one line per request on stderr, e.g.
 * {@code 2026-11-22T05:40:00.123Z INFO sluice.usage request=req_1 model=gpt-4o deployment=openai/gpt-4o
 * prompt=12 completion=30 estimated=false attempts=1 outcome=completed}.
 *
 * <p>Requests only append to a queue; a writer thread drains it every {@link #PERIOD_MS} ms while the gateway
 * is busy (up to every {@link #MAX_PERIOD_MS} ms while it is quiet), formats the lines and writes them in one go.
 * Formatting through a logging framework and writing a line per request cost about a tenth of a short
 * request's CPU (docs/benchmarks.md); a queue nobody is woken for costs almost nothing. Nothing is dropped:
 * past {@link #MAX_QUEUED} lines a request writes them itself, and the rest is written at shutdown.
 */
public final class UsageLog implements UsageSink {

    static final long PERIOD_MS = 50;
    static final long MAX_PERIOD_MS = 1000;
    /** Fewer lines than this per drain: the gateway is quiet, and the writer may sleep longer. */
    static final int QUIET_LINES = 16;
    static final int MAX_QUEUED = 100_000;

    private final PrintStream out;
    /** Records with the time they ended; lines are formatted by the writer, off the request's thread. */
    private final ConcurrentLinkedQueue<Entry> queue = new ConcurrentLinkedQueue<>();
    private final AtomicInteger queued = new AtomicInteger();
    private final Object writing = new Object();

    private record Entry(long millis, UsageRecord record) {}

    public UsageLog(PrintStream out) {
        this.out = out;
        Thread.ofPlatform().daemon().name("sluice-usage-log").start(() -> {
            long period = PERIOD_MS;
            while (true) {
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(period));
                // A quiet gateway is woken less and less often (up to once a second), a busy one every period:
                // each wake-up costs a quiet process more CPU than the lines it writes.
                period = drain() < QUIET_LINES ? Math.min(period * 2, MAX_PERIOD_MS) : PERIOD_MS;
            }
        });
        Runtime.getRuntime().addShutdownHook(new Thread(this::drain, "sluice-usage-log-flush"));
    }

    /** The process-wide log on stderr. */
    static final UsageLog STDERR = new UsageLog(System.err);

    @Override
    public void record(UsageRecord r) {
        queue.add(new Entry(System.currentTimeMillis(), r));
        if (queued.incrementAndGet() > MAX_QUEUED) drain();
    }

    /** Writes everything queued so far; returns how many lines. */
    int drain() {
        synchronized (writing) {
            int lines = 0;
            // One buffer for the life of the log: a busy gateway drains thousands of lines every period.
            line.setLength(0);
            for (Entry e; (e = queue.poll()) != null; ) {
                append(line, e.millis(), e.record());
                lines++;
            }
            if (lines == 0) return 0;
            queued.addAndGet(-lines);
            var bytes = line.toString().getBytes(StandardCharsets.UTF_8);
            out.write(bytes, 0, bytes.length); // a PrintStream reports errors through checkError
            out.flush();
            if (line.length() > 1 << 20) line = new StringBuilder(8192); // a burst's buffer is not kept
            return lines;
        }
    }

    private void append(StringBuilder b, long millis, UsageRecord r) {
        appendTime(b, millis);
        b.append(" INFO sluice.usage request=").append(r.requestId())
                .append(" model=").append(r.model()).append(" deployment=").append(r.deployment())
                .append(" prompt=").append(r.promptTokens()).append(" completion=").append(r.completionTokens())
                .append(" estimated=").append(r.estimated()).append(" attempts=").append(r.attempts())
                .append(" outcome=").append(r.outcome()).append('\n');
    }

    /** ISO-8601 UTC with milliseconds ({@code 2026-11-22T05:40:00.123Z}); the part up to the second is formatted once a second. */
    private void appendTime(StringBuilder b, long millis) {
        long second = Math.floorDiv(millis, 1000);
        if (second != prefixSecond) {
            var whole = Instant.ofEpochSecond(second).toString(); // ...T05:40:00Z
            prefix = whole.substring(0, whole.length() - 1) + '.';
            prefixSecond = second;
        }
        int ms = (int) Math.floorMod(millis, 1000);
        b.append(prefix).append((char) ('0' + ms / 100)).append((char) ('0' + ms / 10 % 10)).append((char) ('0' + ms % 10)).append('Z');
    }

    // guarded by writing
    private StringBuilder line = new StringBuilder(8192);
    private long prefixSecond = Long.MIN_VALUE;
    private String prefix;
}
