package dev.sluice.client.chat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.wire.chat.ChatAccumulator;
import dev.sluice.wire.chat.StreamEvent;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * Derives the typed {@link ChatStreamEvent}s from canonical events, after the accumulator has taken each one.
 * The final result is the accumulator's alone; the state here only tracks which "done" events fired and the
 * snapshots the accumulator does not expose (it offers content snapshots only). Not thread-safe.
 */
final class TypedEvents {

    private final ChatAccumulator accumulator;
    private final TreeMap<Integer, ChoiceState> choices = new TreeMap<>();

    TypedEvents(ChatAccumulator accumulator) {
        this.accumulator = accumulator;
    }

    private static final class ChoiceState {
        boolean finished, contentDone, refusalDone, reasoningDone, logContentDone, logRefusalDone;
        final StringBuilder refusal = new StringBuilder();
        final StringBuilder reasoning = new StringBuilder();
        final List<JsonNode> logContent = new ArrayList<>();
        final List<JsonNode> logRefusal = new ArrayList<>();
        final TreeMap<Integer, ToolState> tools = new TreeMap<>();
        Integer currentTool;

        ToolState tool(int index) {
            return tools.computeIfAbsent(index, k -> new ToolState());
        }
    }

    private static final class ToolState {
        String id, name;
        boolean done;
        final StringBuilder arguments = new StringBuilder();
    }

    void on(StreamEvent event, Consumer<ChatStreamEvent> out) {
        out.accept(new ChatStreamEvent.Chunk(event));
        switch (event) {
            case StreamEvent.TextDelta t -> {
                choice(t.choice());
                out.accept(new ChatStreamEvent.ContentDelta(t.choice(), t.text(), accumulator.contentSnapshot(t.choice())));
            }
            case StreamEvent.RefusalDelta r -> {
                var c = choice(r.choice());
                c.refusal.append(r.text());
                out.accept(new ChatStreamEvent.RefusalDelta(r.choice(), r.text(), c.refusal.toString()));
            }
            case StreamEvent.ReasoningDelta r -> {
                var c = choice(r.choice());
                c.reasoning.append(r.text());
                out.accept(new ChatStreamEvent.ReasoningDelta(r.choice(), r.text(), c.reasoning.toString()));
            }
            case StreamEvent.ToolCallStart s -> {
                var c = choice(s.choice());
                // A new tool index means the previous call of this choice is complete.
                if (c.currentTool != null && c.currentTool != s.index()) toolDone(s.choice(), c, c.currentTool, out);
                c.currentTool = s.index();
                var tool = c.tool(s.index());
                if (tool.id == null) tool.id = s.id();
                if (tool.name == null) tool.name = s.name();
            }
            case StreamEvent.ToolCallArguments a -> {
                var tool = choice(a.choice()).tool(a.index());
                tool.arguments.append(a.fragment());
                out.accept(new ChatStreamEvent.ToolCallArgumentsDelta(
                        a.choice(), a.index(), tool.name, a.fragment(), tool.arguments.toString()));
            }
            case StreamEvent.Logprobs l -> {
                var c = choice(l.choice());
                if (l.content() != null) {
                    var tokens = tokens(l.content());
                    c.logContent.addAll(tokens);
                    out.accept(new ChatStreamEvent.LogprobsContentDelta(l.choice(), tokens, List.copyOf(c.logContent)));
                }
                if (l.refusal() != null) {
                    var tokens = tokens(l.refusal());
                    c.logRefusal.addAll(tokens);
                    out.accept(new ChatStreamEvent.LogprobsRefusalDelta(l.choice(), tokens, List.copyOf(c.logRefusal)));
                }
            }
            case StreamEvent.Finish f -> {
                done(f.choice(), choice(f.choice()), out);
                out.accept(new ChatStreamEvent.Finish(f.choice(), f.reason()));
            }
            case StreamEvent.Usage u -> out.accept(new ChatStreamEvent.Usage(u.usage()));
            case StreamEvent.Metadata m -> { }
            case StreamEvent.Role r -> choice(r.choice());
            case StreamEvent.Extra x -> { }
            case StreamEvent.Error e -> { }
        }
    }

    /** The stream ended: choices that never finished are done now. */
    void end(Consumer<ChatStreamEvent> out) {
        choices.forEach((index, c) -> {
            if (!c.finished) done(index, c, out);
        });
    }

    private void done(int index, ChoiceState c, Consumer<ChatStreamEvent> out) {
        c.finished = true;
        var content = accumulator.contentSnapshot(index);
        if (!content.isEmpty() && !c.contentDone) {
            c.contentDone = true;
            out.accept(new ChatStreamEvent.ContentDone(index, content));
        }
        if (!c.refusal.isEmpty() && !c.refusalDone) {
            c.refusalDone = true;
            out.accept(new ChatStreamEvent.RefusalDone(index, c.refusal.toString()));
        }
        if (!c.reasoning.isEmpty() && !c.reasoningDone) {
            c.reasoningDone = true;
            out.accept(new ChatStreamEvent.ReasoningDone(index, c.reasoning.toString()));
        }
        if (!c.logContent.isEmpty() && !c.logContentDone) {
            c.logContentDone = true;
            out.accept(new ChatStreamEvent.LogprobsContentDone(index, List.copyOf(c.logContent)));
        }
        if (!c.logRefusal.isEmpty() && !c.logRefusalDone) {
            c.logRefusalDone = true;
            out.accept(new ChatStreamEvent.LogprobsRefusalDone(index, List.copyOf(c.logRefusal)));
        }
        for (var toolIndex : c.tools.keySet()) toolDone(index, c, toolIndex, out);
    }

    private static void toolDone(int choice, ChoiceState c, int index, Consumer<ChatStreamEvent> out) {
        var tool = c.tools.get(index);
        if (tool == null || tool.done) return;
        tool.done = true;
        out.accept(new ChatStreamEvent.ToolCallDone(choice, index, tool.id, tool.name, tool.arguments.toString()));
    }

    private ChoiceState choice(int index) {
        return choices.computeIfAbsent(index, k -> new ChoiceState());
    }

    private static List<JsonNode> tokens(JsonNode array) {
        var list = new ArrayList<JsonNode>(array.size());
        array.forEach(list::add);
        return List.copyOf(list);
    }
}
