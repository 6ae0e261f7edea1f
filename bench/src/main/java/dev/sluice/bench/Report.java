package dev.sluice.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Turns the CSV written by {@link LoadGen} into a Markdown report: the table of absolute numbers and the
 * issue's goals, each as a ratio or difference against nginx measured in the same run.
 *
 * <p>Usage: {@code Report results.csv [report.md]}. Exit status 0 always (goals are reported, not enforced);
 * the line {@code GOALS: met/total} ends the output for scripts.
 */
public final class Report {

    private static final List<String> MODES = List.of("nonstream", "stream", "paced");
    private static final List<String> TARGETS = List.of("direct", "nginx", "sluice");

    record Row(Map<String, String> f) {
        String s(String k) {
            return f.getOrDefault(k, "");
        }

        double d(String k) {
            String v = s(k);
            return v.isEmpty() ? Double.NaN : Double.parseDouble(v);
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: Report results.csv [report.md]");
            System.exit(2);
        }
        var lines = Files.readAllLines(Path.of(args[0]));
        String[] header = lines.getFirst().split(",", -1);
        var rows = new HashMap<String, Row>();
        for (var line : lines.subList(1, lines.size())) {
            if (line.isBlank() || line.startsWith("target,")) continue;
            String[] v = line.split(",", -1);
            var m = new LinkedHashMap<String, String>();
            for (int i = 0; i < header.length && i < v.length; i++) m.put(header[i], v[i]);
            rows.put(key(m.get("target"), m.get("mode"), m.get("concurrency")), new Row(m)); // last one wins
        }
        String md = render(rows);
        System.out.print(md);
        if (args.length > 1) Files.writeString(Path.of(args[1]), md);
    }

    static String key(String target, String mode, String c) {
        return target + "|" + mode + "|" + c;
    }

    static String modeName(String mode) {
        return switch (mode) {
            case "nonstream" -> "non-stream";
            case "stream" -> "stream, unpaced";
            case "paced" -> "stream, paced";
            default -> mode;
        };
    }

    static String render(Map<String, Row> rows) {
        var out = new StringBuilder();
        var concurrencies = new ArrayList<String>();
        for (var r : rows.values()) if (!concurrencies.contains(r.s("concurrency"))) concurrencies.add(r.s("concurrency"));
        concurrencies.sort((a, b) -> Integer.compare(Integer.parseInt(a), Integer.parseInt(b)));

        out.append("| mode | c | target | req/s | p50 ms | p99 ms | max ms | TTFC p50 ms | TTFC p99 ms | proxy CPU µs/req | upstream CPU µs/req | requests | errors |\n");
        out.append("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        long totalErrors = 0;
        for (var mode : MODES) {
            for (var c : concurrencies) {
                for (var t : TARGETS) {
                    var r = rows.get(key(t, mode, c));
                    if (r == null) continue;
                    long errors = (long) r.d("errors") + (long) r.d("warmup_errors");
                    totalErrors += errors;
                    out.append("| ").append(modeName(mode)).append(" | ").append(c).append(" | ").append(t)
                            .append(" | ").append(fmt(r.d("rps"), 0))
                            .append(" | ").append(fmt(r.d("lat_p50_ms"), 3))
                            .append(" | ").append(fmt(r.d("lat_p99_ms"), 3))
                            .append(" | ").append(fmt(r.d("lat_max_ms"), 2))
                            .append(" | ").append(fmt(r.d("ttfc_p50_ms"), 3))
                            .append(" | ").append(fmt(r.d("ttfc_p99_ms"), 3))
                            .append(" | ").append(t.equals("direct") ? "0" : fmt(r.d("target_cpu_us_per_req"), 1))
                            .append(" | ").append(fmt(r.d("upstream_cpu_us_per_req"), 1))
                            .append(" | ").append(r.s("requests"))
                            .append(" | ").append(errors == 0 ? "0" : "**" + errors + "**")
                            .append(" |\n");
                }
            }
        }
        out.append("\nErrors over the whole run (window + warmup): ").append(totalErrors).append(totalErrors == 0 ? " (as required)\n" : " — **NOT 0: results invalid**\n");

        int met = 0;
        int total = 0;
        out.append("\n### Goals (sluice vs nginx, same run)\n\n");
        out.append("| goal | case | sluice | nginx | limit | result |\n|---|---|---:|---:|---:|---|\n");
        // 1. CPU per request <= 2x nginx
        for (var mode : MODES) {
            for (var c : concurrencies) {
                var s = rows.get(key("sluice", mode, c));
                var n = rows.get(key("nginx", mode, c));
                if (s == null || n == null) continue;
                double sc = s.d("target_cpu_us_per_req");
                double nc = n.d("target_cpu_us_per_req");
                double ratio = sc / nc;
                boolean ok = ratio <= 2.0;
                total++;
                if (ok) met++;
                out.append("| CPU/request ≤ 2× nginx | ").append(modeName(mode)).append(", c=").append(c)
                        .append(" | ").append(fmt(sc, 1)).append(" µs | ").append(fmt(nc, 1)).append(" µs | ratio ")
                        .append(fmt(ratio, 2)).append("× (limit 2×) | ").append(ok ? "met" : "**missed**").append(" |\n");
            }
        }
        // 2. added p99 at c=1 <= nginx's added p99 + 0.3 ms
        for (var mode : MODES) {
            var s = rows.get(key("sluice", mode, "1"));
            var n = rows.get(key("nginx", mode, "1"));
            var d = rows.get(key("direct", mode, "1"));
            if (s == null || n == null || d == null) continue;
            double sa = s.d("lat_p99_ms") - d.d("lat_p99_ms");
            double na = n.d("lat_p99_ms") - d.d("lat_p99_ms");
            boolean ok = sa <= na + 0.3;
            total++;
            if (ok) met++;
            out.append("| added p99 latency at c=1 ≤ nginx's + 0.3 ms | ").append(modeName(mode))
                    .append(" | +").append(fmt(sa, 3)).append(" ms | +").append(fmt(na, 3)).append(" ms | ≤ +")
                    .append(fmt(na + 0.3, 3)).append(" ms | ").append(ok ? "met" : "**missed**").append(" |\n");
        }
        // 3. paced TTFC p99 at c=64 within 1 ms of nginx
        String hi = concurrencies.isEmpty() ? "64" : concurrencies.getLast();
        {
            var s = rows.get(key("sluice", "paced", hi));
            var n = rows.get(key("nginx", "paced", hi));
            if (s != null && n != null) {
                double diff = s.d("ttfc_p99_ms") - n.d("ttfc_p99_ms");
                boolean ok = diff <= 1.0;
                total++;
                if (ok) met++;
                out.append("| paced TTFC p99 at c=").append(hi).append(" within 1 ms of nginx | stream, paced | ")
                        .append(fmt(s.d("ttfc_p99_ms"), 3)).append(" ms | ").append(fmt(n.d("ttfc_p99_ms"), 3)).append(" ms | diff ")
                        .append(diff >= 0 ? "+" : "").append(fmt(diff, 3)).append(" ms (limit +1 ms) | ").append(ok ? "met" : "**missed**").append(" |\n");
            }
        }
        out.append("\nGOALS: ").append(met).append("/").append(total).append(" met\n");
        return out.toString();
    }

    static String fmt(double v, int decimals) {
        if (Double.isNaN(v)) return "–";
        return String.format(Locale.ROOT, "%." + decimals + "f", v);
    }
}
