package dev.sluice.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Many slow streams held open at once through one gateway process, and what they cost it.
 *
 * <p>One NIO thread opens {@code --streams} connections (at {@code --connect-rate} per second, so the gateway's
 * accept backlog is never the limit), sends one streaming request on each and reads every answer to its end.
 * The model is a slow paced one ({@code paced-T-G-N}: first token after T ms, then one every G ms), so all streams
 * are open at the same time for most of a minute. The run:
 * <ol>
 *   <li>warms the gateway with a batch of short streams, then takes the idle snapshot ({@link GatewayProbe}:
 *       RSS, heap after a full GC, threads, fds);</li>
 *   <li>opens all streams and waits until every one has received a content chunk;</li>
 *   <li>checks that every stream is live: each must receive a new content chunk within two chunk gaps;</li>
 *   <li>takes the held snapshot, then checks liveness again (the forced GC must not have broken anything);</li>
 *   <li>waits for every stream to end and checks each answer: status 200, all N content chunks, {@code [DONE]},
 *       no error frame;</li>
 *   <li>takes a snapshot after all streams have closed.</li>
 * </ol>
 * Per-stream cost is (held − idle) ÷ streams. Results go to stdout and, as {@code key: value} lines, to {@code --out}.
 * Exit status 3 if any stream failed, was not live, or the target count was not reached.
 */
public final class HoldBench {

    record Opts(String url, String model, int chunks, int streams, double connectRate, long pid, String out, int warmupStreams,
                String warmupModel, double gapMs, double rampTimeout, String benchPids, String histo) {

        static Opts parse(String[] args) {
            var m = new LinkedHashMap<String, String>();
            for (int i = 0; i + 1 < args.length; i += 2) {
                if (!args[i].startsWith("--")) throw new IllegalArgumentException("unexpected " + args[i]);
                m.put(args[i].substring(2), args[i + 1]);
            }
            if (args.length % 2 != 0) throw new IllegalArgumentException("missing value for " + args[args.length - 1]);
            String model = m.getOrDefault("model", "up/paced-1000-1500-40");
            double[] pacing = pacing(model);
            return new Opts(m.getOrDefault("url", "http://127.0.0.1:8080/v1/chat/completions"), model, (int) pacing[2],
                    Integer.parseInt(m.getOrDefault("streams", "10000")), Double.parseDouble(m.getOrDefault("connect-rate", "1000")),
                    Long.parseLong(m.getOrDefault("gateway-pid", "0")), m.get("out"), Integer.parseInt(m.getOrDefault("warmup-streams", "2000")),
                    m.getOrDefault("warmup-model", "up/paced-20-20-10"), pacing[1], Double.parseDouble(m.getOrDefault("ramp-timeout", "60")),
                    m.getOrDefault("bench-pids", ""), m.get("histo"));
        }
    }

    /**
     * {ttft ms, gap ms, chunks} of a {@code [provider/]paced-T-G-N} model name (all three parts required here; the
     * provider prefix is how the gateway routes a name that no route declares).
     */
    static double[] pacing(String model) {
        var parts = model.substring(model.lastIndexOf('/') + 1).split("-");
        if (parts.length != 4 || !parts[0].equals("paced")) throw new IllegalArgumentException("model must be paced-T-G-N, not " + model);
        return new double[] {Double.parseDouble(parts[1]), Double.parseDouble(parts[2]), Integer.parseInt(parts[3])};
    }

    /** One stream. Fields written by the loop thread, read by the main thread for the liveness checks. */
    static final class Stream {
        SocketChannel channel;
        final ResponseParser parser = new ResponseParser();
        int seenChunks;
        volatile long lastChunkNanos;
        volatile boolean finished;
    }

    /** A batch of streams on one event-loop thread. */
    static final class Batch {
        final List<Stream> streams = new ArrayList<>();
        final AtomicInteger opened = new AtomicInteger();
        final AtomicInteger withContent = new AtomicInteger();
        final AtomicInteger completed = new AtomicInteger();
        final AtomicInteger failed = new AtomicInteger();
        final AtomicReference<String> firstError = new AtomicReference<>();
        private final Thread thread;
        private volatile boolean stop;

