package dev.sluice.gateway.config;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.wire.json.Json;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * Strict reading of configuration values. A typo'd key or a value of the wrong type is an error that names its
 * place, because silently falling back to a default (an {@code api_kye} that sends no key, a {@code limts}
 * section that leaves the limits open, {@code retries: two} read as 0) fails much later and far from its cause.
 * Numbers and booleans may also be strings, since {@code ${VAR}} substitution yields strings.
 */
final class ConfigNodes {

    private ConfigNodes() {}

    /** The mapping at {@code node}; an absent or null value is an empty one. */
    static JsonNode mapping(JsonNode node, String where) {
        if (node == null || node.isMissingNode() || node.isNull()) return Json.object();
        if (!node.isObject()) throw new ConfigException(where + " must be a mapping (key: value)");
        return node;
    }

    /** Refuses keys outside {@code known}, suggesting the closest known one. */
    static void onlyKeys(JsonNode node, String where, Collection<String> known) {
        for (var it = node.fieldNames(); it.hasNext(); ) {
            var key = it.next();
            if (known.contains(key)) continue;
            var close = closest(key, known);
            throw new ConfigException(where + ": unknown key '" + key + "'"
                    + (close != null ? " (did you mean '" + close + "'?)" : " (known: " + String.join(", ", sorted(known)) + ")"));
        }
    }

    static int integer(JsonNode node, String where, int min, int max) {
        long value;
        if (node.isIntegralNumber() && node.canConvertToLong()) {
            value = node.longValue();
        } else if (node.isTextual() && node.asText().trim().matches("-?\\d{1,18}")) {
            value = Long.parseLong(node.asText().trim());
        } else {
            throw new ConfigException(where + ": must be a whole number, got " + shown(node));
        }
        if (value < min || value > max) throw new ConfigException(where + ": must be between " + min + " and " + max + ", got " + value);
        return (int) value;
    }

    static boolean bool(JsonNode node, String where) {
        if (node.isBoolean()) return node.booleanValue();
        if (node.isTextual() && (node.asText().trim().equals("true") || node.asText().trim().equals("false"))) {
            return node.asText().trim().equals("true");
        }
        throw new ConfigException(where + ": must be true or false, got " + shown(node));
    }

    /** A string value (numbers are taken as written: a model named 4 is "4"). */
    static String text(JsonNode node, String where) {
        if (node.isTextual() || node.isNumber()) return node.asText();
        throw new ConfigException(where + ": must be a string, got " + shown(node));
    }

    /** A string that must be one of {@code values}. */
    static String oneOf(JsonNode node, String where, List<String> values) {
        var value = text(node, where);
        if (!values.contains(value)) throw new ConfigException(where + ": unknown '" + value + "' (" + String.join(", ", values) + ")");
        return value;
    }

    private static String shown(JsonNode node) {
        if (node.isTextual()) return "'" + node.asText() + "'";
        if (node.isObject()) return "a mapping";
        if (node.isArray()) return "a list";
        return node.toString();
    }

    /** The known key closest to {@code key}: within two edits (a typo), or one it starts or is the start of (ttft for ttft_ms). */
    static String closest(String key, Collection<String> known) {
        String best = null;
        int bestDistance = 3;
        for (var candidate : known) {
            // A key cut short or run on (ttft for ttft_ms) is as likely a slip as a typo.
            boolean affix = Math.min(key.length(), candidate.length()) >= 3 && (candidate.startsWith(key) || key.startsWith(candidate));
            int d = affix ? 1 : distance(key, candidate);
            if (d < bestDistance) {
                best = candidate;
                bestDistance = d;
            }
        }
        return best;
    }

    /** Levenshtein distance with adjacent transpositions counted as one edit (api_kye → api_key). */
    private static int distance(String a, String b) {
        int[][] d = new int[a.length() + 1][b.length() + 1];
        for (int i = 0; i <= a.length(); i++) d[i][0] = i;
        for (int j = 0; j <= b.length(); j++) d[0][j] = j;
        for (int i = 1; i <= a.length(); i++) {
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                d[i][j] = Math.min(Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + cost);
                if (i > 1 && j > 1 && a.charAt(i - 1) == b.charAt(j - 2) && a.charAt(i - 2) == b.charAt(j - 1)) {
                    d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
                }
            }
        }
        return d[a.length()][b.length()];
    }

    private static List<String> sorted(Collection<String> known) {
        var list = new ArrayList<>(known);
        list.sort(null);
        return list;
    }
}
