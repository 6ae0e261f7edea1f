package dev.sluice.gateway.responses;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.gateway.runs.ApiException;
import dev.sluice.wire.json.Json;
import java.util.HashSet;
import java.util.List;

/**
 * The chat-shaped upstream request for a response: its instructions and context items as messages, plus
 * tools, tool choice, format and sampling. Every provider takes this body; none ever sees the Responses wire.
 */
final class ChatBody {

    private ChatBody() {}

    /**
     * @param context     every item of the conversation so far (earlier turns' input and output, then this request's input)
     * @param toolsGiven  the request's raw {@code tools}, to tell an explicit {@code strict} from the Responses default
     */
    static ObjectNode build(ResponseRequest req, List<ObjectNode> context, JsonNode toolsGiven) {
        var body = Json.object();
        body.put("model", req.model());
        var messages = body.putArray("messages");
        if (req.instructions().isTextual()) messages.addObject().put("role", "system").put("content", req.instructions().asText());
        var calls = new HashSet<String>();
        var unanswered = new java.util.LinkedHashSet<String>();
        ObjectNode lastAssistant = null;
        for (var item : context) {
            switch (item.get("type").asText()) {
                case "message" -> {
                    var role = item.get("role").asText();
                    var m = messages.addObject();
                    // "developer" is OpenAI's newer name for "system"; other providers only know the latter.
                    m.put("role", role.equals("developer") ? "system" : role);
                    m.put("content", text(item.get("content")));
                    lastAssistant = role.equals("assistant") ? m : null;
                }
                case "function_call" -> {
                    // Consecutive calls are one assistant turn with parallel tool calls, as chat models expect.
                    if (lastAssistant == null) {
                        lastAssistant = messages.addObject();
                        lastAssistant.put("role", "assistant");
                        lastAssistant.putNull("content");
                    }
                    var call = lastAssistant.withArray("tool_calls").addObject();
                    call.put("id", item.get("call_id").asText());
                    call.put("type", "function");
                    var f = call.putObject("function");
                    f.put("name", item.get("name").asText());
                    f.put("arguments", item.get("arguments").asText());
                    calls.add(item.get("call_id").asText());
                    unanswered.add(item.get("call_id").asText());
                }
                case "function_call_output" -> {
                    var callId = item.get("call_id").asText();
                    if (!calls.contains(callId)) {
                        throw ApiException.badRequest("No tool call found for function call output with call_id " + callId + ".", "input");
                    }
                    unanswered.remove(callId);
                    var m = messages.addObject();
                    m.put("role", "tool");
                    m.put("tool_call_id", callId);
                    m.put("content", item.get("output").asText());
                    lastAssistant = null;
                }
                default -> {} // reasoning items stay with the response; chat upstreams take no reasoning input
            }
        }
        // Every call needs its output before the model is asked again, as OpenAI requires; a chat upstream would
        // refuse the unanswered call naming its own 'messages' param, or a lenient one answer as if it was never made.
        if (!unanswered.isEmpty()) {
            throw ApiException.badRequest("No tool output found for function call " + unanswered.iterator().next() + ".", "input");
        }
        if (!req.tools().isEmpty()) {
            body.set("tools", Tools.toChat(req.tools(), toolsGiven));
            body.set("tool_choice", Tools.choiceToChat(req.toolChoice()));
            body.put("parallel_tool_calls", req.parallelToolCalls());
        }
        var format = TextFormat.toChat(req.text());
        if (format != null) body.set("response_format", format);
        if (!req.maxOutputTokens().isNull()) body.set("max_completion_tokens", req.maxOutputTokens());
        if (!req.temperature().isNull()) body.set("temperature", req.temperature());
        if (!req.topP().isNull()) body.set("top_p", req.topP());
        if (req.reasoning().path("effort").isTextual()) body.set("reasoning_effort", req.reasoning().get("effort"));
        if (req.user().isTextual()) body.set("user", req.user());
        if (req.sim() != null && req.sim().isObject()) body.set("sim", req.sim());
        return body;
    }

    private static String text(JsonNode content) {
        var out = new StringBuilder();
        for (var part : content) out.append(part.has("text") ? part.get("text").asText() : part.path("refusal").asText());
        return out.toString();
    }
}
