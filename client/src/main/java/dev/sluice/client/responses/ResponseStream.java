package dev.sluice.client.responses;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.client.IncompleteStreamException;
import dev.sluice.client.SseStream;
import dev.sluice.client.StreamErrorException;
import dev.sluice.wire.chat.StreamError;
import dev.sluice.wire.json.Json;
import dev.sluice.wire.sse.SseEvent;
import dev.sluice.wire.sse.SseException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.http.HttpHeaders;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * A Responses API stream ({@code event: <type>} + JSON data), iterated once on one thread. The iterator throws
 * {@link StreamErrorException} for an {@code error} event (after delivering it), {@link IncompleteStreamException}
 * when the body ends before a terminal event, and {@link UncheckedIOException} around I/O failures.
 * {@link #close()} (any thread) cancels the exchange.
 */
public final class ResponseStream implements Iterable<ResponseEvent>, AutoCloseable {

    private final SseStream sse;
    private ResponseEvent next;
    private boolean finished, terminalSeen, iterated;
    private RuntimeException failure;
    private JsonNode response;

    ResponseStream(SseStream sse) {
        this.sse = sse;
    }

    @Override
    public Iterator<ResponseEvent> iterator() {
        if (iterated) throw new IllegalStateException("a ResponseStream can be iterated once");
        iterated = true;
        return new Iterator<>() {
            @Override
            public boolean hasNext() {
                if (next == null && !finished) advance();
                if (next != null) return true;
                if (failure != null) throw failure;
                return false;
            }

            @Override
            public ResponseEvent next() {
                if (!hasNext()) throw new NoSuchElementException();
                var event = next;
                next = null;
                return event;
            }
        };
    }

    public Stream<ResponseEvent> stream() {
        return StreamSupport.stream(
                        Spliterators.spliteratorUnknownSize(iterator(), Spliterator.ORDERED | Spliterator.NONNULL), false)
                .onClose(this::close);
    }

    /**
     * The final response object (from {@code response.completed}, {@code .failed} or {@code .incomplete}),
     * reading the rest of the stream first; iteration failures are thrown here too.
     */
    public JsonNode finalResponse() {
        while (!finished) {
            next = null; // events not iterated are dropped
            advance();
        }
        if (failure != null) throw failure;
        return response;
    }

    public HttpHeaders headers() {
        return sse.headers();
    }

    @Override
    public void close() {
        sse.close();
    }

    private void advance() {
        while (next == null && !finished) {
            SseEvent event;
            try {
                event = sse.next();
            } catch (IOException e) {
                fail(new UncheckedIOException(e.getMessage(), e));
                return;
            } catch (SseException e) {
                // A line or event past the framing limits: the upstream is broken, as a chat stream reports it
                // (this escaped as wire's own exception, with the connection left open).
                sse.close();
                fail(new StreamErrorException(StreamError.of(
                        "Malformed stream from upstream: " + e.getMessage(), "upstream_error", "bad_upstream_response")));
                return;
            }
            if (event == null) {
                if (!terminalSeen) fail(new IncompleteStreamException("stream ended prematurely: no terminal response event", null));
                finished = true;
                return;
            }
            if (event.data().equals("[DONE]")) {
                finished = true;
                if (!terminalSeen) fail(new IncompleteStreamException("stream ended with [DONE] before a terminal response event", null));
                return;
            }
            JsonNode data;
            try {
                data = Json.parse(event.data());
            } catch (IllegalArgumentException e) {
                sse.close();
                fail(new StreamErrorException(StreamError.of(
                        "Malformed event from upstream: " + e.getMessage(), "upstream_error", "bad_upstream_response")));
                return;
            }
            boolean named = event.event() != null && !event.event().isEmpty();
            var type = named ? event.event() : data.path("type").asText("message");
            // An error object as the data of an unnamed event ({"error": {...}}, what OpenAI-compatible servers
            // send when they fail mid-stream) is an error event: openai-node raises it too. Read as a "message"
            // event, its error was dropped and the stream reported only that it ended early.
            if (!named && !data.has("type") && isError(data.get("error"))) type = "error";
            next = new ResponseEvent(type, data);
            if (next.terminal()) {
                terminalSeen = true;
                if (data.has("response")) response = data.get("response");
            }
            if (type.equals("error")) {
                sse.close();
                fail(new StreamErrorException(error(data)));
            }
        }
    }

    private static boolean isError(JsonNode error) {
        return error != null && (error.isObject() || error.isTextual());
    }

    /** The error of an error event: its {@code error} object, its {@code error} text, or the data itself (OpenAI's shape). */
    private static StreamError error(JsonNode data) {
        var inner = data.get("error");
        if (inner != null && inner.isTextual()) return new StreamError(inner.asText(), null, null, null, data);
        return StreamError.from(data);
    }

    private void fail(RuntimeException e) {
        failure = e;
        finished = true;
    }
}
