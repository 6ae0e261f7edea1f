package dev.sluice.bench;

import java.nio.charset.StandardCharsets;

/**
 * Incremental (push) parser for one HTTP/1.1 response at a time: status line, headers, then a body delimited by
 * Content-Length, chunked encoding or connection close. Bytes are fed as they arrive; the parser never looks
 * ahead, so time stamps taken while feeding are those of the read that delivered the bytes.
 *
 * <p>For an SSE body it splits {@code data:} lines and notes the first line with a non-empty {@code "content"}
 * (the role chunk's {@code "content":""} does not count), {@code [DONE]} and error frames. Other bodies are kept
 * (up to 64 KiB) to check that a chat.completion with content came back.
 */
final class ResponseParser {

    private enum State { STATUS, HEADERS, BODY_LENGTH, CHUNK_SIZE, CHUNK_DATA, CHUNK_CRLF, TRAILERS, BODY_EOF, COMPLETE }

    // results of the current response
    int status;
    long firstContentNanos;
    /** The upstream's send-time stamp in the first content chunk's id (see {@link FakeUpstream#STAMP_PREFIX}), or 0. */
    long firstContentStamp;
    /** The upstream's stamp of when it took the request, from the same id, or 0. */
    long firstContentTaken;
    int contentChunks;
    /**
     * FNV-1a over the raw bytes of every content string in order (a stream's deltas, or a completion's message), so
     * the text can be checked whole whatever its split into chunks: a gateway that continued an answer on another
     * deployment must not repeat or lose any of it.
     */
    long contentHash = FNV_OFFSET;
    boolean done;
    boolean errorFrame;
    boolean connectionClose;
    String errorDetail;

    private State state = State.STATUS;
    private boolean sse;
    private boolean expectSse;
    private boolean chunked;
    private long remaining;

    private byte[] line = new byte[8192];
    private int lineLen;
    private byte[] body = new byte[8192];
    private int bodyLen;

    /** Prepares for the next response; {@code stream} says whether an SSE body is expected. */
    void reset(boolean stream) {
        status = 0;
        firstContentNanos = 0;
        firstContentStamp = 0;
        firstContentTaken = 0;
        contentChunks = 0;
        contentHash = FNV_OFFSET;
        done = false;
        errorFrame = false;
        connectionClose = false;
        errorDetail = null;
        state = State.STATUS;
        expectSse = stream;
        sse = false;
        chunked = false;
        remaining = -1;
        lineLen = 0;
        bodyLen = 0;
    }

    boolean complete() {
        return state == State.COMPLETE;
    }

    /** The peer closed the connection: completes a close-delimited body, otherwise the response is truncated. */
    boolean onEof() {
        if (state == State.BODY_EOF) {
            finishBody();
            state = State.COMPLETE;
            connectionClose = true;
            return true;
        }
        return false;
    }

    /**
     * Feeds {@code n} bytes. Returns the number consumed: fewer than {@code n} only when the response completed
     * inside them (the rest would belong to a pipelined response, which this client never has).
     */
    int feed(byte[] b, int off, int n) throws ProtocolException {
        int i = off;
        int end = off + n;
        while (i < end && state != State.COMPLETE) {
            switch (state) {
                case STATUS, HEADERS, CHUNK_SIZE, CHUNK_CRLF, TRAILERS -> {
                    // line-oriented states
                    byte c = b[i++];
                    if (c == '\n') {
                        int len = lineLen;
                        if (len > 0 && line[len - 1] == '\r') len--;
                        lineLen = 0;
                        onHeadLine(len);
                    } else {
                        if (lineLen == line.length) throw new ProtocolException("line too long in state " + state);
                        line[lineLen++] = c;
                    }
                }
                case BODY_LENGTH -> {
                    int take = (int) Math.min(remaining, end - i);
                    body(b, i, take);
                    i += take;
                    remaining -= take;
                    if (remaining == 0) {
                        finishBody();
                        state = State.COMPLETE;
                    }
                }
                case CHUNK_DATA -> {
                    int take = (int) Math.min(remaining, end - i);
                    body(b, i, take);
                    i += take;
                    remaining -= take;
                    if (remaining == 0) state = State.CHUNK_CRLF;
                }
                case BODY_EOF -> {
                    body(b, i, end - i);
                    i = end;
                }
                default -> throw new IllegalStateException(state.name());
            }
        }
        return i - off;
    }

