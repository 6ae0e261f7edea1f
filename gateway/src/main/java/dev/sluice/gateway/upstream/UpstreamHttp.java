package dev.sluice.gateway.upstream;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollEventLoop;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioEventLoop;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.IdentityCipherSuiteFilter;
import io.netty.handler.ssl.JdkSslContext;
import io.netty.handler.ssl.SslContext;
import io.netty.util.NetUtil;
import io.netty.util.concurrent.Future;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;

/**
 * A small HTTP/1.1 client whose exchanges live entirely on one Netty event loop: the loop of the downstream
 * connection an upstream response is relayed to, so a relayed chunk never changes threads (nginx's proxy
 * shape). Nothing here blocks a loop: names that are not IP literals are resolved on a virtual thread, and
 * every timer is a task on the loop.
 *
 * <p>Keep-alive connections are pooled per (event loop, scheme, host, port) and only touched on their own
 * loop, so the pool needs no locks. A request that fails on a reused connection before any response byte
 * arrived (the server closed it while idle at the same moment) is retried once on a fresh connection.
 *
 * <p>Not this class's job: redirects, HTTP-level retries, decompression, reading error bodies into strings.
 * Headers are never logged (they carry API keys).
 */
public final class UpstreamHttp implements AutoCloseable {

    static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(10);

    final long connectTimeoutMillis;
    final SslContext ssl;
    private final ConcurrentHashMap<EventLoop, ConnectionPool> pools = new ConcurrentHashMap<>();
    private volatile boolean closed;

    /** connectTimeout: TCP+TLS setup limit (null = 10 s). sslContext: for https upstreams; null = the JDK's default trust store. */
    public UpstreamHttp(Duration connectTimeout, SSLContext sslContext) {
        var timeout = connectTimeout == null ? DEFAULT_CONNECT_TIMEOUT : connectTimeout;
        if (timeout.isNegative() || timeout.isZero()) throw new IllegalArgumentException("connectTimeout must be positive: " + timeout);
        this.connectTimeoutMillis = Math.max(1, Math.min(Integer.MAX_VALUE, timeout.toMillis()));
        SSLContext context;
        try {
            context = sslContext != null ? sslContext : SSLContext.getDefault();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no default SSLContext", e);
        }
        // Client mode, the JDK context's own protocols, no ALPN: upstreams speak HTTP/1.1 here.
        this.ssl = new JdkSslContext(context, true, null, IdentityCipherSuiteFilter.INSTANCE, null, ClientAuth.NONE, null, false);
    }

    /**
     * Starts one exchange on {@code loop} and returns at once. Every Listener call happens on {@code loop}.
     * May be called from any thread (if not on the loop, the work is submitted to it). No listener call
     * happens before this returns, even on the loop.
     *
     * @throws IllegalArgumentException for a request that cannot be sent (not an absolute http(s) URI, a
     *         header with CR/LF, a non-positive timeout) or a loop that is neither epoll nor NIO
     * @throws IllegalStateException after {@link #close()}
     * @throws java.util.concurrent.RejectedExecutionException if the loop is shut down
     */
    public Call send(EventLoop loop, Request request, Listener listener) {
        if (closed) throw new IllegalStateException("UpstreamHttp is closed");
        var exchange = new Exchange(this, loop, channelClass(loop), Target.of(request), request, listener);
        // A failure that would complete inline (a pooled connection whose write fails at once; Netty connects in a
        // task of its own) reaches the listener in a task, after the caller holds the Call (Exchange.startInline).
        if (loop.inEventLoop()) exchange.startInline();
        else loop.execute(exchange::start);
        return exchange;
    }

    /** The head of the last request sent, but its length: a provider sends the same one every time. */
    private volatile LastHead lastHead;

    private record LastHead(String method, URI uri, Map<String, String> headers, String hostHeader, RequestHead prefix) {}

    /**
     * The request's head but its length, encoded once for as long as requests come with the same method, URI
     * and header map (the same objects: the SDK builds a provider's map once, see {@link Request}).
     */
    RequestHead head(Request request, Target target) {
        var last = lastHead;
        var headers = request.headers() == null ? Map.<String, String>of() : request.headers();
        if (last != null && last.headers() == headers && last.uri() == request.uri() && last.method().equals(request.method())
                && last.hostHeader().equals(target.hostHeader())) {
            return last.prefix();
        }
        var uri = request.uri();
        var rawPath = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
        var path = uri.getRawQuery() == null ? rawPath : rawPath + "?" + uri.getRawQuery();
        var prefix = RequestHead.prefix(request.method(), path, headers, target.hostHeader());
        lastHead = new LastHead(request.method(), uri, headers, target.hostHeader(), prefix);
        return prefix;
    }

