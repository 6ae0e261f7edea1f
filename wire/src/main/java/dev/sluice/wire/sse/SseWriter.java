package dev.sluice.wire.sse;

import java.nio.charset.StandardCharsets;
import java.util.Objects;

/** Frames Server-Sent Events and comments as bytes, splitting multi-line values into one field per line. */
public final class SseWriter {

    private SseWriter() {}

    /** {@code data: <data>\n\n}, the shape OpenAI streams use. */
    public static byte[] data(String data) {
        return event(null, null, data);
    }

    /**
     * {@code id: <id>\nevent: <event>\ndata: <data>\n\n}; a null {@code id} or {@code event} is omitted. Line
     * breaks in {@code data} (LF, CRLF or CR) become separate {@code data} lines, so a client reads them all back
     * as LF. {@code event} and {@code id} cannot hold line breaks, nor {@code id} a NUL.
     *
     * @throws IllegalArgumentException if {@code event} or {@code id} cannot be framed
     */
    public static byte[] event(String event, String id, String data) {
        Objects.requireNonNull(data, "data");
        var out = new StringBuilder(data.length() + 32);
        if (id != null) field(out, "id", id);
        if (event != null) field(out, "event", event);
        field(out, "data", data);
        out.append('\n');
        return out.toString().getBytes(StandardCharsets.UTF_8);
    }

    /**
     * A comment line, {@code : <text>\n}; clients ignore it, proxies see traffic. Used for keep-alives. A text with
     * line breaks becomes one comment line per line. No blank line follows: a comment never dispatches an event.
     */
    public static byte[] comment(String text) {
        Objects.requireNonNull(text, "text");
        var out = new StringBuilder(text.length() + 4);
        field(out, "", text);
        return out.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static void field(StringBuilder out, String name, String value) {
        if (name.equals("id") || name.equals("event")) {
            if (value.indexOf('\n') >= 0 || value.indexOf('\r') >= 0) {
                throw new IllegalArgumentException("SSE " + name + " cannot contain a line break");
            }
            // A client ignores an id field containing NUL and keeps the previous id: refuse to write one.
            if (name.equals("id") && value.indexOf('\0') >= 0) {
                throw new IllegalArgumentException("SSE id cannot contain NUL (U+0000)");
            }
        }
        int start = 0;
        int n = value.length();
        for (int i = 0; i <= n; i++) {
            char c = i < n ? value.charAt(i) : '\n';
            if (c == '\n' || c == '\r') {
                out.append(name).append(':');
                if (i > start || name.isEmpty()) out.append(' ');
                out.append(value, start, i).append('\n');
                if (c == '\r' && i + 1 < n && value.charAt(i + 1) == '\n') i++;
                start = i + 1;
            }
        }
    }
}
