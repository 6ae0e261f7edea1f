package dev.sluice.bench.runs;

import dev.sluice.bench.ProcCpu;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Assistants runs against a running gateway (its own process): runs per second sustained, and event-delivery
 * latency from the run worker to SSE subscribers. See docs/benchmarks.md ("Assistants runs") for the method.
 *
 * <p><b>Throughput</b>: for each concurrency c, c workers loop for warmup + duration seconds: create a thread
 * with one user message ({@code POST /threads}), then create a run on it with {@code stream: true} and read the
 * stream to {@code [DONE]}. Every run is validated: the exact official event sequence (created, queued,
 * in_progress, step created/in_progress, message created/in_progress, at least one delta, message completed,
 * step completed, run completed, done), SSE ids counting up from 1, and the completed message equal to the
 * concatenated deltas. Runs that end inside the measured window count; run latency is POST sent to [DONE] read.
 *
 * <p><b>Event delivery</b>: runs on a model routed to {@link StampUpstream} in this process. The run's own
 * stream (primary subscriber) and a second subscriber that follows the same run through
 * {@code GET /threads/{t}/runs/{r}/events} (connected as soon as the run id is known, before the first token)
 * compute receive time minus the nanoTime stamped into each token. After the run, a late subscriber replays
 * the whole log; its time from request to [DONE] is reported too.
 *
 * <p>Usage: {@code RunsBench --base http://127.0.0.1:P/v1 --model fast --stamp-model stamp --stamp-port 18101
 * --concurrency "1 16 64" --warmup 3 --duration 15 --latency-concurrency "1 16" --latency-duration 10
 * --gateway-pid PID --label sqlite --out DIR}. Exits 3 when any run was invalid.
 */
public final class RunsBench {

    private static final Pattern ID = Pattern.compile("\"id\":\"([a-z]+_[A-Za-z0-9]+)\"");
    private static final Pattern VALUE = Pattern.compile("\"value\":\"((?:[^\"\\\\]|\\\\.)*)\"");
    private static final List<String> HEAD = List.of("thread.run.created", "thread.run.queued", "thread.run.in_progress",
            "thread.run.step.created", "thread.run.step.in_progress", "thread.message.created", "thread.message.in_progress");
    private static final List<String> TAIL = List.of("thread.message.completed", "thread.run.step.completed", "thread.run.completed", "done");

    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
    private final String base;
    private final StringBuilder report = new StringBuilder();
    private final List<String> csv = new ArrayList<>();
    private final AtomicLong invalid = new AtomicLong();
    private final ConcurrentLinkedQueue<String> errors = new ConcurrentLinkedQueue<>();

    private double quietMaxPct = 15;
    private int quietWaitS = 20;

    RunsBench(String base) {
        this.base = base;
    }

    /** One SSE event as read: its type, id, data, and when its terminating blank line arrived. */
    record Event(String type, String id, String data, long receivedNanos) {}

    public static void main(String[] args) throws Exception {
        var o = options(args);
        var bench = new RunsBench(o.getOrDefault("base", "http://127.0.0.1:18102/v1"));
        bench.quietMaxPct = Double.parseDouble(o.getOrDefault("quiet-max-pct", "15"));
        bench.quietWaitS = Integer.parseInt(o.getOrDefault("quiet-wait", "20"));
        var out = Path.of(o.getOrDefault("out", "."));
        Files.createDirectories(out);
        long gatewayPid = Long.parseLong(o.getOrDefault("gateway-pid", "-1"));
        var label = o.getOrDefault("label", "sqlite");
        bench.csv.add("label,kind,concurrency,window_s,runs,runs_per_s,p50_ms,p90_ms,p99_ms,max_ms,extra_p50_ms,extra_p99_ms,gateway_cpu_pct,gateway_cpu_ms_per_run,others_cpu_pct,invalid");
        bench.report.append("| store | c | runs/s | run p50 ms | run p90 ms | run p99 ms | first delta p50 ms | thread create p50 ms | gateway CPU % | gateway CPU ms/run | others' CPU % | invalid |\n")
                .append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        var assistant = bench.createAssistant(o.getOrDefault("model", "fast"));
        for (var c : o.getOrDefault("concurrency", "1 16 64").trim().split("\\s+")) {
            bench.throughput(label, assistant, Integer.parseInt(c), Integer.parseInt(o.getOrDefault("warmup", "3")),
                    Integer.parseInt(o.getOrDefault("duration", "15")), gatewayPid);
        }
        var stampModel = o.get("stamp-model");
        if (stampModel != null) {
            int chunks = Integer.parseInt(o.getOrDefault("stamp-chunks", "20"));
            try (var upstream = new StampUpstream(Integer.parseInt(o.getOrDefault("stamp-port", "18101")), chunks,
                    Long.parseLong(o.getOrDefault("stamp-ttft-ms", "150")), Long.parseLong(o.getOrDefault("stamp-gap-ms", "10")))) {
                var stampAssistant = bench.createAssistant(stampModel);
                bench.report.append("\n| store | c (runs in flight) | runs | deltas | primary p50 ms | primary p90 ms | primary p99 ms | primary max ms | follower p50 ms | follower p99 ms | follower max ms | late replay p50 ms | late replay p99 ms | others' CPU % | invalid |\n")
                        .append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
                for (var c : o.getOrDefault("latency-concurrency", "1 16").trim().split("\\s+")) {
                    bench.latency(label, stampAssistant, Integer.parseInt(c), Integer.parseInt(o.getOrDefault("warmup", "3")),
                            Integer.parseInt(o.getOrDefault("latency-duration", "10")), chunks, gatewayPid);
                }
            }
        }
        System.out.println(bench.report);
        Files.writeString(out.resolve("report-" + label + ".md"), bench.report.toString());
        Files.write(out.resolve("results-" + label + ".csv"), bench.csv);
        if (bench.invalid.get() > 0) {
            System.err.println(bench.invalid.get() + " invalid runs; first errors:");
            bench.errors.stream().limit(10).forEach(e -> System.err.println("  " + e));
            System.exit(3);
        }
    }

