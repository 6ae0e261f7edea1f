package dev.sluice.gateway.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.DefaultByteBufHolder;
import io.netty.handler.codec.http.HttpHeaderValidationUtil;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * A whole response (head and body) already in bytes, which the server's codec writes as they are
 * ({@link ServerCodec}). Every answer that is not a stream is one of these: building a Netty response object
 * only for its encoder to turn back into bytes costs a header map, the validation of each name and value as it
 * goes in, and a walk over the map to encode it, on the event loop, for every request. A buffer holder, so that a
 * write that never reaches the codec (the connection closed first) releases it like any other message.
 */
final class EncodedResponse extends DefaultByteBufHolder {

    /** Where the body starts in {@link #content()}, from its reader index: an answer to HEAD is the head alone. */
    private final int headLength;

    private EncodedResponse(ByteBuf bytes, int headLength) {
        super(bytes);
        this.headLength = headLength;
    }

    int headLength() {
        return headLength;
    }

    /** Status lines, made when first needed ("HTTP/1.1 200 OK\r\n"); a racing second copy is the same bytes. */
    private static final byte[][] STATUS_LINES = new byte[600][];

    private static final byte[] CONTENT_TYPE = ascii("content-type: ");
    private static final byte[] CONTENT_LENGTH = ascii("content-length: ");
    private static final byte[] REQUEST_ID = ascii("x-request-id: ");
    private static final byte[] CONNECTION_CLOSE = ascii("connection: close\r\n");

    /**
     * Room a body may leave in front of itself ({@link #reserveHead}): the head is then written into it, and head
     * and body go out as one buffer without a copy of the body. Enough for the heads the gateway writes but
     * those with long CORS or error headers, which are copied instead.
     */
    static final int HEAD_ROOM = 512;

    /** A buffer for a body, with {@link #HEAD_ROOM} before it. */
    static ByteBuf reserveHead(ByteBufAllocator alloc, int bodyCapacity) {
        var buf = alloc.directBuffer(HEAD_ROOM + bodyCapacity);
        buf.writerIndex(HEAD_ROOM).readerIndex(HEAD_ROOM);
        return buf;
    }

    /** A head being written, header by header. */
    static final class Head {
        private byte[] bytes = new byte[256];
        private int size;

        /**
         * One header line. Names and values come from the gateway's code and configuration, and from upstream
         * answers (Retry-After): they are checked as Netty's header map checks them (a name an RFC 9110 token, a
         * value without CR, LF or other controls but tab), and a value's characters must be ISO-8859-1, the bytes
         * they are written as.
         */
        void header(CharSequence name, CharSequence value) {
            if (name.isEmpty() || HttpHeaderValidationUtil.validateToken(name) != -1) throw new IllegalArgumentException("not a header name: " + name);
            room(name.length() + 2);
            for (int i = 0; i < name.length(); i++) bytes[size++] = (byte) name.charAt(i);
            bytes[size++] = ':';
            bytes[size++] = ' ';
            value(value);
            crlf();
        }

        private void value(CharSequence value) {
            if (HttpHeaderValidationUtil.validateValidHeaderValue(value) != -1) {
                throw new IllegalArgumentException("a header value with CR, LF or another control character");
            }
            room(value.length());
            for (int i = 0; i < value.length(); i++) {
                char c = value.charAt(i);
                if (c > 0xFF) throw new IllegalArgumentException("a header value with a character outside ISO-8859-1");
                bytes[size++] = (byte) c;
            }
        }

        private void raw(byte[] b) {
            room(b.length);
            System.arraycopy(b, 0, bytes, size, b.length);
            size += b.length;
        }

        private void crlf() {
            room(2);
            bytes[size++] = '\r';
            bytes[size++] = '\n';
        }

        private void room(int n) {
            if (size + n > bytes.length) bytes = java.util.Arrays.copyOf(bytes, Math.max(bytes.length * 2, size + n));
        }
    }

    /**
     * The response: status line, then {@code content-type} and {@code content-length} when there is a
     * {@code contentType}, {@code x-request-id}, the other {@code headers} in their order, what {@code more} adds
     * (CORS), and {@code connection: close} unless {@code keepAlive}; then {@code content}, which is taken over
     * (written in place when it has room for the head in front, see {@link #reserveHead}; else copied and released).
     */
    static EncodedResponse of(ByteBufAllocator alloc, int status, String contentType, ByteBuf content, String requestId,
                              Map<String, String> headers, java.util.function.Consumer<Head> more, boolean keepAlive) {
        int length = content.readableBytes();
        var head = new Head();
        try {
            head.raw(statusLine(status));
            if (contentType != null) {
                head.raw(CONTENT_TYPE);
                head.value(contentType);
                head.crlf();
                head.raw(CONTENT_LENGTH);
                head.value(Integer.toString(length));
                head.crlf();
            }
            head.raw(REQUEST_ID);
            head.value(requestId);
            head.crlf();
            if (headers != null) {
                for (var h : headers.entrySet()) head.header(h.getKey(), h.getValue());
            }
            more.accept(head);
            if (!keepAlive) head.raw(CONNECTION_CLOSE);
            head.crlf();
        } catch (RuntimeException e) {
            content.release();
            throw e;
        }
        if (content.readerIndex() >= head.size) {
            content.readerIndex(content.readerIndex() - head.size);
            content.setBytes(content.readerIndex(), head.bytes, 0, head.size);
            return new EncodedResponse(content, head.size);
        }
        try {
            var buf = alloc.directBuffer(head.size + length);
            buf.writeBytes(head.bytes, 0, head.size);
            buf.writeBytes(content, content.readerIndex(), length);
            return new EncodedResponse(buf, head.size);
        } finally {
            content.release();
        }
    }

    private static byte[] statusLine(int status) {
        byte[] line = status >= 100 && status < STATUS_LINES.length ? STATUS_LINES[status] : null;
        if (line == null) {
            var s = HttpResponseStatus.valueOf(status);
            line = ascii("HTTP/1.1 " + s.codeAsText() + " " + s.reasonPhrase() + "\r\n");
            if (status >= 100 && status < STATUS_LINES.length) STATUS_LINES[status] = line;
        }
        return line;
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }
}
