package dev.sluice.gateway.upstream;

import dev.sluice.client.StreamTimeoutException;
import dev.sluice.client.StreamTimeoutException.Kind;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.net.ConnectException;
import java.net.ProtocolException;
import java.net.InetAddress;
import java.time.Duration;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;

/**
 * One request/response exchange. Every field is confined to {@link #loop}; {@link #cancel()} and
 * {@link #setAutoRead(boolean)} from other threads hop onto it. {@link #done} is the single gate in front of
 * every listener call, so whatever ends the exchange first (end, failure, timeout, cancel) is the only outcome.
 */
final class Exchange implements UpstreamHttp.Call {

    private static final System.Logger LOG = System.getLogger(Exchange.class.getName());

    private final UpstreamHttp client;
    private final EventLoop loop;
    private final Class<? extends Channel> channelClass;
    private final UpstreamHttp.Target target;
    private final UpstreamHttp.Request request;
    private final UpstreamHttp.Listener listener;
    private final RequestHead requestHead;
    private final long sentNanos = System.nanoTime();
    private final long idleNanos;
    private final Runnable timerCheck = this::checkTimer;

    private boolean done;
    /** True while {@link #start} runs inside {@code send} on the loop: a listener call then waits for a task of its own. */
    private boolean startingInline;
    private boolean cancelled;
    private boolean retried;
    private boolean paused;

    // Connection setup in progress (resolve, TCP, TLS), at most one.
    private Connection connecting;
    private Channel connectingChannel;
    private ScheduledFuture<?> setupTimer;

    // The current attempt.
    private Connection conn;
    private boolean reused;
    private boolean sawBytes;
    private boolean written;
    private boolean headSeen;
    private boolean keepAlive;
    private boolean contentSinceReadComplete;
    private long lastReadNanos;

    /**
     * The one timer of the exchange's bounds (first byte, idle, total), due at {@link #timerDue} or before any of
     * them: when it fires it times out what has run out, or is armed again for what is left. One loop timer per
     * request instead of one per bound, each scheduled and cancelled again on the path every request takes.
     */
    private ScheduledFuture<?> timer;
    private long timerDue;

    Exchange(UpstreamHttp client, EventLoop loop, Class<? extends Channel> channelClass, UpstreamHttp.Target target,
             UpstreamHttp.Request request, UpstreamHttp.Listener listener) {
        if (listener == null) throw new IllegalArgumentException("listener is null");
        this.client = client;
        this.loop = loop;
        this.channelClass = channelClass;
        this.target = target;
        this.request = request;
        this.listener = listener;
        positive(request.firstByte(), "firstByte");
        positive(request.idle(), "idle");
        positive(request.total(), "total");
        this.idleNanos = request.idle() == null ? 0 : nanos(request.idle());
        if (request.method() == null || request.method().isEmpty()) throw new IllegalArgumentException("no method");
        this.requestHead = client.head(request, target).withLength(request.body() == null ? null : request.body().length);
    }

    // ---- lifecycle -------------------------------------------------------------------------------------

    /**
     * Starts at once, from {@code send} on this exchange's loop: the request goes out in this loop turn instead
     * of in a task queued behind the rest of the turn's reads. A failure found on the way is told to the
     * listener in a task, after {@code send} has returned.
     */
    void startInline() {
        startingInline = true;
        try {
            start();
        } finally {
            startingInline = false;
        }
    }

    void start() {
        if (done) return;
        armTimer();
        var pooled = client.pool(loop).checkout(target);
        if (pooled != null) {
            use(pooled, true);
        } else {
            connect();
        }
    }

    private void connect() {
        var c = new Connection(target, client.ssl, client.pool(loop));
        connecting = c;
        setupTimer = schedule(TimeUnit.MILLISECONDS.toNanos(client.connectTimeoutMillis), () -> setupFailed(c,
                new ConnectTimeoutException("could not connect to " + where() + " within " + client.connectTimeoutMillis + " ms")));
        UpstreamHttp.resolve(loop, target.host()).addListener(resolved -> {
            if (connecting != c) return;
            if (!resolved.isSuccess()) {
                setupFailed(c, connectException("cannot resolve upstream host " + target.host(), resolved.cause()));
                return;
            }
            var future = client.connect(loop, channelClass, c, (InetAddress) resolved.getNow());
            connectingChannel = future.channel();
            future.addListener((ChannelFuture f) -> {
                if (connecting != c) {
                    f.channel().close();
                } else if (!f.isSuccess()) {
                    setupFailed(c, f.cause() instanceof ConnectException ce ? ce : connectException("could not connect to " + where(), f.cause()));
                } else if (c.sslHandler() == null) {
                    connected(c);
                } else {
                    c.sslHandler().handshakeFuture().addListener(handshake -> {
                        if (connecting != c) return;
                        if (handshake.isSuccess()) {
                            connected(c);
                        } else {
                            setupFailed(c, tlsFailure(handshake.cause()));
                        }
                    });
                }
            });
        });
    }

