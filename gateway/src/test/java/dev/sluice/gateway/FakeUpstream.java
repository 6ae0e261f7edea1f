package dev.sluice.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.wire.json.Json;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * An OpenAI-compatible upstream on a real loopback socket, speaking raw HTTP/1.1 so tests control every
 * byte and pause: it replays scripted bodies in pieces, can stall, and notices when the gateway hangs up.
 */
public final class FakeUpstream implements AutoCloseable {

    /** One scripted answer: status, headers, body pieces with delays before each, and whether to stall after them. */
    public record Reply(int status, Map<String, String> headers, List<Piece> pieces, boolean stallAfter) {
        public static Reply sse(byte[] body, int pieceSize, long delayMillis) {
            var pieces = new java.util.ArrayList<Piece>();
            for (int i = 0; i < body.length; i += pieceSize) {
                pieces.add(new Piece(java.util.Arrays.copyOfRange(body, i, Math.min(body.length, i + pieceSize)), delayMillis));
            }
            return new Reply(200, Map.of("Content-Type", "text/event-stream"), pieces, false);
        }

        public static Reply json(int status, String body, Map<String, String> headers) {
            var h = new java.util.LinkedHashMap<>(headers);
            h.put("Content-Type", "application/json");
            return new Reply(status, h, List.of(new Piece(body.getBytes(StandardCharsets.UTF_8), 0)), false);
        }

        public Reply stalling() {
            return new Reply(status, headers, pieces, true);
        }
    }

    public record Piece(byte[] bytes, long delayMillis) {}

    /** What the upstream saw of one request. */
    public static final class Seen {
        public final String requestLine;
        public final Map<String, String> headers;
        public final JsonNode body;
        final CountDownLatch closed = new CountDownLatch(1);
        volatile long closedAtNanos;

        Seen(String requestLine, Map<String, String> headers, JsonNode body) {
            this.requestLine = requestLine;
            this.headers = headers;
            this.body = body;
        }

        /** Waits until the gateway closed this connection; returns false on timeout. */
        public boolean awaitClosed(long millis) throws InterruptedException {
            return closed.await(millis, TimeUnit.MILLISECONDS);
        }
    }

    private final ServerSocket server;
    private final Function<JsonNode, Reply> script;
    public final List<Seen> seen = new CopyOnWriteArrayList<>();
    private volatile boolean open = true;

    public FakeUpstream(Function<JsonNode, Reply> script) throws IOException {
        this.script = script;
        this.server = new ServerSocket(0, 200, InetAddress.getLoopbackAddress());
        Thread.ofVirtual().start(this::acceptLoop);
    }

    public String baseUrl() {
        return "http://127.0.0.1:" + server.getLocalPort() + "/v1";
    }

    private void acceptLoop() {
        while (open) {
            try {
                var socket = server.accept();
                Thread.ofVirtual().start(() -> serve(socket));
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serve(Socket socket) {
        Seen seenRequest = null;
        try (socket) {
            var in = socket.getInputStream();
            var head = readHead(in);
            if (head == null) return;
            var lines = head.split("\r\n");
            var headers = new java.util.LinkedHashMap<String, String>();
            for (int i = 1; i < lines.length; i++) {
                int colon = lines[i].indexOf(':');
                if (colon > 0) headers.put(lines[i].substring(0, colon).trim().toLowerCase(), lines[i].substring(colon + 1).trim());
            }
            int length = Integer.parseInt(headers.getOrDefault("content-length", "0"));
            var body = in.readNBytes(length);
            JsonNode json = length == 0 ? Json.object() : Json.parse(body);
            seenRequest = new Seen(lines[0], headers, json);
            seen.add(seenRequest);
            var reply = script.apply(json);
            OutputStream out = socket.getOutputStream();
            var response = new StringBuilder("HTTP/1.1 " + reply.status() + " X\r\n");
            reply.headers().forEach((k, v) -> response.append(k).append(": ").append(v).append("\r\n"));
            // Close-delimited body: no length, no chunking, so pieces reach the gateway exactly as split.
            response.append("Connection: close\r\n\r\n");
            out.write(response.toString().getBytes(StandardCharsets.US_ASCII));
            out.flush();
            for (var piece : reply.pieces()) {
                if (piece.delayMillis() > 0) Thread.sleep(piece.delayMillis());
                out.write(piece.bytes());
                out.flush();
            }
            if (reply.stallAfter()) {
                // Silent until the gateway hangs up: read() returns -1 (or throws) when it does.
                while (in.read() >= 0) {
                    // discard
                }
            }
        } catch (IOException | InterruptedException | RuntimeException e) {
            // the gateway hung up mid-reply, which some tests want
        } finally {
            if (seenRequest != null) {
                seenRequest.closedAtNanos = System.nanoTime();
                seenRequest.closed.countDown();
            }
        }
    }

    private static String readHead(InputStream in) throws IOException {
        var buf = new ByteArrayOutputStream();
        int state = 0;
        int b;
        while ((b = in.read()) >= 0) {
            buf.write(b);
            state = switch (state) {
                case 0 -> b == '\r' ? 1 : 0;
                case 1 -> b == '\n' ? 2 : 0;
                case 2 -> b == '\r' ? 3 : 0;
                case 3 -> b == '\n' ? 4 : 0;
                default -> 0;
            };
            if (state == 4) return buf.toString(StandardCharsets.US_ASCII);
        }
        return null;
    }

    @Override
    public void close() throws IOException {
        open = false;
        server.close();
    }
}
