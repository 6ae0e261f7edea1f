package dev.sluice.gateway.runs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.gateway.store.Kind;
import dev.sluice.gateway.store.Store;
import dev.sluice.gateway.store.StoredObject;
import dev.sluice.gateway.usage.TokenEstimator;
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

        truncate(run, internal, system, history, tools);

        var body = Json.object();
        body.put("model", run.get("model").asText());
        var messages = body.putArray("messages");
        system.forEach(messages::add);
        history.forEach(messages::add);
        tools.forEach(messages::add);
        var functionTools = functionTools(run.path("tools"));
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

    /**
     * Applies the run's truncation strategy and its prompt budget, counting tokens with the o200k tokenizer
     * as OpenAI bills them ({@link TokenEstimator#prompt}). {@code last_messages} keeps the n most recent
     * thread messages; then, when {@code max_prompt_tokens} is set, messages are dropped until the prompt
     * fits what is left of the budget (it covers every pass of the run, as OpenAI's does: a pass after tool
     * outputs has the budget minus the prompt tokens already used). {@code auto} drops messages from the
     * middle, as OpenAI documents: the thread's first message (the conversation's setup) is kept longest;
     * {@code last_messages} drops the oldest. The latest message is never dropped: when it alone does not
     * fit, nor do the instructions and tool results, the run cannot start ({@link TooLong}).
     */
    static void truncate(ObjectNode run, ObjectNode internal, List<ObjectNode> system, List<ObjectNode> history, List<ObjectNode> tools)
            throws TooLong {
        var strategy = run.path("truncation_strategy");
        boolean lastMessages = strategy.path("type").asText().equals("last_messages");
        if (lastMessages && strategy.path("last_messages").isInt()) {
            int keep = strategy.get("last_messages").asInt();
            if (history.size() > keep) history.subList(0, history.size() - keep).clear();
        }
        var maxPrompt = run.path("max_prompt_tokens");
        if (!maxPrompt.isIntegralNumber()) return;
        long used = internal.path("usage").path("prompt_tokens").asLong(0);
        long limit = maxPrompt.asLong() - used;
        // The fixed part (framing, instructions, tool results, tool definitions) plus each history message.
        var fixedMessages = new ArrayList<ObjectNode>(system);
        fixedMessages.addAll(tools);
        long total = TokenEstimator.prompt(chat(fixedMessages, run.path("tools")));
        var costs = new ArrayList<Integer>();
        for (var m : history) {
            int cost = TokenEstimator.prompt(chat(List.of(m), null)) - TokenEstimator.prompt(chat(List.of(), null));
            costs.add(cost);
            total += cost;
        }
        while (total > limit && history.size() > 1) {
            // auto: the oldest message after the first while there is a middle, then the first itself.
            int drop = !lastMessages && history.size() > 2 ? 1 : 0;
            history.remove(drop);
            total -= costs.remove(drop);
        }
        if (total > limit) {
            throw new TooLong("The prompt needs " + total + " tokens, more than the " + limit + " left of max_prompt_tokens ("
                    + maxPrompt.asLong() + (used > 0 ? ", " + used + " used by earlier passes" : "") + "), even truncated.");
        }
    }

    /** A chat request of just these messages (and tool definitions), to count its prompt tokens. */
    private static ObjectNode chat(List<ObjectNode> messages, JsonNode runTools) {
        var body = Json.object();
        var list = body.putArray("messages");
        messages.forEach(list::add);
        if (runTools != null && runTools.isArray() && !runTools.isEmpty()) body.set("tools", functionTools(runTools));
        return body;
    }

    private static com.fasterxml.jackson.databind.node.ArrayNode functionTools(JsonNode runTools) {
        var out = Json.NODES.arrayNode();
        for (var tool : runTools) {
            if (tool.path("type").asText().equals("function")) {
                var t = out.addObject();
                t.put("type", "function");
                t.set("function", tool.get("function").deepCopy());
            }
        }
        return out;
    }
}
