package dev.sluice.gateway.provider.sim;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * How a simulated model behaves. Set per deployment in the config and overridable per request with a
 * {@code "sim": {...}} object in the request body (handy for tests and demos).
 *
 * @param ttftMillis      delay before the first token
 * @param tokensPerSecond pace of tokens after the first; 0 sends them as fast as possible
 * @param length          tokens to generate in lorem mode (echo mode repeats the prompt)
 * @param toolCalls       scripted tool calls made when the request offers tools and the last message is not a tool result
 * @param failStatus      an HTTP status to refuse with before the first byte (e.g. 429, 503); 0 for none
 * @param retryAfterSeconds Retry-After sent with {@code failStatus}
 * @param failAfterTokens emit an error event mid-stream after this many tokens; -1 for none
 * @param failRate        probability that a configured failure happens (1 = always)
 */
public record SimSettings(
        long ttftMillis,
        double tokensPerSecond,
        int length,
        List<ScriptedCall> toolCalls,
        int failStatus,
        int retryAfterSeconds,
        int failAfterTokens,
        double failRate) {

    public record ScriptedCall(String name, String arguments) {}

    public static final SimSettings DEFAULTS = new SimSettings(100, 80, 48, List.of(), 0, 0, -1, 1.0);

    /** The settings' names, as written in the config and in a request's {@code sim} object. */
    public static final List<String> KEYS = List.of("ttft_ms", "tokens_per_second", "length", "tool_calls", "fail_status",
            "retry_after_seconds", "fail_after_tokens", "fail_rate");

    /**
     * Tokens one simulated answer may hold, over all its choices. The simulator scripts an answer whole before
     * sending it, so without a bound one request ({@code "sim": {"length": 2000000000}}, or n=128 echoes of an
     * 8 MiB prompt) could take the gateway's memory; real models stop far sooner.
     */
    public static final int MAX_ANSWER_TOKENS = 100_000;

    /**
     * Why a setting's value is refused, or null when it is fine. The same bounds hold for the config file and
     * for a request's {@code sim} object; numbers may be strings (the config's {@code ${VAR}} gives strings).
     */
    public static String problem(String key, JsonNode value) {
        return switch (key) {
            case "ttft_ms" -> wholeIn(value, 0, 600_000);
            case "length" -> wholeIn(value, 0, MAX_ANSWER_TOKENS);
            case "fail_status" -> {
                var bad = wholeIn(value, 0, 599);
                yield bad != null || asDouble(value) == 0 || asDouble(value) >= 400 ? bad : "must be 0 (none) or an error status, 400 to 599";
            }
            case "retry_after_seconds" -> wholeIn(value, 0, 86_400);
            case "fail_after_tokens" -> wholeIn(value, -1, MAX_ANSWER_TOKENS);
            case "tokens_per_second" -> numberIn(value, 0, 1_000_000);
            case "fail_rate" -> numberIn(value, 0, 1);
            case "tool_calls" -> {
                if (!value.isArray() || value.size() > 64) yield "must be a list of at most 64 {name, arguments}";
                for (var call : value) {
                    if (!call.isObject() || !call.path("name").isTextual() || call.path("name").asText().isEmpty()) {
                        yield "each call must be {name, arguments} with a name";
                    }
                }
                yield null;
            }
            default -> "unknown setting (" + String.join(", ", KEYS) + ")";
        };
    }

    private static double asDouble(JsonNode value) {
        if (value.isNumber()) return value.doubleValue();
        try {
            return value.isTextual() ? Double.parseDouble(value.asText().trim()) : Double.NaN;
        } catch (NumberFormatException e) {
            return Double.NaN;
        }
    }

    private static String wholeIn(JsonNode value, long min, long max) {
        double d = asDouble(value);
        if (Double.isNaN(d) || d != Math.rint(d)) return "must be a whole number from " + min + " to " + max;
        return d < min || d > max ? "must be from " + min + " to " + max : null;
    }

    private static String numberIn(JsonNode value, double min, double max) {
        double d = asDouble(value);
        if (Double.isNaN(d) || d < min || d > max) return "must be a number from " + fmt(min) + " to " + fmt(max);
        return null;
    }

    private static String fmt(double d) {
        return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
    }

    /** Settings from config options, then a request's {@code sim} object on top. */
    public static SimSettings from(Map<String, Object> options, JsonNode requestOverrides) {
        var s = DEFAULTS;
        s = s.with(options::get);
        if (requestOverrides != null && requestOverrides.isObject()) {
            s = s.with(key -> {
                var node = requestOverrides.get(key);
                if (node == null || node.isNull()) return null;
                if (node.isNumber()) return node.numberValue();
                if (node.isArray()) return node;
                return node.asText();
            });
        }
        return s;
    }

    private SimSettings with(java.util.function.Function<String, Object> get) {
        return new SimSettings(
                longOf(get.apply("ttft_ms"), ttftMillis),
                doubleOf(get.apply("tokens_per_second"), tokensPerSecond),
                (int) longOf(get.apply("length"), length),
                callsOf(get.apply("tool_calls"), toolCalls),
                (int) longOf(get.apply("fail_status"), failStatus),
                (int) longOf(get.apply("retry_after_seconds"), retryAfterSeconds),
                (int) longOf(get.apply("fail_after_tokens"), failAfterTokens),
                doubleOf(get.apply("fail_rate"), failRate));
    }

    private static long longOf(Object value, long fallback) {
        if (value instanceof Number n) return n.longValue();
        if (value instanceof String s && !s.isBlank()) return (long) Double.parseDouble(s.trim());
        return fallback;
    }

    private static double doubleOf(Object value, double fallback) {
        if (value instanceof Number n) return n.doubleValue();
        if (value instanceof String s && !s.isBlank()) return Double.parseDouble(s.trim());
        return fallback;
    }

    private static List<ScriptedCall> callsOf(Object value, List<ScriptedCall> fallback) {
        var out = new ArrayList<ScriptedCall>();
        if (value instanceof JsonNode node && node.isArray()) {
            for (var call : node) {
                var args = call.get("arguments");
                out.add(new ScriptedCall(call.path("name").asText(), args == null ? "{}" : args.isTextual() ? args.asText() : args.toString()));
            }
            return List.copyOf(out);
        }
        if (value instanceof List<?> list) {
            for (var item : list) {
                if (item instanceof Map<?, ?> map) {
                    var args = map.get("arguments");
                    out.add(new ScriptedCall(String.valueOf(map.get("name")), args == null ? "{}" : args instanceof String s ? s : dev.sluice.wire.json.Json.write(dev.sluice.wire.json.Json.MAPPER.valueToTree(args))));
                }
            }
            return List.copyOf(out);
        }
        return fallback;
    }
}
