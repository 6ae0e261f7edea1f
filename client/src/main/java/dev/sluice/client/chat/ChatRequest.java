package dev.sluice.client.chat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.wire.json.Json;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A chat completions request: model, messages, tools and the common parameters, plus any other field given
 * with {@link Builder#set}. Immutable; {@link #toJson()} is the body sent. Whether it streams is decided by the
 * call ({@code create} or {@code stream}), not here.
 */
public final class ChatRequest {

    private final String model;
    private final List<ChatMessage> messages;
    private final List<ObjectNode> tools;
    private final ObjectNode parameters;

    private ChatRequest(String model, List<ChatMessage> messages, List<ObjectNode> tools, ObjectNode parameters) {
        this.model = model;
        this.messages = List.copyOf(messages);
        this.tools = tools.stream().map(ObjectNode::deepCopy).toList();
        this.parameters = parameters.deepCopy();
    }

    public static Builder builder() {
        return new Builder();
    }

    public String model() {
        return model;
    }

    public List<ChatMessage> messages() {
        return messages;
    }

    /** Tool definitions, in the wire format ({@code {"type": "function", "function": {...}}}). */
    public List<ObjectNode> tools() {
        return tools.stream().map(ObjectNode::deepCopy).toList();
    }

    /** The same request with other messages. */
    public ChatRequest withMessages(List<ChatMessage> messages) {
        return new ChatRequest(model, messages, tools, parameters);
    }

    /** The same request with other tool definitions. */
    public ChatRequest withTools(List<ObjectNode> tools) {
        return new ChatRequest(model, messages, tools, parameters);
    }

    public Builder toBuilder() {
        var b = new Builder();
        b.model = model;
        b.messages.addAll(messages);
        b.tools.addAll(tools);
        b.parameters.setAll(parameters.deepCopy());
        return b;
    }

    public ObjectNode toJson() {
        var json = Json.object();
        if (model != null) json.put("model", model);
        var array = json.putArray("messages");
        messages.forEach(m -> array.add(m.toJson()));
        if (!tools.isEmpty()) {
            var t = json.putArray("tools");
            tools.forEach(tool -> t.add(tool.deepCopy()));
        }
        json.setAll(parameters.deepCopy());
        return json;
    }

    @Override
    public String toString() {
        return "ChatRequest" + toJson();
    }

    public static final class Builder {
        private String model;
        private final List<ChatMessage> messages = new ArrayList<>();
        private final List<ObjectNode> tools = new ArrayList<>();
        private final ObjectNode parameters = Json.object();

        private Builder() {}

        public Builder model(String model) {
            this.model = model;
            return this;
        }

        public Builder message(ChatMessage message) {
            messages.add(Objects.requireNonNull(message));
            return this;
        }

        public Builder messages(List<? extends ChatMessage> messages) {
            this.messages.addAll(messages);
            return this;
        }

        public Builder system(String content) {
            return message(ChatMessage.system(content));
        }

        public Builder developer(String content) {
            return message(ChatMessage.developer(content));
        }

        /** Adds a user message (the end-user id field is {@link #endUserId}). */
        public Builder user(String content) {
            return message(ChatMessage.user(content));
        }

        public Builder assistant(String content) {
            return message(ChatMessage.assistant(content));
        }

        /** A function tool; {@code parameters} is its JSON schema. */
        public Builder tool(String name, String description, ObjectNode parameters) {
            var tool = Json.object().put("type", "function");
            var fn = tool.putObject("function").put("name", name);
            if (description != null) fn.put("description", description);
            if (parameters != null) fn.set("parameters", parameters.deepCopy());
            tools.add(tool);
            return this;
        }

        /** A tool definition in the wire format, sent unchanged. */
        public Builder tool(ObjectNode definition) {
            tools.add(definition.deepCopy());
            return this;
        }

        public Builder temperature(double temperature) {
            parameters.put("temperature", temperature);
            return this;
        }

        public Builder topP(double topP) {
            parameters.put("top_p", topP);
            return this;
        }

        public Builder maxTokens(int maxTokens) {
            parameters.put("max_tokens", maxTokens);
            return this;
        }

        public Builder maxCompletionTokens(int maxCompletionTokens) {
            parameters.put("max_completion_tokens", maxCompletionTokens);
            return this;
        }

        public Builder n(int n) {
            parameters.put("n", n);
            return this;
        }

        public Builder stop(String... stop) {
            var array = parameters.putArray("stop");
            for (var s : stop) array.add(s);
            return this;
        }

        public Builder seed(long seed) {
            parameters.put("seed", seed);
            return this;
        }

        public Builder presencePenalty(double penalty) {
            parameters.put("presence_penalty", penalty);
            return this;
        }

        public Builder frequencyPenalty(double penalty) {
            parameters.put("frequency_penalty", penalty);
            return this;
        }

        /** {@code "auto"}, {@code "none"}, {@code "required"}. */
        public Builder toolChoice(String choice) {
            parameters.put("tool_choice", choice);
            return this;
        }

        /** Forces one function. */
        public Builder toolChoiceFunction(String name) {
            var choice = parameters.putObject("tool_choice").put("type", "function");
            choice.putObject("function").put("name", name);
            return this;
        }

        public Builder parallelToolCalls(boolean parallel) {
            parameters.put("parallel_tool_calls", parallel);
            return this;
        }

        /** E.g. {@code {"type": "json_schema", "json_schema": {...}}}. */
        public Builder responseFormat(JsonNode format) {
            parameters.set("response_format", format.deepCopy());
            return this;
        }

        public Builder logprobs(boolean logprobs) {
            parameters.put("logprobs", logprobs);
            return this;
        }

        public Builder topLogprobs(int topLogprobs) {
            parameters.put("top_logprobs", topLogprobs);
            return this;
        }

        /** {@code "minimal"}, {@code "low"}, {@code "medium"}, {@code "high"}. */
        public Builder reasoningEffort(String effort) {
            parameters.put("reasoning_effort", effort);
            return this;
        }

        /** Asks for a final usage chunk when streaming ({@code stream_options.include_usage}); ignored by create. */
        public Builder includeUsage(boolean include) {
            parameters.putObject("stream_options").put("include_usage", include);
            return this;
        }

        /** The {@code user} field: an id of the end user, for abuse monitoring. */
        public Builder endUserId(String id) {
            parameters.put("user", id);
            return this;
        }

        /** Any other body field, sent unchanged (provider extensions such as {@code top_k} or {@code reasoning}). */
        public Builder set(String field, JsonNode value) {
            parameters.set(field, value == null ? Json.NODES.nullNode() : value.deepCopy());
            return this;
        }

        public Builder set(String field, String value) {
            parameters.put(field, value);
            return this;
        }

        public Builder set(String field, long value) {
            parameters.put(field, value);
            return this;
        }

        public Builder set(String field, double value) {
            parameters.put(field, value);
            return this;
        }

        public Builder set(String field, boolean value) {
            parameters.put(field, value);
            return this;
        }

        public ChatRequest build() {
            return new ChatRequest(model, messages, tools, parameters);
        }
    }
}
