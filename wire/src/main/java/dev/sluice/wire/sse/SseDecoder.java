package dev.sluice.wire.sse;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Incremental Server-Sent Events parser following the WHATWG EventSource rules: {@code data}, {@code event},
 * {@code id} and {@code retry} fields, comments, multi-line data, LF / CR / CRLF line ends (also when a CRLF
 * pair is split across reads), one leading BOM, and UTF-8 characters split across network reads.
 * Feed bytes as they arrive; events are delivered to the listener synchronously. Not thread-safe.
 */
public final class SseDecoder {

    public interface Listener {
        void onEvent(SseEvent event);

        /** A comment line (without the leading colon); servers use these as keep-alives. */
        default void onComment(String comment) {}
    }

    public static final int DEFAULT_MAX_LINE_BYTES = 4 * 1024 * 1024;
    public static final int DEFAULT_MAX_EVENT_BYTES = 16 * 1024 * 1024;

    private static final byte CR = '\r', LF = '\n';

    private final Listener listener;
    private final int maxLineBytes;
    private final int maxEventBytes;

    private byte[] line = new byte[256];
    private int lineLength;
    private boolean lastWasCr;
    private int bomBytesSeen; // 0..3 while the stream start is still being checked, then -1
    private final StringBuilder data = new StringBuilder();
    private boolean hasData;
    private String eventType;
    private String lastEventId;
    private long retry = -1;

    public SseDecoder(Listener listener) {
        this(listener, DEFAULT_MAX_LINE_BYTES, DEFAULT_MAX_EVENT_BYTES);
    }

    public SseDecoder(Listener listener, int maxLineBytes, int maxEventBytes) {
        this.listener = listener;
        this.maxLineBytes = maxLineBytes;
        this.maxEventBytes = maxEventBytes;
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
        int end = offset + length;
        int i = offset;
        if (bomBytesSeen >= 0) i = skipBom(bytes, i, end);
        int runStart = i;
        for (; i < end; i++) {
            byte b = bytes[i];
            if (b == LF || b == CR) {
                append(bytes, runStart, i - runStart);
                runStart = i + 1;
                if (b == LF && lastWasCr) { // second half of a CRLF pair: the line already ended at CR
                    lastWasCr = false;
                    continue;
                }
                lastWasCr = b == CR;
                processLine();
            } else {
                lastWasCr = false;
            }
        }
        append(bytes, runStart, end - runStart);
    }

    /**
     * The stream ended. A trailing event that was not closed by a blank line is dispatched rather than
     * dropped (the spec drops it; real providers end bodies without the final newline, and losing the
     * last event there would lose data).
     */
    public void end() {
        if (lineLength > 0) processLine();
        dispatch();
    }

    /** Whether bytes of an unfinished line or event are pending. */
    public boolean hasPending() {
        return lineLength > 0 || hasData;
    }

    private int skipBom(byte[] bytes, int i, int end) {
        // The BOM (EF BB BF) may itself be split across reads; bytes are withheld until it is decided.
        final byte[] bom = {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF};
        while (i < end && bomBytesSeen >= 0) {
            if (bytes[i] == bom[bomBytesSeen]) {
                bomBytesSeen++;
                i++;
                if (bomBytesSeen == 3) bomBytesSeen = -1;
            } else {
                int seen = bomBytesSeen;
                bomBytesSeen = -1;
                if (seen > 0) feed(bom, 0, seen); // not a BOM after all: replay what was withheld
            }
        }
        return i;
    }

    private void append(byte[] bytes, int offset, int length) {
        if (length == 0) return;
        int needed = lineLength + length;
        if (needed > maxLineBytes) {
            lineLength = 0;
            throw new SseException("SSE line exceeds " + maxLineBytes + " bytes");
        }
        if (needed > line.length) {
            var grown = new byte[Math.min(maxLineBytes, Math.max(needed, line.length * 2))];
            System.arraycopy(line, 0, grown, 0, lineLength);
            line = grown;
        }
        System.arraycopy(bytes, offset, line, lineLength, length);
        lineLength = needed;
    }

    private void processLine() {
        int length = lineLength;
        lineLength = 0;
        if (length == 0) {
            dispatch();
            return;
        }
        byte[] l = line;
        if (l[0] == ':') {
            listener.onComment(decode(l, skipSpace(l, 1, length), length));
            return;
        }
        int colon = -1;
        for (int i = 0; i < length; i++) {
            if (l[i] == ':') {
                colon = i;
                break;
            }
        }
        int nameEnd = colon < 0 ? length : colon;
        int valueStart = colon < 0 ? length : skipSpace(l, colon + 1, length);
        if (is(l, nameEnd, "data")) {
            if (hasData) data.append('\n');
            int newSize = data.length() + (length - valueStart);
            if (newSize > maxEventBytes) {
                resetEvent();
                throw new SseException("SSE event exceeds " + maxEventBytes + " bytes");
            }
            data.append(decode(l, valueStart, length));
            hasData = true;
        } else if (is(l, nameEnd, "event")) {
            eventType = decode(l, valueStart, length);
        } else if (is(l, nameEnd, "id")) {
            var id = decode(l, valueStart, length);
            if (id.indexOf('\0') < 0) lastEventId = id;
        } else if (is(l, nameEnd, "retry")) {
            long value = 0;
            boolean digits = valueStart < length;
            for (int i = valueStart; i < length && digits; i++) {
                digits = l[i] >= '0' && l[i] <= '9';
                value = value * 10 + (l[i] - '0');
            }
            if (digits) retry = value;
        }
        // Any other field name is ignored, as the spec says.
    }

    private void dispatch() {
        if (!hasData) {
            eventType = null; // the spec resets the type even when nothing is dispatched
            data.setLength(0);
            return;
        }
        var event = new SseEvent(eventType, data.toString(), lastEventId, retry);
        resetEvent();
        listener.onEvent(event);
    }

    private void resetEvent() {
        data.setLength(0);
        hasData = false;
        eventType = null;
    }

    private static int skipSpace(byte[] l, int i, int length) {
        return i < length && l[i] == ' ' ? i + 1 : i;
    }

    private static boolean is(byte[] l, int length, String name) {
        if (length != name.length()) return false;
        for (int i = 0; i < length; i++) if (l[i] != name.charAt(i)) return false;
        return true;
    }

    private static String decode(byte[] l, int from, int to) {
        return new String(l, from, to - from, StandardCharsets.UTF_8);
    }
}
