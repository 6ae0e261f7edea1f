package dev.sluice.gateway.chaos;

import static dev.sluice.gateway.chaos.FaultyUpstream.TEXT;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.client.ApiException;
import dev.sluice.client.IncompleteStreamException;
import dev.sluice.client.RequestOptions;
import dev.sluice.client.SluiceClient;
import dev.sluice.client.StreamErrorException;
import dev.sluice.client.StreamTimeoutException;
import dev.sluice.gateway.chaos.FaultyUpstream.Mode;
import dev.sluice.wire.json.Json;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The soak: thousands of streams through a gateway running as a separate process, against the faulty
 * upstream, with random faults (~20%) and random client aborts (~20%, at random points: before the headers,
 * mid-stream, after a few events). Afterwards the gateway process must hold no leaked connections (open
 * file descriptors), threads (/proc/PID/status Threads:) or heap (jcmd GC.run + GC.heap_info), the upstream
 * must have seen every connection closed, and every request must have had a well-defined outcome.
 *
 * <p>{@code -Dsluice.soak.streams=N} (default 3000) and {@code -Dsluice.soak.concurrency=C} (default 64).
 */
class SoakTest {

    static final int STREAMS = Integer.getInteger("sluice.soak.streams", 3000);
    static final int CONCURRENCY = Integer.getInteger("sluice.soak.concurrency", 64);
    static final int WARMUP = Math.min(600, Math.max(200, STREAMS / 5));
    static final int FD_MARGIN = 16;
    static final int THREAD_MARGIN = 8;
    static final long HEAP_MARGIN_KB = 20 * 1024;

    static final String JAVA_HOME = System.getProperty("java.home");

    Process gateway;
    Writer gatewayIn;
    BufferedReader gatewayOut;
    FaultyUpstream upstream;

    enum Outcome { COMPLETE, API_ERROR, STREAM_ERROR, ABORTED, FALLBACK_NOT_COMPLETE, UNDEFINED }

