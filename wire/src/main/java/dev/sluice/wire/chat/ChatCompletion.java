package dev.sluice.wire.chat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.wire.json.Json;
import java.util.List;
import java.util.Map;

/**
 * A final chat completion, as rebuilt from a stream or read from a non-streaming answer. Provider fields
 * without a typed slot stay in {@code extras} so {@link #toJson()} loses nothing.
 */
public record ChatCompletion(
        String id,
        long created,
        String model,
        String systemFingerprint,
        String serviceTier,
        List<Choice> choices,
        JsonNode usage,
        Map<String, JsonNode> extras) {

    public record Choice(int index, Message message, JsonNode logprobs, String finishReason, Map<String, JsonNode> extras) {}

    /**
     * The assistant message. {@code reasoning} is the model's reasoning text, if the provider sent any;
     * {@code reasoningField} the field it came in ({@code reasoning_content}, {@code reasoning}...).
     */
    public record Message(
            String role,
            String content,
            String refusal,
            String reasoning,
            String reasoningField,
            List<ToolCall> toolCalls,
            Map<String, JsonNode> extras) {}

    public record ToolCall(int index, String id, String type, String name, String arguments) {}

    public Choice choice(int index) {
        for (var c : choices) if (c.index() == index) return c;
        return null;
    }

    /** The OpenAI {@code chat.completion} object. */
    public ObjectNode toJson() {
        var root = Json.object();
        root.put("id", id);
        root.put("object", "chat.completion");
        root.put("created", created);
        root.put("model", model);
        var array = root.putArray("choices");
        for (var c : choices) {
            var choice = array.addObject();
            choice.put("index", c.index());
            var m = c.message();
            var message = choice.putObject("message");
            message.put("role", m.role() == null ? "assistant" : m.role());
            message.put("content", m.content());
            message.put("refusal", m.refusal());
            if (m.reasoning() != null) {
                message.put(reasoningJsonField(m.reasoningField()), m.reasoning());
            }
            if (!m.toolCalls().isEmpty()) {
                var calls = message.putArray("tool_calls");
                for (var t : m.toolCalls()) {
                    var call = calls.addObject();
                    call.put("id", t.id());
                    call.put("type", t.type() == null ? "function" : t.type());
                    var fn = call.putObject("function");
                    fn.put("name", t.name());
                    fn.put("arguments", t.arguments());
                }
            }
            m.extras().forEach(message::set);
            if (c.logprobs() == null) choice.putNull("logprobs");
            else choice.set("logprobs", c.logprobs());
            choice.put("finish_reason", c.finishReason());
            c.extras().forEach(choice::set);
        }
        if (usage != null) root.set("usage", usage);
        if (serviceTier != null) root.put("service_tier", serviceTier);
        if (systemFingerprint != null) root.put("system_fingerprint", systemFingerprint);
        extras.forEach((k, v) -> {
            if (!root.has(k)) root.set(k, v);
        });
        return root;
    }

    /** Message-level field names for reasoning: the dialect of the provider it came from. */
    static String reasoningJsonField(String field) {
        return "reasoning".equals(field) ? "reasoning" : "reasoning_content";
    }
}
