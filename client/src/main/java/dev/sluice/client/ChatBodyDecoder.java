package dev.sluice.client;

import dev.sluice.wire.chat.ChatStreamParser;
import dev.sluice.wire.chat.StreamError;
import dev.sluice.wire.chat.StreamEvent;
import dev.sluice.wire.sse.SseDecoder;
import dev.sluice.wire.sse.SseException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * How the body of a chat completions answer becomes canonical events, whoever moves its bytes: the SDK's
 * {@link EventStream} pulls them through its transport, the gateway's event-loop relay is handed them as they
 * arrive. An event stream is decoded as it comes; a JSON body (a non-streamed answer) whole. A body that breaks
 * the framing limits, or a completion larger than {@link #MAX_COMPLETION_BYTES}, becomes an error event, and
 * nothing more of it is wanted: the caller cancels the exchange.
 *
 * <p>Not thread-safe: one reader.
 */
public final class ChatBodyDecoder {

    /** The largest non-streamed completion read; a body beyond it is an upstream error, not a memory hazard. */
    public static final int MAX_COMPLETION_BYTES = SseDecoder.DEFAULT_MAX_EVENT_BYTES;

    /**
     * The error code of a completion over {@link #MAX_COMPLETION_BYTES}: the answer was generated (and paid for),
     * so asking again would only pay for it twice.
     */
    public static final String TOO_LARGE = "completion_too_large";

    /**
     * Once {@link #completed()}, how long the rest of the body (the end of the chunked encoding) may take to
     * arrive before the exchange is cancelled: waiting that long keeps the connection reusable.
     */
    public static final Duration RELEASE_GRACE = Duration.ofMillis(100);

    private final Consumer<StreamEvent> sink;
    private final ChatStreamParser parser;
    private boolean malformed;

    public ChatBodyDecoder(Consumer<StreamEvent> sink) {
        this.sink = sink;
        this.parser = new ChatStreamParser(sink);
    }

    /** Whether a response of this {@code Content-Type} is one JSON document, read whole, rather than an event stream. */
    public static boolean isJson(String contentType) {
        var type = contentType.toLowerCase(Locale.ROOT);
        return type.startsWith("application/json") || type.startsWith("application/") && type.contains("+json");
    }

    /** The next bytes of an event stream. False when they broke the framing limits (an error event says so). */
    public boolean feed(byte[] bytes, int offset, int length) {
        if (malformed) return false;
        try {
            parser.feed(bytes, offset, length);
            return true;
        } catch (SseException e) {
            return malformed(e);
        }
    }

    /** {@link #feed(byte[], int, int)} for a buffer, which is consumed either way. */
    public boolean feed(ByteBuffer buffer) {
        if (malformed) {
            buffer.position(buffer.limit());
            return false;
        }
        try {
            parser.feed(buffer);
            return true;
        } catch (SseException e) {
            buffer.position(buffer.limit());
            return malformed(e);
        }
    }

    private boolean malformed(SseException e) {
        malformed = true;
        sink.accept(new StreamEvent.Error(StreamError.of("Malformed stream from upstream: " + e.getMessage(), "upstream_error", "bad_upstream_response")));
        return false;
    }

    /**
     * A whole JSON body, decoded into the events its stream would have given. {@code length} may exceed
     * {@link #MAX_COMPLETION_BYTES} (read one byte past it to find out): that is reported as an error event.
     */
    public void completion(byte[] body, int offset, int length) {
        if (length > MAX_COMPLETION_BYTES) {
            malformed = true;
            sink.accept(new StreamEvent.Error(StreamError.of("The upstream's completion is larger than "
                    + MAX_COMPLETION_BYTES + " bytes.", "upstream_error", TOO_LARGE)));
            return;
        }
        parser.completion(body, offset, length);
    }

    /** The event stream's body ended (what is left of a last event is decoded). */
    public void end() {
        if (!malformed) parser.end();
    }

    /** The body broke the framing or size limits. */
    public boolean malformed() {
        return malformed;
    }

    /** Nothing more is wanted from the body: {@code [DONE]} or an error arrived, or it was malformed. */
    public boolean completed() {
        return malformed || parser.done() || parser.errored();
    }
}
