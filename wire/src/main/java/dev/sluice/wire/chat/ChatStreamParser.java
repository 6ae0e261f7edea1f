package dev.sluice.wire.chat;

import dev.sluice.wire.sse.SseDecoder;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.function.Consumer;

/**
 * Bytes of an OpenAI-style chat completions SSE body in, canonical {@link StreamEvent}s out: the one
 * parser shared by the SDK and the gateway. Handles {@code data: [DONE]} (events after it are ignored) and
 * named {@code error} events. Not thread-safe.
 */
public final class ChatStreamParser {

    /** Made at the first bytes of a stream: a non-streamed completion ({@link #completion}) needs no SSE framing. */
    private SseDecoder sse;
    private final ChatChunkDecoder chunks;
    private final int maxLineBytes, maxEventBytes;
    private boolean done;
    private int dataEvents;

    public ChatStreamParser(Consumer<StreamEvent> sink) {
        this(sink, SseDecoder.DEFAULT_MAX_LINE_BYTES, SseDecoder.DEFAULT_MAX_EVENT_BYTES);
    }

    public ChatStreamParser(Consumer<StreamEvent> sink, int maxLineBytes, int maxEventBytes) {
        this.chunks = new ChatChunkDecoder(sink);
        this.maxLineBytes = maxLineBytes;
        this.maxEventBytes = maxEventBytes;
    }

    private SseDecoder sse() {
        // Chunks are parsed from the bytes as they arrived: no String per event (the hot path of SDK and gateway).
        if (sse == null) sse = SseDecoder.forBytes(this::onEvent, maxLineBytes, maxEventBytes);
        return sse;
    }

    private void onEvent(String event, byte[] data, int offset, int length, String id, long retry) {
        if (done) return;
        if (isDone(data, offset, length)) {
            done = true;
            chunks.end();
            return;
        }
        dataEvents++;
        chunks.decode(event, data, offset, length);
    }

    private static boolean isDone(byte[] data, int offset, int length) {
        return Arrays.equals(data, offset, offset + length, DONE, 0, DONE.length);
    }

    private static final byte[] DONE = "[DONE]".getBytes(StandardCharsets.US_ASCII);

    /** Feeds the next bytes; throws {@link dev.sluice.wire.sse.SseException} when framing limits are broken. */
    public void feed(ByteBuffer bytes) {
        sse().feed(bytes);
    }

    public void feed(byte[] bytes, int offset, int length) {
        sse().feed(bytes, offset, length);
    }

    public void feed(byte[] bytes) {
        sse().feed(bytes, 0, bytes.length);
    }

    /**
     * Decodes a whole non-streamed {@code chat.completion} body (an upstream asked with {@code stream: false})
     * into the same events a stream of it would give, then ends. Its {@code message} reads as one delta; an
     * error object in it is reported as an error event like one inside a stream.
     */
    public void completion(byte[] body, int offset, int length) {
        if (done) return;
        dataEvents++;
        chunks.decodeCompletion(body, offset, length);
        chunks.end();
        done = true;
    }

    /** The body ended. Returns whether the stream was complete ({@code [DONE]} seen or an error reported). */
    public boolean end() {
        sse().end(); // an empty body still ends as a stream does
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