    private void connected(Connection c) {
        connecting = null;
        connectingChannel = null;
        cancel(setupTimer);
        use(c, false);
    }

    private void setupFailed(Connection c, IOException cause) {
        if (connecting != c) return;
        finish(cause);
    }

    private void abandonSetup() {
        if (connecting == null) return;
        connecting = null;
        cancel(setupTimer);
        if (connectingChannel != null) connectingChannel.close();
        connectingChannel = null;
    }

    private void use(Connection c, boolean reused) {
        conn = c;
        this.reused = reused;
        sawBytes = written = headSeen = keepAlive = contentSinceReadComplete = false;
        c.bind(this, request.method().equals("HEAD"));
        if (paused) c.channel().config().setAutoRead(false);
        var req = request.body() == null ? Unpooled.wrappedBuffer(requestHead.bytes())
                : Unpooled.wrappedBuffer(requestHead.bytes(), request.body());
        c.channel().writeAndFlush(req).addListener(f -> {
            if (conn != c) return;
            if (f.isSuccess()) {
                written = true;
            } else {
                onFailure(c, f.cause());
            }
        });
    }

    // ---- events from the connection ------------------------------------------------------------------

    void onBytes() {
        sawBytes = true;
        lastReadNanos = System.nanoTime();
    }

    /** False when the exchange is over (or cancelled from the listener). */
    boolean onHead(Connection c, HttpResponse head) {
        if (conn != c || done) return false;
        var status = head.status().code();
        if (status < 200) {
            if (status == 101) {
                onFailure(c, new ProtocolException("it switched protocols (101) without being asked to"));
                return false;
            }
            return true; // informational: the final head comes after
        }
        headSeen = true;
        keepAlive = requestHead.keepAlive() && dev.sluice.gateway.http.Exchange.keepAlive(head);
        if (request.idle() != null) {
            lastReadNanos = System.nanoTime();
            armTimer(); // due no later than the idle bound already, unless an answer took longer than it to begin
        }
        try {
            listener.onHead(status, head.headers());
        } catch (RuntimeException e) {
            listenerFailed("onHead", e);
        }
        return !done;
    }

    /** False when the exchange is over (or cancelled from the listener). */
    boolean onContent(Connection c, ByteBuf content) {
        if (conn != c || done) return false;
        if (!content.isReadable()) return true;
        contentSinceReadComplete = true;
        try {
            listener.onContent(content);
        } catch (RuntimeException e) {
            listenerFailed("onContent", e);
        }
        return !done;
    }

    void onBodyEnd(Connection c) {
        if (conn != c || done) return;
        end(c);
    }

    void onMalformed(Connection c, String message) {
        onFailure(c, new ProtocolException(message));
    }

    void onReadComplete(Connection c) {
        if (conn != c || done || !contentSinceReadComplete) return;
        contentSinceReadComplete = false;
        try {
            listener.onReadComplete();
        } catch (RuntimeException e) {
            listenerFailed("onReadComplete", e);
        }
    }

    void onClosed(Connection c) {
        onFailure(c, new IOException("the connection closed before " + (headSeen ? "the response ended" : "any response")));
    }

    /**
     * The connection failed. A reused connection that failed before a single response byte is the keep-alive
     * race (the server closed it as idle while the request was on its way): the request cannot have been
     * processed, so it goes once more on a fresh connection.
     */
    void onFailure(Connection c, Throwable cause) {
        if (conn != c || done) return;
        conn = null;
        c.close();
        if (reused && !sawBytes && !retried) {
            retried = true;
            connect();
            return;
        }
        finish(cause instanceof IOException io ? io
                : new IOException("connection failed: " + cause, cause));
    }

