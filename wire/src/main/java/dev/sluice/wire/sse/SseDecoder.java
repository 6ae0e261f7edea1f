package dev.sluice.wire.sse;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;

/**
 * Incremental Server-Sent Events parser following the WHATWG EventSource rules: {@code data}, {@code event},
 * {@code id} and {@code retry} fields, comments, multi-line data, LF / CR / CRLF line ends (also when a CRLF
 * pair is split across reads), one leading BOM, and UTF-8 characters split across network reads.
 * Feed bytes as they arrive; events are delivered to the listener synchronously. Not thread-safe.
 *
 * <p>Memory is bounded by two limits, both counted in UTF-8 bytes: {@code maxLineBytes} for one line (without
 * its line end) and {@code maxEventBytes} for the data of one event (the joined {@code data} values including
 * the {@code \n} between them). Crossing either throws {@link SseException} as soon as the limit is crossed,
 * without waiting for the line or event to end. The decoder is then failed: the stream's framing is no longer
 * known, so every later {@link #feed} or {@link #end} call throws {@link SseException} too (its cause is the
 * original error) and nothing more is dispatched.
 *
 * <p>Two kinds of listener: a {@link Listener} gets each event as an {@link SseEvent} with its data as a String;
 * a {@link DataListener} ({@link #forBytes}) gets the data as the UTF-8 bytes that arrived, which a consumer
 * that parses them anyway (JSON) takes without the String's decoding and copy.
 */
public final class SseDecoder {

    public interface Listener {
        void onEvent(SseEvent event);

        /** A comment line, without the leading colon and one space after it; servers use these as keep-alives. */
        default void onComment(String comment) {}
    }

    /**
     * Receives each event's data as UTF-8 bytes (the joined {@code data} values with {@code \n} between them),
     * otherwise as {@link SseEvent} describes. The bytes are the decoder's own buffer and valid only during the
     * call: copy what must outlive it.
     */
    public interface DataListener {
        void onEvent(String event, byte[] data, int offset, int length, String id, long retry);

        /** A comment line, as {@link Listener#onComment}. */
        default void onComment(String comment) {}
    }

    public static final int DEFAULT_MAX_LINE_BYTES = 4 * 1024 * 1024;
    public static final int DEFAULT_MAX_EVENT_BYTES = 16 * 1024 * 1024;

    private static final byte CR = '\r', LF = '\n';
    private static final byte[] BOM = {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF};

    private final DataListener listener;
    private final int maxLineBytes;
    private final int maxEventBytes;

    private byte[] line;
    private int lineLength;
    private boolean lastWasCr;
    private int bomBytesSeen; // 0..3 while the stream start is still being checked, then -1
    // The event's data as it arrived, in UTF-8: decoded (if at all) once per event rather than once per line.
    private byte[] data;
    private boolean hasData;
    private String eventType;
    private String lastEventId;
    private long retry = -1;
    private int dataBytes; // UTF-8 bytes in data, counting the \n separators
    private SseException failure;

    public SseDecoder(Listener listener) {
        this(listener, DEFAULT_MAX_LINE_BYTES, DEFAULT_MAX_EVENT_BYTES);
    }

    /**
     * @param maxLineBytes  the longest line accepted, in bytes, not counting its line end; at least 1
     * @param maxEventBytes the most data one event may carry, in UTF-8 bytes; at least 1
     */
    public SseDecoder(Listener listener, int maxLineBytes, int maxEventBytes) {
        this(strings(Objects.requireNonNull(listener, "listener")), maxLineBytes, maxEventBytes);
    }

    /** A decoder handing each event's data to {@code listener} as bytes; the limits as in the constructor. */
    public static SseDecoder forBytes(DataListener listener, int maxLineBytes, int maxEventBytes) {
        return new SseDecoder(Objects.requireNonNull(listener, "listener"), maxLineBytes, maxEventBytes);
    }

    private SseDecoder(DataListener listener, int maxLineBytes, int maxEventBytes) {
        if (maxLineBytes < 1) throw new IllegalArgumentException("maxLineBytes must be positive: " + maxLineBytes);
        if (maxEventBytes < 1) throw new IllegalArgumentException("maxEventBytes must be positive: " + maxEventBytes);
        this.listener = Objects.requireNonNull(listener, "listener");
        this.maxLineBytes = maxLineBytes;
        this.maxEventBytes = maxEventBytes;
        this.line = new byte[Math.min(256, maxLineBytes)];
        this.data = new byte[Math.min(256, maxEventBytes)];
    }

