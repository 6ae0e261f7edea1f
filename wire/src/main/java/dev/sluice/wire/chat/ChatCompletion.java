package dev.sluice.wire.chat;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.SerializableString;
import com.fasterxml.jackson.core.io.SerializedString;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.wire.json.Json;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Set;

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

    /**
     * Writes what {@link #toJson()} gives, byte for byte, without building the tree: the gateway's non-streamed
     * answer is written this way, straight into the response's buffer. An extra that would replace one of the
     * typed fields in place (which a tree does and a generator cannot) sends this completion through the tree.
     */
    public void writeTo(JsonGenerator g) throws IOException {
        if (extrasReplaceTypedFields()) {
            Json.writeTree(g, toJson());
            return;
        }
        g.writeStartObject();
        g.writeFieldName(ID);
        g.writeString(id);
        g.writeFieldName(OBJECT);
        g.writeString(OBJECT_VALUE);
        g.writeFieldName(CREATED);
        g.writeNumber(created);
        g.writeFieldName(MODEL);
        g.writeString(model);
        g.writeFieldName(CHOICES);
        g.writeStartArray();
        for (var c : choices) {
            g.writeStartObject();
            g.writeFieldName(INDEX);
            g.writeNumber(c.index());
            g.writeFieldName(MESSAGE);
            var m = c.message();
            g.writeStartObject();
            g.writeFieldName(ROLE);
            g.writeString(m.role() == null ? "assistant" : m.role());
            g.writeFieldName(CONTENT);
            g.writeString(m.content());
            g.writeFieldName(REFUSAL);
            g.writeString(m.refusal());
            if (m.reasoning() != null) {
                g.writeFieldName(reasoningJsonField(m.reasoningField()));
                g.writeString(m.reasoning());
            }
            if (!m.toolCalls().isEmpty()) {
                g.writeFieldName(TOOL_CALLS);
                g.writeStartArray();
                for (var t : m.toolCalls()) {
                    g.writeStartObject();
                    g.writeFieldName(ID);
                    g.writeString(t.id());
                    g.writeFieldName(TYPE);
                    g.writeString(t.type() == null ? "function" : t.type());
                    g.writeFieldName(FUNCTION);
                    g.writeStartObject();
                    g.writeFieldName(NAME);
                    g.writeString(t.name());
                    g.writeFieldName(ARGUMENTS);
                    g.writeString(t.arguments());
                    g.writeEndObject();
                    g.writeEndObject();
                }
                g.writeEndArray();
            }
            writeExtras(g, m.extras());
            g.writeEndObject();
            g.writeFieldName(LOGPROBS);
            if (c.logprobs() == null) g.writeNull();
            else Json.writeTree(g, c.logprobs());
            g.writeFieldName(FINISH_REASON);
            g.writeString(c.finishReason());
            writeExtras(g, c.extras());
            g.writeEndObject();
        }
        g.writeEndArray();
        if (usage != null) {
            g.writeFieldName(USAGE);
            Json.writeTree(g, usage);
        }
        if (serviceTier != null) {
            g.writeFieldName(SERVICE_TIER);
            g.writeString(serviceTier);
        }
        if (systemFingerprint != null) {
            g.writeFieldName(SYSTEM_FINGERPRINT);
            g.writeString(systemFingerprint);
        }
        for (var e : extras.entrySet()) {
            if (!presentAtTop(e.getKey())) {
                g.writeFieldName(e.getKey());
                Json.writeTree(g, e.getValue());
            }
        }
        g.writeEndObject();
    }

    private static void writeExtras(JsonGenerator g, Map<String, JsonNode> extras) throws IOException {
        for (var e : extras.entrySet()) {
            g.writeFieldName(e.getKey());
            Json.writeTree(g, e.getValue());
        }
    }

    /** Whether {@link #toJson()} has this top-level key before the extras are added (such an extra is dropped there). */
    private boolean presentAtTop(String key) {
        return switch (key) {
            case "id", "object", "created", "model", "choices" -> true;
            case "usage" -> usage != null;
            case "service_tier" -> serviceTier != null;
            case "system_fingerprint" -> systemFingerprint != null;
            default -> false;
        };
    }

    private static final Set<String> CHOICE_FIELDS = Set.of("index", "message", "logprobs", "finish_reason");

    private boolean extrasReplaceTypedFields() {
        for (var c : choices) {
            for (var key : c.extras().keySet()) if (CHOICE_FIELDS.contains(key)) return true;
            var m = c.message();
            for (var key : m.extras().keySet()) {
                switch (key) {
                    case "role", "content", "refusal" -> {
                        return true;
                    }
                    case "tool_calls" -> {
                        if (!m.toolCalls().isEmpty()) return true;
                    }
                    default -> {
                        if (m.reasoning() != null && key.equals(reasoningJsonField(m.reasoningField()))) return true;
                    }
                }
            }
        }
        return false;
    }

    // Field names encoded once: the generator copies their bytes.
    private static final SerializableString ID = new SerializedString("id"), OBJECT = new SerializedString("object"),
            CREATED = new SerializedString("created"), MODEL = new SerializedString("model"), CHOICES = new SerializedString("choices"),
            INDEX = new SerializedString("index"), MESSAGE = new SerializedString("message"), ROLE = new SerializedString("role"),
            CONTENT = new SerializedString("content"), REFUSAL = new SerializedString("refusal"),
            TOOL_CALLS = new SerializedString("tool_calls"), TYPE = new SerializedString("type"),
            FUNCTION = new SerializedString("function"), NAME = new SerializedString("name"),
            ARGUMENTS = new SerializedString("arguments"), LOGPROBS = new SerializedString("logprobs"),
            FINISH_REASON = new SerializedString("finish_reason"), USAGE = new SerializedString("usage"),
            SERVICE_TIER = new SerializedString("service_tier"), SYSTEM_FINGERPRINT = new SerializedString("system_fingerprint");
    private static final String OBJECT_VALUE = "chat.completion";

    /** Message-level field names for reasoning: the dialect of the provider it came from. */
    static String reasoningJsonField(String field) {
        return "reasoning".equals(field) ? "reasoning" : "reasoning_content";
    }
}