    private void onHeadLine(int len) throws ProtocolException {
        switch (state) {
            case STATUS -> {
                if (len < 12 || !startsWith(line, 0, len, HTTP1)) throw new ProtocolException("bad status line: " + ascii(line, 0, len));
                status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
                if (line[7] == '0') connectionClose = true; // HTTP/1.0
                state = State.HEADERS;
            }
            case HEADERS -> {
                if (len == 0) {
                    startBody();
                    return;
                }
                int colon = indexOf(line, 0, len, (byte) ':');
                if (colon < 0) return;
                String name = ascii(line, 0, colon).trim();
                if (name.equalsIgnoreCase("content-length")) {
                    remaining = Long.parseLong(ascii(line, colon + 1, len).trim());
                } else if (name.equalsIgnoreCase("transfer-encoding")) {
                    chunked = ascii(line, colon + 1, len).toLowerCase().contains("chunked");
                } else if (name.equalsIgnoreCase("connection")) {
                    String v = ascii(line, colon + 1, len).trim();
                    if (v.equalsIgnoreCase("close")) connectionClose = true;
                    else if (v.equalsIgnoreCase("keep-alive")) connectionClose = false;
                }
            }
            case CHUNK_SIZE -> {
                long size = 0;
                int k = 0;
                for (; k < len; k++) {
                    int d = Character.digit(line[k], 16);
                    if (d < 0) break;
                    size = size * 16 + d;
                }
                if (k == 0) throw new ProtocolException("bad chunk size line: " + ascii(line, 0, len));
                if (size == 0) {
                    state = State.TRAILERS;
                } else {
                    remaining = size;
                    state = State.CHUNK_DATA;
                }
            }
            case CHUNK_CRLF -> {
                if (len != 0) throw new ProtocolException("missing CRLF after chunk data");
                state = State.CHUNK_SIZE;
            }
            case TRAILERS -> {
                if (len == 0) {
                    finishBody();
                    state = State.COMPLETE;
                }
            }
            default -> throw new IllegalStateException(state.name());
        }
    }

    private void startBody() {
        sse = expectSse && status == 200;
        lineLen = 0;
        if (chunked) {
            state = State.CHUNK_SIZE;
        } else if (remaining >= 0) {
            if (remaining == 0) {
                finishBody();
                state = State.COMPLETE;
            } else {
                state = State.BODY_LENGTH;
            }
        } else if (status == 204 || status == 304 || (status >= 100 && status < 200)) {
            state = State.COMPLETE;
        } else {
            state = State.BODY_EOF;
        }
    }

    // ---- body ---------------------------------------------------------------------------------------------

    private void body(byte[] b, int off, int n) {
        if (!sse) {
            int keep = Math.min(n, 64 * 1024 - bodyLen);
            if (keep > 0) {
                if (bodyLen + keep > body.length) {
                    var bigger = new byte[Math.max(body.length * 2, bodyLen + keep)];
                    System.arraycopy(body, 0, bigger, 0, bodyLen);
                    body = bigger;
                }
                System.arraycopy(b, off, body, bodyLen, keep);
                bodyLen += keep;
            }
            return;
        }
        for (int i = off, end = off + n; i < end; i++) {
            byte c = b[i];
            if (c == '\n') {
                sseLine();
            } else if (bodyLen < body.length) {
                body[bodyLen++] = c; // the current SSE line (body[] doubles as the line buffer for SSE)
            } else {
                var bigger = new byte[body.length * 2];
                System.arraycopy(body, 0, bigger, 0, bodyLen);
                body = bigger;
                body[bodyLen++] = c;
            }
        }
    }