    // ------------------------------------------------------------------ throughput

    /** One run as the load generator saw it. */
    record RunSample(long startNanos, long endNanos, long firstDeltaNanos, long threadCreateNanos) {}

    private void throughput(String label, String assistant, int c, int warmupS, int durationS, long gatewayPid) throws Exception {
        awaitQuiet(gatewayPid, quietMaxPct, quietWaitS);
        long start = System.nanoTime();
        long measureFrom = start + warmupS * 1_000_000_000L;
        long measureTo = measureFrom + durationS * 1_000_000_000L;
        var samples = new ConcurrentLinkedQueue<RunSample>();
        long[] cpu = new long[2];
        long[][] machine = new long[2][];
        var cpuProbe = Thread.ofVirtual().start(() -> {
            // Gateway CPU, and everybody else's, over exactly the measured window.
            sleepUntil(measureFrom);
            cpu[0] = gatewayPid > 0 ? ProcCpu.ticks(gatewayPid) : -1;
            machine[0] = cpuSnapshot(gatewayPid);
            sleepUntil(measureTo);
            cpu[1] = gatewayPid > 0 ? ProcCpu.ticks(gatewayPid) : -1;
            machine[1] = cpuSnapshot(gatewayPid);
        });
        var workers = new ArrayList<Thread>();
        for (int w = 0; w < c; w++) {
            workers.add(Thread.ofVirtual().start(() -> {
                while (System.nanoTime() < measureTo) {
                    try {
                        long t0 = System.nanoTime();
                        var thread = createThread();
                        long t1 = System.nanoTime();
                        var events = new ArrayList<Event>();
                        stream("POST", "/threads/" + thread + "/runs", "{\"assistant_id\":\"" + assistant + "\",\"stream\":true}", events::add);
                        long t2 = System.nanoTime();
                        var problem = validate(events);
                        if (problem != null) {
                            fail("c=" + c + " " + thread + ": " + problem);
                            continue;
                        }
                        long firstDelta = events.stream().filter(e -> e.type().equals("thread.message.delta")).findFirst().orElseThrow().receivedNanos();
                        samples.add(new RunSample(t1, t2, firstDelta - t1, t1 - t0));
                    } catch (Exception e) {
                        fail("c=" + c + ": " + e);
                    }
                }
            }));
        }
        for (var w : workers) w.join();
        cpuProbe.join();
        var inWindow = samples.stream().filter(s -> s.endNanos() >= measureFrom && s.endNanos() < measureTo).toList();
        var latency = sorted(inWindow.stream().mapToLong(s -> s.endNanos() - s.startNanos()).toArray());
        var first = sorted(inWindow.stream().mapToLong(RunSample::firstDeltaNanos).toArray());
        var create = sorted(inWindow.stream().mapToLong(RunSample::threadCreateNanos).toArray());
        double rps = inWindow.size() / (double) durationS;
        double cpuPct = cpu[0] >= 0 && cpu[1] >= 0 ? (cpu[1] - cpu[0]) * 100.0 / ProcCpu.clkTck() / durationS : Double.NaN;
        double cpuMsPerRun = inWindow.isEmpty() || Double.isNaN(cpuPct) ? Double.NaN : cpuPct * 10.0 * durationS / inWindow.size();
        double foreign = foreignPct(machine[0], machine[1]);
        report.append("| %s | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.0f | %.2f | %.0f | %d |%n".formatted(label, c, rps, ms(p(latency, .5)),
                ms(p(latency, .9)), ms(p(latency, .99)), ms(p(first, .5)), ms(p(create, .5)), cpuPct, cpuMsPerRun, foreign, invalid.get()));
        csv.add("%s,throughput,%d,%d,%d,%.2f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.1f,%.3f,%.1f,%d".formatted(label, c, durationS, inWindow.size(), rps,
                ms(p(latency, .5)), ms(p(latency, .9)), ms(p(latency, .99)), ms(p(latency, 1)), ms(p(first, .5)), ms(p(first, .99)), cpuPct, cpuMsPerRun, foreign, invalid.get()));
        System.err.printf("[runs] %s c=%d: %.1f runs/s, run p50 %.1f ms p99 %.1f ms (%d runs in %d s window)%n", label, c, rps,
                ms(p(latency, .5)), ms(p(latency, .99)), inWindow.size(), durationS);
    }

