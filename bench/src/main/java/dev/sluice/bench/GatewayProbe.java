package dev.sluice.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * Memory and resource footprint of a running JVM (the gateway), from outside: RSS and thread count from
 * {@code /proc/<pid>/status}, open descriptors from {@code /proc/<pid>/fd}, and the Java heap in use after a full
 * collection ({@code jcmd <pid> GC.run}, then {@code GC.heap_info}). Heap after a forced GC is what the live
 * objects take; heap "used" without it would mostly measure how long ago the last young collection ran.
 */
public final class GatewayProbe {

    /** One snapshot. Sizes in KiB; heapUsedKib/heapCommittedKib are -1 when jcmd could not be used. */
    public record Snapshot(long rssKib, long heapUsedKib, long heapCommittedKib, int threads, int fds, double gcRunSeconds) {

        String human() {
            return String.format(Locale.ROOT, "rss %.1f MiB, heap after GC %.1f MiB (committed %.1f MiB), %d threads, %d fds (GC.run took %.2f s)",
                    rssKib / 1024.0, heapUsedKib / 1024.0, heapCommittedKib / 1024.0, threads, fds, gcRunSeconds);
        }
    }

    private final long pid;
    private final Path jcmd;

    public GatewayProbe(long pid) {
        this.pid = pid;
        this.jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
    }

    /** Full GC, then heap, RSS, threads and fds (RSS after the GC, so both see the same moment). */
    public Snapshot measure() throws IOException, InterruptedException {
        long t0 = System.nanoTime();
        run("GC.run");
        double gcSeconds = (System.nanoTime() - t0) / 1e9;
        long[] heap = parseHeapInfo(run("GC.heap_info"));
        String status = Files.readString(Path.of("/proc/" + pid + "/status"));
        int fds;
        try (var s = Files.list(Path.of("/proc/" + pid + "/fd"))) {
            fds = (int) s.count();
        }
        return new Snapshot(statusKib(status, "VmRSS"), heap[0], heap[1], (int) statusKib(status, "Threads"), fds, gcSeconds);
    }

    /** {@code jcmd GC.class_histogram}: live objects by class, largest first. */
    public String classHistogram() throws IOException, InterruptedException {
        return run("GC.class_histogram");
    }

    private String run(String command) throws IOException, InterruptedException {
        var p = new ProcessBuilder(jcmd.toString(), Long.toString(pid), command).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroy();
            throw new IOException("jcmd " + command + " did not finish");
        }
        if (p.exitValue() != 0) throw new IOException("jcmd " + command + " failed: " + new String(out, StandardCharsets.UTF_8));
        return new String(out, StandardCharsets.UTF_8);
    }

    private static final Pattern HEAP = Pattern.compile("heap\\s+total(?: reserved)? \\d+K, committed (\\d+)K, used (\\d+)K");
    private static final Pattern HEAP_OLD = Pattern.compile("heap\\s+total (\\d+)K, used (\\d+)K");

    /**
     * {used, committed} in KiB from {@code jcmd GC.heap_info}: G1 prints
     * {@code garbage-first heap   total reserved 6172672K, committed 28672K, used 2651K [...]} (older JDKs
     * {@code total 262144K, used 2651K}, where total is what is committed).
     */
    static long[] parseHeapInfo(String out) {
        var m = HEAP.matcher(out);
        if (m.find()) return new long[] {Long.parseLong(m.group(2)), Long.parseLong(m.group(1))};
        m = HEAP_OLD.matcher(out);
        if (m.find()) return new long[] {Long.parseLong(m.group(2)), Long.parseLong(m.group(1))};
        throw new IllegalArgumentException("no heap line in GC.heap_info output: " + out);
    }

    /** A {@code Key:   value [kB]} line of /proc/pid/status, as a number (kB for sizes). */
    static long statusKib(String status, String key) {
        for (var line : status.split("\n")) {
            if (line.startsWith(key + ":")) {
                String v = line.substring(key.length() + 1).strip();
                int sp = v.indexOf(' ');
                return Long.parseLong(sp < 0 ? v : v.substring(0, sp));
            }
        }
        throw new IllegalArgumentException("no " + key + " in /proc status");
    }

    public static void main(String[] args) throws Exception {
        System.out.println(new GatewayProbe(Long.parseLong(args[0])).measure().human());
    }
}