    private void end(Connection c) {
        done = true;
        cancelTimers();
        conn = null;
        // Pooled before onEnd, so a follow-up sent from onEnd can reuse it (send always starts in a later task,
        // after anything left in this read was seen and made the connection unusable).
        if (keepAlive && written && c.isActive() && !client.isClosed()) {
            if (paused) c.channel().config().setAutoRead(true); // a pooled connection must notice the server closing it
            client.pool(loop).release(c);
        } else {
            c.close();
        }
        try {
            listener.onEnd();
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "upstream response listener failed in onEnd", e);
        }
    }

    private void finish(IOException cause) {
        if (!stop()) return;
        if (startingInline) {
            // The caller does not hold the Call yet; one that cancels before this task runs hears nothing, as before.
            loop.execute(() -> {
                if (!cancelled) tellError(cause);
            });
            return;
        }
        tellError(cause);
    }

    private void tellError(IOException cause) {
        try {
            listener.onError(cause);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "upstream response listener failed in onError", e);
        }
    }

    private void listenerFailed(String callback, RuntimeException e) {
        finish(new IOException("upstream response listener failed in " + callback + ": " + e, e));
    }

    // ---- timers -----------------------------------------------------------------------------------------

    private void timeout(Kind kind, Duration duration) {
        finish(new StreamTimeoutException(kind, duration));
    }

    private static final long NONE = Long.MAX_VALUE;

    /**
     * When the first bound that can still run out does, as a {@code System.nanoTime()}, or {@link #NONE}. Before
     * the head, the idle bound's earliest possible end (send time + idle) counts too, so that the timer armed at
     * the start is due before any bound and the head needs no new one.
     */
    private long nextDeadline(long now) {
        long next = Math.min(firstByteDeadline(), Math.min(totalDeadline(), idleDeadline()));
        if (!headSeen && request.idle() != null && sentNanos + idleNanos - now > 0) {
            next = Math.min(next, sentNanos + idleNanos); // only a hint: once past, nothing runs out then
        }
        return next;
    }

    /**
     * Until the head. A first-byte bound no shorter than the total (a whole answer's head comes only when it is
     * complete) is the total's: the total is the limit that was hit.
     */
    private long firstByteDeadline() {
        var firstByte = request.firstByte();
        var total = request.total();
        if (headSeen || firstByte == null || (total != null && firstByte.compareTo(total) >= 0)) return NONE;
        return sentNanos + nanos(firstByte);
    }

    private long totalDeadline() {
        return request.total() == null ? NONE : sentNanos + nanos(request.total());
    }

    /** From the head on; not while reads are held back: that silence is the caller's, not the upstream's. */
    private long idleDeadline() {
        return !headSeen || request.idle() == null || paused ? NONE : lastReadNanos + idleNanos;
    }

    /** Arms the timer for the next deadline, unless it is due by then already (it then looks again when it fires). */
    private void armTimer() {
        if (done) return;
        long now = System.nanoTime();
        long next = nextDeadline(now);
        if (next == NONE || (timer != null && timerDue - next <= 0)) return;
        cancel(timer);
        timerDue = next;
        timer = schedule(Math.max(0, next - now), timerCheck);
    }

    private void checkTimer() {
        timer = null;
        if (done) return;
        long now = System.nanoTime();
        if (passed(firstByteDeadline(), now)) {
            timeout(Kind.FIRST_BYTE, request.firstByte());
        } else if (passed(totalDeadline(), now)) {
            timeout(Kind.TOTAL, request.total());
        } else if (passed(idleDeadline(), now)) {
            timeout(Kind.IDLE, request.idle());
        } else {
            armTimer();
        }
    }

    private static boolean passed(long deadline, long now) {
        return deadline != NONE && now - deadline >= 0;
    }

    private void cancelTimers() {
        cancel(timer);
        timer = null;
    }

    private ScheduledFuture<?> schedule(long nanos, Runnable task) {
        return loop.schedule(task, nanos, TimeUnit.NANOSECONDS);
    }

    private static void cancel(ScheduledFuture<?> timer) {
        if (timer != null) timer.cancel(false);
    }

    // ---- Call -------------------------------------------------------------------------------------------

    @Override
    public void cancel() {
        onLoop(this::cancelNow);
    }

    private void cancelNow() {
        cancelled = true;
        stop();
    }

    /** Ends the exchange without a word to the listener: timers, setup and connection go. False if it had ended. */
    private boolean stop() {
        if (done) return false;
        done = true;
        cancelTimers();
        abandonSetup();
        if (conn != null) {
            conn.close();
            conn = null;
        }
        return true;
    }

    @Override
    public void setAutoRead(boolean read) {
        onLoop(() -> {
            paused = !read;
            if (done || conn == null) return;
            if (read) {
                lastReadNanos = System.nanoTime();
                armTimer(); // the idle bound counts again from now
            }
            // Netty issues the read() itself when autoRead goes from false to true.
            conn.channel().config().setAutoRead(read);
        });
    }

    private void onLoop(Runnable task) {
        if (loop.inEventLoop()) {
            task.run();
            return;
        }
        try {
            loop.execute(task);
        } catch (RejectedExecutionException shutDown) {
            // The loop is gone and its channels with it: nothing left to stop.
        }
    }

    // ---- helpers ----------------------------------------------------------------------------------------

    private String where() {
        return target.host() + ":" + target.port();
    }

    private static ConnectException connectException(String message, Throwable cause) {
        var e = new ConnectException(message + (cause == null ? "" : ": " + cause.getMessage()));
        e.initCause(cause);
        return e;
    }

    private IOException tlsFailure(Throwable cause) {
        if (cause instanceof SSLException ssl) return ssl;
        var e = new SSLHandshakeException("TLS handshake with " + where() + " failed: " + cause);
        e.initCause(cause);
        return e;
    }

    private static void positive(Duration d, String name) {
        if (d != null && (d.isNegative() || d.isZero())) throw new IllegalArgumentException(name + " timeout must be positive: " + d);
    }

    private static long nanos(Duration d) {
        try {
            return d.toNanos();
        } catch (ArithmeticException tooLong) {
            return Long.MAX_VALUE / 2;
        }
    }
}
