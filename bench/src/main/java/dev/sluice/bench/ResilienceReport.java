package dev.sluice.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The tables of a {@code bench/scripts/resilience.sh} run, from the files it wrote: {@code hold.txt} (key: value),
 * {@code faults.csv} (LoadGen rows) with {@code faults-upstream-stats.txt} (the upstream's fault counters before and
 * after each cell), and {@code cancel.md}. Usage: {@code ResilienceReport <results dir>}, markdown on stdout.
 */
public final class ResilienceReport {

    public static void main(String[] args) throws IOException {
        var dir = Path.of(args[0]);
        var out = new StringBuilder();
        if (Files.exists(dir.resolve("hold.txt"))) out.append(hold(keyValues(Files.readString(dir.resolve("hold.txt"))))).append('\n');
        if (Files.exists(dir.resolve("faults.csv"))) {
            var stats = Files.exists(dir.resolve("faults-upstream-stats.txt")) ? Files.readAllLines(dir.resolve("faults-upstream-stats.txt")) : List.<String>of();
            out.append(faults(Files.readAllLines(dir.resolve("faults.csv")), stats)).append('\n');
        }
        if (Files.exists(dir.resolve("cancel.md"))) out.append("### Cancel latency (client abort → upstream connection closed)\n\n").append(Files.readString(dir.resolve("cancel.md")));
        System.out.print(out);
    }

    static Map<String, String> keyValues(String text) {
        var m = new LinkedHashMap<String, String>();
        for (var line : text.split("\n")) {
            int i = line.indexOf(": ");
            if (i > 0) m.put(line.substring(0, i).strip(), line.substring(i + 2).strip());
        }
        return m;
    }

    static String hold(Map<String, String> h) {
        var sb = new StringBuilder("### Held streams\n\n");
        sb.append(String.format(Locale.ROOT, "%s streams of `%s` held at once (ramp %s s); live before/after the snapshot: %s / %s; completed correctly: %s, failed: %s%s; machine busy %s%% (not the bench %s%%)%n%n",
                h.get("streams"), h.get("model"), h.get("ramp_s"), h.get("live_before"), h.get("live_after"), h.get("completed"), h.get("failed"),
                h.containsKey("first_error") ? " (first: " + h.get("first_error") + ")" : "", h.get("machine_busy_pct"), h.get("foreign_pct")));
        sb.append("| gateway | RSS MiB | heap after full GC MiB | heap committed MiB | threads | fds |\n|---|---|---|---|---|---|\n");
        for (var phase : List.of("idle", "held", "after")) {
            if (!h.containsKey(phase + "_rss_kib")) continue;
            sb.append(String.format(Locale.ROOT, "| %s | %.1f | %.1f | %.1f | %s | %s |%n", phase, mib(h.get(phase + "_rss_kib")), mib(h.get(phase + "_heap_used_kib")),
                    mib(h.get(phase + "_heap_committed_kib")), h.get(phase + "_threads"), h.get(phase + "_fds")));
        }
        if (h.containsKey("per_stream_heap_kib")) {
            sb.append(String.format(Locale.ROOT, "| **per stream** (held − idle) ÷ %s | %s KiB | %s KiB | | %s | %s |%n", h.get("streams"), h.get("per_stream_rss_kib"),
                    h.get("per_stream_heap_kib"), h.get("per_stream_threads"), h.get("per_stream_fds")));
        }
        return sb.toString();
    }

    private static double mib(String kib) {
        return kib == null ? Double.NaN : Long.parseLong(kib) / 1024.0;
    }

    /** One LoadGen CSV row, by column name. */
    record Row(Map<String, String> v) {
        String get(String k) {
            return v.getOrDefault(k, "");
        }

        double num(String k) {
            String s = get(k);
            return s.isEmpty() ? Double.NaN : Double.parseDouble(s);
        }
    }

    static List<Row> rows(List<String> csv) {
        var out = new ArrayList<Row>();
        if (csv.isEmpty()) return out;
        var header = csv.getFirst().split(",", -1);
        for (var line : csv.subList(1, csv.size())) {
            if (line.isBlank() || line.startsWith("target,")) continue;
            var f = line.split(",", -1);
            var m = new LinkedHashMap<String, String>();
            for (int i = 0; i < header.length && i < f.length; i++) m.put(header[i], f[i]);
            out.add(new Row(m));
        }
        return out;
    }

    /** Counters from the upstream's {@code /bench/stats} JSON: {faultable, injected_total}. */
    static long[] stats(String json) {
        return new long[] {number(json, "faultable"), number(json, "injected_total")};
    }

    private static long number(String json, String key) {
        var m = Pattern.compile("\"" + key + "\":(\\d+)").matcher(json);
        return m.find() ? Long.parseLong(m.group(1)) : 0;
    }

    /** "target mode before={..} after={..}" lines → upstream requests of faulted models and faults injected, per "target mode". */
    static Map<String, long[]> faultCounts(List<String> lines) {
        var out = new LinkedHashMap<String, long[]>();
        for (var line : lines) {
            int b = line.indexOf(" before=");
            int a = line.indexOf(" after=");
            if (b < 0 || a < 0) continue;
            long[] s0 = stats(line.substring(b, a));
            long[] s1 = stats(line.substring(a));
            out.put(line.substring(0, b), new long[] {s1[0] - s0[0], s1[1] - s0[1]});
        }
        return out;
    }

    static String faults(List<String> csv, List<String> statsLines) {
        var rows = rows(csv);
        var counts = faultCounts(statsLines);
        var sb = new StringBuilder("### Faults at c=" + (rows.isEmpty() ? "?" : rows.getFirst().get("concurrency")) + "\n\n");
        sb.append("| mode | target | requests | client errors | upstream requests faulted | p50 ms | p90 ms | p99 ms | max ms | added p99 vs clean route ms | vs direct ms | machine busy / not the bench |\n");
        sb.append("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (var mode : rows.stream().map(r -> r.get("mode")).distinct().toList()) {
            var ofMode = rows.stream().filter(r -> r.get("mode").equals(mode)).toList();
            double clean = ofMode.stream().filter(r -> r.get("target").equals("sluice-clean")).mapToDouble(r -> r.num("lat_p99_ms")).findFirst().orElse(Double.NaN);
            double direct = ofMode.stream().filter(r -> r.get("target").equals("direct")).mapToDouble(r -> r.num("lat_p99_ms")).findFirst().orElse(Double.NaN);
            for (var r : ofMode) {
                long[] c = counts.get(r.get("target") + " " + mode);
                String faulted = c == null || c[0] == 0 ? "–" : String.format(Locale.ROOT, "%d of %d (%.1f%%)", c[1], c[0], 100.0 * c[1] / c[0]);
                boolean faulty = r.get("target").startsWith("sluice-faulty");
                sb.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s | %.2f | %.2f | %.2f | %.2f | %s | %s | %.0f%% / %.0f%% |%n", mode, r.get("target"), r.get("requests"),
                        r.get("errors"), faulted, r.num("lat_p50_ms"), r.num("lat_p90_ms"), r.num("lat_p99_ms"), r.num("lat_max_ms"),
                        faulty ? signed(r.num("lat_p99_ms") - clean) : "", r.get("target").equals("direct") ? "" : signed(r.num("lat_p99_ms") - direct),
                        r.num("machine_busy_pct"), r.num("foreign_pct")));
            }
        }
        return sb.toString();
    }

    private static String signed(double v) {
        return Double.isNaN(v) ? "" : String.format(Locale.ROOT, "%+.2f", v);
    }
}
