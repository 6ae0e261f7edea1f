package dev.sluice.gateway.chaos;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.wire.json.Json;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A fault-injecting OpenAI-compatible upstream on a raw loopback {@link ServerSocket}, so every fault is
 * real at the TCP level: an RST (SO_LINGER 0 + close), a stall, a drip of bytes, a UTF-8 character split
 * across two flushed writes, garbage, a truncated event, a 5 MB line, and refusals (429 + Retry-After,
 * 500, 503).
 *
 * <p>The request's {@code model} (as the gateway forwards it, the part before an optional {@code ~tag})
 * selects the {@link Mode}. Every answer is close-delimited ({@code Connection: close}), so the upstream can
 * tell exactly how many of the gateway's connections are still open: {@link #openConnections()}.
 *
 * <p>Healthy answers continue a prefilled partial answer (the gateway's mid-stream continuation): when the
 * last message is the assistant's partial text, only the rest of {@link #TEXT} is sent.
 */
public final class FaultyUpstream implements AutoCloseable {

    /** The one answer every healthy mode gives: multi-byte characters of 2, 3 and 4 bytes included. */
    public static final String TEXT = "Grüße aus Köln — the quick brown fox 🦊 jumps over the lazy dog, and the answer is complete.";

    /** How much of the rest of the answer a faulty mode sends before its mid-stream fault. */
    static final int PARTIAL_CHARS = 16;

    /** Longest a stalled connection waits for the gateway to hang up (every wait is bounded). */
    static final int STALL_LIMIT_MILLIS = 30_000;

    public enum Mode {
        /** A normal, complete answer in a few chunks. */
        OK,
        /** RST right after the request was read: no status line. */
        RESET_BEFORE_FIRST_BYTE,
        /** Headers, role and some text, then RST. */
        RESET_MID_STREAM,
        /** Reads the request and sends nothing until the gateway gives up. */
        STALL_BEFORE_FIRST_BYTE,
        /** Headers, role and some text, then silence until the gateway gives up. */
        STALL_AFTER_FIRST_BYTE,
        /** Not HTTP at all: binary garbage instead of a status line, then close. */
        GARBAGE_STATUS_LINE,
        /** Headers, role and some text, then an event whose data is not JSON; the connection stays open. */
        GARBAGE_SSE,
        /** Headers, role and some text, then half an event and a clean close (FIN): no [DONE]. */
        TRUNCATED_SSE,
        /** A complete answer where every multi-byte character is split across two flushed writes. */
        UTF8_SPLIT,
        /** Headers, role and some text, then a single 5 MB line (beyond the 4 MiB SSE line limit). */
        OVERSIZED_LINE,
        /** 429 with Retry-After: 1 (short enough for the gateway to wait for it). */
        RATE_LIMITED,
        /** 429 with Retry-After: 30 (longer than max_retry_after: the gateway moves on at once). */
        RATE_LIMITED_LONG,
        /** 500 with an OpenAI-shaped error body. */
        HTTP_500,
        /** 503 with a plain-text body. */
        HTTP_503,
        /** A complete answer dripped a few bytes at a time, with one pause just under the idle timeout. */
        SLOW_DRIP;

        public String model() {
            return name().toLowerCase(Locale.ROOT);
        }

        static Mode of(String model) {
            var base = model.contains("~") ? model.substring(0, model.indexOf('~')) : model;
            for (var m : values()) if (m.model().equals(base)) return m;
            return null;
        }
    }

    private final ServerSocket server;
    private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
    private final AtomicInteger open = new AtomicInteger();
    private final AtomicLong accepted = new AtomicLong();
    private final AtomicLong requests = new AtomicLong();
    private final AtomicLong bytesOut = new AtomicLong();
    private final AtomicLong stallsReleased = new AtomicLong();
    /** Pause of SLOW_DRIP, kept under the gateway's idle timeout. */
    private final long dripPauseMillis;
    private volatile boolean running = true;

    public FaultyUpstream(long dripPauseMillis) throws IOException {
        this.dripPauseMillis = dripPauseMillis;
        this.server = new ServerSocket(0, 512, InetAddress.getLoopbackAddress());
        Thread.ofPlatform().daemon().name("faulty-upstream-accept").start(this::acceptLoop);
    }

    public String baseUrl() {
        return "http://127.0.0.1:" + server.getLocalPort() + "/v1";
    }

    /** Connections accepted and not yet closed on this side. */
    public int openConnections() {
        return open.get();
    }

    public long acceptedConnections() {
        return accepted.get();
    }

    public long requests() {
        return requests.get();
    }

    private void acceptLoop() {
        while (running) {
            Socket socket;
            try {
                socket = server.accept();
            } catch (IOException e) {
                return;
            }
            accepted.incrementAndGet();
            open.incrementAndGet();
            sockets.add(socket);
            Thread.ofVirtual().name("faulty-upstream-conn").start(() -> {
                try {
                    serve(socket);
                } finally {
                    try {
                        socket.close();
                    } catch (IOException ignored) {
                        // closed
                    }
                    sockets.remove(socket);
                    open.decrementAndGet();
                }
            });
        }
    }

    private void serve(Socket socket) {
        try {
            socket.setSoTimeout(STALL_LIMIT_MILLIS);
            socket.setTcpNoDelay(true);
            var in = socket.getInputStream();
            var head = readHead(in);
            if (head == null) return;
            var lines = head.split("\r\n");
            int length = 0;
            for (int i = 1; i < lines.length; i++) {
                int colon = lines[i].indexOf(':');
                if (colon > 0 && lines[i].substring(0, colon).trim().equalsIgnoreCase("content-length")) {
                    length = Integer.parseInt(lines[i].substring(colon + 1).trim());
                }
            }
            var bodyBytes = in.readNBytes(length);
            requests.incrementAndGet();
            JsonNode body = length == 0 ? Json.object() : Json.parse(bodyBytes);
            var mode = Mode.of(body.path("model").asText(""));
            var out = socket.getOutputStream();
            if (mode == null) {
                json(out, 404, "{\"error\":{\"message\":\"no such chaos mode\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"model_not_found\"}}", "application/json", null);
                return;
            }
            var rest = rest(body);
            switch (mode) {
                case OK -> sse(out, answer(rest), 0, 0);
                case RESET_BEFORE_FIRST_BYTE -> reset(socket);
                case RESET_MID_STREAM -> {
                    partial(out, rest);
                    Thread.sleep(20);
                    reset(socket);
                }
                case STALL_BEFORE_FIRST_BYTE -> awaitHangUp(in);
                case STALL_AFTER_FIRST_BYTE -> {
                    partial(out, rest);
                    awaitHangUp(in);
                }
                case GARBAGE_STATUS_LINE -> {
                    write(out, new byte[] {0, 1, 2, (byte) 0xff, (byte) 0xfe});
                    write(out, "garbage that is not HTTP\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                }
                case GARBAGE_SSE -> {
                    partial(out, rest);
                    write(out, "data: {\"id\":\"chatcmpl-chaos\",\"choices\":[{\"delta\":{\"content\": ]]]} not json at all\n\n".getBytes(StandardCharsets.UTF_8));
                    awaitHangUp(in);
                }
                case TRUNCATED_SSE -> {
                    partial(out, rest);
                    write(out, "data: {\"id\":\"chatcmpl-chaos\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"cont".getBytes(StandardCharsets.UTF_8));
                    // A clean FIN: the body simply ends, without [DONE] or finish_reason.
                }
                case UTF8_SPLIT -> utf8Split(out, answer(rest));
                case OVERSIZED_LINE -> {
                    partial(out, rest);
                    var line = new byte[5 * 1024 * 1024];
                    Arrays.fill(line, (byte) 'x');
                    write(out, "data: {\"pad\":\"".getBytes(StandardCharsets.US_ASCII));
                    for (int i = 0; i < line.length; i += 64 * 1024) write(out, Arrays.copyOfRange(line, i, Math.min(line.length, i + 64 * 1024)));
                    write(out, "\"}\n\n".getBytes(StandardCharsets.US_ASCII));
                    awaitHangUp(in);
                }
                case RATE_LIMITED -> json(out, 429,
                        "{\"error\":{\"message\":\"chaos: slow down\",\"type\":\"rate_limit_error\",\"param\":null,\"code\":\"rate_limit_exceeded\"}}", "application/json", "1");
                case RATE_LIMITED_LONG -> json(out, 429,
                        "{\"error\":{\"message\":\"chaos: slow down a lot\",\"type\":\"rate_limit_error\",\"param\":null,\"code\":\"rate_limit_exceeded\"}}", "application/json", "30");
                case HTTP_500 -> json(out, 500,
                        "{\"error\":{\"message\":\"chaos: internal error\",\"type\":\"server_error\",\"param\":null,\"code\":\"chaos_500\"}}", "application/json", null);
                case HTTP_503 -> json(out, 503, "chaos: overloaded, try later", "text/plain", null);
                case SLOW_DRIP -> sse(out, answer(rest), 7, dripPauseMillis);
            }
        } catch (IOException | InterruptedException | RuntimeException e) {
            // the gateway hung up, as many faults intend
        }
    }

    /** The part of {@link #TEXT} still to send: all of it, or what follows a prefilled partial answer. */
    static String rest(JsonNode body) {
        var messages = body.path("messages");
        if (messages.isArray() && !messages.isEmpty()) {
            var last = messages.get(messages.size() - 1);
            if ("assistant".equals(last.path("role").asText())) {
                var prefill = last.path("content").asText("");
                if (TEXT.startsWith(prefill)) return TEXT.substring(prefill.length());
            }
        }
        return TEXT;
    }

    static String chunk(JsonNode delta, String finish) {
        var c = Json.object();
        c.put("id", "chatcmpl-chaos");
        c.put("object", "chat.completion.chunk");
        c.put("created", 1);
        c.put("model", "chaos");
        var choice = c.putArray("choices").addObject();
        choice.put("index", 0);
        choice.set("delta", delta);
        if (finish == null) choice.putNull("finish_reason");
        else choice.put("finish_reason", finish);
        return "data: " + Json.write(c) + "\n\n";
    }

    static String roleAnd(String text) {
        var d = Json.object();
        d.put("role", "assistant");
        d.put("content", text);
        return chunk(d, null);
    }

    static String content(String text) {
        var d = Json.object();
        d.put("content", text);
        return chunk(d, null);
    }

    /** A complete answer: role, the text in pieces of about 12 characters, finish, usage, [DONE]. */
    static byte[] answer(String rest) {
        var sb = new StringBuilder(roleAnd(""));
        int i = 0;
        while (i < rest.length()) {
            int end = Math.min(rest.length(), i + 12);
            if (end < rest.length() && Character.isHighSurrogate(rest.charAt(end - 1))) end++;
            sb.append(content(rest.substring(i, end)));
            i = end;
        }
        sb.append(chunk(Json.object(), "stop"));
        sb.append("data: {\"id\":\"chatcmpl-chaos\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"chaos\",\"choices\":[],"
                + "\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":20,\"total_tokens\":30}}\n\n");
        sb.append("data: [DONE]\n\n");
        return sb.toString().getBytes(StandardCharsets.UTF_8);
    }

    private void partial(OutputStream out, String rest) throws IOException {
        int n = Math.min(PARTIAL_CHARS, rest.length());
        if (n < rest.length() && Character.isHighSurrogate(rest.charAt(n - 1))) n++;
        head(out, 200, "text/event-stream", null);
        write(out, roleAnd("").getBytes(StandardCharsets.UTF_8));
        write(out, content(rest.substring(0, n)).getBytes(StandardCharsets.UTF_8));
    }

    private void head(OutputStream out, int status, String contentType, String retryAfter) throws IOException {
        var h = new StringBuilder("HTTP/1.1 ").append(status).append(" Chaos\r\nContent-Type: ").append(contentType).append("\r\n");
        if (retryAfter != null) h.append("Retry-After: ").append(retryAfter).append("\r\n");
        h.append("Connection: close\r\n\r\n");
        write(out, h.toString().getBytes(StandardCharsets.US_ASCII));
    }

    private void json(OutputStream out, int status, String body, String contentType, String retryAfter) throws IOException {
        var bytes = body.getBytes(StandardCharsets.UTF_8);
        var h = new StringBuilder("HTTP/1.1 ").append(status).append(" Chaos\r\nContent-Type: ").append(contentType)
                .append("\r\nContent-Length: ").append(bytes.length).append("\r\n");
        if (retryAfter != null) h.append("Retry-After: ").append(retryAfter).append("\r\n");
        h.append("Connection: close\r\n\r\n");
        write(out, h.toString().getBytes(StandardCharsets.US_ASCII));
        write(out, bytes);
    }

    /** A close-delimited SSE answer; with {@code pieceSize > 0}, dripped in pieces with one pause in the middle. */
    private void sse(OutputStream out, byte[] body, int pieceSize, long pauseMillis) throws IOException, InterruptedException {
        head(out, 200, "text/event-stream", null);
        if (pieceSize <= 0) {
            // A few writes, a little apart, so that a client abort can land in the middle.
            int third = body.length / 3;
            write(out, Arrays.copyOfRange(body, 0, third));
            Thread.sleep(2);
            write(out, Arrays.copyOfRange(body, third, 2 * third));
            Thread.sleep(2);
            write(out, Arrays.copyOfRange(body, 2 * third, body.length));
            return;
        }
        int pieces = 0;
        for (int i = 0; i < body.length; i += pieceSize) {
            write(out, Arrays.copyOfRange(body, i, Math.min(body.length, i + pieceSize)));
            pieces++;
            if (pieces == 20 && pauseMillis > 0) Thread.sleep(pauseMillis);
            else Thread.sleep(3);
        }
    }

    /** Writes the answer so that every multi-byte UTF-8 character is cut after its first byte, with a pause. */
    private void utf8Split(OutputStream out, byte[] body) throws IOException, InterruptedException {
        head(out, 200, "text/event-stream", null);
        var cuts = new ArrayList<Integer>();
        for (int i = 0; i < body.length; i++) if ((body[i] & 0xC0) == 0xC0) cuts.add(i + 1); // after a lead byte
        int from = 0;
        for (int cut : cuts) {
            write(out, Arrays.copyOfRange(body, from, cut));
            Thread.sleep(5);
            from = cut;
        }
        write(out, Arrays.copyOfRange(body, from, body.length));
    }

    private void write(OutputStream out, byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
        bytesOut.addAndGet(bytes.length);
    }

    private static void reset(Socket socket) throws IOException {
        socket.setSoLinger(true, 0);
        socket.close();
    }

    /** Silent until the gateway hangs up (or {@link #STALL_LIMIT_MILLIS} passes). */
    private void awaitHangUp(InputStream in) throws IOException {
        try {
            while (in.read() >= 0) {
                // discard
            }
            stallsReleased.incrementAndGet();
        } catch (SocketTimeoutException e) {
            // bounded: give up after STALL_LIMIT_MILLIS
        }
    }

    private static String readHead(InputStream in) throws IOException {
        var buf = new ByteArrayOutputStream();
        int state = 0;
        int b;
        while ((b = in.read()) >= 0) {
            buf.write(b);
            if (buf.size() > 64 * 1024) return null;
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

    /** Modes by name, for configs. */
    public static List<Mode> faults() {
        return Arrays.stream(Mode.values()).filter(m -> m != Mode.OK).toList();
    }

    @Override
    public void close() throws IOException {
        running = false;
        server.close();
        for (var s : sockets) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing
            }
        }
    }
}
