package dev.sluice.gateway.runs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.gateway.store.Kind;
import dev.sluice.gateway.store.Store;
import dev.sluice.gateway.store.StoredObject;
import dev.sluice.wire.json.Json;
import java.util.ArrayList;
import java.util.List;

/**
 * The chat completions request a run sends to its route: the run's instructions (the assistant's, or the
 * run's override, plus additional_instructions) as the system message, the thread's messages after the
 * truncation strategy, this run's earlier tool calls with their outputs, and the run's sampling settings.
 */
final class PromptBuilder {

    /** The prompt does not fit {@code max_prompt_tokens}, even truncated. */
    static final class TooLong extends Exception {
        TooLong(String message) {
            super(message, null, false, false);
        }
    }

    private final Store store;

    PromptBuilder(Store store) {
        this.store = store;
    }

    ObjectNode build(ObjectNode run, ObjectNode internal, long completionBudget) throws TooLong {
        var threadId = run.get("thread_id").asText();
        var runId = run.get("id").asText();
        var system = new ArrayList<ObjectNode>();
        if (run.path("instructions").isTextual() && !run.get("instructions").asText().isEmpty()) {
            system.add(message("system", run.get("instructions").asText()));
        }
        var history = new ArrayList<ObjectNode>();
        for (StoredObject m : store.objects(Kind.MESSAGE).all(threadId)) {
            var body = m.body();
            // Messages of this run still being written (never the case at a pass start) and empty ones are skipped.
            if (body.path("status").asText().equals("in_progress")) continue;
            var text = Messages.text(body);
            if (text.isEmpty() && !hasImages(body)) continue;
            history.add(message(body.path("role").asText("user"), text));
        }
        var strategy = run.path("truncation_strategy");
        if (strategy.path("type").asText().equals("last_messages") && strategy.path("last_messages").isInt()) {
            int keep = strategy.get("last_messages").asInt();
            if (history.size() > keep) history = new ArrayList<>(history.subList(history.size() - keep, history.size()));
        }
        var tools = new ArrayList<ObjectNode>();
        for (StoredObject s : store.objects(Kind.STEP).all(runId)) {
            var step = s.body();
            if (!step.path("type").asText().equals("tool_calls") || !step.path("status").asText().equals("completed")) continue;
            var assistant = Json.object();
            assistant.put("role", "assistant");
            assistant.putNull("content");
            var calls = assistant.putArray("tool_calls");
            var results = new ArrayList<ObjectNode>();
            for (var call : step.path("step_details").path("tool_calls")) {
                if (!call.path("type").asText().equals("function")) continue;
                var c = calls.addObject();
                c.put("id", call.path("id").asText());
                c.put("type", "function");
                var f = c.putObject("function");
                f.put("name", call.path("function").path("name").asText());
                f.put("arguments", call.path("function").path("arguments").asText());
                var result = Json.object();
                result.put("role", "tool");
                result.put("tool_call_id", call.path("id").asText());
                result.put("content", call.path("function").path("output").asText(""));
                results.add(result);
            }
            if (calls.isEmpty()) continue;
            tools.add(assistant);
            tools.addAll(results);
        }

        var maxPrompt = run.path("max_prompt_tokens");
        if (maxPrompt.isIntegralNumber()) {
            long limit = maxPrompt.asLong();
            // "auto" and "last_messages" both drop the oldest thread messages until the prompt fits.
            while (estimate(system, history, tools) > limit && !history.isEmpty()) history.removeFirst();
            if (estimate(system, history, tools) > limit) {
                throw new TooLong("The prompt needs more than max_prompt_tokens (" + limit + ") tokens, even truncated.");
            }
        }

        var body = Json.object();
        body.put("model", run.get("model").asText());
        var messages = body.putArray("messages");
        system.forEach(messages::add);
        history.forEach(messages::add);
        tools.forEach(messages::add);
        var functionTools = Json.NODES.arrayNode();
        for (var tool : run.path("tools")) {
            if (tool.path("type").asText().equals("function")) {
                var t = functionTools.addObject();
                t.put("type", "function");
                t.set("function", tool.get("function").deepCopy());
            }
        }
        if (!functionTools.isEmpty()) {
            body.set("tools", functionTools);
            var choice = run.path("tool_choice");
            if (choice.isTextual()) body.put("tool_choice", choice.asText());
            else if (choice.path("type").asText().equals("function")) body.set("tool_choice", choice.deepCopy());
            body.put("parallel_tool_calls", run.path("parallel_tool_calls").asBoolean(true));
        }
        copyNumber(run, body, "temperature");
        copyNumber(run, body, "top_p");
        var format = run.path("response_format");
        if (format.isObject()) body.set("response_format", format.deepCopy());
        if (completionBudget < Long.MAX_VALUE) body.put("max_completion_tokens", completionBudget);
        if (internal.has("sim")) body.set("sim", internal.get("sim").deepCopy());
        body.put("stream", true);
        return body;
    }

    private static void copyNumber(ObjectNode from, ObjectNode to, String field) {
        var v = from.path(field);
        if (v.isNumber()) to.set(field, v);
    }

    private static boolean hasImages(JsonNode message) {
        for (var part : message.path("content")) if (!part.path("type").asText().equals("text")) return true;
        return false;
    }

    private static ObjectNode message(String role, String text) {
        var m = Json.object();
        m.put("role", role);
        m.put("content", text);
        return m;
    }

    /** A rough token count, in the spirit of OpenAI's: words of every message plus a few tokens of framing each. */
    static long estimate(List<ObjectNode> system, List<ObjectNode> history, List<ObjectNode> tools) {
        long total = 0;
        for (var list : List.of(system, history, tools)) {
            for (var m : list) total += 4 + words(m.path("content").asText("")) + words(m.path("tool_calls").toString());
        }
        return total;
    }

    private static long words(String text) {
        var trimmed = text.strip();
        return trimmed.isEmpty() ? 0 : trimmed.split("\\s+").length;
    }
}
