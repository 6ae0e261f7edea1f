package dev.sluice.gateway.responses;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.gateway.runs.Ids;
import dev.sluice.wire.chat.StreamEvent;
import dev.sluice.wire.json.Json;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Translates the canonical stream of one answer (choice 0) into Responses output items and the semantic
 * events that build them, in OpenAI's order: an item is added, its parts are added, deltas stream, then
 * each part and the item are done before the next item starts (parallel function calls excepted: they stay
 * open together, as the upstream may interleave their arguments). Reasoning becomes a {@code reasoning} item
 * with a summary, text and refusals one {@code message}, each tool call a {@code function_call}.
 */
final class OutputBuilder {

    /** One semantic event, without {@code sequence_number} (the event log numbers it). */
    record Emit(String type, ObjectNode data) {}

    private final ArrayNode output = Json.NODES.arrayNode();
    private final List<Emit> out = new ArrayList<>();
    private JsonNode usage;
    private String finishReason;

    // The item being streamed: at most one of these is open.
    private ObjectNode reasoning;
    private final StringBuilder reasoningText = new StringBuilder();
    private ObjectNode message;
    private int textPart = -1, refusalPart = -1;
    private final StringBuilder text = new StringBuilder(), refusal = new StringBuilder();
    /** Open function calls by the upstream's tool-call index. */
    private final Map<Integer, ObjectNode> calls = new LinkedHashMap<>();

    List<Emit> accept(StreamEvent event) {
        out.clear();
        switch (event) {
            case StreamEvent.ReasoningDelta r when r.choice() == 0 && !r.text().isEmpty() -> onReasoning(r.text());
            case StreamEvent.TextDelta t when t.choice() == 0 && !t.text().isEmpty() -> onText(t.text());
            case StreamEvent.RefusalDelta r when r.choice() == 0 && !r.text().isEmpty() -> onRefusal(r.text());
            case StreamEvent.ToolCallStart s when s.choice() == 0 -> onCallStart(s);
            case StreamEvent.ToolCallArguments a when a.choice() == 0 -> onCallArguments(a);
            case StreamEvent.Finish f when f.choice() == 0 -> finishReason = f.reason();
            case StreamEvent.Usage u -> usage = u.usage();
            default -> {}
        }
        return List.copyOf(out);
    }

    /** Closes whatever is still open; {@code itemStatus} is {@code completed}, or {@code incomplete} for a cut-off answer. */
    List<Emit> finish(String itemStatus) {
        out.clear();
        closeReasoning();
        closeMessage(itemStatus);
        closeCalls(itemStatus);
        return List.copyOf(out);
    }

    ArrayNode output() {
        return output;
    }

    String finishReason() {
        return finishReason;
    }

    /** The chat usage the stream reported (summed over failover attempts), or null when none came. */
    JsonNode chatUsage() {
        return usage;
    }

    /**
     * A chat {@code usage} as a Responses {@code usage} object. An estimate (the chat usage carries
     * {@code "estimated": true}, as the chat path marks it) stays marked, so a client can tell it from a count.
     */
    static ObjectNode responsesUsage(JsonNode chat) {
        var u = Json.object();
        long input = chat.path("prompt_tokens").asLong();
        long output = chat.path("completion_tokens").asLong();
        u.put("input_tokens", input);
        var inDetails = u.putObject("input_tokens_details");
        inDetails.put("cached_tokens", chat.path("prompt_tokens_details").path("cached_tokens").asLong());
        inDetails.put("cache_write_tokens", 0);
        u.put("output_tokens", output);
        u.putObject("output_tokens_details").put("reasoning_tokens", chat.path("completion_tokens_details").path("reasoning_tokens").asLong());
        u.put("total_tokens", chat.path("total_tokens").asLong(input + output));
        if (chat.path("estimated").asBoolean(false)) u.put("estimated", true);
        return u;
    }

    // ------------------------------------------------------------------ replay (crash recovery)

    /**
     * A builder in the state the logged events of an interrupted response leave it in: items that were
     * done are kept as they were sent, open ones (with the ids clients already saw) can be closed by
     * {@link #finish}, so a recovered stream ends well-formed and the stored output keeps every delta.
     */
    static OutputBuilder replay(List<JsonNode> events) {
        var b = new OutputBuilder();
        for (var e : events) b.replayOne(e);
        return b;
    }

