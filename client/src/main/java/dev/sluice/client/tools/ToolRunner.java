package dev.sluice.client.tools;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.client.RequestOptions;
import dev.sluice.client.SluiceClient;
import dev.sluice.client.chat.ChatMessage;
import dev.sluice.client.chat.ChatRequest;
import dev.sluice.client.chat.ChatStreamListener;
import dev.sluice.wire.chat.ChatCompletion;
import dev.sluice.wire.json.Json;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The tool-calling loop, after openai-node's {@code runTools}: stream a completion; if the model asked for
 * tools, run them (in parallel on virtual threads when it asked for several), append the assistant message and
 * one {@code tool} message per call, in the order of the calls, and ask again, until the model answers without
 * tool calls or {@code maxRounds} completions were made ({@link ToolRoundsExceededException}).
 *
 * <p>A call naming an unknown tool, or whose arguments are not JSON, is answered with an error message for the
 * model to correct; a tool function that throws stops the loop ({@link ToolExecutionException}). Only choice 0
 * is followed. Reusable and thread-safe: each {@link #run} has its own conversation.
 */
public final class ToolRunner {

    /** The outcome: the last completion (the answer), every message of the conversation, the completions made. */
    public record Result(ChatCompletion completion, List<ChatMessage> messages, int rounds) {
        public Result {
            messages = List.copyOf(messages);
        }

        /** The text of the final answer. */
        public String content() {
            var choice = completion.choice(0);
            return choice == null ? null : choice.message().content();
        }
    }

    private final SluiceClient client;
    private final Map<String, Tool> tools;
    private final int maxRounds;
    private final ChatStreamListener listener;
    private final RequestOptions options;

    private ToolRunner(Builder b) {
        this.client = b.client;
        this.tools = Map.copyOf(b.tools);
        this.maxRounds = b.maxRounds;
        this.listener = b.listener;
        this.options = b.options;
    }

    public static Builder builder(SluiceClient client) {
        return new Builder(client);
    }

    /**
     * Runs the loop from {@code request}; the registered tools are added to its tool definitions (a definition
     * of the same name already in the request is kept).
     */
    public Result run(ChatRequest request) throws IOException {
        var messages = new ArrayList<>(request.messages());
        var body = request.withTools(definitions(request.tools()));
        for (int round = 1; ; round++) {
            var completion = complete(body.withMessages(messages).toJson());
            var choice = completion.choice(0);
            if (choice == null) throw new IOException("the upstream answered without a choice");
            var calls = withIds(choice.message().toolCalls(), round);
            messages.add(new ChatMessage.Assistant(choice.message().content(), calls));
            if (calls.isEmpty()) return new Result(completion, messages, round);
            if (round >= maxRounds) throw new ToolRoundsExceededException(maxRounds, messages, completion);
            messages.addAll(runAll(calls));
        }
    }

    private ChatCompletion complete(ObjectNode body) throws IOException {
        try (var stream = client.chat().stream(body, options)) {
            if (listener != null) for (var event : stream) listener.onEvent(event);
            var completion = stream.finalChatCompletion();
            if (listener != null) listener.onCompletion(completion);
            return completion;
        } catch (UncheckedIOException e) {
            if (listener != null) listener.onError(e.getCause());
            throw e.getCause();
        } catch (IOException | RuntimeException e) {
            if (listener != null) listener.onError(e);
            throw e;
        }
    }

    private List<ChatMessage> runAll(List<ChatCompletion.ToolCall> calls) throws IOException {
        if (calls.size() == 1) return List.of(execute(calls.getFirst()));
        try (var executor = Executors.newVirtualThreadPerTaskExecutor()) {
            var futures = new ArrayList<Future<ChatMessage>>();
            for (var call : calls) futures.add(executor.submit(() -> execute(call)));
            var results = new ArrayList<ChatMessage>(calls.size());
            try {
                for (var future : futures) results.add(future.get());
            } catch (ExecutionException e) {
                executor.shutdownNow(); // the other tools are interrupted
                switch (e.getCause()) {
                    case RuntimeException r -> throw r;
                    case Error error -> throw error;
                    default -> throw new IllegalStateException(e.getCause());
                }
            } catch (InterruptedException e) {
                executor.shutdownNow();
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while running tools");
            }
            return results;
        }
    }

    private ChatMessage execute(ChatCompletion.ToolCall call) {
        var tool = tools.get(call.name());
        if (tool == null) {
            return ChatMessage.tool(call.id(), "Error: there is no tool named \"" + call.name() + "\"; available: " + tools.keySet());
        }
        JsonNode arguments;
        try {
            arguments = call.arguments() == null || call.arguments().isBlank() ? Json.object() : Json.parse(call.arguments());
        } catch (IllegalArgumentException e) {
            return ChatMessage.tool(call.id(), "Error: the arguments are not valid JSON (" + e.getMessage() + "); call the tool again with valid JSON arguments.");
        }
        try {
            var result = tool.function().call(arguments);
            return ChatMessage.tool(call.id(), result == null ? "" : result);
        } catch (Exception e) {
            throw new ToolExecutionException(tool.name(), call.id(), e);
        }
    }

    private List<ObjectNode> definitions(List<ObjectNode> requestTools) {
        var byName = new LinkedHashMap<String, ObjectNode>();
        for (var t : requestTools) byName.put(t.path("function").path("name").asText(""), t);
        tools.values().stream()
                .sorted((a, b) -> a.name().compareTo(b.name()))
                .forEach(t -> byName.putIfAbsent(t.name(), t.definition()));
        return List.copyOf(byName.values());
    }

    /** Tool messages must name the call they answer; a few servers send calls without ids. */
    private static List<ChatCompletion.ToolCall> withIds(List<ChatCompletion.ToolCall> calls, int round) {
        return calls.stream()
                .map(c -> c.id() != null && !c.id().isEmpty() ? c
                        : new ChatCompletion.ToolCall(c.index(), "call_" + round + "_" + c.index(), c.type(), c.name(), c.arguments()))
                .toList();
    }

    public static final class Builder {
        private final SluiceClient client;
        private final Map<String, Tool> tools = new LinkedHashMap<>();
        private int maxRounds = 10;
        private ChatStreamListener listener;
        private RequestOptions options = RequestOptions.DEFAULT;

        private Builder(SluiceClient client) {
            this.client = client;
        }

        public Builder tool(Tool tool) {
            if (tools.putIfAbsent(tool.name(), tool) != null) {
                throw new IllegalArgumentException("a tool named \"" + tool.name() + "\" is already registered");
            }
            return this;
        }

        public Builder tool(String name, String description, ObjectNode parameters, Tool.Function function) {
            return tool(new Tool(name, description, parameters, function));
        }

        /** The most completions one run may make (default 10). */
        public Builder maxRounds(int maxRounds) {
            if (maxRounds < 1) throw new IllegalArgumentException("maxRounds < 1");
            this.maxRounds = maxRounds;
            return this;
        }

        /** Receives the stream events of every round, on the thread calling {@link #run}, and each round's completion. */
        public Builder listener(ChatStreamListener listener) {
            this.listener = listener;
            return this;
        }

        public Builder requestOptions(RequestOptions options) {
            this.options = options;
            return this;
        }

        public ToolRunner build() {
            return new ToolRunner(this);
        }
    }
}