    /** Closes idle pooled connections. Connections still in use close when their exchange ends. */
    @Override
    public void close() {
        closed = true;
        var pending = new ArrayList<Future<?>>();
        for (var pool : pools.values()) {
            if (pool.loop().inEventLoop()) {
                pool.close();
                continue;
            }
            try {
                pending.add(pool.loop().submit(pool::close));
            } catch (java.util.concurrent.RejectedExecutionException shutDown) {
                // A loop that has shut down has closed its channels already.
            }
        }
        // Bounded: close() is called at shutdown and must not hang on a stuck loop.
        for (var f : pending) f.awaitUninterruptibly(2, TimeUnit.SECONDS);
    }

    boolean isClosed() {
        return closed;
    }

    ConnectionPool pool(EventLoop loop) {
        return pools.computeIfAbsent(loop, ConnectionPool::new);
    }

    /** Starts a TCP connection (setup of TLS and the codec happens in {@link Connection#init}). */
    ChannelFuture connect(EventLoop loop, Class<? extends Channel> channelClass, Connection connection, InetAddress address) {
        return new Bootstrap()
                .group(loop)
                .channel(channelClass)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.RCVBUF_ALLOCATOR, LoopReadBuffer.INSTANCE)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) connectTimeoutMillis)
                .handler(connection.initializer())
                .connect(new InetSocketAddress(address, connection.target().port()));
    }

    /** The address of {@code host}, completed on {@code loop}; IP literals need no lookup at all. */
    static Future<InetAddress> resolve(EventLoop loop, String host) {
        var literal = NetUtil.createByteArrayFromIpAddressString(host);
        if (literal != null) {
            try {
                return loop.newSucceededFuture(InetAddress.getByAddress(host, literal));
            } catch (UnknownHostException impossible) {
                return loop.newFailedFuture(impossible);
            }
        }
        // The JDK resolver blocks (and caches); a loop must not wait for DNS, so it runs on a virtual thread.
        var promise = loop.<InetAddress>newPromise();
        Thread.ofVirtual().name("sluice-upstream-resolve").start(() -> {
            try {
                promise.setSuccess(InetAddress.getByName(host));
            } catch (UnknownHostException | RuntimeException e) {
                promise.setFailure(e);
            }
        });
        return promise;
    }

    private static Class<? extends Channel> channelClass(EventLoop loop) {
        if (Epoll.isAvailable() && loop instanceof EpollEventLoop) return EpollSocketChannel.class;
        if (loop instanceof NioEventLoop) return NioSocketChannel.class;
        throw new IllegalArgumentException("unsupported event loop (need epoll or NIO): " + loop.getClass().getName());
    }

    /** Where a request goes: the pool key, and everything the connection needs to reach it. */
    record Target(boolean tls, String host, int port, String hostHeader) {

        static Target of(Request request) {
            var uri = request.uri();
            var scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
            if (!scheme.equals("http") && !scheme.equals("https")) throw new IllegalArgumentException("not an http(s) URI: " + uri);
            var host = uri.getHost();
            if (host == null || host.isEmpty()) throw new IllegalArgumentException("URI without a host: " + uri);
            var tls = scheme.equals("https");
            var defaultPort = tls ? 443 : 80;
            var port = uri.getPort() == -1 ? defaultPort : uri.getPort();
            // URI keeps an IPv6 literal's brackets: right for Host, wrong for a socket address or an SSLEngine.
            var bare = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
            return new Target(tls, bare, port, port == defaultPort ? host : host + ":" + port);
        }
    }

    /**
     * timeouts null = disabled. The header map is read when the request is sent and must not change afterwards:
     * a request with the same map (the same object) as the one before reuses that one's encoded head.
     */
    public record Request(String method, URI uri, Map<String, String> headers, byte[] body,
                          Duration firstByte, Duration idle, Duration total) {}

    public interface Listener {
        /** The response head (final status; 1xx informational responses are skipped). */
        void onHead(int status, HttpHeaders headers);

        /** A piece of the body, in order. The buffer is released by the client after this returns (copy or retain if kept). */
        void onContent(ByteBuf content);

        /** After each batch of socket reads that delivered content (channelReadComplete), so a relay can flush once per read. */
        default void onReadComplete() {}

        /** The body ended normally: its length, the chunked body's last chunk, or the close that frames it. */
        void onEnd();

        /**
         * The exchange failed: cannot connect, TLS failure, connection closed/reset before the body ended,
         * malformed response, or a timeout. Timeouts are {@code dev.sluice.client.StreamTimeoutException}.
         * A failure to set up the connection (DNS, TCP, TLS handshake timeout) is a {@link java.net.ConnectException};
         * a TLS handshake refused (untrusted certificate, wrong host name) is an {@link javax.net.ssl.SSLException}.
         * In both cases nothing of the request was sent.
         */
        void onError(IOException cause);
    }

    public interface Call {
        /** Stops at once from any thread: the connection is closed unless the response had already ended; no listener call after it returns (or, from another thread, after the loop processes it). Idempotent. */
        void cancel();

        /** Backpressure, called on the loop: false stops reading the response from the socket, true resumes. */
        void setAutoRead(boolean read);
    }
}
