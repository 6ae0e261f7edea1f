package dev.sluice.wire.chat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.wire.json.Json;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * Rebuilds the final {@link ChatCompletion} from canonical stream events: per choice content, refusal,
 * reasoning, tool calls in index order with their full argument strings, logprobs and finish reason; usage;
 * provider extras (last value wins, OpenRouter {@code reasoning_details} merged by index and type).
 * The one accumulator of the codebase, used by the SDK and the gateway. Not thread-safe.
 */
public final class ChatAccumulator implements Consumer<StreamEvent> {

    private String id, model, fingerprint, tier;
    private long created;
    private final TreeMap<Integer, ChoiceBuilder> choices = new TreeMap<>();
    private JsonNode usage;
    private final Map<String, JsonNode> extras = new LinkedHashMap<>();
    private final List<StreamError> errors = new ArrayList<>();

    @Override
    public void accept(StreamEvent event) {
        switch (event) {
            case StreamEvent.Metadata m -> {
                if (m.id() != null) id = m.id();
                if (m.model() != null) model = m.model();
                if (m.created() > 0) created = m.created();
                if (m.systemFingerprint() != null) fingerprint = m.systemFingerprint();
                if (m.serviceTier() != null) tier = m.serviceTier();
            }
            case StreamEvent.Role r -> {
                var c = choice(r.choice());
                if (c.role == null) c.role = r.role();
            }
            case StreamEvent.TextDelta t -> choice(t.choice()).content.append(t.text());
            case StreamEvent.ReasoningDelta r -> {
                var c = choice(r.choice());
                if (c.reasoningField == null) c.reasoningField = r.field();
                c.reasoning.append(r.text());
            }
            case StreamEvent.RefusalDelta r -> choice(r.choice()).refusal.append(r.text());
            case StreamEvent.ToolCallStart s -> {
                var tool = choice(s.choice()).tool(s.index());
                if (tool.id == null) tool.id = s.id();
                if (tool.type == null) tool.type = s.type();
                if (tool.name == null) tool.name = s.name();
            }
            case StreamEvent.ToolCallArguments a -> choice(a.choice()).tool(a.index()).arguments.append(a.fragment());
            case StreamEvent.Logprobs l -> {
                var c = choice(l.choice());
                if (l.content() != null) c.logContent().addAll((ArrayNode) l.content());
                if (l.refusal() != null) c.logRefusal().addAll((ArrayNode) l.refusal());
            }
            case StreamEvent.Finish f -> choice(f.choice()).finish = f.reason();
            case StreamEvent.Usage u -> usage = u.usage();
            case StreamEvent.Extra x -> extra(x);
            case StreamEvent.Error e -> errors.add(e.error());
        }
    }

    /** Errors reported in the stream, in order. */
    public List<StreamError> errors() {
        return Collections.unmodifiableList(errors);
    }

    public JsonNode usage() {
        return usage;
    }

    /** The completion accumulated so far (a snapshot; later events do not change it). */
    public ChatCompletion result() {
        var list = new ArrayList<ChatCompletion.Choice>(choices.size());
        for (var e : choices.entrySet()) list.add(e.getValue().build(e.getKey()));
        return new ChatCompletion(id, created, model, fingerprint, tier, List.copyOf(list), usage, Map.copyOf(extras));
    }

    // Content so far of one choice, for snapshot events in the SDK.
    public String contentSnapshot(int choice) {
        var c = choices.get(choice);
        return c == null ? "" : c.content.toString();
    }

    private void extra(StreamEvent.Extra x) {
        switch (x.scope()) {
            case CHUNK -> {
                if (!x.value().isNull()) extras.put(x.name(), x.value());
            }
            case CHOICE -> {
                // A later null or empty value (Azure's final {} content filter) never erases what was reported.
                if (!x.value().isNull() && !(x.value().isContainerNode() && x.value().isEmpty())) {
                    choice(x.choice()).choiceExtras.put(x.name(), x.value());
                }
            }
            case DELTA -> {
                var c = choice(x.choice());
                if (x.name().equals("reasoning_details") && x.value().isArray()) mergeReasoningDetails(c, (ArrayNode) x.value());
                else if (!x.value().isNull()) c.messageExtras.put(x.name(), x.value());
            }
        }
    }