    private static DataListener strings(Listener listener) {
        return new DataListener() {
            @Override
            public void onEvent(String event, byte[] data, int offset, int length, String id, long retry) {
                listener.onEvent(new SseEvent(event, new String(data, offset, length, StandardCharsets.UTF_8), id, retry));
            }

            @Override
            public void onComment(String comment) {
                listener.onComment(comment);
            }
        };
    }

    public void feed(ByteBuffer buffer) {
        if (buffer.hasArray()) {
            int start = buffer.arrayOffset() + buffer.position();
            feed(buffer.array(), start, buffer.remaining());
            buffer.position(buffer.limit());
        } else {
            var copy = new byte[buffer.remaining()];
            buffer.get(copy);
            feed(copy, 0, copy.length);
        }
    }

    public void feed(byte[] bytes) {
        feed(bytes, 0, bytes.length);
    }

    public void feed(byte[] bytes, int offset, int length) {
        Objects.checkFromIndexSize(offset, length, bytes.length);
        checkNotFailed();
        int end = offset + length;
        int i = offset;
        if (bomBytesSeen >= 0) i = skipBom(bytes, i, end);
        scan(bytes, i, end);
    }

    private void scan(byte[] bytes, int i, int end) {
        while (i < end) {
            if (lastWasCr) {
                lastWasCr = false;
                if (bytes[i] == LF) { // second half of a CRLF pair: the line already ended at CR
                    i++;
                    continue;
                }
            }
            int eol = i;
            while (eol < end && bytes[eol] != LF && bytes[eol] != CR) eol++;
            if (eol == end) {
                append(bytes, i, end - i);
                return;
            }
            if (lineLength == 0) {
                // The whole line is in this input (the usual case): read it where it is, without a copy.
                checkLineLength(eol - i);
                processLine(bytes, i, eol);
            } else {
                append(bytes, i, eol - i);
                processBufferedLine();
            }
            lastWasCr = bytes[eol] == CR;
            i = eol + 1;
        }
    }

    /**
     * The stream ended. A trailing event that was not closed by a blank line is dispatched rather than
     * dropped (the spec drops it; real providers end bodies without the final newline, and losing the
     * last event there would lose data). Only a block that holds {@code data} is dispatched, exactly as at a
     * blank line; when nothing is pending this does nothing, and calling it twice is harmless.
     */
    public void end() {
        checkNotFailed();
        replayWithheldBom();
        if (lineLength > 0) processBufferedLine();
        dispatch();
    }

    /** Whether bytes of an unfinished line or event are pending (including a possible BOM not yet decided). */
    public boolean hasPending() {
        return lineLength > 0 || hasData || bomBytesSeen > 0;
    }

    private int skipBom(byte[] bytes, int i, int end) {
        // The BOM (EF BB BF) may itself be split across reads; bytes are withheld until it is decided.
        while (i < end && bomBytesSeen >= 0) {
            if (bytes[i] == BOM[bomBytesSeen]) {
                bomBytesSeen++;
                i++;
                if (bomBytesSeen == 3) bomBytesSeen = -1;
            } else {
                replayWithheldBom(); // not a BOM after all
            }
        }
        return i;
    }

    /** Ends the BOM check, feeding any bytes withheld as a possible BOM prefix back in as ordinary input. */
    private void replayWithheldBom() {
        int seen = bomBytesSeen;
        bomBytesSeen = -1;
        if (seen > 0) scan(BOM, 0, seen);
    }

    private void checkNotFailed() {
        if (failure != null) throw new SseException("SSE decoder already failed: " + failure.getMessage(), failure);
    }

    private SseException fail(String message) {
        failure = new SseException(message);
        // Release what was buffered: nothing more will be decoded.
        line = new byte[0];
        lineLength = 0;
        data = new byte[0];
        hasData = false;
        dataBytes = 0;
        return failure;
    }

