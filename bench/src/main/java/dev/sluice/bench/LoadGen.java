package dev.sluice.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;

/**
 * Closed-loop HTTP load generator for {@code POST /v1/chat/completions}.
 *
 * <p>C keep-alive connections (non-blocking NIO sockets on one event-loop thread by default, {@code --threads}
 * for more; hand-written incremental HTTP/1.1 + SSE parsing in {@link ResponseParser}: a fraction of the
 * per-request cost and jitter of java.net.http or of a blocking thread per connection). Each connection sends
 * a request, reads the whole response, and sends the next at once. After {@code --warmup} seconds the measured window
 * starts; it ends after {@code --duration} seconds or {@code --requests} measured requests, whichever first.
 * A request belongs to the window if it completes inside it; those give requests/s, latency percentiles and
 * time to first content chunk (TTFC: from just before the request is written to when the first SSE
 * {@code data:} line with a non-empty {@code "content"} has been read; the role chunk's {@code "content":""}
 * does not count). Percentiles are exact (nearest rank over the sorted samples).
 *
 * <p>CPU: utime+stime of the {@code --cpu-pid} process trees (the proxy under test) and of {@code --upstream-pid}
 * are read from /proc at the window's start and end, and divided by the requests completed in the window.
 *
 * <p>Every response is checked: status 200; streams must carry at least one content chunk and end with
 * {@code data: [DONE]} and no error frame; non-streams a chat.completion with content. Anything else is an
 * error; the exit status is 3 if the window had errors (warmup errors are reported too).
 *
 * <p>One CSV row is appended to {@code --csv} (header written if the file is new).
 */
public final class LoadGen {

    /** JVM JIT compiler threads, reported apart: a JVM target still compiling is not at steady state. */
    static final String[] JIT_THREADS = {"C1 CompilerThre", "C2 CompilerThre"};

    static final String CSV_HEADER = "target,mode,concurrency,round,warmup_s,window_s,requests,errors,warmup_errors,reconnects,rps,"
            + "lat_mean_ms,lat_p50_ms,lat_p90_ms,lat_p99_ms,lat_max_ms,ttfc_p50_ms,ttfc_p90_ms,ttfc_p99_ms,ttfc_max_ms,fcd_p50_ms,fcd_p99_ms,rqd_p99_ms,uwt_p99_ms,"
            + "target_cpu_s,target_cpu_us_per_req,target_jit_cpu_s,upstream_cpu_s,upstream_cpu_us_per_req,loadgen_cpu_us_per_req,"
            + "machine_busy_pct,steal_pct,foreign_pct,attempt,content_chunks,clk_tck,hist";

