package dev.sluice.gateway.upstream;

import io.netty.handler.codec.http.HttpHeaderValidationUtil;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * An upstream request's head, encoded into bytes: request line, Host unless given, the caller's headers, and
 * the framing, which this class owns (Content-Length; never chunked). Writing these bytes instead of a Netty
 * request object through {@code HttpRequestEncoder} spares every request a header map, its validation and its
 * encoding on the event loop, where the request waits for them. Everything but the length is the same for
 * every request of a provider, so it is encoded once ({@link #prefix}) and each request adds its length
 * ({@link #withLength}).
 *
 * @param bytes     the head; a prefix ends after its last header line, a complete head with the empty line
 * @param keepAlive false when the caller asked for {@code Connection: close}
 */
record RequestHead(byte[] bytes, boolean keepAlive) {

    /** The complete head: {@link #prefix} with its length. */
    static RequestHead of(String method, String pathAndQuery, Map<String, String> given, String hostHeader, Integer contentLength) {
        return prefix(method, pathAndQuery, given, hostHeader).withLength(contentLength);
    }

    /**
     * Everything but the framing: the request line and the header lines, without the empty line that ends them.
     *
     * @throws IllegalArgumentException for a method or header name that is not an RFC 9110 token, or a header
     *         value that is null, holds CR, LF or NUL, or a character outside ISO-8859-1
     */
    static RequestHead prefix(String method, String pathAndQuery, Map<String, String> given, String hostHeader) {
        if (!token(method)) throw new IllegalArgumentException("not a method: " + method);
        var out = new ByteArrayOutputStream(256);
        ascii(out, method);
        out.write(' ');
        // UTF-8, as Netty's request encoder and the SDK's transport write it: a URI's raw path may hold non-ASCII
        // characters, which ASCII encoding would turn into '?'.
        out.writeBytes(pathAndQuery.getBytes(StandardCharsets.UTF_8));
        ascii(out, " HTTP/1.1\r\n");
        boolean hostGiven = false;
        boolean close = false;
        for (var e : given.entrySet()) {
            var name = e.getKey();
            if (!token(name)) throw new IllegalArgumentException("not a header name: " + name);
            if (name.equalsIgnoreCase("host")) hostGiven = true;
        }
        if (!hostGiven) header(out, "Host", hostHeader);
        for (var e : given.entrySet()) {
            var name = e.getKey();
            // The framing is this class's: a body is always sent with its length.
            if (name.equalsIgnoreCase("content-length") || name.equalsIgnoreCase("transfer-encoding")) continue;
            var value = e.getValue();
            if (value == null || !safe(value)) {
                throw new IllegalArgumentException("header " + name + " has a null value or one with CR, LF or NUL");
            }
            if (name.equalsIgnoreCase("connection")) close |= hasToken(value, "close");
            header(out, name, value.strip());
        }
        return new RequestHead(out.toByteArray(), !close);
    }

    private static final byte[] CONTENT_LENGTH = "Content-Length: ".getBytes(StandardCharsets.US_ASCII);

    /** This prefix, ended: with {@code Content-Length} when there is a body ({@code contentLength} not null). */
    RequestHead withLength(Integer contentLength) {
        var length = contentLength == null ? null : Integer.toString(contentLength).getBytes(StandardCharsets.US_ASCII);
        int size = bytes.length + (length == null ? 0 : CONTENT_LENGTH.length + length.length + 2) + 2;
        var head = java.util.Arrays.copyOf(bytes, size);
        int at = bytes.length;
        if (length != null) {
            System.arraycopy(CONTENT_LENGTH, 0, head, at, CONTENT_LENGTH.length);
            at += CONTENT_LENGTH.length;
            System.arraycopy(length, 0, head, at, length.length);
            at += length.length;
            head[at++] = '\r';
            head[at++] = '\n';
        }
        head[at++] = '\r'; // the empty line
        head[at] = '\n';
        return new RequestHead(head, keepAlive);
    }

    private static void header(ByteArrayOutputStream out, String name, String value) {
        ascii(out, name);
        out.write(':');
        out.write(' ');
        latin1(out, value);
        out.write('\r');
        out.write('\n');
    }

    private static void ascii(ByteArrayOutputStream out, String s) {
        out.writeBytes(s.getBytes(StandardCharsets.US_ASCII));
    }

    private static void latin1(ByteArrayOutputStream out, String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c > 0xFF) throw new IllegalArgumentException("a header value with a character outside ISO-8859-1");
            out.write(c);
        }
    }

    private static boolean safe(String value) {
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c == '\r' || c == '\n' || c == 0) return false;
        }
        return true;
    }

    /** RFC 9110 §5.6.2: 1*tchar, as Netty checks header names. */
    private static boolean token(String s) {
        return s != null && !s.isEmpty() && HttpHeaderValidationUtil.validateToken(s) == -1;
    }

    /** Whether a comma-separated header value lists {@code token}, ignoring case. */
    private static boolean hasToken(String value, String token) {
        for (var part : value.split(",")) {
            if (part.strip().equalsIgnoreCase(token)) return true;
        }
        return false;
    }
}
