package dev.sluice.wire.sse;

import java.nio.charset.StandardCharsets;

/** Frames Server-Sent Events and comments as bytes, splitting multi-line values into one field per line. */
public final class SseWriter {

    private SseWriter() {}

    /** {@code data: <data>\n\n}, the shape OpenAI streams use. */
    public static byte[] data(String data) {
        return event(null, null, data);
    }

    public static byte[] event(String event, String id, String data) {
        var out = new StringBuilder(data.length() + 32);
        if (id != null) field(out, "id", id);
        if (event != null) field(out, "event", event);
        field(out, "data", data);
        out.append('\n');
        return out.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** A comment line; clients ignore it, proxies see traffic. Used for keep-alives. */
    public static byte[] comment(String text) {
        var out = new StringBuilder(text.length() + 4);
        field(out, "", text);
        return out.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static void field(StringBuilder out, String name, String value) {
        if (name.equals("id") || name.equals("event")) {
            if (value.indexOf('\n') >= 0 || value.indexOf('\r') >= 0) {
                throw new IllegalArgumentException("SSE " + name + " cannot contain a line break");
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