    /** OpenRouter-style reasoning_details: items keyed by (index, type), string fields concatenated. */
    private static void mergeReasoningDetails(ChoiceBuilder c, ArrayNode items) {
        var merged = (ArrayNode) c.messageExtras.computeIfAbsent("reasoning_details", k -> Json.NODES.arrayNode());
        for (var item : items) {
            if (!item.isObject()) continue;
            ObjectNode target = null;
            for (var existing : merged) {
                if (existing.path("index").equals(item.path("index")) && existing.path("type").equals(item.path("type"))) {
                    target = (ObjectNode) existing;
                }
            }
            if (target == null) {
                merged.add(item.deepCopy());
                continue;
            }
            for (var it = item.properties().iterator(); it.hasNext(); ) {
                var f = it.next();
                var old = target.get(f.getKey());
                if (f.getValue().isTextual() && old != null && old.isTextual() && !f.getKey().equals("type")
                        && !f.getKey().equals("format")) {
                    target.put(f.getKey(), old.asText() + f.getValue().asText());
                } else if (!f.getValue().isNull() || old == null) {
                    target.set(f.getKey(), f.getValue());
                }
            }
        }
    }


    private ChoiceBuilder choice(int index) {
        return choices.computeIfAbsent(index, k -> new ChoiceBuilder());
    }

    private static final class ChoiceBuilder {
        String role, finish, reasoningField;
        final StringBuilder content = new StringBuilder();
        final StringBuilder refusal = new StringBuilder();
        final StringBuilder reasoning = new StringBuilder();
        final TreeMap<Integer, ToolBuilder> tools = new TreeMap<>();
        ArrayNode logContent, logRefusal;
        final Map<String, JsonNode> choiceExtras = new LinkedHashMap<>();
        final Map<String, JsonNode> messageExtras = new LinkedHashMap<>();

        ToolBuilder tool(int index) {
            return tools.computeIfAbsent(index, k -> new ToolBuilder());
        }

        ArrayNode logContent() {
            if (logContent == null) logContent = Json.NODES.arrayNode();
            return logContent;
        }

        ArrayNode logRefusal() {
            if (logRefusal == null) logRefusal = Json.NODES.arrayNode();
            return logRefusal;
        }

        ChatCompletion.Choice build(int index) {
            var calls = new ArrayList<ChatCompletion.ToolCall>(tools.size());
            tools.forEach((i, t) -> calls.add(new ChatCompletion.ToolCall(i, t.id, t.type, t.name, t.arguments.toString())));
            var message = new ChatCompletion.Message(
                    role,
                    content.isEmpty() ? null : content.toString(),
                    refusal.isEmpty() ? null : refusal.toString(),
                    reasoning.isEmpty() ? null : reasoning.toString(),
                    reasoningField,
                    List.copyOf(calls),
                    copy(messageExtras));
            JsonNode logprobs = null;
            if (logContent != null || logRefusal != null) {
                var lp = Json.object();
                lp.set("content", logContent == null ? Json.NODES.nullNode() : logContent.deepCopy());
                lp.set("refusal", logRefusal == null ? Json.NODES.nullNode() : logRefusal.deepCopy());
                logprobs = lp;
            }
            return new ChatCompletion.Choice(index, message, logprobs, finish, copy(choiceExtras));
        }

        private static Map<String, JsonNode> copy(Map<String, JsonNode> map) {
            var out = new LinkedHashMap<String, JsonNode>();
            map.forEach((k, v) -> out.put(k, v.deepCopy()));
            return Collections.unmodifiableMap(out);
        }
    }

    private static final class ToolBuilder {
        String id, type, name;
        final StringBuilder arguments = new StringBuilder();
    }
}
