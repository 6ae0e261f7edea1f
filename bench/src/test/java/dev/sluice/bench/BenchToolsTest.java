package dev.sluice.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The load generator's parser and the fake upstream against each other, on loopback. */
class BenchToolsTest {

    private static final String SSE = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
            + chunk("data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n")
            + chunk(": keep-alive\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\": \"Hi\"}}]}\n")
            + chunk("\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" there\"}}]}\r\n\r\n")
            + chunk("data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")
            + "0\r\n\r\n";

    private static String chunk(String data) {
        return Integer.toHexString(data.getBytes(StandardCharsets.UTF_8).length) + "\r\n" + data + "\r\n";
    }

    @Test
    void parsesChunkedSseSplitAnywhere() throws Exception {
        byte[] bytes = SSE.getBytes(StandardCharsets.UTF_8);
        var random = new Random(42);
        for (int trial = 0; trial < 200; trial++) {
            var p = new ResponseParser();
            p.reset(true);
            int i = 0;
            while (i < bytes.length) {
                int n = Math.min(bytes.length - i, 1 + random.nextInt(trial < 20 ? 3 : 64));
                int used = p.feed(bytes, i, n);
                i += used;
                if (p.complete()) break;
            }
            assertThat(i).isEqualTo(bytes.length);
            assertThat(p.complete()).isTrue();
            assertThat(p.status).isEqualTo(200);
            assertThat(p.done).isTrue();
            assertThat(p.contentChunks).as("the role chunk's empty content does not count").isEqualTo(2);
            assertThat(p.firstContentNanos).isPositive();
            assertThat(p.errorFrame).isFalse();
        }
    }

    @Test
    void parsesContentLengthJsonAndErrors() throws Exception {
        String body = "{\"choices\":[{\"message\":{\"content\":\"hello\"},\"finish_reason\":\"stop\"}]}";
        String ok = "HTTP/1.1 200 OK\r\nContent-Length: " + body.length() + "\r\n\r\n" + body;
        var p = new ResponseParser();
        p.reset(false);
        p.feed(ok.getBytes(StandardCharsets.UTF_8), 0, ok.length());
        assertThat(p.complete()).isTrue();
        assertThat(p.bodyOk()).isTrue();

        String err = "{\"error\":{\"message\":\"nope\"}}";
        String bad = "HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nContent-Length: " + err.length() + "\r\n\r\n" + err;
        p.reset(true);
        p.feed(bad.getBytes(StandardCharsets.UTF_8), 0, bad.length());
        assertThat(p.complete()).isTrue();
        assertThat(p.status).isEqualTo(429);
        assertThat(p.connectionClose).isTrue();
        assertThat(p.errorDetail).contains("nope");
    }

