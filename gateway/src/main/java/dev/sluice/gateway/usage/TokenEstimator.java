package dev.sluice.gateway.usage;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import dev.sluice.wire.json.Json;

/**
 * Counts tokens with OpenAI's o200k BPE when an upstream reports no usage. Other model families tokenize
 * differently, so such counts are estimates and are marked as such ({@code "estimated": true}).
 */
public final class TokenEstimator {

    private static final Encoding ENCODING = Encodings.newLazyEncodingRegistry().getEncoding(EncodingType.O200K_BASE);

    private TokenEstimator() {}

    /** BPE cost grows faster than linearly with the length of one "word"; long runs are counted in slices. */
    private static final int SLICE = 2048;

    public static int count(String text) {
        if (text == null || text.isEmpty()) return 0;
        if (text.length() <= SLICE) return ENCODING.countTokensOrdinary(text);
        int tokens = 0;
        for (int i = 0; i < text.length(); i += SLICE) {
            int end = Math.min(text.length(), i + SLICE);
            // Never cut a surrogate pair in two.
            if (end < text.length() && Character.isHighSurrogate(text.charAt(end - 1))) end++;
            tokens += ENCODING.countTokensOrdinary(text.substring(i, end));
            i = end - SLICE;
        }
        return tokens;
    }

    /** Prompt tokens of a chat request: every message's text plus OpenAI's per-message framing. */
    public static int prompt(JsonNode body) {
        int tokens = 3; // every reply is primed with <|start|>assistant<|message|>
        for (var m : body.path("messages")) {
            tokens += 3 + count(m.path("role").asText());
            var content = m.get("content");
            if (content != null && content.isTextual()) tokens += count(content.asText());
            else if (content != null && content.isArray()) for (var part : content) tokens += count(part.path("text").asText(""));
            for (var call : m.path("tool_calls")) tokens += count(call.path("function").path("name").asText()) + count(call.path("function").path("arguments").asText());
            if (m.hasNonNull("name")) tokens += 1 + count(m.get("name").asText());
        }
        var tools = body.get("tools");
        if (tools != null && tools.isArray() && !tools.isEmpty()) tokens += count(tools.toString());
        return tokens;
    }

    /** An OpenAI usage object built from counts, marked as estimated. */
    public static ObjectNode usage(int promptTokens, int completionTokens) {
        var u = Json.object();
        u.put("prompt_tokens", promptTokens);
        u.put("completion_tokens", completionTokens);
        u.put("total_tokens", promptTokens + completionTokens);
        u.put("estimated", true);
        return u;
    }
}
