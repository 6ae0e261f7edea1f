package dev.sluice.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Fault selection, the fake upstream's faults and cancel trials, and the parsing behind the resilience report. */
class ResilienceBenchTest {

    @Test
    void faultSelectionIsDeterministicAndHitsTheRateAndEveryKind() {
        int n = 200_000;
        var counts = new EnumMap<Faults.Kind, Integer>(Faults.Kind.class);
        int faults = 0;
        for (long i = 0; i < n; i++) {
            var k = Faults.decide(42, i, 0.10, Faults.ALL);
            assertThat(k).isEqualTo(Faults.decide(42, i, 0.10, Faults.ALL));
            if (k != null) {
                faults++;
                counts.merge(k, 1, Integer::sum);
            }
        }
        assertThat(faults / (double) n).isBetween(0.097, 0.103);
        for (var k : Faults.Kind.values()) assertThat(counts.get(k) / (double) faults).as(k.name()).isBetween(0.18, 0.22);

        // another seed, another sequence; the same seed through the counter, the same one
        int differ = 0;
        for (long i = 0; i < 1000; i++) if (Faults.decide(42, i, 0.5, Faults.ALL) != Faults.decide(43, i, 0.5, Faults.ALL)) differ++;
        assertThat(differ).isGreaterThan(300);
        var a = new Faults(7, Faults.ALL);
        var b = new Faults(7, Faults.ALL);
        for (int i = 0; i < 1000; i++) assertThat(a.next(0.1)).isEqualTo(b.next(0.1));
        assertThat(a.next(0)).as("a model without faults is never faulted, and not counted").isNull();
        assertThat(a.statsJson()).startsWith("{\"faultable\":1000,");
    }