    // ------------------------------------------------------------------ event delivery

    private void latency(String label, String assistant, int c, int warmupS, int durationS, int chunks, long gatewayPid) throws Exception {
        awaitQuiet(gatewayPid, quietMaxPct, quietWaitS);
        long measureFrom = System.nanoTime() + warmupS * 1_000_000_000L;
        long measureTo = measureFrom + durationS * 1_000_000_000L;
        var primary = new ConcurrentLinkedQueue<Long>();
        var follower = new ConcurrentLinkedQueue<Long>();
        var replay = new ConcurrentLinkedQueue<Long>();
        var runs = new AtomicLong();
        double[] foreignHolder = {Double.NaN};
        var workers = new ArrayList<Thread>();
        for (int w = 0; w < c; w++) {
            workers.add(Thread.ofVirtual().start(() -> {
                while (System.nanoTime() < measureTo) {
                    try {
                        var thread = createThread();
                        boolean measured = System.nanoTime() >= measureFrom;
                        var events = new ArrayList<Event>();
                        var followed = new ArrayList<Event>();
                        Thread[] followerThread = new Thread[1];
                        stream("POST", "/threads/" + thread + "/runs", "{\"assistant_id\":\"" + assistant + "\",\"stream\":true}", e -> {
                            events.add(e);
                            if (e.type().equals("thread.run.created")) {
                                var runId = firstId(e.data());
                                followerThread[0] = Thread.ofVirtual().start(() -> {
                                    try {
                                        stream("GET", "/threads/" + thread + "/runs/" + runId + "/events", null, followed::add);
                                    } catch (Exception ex) {
                                        fail("follower: " + ex);
                                    }
                                });
                            }
                        });
                        if (followerThread[0] != null) followerThread[0].join();
                        var problem = validate(events);
                        if (problem == null) problem = validate(followed);
                        if (problem == null && !sameEvents(events, followed)) problem = "the follower saw other events than the run's own stream";
                        if (problem == null && count(events, "thread.message.delta") != chunks) problem = "expected " + chunks + " deltas";
                        if (problem != null) {
                            fail("latency c=" + c + " " + thread + ": " + problem);
                            continue;
                        }
                        // A late subscriber: the whole log of the finished run, request to [DONE].
                        var runId = firstId(events.getFirst().data());
                        long r0 = System.nanoTime();
                        var late = new ArrayList<Event>();
                        stream("GET", "/threads/" + thread + "/runs/" + runId + "/events", null, late::add);
                        long r1 = System.nanoTime();
                        if (!sameEvents(events, late)) {
                            fail("late subscriber saw other events");
                            continue;
                        }
                        if (!measured || r1 > measureTo) continue;
                        runs.incrementAndGet();
                        stamps(events, primary);
                        stamps(followed, follower);
                        replay.add(r1 - r0);
                    } catch (Exception e) {
                        fail("latency c=" + c + ": " + e);
                    }
                }
            }));
        }
        var machineProbe = Thread.ofVirtual().start(() -> {
            sleepUntil(measureFrom);
            var a = cpuSnapshot(gatewayPid);
            sleepUntil(measureTo);
            foreignHolder[0] = foreignPct(a, cpuSnapshot(gatewayPid));
        });
        for (var w : workers) w.join();
        machineProbe.join();
        var pr = sorted(primary.stream().mapToLong(Long::longValue).toArray());
        var fo = sorted(follower.stream().mapToLong(Long::longValue).toArray());
        var re = sorted(replay.stream().mapToLong(Long::longValue).toArray());
        report.append("| %s | %d | %d | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.0f | %d |%n".formatted(label, c, runs.get(), pr.length,
                ms(p(pr, .5)), ms(p(pr, .9)), ms(p(pr, .99)), ms(p(pr, 1)), ms(p(fo, .5)), ms(p(fo, .99)), ms(p(fo, 1)), ms(p(re, .5)), ms(p(re, .99)), foreignHolder[0], invalid.get()));
        csv.add("%s,delivery-primary,%d,%d,%d,,%.3f,%.3f,%.3f,%.3f,,,,,%d".formatted(label, c, durationS, runs.get(), ms(p(pr, .5)), ms(p(pr, .9)), ms(p(pr, .99)), ms(p(pr, 1)), invalid.get()));
        csv.add("%s,delivery-follower,%d,%d,%d,,%.3f,%.3f,%.3f,%.3f,,,,,%d".formatted(label, c, durationS, runs.get(), ms(p(fo, .5)), ms(p(fo, .9)), ms(p(fo, .99)), ms(p(fo, 1)), invalid.get()));
        csv.add("%s,late-replay,%d,%d,%d,,%.3f,%.3f,%.3f,%.3f,,,,,%d".formatted(label, c, durationS, runs.get(), ms(p(re, .5)), ms(p(re, .9)), ms(p(re, .99)), ms(p(re, 1)), invalid.get()));
        System.err.printf("[runs] %s delivery c=%d: %d runs, primary p50 %.2f p99 %.2f ms, follower p50 %.2f p99 %.2f ms%n", label, c, runs.get(),
                ms(p(pr, .5)), ms(p(pr, .99)), ms(p(fo, .5)), ms(p(fo, .99)));
    }