        Batch(URI uri, String model, int n, int chunks, double rate) {
            byte[] request = LoadGen.request(uri, model, true, "Bearer x");
            var address = new InetSocketAddress(uri.getHost(), uri.getPort());
            for (int i = 0; i < n; i++) streams.add(new Stream());
            thread = Thread.ofPlatform().name("hold-loop").daemon().start(() -> loop(address, request, chunks, rate));
        }

        private void fail(Stream s, String why) {
            firstError.compareAndSet(null, why);
            failed.incrementAndGet();
            s.finished = true;
            close(s);
        }

        private static void close(Stream s) {
            try {
                if (s.channel != null) s.channel.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }

        private void loop(InetSocketAddress address, byte[] request, int chunks, double rate) {
            var buf = new byte[64 * 1024];
            var bb = ByteBuffer.wrap(buf);
            try (var selector = Selector.open()) {
                long start = System.nanoTime();
                int next = 0;
                while (!stop && completed.get() + failed.get() < streams.size()) {
                    // Open what the connect rate allows by now: a steady ramp, not a burst into the accept backlog.
                    long due = Math.min(streams.size(), (long) ((System.nanoTime() - start) / 1e9 * rate) + 1);
                    for (; next < due; next++) {
                        var s = streams.get(next);
                        try {
                            s.channel = SocketChannel.open();
                            s.channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
                            s.channel.connect(address);
                            s.channel.configureBlocking(false);
                            s.parser.reset(true);
                            var w = ByteBuffer.wrap(request);
                            while (w.hasRemaining()) s.channel.write(w); // ~400 bytes into an empty socket buffer
                            s.channel.register(selector, SelectionKey.OP_READ, s);
                            opened.incrementAndGet();
                        } catch (IOException e) {
                            fail(s, "connect/write #" + next + ": " + e);
                        }
                    }
                    selector.select(5);
                    for (var it = selector.selectedKeys().iterator(); it.hasNext(); ) {
                        var key = it.next();
                        it.remove();
                        var s = (Stream) key.attachment();
                        if (key.isValid() && key.isReadable()) readable(s, key, bb, buf, chunks);
                    }
                }
            } catch (IOException e) {
                firstError.compareAndSet(null, "selector: " + e);
            } finally {
                for (var s : streams) close(s);
            }
        }

        private void readable(Stream s, SelectionKey key, ByteBuffer bb, byte[] buf, int chunks) {
            try {
                while (true) {
                    bb.clear();
                    int n = s.channel.read(bb);
                    if (n < 0) {
                        key.cancel();
                        fail(s, "closed by the gateway after " + s.parser.contentChunks + " content chunks (status " + s.parser.status + ")");
                        return;
                    }
                    if (n == 0) return;
                    s.parser.feed(buf, 0, n);
                    if (s.parser.contentChunks > s.seenChunks) {
                        if (s.seenChunks == 0) withContent.incrementAndGet();
                        s.seenChunks = s.parser.contentChunks;
                        s.lastChunkNanos = System.nanoTime();
                    }
                    if (s.parser.complete()) {
                        key.cancel();
                        var p = s.parser;
                        String problem = p.status != 200 ? "status " + p.status + ": " + p.errorDetail
                                : p.errorFrame ? "error frame: " + p.errorDetail
                                : !p.done ? "no [DONE]"
                                : p.contentChunks != chunks ? p.contentChunks + " content chunks, expected " + chunks : null;
                        if (problem != null) {
                            fail(s, problem);
                        } else {
                            s.finished = true;
                            completed.incrementAndGet();
                            close(s);
                        }
                        return;
                    }
                }
            } catch (IOException | ResponseParser.ProtocolException | RuntimeException e) {
                key.cancel();
                fail(s, e.getClass().getSimpleName() + ": " + e.getMessage());
            }
        }

        boolean done() {
            return completed.get() + failed.get() >= streams.size();
        }

        /** Streams not finished that have received a content chunk since {@code since}. */
        int liveSince(long since) {
            int live = 0;
            for (var s : streams) if (!s.finished && s.lastChunkNanos > since) live++;
            return live;
        }

        void stop() throws InterruptedException {
            stop = true;
            thread.join(5000);
        }
    }

