package dev.sluice.client.chat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.wire.chat.ChatCompletion;
import dev.sluice.wire.json.Json;
import java.util.List;
import java.util.Objects;

/** A message of a chat request. {@link Raw} carries any shape the typed ones do not (content parts, names...). */
public sealed interface ChatMessage {

    /** The message in the wire format of the chat completions API. */
    ObjectNode toJson();

    /** A text message of {@code system}, {@code developer} or {@code user} role. */
    record Text(String role, String content) implements ChatMessage {
        public Text {
            Objects.requireNonNull(role, "role");
            Objects.requireNonNull(content, "content");
        }

        @Override
        public ObjectNode toJson() {
            return Json.object().put("role", role).put("content", content);
        }
    }

    /** An assistant turn: text, tool calls, or both. */
    record Assistant(String content, List<ChatCompletion.ToolCall> toolCalls) implements ChatMessage {
        public Assistant {
            toolCalls = toolCalls == null ? List.of() : List.copyOf(toolCalls);
        }

        @Override
        public ObjectNode toJson() {
            var json = Json.object().put("role", "assistant");
            json.put("content", content);
            if (!toolCalls.isEmpty()) {
                var calls = json.putArray("tool_calls");
                for (var call : toolCalls) {
                    var c = calls.addObject().put("id", call.id()).put("type", call.type() == null ? "function" : call.type());
                    c.putObject("function").put("name", call.name()).put("arguments", call.arguments());
                }
            }
            return json;
        }
    }

    /** The result of tool call {@code toolCallId}. */
    record ToolResult(String toolCallId, String content) implements ChatMessage {
        public ToolResult {
            Objects.requireNonNull(toolCallId, "toolCallId");
            Objects.requireNonNull(content, "content");
        }

        @Override
        public ObjectNode toJson() {
            return Json.object().put("role", "tool").put("tool_call_id", toolCallId).put("content", content);
        }
    }

    /** A message given as JSON, sent unchanged. */
    record Raw(ObjectNode json) implements ChatMessage {
        public Raw {
            json = json.deepCopy();
        }

        @Override
        public ObjectNode json() {
            return json.deepCopy();
        }

        @Override
        public ObjectNode toJson() {
            return json.deepCopy();
        }
    }

    static ChatMessage system(String content) {
        return new Text("system", content);
    }

    static ChatMessage developer(String content) {
        return new Text("developer", content);
    }

    static ChatMessage user(String content) {
        return new Text("user", content);
    }

    static ChatMessage assistant(String content) {
        return new Assistant(content, List.of());
    }

    /** The assistant message of a completion, to send back in the next request (text and tool calls). */
    static ChatMessage assistant(ChatCompletion.Message message) {
        return new Assistant(message.content(), message.toolCalls());
    }

    static ChatMessage tool(String toolCallId, String content) {
        return new ToolResult(toolCallId, content);
    }

    static ChatMessage raw(ObjectNode json) {
        return new Raw(json);
    }
}