    @AfterEach
    void stop() throws Exception {
        if (gateway != null) {
            try {
                gatewayIn.write("exit\n");
                gatewayIn.flush();
            } catch (IOException ignored) {
                // gone
            }
            if (!gateway.waitFor(10, TimeUnit.SECONDS)) gateway.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        if (upstream != null) upstream.close();
    }

    @Test
    void thousandsOfFaultyStreamsLeakNothing() throws Exception {
        upstream = new FaultyUpstream(200);
        var config = Files.createTempFile("sluice-soak", ".yaml");
        var yaml = new StringBuilder("""
                listen: 127.0.0.1:0
                storage: {type: memory}
                limits: {keepalive: 15s, max_concurrent_streams: 10000}
                providers:
                  faulty:
                    type: openai
                    base_url: %1$s
                    timeouts: {connect: 1s, first_byte: 1500ms, idle: 1500ms, total: 20s}
                  healthy:
                    type: openai
                    base_url: %1$s
                    timeouts: {connect: 1s, first_byte: 2s, idle: 2s, total: 20s}
                models:
                """.formatted(upstream.baseUrl()));
        for (var mode : Mode.values()) {
            var policy = "retries: 1, backoff: 10ms, max_retry_after: 500ms";
            yaml.append("  - {name: s-").append(mode.model()).append(", ").append(policy)
                    .append(", on_midstream_failure: error, deployments: [{provider: faulty, model: ").append(mode.model()).append("}]}\n");
            yaml.append("  - {name: f-").append(mode.model()).append(", ").append(policy)
                    .append(", deployments: [{provider: faulty, model: ").append(mode.model()).append("}, {provider: healthy, model: ok}]}\n");
        }
        Files.writeString(config, yaml);

        var java = Path.of(JAVA_HOME, "bin", "java").toString();
        var pb = new ProcessBuilder(java, "-Xmx256m", "-XX:+UseG1GC", "-cp", System.getProperty("java.class.path"),
                GatewayMain.class.getName(), config.toString());
        pb.redirectError(ProcessBuilder.Redirect.appendTo(Path.of(System.getProperty("java.io.tmpdir"), "sluice-soak-gateway.log").toFile()));
        gateway = pb.start();
        gatewayIn = new OutputStreamWriter(gateway.getOutputStream(), StandardCharsets.UTF_8);
        gatewayOut = new BufferedReader(new InputStreamReader(gateway.getInputStream(), StandardCharsets.UTF_8));
        var first = gatewayOut.readLine();
        assertThat(first).as("gateway process start line").startsWith("PORT ");
        var base = "http://127.0.0.1:" + first.substring(5).trim() + "/v1";
        long pid = gateway.pid();

        long t0 = System.nanoTime();
        var warm = run(base, WARMUP, new Random(1));
        var baseline = settle(pid, null);
        System.out.printf("SOAK fd kinds at baseline: %s%n", fdKinds(pid));
        System.out.printf("SOAK warm-up %d requests %s; baseline: %s%n", WARMUP, warm, baseline);

        long t1 = System.nanoTime();
        var counts = run(base, STREAMS, new Random(42));
        long runMillis = (System.nanoTime() - t1) / 1_000_000;

        // Quiescence: the upstream sees every connection closed, and the gateway's fds and threads come back.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(40);
        while (upstream.openConnections() > 0 && System.nanoTime() < deadline) Thread.sleep(50);
        int upstreamOpen = upstream.openConnections();
        var after = settle(pid, baseline);
        var stats = stats();
        System.out.printf("SOAK fd kinds baseline-run end: %s%n", fdKinds(pid));
        try {
            var ss = new ProcessBuilder("ss", "-tanp").redirectErrorStream(true).start();
            var lines = new String(ss.getInputStream().readAllBytes(), StandardCharsets.UTF_8).lines().filter(l -> l.contains("pid=" + pid + ",")).toList();
            var byState = new TreeMap<String, Long>();
            for (var l : lines) byState.merge(l.split("\\s+")[0] + " peer:" + (l.contains(":" + upstream.baseUrl().replaceAll(".*:(\\d+)/v1", "$1") + " ") ? "upstream" : "other"), 1L, Long::sum);
            System.out.printf("SOAK gateway TCP sockets by state: %s%n", byState);
        } catch (IOException e) {
            System.out.println("SOAK ss unavailable: " + e.getMessage());
        }
        System.out.printf("SOAK %d streams at concurrency %d in %d ms (%.0f/s): %s%n", STREAMS, CONCURRENCY, runMillis, STREAMS * 1000.0 / runMillis, counts);
        System.out.printf("SOAK gateway usage records by outcome: %s%n", stats);
        System.out.printf("SOAK upstream: %d connections accepted, %d requests, %d still open%n", upstream.acceptedConnections(), upstream.requests(), upstreamOpen);
        System.out.printf("SOAK baseline %s%nSOAK after    %s%nSOAK delta    fds %+d, threads %+d, heap after GC %+d KB (total %d ms)%n", baseline, after,
                after.fds - baseline.fds, after.threads - baseline.threads, after.heapKb - baseline.heapKb, (System.nanoTime() - t0) / 1_000_000);

        assertThat(counts.getOrDefault(Outcome.UNDEFINED, 0L)).as("requests without a well-defined outcome: " + counts).isZero();
        assertThat(counts.getOrDefault(Outcome.FALLBACK_NOT_COMPLETE, 0L)).as("fallback routes that did not give a complete answer: " + counts).isZero();
        assertThat(counts.values().stream().mapToLong(Long::longValue).sum()).isEqualTo(STREAMS);
        assertThat(upstreamOpen).as("upstream connections still open").isZero();
        assertThat(after.fds).as("gateway open fds after the soak (baseline " + baseline.fds + ")").isLessThanOrEqualTo(baseline.fds + FD_MARGIN);
        assertThat(after.threads).as("gateway live threads after the soak (baseline " + baseline.threads + ")").isLessThanOrEqualTo(baseline.threads + THREAD_MARGIN);
        assertThat(after.heapKb).as("gateway heap after GC, KB (baseline " + baseline.heapKb + ")").isLessThanOrEqualTo(baseline.heapKb + HEAP_MARGIN_KB);
    }

    /** One request: a model (a fault ~20% of the time, on a single or a fallback route), maybe an abort. */
    record Plan(String model, boolean fallback, boolean faulty, int abortAfterEvents, int abortAfterMillis, boolean stream) {}

    static Plan plan(Random r) {
        boolean faulty = r.nextInt(100) < 20;
        boolean fallback = r.nextBoolean();
        var faults = FaultyUpstream.faults();
        var mode = faulty ? faults.get(r.nextInt(faults.size())) : Mode.OK;
        var model = (fallback ? "f-" : "s-") + mode.model();
        int abortEvents = -1, abortMillis = -1;
        if (r.nextInt(100) < 20) {
            if (r.nextBoolean()) abortEvents = r.nextInt(8);
            else abortMillis = 5 + r.nextInt(600);
        }
        boolean stream = r.nextInt(100) < 85;
        return new Plan(model, fallback, faulty, abortEvents, abortMillis, stream);
    }

    Map<Outcome, Long> run(String base, int n, Random random) throws InterruptedException {
        var counts = new ConcurrentHashMap<Outcome, LongAdder>();
        var undefined = new ConcurrentHashMap<String, LongAdder>();
        var permits = new Semaphore(CONCURRENCY);
        try (var client = SluiceClient.builder().baseUrl(base).maxRetries(0).idleTimeout(Duration.ofSeconds(20)).totalTimeout(Duration.ofSeconds(60)).build();
                var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < n; i++) {
                var p = plan(random);
                permits.acquire();
                pool.execute(() -> {
                    try {
                        var o = one(client, p);
                        counts.computeIfAbsent(o.outcome, k -> new LongAdder()).increment();
                        if (o.outcome == Outcome.UNDEFINED || o.outcome == Outcome.FALLBACK_NOT_COMPLETE) {
                            undefined.computeIfAbsent(p.model + " " + o.detail, k -> new LongAdder()).increment();
                        }
                    } finally {
                        permits.release();
                    }
                });
            }
            pool.shutdown();
            assertThat(pool.awaitTermination(180, TimeUnit.SECONDS)).as("soak requests finished in time").isTrue();
        }
        if (!undefined.isEmpty()) {
            var sorted = new TreeMap<String, Long>();
            undefined.forEach((k, v) -> sorted.put(k, v.sum()));
            sorted.forEach((k, v) -> System.out.printf("SOAK unexpected x%d: %s%n", v, k));
        }
        var out = new TreeMap<Outcome, Long>();
        counts.forEach((k, v) -> out.put(k, v.sum()));
        return out;
    }

