package dev.sluice.client;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * A response body read as it arrives, one piece of demand at a time, by a thread that blocks in {@link #read}.
 *
 * <p>It is the body subscriber handed to the HTTP client. {@code getBody()} completes at once, so the response
 * is available as soon as its headers are. Demand is one buffer list at a time, so nothing but the piece being
 * parsed is held in memory. Waiting is a timed poll of a queue, which gives the idle and total timeouts and
 * interruptibility. {@link #cancel} cancels the subscription, which makes the HTTP client close the connection
 * (for HTTP/1.1 the upstream sees the TCP connection close), and wakes a blocked reader.
 */
final class ResponseBody implements HttpResponse.BodySubscriber<Void>, Body {

    private static final Object END = new Object();
    private static final Object CANCELLED = new Object();

    private record Failure(Throwable cause) {}

    private final LinkedBlockingQueue<Object> queue = new LinkedBlockingQueue<>();
    private final Object lock = new Object();
    private Flow.Subscription subscription; // guarded by lock
    private volatile boolean cancelled;
    private volatile boolean ended;        // the reader took the end of the body
    private volatile boolean upstreamDone; // the HTTP client signalled the end, or a failure
    private volatile boolean discarding;

    private final Duration idle;  // null: none
    private final Duration total; // null: none
    private final long deadline;  // System.nanoTime() at which the total timeout expires

    ResponseBody(Duration idle, Duration total, long deadline) {
        this.idle = idle;
        this.total = total;
        this.deadline = deadline;
    }

    // ------------------------------------------------------------ subscriber side (HTTP client threads)

    @Override
    public CompletionStage<Void> getBody() {
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public void onSubscribe(Flow.Subscription s) {
        boolean cancel;
        synchronized (lock) {
            subscription = s;
            cancel = cancelled;
        }
        if (cancel) s.cancel();
        else s.request(1);
    }

    @Override
    public void onNext(List<ByteBuffer> item) {
        if (discarding) request();
        else queue.add(item);
    }

    @Override
    public void onError(Throwable throwable) {
        upstreamDone = true;
        queue.add(new Failure(throwable));
    }

    @Override
    public void onComplete() {
        upstreamDone = true;
        queue.add(END);
    }

    // ------------------------------------------------------------ reader side (one thread)

    /**
     * Hands the next received bytes to {@code sink}. Returns false once the body has ended.
     *
     * @throws StreamTimeoutException when the idle or total timeout expires (the exchange is cancelled first)
     * @throws InterruptedIOException when the thread is interrupted (the exchange is cancelled, the interrupt
     *     status kept)
     * @throws IOException when the connection fails, or the body was cancelled
     */
    @Override
    @SuppressWarnings("unchecked")
    public boolean read(Consumer<ByteBuffer> sink) throws IOException {
        if (ended) return false;
        Object item = take();
        if (item == END) {
            ended = true;
            return false;
        }
        if (item == CANCELLED) {
            queue.add(CANCELLED); // later reads fail the same way
            throw new IOException("stream closed");
        }
        if (item instanceof Failure f) {
            if (cancelled) throw new IOException("stream closed");
            throw failure(f.cause());
        }
        // Ask for the next piece before parsing this one, so the network read overlaps the parsing.
        request();
        for (var buffer : (List<ByteBuffer>) item) sink.accept(buffer);
        return true;
    }

    /** Takes what has already arrived without waiting; returns whether the end of the body was reached. */
    @Override
    public boolean drainAvailable() {
        while (!ended && !cancelled) {
            Object item = queue.poll();
            if (item == null) return false;
            if (item == END) ended = true;
            else if (item instanceof List<?>) request();
            else return false;
        }
        return ended;
    }

    /** Cancels the exchange: the connection is closed and a blocked reader is woken. Any thread; idempotent. */
    @Override
    public void cancel() {
        cancelSubscribed();
    }

    /**
     * Cancels as {@link #cancel} does; returns false when the HTTP client has not subscribed this body yet,
     * so that only the exchange itself can be aborted. A subscription that comes later is cancelled at once,
     * before any byte of the body is parsed: that connection never reaches the pool.
     */
    boolean cancelSubscribed() {
        Flow.Subscription s;
        synchronized (lock) {
            s = subscription;
            if (ended || cancelled || upstreamDone) return s != null;
            cancelled = true;
        }
        if (s != null) s.cancel();
        queue.add(CANCELLED);
        return s != null;
    }

    /**
     * The reader wants nothing more, but the body is known to be nearly over (the stream's end marker was
     * read). The rest is received and dropped so that, if the body ends within {@code grace}, the HTTP client
     * can reuse the connection; otherwise the exchange is cancelled then. Any thread.
     */
    @Override
    public void release(Duration grace) {
        if (ended || cancelled || upstreamDone) return;
        discarding = true;
        queue.add(CANCELLED); // a reader, if any, stops
        request(); // the piece in the queue, if any, held the only demand
        // Not the common pool: callers often block there (one thread on a 2-core machine), and a late cancel
        // leaves the upstream connection open.
        CompletableFuture.delayedExecutor(grace.toNanos(), TimeUnit.NANOSECONDS, ResponseBody::onVirtualThread).execute(this::cancel);
    }

    private static void onVirtualThread(Runnable task) {
        Thread.ofVirtual().name("sluice-body-cancel").start(task);
    }

    /**
     * The JDK reports a body cut short in its parser's terms ("chunked transfer encoding, state: READING_DATA",
     * "fixed content-length: 478, bytes received: 185"); the caller gets what the blocking transport says, the
     * JDK's words staying in the cause.
     */
    private static IOException failure(Throwable cause) {
        if (!(cause instanceof IOException io)) return new IOException(cause);
        var message = String.valueOf(io.getMessage());
        if (message.startsWith("chunked transfer encoding, state:") || message.startsWith("fixed content-length:")) {
            return new IOException("the server closed the connection before the response body ended", io);
        }
        return io;
    }

    private Object take() throws IOException {
        long wait = idle == null ? Long.MAX_VALUE : idle.toNanos();
        if (total != null) wait = Math.min(wait, deadline - System.nanoTime());
        if (wait <= 0) throw timeout(); // the total deadline has already passed
        try {
            Object item = wait == Long.MAX_VALUE ? queue.take() : queue.poll(wait, TimeUnit.NANOSECONDS);
            if (item == null) throw timeout();
            return item;
        } catch (InterruptedException e) {
            cancel();
            Thread.currentThread().interrupt();
            var io = new InterruptedIOException("interrupted while reading the response body");
            io.initCause(e);
            throw io;
        }
    }

    private StreamTimeoutException timeout() {
        cancel();
        return StreamTimeoutException.expired(StreamTimeoutException.Kind.IDLE, idle, total, deadline);
    }

    private void request() {
        Flow.Subscription s;
        synchronized (lock) {
            s = subscription;
        }
        if (s != null && !cancelled) s.request(1);
    }
}