    @Test
    void parsesFaultSuffixesAndKinds() {
        assertThat(Faults.parseModel("fast+f10")).isEqualTo(new Faults.ModelFaults("fast", 0.10));
        assertThat(Faults.parseModel("paced-50-2+f2.5")).isEqualTo(new Faults.ModelFaults("paced-50-2", 0.025));
        assertThat(Faults.parseModel("fast")).isEqualTo(new Faults.ModelFaults("fast", 0));
        assertThat(Faults.parseModel("x+fnope").rate()).isZero();
        assertThat(Faults.parseModel("x+f101").rate()).isZero();
        assertThat(Faults.parseKinds("429, reset")).containsExactly(Faults.Kind.HTTP_429, Faults.Kind.RESET);
        assertThat(Faults.parseKinds("all")).isEqualTo(Faults.ALL);
        assertThatThrownBy(() -> Faults.parseKinds("418")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void upstreamInjectsEachKindOfFault() throws Exception {
        var settings = new FakeUpstream.Settings(8, 50, 2);
        try (var up = new FakeUpstream(0, 1, settings, new Faults(1, List.of(Faults.Kind.HTTP_429)))) {
            String r = exchange(up.port(), "fast+f100", true).text();
            assertThat(r).startsWith("HTTP/1.1 429 ").contains("Retry-After: 0\r\n").contains("\"rate_limit_error\"");
            assertThat(exchange(up.port(), "fast", true).text()).startsWith("HTTP/1.1 200 ").contains("data: [DONE]");
        }
        try (var up = new FakeUpstream(0, 1, settings, new Faults(1, List.of(Faults.Kind.RESET)))) {
            var r = exchange(up.port(), "fast+f100", true);
            assertThat(r.reset()).isTrue();
            assertThat(r.text()).isEmpty();
        }
        for (var model : List.of("fast+f100", "paced-5-1+f100")) {
            try (var up = new FakeUpstream(0, 1, settings, new Faults(1, List.of(Faults.Kind.MID_RESET)))) {
                var r = exchange(up.port(), model, true);
                assertThat(r.reset()).as(model).isTrue();
                assertThat(r.text()).as(model).startsWith("HTTP/1.1 200 ").contains("\"content\":\" ").doesNotContain("[DONE]");
                assertThat(up.faults().statsJson()).contains("\"midreset\":1");
            }
        }
    }

    @Test
    void contentHashCoversTheWholeTextWhateverItsSplit() throws Exception {
        try (var up = new FakeUpstream(0, 1, new FakeUpstream.Settings(8, 50, 2))) {
            for (boolean stream : new boolean[] {true, false}) {
                byte[] bytes = exchange(up.port(), "fast", stream).text().getBytes(StandardCharsets.UTF_8);
                var p = new ResponseParser();
                p.reset(stream);
                p.feed(bytes, 0, bytes.length);
                assertThat(p.complete()).isTrue();
                assertThat(p.contentHash).as("stream=" + stream).isEqualTo(LoadGen.fakeTextHash(8)).isNotEqualTo(LoadGen.fakeTextHash(7));
            }
        }
        // the same text split differently, and with an escaped quote kept inside the value
        long whole = hash(ResponseParser.FNV_OFFSET, ("{\"content\":\"a \\\"b\\\" c\"}"));
        long h = hash(ResponseParser.FNV_OFFSET, ("{\"delta\":{\"content\":\"a \\\"b\"}}"));
        h = hash(h, ("{\"delta\":{\"content\":\"\\\" c\"}}"));
        assertThat(h).isEqualTo(whole);
    }

    private static long hash(long h, String json) {
        byte[] b = json.getBytes(StandardCharsets.UTF_8);
        return ResponseParser.hashContent(h, b, 0, b.length);
    }

    @Test
    void upstreamStampsWhenATrialsConnectionCloses() throws Exception {
        try (var up = new FakeUpstream(0, 1, new FakeUpstream.Settings(8, 50, 2))) {
            var trial = up.trial(17);
            var socket = new Socket();
            socket.connect(new InetSocketAddress("127.0.0.1", up.port()));
            socket.getOutputStream().write(CancelBench.request(URI.create("http://127.0.0.1:" + up.port() + "/v1/chat/completions"), "paced-600000-10-8", true, 17));
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (trial.arrivedNanos == 0 && System.nanoTime() < deadline) Thread.sleep(1);
            assertThat(trial.arrivedNanos).isPositive();
            assertThat(trial.closedNanos).isZero();
            long t0 = System.nanoTime();
            socket.close();
            while (trial.closedNanos == 0 && System.nanoTime() < deadline) Thread.sleep(1);
            assertThat(trial.closedNanos).isGreaterThanOrEqualTo(t0);
            assertThat(trial.closedNanos - t0).isLessThan(1_000_000_000L);
        }
    }

    @Test
    void parsesJcmdHeapInfoAndProcStatus() {
        String g1 = "9025:\ngarbage-first heap   total reserved 6172672K, committed 28672K, used 2651K [0x0000000687400000, 0x0000000800000000)\n"
                + " region size 4096K, 0 young (0K), 0 survivors (0K)\n";
        assertThat(GatewayProbe.parseHeapInfo(g1)).containsExactly(2651, 28672);
        String old = "123:\n garbage-first heap   total 262144K, used 20480K [0x0000000700000000, 0x0000000800000000)\n";
        assertThat(GatewayProbe.parseHeapInfo(old)).containsExactly(20480, 262144);
        assertThatThrownBy(() -> GatewayProbe.parseHeapInfo("nothing")).isInstanceOf(IllegalArgumentException.class);
        String status = "Name:\tjava\nVmPeak:\t 7000000 kB\nVmRSS:\t   62176 kB\nThreads:\t21\n";
        assertThat(GatewayProbe.statusKib(status, "VmRSS")).isEqualTo(62176);
        assertThat(GatewayProbe.statusKib(status, "Threads")).isEqualTo(21);
    }

    @Test
    void parsesPacedModelNamesWithAProviderPrefix() {
        assertThat(HoldBench.pacing("up/paced-1000-1500-40")).containsExactly(1000, 1500, 40);
        assertThat(HoldBench.pacing("paced-20-20-10")).containsExactly(20, 20, 10);
        assertThatThrownBy(() -> HoldBench.pacing("up/paced-1000")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void reportComputesFaultFractionsAndAddedP99() {
        var stats = List.of(
                "sluice-faulty-0ms stream before={\"faultable\":100,\"injected\":{\"500\":2},\"injected_total\":10} after={\"faultable\":1100,\"injected\":{\"500\":30},\"injected_total\":110}",
                "sluice-clean stream before={\"faultable\":0,\"injected_total\":0} after={\"faultable\":0,\"injected_total\":0}");
        Map<String, long[]> counts = ResilienceReport.faultCounts(stats);
        assertThat(counts.get("sluice-faulty-0ms stream")).containsExactly(1000, 100);
        assertThat(counts.get("sluice-clean stream")).containsExactly(0, 0);

        String header = LoadGen.CSV_HEADER;
        var csv = List.of(header, row(header, "direct", "stream", "1.0"), row(header, "sluice-clean", "stream", "5.0"), row(header, "sluice-faulty-0ms", "stream", "12.5"));
        String table = ResilienceReport.faults(csv, stats);
        assertThat(table).contains("| stream | sluice-faulty-0ms | 100 | 0 | 100 of 1000 (10.0%) |").contains("| +7.50 | +11.50 |").contains("| +4.00 |");
    }

    /** A LoadGen CSV row with the given target, mode and p99; other latencies 1 ms, 100 requests, no errors. */
    private static String row(String header, String target, String mode, String p99) {
        var cols = header.split(",");
        var v = new String[cols.length];
        for (int i = 0; i < cols.length; i++) {
            v[i] = switch (cols[i]) {
                case "target" -> target;
                case "mode" -> mode;
                case "concurrency" -> "64";
                case "requests" -> "100";
                case "errors" -> "0";
                case "lat_p99_ms" -> p99;
                case "lat_p50_ms", "lat_p90_ms", "lat_max_ms", "machine_busy_pct", "foreign_pct" -> "1";
                default -> "";
            };
        }
        return String.join(",", v);
    }

    record Answer(String text, boolean reset) {}

    /** One request on a fresh connection: what came back until the answer ended, the server closed or reset it. */
    private static Answer exchange(int port, String model, boolean stream) throws IOException {
        var out = new StringBuilder();
        try (var s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port));
            s.setSoTimeout(5000);
            s.getOutputStream().write(LoadGen.request(URI.create("http://127.0.0.1:" + port + "/v1/chat/completions"), model, stream, null));
            InputStream in = s.getInputStream();
            var buf = new byte[8192];
            int n;
            while ((n = in.read(buf)) > 0) {
                out.append(new String(buf, 0, n, StandardCharsets.UTF_8));
                String text = out.toString();
                if (text.endsWith("0\r\n\r\n") || (!text.contains("Transfer-Encoding: chunked") && text.endsWith("}"))) break;
            }
            return new Answer(out.toString(), false);
        } catch (java.net.SocketException e) {
            if (!String.valueOf(e.getMessage()).contains("reset")) throw e;
            return new Answer(out.toString(), true);
        }
    }
}
