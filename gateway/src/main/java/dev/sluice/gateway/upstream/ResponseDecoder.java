package dev.sluice.gateway.upstream;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * HTTP/1.1 responses decoded straight from the socket's buffers (RFC 9112): the head, then a body framed by
 * chunked transfer coding, Content-Length, or the connection's close. A body's bytes go to the {@link Sink} as
 * slices of the buffer that was read, so relaying a streamed chunk costs no copy, no message object and no
 * retained slice (what Netty's {@code HttpObjectDecoder} spends per chunk, about a tenth of a relay's user time).
 *
 * <p>Only the lines of the head and of the chunked framing are copied, into one small array, and only while a
 * line is split across reads. Sizes are bounded like the codec this replaces: 8 KiB for the status line and for
 * a chunk-size line, 64 KiB for the header and trailer lines together.
 */
final class ResponseDecoder {

    static final int MAX_INITIAL_LINE = 8 * 1024;
    static final int MAX_HEADER_BYTES = 64 * 1024;

    /** Where decoded parts go. Each returns false once the exchange is over, and decoding then stops. */
    interface Sink {
        /** A head: informational (1xx, more heads follow) or final. */
        boolean head(HttpResponse head);

        /** Body bytes: a slice of the read buffer, valid only during the call. */
        boolean content(ByteBuf slice);

        /** The body is complete. */
        void end();

        /** The response cannot be decoded; the connection is unusable. */
        void malformed(String message);
    }

    private enum State { IDLE, STATUS, HEADERS, FIXED, CHUNK_SIZE, CHUNK_DATA, CHUNK_END, TRAILERS, UNTIL_CLOSE, FAILED }

    private final Sink sink;
    private State state = State.IDLE;
    private boolean headRequest;

    /** The line being read when it spans reads. */
    private byte[] line = new byte[128];
    private int lineLength;
    /** Header or trailer bytes of this head so far, against {@link #MAX_HEADER_BYTES}. */
    private int headerBytes;

    private HttpVersion version;
    private HttpResponseStatus status;
    private HttpHeaders headers;
    /** Whether the head being read has Content-Length, Transfer-Encoding. */
    private boolean framedByLength, framedByCoding;
    /** The last header line's name, for an obs-fold continuation line. */
    private String lastName;
    /** Body bytes left in a Content-Length body or in the current chunk. */
    private long remaining;

    ResponseDecoder(Sink sink) {
        this.sink = sink;
    }

    /** Expects a new response, to a request that was a HEAD (no body whatever the head says) or not. */
    void expect(boolean headRequest) {
        this.headRequest = headRequest;
        state = State.STATUS; // the status line sets up the rest of a head's state
        lineLength = 0;
    }

    /** True between responses: any byte now is one nobody asked for. */
    boolean idle() {
        return state == State.IDLE;
    }

    /**
     * Decodes what {@code in} holds, consuming it. Stops early when the response ended or the sink said stop;
     * whatever is left unread then belongs to no response.
     */
    void decode(ByteBuf in) {
        while (in.isReadable()) {
            switch (state) {
                case IDLE, FAILED -> {
                    return;
                }
                case STATUS, HEADERS, CHUNK_SIZE, CHUNK_END, TRAILERS -> {
                    if (!readLine(in)) return;
                    if (!onLine()) return;
                }
                case FIXED -> {
                    int n = (int) Math.min(remaining, in.readableBytes());
                    remaining -= n;
                    if (!deliver(in, n)) return;
                    if (remaining == 0) {
                        state = State.IDLE;
                        sink.end();
                        return;
                    }
                }
                case CHUNK_DATA -> {
                    int n = (int) Math.min(remaining, in.readableBytes());
                    remaining -= n;
                    if (!deliver(in, n)) return;
                    if (remaining == 0) state = State.CHUNK_END;
                }
                case UNTIL_CLOSE -> {
                    if (!deliver(in, in.readableBytes())) return;
                }
            }
        }
    }

    /**
     * The connection closed. True when that ended the body (a body framed by the close); false when it cut a
     * response short or came between responses.
     */
    boolean closed() {
        if (state != State.UNTIL_CLOSE) return false;
        state = State.IDLE;
        sink.end();
        return true;
    }

    private boolean deliver(ByteBuf in, int n) {
        var slice = in.slice(in.readerIndex(), n);
        in.skipBytes(n);
        return sink.content(slice);
    }