    @Test
    void loadGeneratorAgainstFakeUpstream(@TempDir Path dir) throws Exception {
        try (var upstream = new FakeUpstream(0, 1, new FakeUpstream.Settings(8, 20, 1))) {
            String url = "http://127.0.0.1:" + upstream.port() + "/v1/chat/completions";
            for (String mode : new String[] {"nonstream", "stream", "paced"}) {
                var o = LoadGen.Opts.parse(new String[] {"--url", url, "--target", "direct", "--mode", mode, "-c", "4", "--warmup", "0.2",
                        "--duration", "0.6", "--csv", dir.resolve("r.csv").toString()});
                var r = LoadGen.run(o);
                assertThat(r.errors()).isZero();
                assertThat(r.warmupErrors()).isZero();
                assertThat(r.requests()).isPositive();
                if (!mode.equals("nonstream")) {
                    assertThat(r.contentChunks()).isEqualTo(8);
                    assertThat(r.ttfc()).hasSize((int) r.requests());
                }
                if (mode.equals("paced")) {
                    // 20 ms to the first token, then 8 chunks 1 ms apart
                    assertThat(LoadGen.Result.pct(r.ttfc(), 50)).isBetween(19.5, 30.0);
                    assertThat(LoadGen.Result.pct(r.latency(), 50)).isBetween(27.5, 40.0);
                    // The first chunk's send stamp is read back: straight from the upstream it is in flight for far
                    // less than the 20 ms the upstream waited before sending it.
                    assertThat(r.firstDelay()).hasSize((int) r.requests());
                    assertThat(r.firstDelay()[0]).isNotNegative();
                    assertThat(LoadGen.Result.pct(r.firstDelay(), 50)).isLessThan(10.0);
                    // So is the stamp of when it took the request: the 20 ms are the upstream's own wait.
                    assertThat(r.requestDelay()).hasSize((int) r.requests());
                    assertThat(r.requestDelay()[0]).isNotNegative();
                    assertThat(LoadGen.Result.pct(r.requestDelay(), 50)).isLessThan(10.0);
                    assertThat(r.upstreamWait()).hasSize((int) r.requests());
                    assertThat(LoadGen.Result.pct(r.upstreamWait(), 50)).isBetween(19.5, 30.0);
                } else {
                    assertThat(r.firstDelay()).as("unpaced answers carry no stamp").isEmpty();
                    assertThat(r.requestDelay()).isEmpty();
                    assertThat(r.upstreamWait()).isEmpty();
                }
            }
        }
    }

    @Test
    void reportPoolsRounds(@TempDir Path dir) throws Exception {
        var csv = dir.resolve("results.csv");
        Files.createDirectories(dir.resolve("hist"));
        var lines = new StringBuilder(LoadGen.CSV_HEADER).append('\n');
        String[][] cells = {
            {"direct", "1", "0", "0.050"}, {"nginx", "1", "30", "0.150"}, {"sluice", "1", "50", "0.400"},
            {"direct", "2", "0", "0.060"}, {"nginx", "2", "30", "0.160"}, {"sluice", "2", "70", "0.300"},
        };
        for (var c : cells) {
            String hist = c[0] + "-nonstream-c1-r" + c[1] + ".hist";
            Files.writeString(dir.resolve("hist").resolve(hist), "lat 40 98\nlat " + (long) (Double.parseDouble(c[3]) * 1000) + " 2\n");
            // target,mode,concurrency,round,warmup_s,window_s,requests,errors,warmup_errors,reconnects,rps,lat_mean..lat_max(5),ttfc(4),fcd(2),rqd,uwt,
            // target_cpu_s,target_cpu_us_per_req,target_jit_cpu_s,upstream_cpu_s,upstream_cpu_us_per_req,loadgen_cpu_us_per_req,busy,steal,foreign,attempt,chunks,tck,hist
            lines.append(String.join(",", c[0], "nonstream", "1", c[1], "1", "1", "100", "0", "0", "0", "100",
                    "0.04", "0.04", "0.04", c[3], c[3], "", "", "", "", "", "", "", "",
                    Double.toString(Double.parseDouble(c[2]) * 100 / 1e6), c[2], "0", "0.001", "10", "5", "50", "0", "0", "1", "1", "100", hist)).append('\n');
        }
        // Paced at c=64, one round: end-to-end TTFC p99 60 vs 58 ms (a goal), stamped first-chunk delay 0.9 vs 0.2 ms
        // (not one), and the rest of it: the request's way to the upstream 0.5 vs 0.3 ms, the upstream's wait 58 vs 57 ms.
        for (var c : new String[][] {{"nginx", "58", "200", "300", "57000"}, {"sluice", "60", "900", "500", "58000"}}) {
            String hist = c[0] + "-paced-c64-r1.hist";
            Files.writeString(dir.resolve("hist").resolve(hist), "lat 114000 100\nttfc 50000 98\nttfc " + c[1] + "000 2\nfcd 100 98\nfcd " + c[2] + " 2\n"
                    + "rqd 100 98\nrqd " + c[3] + " 2\nuwt 50000 98\nuwt " + c[4] + " 2\n");
            lines.append(String.join(",", c[0], "paced", "64", "1", "1", "1", "100", "0", "0", "0", "100",
                    "114", "114", "114", "114", "114", "50", "50", c[1], c[1], "0.1", Double.toString(Double.parseDouble(c[2]) / 1000),
                    Double.toString(Double.parseDouble(c[3]) / 1000), Double.toString(Double.parseDouble(c[4]) / 1000),
                    "0.05", "500", "0", "0.001", "10", "5", "50", "0", "0", "1", "32", "100", hist)).append('\n');
        }
        Files.writeString(csv, lines);
        String md = Report.render(Report.load(csv));
        assertThat(md).contains("paced TTFC p99 at c=64 ≤ nginx's + 1 ms | stream, paced | 60.000 ms | 58.000 ms | sluice − nginx +2.000 ms");
        assertThat(md).contains("| stream, paced, c=64 | 0.900 ms | 0.200 ms | pooled sluice − nginx +0.700 ms ≤ +1 ms (per-round median: +0.700) | met | 1/1 |");
        assertThat(md).contains("→ upstream takes it, p99; not counted) | stream, paced, c=64 | 0.500 ms | 0.300 ms | pooled sluice − nginx +0.200 ms | | |");
        assertThat(md).contains("first chunk written, p99; no proxy's work) | stream, paced, c=64 | 58.000 ms | 57.000 ms | sluice − nginx +1.000 ms | | |");
        // pooled: 200 samples, the 198th is the second-largest of round 2's tail
        assertThat(md).contains("| non-stream | 1 | sluice | 100 | 0.040 | 0.300 |");
        assertThat(md).contains("ratio 2.00× ≤ 2× | met | 1/2 |"); // (50+70)/2 vs 30; round 2 alone is 2.33×
        // paired per round: (0.35 - 0.10) and (0.24 - 0.10) -> median of {0.25, 0.14} = 0.195
        assertThat(md).contains("sluice − nginx +0.195 ms ≤ +0.3 ms (pooled: +0.150) | met | 2/2 |");
        // The paced CPU goal (500 µs each) is met, the end-to-end TTFC goal missed; the stamped row is not counted.
        assertThat(md).contains("GOALS: 3/4 met");
    }

