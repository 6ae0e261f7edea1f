package dev.sluice.wire.chat;

import dev.sluice.wire.sse.SseDecoder;
import dev.sluice.wire.sse.SseEvent;
import java.nio.ByteBuffer;
import java.util.function.Consumer;

/**
 * Bytes of an OpenAI-style chat completions SSE body in, canonical {@link StreamEvent}s out: the one
 * parser shared by the SDK and the gateway. Handles {@code data: [DONE]} (events after it are ignored) and
 * named {@code error} events. Not thread-safe.
 */
public final class ChatStreamParser {

    private final SseDecoder sse;
    private final ChatChunkDecoder chunks;
    private boolean done;
    private int dataEvents;

    public ChatStreamParser(Consumer<StreamEvent> sink) {
        this(sink, SseDecoder.DEFAULT_MAX_LINE_BYTES, SseDecoder.DEFAULT_MAX_EVENT_BYTES);
    }

    public ChatStreamParser(Consumer<StreamEvent> sink, int maxLineBytes, int maxEventBytes) {
        this.chunks = new ChatChunkDecoder(sink);
        this.sse = new SseDecoder(this::onEvent, maxLineBytes, maxEventBytes);
    }

    private void onEvent(SseEvent event) {
        if (done) return;
        String data = event.data();
        if (data.equals("[DONE]")) {
            done = true;
            chunks.end();
            return;
        }
        dataEvents++;
        chunks.decode(event.event(), data);
    }

    /** Feeds the next bytes; throws {@link dev.sluice.wire.sse.SseException} when framing limits are broken. */
    public void feed(ByteBuffer bytes) {
        sse.feed(bytes);
    }

    public void feed(byte[] bytes, int offset, int length) {
        sse.feed(bytes, offset, length);
    }

    public void feed(byte[] bytes) {
        sse.feed(bytes, 0, bytes.length);
    }

    /** The body ended. Returns whether the stream was complete ({@code [DONE]} seen or an error reported). */
    public boolean end() {
        sse.end();
        if (!done) chunks.end();
        return done || chunks.errored();
    }

    /** {@code data: [DONE]} was received. */
    public boolean done() {
        return done;
    }

    /** An error event or object was decoded. */
    public boolean errored() {
        return chunks.errored();
    }

    public int dataEvents() {
        return dataEvents;
    }
}
