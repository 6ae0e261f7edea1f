package dev.sluice.bench;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordedStackTrace;
import jdk.jfr.consumer.RecordingFile;

/**
 * Summarises a JFR recording of the gateway: where the CPU samples are (top frames by self time, by package
 * group and by thread), which gateway methods are on the stack most (inclusive), and the top allocation sites.
 *
 * <p>Usage: {@code JfrTop recording.jfr [topN]}.
 */
public final class JfrTop {

    public static void main(String[] args) throws Exception {
        int top = args.length > 1 ? Integer.parseInt(args[1]) : 25;
        var self = new HashMap<String, Long>();
        var groups = new HashMap<String, Long>();
        var threads = new HashMap<String, Long>();
        var inclusiveSluice = new HashMap<String, Long>();
        var inclusiveAll = new HashMap<String, Long>();
        var allocSelf = new HashMap<String, Long>();
        var allocSluice = new HashMap<String, Long>();
        var allocClass = new HashMap<String, Long>();
        var allocStacks = new HashMap<String, Long>();
        var cpuStacks = new HashMap<String, Long>();
        long samples = 0;
        long nativeSamples = 0;
        long allocTotal = 0;
        var gcPauses = new long[2]; // count, total ns
        for (RecordedEvent e : RecordingFile.readAllEvents(Path.of(args[0]))) {
            String type = e.getEventType().getName();
            switch (type) {
                case "jdk.ExecutionSample" -> {
                    samples++;
                    var st = e.getStackTrace();
                    String thread = threadName(e);
                    threads.merge(thread, 1L, Long::sum);
                    if (st == null || st.getFrames().isEmpty()) continue;
                    var frames = st.getFrames();
                    String topFrame = name(frames.getFirst());
                    self.merge(topFrame, 1L, Long::sum);
                    cpuStacks.merge(stack(frames, 8), 1L, Long::sum);
                    groups.merge(group(topFrame), 1L, Long::sum);
                    var seen = new HashSet<String>();
                    var seenAll = new HashSet<String>();
                    for (var f : frames) {
                        String n = name(f);
                        if (seenAll.add(n)) inclusiveAll.merge(n, 1L, Long::sum);
                        if (n.startsWith("dev.sluice.") && seen.add(n)) inclusiveSluice.merge(n, 1L, Long::sum);
                    }
                }
                case "jdk.NativeMethodSample" -> nativeSamples++;
                case "jdk.ObjectAllocationSample" -> {
                    long w = e.getLong("weight");
                    allocTotal += w;
                    String cls = e.getClass("objectClass") == null ? "?" : e.getClass("objectClass").getName();
                    allocClass.merge(cls, w, Long::sum);
                    RecordedStackTrace st = e.getStackTrace();
                    if (st == null || st.getFrames().isEmpty()) continue;
                    List<RecordedFrame> frames = st.getFrames();
                    allocSelf.merge(name(frames.getFirst()), w, Long::sum);
                    allocStacks.merge(cls + " <- " + stack(frames, 8), w, Long::sum);
                    for (var f : frames) {
                        String n = name(f);
                        if (n.startsWith("dev.sluice.")) {
                            allocSluice.merge(n, w, Long::sum);
                            break; // first gateway frame: the gateway code that caused the allocation
                        }
                    }
                }
                case "jdk.GarbageCollection" -> {
                    gcPauses[0]++;
                    gcPauses[1] += e.getDuration("sumOfPauses").toNanos();
                }
                default -> { }
            }
        }
        System.out.printf(Locale.ROOT, "%s: %d Java execution samples, %d native samples, %d GCs (%.1f ms total pause), %.1f MB allocation sampled weight%n",
                args[0], samples, nativeSamples, gcPauses[0], gcPauses[1] / 1e6, allocTotal / 1e6);
        print("CPU samples by package group of the top frame", groups, samples, top);
        print("CPU samples by thread", threads, samples, top);
        print("Top frames (self)", self, samples, top);
        print("Gateway methods on the stack (inclusive)", inclusiveSluice, samples, top);
        print("All methods on the stack (inclusive)", inclusiveAll, samples, top);
        print("Allocation by class (sampled weight)", allocClass, allocTotal, top);
        print("Allocation by top frame (sampled weight)", allocSelf, allocTotal, top);
        print("Allocation by first gateway frame (sampled weight)", allocSluice, allocTotal, top);
        print("Hottest stacks (top 8 frames, CPU samples)", cpuStacks, samples, Math.min(top, 12));
        print("Heaviest allocation stacks (top 8 frames, sampled weight)", allocStacks, allocTotal, Math.min(top, 12));
    }

    private static String threadName(RecordedEvent e) {
        var t = e.getThread("sampledThread");
        if (t == null) return "?";
        String n = t.getJavaName() == null ? t.getOSName() : t.getJavaName();
        if (n == null) return "?";
        if (t.isVirtual() || n.isEmpty()) return "virtual:" + n.replaceAll("\\d+", "N");
        return n.replaceAll("\\d+", "N");
    }

    private static String stack(List<RecordedFrame> frames, int depth) {
        var sb = new StringBuilder();
        for (int i = 0; i < Math.min(depth, frames.size()); i++) {
            if (i > 0) sb.append("\n           <- ");
            var f = frames.get(i);
            sb.append(name(f)).append(':').append(f.getLineNumber());
        }
        return sb.toString();
    }

    private static String name(RecordedFrame f) {
        var m = f.getMethod();
        if (m == null) return "?";
        return m.getType().getName() + "." + m.getName();
    }

    private static String group(String frame) {
        if (frame.startsWith("dev.sluice.wire.")) return "sluice wire (SSE/JSON parsing)";
        if (frame.startsWith("dev.sluice.client.")) return "sluice client";
        if (frame.startsWith("dev.sluice.gateway.")) return "sluice gateway";
        if (frame.startsWith("dev.sluice.")) return "sluice other";
        if (frame.startsWith("com.fasterxml.jackson.")) return "jackson";
        if (frame.startsWith("io.netty.")) return "netty";
        if (frame.startsWith("jdk.internal.net.http.")) return "java.net.http client";
        if (frame.startsWith("java.util.concurrent.") || frame.startsWith("java.lang.VirtualThread") || frame.startsWith("jdk.internal.vm.")
                || frame.startsWith("java.lang.Continuation")) return "j.u.c / virtual threads";
        if (frame.startsWith("sun.nio.") || frame.startsWith("java.nio.")) return "NIO";
        if (frame.startsWith("java.lang.String") || frame.startsWith("java.lang.StringLatin1") || frame.startsWith("java.lang.StringUTF16")
                || frame.startsWith("java.lang.AbstractStringBuilder")) return "java.lang strings";
        if (frame.startsWith("java.") || frame.startsWith("jdk.") || frame.startsWith("sun.")) return "other JDK";
        return "other";
    }

    private static void print(String title, Map<String, Long> counts, long total, int top) {
        System.out.println();
        System.out.println("== " + title);
        counts.entrySet().stream()
                .sorted(Map.Entry.<String, Long>comparingByValue().reversed())
                .limit(top)
                .forEach(en -> System.out.printf(Locale.ROOT, "%6.1f%%  %s%n", total == 0 ? 0 : 100.0 * en.getValue() / total, en.getKey()));
    }
}