    @Test
    void abReportJudgesBuildsByTheirPairs(@TempDir Path dir) throws Exception {
        var csv = dir.resolve("results.csv");
        var lines = new StringBuilder(LoadGen.CSV_HEADER).append('\n');
        // Five pairs at c=64: B uses less in four of them; the host slowed both in pair 3, which the pair absorbs.
        double[][] pairs = {{50, 45}, {52, 48}, {80, 76}, {49, 51}, {51, 46}};
        for (int i = 0; i < pairs.length; i++) {
            for (var t : new String[] {"A", "B"}) {
                double cpu = pairs[i][t.equals("A") ? 0 : 1];
                lines.append(String.join(",", t, "nonstream", "64", Integer.toString(i + 1), "1", "4", "1000", "0", "0", "0", "250",
                        "1", "1", "1", "2", "3", "", "", "", "", "", "", "", "",
                        Double.toString(cpu * 1000 / 1e6), Double.toString(cpu), "0", "0.01", "10", "5", "50", "0", "0", "1", "1", "100", "")).append('\n');
            }
        }
        Files.writeString(csv, lines);
        var results = AbReport.load(csv);
        assertThat(results).hasSize(1);
        var r = results.getFirst();
        assertThat(r.cell()).isEqualTo("nonstream, c=64");
        assertThat(r.pairsBLower()).isEqualTo(4);
        // ratios 0.900, 0.923, 0.950, 1.041, 0.902 -> median 0.923
        assertThat(AbReport.median(r.ratios())).isCloseTo(48.0 / 52.0, org.assertj.core.data.Offset.offset(1e-9));
        assertThat(AbReport.render(results)).contains("| nonstream, c=64 | 5 | 51.0 | 48.0 | 0.923 | 4/5 |");
    }
}