    /** Receive time minus the upstream's write time, for every stamped token of every delta. */
    private static void stamps(List<Event> events, ConcurrentLinkedQueue<Long> out) {
        for (var e : events) {
            if (!e.type().equals("thread.message.delta")) continue;
            var m = VALUE.matcher(e.data());
            while (m.find()) {
                var v = m.group(1);
                for (int i = v.indexOf(StampUpstream.STAMP_PREFIX); i >= 0; i = v.indexOf(StampUpstream.STAMP_PREFIX, i + 1)) {
                    int j = i + StampUpstream.STAMP_PREFIX.length();
                    int k = j;
                    while (k < v.length() && Character.isDigit(v.charAt(k))) k++;
                    if (k > j) out.add(e.receivedNanos() - Long.parseLong(v.substring(j, k)));
                }
            }
        }
    }

    private static boolean sameEvents(List<Event> a, List<Event> b) {
        if (a.size() != b.size()) return false;
        for (int i = 0; i < a.size(); i++) {
            if (!a.get(i).type().equals(b.get(i).type()) || !a.get(i).data().equals(b.get(i).data()) || !String.valueOf(a.get(i).id()).equals(String.valueOf(b.get(i).id()))) return false;
        }
        return true;
    }

    private static long count(List<Event> events, String type) {
        return events.stream().filter(e -> e.type().equals(type)).count();
    }

    // ------------------------------------------------------------------ validation

    /** Null when the stream is the complete official sequence of a completed run; else what is wrong. */
    static String validate(List<Event> events) {
        var types = events.stream().map(Event::type).toList();
        if (types.size() < HEAD.size() + 1 + TAIL.size()) return "short stream: " + types;
        if (!types.subList(0, HEAD.size()).equals(HEAD)) return "unexpected start: " + types.subList(0, Math.min(types.size(), 8));
        if (!types.subList(types.size() - TAIL.size(), types.size()).equals(TAIL)) return "unexpected end: " + types.subList(Math.max(0, types.size() - 5), types.size());
        var text = new StringBuilder();
        for (var e : events.subList(HEAD.size(), types.size() - TAIL.size())) {
            if (!e.type().equals("thread.message.delta")) return "unexpected event " + e.type();
            var m = VALUE.matcher(e.data());
            if (!m.find()) return "delta without text";
            text.append(m.group(1));
        }
        var completed = events.get(types.size() - TAIL.size()).data();
        if (!completed.contains("\"value\":\"" + text + "\"")) return "completed message differs from the deltas";
        if (!events.getLast().data().equals("[DONE]")) return "no [DONE]";
        for (int i = 0; i < events.size() - 1; i++) if (!Integer.toString(i + 1).equals(events.get(i).id())) return "SSE id " + events.get(i).id() + " at " + (i + 1);
        return null;
    }

