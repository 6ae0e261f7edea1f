package dev.sluice.gateway.http;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.wire.json.Json;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufOutputStream;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * One HTTP request and its response, for handlers running on a virtual thread. Exactly one of
 * {@link #sendJson}, {@link #sendError} or {@link #startEventStream} answers it.
 */
public final class Exchange {

    private final Channel channel;
    private final FullHttpRequest request;
    private final String path;
    private final byte[] body;
    private final String requestId;
    private final Runnable onDone;
    private final ChannelState state;
    private final Cors cors;
    private boolean answered;

    Exchange(Channel channel, FullHttpRequest request, byte[] body, ChannelState state, Cors cors, Runnable onDone) {
        this.channel = channel;
        this.cors = cors;
        this.request = request;
        this.path = path(request.uri());
        this.body = body;
        this.state = state;
        this.onDone = onDone;
        this.requestId = newRequestId();
    }

    /** A request id, also for the answers the pipeline gives before a request reaches an Exchange (408, 413, 417). */
    static String newRequestId() {
        return "req_" + Long.toHexString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE);
    }

    /**
     * The URI's path, percent-decoded; a plain one (nearly all) is taken as it is, without the decoder's objects.
     * A malformed escape ({@code %zz}) leaves the path as sent: no route matches it, so it is answered 404.
     */
    static String path(String uri) {
        for (int i = 0; i < uri.length(); i++) {
            char c = uri.charAt(i);
            if (c == '?' || c == '#') return uri.substring(0, i);
            if (c == '%') {
                try {
                    return new QueryStringDecoder(uri).path();
                } catch (IllegalArgumentException malformed) {
                    return new QueryStringDecoder(uri).rawPath();
                }
            }
        }
        return uri;
    }

    public String method() {
        return request.method().name();
    }

    public String path() {
        return path;
    }

    /**
     * A 400 naming the query parameter whose name or value has a malformed percent escape ({@code %zz}, a lone
     * {@code %}), else null. Checked before any handler runs: the decoder throws on such a query, which would
     * otherwise surface from {@link #query} as a 500.
     */
    ApiError queryError() {
        var uri = request.uri();
        int q = uri.indexOf('?');
        if (q < 0 || uri.indexOf('%', q) < 0) return null;
        int end = uri.indexOf('#', q);
        var query = uri.substring(q + 1, end < 0 ? uri.length() : end);
        // Split as QueryStringDecoder does (on '&' and ';'), to name the parameter at fault.
        for (var pair : query.split("[&;]")) {
            int eq = pair.indexOf('=');
            var rawName = eq < 0 ? pair : pair.substring(0, eq);
            String name;
            try {
                name = QueryStringDecoder.decodeComponent(rawName);
            } catch (IllegalArgumentException malformed) {
                return malformedQuery(rawName);
            }
            if (eq >= 0) {
                try {
                    QueryStringDecoder.decodeComponent(pair.substring(eq + 1));
                } catch (IllegalArgumentException malformed) {
                    return malformedQuery(name);
                }
            }
        }
        try {
            new QueryStringDecoder(uri).parameters();
            return null;
        } catch (IllegalArgumentException malformed) {
            return malformedQuery(null);
        }
    }

    /**
     * An error for a body this server does not read, else null. Any Content-Encoding but identity is 415: no
     * OpenAI client compresses requests, and decoding one would let a small body inflate past the body limit
     * (the limit applies to what is received) on the event loop. A POST whose Content-Type is given and is not
     * JSON is 400 with OpenAI's own wording and code; one without a Content-Type is read as JSON, as simple
     * clients (curl -d without -H) send none.
     */
    ApiError entityError() {
        var encoding = request.headers().get(HttpHeaderNames.CONTENT_ENCODING);
        if (encoding != null && !encoding.isBlank() && !encoding.trim().equalsIgnoreCase("identity")) {
            return new ApiError(415, "Unsupported content encoding: '" + encoding.trim() + "'. Request bodies must not be compressed (Content-Encoding: identity).",
                    "invalid_request_error", null, "unsupported_content_encoding", Map.of("Accept-Encoding", "identity"));
        }
        var type = request.headers().get(HttpHeaderNames.CONTENT_TYPE);
        if (type == null || !request.method().equals(io.netty.handler.codec.http.HttpMethod.POST)) return null;
        int semicolon = type.indexOf(';');
        var mediaType = (semicolon < 0 ? type : type.substring(0, semicolon)).trim();
        if (mediaType.equalsIgnoreCase("application/json")) return null;
        return ApiError.invalidRequest("Unsupported content type: '" + mediaType + "'. This API method only accepts 'application/json' requests, but you specified the header 'Content-Type: "
                + type.trim() + "'. Please try again with a supported content type.", null, "unsupported_content_type");
    }

    private static ApiError malformedQuery(String param) {
        var what = param == null ? "the query string" : "query parameter '" + param + "'";
        return ApiError.invalidRequest("Invalid " + what + ": malformed percent-encoding (a '%' must be followed by two hex digits).", param, "invalid_value");
    }

    /** The first value of query parameter {@code name}, or null. */
    public String query(String name) {
        var values = new QueryStringDecoder(request.uri()).parameters().get(name);
        return values == null || values.isEmpty() ? null : values.getFirst();
    }

    public String header(String name) {
        return request.headers().get(name);
    }

    public byte[] body() {
        return body;
    }

    public String requestId() {
        return requestId;
    }

    /** Whether the client is still connected. */
    public boolean isOpen() {
        return channel.isActive();
    }

    /** Runs {@code action} once if the client disconnects before the response is complete. */
    public void onClientGone(Runnable action) {
        state.onClose(action);
    }

    public void sendJson(int status, JsonNode json, Map<String, String> headers) {
        sendJson(status, g -> Json.writeTree(g, json), headers);
    }

    /** A JSON body that writes itself. */
    @FunctionalInterface
    public interface JsonBody {
        void writeTo(JsonGenerator g) throws IOException;
    }

    /**
     * Answers with JSON written straight into the connection's (pooled, direct) buffer: no tree, no byte array,
     * no copy of one into the other on the way to the socket, and the head in front of it in the same buffer.
     */
    public void sendJson(int status, JsonBody body, Map<String, String> headers) {
        if (answered) throw new IllegalStateException("already answered");
        // The head is written in front of the body afterwards, in the same buffer (EncodedResponse).
        var content = EncodedResponse.reserveHead(channel.alloc(), 1024);
        try (var g = Json.FACTORY.createGenerator((OutputStream) new ByteBufOutputStream(content))) {
            body.writeTo(g);
        } catch (IOException | RuntimeException e) {
            content.release();
            if (e instanceof IOException io) throw new UncheckedIOException(io);
            throw (RuntimeException) e;
        }
        send(status, content, "application/json", headers);
    }

    public void sendError(ApiError error) {
        sendJson(error.status(), error.toJson(), error.headers());
    }

    /** A 204: no body, and so neither Content-Type nor Content-Length (RFC 9110 §8.6). */
    void sendNoContent(Map<String, String> headers) {
        if (answered) throw new IllegalStateException("already answered");
        send(204, io.netty.buffer.Unpooled.EMPTY_BUFFER, null, headers);
    }

    /** Sends {@code content} and takes it over (released once written). */
    private void send(int status, ByteBuf content, String contentType, Map<String, String> headers) {
        answered = true;
        boolean keepAlive = keepAlive(request);
        var response = EncodedResponse.of(channel.alloc(), status, contentType, content, requestId, headers,
                head -> cors.forEach(request.headers(), head::header), keepAlive);
        state.clearCloseActions();
        // The response and handing the connection back leave in one event-loop task: one wake-up of its thread, not two.
        onEventLoop(channel, () -> {
            writeLast(channel, response, keepAlive);
            onDone.run();
        });
    }

    /**
     * {@link HttpUtil#isKeepAlive}, without its walk over the headers for the common message that has no
     * Connection header: a client's request here, an upstream's response in the upstream client.
     */
    public static boolean keepAlive(HttpMessage message) {
        if (!message.headers().contains(HttpHeaderNames.CONNECTION)) return message.protocolVersion().isKeepAliveDefault();
        return HttpUtil.isKeepAlive(message);
    }

    /**
     * Writes the last part of an answer, then closes the connection unless the client keeps it alive. Nothing
     * waits on a kept-alive answer's write: a void promise spares the encoder combining a promise per buffer it
     * writes. A failed write still closes the connection (exceptionCaught).
     */
    static void writeLast(Channel channel, Object last, boolean keepAlive) {
        if (keepAlive) channel.writeAndFlush(last, channel.voidPromise());
        else channel.writeAndFlush(last).addListener(ChannelFutureListener.CLOSE);
    }

    /**
     * The gateway itself failed (a bug, not the upstream): logged, and answered with a 500 if nothing was sent
     * yet, else the connection is closed, so the client sees a broken response rather than a clean end.
     */
    public void abort(Throwable t) {
        boolean started = answered; // failed() answers with a 500 when nothing was sent yet
        HttpServer.failed(this, t);
        if (started) channel.close();
    }

    /** Handles the request on a virtual thread, for work that blocks; a failure answers 500 as for any handler. */
    public void fork(HttpHandler handler) {
        Thread.ofVirtual().name("req-", 0).start(() -> HttpServer.run(this, handler));
    }

    /** The event loop of the client's connection: everything done there needs no hand-off. */
    public io.netty.channel.EventLoop eventLoop() {
        return channel.eventLoop();
    }

    /** Whether the client's connection takes more writes without queueing past its high-water mark. */
    public boolean isWritable() {
        return channel.isWritable();
    }

    /**
     * Runs {@code action} on the event loop once the connection is writable again (at once if it is), unless the
     * client is gone. For a relay on the loop, which stops reading its upstream meanwhile instead of blocking.
     */
    public void whenWritable(Runnable action) {
        state.whenWritable(action);
    }

    /** Runs {@code task} on the channel's event loop: at once when already there, else as one task. */
    static void onEventLoop(Channel channel, Runnable task) {
        if (channel.eventLoop().inEventLoop()) task.run();
        else channel.eventLoop().execute(task);
    }

    /**
     * Starts a {@code text/event-stream} response and returns the stream to write events to. Keep-alive
     * comments are sent every {@code keepAlive} while nothing else is written.
     */
    public EventStreamResponse startEventStream(Map<String, String> headers, Duration keepAlive) {
        return startEventStream(headers, keepAlive, false);
    }

    /**
     * With {@code deferHead}, the head waits for the first frames or the first keep-alive: until then
     * {@link #sendErrorInstead} can still answer with an HTTP error status.
     */
    public EventStreamResponse startEventStream(Map<String, String> headers, Duration keepAlive, boolean deferHead) {
        if (answered) throw new IllegalStateException("already answered");
        answered = true;
        var response = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        var h = response.headers();
        h.set(HttpHeaderNames.CONTENT_TYPE, "text/event-stream; charset=utf-8");
        h.set(HttpHeaderNames.CACHE_CONTROL, "no-cache");
        h.set("X-Accel-Buffering", "no");
        // An HTTP/1.0 client knows no chunked coding (RFC 9112 §6.1 forbids sending it one): its stream is
        // delimited by closing the connection instead, with neither Transfer-Encoding nor Content-Length.
        boolean chunked = !request.protocolVersion().equals(HttpVersion.HTTP_1_0);
        if (chunked) h.set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
        common(h, headers);
        boolean keepAliveConnection = chunked && keepAlive(request);
        if (!keepAliveConnection) h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        // HEAD: the head a GET would get and nothing more (the events are written below the codec, which would not drop them).
        return new EventStreamResponse(channel, state, response, keepAlive, keepAliveConnection, onDone, deferHead,
                request.method().equals(io.netty.handler.codec.http.HttpMethod.HEAD), chunked);
    }

    /**
     * Answers with {@code error} instead of the event stream, when the stream's deferred head has not gone out;
     * false when it has (the client then learns of the error in the stream).
     */
    public boolean sendErrorInstead(EventStreamResponse stream, ApiError error) {
        if (!stream.discard()) return false;
        answered = false;
        sendError(error);
        return true;
    }

    private void common(HttpHeaders h, Map<String, String> headers) {
        h.set("x-request-id", requestId);
        if (headers != null) headers.forEach(h::set);
        cors.forEach(request.headers(), h::add);
    }

    boolean answered() {
        return answered;
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