    private void replayOne(JsonNode e) {
        switch (e.path("type").asText()) {
            case "response.output_item.added" -> {
                var item = ((ObjectNode) e.get("item")).deepCopy();
                int index = e.path("output_index").asInt();
                item.put("_index", index);
                if (index != output.size()) return; // not the builder's own order; nothing sensible to rebuild
                output.add(item);
                switch (item.path("type").asText()) {
                    case "reasoning" -> reasoning = item;
                    case "message" -> message = item;
                    case "function_call" -> calls.put(index, item);
                    default -> {}
                }
            }
            case "response.content_part.added" -> {
                if (message == null) return;
                if (e.path("part").path("type").asText().equals("refusal")) refusalPart = e.path("content_index").asInt();
                else textPart = e.path("content_index").asInt();
            }
            case "response.output_text.delta" -> text.append(e.path("delta").asText());
            case "response.refusal.delta" -> refusal.append(e.path("delta").asText());
            case "response.reasoning_summary_text.delta" -> reasoningText.append(e.path("delta").asText());
            case "response.function_call_arguments.delta" -> {
                var call = calls.get(e.path("output_index").asInt());
                if (call != null) call.put("arguments", call.get("arguments").asText() + e.path("delta").asText());
            }
            case "response.output_item.done" -> {
                int index = e.path("output_index").asInt();
                if (index >= output.size()) return;
                var item = ((ObjectNode) e.get("item")).deepCopy();
                item.put("_index", index);
                output.set(index, item);
                if (reasoning != null && reasoning.path("_index").asInt() == index) {
                    reasoning = null;
                    reasoningText.setLength(0);
                } else if (message != null && message.path("_index").asInt() == index) {
                    message = null;
                    textPart = refusalPart = -1;
                    text.setLength(0);
                    refusal.setLength(0);
                } else {
                    calls.remove(index);
                }
            }
            default -> {} // part/text "done" events are re-derived when the item is closed
        }
    }

    // ------------------------------------------------------------------ reasoning

    private void onReasoning(String delta) {
        if (reasoning == null) {
            closeMessage("completed");
            closeCalls("completed");
            reasoning = Json.object();
            reasoning.put("id", Ids.next("rs_"));
            reasoning.put("type", "reasoning");
            reasoning.putArray("summary");
            added(reasoning);
            var e = itemEvent(reasoning);
            e.put("summary_index", 0);
            e.set("part", summaryPart(""));
            emit("response.reasoning_summary_part.added", e);
        }
        reasoningText.append(delta);
        var e = itemEvent(reasoning);
        e.put("summary_index", 0);
        e.put("delta", delta);
        emit("response.reasoning_summary_text.delta", e);
    }

    private void closeReasoning() {
        if (reasoning == null) return;
        var text = reasoningText.toString();
        var e = itemEvent(reasoning);
        e.put("summary_index", 0);
        e.put("text", text);
        emit("response.reasoning_summary_text.done", e);
        var p = itemEvent(reasoning);
        p.put("summary_index", 0);
        p.set("part", summaryPart(text));
        emit("response.reasoning_summary_part.done", p);
        reasoning.withArray("summary").add(summaryPart(text));
        done(reasoning);
        reasoning = null;
        reasoningText.setLength(0);
    }

    private static ObjectNode summaryPart(String text) {
        var p = Json.object();
        p.put("type", "summary_text");
        p.put("text", text);
        return p;
    }

    // ------------------------------------------------------------------ message

    private void onText(String delta) {
        openMessage();
        if (textPart < 0) textPart = addPart(textPartOf(""));
        text.append(delta);
        var e = itemEvent(message);
        e.put("content_index", textPart);
        e.put("delta", delta);
        e.putArray("logprobs");
        emit("response.output_text.delta", e);
    }

    private void onRefusal(String delta) {
        openMessage();
        if (refusalPart < 0) refusalPart = addPart(refusalPartOf(""));
        refusal.append(delta);
        var e = itemEvent(message);
        e.put("content_index", refusalPart);
        e.put("delta", delta);
        emit("response.refusal.delta", e);
    }

    private void openMessage() {
        if (message != null) return;
        closeReasoning();
        closeCalls("completed");
        message = Json.object();
        message.put("id", Ids.next("msg_"));
        message.put("type", "message");
        message.put("status", "in_progress");
        message.putArray("content");
        message.put("role", "assistant");
        added(message);
    }

