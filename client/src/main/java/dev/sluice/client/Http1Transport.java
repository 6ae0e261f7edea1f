package dev.sluice.client;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ProtocolException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.http.HttpHeaders;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

/**
 * HTTP/1.1 over blocking sockets, for callers on virtual threads: the calling thread writes the request and
 * reads the response itself, parked by the JDK while the socket has nothing to read. Compared with
 * {@link java.net.http.HttpClient}, no selector thread, worker pool or queue sits between the socket and the
 * parser, so each read costs one wake-up instead of three or four thread hand-offs; that is what a gateway
 * relaying thousands of streams pays for on every chunk.
 *
 * <p>Connections are kept alive and reused per scheme, host and port (most recently used first). A request
 * that fails on a reused connection before any byte of an answer came back is sent again once on a new
 * connection, since the server had closed the idle connection. Cancelling closes the socket, so the
 * upstream sees its connection close at once. An interrupt aborts a blocked read on a virtual thread (the
 * JDK closes the socket); on a platform thread it does not, so callers there cancel with {@code close()}.
 */
final class Http1Transport implements HttpTransport {

    /** Idle connections older than this are closed rather than reused: servers close theirs after 5 s to a few minutes. */
    private static final long MAX_IDLE_NANOS = Duration.ofSeconds(30).toNanos();
    private static final int MAX_IDLE_PER_ORIGIN = 1024;
    private static final int MAX_HEAD_BYTES = 64 * 1024;
    private static final int MAX_LINE_BYTES = 16 * 1024;
    private static final int BUFFER_BYTES = 16 * 1024;

    private final Duration connectTimeout; // null: none
    private final SSLContext ssl;           // null: the JDK's default
    private final ConcurrentHashMap<String, Idle> idle = new ConcurrentHashMap<>();
    /** Every open connection, idle or in use: closing the transport closes them all, aborting what is in flight. */
    private final java.util.Set<Conn> live = ConcurrentHashMap.newKeySet();

    /** An origin's idle connections, most recently used first; the count because a deque's size() walks it. */
    private record Idle(ConcurrentLinkedDeque<Conn> deque, AtomicInteger count) {
        Conn poll() {
            var c = deque.pollFirst();
            if (c != null) count.decrementAndGet();
            return c;
        }

        void push(Conn c) {
            deque.offerFirst(c);
            count.incrementAndGet();
        }

        Conn oldest() {
            var c = deque.pollLast();
            if (c != null) count.decrementAndGet();
            return c;
        }
    }
    private volatile boolean closed;

    Http1Transport(Duration connectTimeout, SSLContext ssl) {
        this.connectTimeout = connectTimeout;
        this.ssl = ssl;
    }

