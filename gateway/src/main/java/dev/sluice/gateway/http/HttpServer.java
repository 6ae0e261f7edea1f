package dev.sluice.gateway.http;

import dev.sluice.wire.json.Json;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerKeepAliveHandler;
import io.netty.handler.codec.http.HttpVersion;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;

/**
 * The Netty HTTP/1.1 server. Each request is handed to the {@link HttpHandler} on a virtual thread; a
 * connection serves its requests one after another. Bodies above the limit get an OpenAI-shaped 413.
 */
public final class HttpServer implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(HttpServer.class.getName());

    /** Linux's epoll where Netty's native library loads (cheaper wake-ups than NIO's selector), else NIO. */
    private static final boolean EPOLL = io.netty.channel.epoll.Epoll.isAvailable();

    private final EventLoopGroup boss = EPOLL ? new io.netty.channel.epoll.EpollEventLoopGroup(1) : new NioEventLoopGroup(1);
    /**
     * One event loop per core (Netty's default is two): chat answers are relayed on the loops themselves, so
     * more loops than cores only adds time slicing and wake-ups. {@code -Dio.netty.eventLoopThreads} overrides.
     */
    private static final int LOOPS = Integer.getInteger("io.netty.eventLoopThreads", Runtime.getRuntime().availableProcessors());

    private final EventLoopGroup workers = EPOLL ? new io.netty.channel.epoll.EpollEventLoopGroup(LOOPS) : new NioEventLoopGroup(LOOPS);
    private final Channel serverChannel;

    /** The methods this server's routes serve, for answers about the server as a whole (OPTIONS *, CONNECT, CORS). */
    static final String METHODS = "GET, HEAD, POST, DELETE";

    /**
     * @param requestTimeout longest time from a request's first byte to its last (408 past it); zero for none
     * @param idleTimeout    longest time a kept-alive connection waits for its next request; zero for none
     * @param cors           the origins whose browser apps may call this server ({@link Cors#OFF}: no CORS header at all)
     */
    public HttpServer(String host, int port, int maxBodyBytes, java.time.Duration requestTimeout, java.time.Duration idleTimeout, Cors cors,
            HttpHandler handler) throws InterruptedException {
        var bootstrap = new ServerBootstrap()
                .group(boss, workers)
                .channel(EPOLL ? io.netty.channel.epoll.EpollServerSocketChannel.class : NioServerSocketChannel.class)
                .option(ChannelOption.SO_BACKLOG, 1024)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(32 * 1024, 64 * 1024))
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        var timeouts = new RequestTimeouts(requestTimeout, idleTimeout);
                        var gate = new ReadGate();
                        ch.pipeline()
                                .addLast(gate)
                                .addLast(timeouts)
                                .addLast(new ServerCodec(8192, 64 * 1024, 8192))
                                .addLast(new HttpServerKeepAliveHandler())
                                .addLast(new LimitedAggregator(maxBodyBytes, cors))
                                .addLast(new RequestHandler(handler, timeouts, gate, cors));
                    }
                });
        this.serverChannel = bootstrap.bind(host, port).sync().channel();
    }

    public int port() {
        return ((InetSocketAddress) serverChannel.localAddress()).getPort();
    }

    @Override
    public void close() {
        serverChannel.close().awaitUninterruptibly();
        boss.shutdownGracefully(0, 2, TimeUnit.SECONDS);
        workers.shutdownGracefully(0, 2, TimeUnit.SECONDS);
    }

    /** Runs {@code handler} for {@code exchange} on the calling thread; a failure answers 500 when nothing was sent yet. */
    static void run(Exchange exchange, HttpHandler handler) {
        try {
            handler.handle(exchange);
        } catch (Throwable t) {
            failed(exchange, t);
        }
    }

    static void failed(Exchange exchange, Throwable t) {
        LOG.log(System.Logger.Level.ERROR, "request " + exchange.requestId() + " " + exchange.method() + " " + exchange.path() + " failed", t);
        if (!exchange.answered()) {
            exchange.sendError(ApiError.server(500, "The gateway failed to process the request (request id " + exchange.requestId() + ").", "internal_error"));
        }
    }

    /**
     * An error answered from the pipeline, before a request reaches an {@link Exchange} (413, 417, 408): OpenAI's
     * shape, a request id as every answer has, and the connection closes after it.
     */
    static DefaultFullHttpResponse closingError(ApiError error) {
        var body = Json.bytes(error.toJson());
        var response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(error.status()), Unpooled.wrappedBuffer(body));
        response.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json");
        response.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
        error.headers().forEach(response.headers()::set);
        response.headers().set(HttpHeaderNames.CONNECTION, "close");
        response.headers().set("x-request-id", Exchange.newRequestId());
        return response;
    }

    private static final class LimitedAggregator extends HttpObjectAggregator {
        private final int max;
        private final Cors cors;

        LimitedAggregator(int max, Cors cors) {
            // Close after refusing an Expect: the client may send the body anyway, as it does after a plain 413.
            super(max, true);
            this.max = max;
            this.cors = cors;
        }

        /** A closing error for {@code request}, readable by a browser app of an allowed origin like any other answer. */
        private DefaultFullHttpResponse closingError(ApiError error, HttpMessage request) {
            var response = HttpServer.closingError(error);
            cors.addTo(response.headers(), request.headers());
            return response;
        }

        private ApiError tooLarge() {
            return new ApiError(413, "Request body too large: the limit is " + max + " bytes.", "invalid_request_error", null, "request_too_large", null);
        }

        @Override
        protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
            // The rest of the body is not read: answer and close, as the client cannot be trusted to stop.
            LingeringClose.answerAndClose(ctx.channel(), closingError(tooLarge(), oversized));
        }

        /**
         * Netty refuses an {@code Expect: 100-continue} whose Content-Length is over the limit (413), and any other
         * expectation (417), with empty bodies: they get the same OpenAI-shaped answers as the rest.
         */
        @Override
        protected Object newContinueResponse(HttpMessage start, int maxContentLength, io.netty.channel.ChannelPipeline pipeline) {
            var response = super.newContinueResponse(start, maxContentLength, pipeline);
            if (response instanceof FullHttpResponse refused && refused.status().code() >= 400) {
                int status = refused.status().code();
                refused.release();
                return closingError(status == 413 ? tooLarge()
                        : new ApiError(417, "Unsupported expectation: only 'Expect: 100-continue' is supported.", "invalid_request_error", null,
                                "expectation_failed", null), start);
            }
            return response;
        }
    }

    /**
     * Serialises a connection's requests and hands each to a virtual thread. A request pipelined behind one being
     * answered waits its turn here, and while one does the connection is not read: a client that kept sending
     * requests behind a long stream had every one read, aggregated and queued (gigabytes from one connection in
     * seconds). What one socket read held is still decoded and queued; the next read waits for the queue to empty,
     * as nginx reads a pipelined request only once the one before it is answered.
     */
    private static final class RequestHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
        private final HttpHandler handler;
        private final RequestTimeouts timeouts;
        private final ReadGate gate;
        private final Cors cors;
        private final ArrayDeque<FullHttpRequest> queue = new ArrayDeque<>();
        private ChannelState state;
        private boolean busy;

        RequestHandler(HttpHandler handler, RequestTimeouts timeouts, ReadGate gate, Cors cors) {
            this.handler = handler;
            this.timeouts = timeouts;
            this.gate = gate;
            this.cors = cors;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) throws Exception {
            state = new ChannelState(ctx.channel());
            super.channelActive(ctx);
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
            timeouts.requestReceived();
            queue.add(request.retain());
            if (!busy) next(ctx);
            else gate.close(ctx.channel());
        }

        private void next(ChannelHandlerContext ctx) {
            var request = queue.poll();
            if (request == null) return;
            busy = true;
            if (queue.isEmpty()) gate.open(ctx.channel()); // nothing waits any more: read on
            if (!request.decoderResult().isSuccess()) {
                request.release();
                var error = request.decoderResult().cause() instanceof ServerCodec.BadFraming framing
                        ? new ApiError(framing.status, framing.getMessage(), "invalid_request_error", null, framing.code, null)
                        : ApiError.invalidRequest("Malformed HTTP request.", null, null);
                // The client may still be sending (the rest of an over-long head, a body): a plain close would reset
                // the connection and the client would read "connection reset" instead of this answer.
                LingeringClose.answerAndClose(ctx.channel(), closingError(error));
                return;
            }
            var refusal = hostError(request);
            if (refusal == null) {
                originForm(request);
                refusal = targetError(request);
            }
            if (refusal != null) {
                request.release();
                LingeringClose.answerAndClose(ctx.channel(), closingError(refusal));
                return;
            }
            byte[] body = ByteBufUtil.getBytes(request.content());
            var exchange = new Exchange(ctx.channel(), request, body, state, cors, () -> done(ctx));
            request.content().release();
            if (cors.isPreflight(request)) {
                cors.preflight(exchange, request.headers());
                return;
            }
            if (request.uri().equals("*")) {
                // OPTIONS * (the only method targetError lets through with it): what the server as a whole serves.
                exchange.sendNoContent(java.util.Map.of("Allow", METHODS));
                return;
            }
            var refused = exchange.queryError();
            if (refused == null) refused = exchange.entityError();
            if (refused != null) {
                exchange.sendError(refused);
                return;
            }
            boolean taken;
            try {
                taken = handler.handleOnEventLoop(exchange);
            } catch (Throwable t) {
                failed(exchange, t);
                return;
            }
            if (!taken) exchange.fork(handler);
        }

        /**
         * RFC 9112 §3.2: an HTTP/1.1 request without a Host header, and any request with more than one, is 400
         * (HTTP/1.0 predates Host). Several Host values are how requests get routed by one hop and served as
         * another host's by the next.
         */
        private static ApiError hostError(FullHttpRequest request) {
            int hosts = request.headers().getAll(HttpHeaderNames.HOST).size();
            if (hosts > 1) return ApiError.invalidRequest("A request may have only one Host header.", null, "invalid_host");
            if (hosts == 0 && !request.protocolVersion().equals(HttpVersion.HTTP_1_0)) {
                return ApiError.invalidRequest("An HTTP/1.1 request must have a Host header.", null, "invalid_host");
            }
            return null;
        }

        /**
         * A request target in absolute form ({@code http://host/v1/models}, as sent to a proxy) is served as its
         * path and query, which RFC 9112 §3.2.2 requires of a server: routes only ever see origin form. Raw
         * non-ASCII bytes in it are read as UTF-8 first ({@link #utf8}).
         */
        private static void originForm(FullHttpRequest request) {
            var uri = utf8(request.uri());
            request.setUri(uri);
            int authority = uri.regionMatches(true, 0, "http://", 0, 7) ? 7 : uri.regionMatches(true, 0, "https://", 0, 8) ? 8 : -1;
            if (authority < 0) return;
            int end = authority;
            while (end < uri.length() && "/?#".indexOf(uri.charAt(end)) < 0) end++;
            var rest = uri.substring(end);
            request.setUri(rest.startsWith("/") ? rest : "/" + rest);
        }

        /**
         * The target with raw bytes above ASCII (which RFC 3986 wants percent-encoded, and curl sends as typed) read
         * as UTF-8, as their percent-encoded form is: Netty reads the request line as ISO-8859-1, which made
         * {@code /v1/models/é} a request for the model {@code Ã©}.
         */
        private static String utf8(String uri) {
            for (int i = 0; i < uri.length(); i++) {
                if (uri.charAt(i) > 0x7f) return new String(uri.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1), java.nio.charset.StandardCharsets.UTF_8);
            }
            return uri;
        }

        /**
         * A request target in none of the forms an origin server serves (RFC 9112 §3.2): CONNECT's authority form
         * is 405, as this server tunnels nothing; {@code *} goes with OPTIONS only; anything else must be a path.
         * They close the connection: a client that sent CONNECT may already be sending its tunnel's bytes.
         */
        private static ApiError targetError(FullHttpRequest request) {
            if (request.method().equals(io.netty.handler.codec.http.HttpMethod.CONNECT)) {
                return new ApiError(405, "Method CONNECT is not allowed: this server is not a proxy.", "invalid_request_error", null,
                        "method_not_allowed", java.util.Map.of("Allow", METHODS));
            }
            var uri = request.uri();
            if (uri.equals("*")) {
                return request.method().equals(io.netty.handler.codec.http.HttpMethod.OPTIONS) ? null
                        : ApiError.invalidRequest("The request target '*' is only valid with OPTIONS.", null, "invalid_request_target");
            }
            return uri.startsWith("/") ? null : ApiError.invalidRequest("Invalid request target: it must be a path starting with '/'.", null, "invalid_request_target");
        }

        /**
         * The response is sent: the next request may start. A request already waiting starts in a task of its own,
         * not inside the one that answered; with none waiting (nearly always) there is nothing to schedule.
         */
        private void done(ChannelHandlerContext ctx) {
            if (ctx.executor().inEventLoop()) {
                timeouts.responseDone();
                if (queue.isEmpty()) {
                    busy = false;
                    return;
                }
                ctx.executor().execute(() -> {
                    busy = false;
                    next(ctx);
                });
                return;
            }
            // From a virtual thread: one task on the loop for both.
            ctx.executor().execute(() -> {
                timeouts.responseDone();
                busy = false;
                next(ctx);
            });
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) throws Exception {
            if (state != null) state.closed();
            FullHttpRequest pending;
            while ((pending = queue.poll()) != null) pending.release();
            super.channelInactive(ctx);
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) throws Exception {
            if (state != null) state.writabilityChanged();
            super.channelWritabilityChanged(ctx);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // Connection resets, and a client that hung up in the middle of a request (the aggregator reports it once
            // the channel is already closed): nothing to answer, just let go. Anything else closes a live connection
            // the client may reuse, so it is said (void-promise writes that fail land here too).
            if (!(cause instanceof java.io.IOException) && ctx.channel().isActive()) {
                LOG.log(System.Logger.Level.WARNING, "closing a connection after an unexpected error in its pipeline", cause);
            }
            ctx.close();
        }
    }
}
