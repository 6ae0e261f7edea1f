package dev.sluice.gateway.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Bounds how long a client may take to send a request, and how long a kept-alive connection may sit idle
 * between requests (slowloris: without these a connection that trickles a request, or sends nothing, is held
 * forever). First in the pipeline, so it sees raw bytes: a request has started with its first byte, before
 * the codec has a whole head to show. Netty's Read/IdleStateHandler do not fit: they would also cut a long
 * SSE answer or a slow upstream, during which the client rightly sends nothing. Here no timer runs while a
 * request is being answered.
 *
 * <ul>
 *   <li>request: from a request's first byte to its last, at most {@code request}; past it a 408 and close
 *       (nginx's client_header_timeout and client_body_timeout, 60 s, as one bound).</li>
 *   <li>idle: a connection with no request in progress nor being answered is closed, without an answer, after
 *       {@code idle} (after {@code request} for a new connection that has not sent a byte yet, as nginx).</li>
 * </ul>
 * A zero duration turns that bound off. Event loop only.
 *
 * <p>One timer per connection, which looks at the connection's state when it fires: a request and its answer
 * only update fields. Scheduling and cancelling a loop timer at each request's first byte, last byte and answer
 * would be four priority-queue operations per request on the path every request takes. The timer sleeps at most
 * the shorter bound, so a deadline set after it was armed is never earlier than it fires.
 */
final class RequestTimeouts extends ChannelInboundHandlerAdapter {

    private final long requestNanos;
    private final long idleNanos;
    /** The longest the timer sleeps: the shorter of the bounds that are on. */
    private final long tickNanos;
    private ChannelHandlerContext ctx;
    private ScheduledFuture<?> timer;
    /** Bytes of a request not yet complete have arrived. */
    private boolean partial;
    /** No byte has arrived on this connection yet. */
    private boolean fresh = true;
    private long requestStarted;
    private long idleSince;
    /** Requests received whole and not yet answered. */
    private int inFlight;

    RequestTimeouts(Duration request, Duration idle) {
        this.requestNanos = request.toNanos();
        this.idleNanos = idle.toNanos();
        this.tickNanos = requestNanos == 0 ? idleNanos : idleNanos == 0 ? requestNanos : Math.min(requestNanos, idleNanos);
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        this.ctx = ctx;
        idleSince = System.nanoTime();
        ensureTimer();
        super.channelActive(ctx);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        if (!partial && msg instanceof ByteBuf bytes && bytes.isReadable()) {
            partial = true;
            fresh = false;
            requestStarted = System.nanoTime();
            ensureTimer();
        }
        super.channelRead(ctx, msg);
    }

    /** A whole request has been received (the aggregator passed it on). */
    void requestReceived() {
        partial = false;
        inFlight++;
    }

    /** A response is complete. */
    void responseDone() {
        if (inFlight > 0) inFlight--;
        if (inFlight > 0 || ctx == null) return;
        idleSince = System.nanoTime();
        ensureTimer();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
        super.channelInactive(ctx);
    }

    /**
     * When the connection's current bound runs out, or 0 when none runs: while a request is answered (a pipelined
     * one's clock starts then, but waits for the answer), a request being received (request), and between requests
     * (idle; a new connection that has not sent a byte gets the request bound, as nginx does).
     */
    private long deadline() {
        if (inFlight > 0) return 0;
        if (partial) return requestNanos == 0 ? 0 : requestStarted + requestNanos;
        long bound = fresh && requestNanos > 0 ? requestNanos : idleNanos;
        return bound == 0 ? 0 : idleSince + bound;
    }

    /** Arms the timer unless one is pending (it looks again when it fires) or no bound runs. */
    private void ensureTimer() {
        if (timer != null) return;
        long deadline = deadline();
        if (deadline == 0) return;
        timer = ctx.executor().schedule(this::check, Math.max(0, Math.min(deadline - System.nanoTime(), tickNanos)), TimeUnit.NANOSECONDS);
    }

    private void check() {
        timer = null;
        long deadline = deadline();
        // An answer in progress (responseDone() arms it again), or the connection is closing (LingeringClose removed this).
        if (deadline == 0 || !ctx.channel().isActive() || ctx.isRemoved()) return;
        if (deadline - System.nanoTime() > 0) {
            ensureTimer();
        } else if (partial) {
            requestExpired();
        } else {
            ctx.close();
        }
    }

    private void requestExpired() {
        var limit = Duration.ofNanos(requestNanos);
        var error = new ApiError(408, "The request was not received in time: the limit is "
                + (limit.toMillis() % 1000 == 0 ? limit.toSeconds() + " s" : limit.toMillis() + " ms") + " from its first byte to its last.", "invalid_request_error", null, "request_timeout", null);
        // From the pipeline's tail, through the HTTP encoder (this handler sits below it).
        LingeringClose.answerAndClose(ctx.channel(), HttpServer.closingError(error));
    }
}
