package dev.sluice.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Summarises an A/B run ({@code bench/scripts/ab.sh}): two gateway builds up at once, measured in alternating
 * windows of the same cell, so that whatever the host does to one window it does to the pair around it. The
 * verdict is the median of the per-pair ratios B ÷ A of CPU per request, with how many pairs went B's way: a
 * difference the pairs do not agree on is noise, however the medians of each side look.
 *
 * <p>Usage: {@code AbReport results.csv [summary.md]}; rows of target {@code A} and {@code B} in window order.
 */
public final class AbReport {

    /** One cell's windows, in order, and the pairs they make. */
    record Result(String cell, double[] a, double[] b) {
        double[] ratios() {
            int n = Math.min(a.length, b.length);
            var r = new double[n];
            for (int i = 0; i < n; i++) r[i] = b[i] / a[i];
            return r;
        }

        int pairsBLower() {
            int lower = 0;
            for (double r : ratios()) if (r < 1) lower++;
            return lower;
        }
    }

    static double median(double[] values) {
        if (values.length == 0) return Double.NaN;
        var sorted = values.clone();
        Arrays.sort(sorted);
        int mid = sorted.length / 2;
        return sorted.length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    static List<Result> load(Path csv) throws IOException {
        var results = new ArrayList<Result>();
        var rows = Report.load(csv);
        for (var mode : List.of("nonstream", "stream", "paced")) {
            for (var c : List.of("1", "64")) {
                var a = rows.get(Report.key("A", mode, c));
                var b = rows.get(Report.key("B", mode, c));
                if (a == null || b == null) continue;
                results.add(new Result(mode + ", c=" + c, cpu(a), cpu(b)));
            }
        }
        return results;
    }

    private static double[] cpu(Report.Cell cell) {
        return cell.rounds.stream().mapToDouble(r -> r.d("target_cpu_us_per_req")).toArray();
    }

    static String render(List<Result> results) {
        var out = new StringBuilder();
        out.append("| cell | pairs | A median µs/request | B median µs/request | B ÷ A, median of pairs | pairs where B used less |\n");
        out.append("|---|---:|---:|---:|---:|---:|\n");
        for (var r : results) {
            out.append(String.format(Locale.ROOT, "| %s | %d | %.1f | %.1f | %.3f | %d/%d |%n", r.cell(), r.ratios().length,
                    median(r.a()), median(r.b()), median(r.ratios()), r.pairsBLower(), r.ratios().length));
        }
        for (var r : results) {
            out.append(String.format(Locale.ROOT, "%nA, %s: %s%nB, %s: %s%n", r.cell(), list(r.a()), r.cell(), list(r.b())));
        }
        return out.toString();
    }

    private static String list(double[] values) {
        var parts = new ArrayList<String>();
        for (double v : values) parts.add(String.format(Locale.ROOT, "%.1f", v));
        return String.join(" ", parts);
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: AbReport results.csv [summary.md]");
            System.exit(2);
        }
        var md = render(load(Path.of(args[0])));
        System.out.print(md);
        if (args.length > 1) Files.writeString(Path.of(args[1]), md);
    }
}