    /**
     * One cell from the command line, or with {@code --plan FILE} one cell per line of FILE (each line holds the
     * same options, added to those of the command line), all in this JVM so its JIT stays warm from cell to cell.
     */
    public static void main(String[] args) throws Exception {
        var cells = new ArrayList<Opts>();
        int planAt = Arrays.asList(args).indexOf("--plan");
        if (planAt >= 0) {
            var common = new ArrayList<>(Arrays.asList(args));
            String plan = common.remove(planAt + 1);
            common.remove(planAt);
            for (var line : Files.readAllLines(Path.of(plan))) {
                line = line.strip();
                if (line.isEmpty() || line.startsWith("#")) continue;
                var all = new ArrayList<>(common);
                all.addAll(Arrays.asList(line.split("\\s+")));
                cells.add(Opts.parse(all.toArray(String[]::new)));
            }
        } else {
            cells.add(Opts.parse(args));
        }
        long errors = 0;
        for (var o : cells) {
            waitQuiet(o);
            var result = run(o);
            for (int attempt = 2; attempt <= 1 + o.retries && result.foreignPct + result.stealPct > o.quietMaxPct && quietSpentNanos < o.quietBudget * 1e9; attempt++) {
                System.out.println("  (" + o.target + " " + o.mode + " c=" + o.concurrency + ": other processes used " + String.format(Locale.ROOT, "%.1f", result.foreignPct)
                        + "% and the hypervisor stole " + String.format(Locale.ROOT, "%.1f", result.stealPct) + "% of the machine during the window; measuring again)");
                System.gc();
                waitQuiet(o);
                result = run(o).withAttempt(attempt);
            }
            errors += result.errors + result.warmupErrors;
            System.out.println(result.human());
            System.out.flush();
            if (o.csv != null) {
                var path = Path.of(o.csv);
                if (path.getParent() != null) Files.createDirectories(path.getParent());
                boolean fresh = !Files.exists(path) || Files.size(path) == 0;
                Files.writeString(path, (fresh ? CSV_HEADER + "\n" : "") + result.csv() + "\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            }
            if (o.histDir != null) Files.writeString(Path.of(o.histDir, result.histName()), result.histogram());
            System.gc(); // between cells, never inside a window
        }
        System.exit(errors > 0 ? 3 : 0);
    }

    /**
     * On a shared machine, waits (up to --quiet-wait seconds) until processes other than the benchmark's, plus steal
     * time, take at most --quiet-max-pct of the machine over half a second, so a window does not start in the middle of
     * someone's build. After a window in which they took more, the cell is measured again (--retries).
     */
    static void waitQuiet(Opts o) throws InterruptedException {
        if (o.quietWait <= 0 || quietSpentNanos >= o.quietBudget * 1e9) return;
        long started = System.nanoTime();
        try {
            waitQuiet0(o);
        } finally {
            quietSpentNanos += System.nanoTime() - started;
        }
    }

    /** Time spent waiting for quiet over the whole plan; capped by --quiet-budget. */
    private static long quietSpentNanos;

    private static void waitQuiet0(Opts o) throws InterruptedException {
        var bench = new ArrayList<>(ProcCpu.parsePids(o.benchPids));
        bench.addAll(ProcCpu.parsePids(o.cpuPids));
        bench.addAll(ProcCpu.parsePids(o.upstreamPids));
        bench.add(ProcessHandle.current().pid());
        long deadline = System.nanoTime() + (long) (o.quietWait * 1e9);
        boolean told = false;
        while (true) {
            long[] m0 = ProcCpu.machine();
            long b0 = ProcCpu.treeTicks(bench);
            Thread.sleep(500);
            long[] m1 = ProcCpu.machine();
            long b1 = ProcCpu.treeTicks(bench);
            double total = m1[0] - m0[0];
            // other processes plus time stolen by the hypervisor
            double foreign = total <= 0 ? 0 : 100.0 * ((m1[1] - m0[1]) - (b1 - b0) + (m1[2] - m0[2])) / total;
            if (foreign <= o.quietMaxPct) return;
            if (System.nanoTime() > deadline) {
                System.out.println("  (the machine is still busy with other processes: " + String.format(Locale.ROOT, "%.0f", foreign) + "%; measuring anyway)");
                return;
            }
            if (!told) {
                System.out.println("  (waiting for other processes to quiet down: " + String.format(Locale.ROOT, "%.0f", foreign) + "% of the machine)");
                told = true;
            }
        }
    }

    static final class Opts {
        String url = "http://127.0.0.1:8080/v1/chat/completions";
        String target = "target";
        String mode = "stream"; // nonstream | stream | paced
        String model;           // default: fast, or paced for mode paced
        int concurrency = 1;
        int round = 1;
        double warmup = 5;
        double duration = 15;
        long requests = Long.MAX_VALUE;
        String cpuPids = "";
        String upstreamPids = "";
        String csv;
        String histDir;
        int timeoutMs = 30_000;
        int threads = 1;
        String benchPids = "";
        double quietWait = 0;
        double quietMaxPct = 10;
        double quietBudget = 180;
        int retries = 0;
        boolean threadBreakdown;
        String authorization = "Bearer x";
        int expectFakeText = -1; // when set: the answer must be exactly the fake upstream's text of this many content chunks

        static Opts parse(String[] args) {
            var o = new Opts();
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                String v = i + 1 < args.length ? args[i + 1] : null;
                if (v == null) usage("missing value for " + a);
                switch (a) {
                    case "--url" -> o.url = v;
                    case "--target" -> o.target = v;
                    case "--mode" -> o.mode = v;
                    case "--model" -> o.model = v;
                    case "--concurrency", "-c" -> o.concurrency = Integer.parseInt(v);
                    case "--round" -> o.round = Integer.parseInt(v);
                    case "--warmup" -> o.warmup = Double.parseDouble(v);
                    case "--duration" -> o.duration = Double.parseDouble(v);
                    case "--requests" -> o.requests = Long.parseLong(v);
                    case "--cpu-pid" -> o.cpuPids = v.equals("-") ? "" : v;
                    case "--upstream-pid" -> o.upstreamPids = v;
                    case "--csv" -> o.csv = v;
                    case "--hist-dir" -> o.histDir = v;
                    case "--timeout-ms" -> o.timeoutMs = Integer.parseInt(v);
                    case "--threads" -> o.threads = Integer.parseInt(v);
                    case "--bench-pids" -> o.benchPids = v;
                    case "--quiet-wait" -> o.quietWait = Double.parseDouble(v);
                    case "--quiet-max-pct" -> o.quietMaxPct = Double.parseDouble(v);
                    case "--retries" -> o.retries = Integer.parseInt(v);
                    case "--quiet-budget" -> o.quietBudget = Double.parseDouble(v);
                    case "--thread-breakdown" -> o.threadBreakdown = Boolean.parseBoolean(v);
                    case "--authorization" -> o.authorization = v;
                    case "--expect-fake-text" -> o.expectFakeText = Integer.parseInt(v);
                    default -> usage("unknown option " + a);
                }
                i++;
            }
            if (!List.of("nonstream", "stream", "paced").contains(o.mode)) usage("--mode must be nonstream, stream or paced");
            if (o.model == null) o.model = o.mode.equals("paced") ? "paced" : "fast";
            return o;
        }

        static void usage(String problem) {
            System.err.println("loadgen: " + problem);
            System.err.println("usage: LoadGen --url URL --target NAME --mode nonstream|stream|paced [--model M] -c N [--warmup S] [--duration S]"
                    + " [--requests N] [--cpu-pid PID[,PID]|-] [--upstream-pid PID] [--csv FILE] [--hist-dir DIR] [--round N]"
                    + " [--timeout-ms MS] [--threads N] [--bench-pids PIDS] [--quiet-wait S] [--quiet-max-pct P] [--quiet-budget S] [--retries N] [--thread-breakdown true]   |   LoadGen [common options] --plan FILE");
            System.exit(2);
        }

        boolean stream() {
            return !mode.equals("nonstream");
        }
    }

    static byte[] request(URI uri, String model, boolean stream, String authorization) {
        String body = "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"system\",\"content\":\"You are a concise assistant.\"},"
                + "{\"role\":\"user\",\"content\":\"Write two sentences about rivers at evening.\"}],\"max_tokens\":128"
                + (stream ? ",\"stream\":true,\"stream_options\":{\"include_usage\":true}" : "") + "}";
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        String path = uri.getRawPath() + (uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery());
        String head = "POST " + path + " HTTP/1.1\r\n"
                + "Host: " + uri.getHost() + ":" + uri.getPort() + "\r\n"
                + "Content-Type: application/json\r\n"
                + "Accept: " + (stream ? "text/event-stream" : "application/json") + "\r\n"
                + (authorization == null ? "" : "Authorization: " + authorization + "\r\n")
                + "User-Agent: sluice-bench\r\n"
                + "Content-Length: " + b.length + "\r\n\r\n";
        byte[] h = head.getBytes(StandardCharsets.US_ASCII);
        byte[] all = Arrays.copyOf(h, h.length + b.length);
        System.arraycopy(b, 0, all, h.length, b.length);
        return all;
    }

    /** A growing array of nanosecond samples. */
    static final class Series {
        private long[] values = new long[1024];
        private int n;

        void add(long v) {
            if (n == values.length) values = Arrays.copyOf(values, n * 2);
            values[n++] = v;
        }

        /** All threads' samples of one series, sorted. */
        static long[] merged(List<Samples> all, Function<Samples, Series> series) {
            int total = 0;
            for (var s : all) total += series.apply(s).n;
            long[] out = new long[total];
            int i = 0;
            for (var s : all) {
                var x = series.apply(s);
                System.arraycopy(x.values, 0, out, i, x.n);
                i += x.n;
            }
            Arrays.sort(out);
            return out;
        }
    }

    /** Per-thread samples, merged at the end. */
    static final class Samples {
        final Series latency = new Series();
        final Series ttfc = new Series();
        final Series firstDelay = new Series();
        final Series requestDelay = new Series();
        final Series upstreamWait = new Series();
        int contentChunks = -1;

        /**
         * {@code firstContent}: time to first content chunk, or -1 (not a stream). The rest come from the upstream's
         * stamps in the first content chunk, or are -1: {@code firstDelay}, from its write of the chunk to the
         * arrival here; {@code requestDelay}, from this request's write to the upstream taking it;
         * {@code upstreamWait}, from its taking the request to writing the chunk.
         */
        void add(long lat, long firstContent, long firstDelay, long requestDelay, long upstreamWait) {
            latency.add(lat);
            if (firstContent >= 0) ttfc.add(firstContent);
            if (firstDelay >= 0) this.firstDelay.add(firstDelay);
            if (requestDelay >= 0) this.requestDelay.add(requestDelay);
            if (upstreamWait >= 0) this.upstreamWait.add(upstreamWait);
        }
    }

    record Result(Opts o, long requests, long errors, long warmupErrors, long reconnects, double windowSeconds, long[] latency, long[] ttfc,
                  long[] firstDelay, long[] requestDelay, long[] upstreamWait, double targetCpuSeconds, double targetJitSeconds, double upstreamCpuSeconds, double loadgenCpuSeconds, double busyPct, double stealPct, double foreignPct, int attempt, int contentChunks) {

        Result withAttempt(int n) {
            return new Result(o, requests, errors, warmupErrors, reconnects, windowSeconds, latency, ttfc, firstDelay, requestDelay, upstreamWait, targetCpuSeconds, targetJitSeconds, upstreamCpuSeconds,
                    loadgenCpuSeconds, busyPct, stealPct, foreignPct, n, contentChunks);
        }

        double rps() {
            return requests / windowSeconds;
        }

        static double pct(long[] sorted, double p) {
            if (sorted.length == 0) return Double.NaN;
            int rank = (int) Math.ceil(p / 100.0 * sorted.length);
            return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))] / 1e6;
        }

        static double mean(long[] v) {
            if (v.length == 0) return Double.NaN;
            double s = 0;
            for (long x : v) s += x;
            return s / v.length / 1e6;
        }

        double perReqMicros(double cpuSeconds) {
            return cpuSeconds < 0 || requests == 0 ? Double.NaN : cpuSeconds * 1e6 / requests;
        }

        String histName() {
            return o.target + "-" + o.mode + "-c" + o.concurrency + "-r" + o.round + ".hist";
        }

        /** Sparse histograms at 1 µs resolution: "lat|ttfc|fcd|rqd|uwt <micros> <count>" lines, so rounds can be pooled exactly. */
        String histogram() {
            var sb = new StringBuilder();
            sparse(sb, "lat", latency);
            sparse(sb, "ttfc", ttfc);
            sparse(sb, "fcd", firstDelay);
            sparse(sb, "rqd", requestDelay);
            sparse(sb, "uwt", upstreamWait);
            return sb.toString();
        }

        private static void sparse(StringBuilder sb, String name, long[] sorted) {
            int i = 0;
            while (i < sorted.length) {
                long us = sorted[i] / 1000;
                int j = i;
                while (j < sorted.length && sorted[j] / 1000 == us) j++;
                sb.append(name).append(' ').append(us).append(' ').append(j - i).append('\n');
                i = j;
            }
        }

        String csv() {
            return String.join(",", o.target, o.mode, Integer.toString(o.concurrency), Integer.toString(o.round), f(o.warmup), f(windowSeconds),
                    Long.toString(requests), Long.toString(errors), Long.toString(warmupErrors), Long.toString(reconnects), f(rps()),
                    f(mean(latency)), f(pct(latency, 50)), f(pct(latency, 90)), f(pct(latency, 99)), f(pct(latency, 100)),
                    f(pct(ttfc, 50)), f(pct(ttfc, 90)), f(pct(ttfc, 99)), f(pct(ttfc, 100)), f(pct(firstDelay, 50)), f(pct(firstDelay, 99)),
                    f(pct(requestDelay, 99)), f(pct(upstreamWait, 99)),
                    f(targetCpuSeconds), f(perReqMicros(targetCpuSeconds)), f(targetJitSeconds), f(upstreamCpuSeconds), f(perReqMicros(upstreamCpuSeconds)),
                    f(perReqMicros(loadgenCpuSeconds)), f(busyPct), f(stealPct), f(foreignPct), Integer.toString(attempt), Integer.toString(contentChunks), Long.toString(ProcCpu.clkTck()),
                    o.histDir == null ? "" : histName());
        }

        String human() {
            var sb = new StringBuilder();
            sb.append(String.format(Locale.ROOT, "r%d %-6s %-9s c=%-3d %7d req in %5.1fs = %8.1f req/s  errors=%d (warmup %d)  lat p50 %8.3f p99 %8.3f max %8.3f ms",
                    o.round, o.target, o.mode, o.concurrency, requests, windowSeconds, rps(), errors, warmupErrors, pct(latency, 50), pct(latency, 99),
                    pct(latency, 100)));
            if (ttfc.length > 0) sb.append(String.format(Locale.ROOT, "  ttfc p50 %8.3f p99 %8.3f ms", pct(ttfc, 50), pct(ttfc, 99)));
            if (firstDelay.length > 0) sb.append(String.format(Locale.ROOT, " (first chunk since upstream stamp p50 %6.3f p99 %6.3f ms)", pct(firstDelay, 50), pct(firstDelay, 99)));
            if (requestDelay.length > 0) sb.append(String.format(Locale.ROOT, " (request to upstream p99 %6.3f ms, upstream wait p99 %6.3f ms)", pct(requestDelay, 99), pct(upstreamWait, 99)));
            if (targetJitSeconds > 0) sb.append(String.format(Locale.ROOT, "  (JIT %.2fs)", targetJitSeconds));
            sb.append(String.format(Locale.ROOT, "  cpu/req target %6.1f us upstream %6.1f us loadgen %6.1f us  machine busy %4.1f%% (foreign %3.1f%%) steal %3.1f%%",
                    perReqMicros(targetCpuSeconds), perReqMicros(upstreamCpuSeconds), perReqMicros(loadgenCpuSeconds), busyPct, foreignPct, stealPct));
            if (attempt > 1) sb.append("  attempt ").append(attempt);
            if (reconnects > 0) sb.append("  reconnects=").append(reconnects);
            return sb.toString();
        }

        private static String f(double v) {
            if (Double.isNaN(v)) return "";
            return String.format(Locale.ROOT, "%.4f", v);
        }
    }

    /** One keep-alive connection driven by an event loop: at most one request in flight. */
    static final class Conn {
        final int id;
        SocketChannel channel;
        SelectionKey key;
        final ResponseParser parser = new ResponseParser();
        final Samples samples;
        long start;           // nanoTime just before the request was written; 0 when idle
        boolean everConnected;
        ByteBuffer pendingWrite;
        long retryAt;

        Conn(int id, Samples samples) {
            this.id = id;
            this.samples = samples;
        }
    }

    /**
     * Runs the load on {@code --threads} event loops (default 1) with non-blocking sockets: one thread reads every
     * ready connection in turn, so the client costs one epoll_wait per batch instead of a thread wake-up per read,
     * and its overhead and jitter stay low even at c=64 on a shared core.
     */
    static Result run(Opts o) throws Exception {
        var uri = URI.create(o.url);
        int port = uri.getPort() > 0 ? uri.getPort() : 80;
        String host = uri.getHost();
        if (!host.equals("127.0.0.1") && !host.equals("localhost") && !host.equals("::1")) {
            throw new IllegalArgumentException("loadgen only targets loopback, not " + host);
        }
        var address = new InetSocketAddress(host, port);
        byte[] request = request(uri, o.model, o.stream(), o.authorization);
        boolean stream = o.stream();
        var targetPids = ProcCpu.parsePids(o.cpuPids);
        var upstreamPids = ProcCpu.parsePids(o.upstreamPids);
        var benchPids = new ArrayList<>(ProcCpu.parsePids(o.benchPids));
        for (long p : targetPids) if (!benchPids.contains(p)) benchPids.add(p);
        for (long p : upstreamPids) if (!benchPids.contains(p)) benchPids.add(p);
        long self = ProcessHandle.current().pid();

        long begin = System.nanoTime();
        long windowStart = begin + (long) (o.warmup * 1e9);
        var windowEnd = new AtomicLong(windowStart + (long) (o.duration * 1e9));
        var measured = new AtomicLong();
        var errors = new LongAdder();
        var warmupErrors = new LongAdder();
        var reconnects = new LongAdder();
        var countReached = new CountDownLatch(1);
        var firstError = new AtomicReference<String>();
        var stopFlag = new AtomicBoolean();
        var samples = new ArrayList<Samples>();
        var loops = new ArrayList<Thread>();
        int nThreads = Math.max(1, Math.min(o.threads, o.concurrency));
        long timeoutNanos = o.timeoutMs * 1_000_000L;
        long expectedHash = o.expectFakeText < 0 ? 0 : fakeTextHash(o.expectFakeText);

        for (int t = 0; t < nThreads; t++) {
            var s = new Samples();
            samples.add(s);
            var conns = new ArrayList<Conn>();
            for (int k = t; k < o.concurrency; k += nThreads) conns.add(new Conn(k, s));
            var selector = Selector.open();
            var th = Thread.ofPlatform().name("loadgen-" + t).daemon().unstarted(() -> {
                var buf = new byte[64 * 1024];
                var bb = ByteBuffer.wrap(buf);
                var requestBuffer = ByteBuffer.wrap(request).asReadOnlyBuffer();

                // what to do with a finished or failed exchange
                class Loop {
                    final ArrayDeque<Conn> retries = new ArrayDeque<>();

                    void send(Conn c) {
                        if (stopFlag.get()) return;
                        try {
                            if (c.channel == null || !c.channel.isOpen()) {
                                if (c.everConnected) reconnects.increment();
                                c.channel = SocketChannel.open();
                                c.channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
                                c.channel.connect(address); // blocking connect on loopback, then non-blocking
                                c.channel.configureBlocking(false);
                                c.key = c.channel.register(selector, SelectionKey.OP_READ, c);
                                c.everConnected = true;
                            }
                            c.parser.reset(stream);
                            var w = requestBuffer.duplicate();
                            c.start = System.nanoTime();
                            c.channel.write(w);
                            if (w.hasRemaining()) {
                                c.pendingWrite = w;
                                c.key.interestOps(SelectionKey.OP_READ | SelectionKey.OP_WRITE);
                            }
                        } catch (IOException e) {
                            fail(c, "connect/write: " + e);
                        }
                    }

                    void fail(Conn c, String problem) {
                        long end = System.nanoTime();
                        firstError.compareAndSet(null, problem);
                        if (end >= windowStart && end <= windowEnd.get()) errors.increment();
                        else if (end < windowStart) warmupErrors.increment();
                        close(c);
                        c.start = 0;
                        c.retryAt = end + 10_000_000L; // retried by the loop in 10 ms: do not spin on a dead target
                        retries.add(c);
                    }

                    void close(Conn c) {
                        if (c.key != null) c.key.cancel();
                        if (c.channel != null) {
                            try {
                                c.channel.close();
                            } catch (IOException ignored) {
                                // closing
                            }
                        }
                        c.channel = null;
                        c.key = null;
                    }

                    void completed(Conn c, long end) {
                        var p = c.parser;
                        String problem = null;
                        if (p.status != 200) problem = "status " + p.status + ": " + p.errorDetail;
                        else if (stream && p.errorFrame) problem = "error frame: " + p.errorDetail;
                        else if (stream && !p.done) problem = "stream ended without [DONE]";
                        else if (stream && p.firstContentNanos == 0) problem = "stream without content";
                        else if (!stream && !p.bodyOk()) problem = "unexpected body: " + p.errorDetail;
                        else if (o.expectFakeText >= 0 && p.contentHash != expectedHash) problem = "the text differs from the upstream's (" + p.contentChunks + " content chunks)";
                        if (problem != null) {
                            fail(c, problem);
                            return;
                        }
                        if (end >= windowStart && end <= windowEnd.get()) {
                            long seq = measured.incrementAndGet();
                            if (seq <= o.requests) {
                                boolean stamped = stream && p.firstContentStamp > 0;
                                boolean taken = stamped && p.firstContentTaken > 0;
                                c.samples.add(end - c.start, stream ? p.firstContentNanos - c.start : -1,
                                        stamped ? p.firstContentNanos - p.firstContentStamp : -1,
                                        taken ? p.firstContentTaken - c.start : -1,
                                        taken ? p.firstContentStamp - p.firstContentTaken : -1);
                                c.samples.contentChunks = p.contentChunks;
                            }
                            if (seq == o.requests) {
                                windowEnd.set(end);
                                countReached.countDown();
                            }
                        }
                        c.start = 0;
                        if (p.connectionClose) close(c);
                        send(c);
                    }

                    void readable(Conn c) {
                        try {
                            while (true) {
                                bb.clear();
                                int n = c.channel.read(bb);
                                if (n < 0) {
                                    if (c.start != 0 && c.parser.onEof()) {
                                        completed(c, System.nanoTime());
                                    } else {
                                        fail(c, "connection closed by peer" + (c.start != 0 ? " mid-response" : ""));
                                    }
                                    return;
                                }
                                if (n == 0) return;
                                if (c.start == 0) {
                                    fail(c, "unsolicited bytes");
                                    return;
                                }
                                int used = c.parser.feed(buf, 0, n);
                                if (c.parser.complete()) {
                                    long end = System.nanoTime();
                                    if (used < n) {
                                        fail(c, "bytes after the response");
                                        return;
                                    }
                                    completed(c, end);
                                    return; // a new request is out; its answer comes with a later select
                                }
                                if (n < buf.length) return;
                            }
                        } catch (IOException | ResponseParser.ProtocolException | RuntimeException e) {
                            fail(c, e.getClass().getSimpleName() + ": " + e.getMessage());
                        }
                    }

                    void writable(Conn c) {
                        try {
                            c.channel.write(c.pendingWrite);
                            if (!c.pendingWrite.hasRemaining()) {
                                c.pendingWrite = null;
                                c.key.interestOps(SelectionKey.OP_READ);
                            }
                        } catch (IOException e) {
                            fail(c, "write: " + e);
                        }
                    }
                }
                var loop = new Loop();
                for (var c : conns) loop.send(c);
                long lastTimeoutCheck = System.nanoTime();
                try {
                    while (!stopFlag.get()) {
                        selector.select(loop.retries.isEmpty() ? 50 : 10);
                        var keys = selector.selectedKeys();
                        for (var it = keys.iterator(); it.hasNext(); ) {
                            var key = it.next();
                            it.remove();
                            var c = (Conn) key.attachment();
                            if (!key.isValid()) continue;
                            if (key.isWritable()) loop.writable(c);
                            if (key.isValid() && key.isReadable()) loop.readable(c);
                        }
                        long now = System.nanoTime();
                        for (int r = loop.retries.size(); r > 0; r--) {
                            var c = loop.retries.poll();
                            if (now >= c.retryAt) loop.send(c);
                            else loop.retries.add(c);
                        }
                        if (now - lastTimeoutCheck > 50_000_000L) {
                            lastTimeoutCheck = now;
                            for (var c : conns) {
                                if (c.start != 0 && now - c.start > timeoutNanos) loop.fail(c, "timeout after " + o.timeoutMs + " ms");
                            }
                        }
                    }
                } catch (IOException e) {
                    firstError.compareAndSet(null, "selector: " + e);
                } finally {
                    for (var c : conns) loop.close(c);
                    try {
                        selector.close();
                    } catch (IOException ignored) {
                        // closing
                    }
                }
            });
            loops.add(th);
        }
        loops.forEach(Thread::start);

        sleepUntil(windowStart);
        long t0 = System.nanoTime();
        long target0 = ProcCpu.treeTicks(targetPids);
        long jit0 = ProcCpu.threadTicks(targetPids, JIT_THREADS);
        var threads0 = o.threadBreakdown && !targetPids.isEmpty() ? ProcCpu.threads(targetPids.getFirst()) : null;
        long upstream0 = ProcCpu.treeTicks(upstreamPids);
        long self0 = ProcCpu.ticks(self);
        long[] machine0 = ProcCpu.machine();
        long bench0 = ProcCpu.treeTicks(benchPids);

        long remaining = windowEnd.get() - System.nanoTime();
        if (remaining > 0) countReached.await(remaining, TimeUnit.NANOSECONDS);
        long target1 = ProcCpu.treeTicks(targetPids);
        long jit1 = ProcCpu.threadTicks(targetPids, JIT_THREADS);
        if (threads0 != null) {
            var delta = ProcCpu.threadGroupDelta(threads0, ProcCpu.threads(targetPids.getFirst()));
            long sum = delta.values().stream().mapToLong(v -> v[0] + v[1]).sum();
            var sb = new StringBuilder("  target CPU by thread group (ticks of 1/" + ProcCpu.clkTck() + " s, user+system, live threads only):");
            delta.entrySet().stream().sorted((x, y) -> Long.compare(y.getValue()[0] + y.getValue()[1], x.getValue()[0] + x.getValue()[1]))
                    .forEach(e -> sb.append(String.format(Locale.ROOT, "%n    %5.1f%%  %6d = %6d user + %6d sys  %s",
                            100.0 * (e.getValue()[0] + e.getValue()[1]) / Math.max(1, sum), e.getValue()[0] + e.getValue()[1], e.getValue()[0],
                            e.getValue()[1], e.getKey())));
            System.out.println(sb);
        }
        long upstream1 = ProcCpu.treeTicks(upstreamPids);
        long self1 = ProcCpu.ticks(self);
        long[] machine1 = ProcCpu.machine();
        long bench1 = ProcCpu.treeTicks(benchPids);
        long t1 = System.nanoTime();
        long end = Math.min(windowEnd.get(), t1);
        windowEnd.set(end); // completions after this are not counted
        stopFlag.set(true);
        for (var th : loops) th.join(5000);

        int chunks = -1;
        for (var s : samples) if (s.contentChunks >= 0) chunks = s.contentChunks;
        long[] lat = Series.merged(samples, s -> s.latency);
        long[] ttfc = Series.merged(samples, s -> s.ttfc);
        long[] firstDelay = Series.merged(samples, s -> s.firstDelay);
        long[] requestDelay = Series.merged(samples, s -> s.requestDelay);
        long[] upstreamWait = Series.merged(samples, s -> s.upstreamWait);
        double tick = ProcCpu.clkTck();
        double window = (end - t0) / 1e9;
        double targetCpu = targetPids.isEmpty() ? 0 : (target1 - target0) / tick;
        double upstreamCpu = upstreamPids.isEmpty() ? -1 : (upstream1 - upstream0) / tick;
        double selfCpu = (self1 - self0) / tick;
        if (firstError.get() != null) System.err.println("loadgen " + o.target + " " + o.mode + " c=" + o.concurrency + ": first error: " + firstError.get());
        double totalTicks = machine1[0] - machine0[0];
        double busy = totalTicks <= 0 ? Double.NaN : 100.0 * (machine1[1] - machine0[1]) / totalTicks;
        double steal = totalTicks <= 0 ? Double.NaN : 100.0 * (machine1[2] - machine0[2]) / totalTicks;
        // CPU used by anything but this benchmark's processes (other jobs on a shared machine, kernel threads)
        double foreignTicks = (machine1[1] - machine0[1]) - (bench1 - bench0) - (self1 - self0);
        double foreign = totalTicks <= 0 ? Double.NaN : Math.max(0, 100.0 * foreignTicks / totalTicks);
        double jitCpu = (jit1 - jit0) / tick;
        return new Result(o, lat.length, errors.sum(), warmupErrors.sum(), reconnects.sum(), window, lat, ttfc, firstDelay, requestDelay, upstreamWait, targetCpu, jitCpu, upstreamCpu, selfCpu,
                busy, steal, foreign, 1, chunks);
    }

    /** The content hash (see {@link ResponseParser#contentHash}) of the fake upstream's answer of {@code chunks} content chunks. */
    static long fakeTextHash(int chunks) {
        long h = ResponseParser.FNV_OFFSET;
        for (int k = 0; k < chunks; k++) h = ResponseParser.fnv(h, FakeUpstream.text(k).getBytes(StandardCharsets.UTF_8));
        return h;
    }

    private static void sleepUntil(long nanoTime) throws InterruptedException {
        long d;
        while ((d = nanoTime - System.nanoTime()) > 0) TimeUnit.NANOSECONDS.sleep(Math.min(d, 100_000_000L));
    }
}