    @Override
    public Opened send(Call call) throws IOException, ConnectionFailure {
        if (closed) throw new IOException("client closed");
        var uri = call.uri();
        boolean tls = "https".equalsIgnoreCase(uri.getScheme());
        if (!tls && !"http".equalsIgnoreCase(uri.getScheme())) {
            throw new IllegalArgumentException("unsupported scheme: " + uri);
        }
        String host = uri.getHost();
        if (host == null) throw new IllegalArgumentException("no host in " + uri);
        int port = uri.getPort() >= 0 ? uri.getPort() : tls ? 443 : 80;
        String origin = (tls ? "https://" : "http://") + host + ":" + port;
        byte[] request = encode(call, uri.getPort() >= 0 ? host + ":" + port : host);

        while (true) {
            var conn = pooled(origin);
            boolean reused = conn != null;
            if (conn == null) conn = connect(origin, host, port, tls);
            if (closed) { // closed while connecting: close() may have missed this connection
                conn.close();
                throw new IOException("client closed");
            }
            try {
                conn.timeout(timeoutMillis(call.firstByte(), call.total(), call.deadline()));
                conn.out.write(request);
                conn.out.flush();
                var head = readHead(conn, call);
                return new Opened(head.status, head.headers, body(conn, call, head));
            } catch (SocketTimeoutException e) {
                conn.close();
                throw StreamTimeoutException.expired(StreamTimeoutException.Kind.FIRST_BYTE, call.firstByte(), call.total(), call.deadline());
            } catch (IOException e) {
                conn.close();
                if (Thread.currentThread().isInterrupted()) throw interrupted("waiting for the response", e);
                if (reused && !conn.receivedAny) continue; // the server had closed this idle connection
                throw new ConnectionFailure(e);
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        idle.clear();
        // Idle connections and those of exchanges still in flight (a stream left open, which then ends with an
        // IOException) alike.
        for (var c : live) c.close();
    }

    // ------------------------------------------------------------------ connections

    private Conn pooled(String origin) {
        var pool = idle.get(origin);
        if (pool == null) return null;
        Conn c;
        while ((c = pool.poll()) != null) {
            if (System.nanoTime() - c.idleSince < MAX_IDLE_NANOS && !c.socket.isClosed()) return c;
            c.close();
        }
        return null;
    }

    private void recycle(Conn c) {
        if (closed) {
            c.close();
            return;
        }
        var pool = idle.computeIfAbsent(c.origin, k -> new Idle(new ConcurrentLinkedDeque<>(), new AtomicInteger()));
        // Stale connections would pile up at the tail while fresh ones are reused from the head.
        for (Conn old; (old = pool.deque().peekLast()) != null && System.nanoTime() - old.idleSince >= MAX_IDLE_NANOS; ) {
            if (pool.deque().removeLastOccurrence(old)) {
                pool.count().decrementAndGet();
                old.close();
            }
        }
        c.idleSince = System.nanoTime();
        c.receivedAny = false;
        pool.push(c);
        if (pool.count().get() > MAX_IDLE_PER_ORIGIN) {
            var extra = pool.oldest();
            if (extra != null) extra.close();
        }
    }

    private Conn connect(String origin, String host, int port, boolean tls) throws ConnectionFailure, IOException {
        var socket = new Socket();
        try {
            socket.setTcpNoDelay(true);
            String address = host.startsWith("[") ? host.substring(1, host.length() - 1) : host;
            socket.connect(new InetSocketAddress(address, port), connectTimeout == null ? 0 : (int) Math.max(1, connectTimeout.toMillis()));
            Socket s = socket;
            if (tls) {
                var factory = (ssl != null ? ssl : SSLContext.getDefault()).getSocketFactory();
                var secure = (SSLSocket) factory.createSocket(socket, address, port, true);
                var params = secure.getSSLParameters();
                params.setEndpointIdentificationAlgorithm("HTTPS");
                params.setApplicationProtocols(new String[] {"http/1.1"});
                secure.setSSLParameters(params);
                secure.setSoTimeout(connectTimeout == null ? 0 : (int) Math.max(1, connectTimeout.toMillis()));
                secure.startHandshake();
                secure.setSoTimeout(0); // reads are timed by ReadDeadlines
                s = secure;
            }
            return new Conn(origin, s, live);
        } catch (java.security.NoSuchAlgorithmException e) {
            socket.close();
            throw new IOException("no TLS available", e);
        } catch (IOException e) {
            socket.close();
            if (Thread.currentThread().isInterrupted()) throw interrupted("connecting", e);
            throw new ConnectionFailure(e);
        }
    }

    /** One keep-alive connection and its read buffer. Used by one exchange at a time. */
    private static final class Conn implements ReadDeadlines.Watched {
        final String origin;
        final Socket socket;
        final InputStream in;
        final OutputStream out;
        final byte[] buf = new byte[BUFFER_BYTES];
        int pos, lim;
        long idleSince;
        boolean receivedAny;
        private long readTimeoutNanos; // 0: reads wait as long as it takes
        private final java.util.concurrent.atomic.AtomicLong deadline = new java.util.concurrent.atomic.AtomicLong();
        private final java.util.Set<Conn> live;

        Conn(String origin, Socket socket, java.util.Set<Conn> live) throws IOException {
            this.origin = origin;
            this.socket = socket;
            this.in = socket.getInputStream();
            this.out = socket.getOutputStream();
            this.live = live;
            live.add(this);
            ReadDeadlines.shared().watch(this);
        }

        /** How long each following blocking read may wait, in milliseconds; 0 = no limit. */
        void timeout(int millis) {
            readTimeoutNanos = millis * 1_000_000L;
        }

        @Override
        public java.util.concurrent.atomic.AtomicLong deadline() {
            return deadline;
        }

        @Override
        public void abort() {
            close();
        }

        /** Reads more bytes after the unread ones (compacting first); -1 at the end of the connection. */
        int fill() throws IOException {
            if (pos > 0 && pos == lim) {
                pos = lim = 0;
            } else if (lim == buf.length) {
                System.arraycopy(buf, pos, buf, 0, lim - pos);
                lim -= pos;
                pos = 0;
            }
            int n = timedRead();
            if (n > 0) {
                lim += n;
                receivedAny = true;
            }
            return n;
        }

        private int timedRead() throws IOException {
            long timeout = readTimeoutNanos;
            if (timeout == 0) return in.read(buf, lim, buf.length - lim);
            ReadDeadlines.arm(this, timeout);
            int n;
            try {
                n = in.read(buf, lim, buf.length - lim);
            } catch (IOException e) {
                if (ReadDeadlines.expired(this)) throw timedOut(e);
                throw e;
            }
            // Bytes that came just as the deadline passed are lost with the socket the watchdog is closing.
            if (ReadDeadlines.expired(this)) throw timedOut(null);
            return n;
        }

        private static SocketTimeoutException timedOut(IOException cause) {
            var e = new SocketTimeoutException("read timed out");
            if (cause != null) e.initCause(cause);
            return e;
        }

        /** The next CRLF- (or LF-) terminated line without its terminator, reading as needed. */
        String line(int max) throws IOException {
            while (true) {
                for (int i = pos; i < lim; i++) {
                    if (buf[i] == '\n') {
                        int end = i > pos && buf[i - 1] == '\r' ? i - 1 : i;
                        var s = new String(buf, pos, end - pos, StandardCharsets.ISO_8859_1);
                        pos = i + 1;
                        return s;
                    }
                }
                if (lim - pos >= max) throw new ProtocolException("line longer than " + max + " bytes");
                if (pos > 0 || lim == buf.length) {
                    System.arraycopy(buf, pos, buf, 0, lim - pos);
                    lim -= pos;
                    pos = 0;
                }
                if (fill() < 0) throw new IOException("connection closed by the server");
            }
        }

        void close() {
            live.remove(this);
            ReadDeadlines.shared().unwatch(this);
            try {
                socket.close();
            } catch (IOException ignored) {
                // nothing left to release
            }
        }
    }

    // ------------------------------------------------------------------ request and response head

    private static byte[] encode(Call call, String hostHeader) {
        var uri = call.uri();
        var target = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
        if (uri.getRawQuery() != null) target += "?" + uri.getRawQuery();
        var sb = new StringBuilder(256).append(call.method()).append(' ').append(target).append(" HTTP/1.1\r\nHost: ").append(hostHeader).append("\r\n");
        for (var h : call.headers().entrySet()) {
            var name = h.getKey();
            // The transport owns the framing headers.
            if (name.equalsIgnoreCase("host") || name.equalsIgnoreCase("content-length") || name.equalsIgnoreCase("connection")
                    || name.equalsIgnoreCase("transfer-encoding")) continue;
            checkHeader(name, h.getValue());
            sb.append(name).append(": ").append(h.getValue()).append("\r\n");
        }
        var body = call.body();
        if (body != null || call.method().equals("POST") || call.method().equals("PUT")) {
            sb.append("Content-Length: ").append(body == null ? 0 : body.length).append("\r\n");
        }
        sb.append("\r\n");
        byte[] head = sb.toString().getBytes(StandardCharsets.UTF_8);
        if (body == null || body.length == 0) return head;
        // One write: the request leaves in as few segments as possible.
        var all = new byte[head.length + body.length];
        System.arraycopy(head, 0, all, 0, head.length);
        System.arraycopy(body, 0, all, head.length, body.length);
        return all;
    }

    private static void checkHeader(String name, String value) {
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (c <= ' ' || c == ':' || c >= 127) throw new IllegalArgumentException("invalid header name: " + name);
        }
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c == '\r' || c == '\n' || c == 0) throw new IllegalArgumentException("invalid value for header " + name);
        }
    }

    private record Head(int status, HttpHeaders headers, boolean keepAlive) {}

    private static Head readHead(Conn conn, Call call) throws IOException {
        while (true) {
            var statusLine = conn.line(MAX_LINE_BYTES);
            if (statusLine.isEmpty()) continue; // tolerated before a status line (RFC 9112 2.2)
            if (!statusLine.startsWith("HTTP/1.") || statusLine.length() < 12 || statusLine.charAt(8) != ' ') {
                throw new ProtocolException("invalid status line: " + abbreviate(statusLine));
            }
            int status;
            try {
                status = Integer.parseInt(statusLine, 9, 12, 10);
            } catch (NumberFormatException e) {
                throw new ProtocolException("invalid status line: " + abbreviate(statusLine));
            }
            var map = new TreeMap<String, List<String>>(String.CASE_INSENSITIVE_ORDER);
            int size = statusLine.length();
            String line;
            while (!(line = conn.line(MAX_LINE_BYTES)).isEmpty()) {
                size += line.length();
                if (size > MAX_HEAD_BYTES) throw new ProtocolException("response head larger than " + MAX_HEAD_BYTES + " bytes");
                int colon = line.indexOf(':');
                if (colon <= 0) throw new ProtocolException("invalid header line: " + abbreviate(line));
                map.computeIfAbsent(line.substring(0, colon).trim(), k -> new ArrayList<>(1)).add(line.substring(colon + 1).trim());
            }
            if (status >= 100 && status < 200 && status != 101) continue; // 100 Continue, 103 Early Hints
            var headers = HttpHeaders.of(map, (a, b) -> true);
            boolean http10 = statusLine.startsWith("HTTP/1.0");
            var connection = headers.firstValue("connection").orElse("").toLowerCase(java.util.Locale.ROOT);
            boolean keepAlive = http10 ? connection.contains("keep-alive") : !connection.contains("close");
            return new Head(status, headers, keepAlive);
        }
    }

    private static String abbreviate(String s) {
        return s.length() <= 80 ? s : s.substring(0, 80) + "...";
    }

    private Body body(Conn conn, Call call, Head head) throws IOException {
        var te = head.headers.firstValue("transfer-encoding").orElse(null);
        long length;
        if (call.method().equals("HEAD") || head.status == 204 || head.status == 304) {
            length = 0;
        } else if (te != null && !te.equalsIgnoreCase("identity")) {
            if (!te.toLowerCase(java.util.Locale.ROOT).endsWith("chunked")) throw new ProtocolException("unsupported transfer-encoding: " + te);
            length = Http1Body.CHUNKED;
        } else {
            var cl = head.headers.firstValue("content-length").orElse(null);
            try {
                length = cl == null ? Http1Body.UNTIL_CLOSE : Long.parseLong(cl.trim());
            } catch (NumberFormatException e) {
                throw new ProtocolException("invalid content-length: " + cl);
            }
            if (length < 0 && length != Http1Body.UNTIL_CLOSE) throw new ProtocolException("invalid content-length: " + cl);
        }
        var body = new Http1Body(conn, call, length, head.keepAlive && length != Http1Body.UNTIL_CLOSE);
        if (length == 0) body.finish();
        return body;
    }

    private static InterruptedIOException interrupted(String what, IOException cause) {
        var io = new InterruptedIOException("interrupted while " + what);
        io.initCause(cause);
        return io;
    }

    /** Milliseconds for {@link Socket#setSoTimeout}: the smaller of a timeout and what is left of the total; 0 = none. */
    private static int timeoutMillis(Duration timeout, Duration total, long deadline) throws SocketTimeoutException {
        long nanos = timeout == null ? Long.MAX_VALUE : timeout.toNanos();
        if (total != null) nanos = Math.min(nanos, deadline - System.nanoTime());
        if (nanos == Long.MAX_VALUE) return 0;
        if (nanos <= 0) throw new SocketTimeoutException();
        return (int) Math.min(Integer.MAX_VALUE, Math.max(1, (nanos + 999_999) / 1_000_000));
    }

    // ------------------------------------------------------------------ body

    /**
     * A body read straight from the connection's buffer: content-length, chunked (de-chunked as bytes arrive,
     * never waiting for a whole chunk) or until the server closes. At its end the connection goes back to the
     * pool; cancelled, it is closed.
     */
    private final class Http1Body implements Body {
        static final long CHUNKED = -1;
        static final long UNTIL_CLOSE = -2;

        private static final int OPEN = 0, ENDED = 1, CANCELLED = 2;

        private final Conn conn;
        private final Call call;
        private final boolean reusable;
        private final AtomicInteger state = new AtomicInteger(OPEN);
        private final ReentrantLock reading = new ReentrantLock();
        private long remaining;            // bytes left: of the body (fixed length) or of the current chunk
        private final boolean chunked;
        private boolean chunkTrailerPending; // the CRLF after a chunk's data is still to be read

        Http1Body(Conn conn, Call call, long length, boolean reusable) {
            this.conn = conn;
            this.call = call;
            this.reusable = reusable;
            this.chunked = length == CHUNKED;
            this.remaining = chunked ? 0 : length;
        }

        /** The body is complete: the connection is reused or closed. */
        void finish() {
            if (state.compareAndSet(OPEN, ENDED)) {
                if (reusable && conn.pos == conn.lim) recycle(conn);
                else conn.close(); // bytes beyond the body, or a framing that ends with the connection
            }
        }

        @Override
        public boolean read(Consumer<ByteBuffer> sink) throws IOException {
            reading.lock();
            try {
                if (state.get() == ENDED) return false;
                if (state.get() == CANCELLED) throw new IOException("stream closed");
                try {
                    conn.timeout(timeoutMillis(call.idle(), call.total(), call.deadline()));
                    if (!step(sink, true)) return false;
                    // Everything already received goes out in this one read, across chunk boundaries: a
                    // reader that relays events can then tell what arrived together and write it together.
                    while (state.get() == OPEN && conn.pos < conn.lim && advanced(sink)) {
                        // until the buffer is used up or only a partial line is left
                    }
                    return true;
                } catch (SocketTimeoutException e) {
                    cancel();
                    throw StreamTimeoutException.expired(StreamTimeoutException.Kind.IDLE, call.idle(), call.total(), call.deadline());
                } catch (IOException e) {
                    boolean wasCancelled = state.get() == CANCELLED;
                    cancel();
                    if (Thread.currentThread().isInterrupted()) throw interrupted("reading the response body", e);
                    if (wasCancelled) throw new IOException("stream closed");
                    throw e;
                }
            } finally {
                reading.unlock();
            }
        }

        /**
         * Hands out at least one byte of body or reaches its end; blocks on the socket only when {@code block}.
         * Returns true when bytes were handed out (or, not blocking, when the body may go on), false at the end.
         */
        private boolean step(Consumer<ByteBuffer> sink, boolean block) throws IOException {
            while (true) {
                if (!chunked) {
                    if (remaining == 0) {
                        finish();
                        return false;
                    }
                    if (conn.pos == conn.lim && !fillOrEnd(block)) return state.get() == OPEN;
                    if (state.get() != OPEN) return false;
                    int n = (int) (remaining == UNTIL_CLOSE ? conn.lim - conn.pos : Math.min(remaining, conn.lim - conn.pos));
                    deliver(sink, n);
                    if (remaining != UNTIL_CLOSE) remaining -= n;
                    if (remaining == 0) finish();
                    return true;
                }
                // Chunked: chunk-size line, data, CRLF ... "0" line, trailers, empty line.
                if (remaining > 0) {
                    if (conn.pos == conn.lim && !fillOrEnd(block)) return true;
                    int n = (int) Math.min(remaining, conn.lim - conn.pos);
                    deliver(sink, n);
                    remaining -= n;
                    if (remaining == 0) chunkTrailerPending = true;
                    return true;
                }
                if (!block && !lineAvailable()) return true;
                if (chunkTrailerPending) {
                    if (!conn.line(MAX_LINE_BYTES).isEmpty()) throw new ProtocolException("chunk not followed by CRLF");
                    chunkTrailerPending = false;
                    continue;
                }
                var sizeLine = conn.line(MAX_LINE_BYTES);
                int semi = sizeLine.indexOf(';');
                long size;
                try {
                    size = Long.parseLong((semi >= 0 ? sizeLine.substring(0, semi) : sizeLine).trim(), 16);
                } catch (NumberFormatException e) {
                    throw new ProtocolException("invalid chunk size: " + abbreviate(sizeLine));
                }
                if (size < 0) throw new ProtocolException("invalid chunk size: " + abbreviate(sizeLine));
                if (size == 0) {
                    // Trailers, if any, then the empty line that ends the body.
                    while (true) {
                        if (!block && !lineAvailable()) return true;
                        if (conn.line(MAX_LINE_BYTES).isEmpty()) break;
                    }
                    finish();
                    return false;
                }
                remaining = size;
            }
        }

        private boolean lineAvailable() throws IOException {
            for (int i = conn.pos; i < conn.lim; i++) if (conn.buf[i] == '\n') return true;
            return fillIfAvailable() && lineAvailable();
        }

        /** Reads without blocking when the socket has bytes ready; false when it has none. */
        private boolean fillIfAvailable() throws IOException {
            if (conn.in.available() <= 0 || conn.lim - conn.pos == conn.buf.length) return false;
            return conn.fill() > 0;
        }

        /** Fills the buffer; false when no byte came (not blocking and none ready, or the server closed). */
        private boolean fillOrEnd(boolean block) throws IOException {
            if (!block) return fillIfAvailable();
            if (conn.fill() >= 0) return true;
            if (!chunked && remaining == UNTIL_CLOSE) {
                finish();
                return false;
            }
            throw new IOException("the server closed the connection before the response body ended");
        }

        private void deliver(Consumer<ByteBuffer> sink, int n) {
            var slice = ByteBuffer.wrap(conn.buf, conn.pos, n);
            conn.pos += n;
            if (sink != null) sink.accept(slice);
        }

        /** One non-blocking step; false when it ended the body or could make no progress. */
        private boolean advanced(Consumer<ByteBuffer> sink) throws IOException {
            int pos = conn.pos, lim = conn.lim;
            long rem = remaining;
            boolean trailer = chunkTrailerPending;
            if (!step(sink, false)) return false;
            return conn.pos != pos || conn.lim != lim || remaining != rem || chunkTrailerPending != trailer;
        }

        @Override
        public boolean drainAvailable() {
            if (!reading.tryLock()) return false;
            try {
                while (state.get() == OPEN && advanced(null)) {
                    // dropping what has arrived
                }
                return state.get() == ENDED;
            } catch (IOException e) {
                cancel();
                return false;
            } finally {
                reading.unlock();
            }
        }

        @Override
        public void cancel() {
            if (state.compareAndSet(OPEN, CANCELLED)) conn.close();
        }

        @Override
        public void release(Duration grace) {
            if (state.get() != OPEN || drainAvailable()) return;
            Thread.ofVirtual().name("sluice-body-release").start(() -> {
                reading.lock();
                try {
                    conn.timeout((int) Math.max(1, grace.toMillis()));
                    while (state.get() == OPEN && step(null, true)) {
                        // dropping the rest until the end
                    }
                } catch (IOException e) {
                    cancel();
                } finally {
                    reading.unlock();
                }
            });
        }
    }
}
