package dev.sluice.gateway.provider.openai;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.gateway.config.GatewayConfig.ProviderConfig;
import dev.sluice.gateway.provider.UpstreamException;
import dev.sluice.wire.chat.StreamError;
import dev.sluice.wire.chat.StreamEvent;
import dev.sluice.wire.json.Json;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The credentials the gateway sends to one provider, kept out of what the provider says back. Some upstreams
 * quote the key they were sent in an error ("Incorrect API key provided: sk-..."), and the gateway relays upstream
 * errors to its clients: without this, any client could read the operator's key from one failed request.
 */
final class Secrets {

    static final String MASK = "[redacted]";
    /** Shorter values (a region, "1") are not secrets and would mask ordinary words. */
    private static final int MIN_LENGTH = 8;

    private final List<String> values;

    Secrets(List<String> values) {
        this.values = values.stream().filter(v -> v != null && v.length() >= MIN_LENGTH).distinct().toList();
    }

    /** The API key and the values of configured headers whose names say they carry a credential. */
    static Secrets of(ProviderConfig config) {
        var values = new ArrayList<String>();
        values.add(config.apiKey());
        config.headers().forEach((name, value) -> {
            var n = name.toLowerCase(Locale.ROOT);
            if (n.contains("auth") || n.contains("key") || n.contains("token") || n.contains("secret")) {
                values.add(value);
                // "Bearer <token>": the token alone may be quoted back too.
                int space = value.indexOf(' ');
                if (space > 0) values.add(value.substring(space + 1).strip());
            }
        });
        return new Secrets(values);
    }

    boolean isEmpty() {
        return values.isEmpty();
    }

    String redact(String text) {
        if (text == null) return null;
        for (var v : values) {
            if (text.contains(v)) text = text.replace(v, MASK);
        }
        return text;
    }

    byte[] redact(byte[] body) {
        if (body == null || values.isEmpty()) return body;
        var text = new String(body, StandardCharsets.ISO_8859_1); // byte for byte: what is not replaced stays as it was
        var clean = text;
        for (var v : values) {
            var raw = new String(v.getBytes(StandardCharsets.UTF_8), StandardCharsets.ISO_8859_1);
            if (clean.contains(raw)) clean = clean.replace(raw, MASK);
        }
        return clean == text ? body : clean.getBytes(StandardCharsets.ISO_8859_1);
    }

    UpstreamException redact(UpstreamException e) {
        if (values.isEmpty()) return e;
        var message = redact(e.getMessage());
        var body = redact(e.body());
        if (message == e.getMessage() && body == e.body()) return e; // the same instances: nothing was replaced
        return new UpstreamException(e.kind(), e.status(), message, body, e.contentType(), e.retryAfter(), e.getCause());
    }

    /** The event itself, or for an error that quotes a secret, a copy without it. */
    StreamEvent redact(StreamEvent event) {
        if (!(event instanceof StreamEvent.Error(var error)) || values.isEmpty()) return event;
        var raw = error.raw() == null ? null : Json.bytes(error.raw());
        var cleanRaw = redact(raw);
        var message = redact(error.message());
        var type = redact(error.type());
        var code = redact(error.code());
        var param = redact(error.param());
        if (cleanRaw == raw && message == error.message() && type == error.type() && code == error.code() && param == error.param()) {
            return event;
        }
        JsonNode rawNode = cleanRaw == null ? null : Json.parse(cleanRaw);
        return new StreamEvent.Error(new StreamError(message, type, code, param, rawNode));
    }
}
