package dev.sluice.client;

import dev.sluice.wire.chat.StreamEvent;
import java.io.IOException;
import java.net.http.HttpHeaders;
import java.util.ArrayDeque;

/**
 * An open chat completions stream, read as canonical {@link StreamEvent}s: the low-level stream the gateway
 * relays and the typed SDK stream is built on. Bytes are decoded by {@link ChatBodyDecoder} as they arrive;
 * the reading thread (usually a virtual thread) blocks in {@link #next()}.
 *
 * <p>One thread reads; {@link #close()} may come from any thread. Obtained from
 * {@link SluiceClient#openChatStream}.
 */
public final class EventStream implements AutoCloseable {

    private final int status;
    private final HttpHeaders headers;
    private final Body body;
    /** The upstream answered with one JSON completion rather than an event stream. */
    private final boolean whole;
    private final ArrayDeque<StreamEvent> ready = new ArrayDeque<>();
    private final ChatBodyDecoder decoder = new ChatBodyDecoder(ready::add);
    private boolean ended;
    private volatile boolean completed;
    private volatile boolean closed;

    EventStream(HttpTransport.Opened opened) {
        this.status = opened.status();
        this.headers = opened.headers();
        this.body = opened.body();
        this.whole = opened.headers().firstValue("content-type").map(ChatBodyDecoder::isJson).orElse(false);
    }

    /** The HTTP status of the response (2xx: error statuses throw {@link ApiException} before a stream exists). */
    public int status() {
        return status;
    }

    /** The upstream response headers. */
    public HttpHeaders headers() {
        return headers;
    }

    /**
     * The next canonical event, or null at the end of the stream. Blocks until bytes arrive. Errors reported in
     * the stream, and chunks that cannot be parsed, come as {@link StreamEvent.Error}; the stream ends after them.
     *
     * @throws StreamTimeoutException when the idle or total timeout expires
     * @throws java.io.InterruptedIOException when the reading thread is interrupted (the exchange is cancelled)
     * @throws IOException when the connection breaks, or the stream was closed
     */
    public StreamEvent next() throws IOException {
        while (ready.isEmpty()) {
            if (closed) throw new IOException("stream closed");
            if (ended) return null;
            if (completed) {
                // [DONE] or an error was seen: nothing more is wanted. What already arrived of the body is
                // drained so that, if it has ended, the connection can be reused; close() drops the rest.
                body.drainAvailable();
                ended = true;
                return null;
            }
            if (whole) {
                readWhole();
                break;
            }
            boolean more = body.read(decoder::feed);
            if (decoder.malformed()) {
                // A line or event beyond the framing limits: the upstream is broken, not the connection.
                body.cancel();
                completed = true;
                ended = true;
                break;
            }
            if (!more) {
                decoder.end();
                ended = true;
            }
            completed = decoder.completed();
        }
        if (closed) throw new IOException("stream closed");
        return ready.poll();
    }

    /** A non-streamed answer: the whole body is the completion, decoded into the same events at once. */
    private void readWhole() throws IOException {
        var bytes = body.readAll(ChatBodyDecoder.MAX_COMPLETION_BYTES + 1);
        ended = true;
        completed = true;
        decoder.completion(bytes, 0, bytes.length);
    }

    /**
     * How many events were already decoded and can be taken with {@link #next()} without blocking. A relay can
     * use it to flush only when nothing more is immediately available; the SDK uses it to see every event of the
     * chunk that carried an error.
     */
    public int buffered() {
        return ready.size();
    }

    /**
     * Whether the stream is known to be complete: {@code data: [DONE]} was seen or an error was decoded.
     * False when the body simply stopped (a connection cut short looks like that).
     */
    public boolean completed() {
        return completed;
    }

    /**
     * Cancels the exchange at once: the connection is closed (the upstream sees it close) unless the body had
     * already been fully received. Callable from any thread, idempotent; a thread blocked in {@link #next()}
     * gets an {@link IOException} promptly.
     *
     * <p>One exception keeps connections reusable: once the stream is {@link #completed()}, the little that
     * may follow the end marker (the end of the chunked body) is awaited for up to 100 ms, and only then, if
     * the body still has not ended, is the exchange cancelled.
     */
    @Override
    public void close() {
        closed = true;
        if (completed) body.release(ChatBodyDecoder.RELEASE_GRACE);
        else body.cancel();
    }
}
