package dev.sluice.bench;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Cancel latency: how long after a client aborts does the upstream see its request's connection close?
 *
 * <p>The fake upstream runs inside this JVM ({@code --upstream-port}; the gateway's config points a provider at it),
 * so both ends are stamped with the same {@link System#nanoTime()}. Each trial sends one request carrying a
 * {@code [trial:N]} tag in its user message; the upstream notes when that request arrived, how many content
 * chunks it has sent, and when its connection went inactive. The client waits for the moment the case calls for,
 * stamps t0 and closes its socket (a plain {@code close()}, which is an RST when response bytes are still unread,
 * as with a browser tab or a killed process); the latency is the upstream's close stamp minus t0.
 *
 * <p>Cases, each streaming and non-streaming:
 * <ul>
 *   <li>{@code flowing}: tokens every {@code --gap-ms} (10); the client aborts after 3 content chunks (a stream)
 *       or 3 gaps after the request reached the upstream (non-stream, answered in one piece at the end), plus a random 0..gap ms so the abort lands anywhere
 *       between two chunks;</li>
 *   <li>{@code silent}: the first token would come after 10 minutes ("thinking"); the client aborts
 *       {@code --silent-ms} (50) after the request reached the upstream.</li>
 * </ul>
 * A trial whose close is not seen within {@code --give-up-ms} (5000) counts as that long and as a miss.
 */
public final class CancelBench {

    enum Case {
        STREAM_FLOWING(true, true), STREAM_SILENT(true, false), NONSTREAM_FLOWING(false, true), NONSTREAM_SILENT(false, false);

        final boolean stream;
        final boolean flowing;

        Case(boolean stream, boolean flowing) {
            this.stream = stream;
            this.flowing = flowing;
        }

        String label() {
            return (stream ? "stream" : "nonstream") + "-" + (flowing ? "flowing" : "silent");
        }
    }

    /** Latency summary of one case, in milliseconds; percentiles are nearest-rank. */
    record Summary(String target, Case c, int trials, double p50, double p90, double p99, double max, int over100ms, int missed, double[] load) {

        static Summary of(String target, Case c, long[] nanos, long giveUpNanos, double[] load) {
            long[] s = nanos.clone();
            Arrays.sort(s);
            int over = 0;
            int missed = 0;
            for (long v : s) {
                if (v > 100_000_000L) over++;
                if (v >= giveUpNanos) missed++;
            }
            return new Summary(target, c, s.length, LoadGen.Result.pct(s, 50), LoadGen.Result.pct(s, 90), LoadGen.Result.pct(s, 99),
                    LoadGen.Result.pct(s, 100), over, missed, load);
        }

        String row() {
            return String.format(Locale.ROOT, "| %s | %s | %d | %.2f | %.2f | %.2f | %.2f | %d | %d | %.0f%% / %.0f%% |", target, c.label(), trials, p50, p90, p99, max,
                    over100ms, missed, load[0], load[2]);
        }
    }

    public static void main(String[] args) throws Exception {
        var m = new LinkedHashMap<String, String>();
        for (int i = 0; i + 1 < args.length; i += 2) m.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        int upstreamPort = Integer.parseInt(m.getOrDefault("upstream-port", "18011"));
        String gatewayUrl = m.getOrDefault("url", "http://127.0.0.1:18003/v1/chat/completions");
        String provider = m.getOrDefault("provider", "cup"); // the gateway's provider that points at our upstream
        int trials = Integer.parseInt(m.getOrDefault("trials", "200"));
        int warmup = Integer.parseInt(m.getOrDefault("warmup", "20"));
        int directTrials = Integer.parseInt(m.getOrDefault("direct-trials", "50")); // the reference needs fewer
        double gapMs = Double.parseDouble(m.getOrDefault("gap-ms", "10"));
        long silentMs = Long.parseLong(m.getOrDefault("silent-ms", "50"));
        long giveUpMs = Long.parseLong(m.getOrDefault("give-up-ms", "5000"));
        var targets = List.of(m.getOrDefault("targets", "sluice,direct").split(","));
        String csv = m.get("csv");
        String out = m.get("out");
        String benchPids = m.getOrDefault("bench-pids", "");

        var upstream = new FakeUpstream(upstreamPort, 1, new FakeUpstream.Settings(32, 50, 2));
        var random = new SplittableRandom(7);
        var summaries = new ArrayList<Summary>();
        var raw = new StringBuilder("target,case,trial,latency_us\n");
        long id = 1;
        try {
            for (var target : targets) {
                var uri = URI.create(target.equals("direct") ? "http://127.0.0.1:" + upstreamPort + "/v1/chat/completions" : gatewayUrl);
                String prefix = target.equals("direct") ? "" : provider + "/";
                int n = target.equals("direct") ? Math.min(trials, directTrials) : trials;
                for (var c : Case.values()) {
                    long caseStart = System.nanoTime();
                    var load = MachineLoad.start(benchPids);
                    String model = prefix + (c.flowing ? "paced-0-" + fmt(gapMs) + "-1000" : "paced-600000-" + fmt(gapMs) + "-32");
                    var samples = new long[n];
                    for (int k = -warmup; k < n; k++) {
                        long lat = trial(upstream, uri, model, c, id++, gapMs, silentMs, giveUpMs, random);
                        if (k >= 0) {
                            samples[k] = lat;
                            raw.append(target).append(',').append(c.label()).append(',').append(k).append(',').append(lat / 1000).append('\n');
                        }
                        Thread.sleep(10); // let the gateway settle between trials
                    }
                    var s = Summary.of(target, c, samples, giveUpMs * 1_000_000L, load.percentages());
                    summaries.add(s);
                    System.err.printf(Locale.ROOT, "[cancel] %s  (%.1f s)%n", s.row(), (System.nanoTime() - caseStart) / 1e9);
                }
            }
        } finally {
            upstream.close();
        }
        var table = new StringBuilder("| target | case | trials | p50 ms | p90 ms | p99 ms | max ms | > 100 ms | not seen in " + giveUpMs + " ms | machine busy / not the bench |\n|---|---|---|---|---|---|---|---|---|---|\n");
        for (var s : summaries) table.append(s.row()).append('\n');
        System.out.print(table);
        if (out != null) Files.writeString(Path.of(out), table);
        if (csv != null) Files.writeString(Path.of(csv), raw);
        boolean missed = summaries.stream().anyMatch(s -> s.missed() > 0);
        System.exit(missed ? 3 : 0);
    }

    private static String fmt(double v) {
        return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
    }

    /** One abort; returns nanoseconds from the client's close to the upstream seeing its connection close. */
    static long trial(FakeUpstream upstream, URI uri, String model, Case c, long id, double gapMs, long silentMs, long giveUpMs,
                      SplittableRandom random) throws IOException, InterruptedException {
        var trial = upstream.trial(id);
        var socket = new Socket();
        socket.setTcpNoDelay(true);
        socket.connect(new InetSocketAddress(uri.getHost(), uri.getPort()));
        socket.setSoTimeout((int) giveUpMs);
        socket.getOutputStream().write(request(uri, model, c.stream, id));
        long waitDeadline = System.nanoTime() + giveUpMs * 1_000_000L;
        if (c.flowing && c.stream) {
            readContentChunks(socket.getInputStream(), 3);
        } else if (c.flowing) {
            // A non-stream request goes upstream non-streamed, direct or through the gateway, and the upstream answers
            // it in one piece at the end: abort 3 gaps into the answer being generated.
            while (trial.arrivedNanos == 0 && System.nanoTime() < waitDeadline) Thread.sleep(1);
            Thread.sleep((long) (3 * gapMs));
        } else {
            while (trial.arrivedNanos == 0 && System.nanoTime() < waitDeadline) Thread.sleep(1);
            Thread.sleep(silentMs);
        }
        if (trial.arrivedNanos == 0) throw new IOException("trial " + id + " (" + c.label() + ", " + model + ") never reached the upstream");
        if (c.flowing) {
            long phase = (long) (random.nextDouble() * gapMs * 1e6);
            long until = System.nanoTime() + phase;
            while (System.nanoTime() < until) Thread.onSpinWait();
        }
        long t0 = System.nanoTime();
        socket.close();
        long deadline = t0 + giveUpMs * 1_000_000L;
        while (trial.closedNanos == 0 && System.nanoTime() < deadline) Thread.sleep(0, 200_000);
        long closed = trial.closedNanos;
        return closed == 0 ? giveUpMs * 1_000_000L : closed - t0;
    }

    /** Reads the response until {@code n} content chunks have arrived. */
    private static void readContentChunks(InputStream in, int n) throws IOException {
        var p = new ResponseParser();
        p.reset(true);
        var buf = new byte[16 * 1024];
        try {
            while (p.contentChunks < n) {
                int r = in.read(buf);
                if (r < 0) throw new IOException("stream ended after " + p.contentChunks + " content chunks (status " + p.status + ")");
                p.feed(buf, 0, r);
                if (p.complete()) throw new IOException("stream completed before " + n + " content chunks");
            }
        } catch (ResponseParser.ProtocolException e) {
            throw new IOException(e);
        } catch (SocketTimeoutException e) {
            throw new IOException("no " + n + " content chunks in time (status " + p.status + ")", e);
        }
    }

    /** A chat request whose user message carries the trial tag (proxies forward messages unchanged). */
    static byte[] request(URI uri, String model, boolean stream, long id) {
        String body = "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"Think hard, then answer. [trial:" + id + "]\"}]"
                + (stream ? ",\"stream\":true,\"stream_options\":{\"include_usage\":true}" : "") + "}";
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        String head = "POST " + uri.getRawPath() + " HTTP/1.1\r\nHost: " + uri.getHost() + ":" + uri.getPort() + "\r\nContent-Type: application/json\r\n"
                + "Accept: " + (stream ? "text/event-stream" : "application/json") + "\r\nAuthorization: Bearer x\r\nContent-Length: " + b.length + "\r\n\r\n";
        byte[] h = head.getBytes(StandardCharsets.US_ASCII);
        byte[] all = Arrays.copyOf(h, h.length + b.length);
        System.arraycopy(b, 0, all, h.length, b.length);
        return all;
    }
}