    public static void main(String[] args) throws Exception {
        var o = Opts.parse(args);
        var uri = URI.create(o.url);
        var results = new LinkedHashMap<String, String>();
        var probe = o.pid > 0 ? new GatewayProbe(o.pid) : null;
        boolean ok = true;

        if (o.warmupStreams > 0) {
            log("warm-up: " + o.warmupStreams + " streams of " + o.warmupModel);
            var w = new Batch(uri, o.warmupModel, o.warmupStreams, (int) pacing(o.warmupModel)[2], 2000);
            waitFor(w::done, 120);
            w.stop();
            log("warm-up: " + w.completed.get() + " completed, " + w.failed.get() + " failed" + (w.firstError.get() == null ? "" : " (first: " + w.firstError.get() + ")"));
            results.put("warmup_failed", Integer.toString(w.failed.get()));
            if (w.failed.get() > 0) ok = false;
            Thread.sleep(1000);
        }
        GatewayProbe.Snapshot idle = null;
        if (probe != null) {
            idle = probe.measure();
            log("idle: " + idle.human());
            put(results, "idle", idle);
        }

        log("opening " + o.streams + " streams of " + o.model + " at " + o.connectRate + "/s");
        long t0 = System.nanoTime();
        var load = MachineLoad.start(o.benchPids + (o.pid > 0 ? "," + o.pid : ""));
        var b = new Batch(uri, o.model, o.streams, o.chunks, o.connectRate);
        boolean ramped = waitFor(() -> b.withContent.get() + b.failed.get() >= o.streams, o.rampTimeout);
        double rampSeconds = (System.nanoTime() - t0) / 1e9;
        log(String.format(Locale.ROOT, "ramp: %d opened, %d with content, %d failed after %.1f s%s", b.opened.get(), b.withContent.get(), b.failed.get(),
                rampSeconds, b.firstError.get() == null ? "" : " (first error: " + b.firstError.get() + ")"));
        results.put("streams", Integer.toString(o.streams));
        results.put("model", o.model);
        results.put("ramp_s", String.format(Locale.ROOT, "%.1f", rampSeconds));
        results.put("with_content_at_ramp", Integer.toString(b.withContent.get()));
        if (!ramped || b.failed.get() > 0) ok = false;

        long windowNanos = (long) (2 * o.gapMs * 1e6) + 500_000_000L;
        long since = System.nanoTime();
        Thread.sleep(windowNanos / 1_000_000);
        int liveBefore = b.liveSince(since);
        log("live before the snapshot: " + liveBefore + " of " + o.streams + " received a chunk in the last " + windowNanos / 1_000_000 + " ms");
        results.put("live_before", Integer.toString(liveBefore));

        if (probe != null) {
            var held = probe.measure();
            log("held: " + held.human());
            put(results, "held", held);
            results.put("held_thread_groups", threadGroups(o.pid));
            if (o.histo != null) {
                // What the held streams are made of: the top of a live-object class histogram (another full GC).
                var lines = probe.classHistogram().lines().limit(40).toList();
                Files.write(Path.of(o.histo), lines);
            }
            int n = o.streams;
            results.put("per_stream_heap_kib", String.format(Locale.ROOT, "%.2f", (held.heapUsedKib() - idle.heapUsedKib()) / (double) n));
            results.put("per_stream_rss_kib", String.format(Locale.ROOT, "%.2f", (held.rssKib() - idle.rssKib()) / (double) n));
            results.put("per_stream_fds", String.format(Locale.ROOT, "%.3f", (held.fds() - idle.fds()) / (double) n));
            results.put("per_stream_threads", String.format(Locale.ROOT, "%.4f", (held.threads() - idle.threads()) / (double) n));
        }
        since = System.nanoTime();
        Thread.sleep(windowNanos / 1_000_000);
        int liveAfter = b.liveSince(since);
        log("live after the snapshot: " + liveAfter + " of " + o.streams);
        results.put("live_after", Integer.toString(liveAfter));
        if (liveBefore != o.streams || liveAfter != o.streams) ok = false;

        double remaining = (pacing(o.model)[0] + o.chunks * o.gapMs) / 1000 + o.streams / o.connectRate + 60;
        waitFor(b::done, remaining);
        b.stop();
        log(String.format(Locale.ROOT, "end: %d completed correctly (%d content chunks each, [DONE]), %d failed%s after %.1f s", b.completed.get(), o.chunks,
                b.failed.get(), b.firstError.get() == null ? "" : " (first error: " + b.firstError.get() + ")", (System.nanoTime() - t0) / 1e9));
        double[] busy = load.percentages();
        log("during the held phase: " + load.human());
        results.put("machine_busy_pct", String.format(Locale.ROOT, "%.1f", busy[0]));
        results.put("foreign_pct", String.format(Locale.ROOT, "%.1f", busy[2]));
        results.put("steal_pct", String.format(Locale.ROOT, "%.1f", busy[1]));
        results.put("completed", Integer.toString(b.completed.get()));
        results.put("failed", Integer.toString(b.failed.get()));
        if (b.firstError.get() != null) results.put("first_error", b.firstError.get());
        if (b.completed.get() != o.streams) ok = false;

        if (probe != null) {
            Thread.sleep(2000);
            var after = probe.measure();
            log("after: " + after.human());
            put(results, "after", after);
            results.put("after_thread_groups", threadGroups(o.pid));
        }
        results.put("ok", Boolean.toString(ok));
        var sb = new StringBuilder();
        results.forEach((k, v) -> sb.append(k).append(": ").append(v).append('\n'));
        System.out.print(sb);
        if (o.out != null) Files.writeString(Path.of(o.out), sb);
        System.exit(ok ? 0 : 3);
    }

