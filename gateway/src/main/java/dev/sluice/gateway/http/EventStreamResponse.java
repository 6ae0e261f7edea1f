package dev.sluice.gateway.http;

import dev.sluice.wire.sse.SseWriter;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.concurrent.FastThreadLocal;
import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An open {@code text/event-stream} response. Each {@link #send} is flushed at once; {@link #queue} collects
 * frames until {@link #flush}, so everything decoded from one upstream read leaves in one write and one
 * event-loop wake-up instead of one per frame. When the client reads slower than events come, writing
 * blocks (the caller's virtual thread, and through it the upstream read) instead of buffering. During
 * silence a keep-alive comment goes out every interval. One thread writes.
 *
 * <p>Each hand-off to the event loop costs a wake-up of its thread when it sleeps, so the start (head and
 * keep-alive timer) and the end (timer cancelled, last frames, connection handed back) are one task each.
 *
 * <p>A batch is framed as an HTTP chunk here, in room kept in front of its first frame, and written below the
 * HTTP encoder: the encoder would add the chunk's size line and CRLF as two more buffers and, for a write with a
 * promise, combine three promises into it, for every chunk of every stream. The bytes on the wire are the ones
 * the encoder writes (lower-case hex size, CRLF, data, CRLF). The head, keep-alive comments and the end of the
 * body still go through the encoder, which keeps its chunked state. Writes nothing waits on carry a void
 * promise (a failed one still closes the connection, through exceptionCaught).
 */
public final class EventStreamResponse {

    private static final byte[] KEEP_ALIVE = SseWriter.comment("keep-alive");
    /** Room for a chunk-size line in front of a batch: 8 hex digits (any int) and CRLF. */
    private static final int SIZE_LINE = 10;
    private static final byte[] HEX = "0123456789abcdef".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

    private final Channel channel;
    private final HttpResponse head;
    /**
     * Whether the head may still be withdrawn ({@link #discard}): a deferred head waits for the first frame or
     * keep-alive, so that an answer failing before either can still be an HTTP error status. Set by whichever
     * thread commits first; {@link #headWritten} says whether the loop has written it yet.
     */
    private final AtomicInteger headState;
    private static final int PENDING = 0, COMMITTED = 1, DISCARDED = 2;
    private boolean headWritten; // on the event loop only
    /** Whether a thread off the loop has queued the head's write (one task, not one per flush). */
    private final AtomicBoolean headQueued;
    /** Where a framed chunk enters the pipeline: writes from here skip the HTTP encoder. */
    private final ChannelHandlerContext belowEncoder;
    private final ChannelState state;
    private final boolean keepAliveConnection;
    /** Batches are framed as HTTP chunks here; false for a close-delimited body, whose bytes go as they are. */
    private final boolean chunked;
    private final Runnable onDone;
    private volatile ScheduledFuture<?> keepAliveTask; // set and cancelled on the event loop
    private final long intervalNanos;
    private volatile long lastWriteNanos = System.nanoTime();
    private volatile boolean ended;
    /** Frames queued since the last write; null while none are. Written as it is, so the bytes are copied once. */
    private ByteBuf batch;

    /** A batch this large is written without waiting for {@link #flush}: the client gets bytes early, memory stays bounded. */
    private static final int MAX_BATCH = 32 * 1024;

    /**
     * One empty batch buffer per event loop, back from the socket, for the next batch of any stream on that loop.
     * Taking a pooled buffer for every write and freeing it into Netty's per-thread cache was about 5% of the
     * event loops' user time at paced c=64 (docs/benchmarks.md); a buffer kept per stream instead would cost
     * memory for every idle stream.
     */
    private static final FastThreadLocal<ByteBuf> SPARE = new FastThreadLocal<>() {
        @Override
        protected void onRemoval(ByteBuf spare) {
            if (spare != null) spare.release();
        }
    };
    /** A batch buffer grown larger than this goes back to the pool rather than to {@link #SPARE}. */
    private static final int MAX_SPARE = 64 * 1024;

    EventStreamResponse(Channel channel, ChannelState state, HttpResponse head, Duration keepAlive, boolean keepAliveConnection, Runnable onDone) {
        this(channel, state, head, keepAlive, keepAliveConnection, onDone, false, false, true);
    }

    /**
     * {@code deferHead}: the head waits for the first frames or keep-alive ({@link #discard} may withdraw it until then).
     * {@code headOnly}: the answer to a HEAD, ended once its head is written; every send reports the stream closed.
     * {@code chunked} false: the body is delimited by closing the connection (HTTP/1.0), batches leave unframed.
     */
    EventStreamResponse(Channel channel, ChannelState state, HttpResponse head, Duration keepAlive, boolean keepAliveConnection, Runnable onDone,
            boolean deferHead, boolean headOnly, boolean chunked) {
        this.chunked = chunked;
        this.channel = channel;
        this.head = head;
        boolean eager = !deferHead || headOnly;
        this.headState = new AtomicInteger(eager ? COMMITTED : PENDING);
        this.headQueued = new AtomicBoolean(eager); // the constructor's task writes an eager head
        // Null only when the connection is already gone (its pipeline emptied): then nothing is written anyway.
        this.belowEncoder = channel.pipeline().context(ServerCodec.class);
        this.state = state;
        this.keepAliveConnection = keepAliveConnection;
        this.onDone = onDone;
        long interval = Math.max(1, keepAlive.toMillis());
        this.intervalNanos = TimeUnit.MILLISECONDS.toNanos(interval);
        if (headOnly) {
            ended = true;
            state.clearCloseActions();
            Exchange.onEventLoop(channel, () -> {
                channel.write(head, channel.voidPromise());
                Exchange.writeLast(channel, LastHttpContent.EMPTY_LAST_CONTENT, keepAliveConnection);
                onDone.run();
            });
            return;
        }
        Exchange.onEventLoop(channel, () -> {
            if (!deferHead) {
                writeHead();
                channel.flush();
            }
            // A client gone before this ran needs no timer (channelInactive has run, or runs after this and cancels it).
            if (channel.isActive() && !ended) {
                keepAliveTask = channel.eventLoop().scheduleAtFixedRate(this::keepAlive, interval, interval, TimeUnit.MILLISECONDS);
            }
        });
        state.onClose(this::cancelKeepAlive);
    }

    /** True once the head is (or is about to be) the response's: false if it was discarded. */
    private boolean commit() {
        // Every flush asks: a plain read answers all but the first, without a compare-and-set each time.
        int state = headState.get();
        return state == COMMITTED || (state == PENDING && (headState.compareAndSet(PENDING, COMMITTED) || headState.get() == COMMITTED));
    }

    // On the event loop only: the head goes out before anything else, once.
    private void writeHead() {
        if (headWritten) return;
        headWritten = true;
        channel.write(head, channel.voidPromise());
    }

    /**
     * Withdraws a deferred head while nothing at all was written to this stream (no frame queued, no keep-alive
     * due): the response is then not this stream's, and the exchange may answer otherwise. Whether an answer
     * that started becomes an error status must not depend on how the upstream's bytes fell into reads, so once
     * anything was queued this is false, as it is once the head is committed.
     */
    boolean discard() {
        if (batch != null || !headState.compareAndSet(PENDING, DISCARDED)) return false;
        ended = true;
        Exchange.onEventLoop(channel, this::cancelKeepAlive);
        return true;
    }

    // On the event loop only.
    private void cancelKeepAlive() {
        var task = keepAliveTask;
        if (task != null) task.cancel(false);
    }

    // Runs on the event loop, so it never interleaves with a frame being written.
    private void keepAlive() {
        if (ended || !channel.isActive()) {
            cancelKeepAlive();
            return;
        }
        if (System.nanoTime() - lastWriteNanos >= intervalNanos - TimeUnit.MILLISECONDS.toNanos(5)) {
            // A head still deferred is committed now: the client (and any proxy between) must see bytes.
            if (!commit()) {
                cancelKeepAlive();
                return;
            }
            lastWriteNanos = System.nanoTime();
            writeHead();
            channel.writeAndFlush(new DefaultHttpContent(Unpooled.wrappedBuffer(KEEP_ALIVE)), channel.voidPromise());
        }
    }

    /** Sends one frame (and whatever was queued). Returns false if the client is gone (the caller should stop and cancel upstream). */
    public boolean send(byte[] frame) {
        return queue(frame) && flush();
    }

    /** Adds a frame to the batch that the next {@link #flush} sends. Returns false if the client is gone. */
    public boolean queue(byte[] frame) {
        return queue(frame, 0, frame.length);
    }

    /** Adds bytes (a frame, or a piece of one) to the batch that the next {@link #flush} sends. Returns false if the client is gone. */
    public boolean queue(byte[] bytes, int offset, int length) {
        if (ended) return false;
        if (batch == null) {
            // On the loop, straight into a socket buffer (the loop's spare, or a pooled one); elsewhere a heap buffer
            // (pools cache per thread, and virtual threads are many).
            if (channel.eventLoop().inEventLoop()) {
                var spare = SPARE.get();
                if (spare != null) SPARE.set(null);
                batch = spare != null ? spare.clear() : channel.alloc().ioBuffer(4096);
            } else {
                batch = Unpooled.buffer(4096);
            }
            batch.writerIndex(SIZE_LINE).readerIndex(SIZE_LINE);
        }
        batch.writeBytes(bytes, offset, length);
        return batch.readableBytes() < MAX_BATCH || flush();
    }

    /** Writes the queued frames. Returns false if the client is gone. */
    public boolean flush() {
        if (ended) return false;
        if (batch == null) return channel.isActive();
        boolean onLoop = channel.eventLoop().inEventLoop();
        // On the event loop nothing may wait: a relay there stops reading its upstream instead (Exchange.whenWritable).
        if (!onLoop && !state.awaitWritable()) return false;
        if (!channel.isActive() || belowEncoder == null) return false;
        lastWriteNanos = System.nanoTime();
        var chunk = takeBatch();
        if (!chunk.isReadable()) {
            // An empty chunk would end the body.
            chunk.release();
            return true;
        }
        if (!commit()) {
            chunk.release();
            return false;
        }
        if (!onLoop) {
            // Tasks run in order on the loop: the head (when it is still to go) before this chunk.
            if (headQueued.compareAndSet(false, true)) Exchange.onEventLoop(channel, this::writeHead);
            belowEncoder.writeAndFlush(chunked ? framed(chunk) : chunk, channel.voidPromise());
            return true;
        }
        writeHead(); // the head and the first frames leave in one write
        // On the loop the write runs now: if the socket takes it all, Netty releases its reference before this
        // returns and ours is the only one left, so the buffer can carry the loop's next batch. If it is still
        // queued (the client reads slowly), it is Netty's to free.
        belowEncoder.writeAndFlush(chunked ? framed(chunk.retain()) : chunk.retain(), channel.voidPromise());
        if (chunk.refCnt() == 1 && chunk.capacity() <= MAX_SPARE && SPARE.get() == null) {
            SPARE.set(chunk);
        } else {
            chunk.release();
        }
        return true;
    }

    /** Frames the frames of {@code batch} as one HTTP chunk: size line in the room in front, CRLF after. */
    static ByteBuf framed(ByteBuf batch) {
        int length = batch.readableBytes();
        int digits = Math.max(1, (Integer.SIZE - Integer.numberOfLeadingZeros(length) + 3) / 4);
        int start = batch.readerIndex() - digits - 2;
        for (int i = 0; i < digits; i++) batch.setByte(start + i, HEX[(length >>> (4 * (digits - 1 - i))) & 0xF]);
        batch.setByte(start + digits, '\r').setByte(start + digits + 1, '\n');
        return batch.readerIndex(start).writeByte('\r').writeByte('\n');
    }

    private ByteBuf takeBatch() {
        var content = batch;
        batch = null;
        return content;
    }

    public boolean isOpen() {
        return !ended && channel.isActive();
    }

    /** Ends the response; the connection stays open for the next request when the client allows it. */
    public void end() {
        if (ended) return;
        ended = true;
        state.clearCloseActions();
        // The last frames and the end of the chunked body leave together.
        var last = batch == null ? LastHttpContent.EMPTY_LAST_CONTENT : new DefaultLastHttpContent(takeBatch());
        boolean committed = commit();
        Exchange.onEventLoop(channel, () -> {
            cancelKeepAlive();
            if (channel.isActive() && committed) {
                writeHead();
                Exchange.writeLast(channel, last, keepAliveConnection);
            } else {
                last.release();
            }
            onDone.run();
        });
    }
}