    record Result(Outcome outcome, String detail) {}

    static ObjectNode body(String model, boolean stream) {
        var b = Json.object();
        b.put("model", model);
        b.putArray("messages").addObject().put("role", "user").put("content", "Say hello from Cologne.");
        if (stream) b.put("stream", true);
        return b;
    }

    static Result one(SluiceClient client, Plan p) {
        var options = p.abortAfterMillis >= 0 ? RequestOptions.builder().totalTimeout(Duration.ofMillis(p.abortAfterMillis)).build() : RequestOptions.DEFAULT;
        try {
            if (!p.stream) {
                var c = client.chat().create(body(p.model, false), options);
                return complete(p, c.choice(0).message().content());
            }
            try (var s = client.chat().stream(body(p.model, true), options)) {
                if (p.abortAfterEvents >= 0) {
                    int seen = 0;
                    for (var ignored : s) {
                        if (seen++ >= p.abortAfterEvents) return new Result(Outcome.ABORTED, "closed after events");
                    }
                    return complete(p, s.snapshot().choice(0).message().content());
                }
                return complete(p, s.finalChatCompletion().choice(0).message().content());
            }
        } catch (ApiException e) {
            if (p.fallback) return new Result(Outcome.FALLBACK_NOT_COMPLETE, "HTTP " + e.status() + " " + e.code() + ": " + e.errorMessage());
            return p.faulty ? new Result(Outcome.API_ERROR, "HTTP " + e.status()) : new Result(Outcome.UNDEFINED, "HTTP " + e.status() + " " + e.getMessage());
        } catch (StreamErrorException e) {
            if (p.fallback) return new Result(Outcome.FALLBACK_NOT_COMPLETE, "stream error " + e.code() + ": " + e.getMessage());
            return p.faulty ? new Result(Outcome.STREAM_ERROR, e.code()) : new Result(Outcome.UNDEFINED, "stream error on a healthy route: " + e.getMessage());
        } catch (IncompleteStreamException e) {
            return new Result(Outcome.UNDEFINED, "silent truncation: " + e.getMessage());
        } catch (UncheckedIOException e) {
            return ioOutcome(p, e.getCause());
        } catch (IOException e) {
            return ioOutcome(p, e);
        } catch (RuntimeException e) {
            return new Result(Outcome.UNDEFINED, e.toString());
        }
    }