    /**
     * Moves one line's bytes (without its CR LF or LF) into {@link #line}; false if the line goes on in the next
     * read. A line over its limit fails the response.
     */
    private boolean readLine(ByteBuf in) {
        int start = in.readerIndex();
        int lf = in.indexOf(start, in.writerIndex(), (byte) '\n');
        int end = lf < 0 ? in.writerIndex() : lf;
        int n = end - start;
        int limit = state == State.STATUS || state == State.CHUNK_SIZE || state == State.CHUNK_END
                ? MAX_INITIAL_LINE : MAX_HEADER_BYTES - headerBytes;
        if (lineLength + n > limit) {
            fail(state == State.STATUS ? "the status line is longer than " + MAX_INITIAL_LINE + " bytes"
                    : state == State.HEADERS ? "the response head is larger than " + MAX_HEADER_BYTES + " bytes"
                    : state == State.TRAILERS ? "the trailers are larger than " + MAX_HEADER_BYTES + " bytes"
                    : "a chunk-size line is longer than " + MAX_INITIAL_LINE + " bytes");
            return false;
        }
        if (lineLength + n > line.length) line = java.util.Arrays.copyOf(line, Math.max(lineLength + n, line.length * 2));
        in.getBytes(start, line, lineLength, n);
        lineLength += n;
        if (lf < 0) {
            in.readerIndex(end);
            return false;
        }
        in.readerIndex(lf + 1);
        if (lineLength > 0 && line[lineLength - 1] == '\r') lineLength--;
        if (state == State.HEADERS || state == State.TRAILERS) headerBytes += lineLength;
        return true;
    }

    /** Acts on the line in {@link #line}; false to stop decoding. */
    private boolean onLine() {
        int n = lineLength;
        lineLength = 0;
        switch (state) {
            case STATUS -> {
                if (n == 0) return true; // empty lines before a status line are tolerated (RFC 9112 §2.2)
                return statusLine(n);
            }
            case HEADERS -> {
                return n == 0 ? endOfHead() : headerLine(n);
            }
            case CHUNK_SIZE -> {
                return chunkSize(n);
            }
            case CHUNK_END -> {
                if (n != 0) {
                    fail("a chunk's data is longer than its size");
                    return false;
                }
                state = State.CHUNK_SIZE;
                return true;
            }
            case TRAILERS -> {
                if (n == 0) {
                    state = State.IDLE;
                    sink.end();
                    return false;
                }
                return true; // trailers are not passed on
            }
            default -> throw new IllegalStateException(state.name());
        }
    }

    private boolean statusLine(int n) {
        var text = new String(line, 0, n, StandardCharsets.ISO_8859_1);
        int sp1 = text.indexOf(' ');
        int sp2 = sp1 < 0 ? -1 : text.indexOf(' ', sp1 + 1);
        var codeText = sp1 < 0 ? "" : sp2 < 0 ? text.substring(sp1 + 1) : text.substring(sp1 + 1, sp2);
        if (sp1 < 0 || !text.startsWith("HTTP/1.") || codeText.length() != 3 || !digits(codeText)) {
            fail("not an HTTP/1.x status line: " + printable(text));
            return false;
        }
        try {
            version = HttpVersion.valueOf(text.substring(0, sp1));
        } catch (IllegalArgumentException e) {
            fail("not an HTTP/1.x status line: " + printable(text));
            return false;
        }
        int code = Integer.parseInt(codeText);
        if (code < 100) {
            fail("not an HTTP/1.x status line: " + printable(text));
            return false;
        }
        status = sp2 < 0 ? HttpResponseStatus.valueOf(code) : HttpResponseStatus.valueOf(code, text.substring(sp2 + 1));
        headers = new DefaultHttpHeaders();
        framedByLength = framedByCoding = false;
        headerBytes = 0;
        lastName = null;
        state = State.HEADERS;
        return true;
    }

    private boolean headerLine(int n) {
        if (line[0] == ' ' || line[0] == '\t') {
            // obs-fold (RFC 9112 §5.2): a continuation of the previous value, joined with a space.
            if (lastName == null) {
                fail("a header continuation line without a header");
                return false;
            }
            var more = new String(line, 0, n, StandardCharsets.ISO_8859_1).strip();
            var all = new java.util.ArrayList<>(headers.getAll(lastName));
            all.set(all.size() - 1, all.getLast() + " " + more);
            headers.set(lastName, all);
            return true;
        }
        int colon = -1;
        for (int i = 0; i < n; i++) {
            if (line[i] == ':') {
                colon = i;
                break;
            }
        }
        // No whitespace between a field name and its colon (RFC 9112 §5.1): a server sending it is broken.
        if (colon <= 0 || line[colon - 1] == ' ' || line[colon - 1] == '\t') {
            fail("a malformed header line: " + printable(new String(line, 0, n, StandardCharsets.ISO_8859_1)));
            return false;
        }
        var name = new String(line, 0, colon, StandardCharsets.ISO_8859_1);
        var value = new String(line, colon + 1, n - colon - 1, StandardCharsets.ISO_8859_1).strip();
        try {
            headers.add(name, value);
        } catch (IllegalArgumentException invalidName) {
            fail("a malformed header name: " + printable(name));
            return false;
        }
        // Noted as they come: the framing is decided from them for every response, without looking them up again.
        if (name.length() == 14 && name.equalsIgnoreCase("content-length")) framedByLength = true;
        else if (name.length() == 17 && name.equalsIgnoreCase("transfer-encoding")) framedByCoding = true;
        lastName = name;
        return true;
    }