    /** The JVM's OS threads by name with digits folded ({@code HttpClient-#-Worker-#}), largest groups first. */
    static String threadGroups(long pid) {
        var counts = new java.util.TreeMap<String, Integer>();
        for (var e : ProcCpu.threads(pid).values()) counts.merge(e.getKey().replaceAll("\\d+", "#"), 1, Integer::sum);
        return counts.entrySet().stream().sorted((x, y) -> y.getValue() - x.getValue()).limit(8)
                .map(e -> e.getKey() + "=" + e.getValue()).collect(java.util.stream.Collectors.joining(", "));
    }

    private static void put(Map<String, String> results, String prefix, GatewayProbe.Snapshot s) {
        results.put(prefix + "_rss_kib", Long.toString(s.rssKib()));
        results.put(prefix + "_heap_used_kib", Long.toString(s.heapUsedKib()));
        results.put(prefix + "_heap_committed_kib", Long.toString(s.heapCommittedKib()));
        results.put(prefix + "_threads", Integer.toString(s.threads()));
        results.put(prefix + "_fds", Integer.toString(s.fds()));
        results.put(prefix + "_gc_run_s", String.format(Locale.ROOT, "%.2f", s.gcRunSeconds()));
    }

    private static boolean waitFor(java.util.function.BooleanSupplier condition, double seconds) throws InterruptedException {
        long deadline = System.nanoTime() + (long) (seconds * 1e9);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) return false;
            Thread.sleep(20);
        }
        return true;
    }

    static void log(String s) {
        System.err.println("[hold " + java.time.LocalTime.now().withNano(0) + "] " + s);
    }
}