    private void fail(String message) {
        invalid.incrementAndGet();
        if (errors.size() < 50) errors.add(message);
    }

    // ------------------------------------------------------------------ HTTP

    private String createAssistant(String model) throws IOException, InterruptedException {
        return firstId(post("/assistants", "{\"model\":\"" + model + "\",\"name\":\"bench\",\"instructions\":\"Be brief.\"}"));
    }

    private String createThread() throws IOException, InterruptedException {
        return firstId(post("/threads", "{\"messages\":[{\"role\":\"user\",\"content\":\"Tell me about rivers.\"}]}"));
    }

    private String post(String path, String body) throws IOException, InterruptedException {
        var r = http.send(HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) throw new IOException("POST " + path + " -> " + r.statusCode() + " " + r.body());
        return r.body();
    }

    private void stream(String method, String path, String body, Consumer<Event> each) throws IOException, InterruptedException {
        var b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(60)).header("Content-Type", "application/json");
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        var r = http.send(b.build(), HttpResponse.BodyHandlers.ofInputStream());
        try (var reader = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
            if (r.statusCode() != 200) throw new IOException(method + " " + path + " -> " + r.statusCode() + " " + reader.readLine());
            String type = null, id = null;
            var data = new StringBuilder();
            String line;
            while ((line = reader.readLine()) != null) {
                if (line.isEmpty()) {
                    if (type != null || !data.isEmpty()) each.accept(new Event(type == null ? "message" : type, id, data.toString(), System.nanoTime()));
                    type = null;
                    id = null;
                    data.setLength(0);
                } else if (line.startsWith("event:")) {
                    type = line.substring(6).strip();
                } else if (line.startsWith("data:")) {
                    if (!data.isEmpty()) data.append('\n');
                    data.append(line.substring(line.startsWith("data: ") ? 6 : 5));
                } else if (line.startsWith("id:")) {
                    id = line.substring(3).strip();
                }
            }
        }
    }

    private static String firstId(String json) {
        Matcher m = ID.matcher(json);
        if (!m.find()) throw new IllegalStateException("no id in " + json);
        return m.group(1);
    }

    // ------------------------------------------------------------------ the shared machine

    private static final long SELF = ProcessHandle.current().pid();

    /** Machine {total, busy+steal} ticks and the ticks of the gateway and this JVM, to tell others' CPU use apart. */
    private static long[] cpuSnapshot(long gatewayPid) {
        var m = ProcCpu.machine();
        return new long[] {m[0], m[1] + m[2], gatewayPid > 0 ? Math.max(0, ProcCpu.ticks(gatewayPid)) : 0, Math.max(0, ProcCpu.ticks(SELF))};
    }

    /** Share of the machine (%) used by other processes (or stolen by the hypervisor) between two snapshots. */
    private static double foreignPct(long[] a, long[] b) {
        double total = b[0] - a[0];
        if (total <= 0) return Double.NaN;
        return Math.max(0, 100.0 * ((b[1] - a[1]) - (b[2] - a[2]) - (b[3] - a[3])) / total);
    }

    /** Waits (up to {@code maxWaitS}) until other processes use at most {@code maxPct} % of the machine; returns what they used last. */
    private static double awaitQuiet(long gatewayPid, double maxPct, int maxWaitS) throws InterruptedException {
        long deadline = System.nanoTime() + maxWaitS * 1_000_000_000L;
        while (true) {
            var a = cpuSnapshot(gatewayPid);
            Thread.sleep(500);
            double foreign = foreignPct(a, cpuSnapshot(gatewayPid));
            if (foreign <= maxPct || System.nanoTime() > deadline) {
                if (foreign > maxPct) System.err.printf("[runs] the machine is still busy with other processes (%.0f%%); measuring anyway%n", foreign);
                return foreign;
            }
        }
    }

    // ------------------------------------------------------------------ numbers

    private static long[] sorted(long[] values) {
        Arrays.sort(values);
        return values;
    }

    private static long p(long[] sorted, double q) {
        if (sorted.length == 0) return -1;
        int i = (int) Math.ceil(q * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
    }

    private static double ms(long nanos) {
        return nanos < 0 ? Double.NaN : nanos / 1e6;
    }

    private static void sleepUntil(long nanos) {
        long left;
        while ((left = nanos - System.nanoTime()) > 0) java.util.concurrent.locks.LockSupport.parkNanos(left);
    }

    private static Map<String, String> options(String[] args) {
        var o = new HashMap<String, String>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            if (!args[i].startsWith("--")) throw new IllegalArgumentException("expected --option value, got " + args[i]);
            o.put(args[i].substring(2), args[i + 1]);
        }
        return o;
    }
}