    static Result ioOutcome(Plan p, IOException e) {
        if (p.abortAfterMillis >= 0 && e instanceof StreamTimeoutException t && t.kind() == StreamTimeoutException.Kind.TOTAL) {
            return new Result(Outcome.ABORTED, "total timeout");
        }
        return new Result(Outcome.UNDEFINED, e.getClass().getSimpleName() + ": " + e.getMessage());
    }

    static Result complete(Plan p, String text) {
        if (TEXT.equals(text)) return new Result(Outcome.COMPLETE, "");
        return new Result(Outcome.UNDEFINED, "wrong text: " + text);
    }

    // ------------------------------------------------------------------ the gateway process, measured

    record Sample(int fds, int threads, long heapKb) {
        @Override
        public String toString() {
            return "fds=" + fds + " threads=" + threads + " heapAfterGC=" + heapKb + "KB";
        }
    }

    /** Measures after letting things settle: until fds and threads are back within the margins (bounded). */
    Sample settle(long pid, Sample baseline) throws Exception {
        Thread.sleep(1000);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(baseline == null ? 5 : 75);
        Sample s = sample(pid);
        while (baseline != null && System.nanoTime() < deadline
                && (s.fds > baseline.fds + FD_MARGIN || s.threads > baseline.threads + THREAD_MARGIN || s.heapKb > baseline.heapKb + HEAP_MARGIN_KB)) {
            Thread.sleep(2000);
            s = sample(pid);
        }
        return s;
    }

    static Sample sample(long pid) throws Exception {
        int fds;
        try (var list = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
            fds = (int) list.count();
        }
        int threads = 0;
        for (var line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
            if (line.startsWith("Threads:")) threads = Integer.parseInt(line.substring(8).trim());
        }
        jcmd(pid, "GC.run");
        var info = jcmd(pid, "GC.heap_info");
        var m = Pattern.compile("used (\\d+)K").matcher(info);
        assertThat(m.find()).as("GC.heap_info output: " + info).isTrue();
        return new Sample(fds, threads, Long.parseLong(m.group(1)));
    }

    /** Open fds of the process by kind (socket, pipe, anon_inode:[eventpoll], file...). */
    static Map<String, Long> fdKinds(long pid) throws IOException {
        var kinds = new TreeMap<String, Long>();
        try (var list = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
            for (var fd : list.toList()) {
                String target;
                try {
                    target = Files.readSymbolicLink(fd).toString();
                } catch (IOException e) {
                    continue;
                }
                var kind = target.startsWith("socket:") ? "socket" : target.startsWith("pipe:") ? "pipe" : target.startsWith("anon_inode:") ? target : target.startsWith("/") ? "file" : target;
                kinds.merge(kind, 1L, Long::sum);
            }
        }
        return kinds;
    }

    static String jcmd(long pid, String command) throws Exception {
        var p = new ProcessBuilder(Path.of(JAVA_HOME, "bin", "jcmd").toString(), Long.toString(pid), command).redirectErrorStream(true).start();
        var out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        return out;
    }

    Map<String, Long> stats() throws IOException {
        gatewayIn.write("stats\n");
        gatewayIn.flush();
        var line = gatewayOut.readLine();
        var out = new TreeMap<String, Long>();
        if (line == null || !line.startsWith("STATS {")) return out;
        var inner = line.substring(7, line.length() - 1);
        for (var part : inner.split(", ")) {
            if (part.isBlank()) continue;
            var kv = part.split("=");
            out.put(kv[0], Long.parseLong(kv[1]));
        }
        return out;
    }
}
