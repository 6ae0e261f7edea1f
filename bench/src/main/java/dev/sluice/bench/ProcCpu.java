package dev.sluice.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * CPU time of processes from {@code /proc/<pid>/stat}: utime + stime (fields 14 and 15) in clock ticks.
 * A JVM's figure covers all its threads (GC, JIT and event loops included). A process "tree" adds every
 * live descendant (nginx's workers under its master), found through {@code /proc/<pid>/task/<tid>/children}.
 */
public final class ProcCpu {

    private ProcCpu() {}

    private static final long CLK_TCK = clockTicks();

    public static long clkTck() {
        return CLK_TCK;
    }

    private static long clockTicks() {
        try {
            var p = new ProcessBuilder("getconf", "CLK_TCK").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes()).trim();
            p.waitFor();
            return Long.parseLong(out);
        } catch (Exception e) {
            return 100;
        }
    }

    /** utime + stime of one process in ticks, or -1 if it is gone. */
    public static long ticks(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            // comm (field 2) may contain spaces and parentheses: fields are counted after the last ')'.
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            // f[0] is field 3 (state); utime is field 14 -> f[11], stime field 15 -> f[12].
            return Long.parseLong(f[11]) + Long.parseLong(f[12]);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /**
     * utime + stime of the live threads of {@code pid} whose name starts with one of {@code prefixes} (for a JVM,
     * "C1 CompilerThre" / "C2 CompilerThre" are the JIT compilers).
     */
    public static long threadTicks(List<Long> pids, String... prefixes) {
        long sum = 0;
        for (long pid : pids) {
            try (var tasks = Files.list(Path.of("/proc/" + pid + "/task"))) {
                for (var task : tasks.toList()) {
                    try {
                        String comm = Files.readString(task.resolve("comm")).strip();
                        boolean match = false;
                        for (var p : prefixes) match |= comm.startsWith(p);
                        if (!match) continue;
                        String stat = Files.readString(task.resolve("stat"));
                        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                        sum += Long.parseLong(f[11]) + Long.parseLong(f[12]);
                    } catch (IOException | RuntimeException ignored) {
                        // thread exited
                    }
                }
            } catch (IOException ignored) {
                // process exited
            }
        }
        return sum;
    }

    /** Per live thread of {@code pid}: tid -> {name, {user ticks, system ticks}}. */
    public static java.util.Map<Long, java.util.Map.Entry<String, long[]>> threads(long pid) {
        var out = new java.util.HashMap<Long, java.util.Map.Entry<String, long[]>>();
        try (var tasks = Files.list(Path.of("/proc/" + pid + "/task"))) {
            for (var task : tasks.toList()) {
                try {
                    String stat = Files.readString(task.resolve("stat"));
                    String name = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
                    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                    out.put(Long.parseLong(task.getFileName().toString()),
                            java.util.Map.entry(name, new long[] {Long.parseLong(f[11]), Long.parseLong(f[12])}));
                } catch (IOException | RuntimeException ignored) {
                    // thread exited
                }
            }
        } catch (IOException ignored) {
            // process exited
        }
        return out;
    }

    /**
     * CPU ticks per thread group (names with digits folded, e.g. "ForkJoinPool-N-worker-N") between two
     * {@link #threads} snapshots; threads that ended in between are missing, new ones count from zero.
     */
    public static java.util.Map<String, long[]> threadGroupDelta(java.util.Map<Long, java.util.Map.Entry<String, long[]>> before,
                                                                 java.util.Map<Long, java.util.Map.Entry<String, long[]>> after) {
        var out = new java.util.TreeMap<String, long[]>();
        for (var e : after.entrySet()) {
            var b = before.get(e.getKey());
            long[] a = e.getValue().getValue();
            long du = a[0] - (b == null ? 0 : b.getValue()[0]);
            long ds = a[1] - (b == null ? 0 : b.getValue()[1]);
            if (du + ds > 0) {
                var acc = out.computeIfAbsent(e.getValue().getKey().replaceAll("\\d+", "N"), k -> new long[2]);
                acc[0] += du;
                acc[1] += ds;
            }
        }
        return out;
    }

    /** The process and all its live descendants. */
    public static Set<Long> tree(long pid) {
        var out = new LinkedHashSet<Long>();
        collect(pid, out);
        return out;
    }

    private static void collect(long pid, Set<Long> out) {
        if (!out.add(pid)) return;
        try (var tasks = Files.list(Path.of("/proc/" + pid + "/task"))) {
            for (var task : tasks.toList()) {
                try {
                    String children = Files.readString(task.resolve("children")).trim();
                    if (children.isEmpty()) continue;
                    for (var c : children.split("\\s+")) collect(Long.parseLong(c), out);
                } catch (IOException ignored) {
                    // thread exited
                }
            }
        } catch (IOException ignored) {
            // process exited
        }
    }

    /** Sum of ticks over the trees rooted at {@code roots}; processes that vanished count as 0. */
    public static long treeTicks(List<Long> roots) {
        long sum = 0;
        for (long root : roots) {
            for (long pid : tree(root)) {
                long t = ticks(pid);
                if (t > 0) sum += t;
            }
        }
        return sum;
    }

    /**
     * The machine from the first line of /proc/stat: {total, busy, steal} ticks over all CPUs, busy being
     * everything but idle, iowait and steal.
     */
    public static long[] machine() {
        try {
            String first = Files.readAllLines(Path.of("/proc/stat")).getFirst();
            String[] f = first.trim().split("\\s+");
            long total = 0;
            // user nice system idle iowait irq softirq steal (guest, guest_nice are already in user/nice)
            long[] v = new long[8];
            for (int i = 0; i < 8 && i + 1 < f.length; i++) {
                v[i] = Long.parseLong(f[i + 1]);
                total += v[i];
            }
            long busy = total - v[3] - v[4] - v[7];
            return new long[] {total, busy, v[7]};
        } catch (IOException | RuntimeException e) {
            return new long[] {0, 0, 0};
        }
    }

    public static List<Long> parsePids(String csv) {
        var out = new ArrayList<Long>();
        if (csv == null || csv.isBlank()) return out;
        for (var s : csv.split(",")) if (!s.isBlank()) out.add(Long.parseLong(s.trim()));
        return out;
    }
}
