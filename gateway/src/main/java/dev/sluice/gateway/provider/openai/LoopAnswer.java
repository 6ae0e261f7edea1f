package dev.sluice.gateway.provider.openai;

import dev.sluice.client.ApiException;
import dev.sluice.client.ChatBodyDecoder;
import dev.sluice.gateway.provider.EventLoopProvider;
import dev.sluice.gateway.provider.UpstreamException;
import dev.sluice.gateway.upstream.UpstreamHttp;
import dev.sluice.wire.chat.StreamEvent;
import io.netty.buffer.ByteBuf;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.concurrent.FastThreadLocal;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * One upstream answer read on an event loop: the response's bytes go through the SDK's {@link ChatBodyDecoder} as
 * they arrive, and whoever relays is told ({@link #onData}) instead of waiting. A refusal (non-2xx, read
 * whole and mapped like the SDK maps it) or a failure before the answer opened goes to
 * {@link EventLoopProvider.Opening#failed}, so it is retried or fallen back from. A non-streamed request opens
 * only once its whole answer is read, as the threaded provider does.
 *
 * <p>Everything but {@link #close()} runs on the loop.
 */
final class LoopAnswer implements UpstreamHttp.Listener, EventLoopProvider.Pushing {

    private final EventLoop loop;
    private final boolean openWhenWhole;
    private final EventLoopProvider.Opening opening;
    private volatile UpstreamHttp.Call call;

    private int status;
    private HttpHeaders headers;
    /** The body is one JSON document (a completion, or an error), read whole before it is parsed. */
    private Whole whole;
    private boolean opened, bodyEnded, ended, failedBeforeOpen;
    private IOException failure;
    private final ArrayDeque<StreamEvent> events = new ArrayDeque<>();
    private final Secrets secrets;
    /** Whether the client's own key was sent: a 401 or 403 is then the client's, else the gateway's (see UpstreamException.Kind). */
    private final boolean clientKey;
    private final ChatBodyDecoder decoder;
    /**
     * Where a read's bytes are copied for the parser (the loop's buffers are direct). One per loop thread: the
     * parser keeps no reference to its input once feed() returns, and a loop runs one feed at a time.
     */
    private static final FastThreadLocal<byte[]> SCRATCH = new FastThreadLocal<>() {
        @Override
        protected byte[] initialValue() {
            return new byte[64 * 1024];
        }
    };
    private Runnable onData;
    private volatile boolean closed;

    LoopAnswer(EventLoop loop, boolean openWhenWhole, EventLoopProvider.Opening opening, Secrets secrets, boolean clientKey) {
        this.clientKey = clientKey;
        this.loop = loop;
        this.openWhenWhole = openWhenWhole;
        this.opening = opening;
        this.secrets = secrets;
        this.decoder = new ChatBodyDecoder(secrets.isEmpty() ? events::add : e -> events.add(secrets.redact(e)));
    }

    void started(UpstreamHttp.Call call) {
        this.call = call;
    }

    // ------------------------------------------------------------------ from the connection (on the loop)

    @Override
    public void onHead(int status, HttpHeaders headers) {
        this.status = status;
        this.headers = headers;
        boolean success = status >= 200 && status <= 299;
        var type = headers.get("content-type");
        if (!success || (type != null && ChatBodyDecoder.isJson(type))) {
            // Sized by Content-Length when the upstream sent one: the body is then copied once.
            long length = headers.getInt("content-length", -1);
            // One byte past the completion limit, so that a larger one is recognised as such.
            int limit = success ? ChatBodyDecoder.MAX_COMPLETION_BYTES + 1 : ApiException.MAX_BODY_BYTES;
            whole = new Whole(length > 0 ? (int) Math.min(length, limit) : 1024, limit);
        }
        if (success && !openWhenWhole) open();
    }

    @Override
    public void onContent(ByteBuf content) {
        if (closed || ended) return;
        int n = content.readableBytes();
        if (whole != null) {
            if (whole.add(content)) onEnd(); // what is kept is all that is read: the rest is not wanted
            return;
        }
        var scratch = SCRATCH.get();
        if (scratch.length < n) {
            scratch = new byte[n];
            SCRATCH.set(scratch);
        }
        content.getBytes(content.readerIndex(), scratch, 0, n);
        if (!decoder.feed(scratch, 0, n)) {
            // A line or event beyond the framing limits (an error event says so): the upstream is broken, not the connection.
            ended = true;
            call.cancel(); // no listener call follows: the news goes out from here
            if (!opened) open();
            else tell();
            return;
        }
        // A stream read for a non-streaming client is whole once [DONE] or an error arrived, as the SDK reads it;
        // the end of its body is awaited only for the connection's sake (close()).
        if (!opened && openWhenWhole && completed()) {
            ended = true;
            open();
        }
    }

    /** A body kept whole, up to a limit. */
    private static final class Whole {
        private byte[] bytes;
        private int size;
        private final int limit;

        Whole(int capacity, int limit) {
            this.bytes = new byte[capacity];
            this.limit = limit;
        }

        /** Appends what fits under the limit; true once the limit is reached. */
        boolean add(ByteBuf content) {
            int take = Math.min(content.readableBytes(), limit - size);
            if (size + take > bytes.length) bytes = java.util.Arrays.copyOf(bytes, Math.max(size + take, Math.min(limit, bytes.length * 2)));
            content.getBytes(content.readerIndex(), bytes, size, take);
            size += take;
            return size >= limit;
        }

        int size() {
            return size;
        }

        byte[] bytes() {
            return size == bytes.length ? bytes : java.util.Arrays.copyOf(bytes, size);
        }
    }

    @Override
    public void onReadComplete() {
        if (opened && whole == null) tell();
    }

    @Override
    public void onEnd() {
        if (bodyEnded) return;
        bodyEnded = true; // a closed answer's connection goes back to the pool now
        if (closed) return;
        if (status < 200 || status > 299) {
            if (whole.size() >= ApiException.MAX_BODY_BYTES) call.cancel();
            failBeforeOpen(OpenAiProvider.refused(ApiException.of(status, jdkHeaders(headers), whole.bytes()), secrets, clientKey));
            return;
        }
        if (whole != null) {
            if (whole.size() > ChatBodyDecoder.MAX_COMPLETION_BYTES) call.cancel();
            decoder.completion(whole.bytes, 0, whole.size());
            whole = null;
        } else if (!ended) {
            decoder.end();
        }
        ended = true;
        if (!opened) open();
        else tell();
    }

    @Override
    public void onError(IOException cause) {
        if (closed || ended) return;
        if (!opened) {
            failBeforeOpen(OpenAiProvider.failed(cause));
            return;
        }
        failure = cause;
        tell();
    }

    private void open() {
        opened = true;
        opening.opened(this);
    }

    private void failBeforeOpen(UpstreamException e) {
        if (failedBeforeOpen) return;
        failedBeforeOpen = true;
        ended = true;
        opening.failed(e);
    }

    private void tell() {
        var action = onData;
        if (action != null && !closed) action.run();
    }

    private static java.net.http.HttpHeaders jdkHeaders(HttpHeaders headers) {
        var map = new LinkedHashMap<String, List<String>>();
        for (var name : headers.names()) map.put(name.toLowerCase(Locale.ROOT), headers.getAll(name));
        return java.net.http.HttpHeaders.of(map, (a, b) -> true);
    }

    // ------------------------------------------------------------------ to the relay (on the loop)

    @Override
    public void onData(Runnable onData) {
        this.onData = onData;
        if (ready()) onData.run();
    }

    @Override
    public void setReading(boolean reading) {
        var c = call;
        if (c != null && !closed) c.setAutoRead(reading);
    }

    @Override
    public StreamEvent next() throws IOException {
        if (!events.isEmpty()) return events.poll();
        if (closed) throw new IOException("stream closed");
        if (failure != null) throw failure;
        if (ended || decoder.completed()) return null;
        // Only an event loop reads this stream, and only when ready(): waiting here would stall the loop.
        throw new IllegalStateException("next() on a pushed stream that is not ready");
    }

    @Override
    public boolean ready() {
        return !events.isEmpty() || closed || failure != null || ended || decoder.completed();
    }

    @Override
    public int buffered() {
        return events.size();
    }

    @Override
    public boolean completed() {
        return decoder.completed();
    }

    /**
     * Cancels the exchange, from any thread: the connection is closed, unless the answer was complete, in which
     * case the end of its body is awaited briefly so that the connection can serve the next request.
     */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        Runnable work = () -> {
            var c = call;
            if (c == null || bodyEnded) return;
            if (completed()) loop.schedule(() -> {
                if (!bodyEnded) c.cancel();
            }, ChatBodyDecoder.RELEASE_GRACE.toNanos(), TimeUnit.NANOSECONDS);
            else c.cancel();
        };
        if (loop.inEventLoop()) work.run();
        else loop.execute(work);
    }
}
