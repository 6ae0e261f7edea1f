package dev.sluice.gateway.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.DefaultByteBufHolder;
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

    /** Where the body starts in {@link #content()}: an answer to HEAD is the head alone. */
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

    /** A head being written into a buffer, header by header. */
    static final class Head {
        private final ByteBuf buf;

        private Head(ByteBuf buf) {
            this.buf = buf;
        }

        /**
         * One header line. Names and values come from the gateway's code and configuration, and from upstream
         * answers (Retry-After): a name that is not an RFC 9110 token, or a value with CR, LF, NUL or a character
         * outside ISO-8859-1, would split or corrupt the response, and is refused as Netty's header map refuses it.
         */
        void header(CharSequence name, CharSequence value) {
            for (int i = 0; i < name.length(); i++) {
                if (!tchar(name.charAt(i))) throw new IllegalArgumentException("not a header name: " + name);
            }
            buf.writeCharSequence(name, StandardCharsets.US_ASCII);
            buf.writeByte(':').writeByte(' ');
            value(value);
            buf.writeByte('\r').writeByte('\n');
        }

        private void value(CharSequence value) {
            for (int i = 0; i < value.length(); i++) {
                char c = value.charAt(i);
                if (c == '\r' || c == '\n' || c == 0 || c > 0xFF) {
                    throw new IllegalArgumentException("a header value with CR, LF, NUL or a character outside ISO-8859-1");
                }
                buf.writeByte(c);
            }
        }
    }

    /**
     * The response: status line, then {@code content-type} and {@code content-length} when there is a
     * {@code contentType}, {@code x-request-id}, the other {@code headers} in their order, what {@code more} adds
     * (CORS), and {@code connection: close} unless {@code keepAlive}; then {@code content}, which is released.
     */
    static EncodedResponse of(ByteBufAllocator alloc, int status, String contentType, ByteBuf content, String requestId,
                              Map<String, String> headers, java.util.function.Consumer<Head> more, boolean keepAlive) {
        int length = content.readableBytes();
        var buf = alloc.directBuffer(256 + length);
        try {
            buf.writeBytes(statusLine(status));
            var head = new Head(buf);
            if (contentType != null) {
                buf.writeBytes(CONTENT_TYPE);
                head.value(contentType);
                buf.writeByte('\r').writeByte('\n');
                buf.writeBytes(CONTENT_LENGTH);
                buf.writeCharSequence(Integer.toString(length), StandardCharsets.US_ASCII);
                buf.writeByte('\r').writeByte('\n');
            }
            buf.writeBytes(REQUEST_ID);
            head.value(requestId);
            buf.writeByte('\r').writeByte('\n');
            if (headers != null) {
                for (var h : headers.entrySet()) head.header(h.getKey(), h.getValue());
            }
            more.accept(head);
            if (!keepAlive) buf.writeBytes(CONNECTION_CLOSE);
            buf.writeByte('\r').writeByte('\n');
            int headLength = buf.writerIndex();
            buf.writeBytes(content, content.readerIndex(), length);
            return new EncodedResponse(buf, headLength);
        } catch (RuntimeException e) {
            buf.release();
            throw e;
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

    /** RFC 9110 §5.6.2. */
    private static boolean tchar(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }
}
