package dev.sluice.bench.runs;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;
import java.util.concurrent.locks.LockSupport;

/**
 * A loopback OpenAI-compatible upstream whose every content chunk carries the {@link System#nanoTime()} at
 * which it was written ({@code " t<nanos>"}). System.nanoTime is CLOCK_MONOTONIC on Linux, one clock for every
 * process on the machine, so a subscriber in another process (or this one) can subtract it from its own
 * receive time: the difference is how long the token took from the upstream's write, through the gateway's
 * HTTP client, the run worker, the run's event log (store write included) and the SSE writer, to the reader.
 *
 * <p>Streams {@code chunks} content chunks, the first after {@code ttftMs}, then one every {@code gapMs}, each
 * flushed on its own (paced, so the numbers are latency, not queueing behind a burst), then a finish chunk,
 * usage and {@code [DONE]}. The JDK's own HTTP server keeps this free of dependencies; it is not fast, but it
 * only has to serve a few paced streams.
 */
public final class StampUpstream implements AutoCloseable {

    public static final String STAMP_PREFIX = " t";

    static {
        // The JDK server leaves Nagle's algorithm on: a small chunk written while the previous one is unacknowledged
        // would wait for the gateway's delayed ACK (up to ~40 ms on Linux), a delay that is the bench's, not the gateway's.
        // (The gateway's own sockets, Netty's and java.net.http's, set TCP_NODELAY.) Read once, when the server class loads.
        System.setProperty("sun.net.httpserver.nodelay", "true");
    }

    private final HttpServer server;

    public StampUpstream(int port, int chunks, long ttftMs, long gapMs) throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 256);
        server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        server.createContext("/", exchange -> {
            try (exchange) {
                exchange.getRequestBody().readAllBytes();
                exchange.getResponseHeaders().add("Content-Type", "text/event-stream");
                exchange.sendResponseHeaders(200, 0); // chunked
                OutputStream out = exchange.getResponseBody();
                pause(ttftMs);
                write(out, chunk("{\"role\":\"assistant\",\"content\":\"\"}", "null"));
                for (int i = 0; i < chunks; i++) {
                    if (i > 0) pause(gapMs);
                    write(out, chunk("{\"content\":\"" + STAMP_PREFIX + System.nanoTime() + "\"}", "null"));
                }
                write(out, chunk("{}", "\"stop\"")
                        + "data: {\"id\":\"chatcmpl-stamp\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"stamp\",\"choices\":[],"
                        + "\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":" + chunks + ",\"total_tokens\":" + (10 + chunks) + "}}\n\n"
                        + "data: [DONE]\n\n");
            } catch (IOException e) {
                // the gateway hung up (a cancelled run); nothing to do
            }
        });
        server.start();
    }

    private static String chunk(String delta, String finish) {
        return "data: {\"id\":\"chatcmpl-stamp\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"stamp\",\"choices\":[{\"index\":0,\"delta\":"
                + delta + ",\"finish_reason\":" + finish + "}]}\n\n";
    }

    private static void write(OutputStream out, String s) throws IOException {
        out.write(s.getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    private static void pause(long millis) {
        if (millis > 0) LockSupport.parkNanos(millis * 1_000_000L);
    }

    public int port() {
        return server.getAddress().getPort();
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
