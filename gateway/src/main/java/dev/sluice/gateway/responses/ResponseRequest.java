package dev.sluice.gateway.responses;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.gateway.http.Exchange;
import dev.sluice.gateway.runs.ApiException;
import dev.sluice.gateway.runs.Requests;
import dev.sluice.wire.json.Json;
import java.util.List;
import java.util.Set;

/**
 * A validated {@code POST /v1/responses} body, already in the shapes the response object echoes back
 * (function tools with {@code strict}, {@code tool_choice}, {@code text}). Anything invalid is a 400 that
 * names the parameter, as OpenAI's.
 *
 * @param input the request's own input items, as item resources with ids (what {@code input_items} lists)
 * @param sim   the simulator's per-request settings, passed through to the upstream body (tests, demos)
 */
record ResponseRequest(String model, JsonNode instructions, List<ObjectNode> input, ArrayNode tools, JsonNode toolChoice,
        boolean parallelToolCalls, ObjectNode text, JsonNode maxOutputTokens, JsonNode temperature, JsonNode topP,
        ObjectNode metadata, boolean store, boolean background, boolean stream, String previousResponseId,
        JsonNode reasoning, JsonNode user, String truncation, JsonNode topLogprobs, JsonNode maxToolCalls, JsonNode sim) {

    /** OpenAI's {@code include} values. None names anything Sluice produces, so valid ones change nothing. */
    private static final Set<String> INCLUDABLE = Set.of("file_search_call.results", "web_search_call.results", "web_search_call.action.sources",
            "message.input_image.image_url", "computer_call_output.output.image_url", "code_interpreter_call.outputs",
            "reasoning.encrypted_content", "message.output_text.logprobs");
    private static final Set<String> SERVICE_TIERS = Set.of("auto", "default", "flex", "scale", "priority", "fast", "ultrafast");

    static ResponseRequest parse(Exchange ex) {
        return parse(body(ex));
    }

    static ResponseRequest parse(ObjectNode body) {
        var model = body.get("model");
        if (model == null || model.isNull()) throw ApiException.badRequest("Missing required parameter: 'model'.", "model");
        if (!model.isTextual() || model.asText().isBlank()) throw ApiException.badRequest("Invalid type for 'model': expected a string.", "model");
        var previous = body.get("previous_response_id");
        if (previous != null && !previous.isNull() && !previous.isTextual()) {
            throw ApiException.badRequest("Invalid type for 'previous_response_id': expected a string.", "previous_response_id");
        }
        var previousId = previous == null || previous.isNull() ? null : previous.asText();
        var inputNode = body.get("input");
        if ((inputNode == null || inputNode.isNull()) && previousId == null) throw ApiException.badRequest("Missing required parameter: 'input'.", "input");
        var input = InputItems.normalize(inputNode);
        boolean store = Requests.bool(body, "store", true);
        boolean background = Requests.bool(body, "background", false);
        // OpenAI runs background responses only when they are stored: there is nothing to poll otherwise.
        if (background && !store) throw ApiException.badRequest("Background mode requires 'store' to be true.", "store");
        if (body.has("conversation") && !body.get("conversation").isNull()) {
            throw ApiException.badRequest("Sluice does not support 'conversation'; chain responses with 'previous_response_id' instead.", "conversation");
        }
        // A stored prompt template lives at OpenAI: ignoring it would answer without its instructions.
        if (body.has("prompt") && !body.get("prompt").isNull()) {
            throw ApiException.badRequest("Sluice does not support 'prompt' (stored prompt templates); send 'instructions' and 'input' instead.", "prompt");
        }
        include(body);
        var tier = Requests.nullableString(body, "service_tier");
        if (tier.isTextual() && !SERVICE_TIERS.contains(tier.asText())) {
            throw ApiException.badRequest("Invalid value for 'service_tier': '" + tier.asText() + "'. Supported values are: 'auto', 'default', 'flex', 'scale', 'priority', 'fast' and 'ultrafast'.", "service_tier");
        }
        var tools = Tools.normalize(body.get("tools"));
        var toolChoice = Tools.toolChoice(body.get("tool_choice"));
        // Without tools, 'required' cannot be honoured (and chat upstreams never see a tool_choice then), as chat completions say.
        if (tools.isEmpty() && toolChoice.isTextual() && toolChoice.asText().equals("required")) {
            throw ApiException.badRequest("Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.", "tool_choice");
        }
        if (toolChoice.isObject() && !Tools.names(tools).contains(toolChoice.get("name").asText())) {
            throw ApiException.badRequest("Tool choice '" + toolChoice.get("name").asText() + "' not found in 'tools' parameter.", "tool_choice");
        }
        return new ResponseRequest(model.asText(), Requests.nullableString(body, "instructions"), input, tools, toolChoice, Requests.bool(body, "parallel_tool_calls", true), TextFormat.normalize(body.get("text")),
                maxOutputTokens(body), Requests.number(body, "temperature", 0, 2), Requests.number(body, "top_p", 0, 1), metadata(body),
                store, background, Requests.bool(body, "stream", false), previousId, reasoning(body), Requests.nullableString(body, "user"), truncation(body),
                integer(body, "top_logprobs", 0, 20, Json.NODES.numberNode(0)), integer(body, "max_tool_calls", 1, Integer.MAX_VALUE, Json.NODES.nullNode()),
                body.get("sim"));
    }

    /**
     * {@code auto} or {@code disabled} (the default). Sluice never drops items itself: with {@code auto}, a
     * conversation too long for the model is the upstream's error, as with {@code disabled}.
     */
    private static String truncation(ObjectNode body) {
        var node = Requests.nullableString(body, "truncation");
        if (node.isNull()) return "disabled";
        if (!node.asText().equals("auto") && !node.asText().equals("disabled")) {
            throw ApiException.badRequest("Invalid value for 'truncation': '" + node.asText() + "'. Supported values are: 'auto' and 'disabled'.", "truncation");
        }
        return node.asText();
    }

    /** An array of OpenAI's includable values, or null. */
    private static void include(ObjectNode body) {
        var node = body.get("include");
        if (node == null || node.isNull()) return;
        if (!node.isArray()) throw ApiException.badRequest("Invalid type for 'include': expected an array of strings.", "include");
        int i = 0;
        for (var value : node) {
            var at = "include[" + i++ + "]";
            if (!value.isTextual()) throw ApiException.badRequest("Invalid type for '" + at + "': expected a string.", at);
            if (!INCLUDABLE.contains(value.asText())) {
                throw ApiException.badRequest("Invalid value for '" + at + "': '" + value.asText() + "'. Supported values are: '"
                        + String.join("', '", INCLUDABLE.stream().sorted().toList()) + "'.", at);
            }
        }
    }

    /** An integer in [min, max], compared on its exact value; {@code fallback} when absent or null. */
    private static JsonNode integer(ObjectNode body, String field, long min, long max, JsonNode fallback) {
        var node = body.get(field);
        if (node == null || node.isNull()) return fallback;
        if (!node.isIntegralNumber()) throw ApiException.badRequest("Invalid type for '" + field + "': expected an integer.", field);
        ApiException.requireInRange(field, node, min, max);
        return node;
    }

    private static ObjectNode body(Exchange ex) {
        // Unlike an Assistants call, an empty body is not {}: it lacks the model.
        if (ex.body() == null || ex.body().length == 0) throw ApiException.badRequest("Missing required parameter: 'model'.", "model");
        return Requests.body(ex);
    }

    /** OpenAI's minimum is 16 output tokens. */
    private static JsonNode maxOutputTokens(ObjectNode body) {
        var node = body.get("max_output_tokens");
        if (node == null || node.isNull()) return Json.NODES.nullNode();
        if (!node.isIntegralNumber()) throw ApiException.badRequest("Invalid type for 'max_output_tokens': expected an integer.", "max_output_tokens");
        // No maximum in OpenAI's spec; the bound is the chat parameter's the value becomes upstream (max_tokens).
        ApiException.requireInRange("max_output_tokens", node, 16, Integer.MAX_VALUE);
        return node;
    }

    /** Up to 16 string pairs, keys up to 64 and values up to 512 characters. */
    private static ObjectNode metadata(ObjectNode body) {
        var node = body.get("metadata");
        if (node == null || node.isNull()) return Json.object();
        if (!node.isObject()) throw ApiException.badRequest("Invalid type for 'metadata': expected an object.", "metadata");
        if (node.size() > 16) throw ApiException.badRequest("Invalid 'metadata': at most 16 key-value pairs are allowed.", "metadata");
        for (var e : node.properties()) {
            if (e.getKey().length() > 64) throw ApiException.badRequest("Invalid 'metadata': keys are at most 64 characters.", "metadata");
            if (!e.getValue().isTextual() || e.getValue().asText().length() > 512) {
                throw ApiException.badRequest("Invalid 'metadata." + e.getKey() + "': values must be strings of at most 512 characters.", "metadata");
            }
        }
        return (ObjectNode) node.deepCopy();
    }

    private static JsonNode reasoning(ObjectNode body) {
        var node = body.get("reasoning");
        var out = Json.object();
        out.putNull("effort");
        out.putNull("summary");
        if (node == null || node.isNull()) return out;
        if (!node.isObject()) throw ApiException.badRequest("Invalid type for 'reasoning': expected an object.", "reasoning");
        var effort = node.path("effort");
        if (!effort.isMissingNode() && !effort.isNull() && !effort.isTextual()) {
            throw ApiException.badRequest("Invalid type for 'reasoning.effort': expected a string.", "reasoning.effort");
        }
        if (effort.isTextual()) {
            if (!Set.of("none", "minimal", "low", "medium", "high", "xhigh").contains(effort.asText())) {
                throw ApiException.badRequest("Invalid value for 'reasoning.effort': '" + effort.asText() + "'.", "reasoning.effort");
            }
            out.set("effort", effort);
        }
        var summary = node.path("summary");
        if (!summary.isMissingNode() && !summary.isNull() && !(summary.isTextual() && Set.of("auto", "concise", "detailed").contains(summary.asText()))) {
            throw ApiException.badRequest("Invalid value for 'reasoning.summary': expected 'auto', 'concise' or 'detailed'.", "reasoning.summary");
        }
        if (summary.isTextual()) out.set("summary", summary);
        return out;
    }
}
