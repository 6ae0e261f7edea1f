package dev.sluice.gateway.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFutureListener;
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
 */
final class RequestTimeouts extends ChannelInboundHandlerAdapter {

    private final long requestNanos;
    private final long idleNanos;
    private ChannelHandlerContext ctx;
    private ScheduledFuture<?> timer;
    /** Bytes of a request not yet complete have arrived. */
    private boolean partial;
    private long requestStarted;
    /** Requests received whole and not yet answered. */
    private int inFlight;

    RequestTimeouts(Duration request, Duration idle) {
        this.requestNanos = request.toNanos();
        this.idleNanos = idle.toNanos();
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        this.ctx = ctx;
        arm(requestNanos > 0 ? requestNanos : idleNanos, this::idleExpired);
        super.channelActive(ctx);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        if (!partial && msg instanceof ByteBuf bytes && bytes.isReadable()) {
            partial = true;
            requestStarted = System.nanoTime();
            // While an answer is in progress (a pipelined request) the clock starts, the timer waits for the answer.
            if (inFlight == 0 && requestNanos > 0) arm(requestNanos, this::requestExpired);
            else cancel(); // the idle timer, when one runs
        }
        super.channelRead(ctx, msg);
    }

    /** A whole request has been received (the aggregator passed it on). */
    void requestReceived() {
        partial = false;
        inFlight++;
        cancel();
    }

    /** A response is complete. */
    void responseDone() {
        if (inFlight > 0) inFlight--;
        if (inFlight > 0 || ctx == null) return;
        if (!partial) arm(idleNanos, this::idleExpired);
        else if (requestNanos > 0) arm(Math.max(1, requestNanos - (System.nanoTime() - requestStarted)), this::requestExpired);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        cancel();
        super.channelInactive(ctx);
    }

    private void idleExpired() {
        if (inFlight == 0 && !partial) ctx.close();
    }

    private void requestExpired() {
        if (inFlight > 0 || !partial || !ctx.channel().isActive()) return;
        var limit = Duration.ofNanos(requestNanos);
        var error = new ApiError(408, "The request was not received in time: the limit is "
                + (limit.toMillis() % 1000 == 0 ? limit.toSeconds() + " s" : limit.toMillis() + " ms") + " from its first byte to its last.", "invalid_request_error", null, "request_timeout", null);
        // From the pipeline's tail, through the HTTP encoder (this handler sits below it).
        ctx.channel().writeAndFlush(HttpServer.closingError(error)).addListener(ChannelFutureListener.CLOSE);
    }

    /** Replaces the running timer, if any; a bound configured as zero (off) arms none. */
    private void arm(long nanos, Runnable action) {
        cancel();
        if (nanos == 0) return;
        timer = ctx.executor().schedule(action, nanos, TimeUnit.NANOSECONDS);
    }

    private void cancel() {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }
}
