package dev.sluice.client.chat;

import dev.sluice.client.EventStream;
import dev.sluice.client.IncompleteStreamException;
import dev.sluice.client.StreamErrorException;
import dev.sluice.wire.chat.ChatAccumulator;
import dev.sluice.wire.chat.ChatCompletion;
import dev.sluice.wire.chat.StreamEvent;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.net.http.HttpHeaders;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * A streamed chat completion, as typed {@link ChatStreamEvent}s, after openai-node's ChatCompletionStream.
 * Canonical events come from an {@link EventStream}; the result is built by wire's {@link ChatAccumulator}.
 *
 * <p>Pull: iterate it (once) or use {@link #stream()}, on one thread. Push: obtained with a
 * {@link ChatStreamListener}, it runs on its own virtual thread and must not be iterated. Either way
 * {@link #close()} (any thread) cancels the exchange and {@link #finalChatCompletion()} gives the result.
 *
 * <p>Failures surface after every event received before them was delivered: iteration throws
 * {@link StreamErrorException} for an error reported in the stream, {@link IncompleteStreamException} when
 * the body ended without {@code [DONE]}, {@link UncheckedIOException} around I/O failures (timeouts, broken
 * connections, cancellation).
 */
public final class ChatStream implements Iterable<ChatStreamEvent>, AutoCloseable {

    /** Opens the underlying stream; for pushed streams, on the stream's own thread. */
    interface Opener {
        EventStream open() throws IOException;
    }

    private final ChatAccumulator accumulator = new ChatAccumulator();
    private final TypedEvents typed = new TypedEvents(accumulator);
    private final ArrayDeque<ChatStreamEvent> ready = new ArrayDeque<>();
    private volatile EventStream events;
    private volatile boolean closed;
    private boolean finished;
    private Exception failure; // IOException or RuntimeException
    private boolean iterated;
    private boolean draining; // finalChatCompletion() in pull mode: nothing reads the events any more

    // Push mode only.
    private final CompletableFuture<ChatCompletion> pushed;
    private volatile Thread pump;

    ChatStream(EventStream events) {
        this.events = events;
        this.pushed = null;
    }

    private ChatStream(boolean push) {
        this.pushed = new CompletableFuture<>();
    }

    static ChatStream push(Opener opener, ChatStreamListener listener) {
        var stream = new ChatStream(true);
        stream.pump = Thread.ofVirtual().name("sluice-chat-stream").unstarted(() -> stream.run(opener, listener));
        stream.pump.start();
        return stream;
    }

    /** Single use: the events of the stream, in order. */
    @Override
    public Iterator<ChatStreamEvent> iterator() {
        if (pushed != null) throw new IllegalStateException("the events of this stream go to its listener");
        if (iterated) throw new IllegalStateException("a ChatStream can be iterated once");
        iterated = true;
        return new Iterator<>() {
            @Override
            public boolean hasNext() {
                if (fill()) return true;
                if (failure != null) throw unchecked(failure);
                return false;
            }

            @Override
            public ChatStreamEvent next() {
                if (!hasNext()) throw new NoSuchElementException();
                return ready.poll();
            }
        };
    }

    /** The events as a sequential stream; closing it closes this. */
    public Stream<ChatStreamEvent> stream() {
        return StreamSupport.stream(
                        Spliterators.spliteratorUnknownSize(iterator(), Spliterator.ORDERED | Spliterator.NONNULL), false)
                .onClose(this::close);
    }

    /**
     * Waits for the end of the stream (in pull mode, reading and dropping the events not yet iterated) and
     * returns the accumulated completion, exactly as wire's accumulator built it.
     *
     * @throws StreamErrorException if the upstream reported an error in the stream
     * @throws IncompleteStreamException if the body ended without {@code [DONE]}
     * @throws IOException for timeouts, broken connections and cancellation
     */
    public ChatCompletion finalChatCompletion() throws IOException {
        if (pushed != null) {
            try {
                return pushed.get();
            } catch (InterruptedException e) {
                close();
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while waiting for the stream to end");
            } catch (ExecutionException e) {
                throw rethrow(e.getCause());
            }
        }
        // What was not iterated is dropped unread, so its typed events are not even built: each content delta's
        // snapshot copies all the text so far, which over a long answer costs chunks x length.
        ready.clear();
        draining = true;
        while (!finished) step();
        if (failure instanceof IOException io) throw io;
        if (failure != null) throw (RuntimeException) failure;
        return accumulator.result();
    }

    /** What was accumulated so far. In push mode, call it from the listener's callbacks only. */
    public ChatCompletion snapshot() {
        return accumulator.result();
    }

    /** The upstream response headers (x-request-id, rate limits...). */
    public HttpHeaders headers() {
        var e = events;
        if (e == null) throw new IllegalStateException("the stream is not open yet");
        return e.headers();
    }

    /** Cancels the exchange; the upstream sees its connection close. Any thread, idempotent. */
    @Override
    public void close() {
        closed = true;
        var e = events;
        if (e != null) {
            e.close();
            return;
        }
        var t = pump;
        if (t != null) t.interrupt(); // still connecting: interrupting the wait cancels the request
    }

    // ------------------------------------------------------------------ reading

    /** Makes an event ready unless the stream has finished; false when none is left. */
    private boolean fill() {
        while (ready.isEmpty() && !finished) step();
        return !ready.isEmpty();
    }

    private void step() {
        StreamEvent event;
        try {
            event = events.next();
        } catch (IOException e) {
            fail(e);
            return;
        }
        if (event == null) {
            events.close(); // nothing more is wanted; lets the connection go back to the pool
            if (!draining) typed.end(ready::add);
            if (events.completed()) finished = true;
            else fail(new IncompleteStreamException(
                    "stream ended prematurely: the body ended without data: [DONE]" + notAnEventStream(events.headers()), accumulator.result()));
            return;
        }
        take(event);
        if (event instanceof StreamEvent.Error error) {
            // The chunk that carried the error may hold more of it (a finish_reason "error" is reported
            // before the provider's own error object): take the rest of the chunk, raise the provider's.
            var reported = error.error();
            try {
                while (events.buffered() > 0) {
                    var more = events.next();
                    take(more);
                    if (more instanceof StreamEvent.Error e && reported.raw() == null && e.error().raw() != null) {
                        reported = e.error();
                    }
                }
            } catch (IOException ignored) {
                // buffered events never need I/O
            }
            events.close();
            fail(new StreamErrorException(reported));
        }
    }

    /**
     * Why nothing was read, when the 200 was not an event stream at all (a proxy's or captive portal's HTML
     * page): said, since "without [DONE]" alone reads like a stream cut short.
     */
    static String notAnEventStream(HttpHeaders headers) {
        var type = headers.firstValue("content-type").orElse(null);
        if (type != null && type.toLowerCase(java.util.Locale.ROOT).startsWith("text/event-stream")) return "";
        return " (its Content-Type is " + (type == null ? "missing" : type) + ", not text/event-stream)";
    }

    private void take(StreamEvent event) {
        accumulator.accept(event);
        if (!draining) typed.on(event, ready::add);
    }

    private void fail(Exception e) {
        failure = e;
        finished = true;
    }

    private void run(Opener opener, ChatStreamListener listener) {
        ChatCompletion completion;
        try {
            events = opener.open();
            if (closed) events.close(); // closed while connecting: the next read fails as "closed"
            while (fill()) listener.onEvent(ready.poll());
            if (failure != null) throw failure;
            completion = accumulator.result();
        } catch (Exception e) {
            var open = events;
            if (open != null) open.close();
            try {
                listener.onError(e);
            } finally {
                pushed.completeExceptionally(e);
            }
            return;
        }
        try {
            listener.onCompletion(completion);
            pushed.complete(completion);
        } catch (RuntimeException e) {
            pushed.completeExceptionally(e);
        }
    }

    private static RuntimeException unchecked(Exception e) {
        return e instanceof IOException io ? new UncheckedIOException(io.getMessage(), io) : (RuntimeException) e;
    }

    private static IOException rethrow(Throwable cause) throws IOException {
        if (cause instanceof IOException io) throw io;
        if (cause instanceof RuntimeException r) throw r;
        if (cause instanceof Error err) throw err;
        throw new IOException(cause);
    }
}