    private void checkLineLength(long length) {
        if (length > maxLineBytes) throw fail("SSE line exceeds " + maxLineBytes + " bytes (maxLineBytes)");
    }

    private void append(byte[] bytes, int offset, int length) {
        if (length == 0) return;
        int needed = lineLength + length;
        checkLineLength(needed < 0 ? Long.MAX_VALUE : needed);
        if (needed > line.length) {
            var grown = new byte[Math.min(maxLineBytes, Math.max(needed, line.length * 2))];
            System.arraycopy(line, 0, grown, 0, lineLength);
            line = grown;
        }
        System.arraycopy(bytes, offset, line, lineLength, length);
        lineLength = needed;
    }

    /** The line collected in the line buffer across inputs; the buffer is then free for the next one. */
    private void processBufferedLine() {
        int length = lineLength;
        lineLength = 0;
        processLine(line, 0, length);
    }

    /** One line, {@code l[start, end)} without its end-of-line; the bytes are only read during the call. */
    private void processLine(byte[] l, int start, int end) {
        int length = end - start;
        if (length == 0) {
            dispatch();
            return;
        }
        if (l[start] == ':') {
            listener.onComment(decode(l, skipSpace(l, start + 1, end), end));
            return;
        }
        int colon = -1;
        for (int i = start; i < end; i++) {
            if (l[i] == ':') {
                colon = i;
                break;
            }
        }
        int nameEnd = colon < 0 ? end : colon;
        int valueStart = colon < 0 ? end : skipSpace(l, colon + 1, end);
        if (is(l, start, nameEnd, "data")) {
            long newBytes = (long) dataBytes + (hasData ? 1 : 0) + (end - valueStart);
            if (newBytes > maxEventBytes) {
                throw fail("SSE event data exceeds " + maxEventBytes + " bytes (maxEventBytes)");
            }
            // Lines end at LF or CR, which never occur inside a UTF-8 sequence: decoding the joined bytes
            // once gives the same text as decoding each line and joining.
            int at = dataBytes;
            if (newBytes > data.length) {
                data = Arrays.copyOf(data, (int) Math.min(maxEventBytes, Math.max(newBytes, 2L * data.length)));
            }
            if (hasData) data[at++] = '\n';
            System.arraycopy(l, valueStart, data, at, end - valueStart);
            dataBytes = (int) newBytes;
            hasData = true;
        } else if (is(l, start, nameEnd, "event")) {
            eventType = decode(l, valueStart, end);
        } else if (is(l, start, nameEnd, "id")) {
            var id = decode(l, valueStart, end);
            if (id.indexOf('\0') < 0) lastEventId = id;
        } else if (is(l, start, nameEnd, "retry")) {
            // Only ASCII digits count; anything else (or a value too large for a long) leaves retry unchanged.
            long value = 0;
            boolean valid = valueStart < end;
            for (int i = valueStart; i < end && valid; i++) {
                int digit = l[i] - '0';
                valid = digit >= 0 && digit <= 9 && value <= (Long.MAX_VALUE - digit) / 10;
                value = value * 10 + digit;
            }
            if (valid) retry = value;
        }
        // Any other field name is ignored, as the spec says.
    }

    private void dispatch() {
        if (!hasData) {
            resetEvent(); // the spec resets the type even when nothing is dispatched
            return;
        }
        String type = eventType;
        int length = dataBytes;
        // Reset before the call (a listener may feed more), but the bytes stay in place for it: nothing writes
        // to the buffer until the next data line, which only a feed from inside the listener could bring.
        resetEvent();
        byte[] bytes = data;
        listener.onEvent(type, bytes, 0, length, lastEventId, retry);
    }

    private void resetEvent() {
        dataBytes = 0;
        hasData = false;
        eventType = null;
    }

    private static int skipSpace(byte[] l, int i, int end) {
        return i < end && l[i] == ' ' ? i + 1 : i;
    }

    private static boolean is(byte[] l, int start, int end, String name) {
        if (end - start != name.length()) return false;
        for (int i = start; i < end; i++) if (l[i] != name.charAt(i - start)) return false;
        return true;
    }

    private static String decode(byte[] l, int from, int to) {
        return new String(l, from, to - from, StandardCharsets.UTF_8);
    }
}
