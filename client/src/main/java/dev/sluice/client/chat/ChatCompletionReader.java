package dev.sluice.client.chat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.wire.chat.ChatCompletion;
import dev.sluice.wire.json.Json;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads a non-streaming {@code chat.completion} JSON object into wire's {@link ChatCompletion}, the same type
 * a stream accumulates to. Fields without a typed slot go to the extras of the completion, choice or message,
 * so {@link ChatCompletion#toJson()} of the result gives back what was read.
 */
public final class ChatCompletionReader {

    private static final Set<String> ROOT = Set.of("id", "object", "created", "model", "system_fingerprint", "service_tier", "choices", "usage");
    private static final Set<String> CHOICE = Set.of("index", "message", "delta", "logprobs", "finish_reason");
    private static final Set<String> MESSAGE = Set.of("role", "content", "refusal", "reasoning_content", "reasoning", "tool_calls");

    private ChatCompletionReader() {}

    public static ChatCompletion read(JsonNode json) {
        var choices = new ArrayList<ChatCompletion.Choice>();
        int position = 0;
        for (var c : json.path("choices")) {
            choices.add(choice(c, position++));
        }
        choices.sort((a, b) -> Integer.compare(a.index(), b.index()));
        var usage = json.get("usage");
        return new ChatCompletion(
                Json.text(json.get("id")),
                json.path("created").asLong(0),
                Json.text(json.get("model")),
                Json.text(json.get("system_fingerprint")),
                Json.text(json.get("service_tier")),
                List.copyOf(choices),
                usage == null || usage.isNull() ? null : usage,
                Map.copyOf(extras(json, ROOT)));
    }

    private static ChatCompletion.Choice choice(JsonNode c, int position) {
        int index = c.path("index").isNumber() ? c.get("index").asInt() : position;
        var m = c.has("message") ? c.get("message") : c.path("delta");
        var logprobs = c.get("logprobs");
        return new ChatCompletion.Choice(
                index,
                message(m),
                logprobs == null || logprobs.isNull() ? null : logprobs,
                Json.text(c.get("finish_reason")),
                Collections.unmodifiableMap(extras(c, CHOICE)));
    }

    private static ChatCompletion.Message message(JsonNode m) {
        String content = null, reasoning = null, reasoningField = null;
        var contentNode = m.get("content");
        if (contentNode != null && contentNode.isTextual()) {
            content = contentNode.asText();
        } else if (contentNode != null && contentNode.isArray()) {
            // Mistral's magistral answers: text parts and thinking parts (which nest text parts).
            var text = new StringBuilder();
            var thinking = new StringBuilder();
            for (var part : contentNode) {
                switch (part.path("type").asText("")) {
                    case "text" -> text.append(part.path("text").asText(""));
                    case "thinking" -> {
                        var inner = part.get("thinking");
                        if (inner != null && inner.isArray()) inner.forEach(t -> thinking.append(t.path("text").asText("")));
                        else if (inner != null && inner.isTextual()) thinking.append(inner.asText());
                    }
                    default -> { }
                }
            }
            content = text.isEmpty() ? null : text.toString();
            if (!thinking.isEmpty()) {
                reasoning = thinking.toString();
                reasoningField = "content[].thinking[]";
            }
        }
        for (var field : List.of("reasoning_content", "reasoning")) {
            var node = m.get(field);
            if (reasoning == null && node != null && node.isTextual() && !node.asText().isEmpty()) {
                reasoning = node.asText();
                reasoningField = field;
            }
        }
        var calls = new ArrayList<ChatCompletion.ToolCall>();
        int position = 0;
        for (var call : m.path("tool_calls")) {
            var fn = call.path("function");
            var arguments = fn.get("arguments");
            calls.add(new ChatCompletion.ToolCall(
                    call.path("index").isNumber() ? call.get("index").asInt() : position,
                    Json.text(call.get("id")),
                    Json.text(call.get("type")),
                    Json.text(fn.get("name")),
                    // Some servers (Ollama) send the arguments as an object rather than a JSON string.
                    arguments == null || arguments.isNull() ? "" : arguments.isTextual() ? arguments.asText() : Json.write(arguments)));
            position++;
        }
        var refusal = Json.text(m.get("refusal"));
        return new ChatCompletion.Message(
                Json.text(m.get("role")),
                content == null || content.isEmpty() ? null : content,
                refusal == null || refusal.isEmpty() ? null : refusal,
                reasoning,
                reasoningField,
                List.copyOf(calls),
                Collections.unmodifiableMap(extras(m, MESSAGE)));
    }

    /** Fields not in {@code known}, null values dropped (as the stream accumulator does). */
    private static Map<String, JsonNode> extras(JsonNode node, Set<String> known) {
        var map = new LinkedHashMap<String, JsonNode>();
        for (var it = node.properties().iterator(); it.hasNext(); ) {
            var e = it.next();
            if (!known.contains(e.getKey()) && !e.getValue().isNull()) map.put(e.getKey(), e.getValue());
        }
        return map;
    }
}
