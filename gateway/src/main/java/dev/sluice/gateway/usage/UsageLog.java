package dev.sluice.gateway.usage;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
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
 * is busy (up to every {@link #MAX_PERIOD_MS} ms while it is quiet) and writes the lines in one go. Formatting through a logging framework and writing a line per request cost about
 * a tenth of a short request's CPU (docs/benchmarks.md); a queue nobody is woken for costs almost
 * nothing. Nothing is dropped: past {@link #MAX_QUEUED} lines a request writes them itself, and the rest
 * is written at shutdown.
 */
public final class UsageLog implements UsageSink {

    static final long PERIOD_MS = 50;
    static final long MAX_PERIOD_MS = 1000;
    /** Fewer lines than this per drain: the gateway is quiet, and the writer may sleep longer. */
    static final int QUIET_LINES = 16;
    static final int MAX_QUEUED = 100_000;

    private final PrintStream out;
    private final ConcurrentLinkedQueue<String> queue = new ConcurrentLinkedQueue<>();
    private final AtomicInteger queued = new AtomicInteger();
    private final Object writing = new Object();

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
        queue.add(line(r));
        if (queued.incrementAndGet() > MAX_QUEUED) drain();
    }

    static String line(UsageRecord r) {
        return new StringBuilder(200).append(Instant.now()).append(" INFO sluice.usage request=").append(r.requestId())
                .append(" model=").append(r.model()).append(" deployment=").append(r.deployment())
                .append(" prompt=").append(r.promptTokens()).append(" completion=").append(r.completionTokens())
                .append(" estimated=").append(r.estimated()).append(" attempts=").append(r.attempts())
                .append(" outcome=").append(r.outcome()).append('\n').toString();
    }

    /** Writes everything queued so far; returns how many lines. */
    int drain() {
        synchronized (writing) {
            int lines = 0;
            // One buffer for the life of the log: a busy gateway drains thousands of lines every period.
            text.reset();
            for (String line; (line = queue.poll()) != null; ) {
                queued.decrementAndGet();
                text.writeBytes(line.getBytes(StandardCharsets.UTF_8));
                lines++;
            }
            if (lines == 0) return 0;
            try {
                text.writeTo(out);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e); // a PrintStream reports errors through checkError instead
            }
            out.flush();
            if (text.size() > 1 << 20) text = new ByteArrayOutputStream(8192); // a burst's buffer is not kept
            return lines;
        }
    }

    private ByteArrayOutputStream text = new ByteArrayOutputStream(8192); // guarded by writing
}