    private int addPart(ObjectNode part) {
        int index = textPart < 0 && refusalPart < 0 ? 0 : 1;
        var e = itemEvent(message);
        e.put("content_index", index);
        e.set("part", part);
        emit("response.content_part.added", e);
        return index;
    }

    private void closeMessage(String status) {
        if (message == null) return;
        var parts = new ObjectNode[2];
        if (textPart >= 0) {
            var e = itemEvent(message);
            e.put("content_index", textPart);
            e.put("text", text.toString());
            e.putArray("logprobs");
            emit("response.output_text.done", e);
            parts[textPart] = textPartOf(text.toString());
        }
        if (refusalPart >= 0) {
            var e = itemEvent(message);
            e.put("content_index", refusalPart);
            e.put("refusal", refusal.toString());
            emit("response.refusal.done", e);
            parts[refusalPart] = refusalPartOf(refusal.toString());
        }
        var content = message.withArray("content");
        for (int i = 0; i < parts.length; i++) {
            if (parts[i] == null) continue;
            var e = itemEvent(message);
            e.put("content_index", i);
            e.set("part", parts[i]);
            emit("response.content_part.done", e);
            content.add(parts[i]);
        }
        message.put("status", status);
        done(message);
        message = null;
        textPart = refusalPart = -1;
        text.setLength(0);
        refusal.setLength(0);
    }

    private static ObjectNode textPartOf(String text) {
        var p = Json.object();
        p.put("type", "output_text");
        p.putArray("annotations");
        p.putArray("logprobs");
        p.put("text", text);
        return p;
    }

    private static ObjectNode refusalPartOf(String text) {
        var p = Json.object();
        p.put("type", "refusal");
        p.put("refusal", text);
        return p;
    }

    // ------------------------------------------------------------------ function calls

    private void onCallStart(StreamEvent.ToolCallStart s) {
        closeReasoning();
        closeMessage("completed");
        // Earlier calls stay open: chat upstreams may interleave parallel calls' argument fragments by index
        // (call 0's arguments can come after call 1 started), and a closed call would drop them. Each event
        // names its item, so clients follow interleaved items; all calls close together at the end.
        if (calls.containsKey(s.index())) return; // the decoder starts each index once; never orphan an open call
        var call = Json.object();
        call.put("id", Ids.next("fc_"));
        call.put("type", "function_call");
        call.put("status", "in_progress");
        call.put("arguments", "");
        call.put("call_id", s.id() == null || s.id().isEmpty() ? Ids.next("call_") : s.id());
        call.put("name", s.name() == null ? "" : s.name());
        calls.put(s.index(), call);
        added(call);
    }

    private void onCallArguments(StreamEvent.ToolCallArguments a) {
        var call = calls.get(a.index());
        if (call == null || a.fragment().isEmpty()) return;
        call.put("arguments", call.get("arguments").asText() + a.fragment());
        var e = itemEvent(call);
        e.put("delta", a.fragment());
        emit("response.function_call_arguments.delta", e);
    }

    private void closeCalls(String status) {
        for (var call : calls.values()) {
            var e = itemEvent(call);
            e.put("name", call.get("name").asText());
            e.put("arguments", call.get("arguments").asText());
            emit("response.function_call_arguments.done", e);
            call.put("status", status);
            done(call);
        }
        calls.clear();
    }

    // ------------------------------------------------------------------ items

    private void added(ObjectNode item) {
        item.put("_index", output.size());
        output.add(item);
        var e = Json.object();
        e.put("output_index", item.get("_index").asInt());
        e.set("item", visible(item));
        emit("response.output_item.added", e);
    }

    private void done(ObjectNode item) {
        var e = Json.object();
        e.put("output_index", item.get("_index").asInt());
        e.set("item", visible(item));
        emit("response.output_item.done", e);
    }

    /** The item as clients see it (without the builder's own {@code _index}). */
    static ObjectNode visible(ObjectNode item) {
        var copy = item.deepCopy();
        copy.remove("_index");
        return copy;
    }

    /** The output items as clients see them. */
    ArrayNode visibleOutput() {
        var items = Json.NODES.arrayNode();
        for (var item : output) items.add(visible((ObjectNode) item));
        return items;
    }

    private ObjectNode itemEvent(ObjectNode item) {
        var e = Json.object();
        e.put("item_id", item.get("id").asText());
        e.put("output_index", item.get("_index").asInt());
        return e;
    }

    private void emit(String type, ObjectNode data) {
        out.add(new Emit(type, data));
    }
}