    private static final byte[] HTTP1 = "HTTP/1.".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] DATA = "data:".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] DONE = "[DONE]".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] CONTENT_KEY = "\"content\"".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] ERROR_KEY = "{\"error\"".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] FINISH_KEY = "\"finish_reason\"".getBytes(StandardCharsets.US_ASCII);

    private void sseLine() {
        int n = bodyLen;
        bodyLen = 0;
        if (n > 0 && body[n - 1] == '\r') n--;
        if (!startsWith(body, 0, n, DATA)) return;
        int p = DATA.length;
        if (p < n && body[p] == ' ') p++;
        if (n - p == DONE.length && startsWith(body, p, n, DONE)) {
            done = true;
            return;
        }
        if (startsWith(body, p, n, ERROR_KEY)) {
            errorFrame = true;
            if (errorDetail == null) errorDetail = new String(body, 0, Math.min(n, 300), StandardCharsets.UTF_8);
            return;
        }
        if (hasNonEmptyContent(body, p, n)) {
            contentHash = hashContent(contentHash, body, p, n);
            contentChunks++;
            if (firstContentNanos == 0) {
                firstContentNanos = System.nanoTime();
                int key = indexOf(body, p, n, FakeUpstream.STAMP_KEY);
                firstContentStamp = stamp(body, key, n, 0);
                firstContentTaken = stamp(body, key, n, 1);
            }
        }
    }

    /**
     * The {@code which}th number in the id's digits (0: sent, 1: request taken) after the stamp key found at
     * {@code at}, or 0 when there is none (-1: a proxy that makes its own ids).
     */
    static long stamp(byte[] s, int at, int to, int which) {
        int start = at + FakeUpstream.STAMP_KEY.length + which * FakeUpstream.STAMP_DIGITS;
        if (at < 0 || start + FakeUpstream.STAMP_DIGITS > to) return 0;
        long v = 0;
        for (int i = start, end = i + FakeUpstream.STAMP_DIGITS; i < end; i++) {
            int d = s[i] - '0';
            if (d < 0 || d > 9) return 0;
            v = v * 10 + d;
        }
        return v;
    }

    private void finishBody() {
        if (sse) {
            if (bodyLen > 0) sseLine();
            return;
        }
        boolean ok = status == 200 && hasNonEmptyContent(body, 0, bodyLen) && indexOf(body, 0, bodyLen, FINISH_KEY) >= 0;
        if (ok) {
            contentChunks = 1;
            contentHash = hashContent(contentHash, body, 0, bodyLen);
        } else {
            errorDetail = new String(body, 0, Math.min(bodyLen, 300), StandardCharsets.UTF_8);
        }
    }

    /** Non-stream: whether the body was a chat.completion with content. */
    boolean bodyOk() {
        return !sse && contentChunks == 1 && errorDetail == null;
    }

    static final long FNV_OFFSET = 0xcbf29ce484222325L;
    private static final long FNV_PRIME = 0x100000001b3L;

    /** FNV-1a of {@code bytes} continued from {@code h}. */
    static long fnv(long h, byte[] bytes) {
        for (byte b : bytes) h = (h ^ (b & 0xff)) * FNV_PRIME;
        return h;
    }

    /** Continues {@code h} with the raw (still JSON-escaped) bytes of the first non-empty content string in s[from, to). */
    static long hashContent(long h, byte[] s, int from, int to) {
        int j = contentStart(s, from, to);
        if (j < 0) return h;
        for (int k = j; k < to && s[k] != '"'; k++) {
            if (s[k] == '\\' && k + 1 < to) h = (h ^ (s[k++] & 0xff)) * FNV_PRIME; // keep an escaped quote inside the value
            h = (h ^ (s[k] & 0xff)) * FNV_PRIME;
        }
        return h;
    }

    /** Whether the JSON text has {@code "content": "<at least one char>"}. */
    static boolean hasNonEmptyContent(byte[] s, int from, int to) {
        return contentStart(s, from, to) >= 0;
    }

    /** Index of the first character of the first non-empty {@code "content"} string value, or -1. */
    private static int contentStart(byte[] s, int from, int to) {
        int i = from;
        while ((i = indexOf(s, i, to, CONTENT_KEY)) >= 0) {
            int j = i + CONTENT_KEY.length;
            while (j < to && (s[j] == ' ' || s[j] == '\t')) j++;
            if (j < to && s[j] == ':') {
                j++;
                while (j < to && (s[j] == ' ' || s[j] == '\t')) j++;
                if (j + 1 < to && s[j] == '"' && s[j + 1] != '"') return j + 1;
            }
            i = j;
        }
        return -1;
    }

    private static boolean startsWith(byte[] s, int from, int to, byte[] prefix) {
        if (to - from < prefix.length) return false;
        for (int k = 0; k < prefix.length; k++) if (s[from + k] != prefix[k]) return false;
        return true;
    }

    private static int indexOf(byte[] s, int from, int to, byte c) {
        for (int i = from; i < to; i++) if (s[i] == c) return i;
        return -1;
    }

    static int indexOf(byte[] s, int from, int to, byte[] needle) {
        outer:
        for (int i = from, last = to - needle.length; i <= last; i++) {
            for (int k = 0; k < needle.length; k++) if (s[i + k] != needle[k]) continue outer;
            return i;
        }
        return -1;
    }

    private static String ascii(byte[] b, int from, int to) {
        return new String(b, from, to - from, StandardCharsets.ISO_8859_1);
    }

    static final class ProtocolException extends Exception {
        ProtocolException(String message) {
            super(message);
        }
    }
}
