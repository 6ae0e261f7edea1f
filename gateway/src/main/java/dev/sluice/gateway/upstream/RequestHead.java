package dev.sluice.gateway.upstream;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * An upstream request's head, encoded once into bytes when the exchange is created: request line, Host unless
 * given, the caller's headers, and the framing, which this class owns (Content-Length; never chunked). Writing
 * these bytes instead of a Netty request object through {@code HttpRequestEncoder} spares every request a
 * header map, its validation and its encoding on the event loop, where the request waits for them.
 *
 * @param bytes     the head, ending with the empty line
 * @param keepAlive false when the caller asked for {@code Connection: close}
 */
record RequestHead(byte[] bytes, boolean keepAlive) {

    /**
     * @throws IllegalArgumentException for a method or header name that is not an RFC 9110 token, or a header
     *         value that is null, holds CR, LF or NUL, or a character outside ISO-8859-1
     */
    static RequestHead of(String method, String pathAndQuery, Map<String, String> given, String hostHeader, Integer contentLength) {
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
        if (contentLength != null) header(out, "Content-Length", Integer.toString(contentLength));
        ascii(out, "\r\n");
        return new RequestHead(out.toByteArray(), !close);
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

    /** RFC 9110 §5.6.2: 1*tchar. */
    private static boolean token(String s) {
        if (s == null || s.isEmpty()) return false;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
            if (!ok) return false;
        }
        return true;
    }

    /** Whether a comma-separated header value lists {@code token}, ignoring case. */
    private static boolean hasToken(String value, String token) {
        for (var part : value.split(",")) {
            if (part.strip().equalsIgnoreCase(token)) return true;
        }
        return false;
    }
}
