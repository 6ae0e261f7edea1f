package dev.sluice.bench.jmh;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.wire.json.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Turns the JSON results of {@link ParseAccumulateBenchmark} (run with {@code -prof gc}) into the table of
 * docs/benchmarks.md: chunks/s (ops/s times the stream's chunks) and bytes allocated per chunk
 * ({@code gc.alloc.rate.norm}, bytes per op, divided by the chunks), Sluice against openai-java, with the
 * ratios the goal is stated in (throughput at least 3x, allocation at most 1/3).
 *
 * <p>Usage: {@code java -cp sluice-jmh.jar dev.sluice.bench.jmh.JmhTable results.json}. Exits 1 when the goal
 * is missed for some stream, so a script can tell.
 */
public final class JmhTable {

    private record Cell(double opsPerSecond, double error, double bytesPerOp) {}

    public static void main(String[] args) throws IOException {
        if (args.length != 1) {
            System.err.println("usage: JmhTable results.json");
            System.exit(2);
        }
        var results = Json.MAPPER.readTree(Files.readAllBytes(Path.of(args[0])));
        Map<String, Map<String, Cell>> byStream = new LinkedHashMap<>();
        for (JsonNode r : results) {
            String bench = r.path("benchmark").asText();
            String side = bench.substring(bench.lastIndexOf('.') + 1);
            String stream = r.path("params").path("stream").asText();
            var primary = r.path("primaryMetric");
            var alloc = r.path("secondaryMetrics").path("gc.alloc.rate.norm").path("score");
            byStream.computeIfAbsent(stream, k -> new LinkedHashMap<>())
                    .put(side, new Cell(primary.path("score").asDouble(), primary.path("scoreError").asDouble(),
                            alloc.isMissingNode() ? Double.NaN : alloc.asDouble()));
        }
        System.out.println(
                "| stream | chunks/op | sluice chunks/s | openai-java chunks/s | throughput ratio | sluice B/chunk | openai-java B/chunk | allocation ratio |");
        System.out.println("|---|---:|---:|---:|---:|---:|---:|---:|");
        boolean met = true;
        for (var e : byStream.entrySet()) {
            var s = e.getValue().get("sluice");
            var o = e.getValue().get("openaiJava");
            if (s == null || o == null) continue;
            int chunks = RecordedStreams.get(e.getKey()).chunks();
            double speed = s.opsPerSecond / o.opsPerSecond;
            double sAlloc = s.bytesPerOp / chunks, oAlloc = o.bytesPerOp / chunks;
            double allocRatio = sAlloc / oAlloc;
            met &= speed >= 3 && allocRatio <= 1.0 / 3;
            System.out.printf(Locale.ROOT, "| %s | %d | %,.0f ± %,.0f | %,.0f ± %,.0f | %.2f× | %,.0f | %,.0f | %.3f (1/%.1f) |%n",
                    e.getKey(), chunks,
                    s.opsPerSecond * chunks, s.error * chunks,
                    o.opsPerSecond * chunks, o.error * chunks,
                    speed, sAlloc, oAlloc, allocRatio, 1 / allocRatio);
        }
        System.out.println();
        System.out.println(met
                ? "goal met: sluice >= 3x openai-java's chunks/s and <= 1/3 of its bytes per chunk on every stream"
                : "goal NOT met on every stream (>= 3x chunks/s and <= 1/3 bytes per chunk)");
        if (!met) System.exit(1);
    }
}
