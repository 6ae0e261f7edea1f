package dev.sluice.client.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.sluice.wire.json.Json;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A scripted upstream on 127.0.0.1 (the JDK's HttpServer): records every request and answers with the handler
 * given, which sees the request and its 0-based position.
 */
public final class FakeUpstream implements AutoCloseable {

    public record Request(String method, String path, Headers headers, byte[] body) {
        public JsonNode json() {
            return Json.parse(body);
        }

        public String header(String name) {
            return headers.getFirst(name);
        }
    }

    @FunctionalInterface
    public interface Handler {
        void handle(HttpExchange exchange, Request request, int position) throws Exception;
    }

    private final HttpServer server;
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    private final List<Request> requests = new CopyOnWriteArrayList<>();

    private FakeUpstream(Handler handler) throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.setExecutor(executor);
        server.createContext("/", exchange -> {
            try (exchange) {
                var request = new Request(exchange.getRequestMethod(), exchange.getRequestURI().getPath(),
                        exchange.getRequestHeaders(), exchange.getRequestBody().readAllBytes());
                int position;
                synchronized (requests) {
                    position = requests.size();
                    requests.add(request);
                }
                handler.handle(exchange, request, position);
            } catch (IOException e) {
                // the client went away: nothing to answer
            } catch (Exception e) {
                throw new IOException(e);
            }
        });
        server.start();
    }

    public static FakeUpstream start(Handler handler) throws IOException {
        return new FakeUpstream(handler);
    }

    public String baseUrl() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/v1";
    }

    public List<Request> requests() {
        return List.copyOf(requests);
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }

    // ------------------------------------------------------------------ answers

    public static void sse(HttpExchange exchange, byte[] body) throws IOException {
        exchange.getResponseHeaders().set("Content-Type", "text/event-stream");
        exchange.sendResponseHeaders(200, 0);
        try (var out = exchange.getResponseBody()) {
            out.write(body);
        }
    }

    /** The body in random pieces of 1..maxPiece bytes, each flushed (one HTTP chunk, usually one TCP segment). */
    public static void ssePieces(HttpExchange exchange, byte[] body, int maxPiece, long seed) throws IOException {
        exchange.getResponseHeaders().set("Content-Type", "text/event-stream");
        exchange.sendResponseHeaders(200, 0);
        var random = new Random(seed);
        try (var out = exchange.getResponseBody()) {
            for (int i = 0; i < body.length; ) {
                int n = Math.min(body.length - i, 1 + random.nextInt(maxPiece));
                out.write(body, i, n);
                out.flush();
                i += n;
            }
        }
    }

    public static void json(HttpExchange exchange, int status, String body) throws IOException {
        json(exchange, status, body, Map.of());
    }

    public static void json(HttpExchange exchange, int status, String body, Map<String, String> headers) throws IOException {
        var bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        headers.forEach(exchange.getResponseHeaders()::set);
        exchange.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
        if (bytes.length > 0) {
            try (var out = exchange.getResponseBody()) {
                out.write(bytes);
            }
        }
    }
}