    private boolean endOfHead() {
        var head = new DefaultHttpResponse(version, status, headers);
        int code = status.code();
        boolean informational = code >= 100 && code < 200;
        // Framing (RFC 9112 §6.3), decided before the sink sees the head so that a 101 or a stop is final.
        State body;
        if (informational) {
            body = State.STATUS;
        } else if (headRequest || code == 204 || code == 304) {
            body = State.IDLE;
        } else if (framedByCoding) {
            // Transfer-Encoding overrides Content-Length; chunked must be the final coding, else the close ends it.
            headers.remove(HttpHeaderNames.CONTENT_LENGTH);
            body = lastCodingIsChunked(headers) ? State.CHUNK_SIZE : State.UNTIL_CLOSE;
        } else if (framedByLength) {
            long length = contentLength(headers);
            if (length < 0) {
                fail("an invalid Content-Length: " + printable(String.join(", ", headers.getAll(HttpHeaderNames.CONTENT_LENGTH))));
                return false;
            }
            remaining = length;
            body = length == 0 ? State.IDLE : State.FIXED;
        } else {
            body = State.UNTIL_CLOSE;
        }
        state = body;
        if (informational) {
            headers = null;
            return sink.head(head);
        }
        if (!sink.head(head)) return false;
        if (body == State.IDLE) {
            sink.end();
            return false;
        }
        return true;
    }

    private boolean chunkSize(int n) {
        long size = 0;
        int digits = 0;
        for (int i = 0; i < n; i++) {
            int d = Character.digit(line[i], 16);
            if (d < 0) {
                // A chunk extension (";name=value"), possibly after whitespace, is allowed and ignored.
                byte b = line[i];
                if (digits > 0 && (b == ';' || b == ' ' || b == '\t')) break;
                digits = 0;
                break;
            }
            if (++digits > 15) {
                fail("a chunk size too large: " + printable(new String(line, 0, n, StandardCharsets.ISO_8859_1)));
                return false;
            }
            size = size * 16 + d;
        }
        if (digits == 0) {
            fail("an invalid chunk size: " + printable(new String(line, 0, n, StandardCharsets.ISO_8859_1)));
            return false;
        }
        if (size == 0) {
            headerBytes = 0;
            state = State.TRAILERS;
        } else {
            remaining = size;
            state = State.CHUNK_DATA;
        }
        return true;
    }

    private void fail(String message) {
        state = State.FAILED;
        sink.malformed(message);
    }

    private static boolean lastCodingIsChunked(HttpHeaders headers) {
        String last = null;
        for (var value : headers.getAll(HttpHeaderNames.TRANSFER_ENCODING)) {
            for (var coding : value.split(",")) {
                var c = coding.strip();
                if (!c.isEmpty()) last = c;
            }
        }
        return last != null && last.toLowerCase(Locale.ROOT).equals("chunked");
    }

    /** The length, or -1 when it is not a number or several values disagree (RFC 9110 §8.6). */
    private static long contentLength(HttpHeaders headers) {
        long length = -1;
        for (var value : headers.getAll(HttpHeaderNames.CONTENT_LENGTH)) {
            for (var part : value.split(",")) {
                var p = part.strip();
                if (p.isEmpty() || p.length() > 18 || !digits(p)) return -1;
                long v = Long.parseLong(p);
                if (length >= 0 && v != length) return -1;
                length = v;
            }
        }
        return length;
    }

    private static boolean digits(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < '0' || c > '9') return false;
        }
        return !s.isEmpty();
    }

    /** A line for an error message: bounded, control characters shown as '?'. */
    private static String printable(String s) {
        var t = s.length() > 120 ? s.substring(0, 120) + "…" : s;
        var b = new StringBuilder(t.length());
        for (int i = 0; i < t.length(); i++) {
            char c = t.charAt(i);
            b.append(c < 0x20 || c == 0x7f ? '?' : c);
        }
        return b.toString();
    }
}
