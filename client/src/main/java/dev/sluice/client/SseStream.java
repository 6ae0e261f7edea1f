package dev.sluice.client;

import dev.sluice.wire.sse.SseDecoder;
import dev.sluice.wire.sse.SseEvent;
import dev.sluice.wire.sse.SseException;
import java.io.IOException;
import java.net.http.HttpHeaders;
import java.util.ArrayDeque;

/**
 * An open Server-Sent Events response of any endpoint, read as raw {@link SseEvent}s (parsed by wire's
 * {@link SseDecoder}). Typed streams such as the Responses API stream sit on top of it. Same threading and
 * cancellation rules as {@link EventStream}.
 */
public final class SseStream implements AutoCloseable {

    private final int status;
    private final HttpHeaders headers;
    private final Body body;
    private final ArrayDeque<SseEvent> ready = new ArrayDeque<>();
    private final SseDecoder decoder = new SseDecoder(ready::add);
    private boolean ended;
    private volatile boolean closed;

    SseStream(HttpTransport.Opened opened) {
        this.status = opened.status();
        this.headers = opened.headers();
        this.body = opened.body();
    }

    public int status() {
        return status;
    }

    public HttpHeaders headers() {
        return headers;
    }

    /**
     * The next event, or null when the body has ended. Blocks until bytes arrive.
     *
     * @throws StreamTimeoutException when the idle or total timeout expires
     * @throws IOException when the connection breaks or the stream was closed; {@link dev.sluice.wire.sse.SseException}
     *     (unchecked) when a line or event breaks the framing limits (the exchange is cancelled)
     */
    public SseEvent next() throws IOException {
        while (ready.isEmpty()) {
            if (closed) throw new IOException("stream closed");
            if (ended) return null;
            try {
                if (!body.read(decoder::feed)) {
                    decoder.end();
                    ended = true;
                }
            } catch (SseException e) {
                body.cancel(); // the framing is lost: nothing more of this body can be read
                throw e;
            }
        }
        if (closed) throw new IOException("stream closed");
        return ready.poll();
    }

    /** Cancels the exchange unless the body has ended. Any thread, idempotent; a blocked {@link #next()} fails promptly. */
    @Override
    public void close() {
        closed = true;
        body.cancel();
    }
}
