package dev.sluice.wire.chat;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.wire.chat.StreamEvent.Scope;
import dev.sluice.wire.json.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Translates OpenAI-style {@code chat.completion.chunk} payloads (OpenAI, Azure, OpenRouter, vLLM, SGLang,
 * llama.cpp, DeepSeek, Groq, Mistral, Ollama's /v1...) into canonical {@link StreamEvent}s.
 *
 * <p>It reads each chunk with Jackson's streaming parser (the hot path of both the gateway and the SDK), or,
 * for UTF-8 bytes of the plain text-delta shape most chunks have, with {@link FastChunkScanner}, which reads
 * the same thing more cheaply and leaves anything else to Jackson. Then it emits in a fixed
 * order whatever the JSON key order was (Azure sorts keys): metadata, per choice role / logprobs / reasoning
 * and text / refusal / tool calls / extras / finish, then chunk extras, usage and error. Quirks handled:
 * empty-id preamble chunks, repeated roles, {@code reasoning} vs {@code reasoning_content}, Mistral's
 * array-of-thinking-parts content, tool calls whose name arrives after the first fragment or whose id repeats
 * on every fragment, usage under {@code x_groq}, error objects inside a 200 stream (top level,
 * {@code object: "error"}, or an {@code event: error}), {@code finish_reason: "error"}.
 * Not thread-safe; one instance per stream.
 */
public final class ChatChunkDecoder {

    private final Consumer<StreamEvent> sink;

    private String id, model, fingerprint, tier;
    private long created;
    private boolean metadataSent;
    private final Map<Integer, ChoiceState> choiceStates = new HashMap<>();
    private ChoiceState lastState; // the state of choice lastIndex, or null
    private int lastIndex;
    private boolean errorSent;
    /** Whether chunks are tried on the fast path at all. */
    private final boolean fastPath;
    /** Made at the first chunk: a non-streamed completion, decoded by Jackson alone, never needs it. */
    private FastChunkScanner fast;
    private int fastChunks, fastMisses, fastSkips;

    public ChatChunkDecoder(Consumer<StreamEvent> sink) {
        this(sink, true);
    }

    /** {@code fastPath} false reads every chunk with Jackson: the reference the fast path is tested against. */
    ChatChunkDecoder(Consumer<StreamEvent> sink, boolean fastPath) {
        this.sink = sink;
        this.fastPath = fastPath;
    }

    /** How many chunks the fast path decoded (the rest went to Jackson). */
    int fastChunks() {
        return fastChunks;
    }

    /** Whether an error was emitted; the stream should be treated as failed. */
    public boolean errored() {
        return errorSent;
    }

    /** Decodes one SSE event's data (not {@code [DONE]}). {@code eventType} is the SSE event name or null. */
    public void decode(String eventType, String data) {
        if ("error".equals(eventType)) {
            emitError(errorFromData(data));
            return;
        }
        Chunk chunk;
        try (var p = Json.MAPPER.createParser(data)) {
            chunk = read(p, () -> data);
        } catch (IOException e) {
            emitError(malformed(data, why(e)));
            return;
        }
        if (chunk != null) emit(chunk);
    }

    /**
     * The same for data given as UTF-8 bytes (as the SSE decoder holds them): parsed in place, with no String
     * built for the payload. The bytes are only read during the call.
     */
    public void decode(String eventType, byte[] data, int offset, int length) {
        if ("error".equals(eventType)) {
            emitError(errorFromData(new String(data, offset, length, StandardCharsets.UTF_8)));
            return;
        }
        // The common shape is read straight from the bytes; anything else, errors included, is Jackson's.
        if (fastPath) {
            if (fast == null) fast = new FastChunkScanner(CHUNK_OBJECT);
            if (fastSkips > 0) {
                fastSkips--;
            } else if (fast.scan(data, offset, length)) {
                fastMisses = 0;
                fastChunks++;
                emit(fastChunk(fast));
                return;
            } else {
                // A failed scan is wasted work on top of Jackson's. Streams of other shapes (tool calls, logprobs)
                // miss chunk after chunk, so the fast path backs off, retrying ever later up to every 32nd chunk.
                fastMisses++;
                fastSkips = (1 << Math.min(fastMisses - 1, 5)) - 1;
            }
        }
        decodeWithJackson(data, offset, length);
    }

    /**
     * Decodes a whole non-streamed {@code chat.completion} (its {@code message} read as one delta). Straight to
     * Jackson: the fast path only knows chunks, and a completion always has what it refuses (usage, another object).
     */
    public void decodeCompletion(byte[] data, int offset, int length) {
        decodeWithJackson(data, offset, length);
    }

    /** Kept apart so that the JIT compiles this path as it did before the fast path existed (the lambda stays unallocated). */
    private void decodeWithJackson(byte[] data, int offset, int length) {
        Supplier<String> text = () -> new String(data, offset, length, StandardCharsets.UTF_8); // for errors only
        Chunk chunk;
        try (var p = Json.MAPPER.createParser(data, offset, length)) {
            chunk = read(p, text);
        } catch (IOException e) {
            // Invalid UTF-8 (a character split across chunks by some local servers) is not worth failing an answer
            // over: the official SDKs decode it as U+FFFD and carry on, and so does this, on the error path only.
            if (!validUtf8(data, offset, length)) decode(null, text.get());
            else emitError(malformed(text.get(), why(e)));
            return;
        }
        if (chunk != null) emit(chunk);
    }

    private static boolean validUtf8(byte[] data, int offset, int length) {
        try {
            StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(data, offset, length));
            return true;
        } catch (java.nio.charset.CharacterCodingException e) {
            return false;
        }
    }

    /** The chunk, or null when the payload is not a JSON object (an error was emitted). */
    private Chunk read(JsonParser p, Supplier<String> text) throws IOException {
        if (p.nextToken() != JsonToken.START_OBJECT) {
            emitError(malformed(text.get(), "not a JSON object"));
            return null;
        }
        return readChunk(p);
    }

    /** The stream ended: tool calls that never got a name are started with what is known. */
    public void end() {
        for (var entry : choiceStates.entrySet()) flushPendingTools(entry.getKey(), entry.getValue());
    }

    // ---------------------------------------------------------------- reading

    private static final class Chunk {
        String id, object, model, fingerprint, tier;
        long created = -1;
        boolean hasFingerprint, hasTier;
        JsonNode usage, error;
        List<Choice> choices = List.of();
        List<Map.Entry<String, JsonNode>> extras;
    }

    private static final class Choice {
        int index;
        String role, refusal, finish;
        List<Object> parts; // String text or Reasoning, in arrival order
        List<ToolDelta> tools;
        JsonNode logContent, logRefusal;
        List<StreamEvent.Extra> extras;
    }

    private record Reasoning(String text, String field) {}

    private record ToolDelta(int index, String id, String type, String name, String arguments) {}

    /** The chunk the Jackson path would have read from the same bytes. */
    private static Chunk fastChunk(FastChunkScanner s) {
        var c = new Chunk();
        c.id = s.id;
        c.object = s.object;
        c.created = s.created;
        c.model = s.model;
        c.fingerprint = s.fingerprint;
        c.hasFingerprint = s.hasFingerprint;
        c.tier = s.tier;
        c.hasTier = s.hasTier;
        // ArrayLists as the Jackson path builds, so that emit's loops see one list class and stay allocation-free.
        if (s.obfuscation != null) {
            c.extras = new ArrayList<>(1);
            c.extras.add(Map.entry("obfuscation", Json.NODES.textNode(s.obfuscation)));
        }
        if (s.hasChoice) {
            var ch = new Choice();
            ch.index = s.index;
            ch.role = s.role;
            if (s.content != null) addPart(ch, s.content);
            if (s.refusal != null && !s.refusal.isEmpty()) ch.refusal = s.refusal;
            ch.finish = s.finish;
            c.choices = new ArrayList<>(1);
            c.choices.add(ch);
        }
        return c;
    }

    private Chunk readChunk(JsonParser p) throws IOException {
        var c = new Chunk();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            JsonToken t = p.nextToken();
            switch (name) {
                // Metadata repeats on every chunk: the previous String is reused when the text is the same.
                case "id" -> c.id = text(p, t, id);
                case "object" -> c.object = text(p, t, CHUNK_OBJECT);
                case "created" -> {
                    if (t.isNumeric()) c.created = p.getLongValue();
                    else p.skipChildren();
                }
                case "model" -> c.model = text(p, t, model);
                case "system_fingerprint" -> {
                    c.fingerprint = text(p, t, fingerprint);
                    c.hasFingerprint = true;
                }
                case "service_tier" -> {
                    c.tier = text(p, t, tier);
                    c.hasTier = true;
                }
                case "usage" -> c.usage = objectOrNull(p, t);
                case "error" -> c.error = tree(p, t);
                case "choices" -> c.choices = readChoices(p, t);
                default -> {
                    var value = tree(p, t);
                    if (c.extras == null) c.extras = new ArrayList<>(2);
                    c.extras.add(Map.entry(name, value));
                }
            }
        }
        return c;
    }

    private List<Choice> readChoices(JsonParser p, JsonToken t) throws IOException {
        if (t != JsonToken.START_ARRAY) {
            p.skipChildren();
            return List.of();
        }
        var list = new ArrayList<Choice>(1);
        while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
            if (t != JsonToken.START_OBJECT) {
                p.skipChildren();
                continue;
            }
            var ch = new Choice();
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                t = p.nextToken();
                switch (name) {
                    case "index" -> ch.index = t.isNumeric() ? p.getIntValue() : 0;
                    case "delta", "message" -> readDelta(p, t, ch);
                    case "logprobs" -> {
                        var lp = tree(p, t);
                        if (lp != null && lp.isObject()) {
                            ch.logContent = nonEmptyArray(lp.get("content"));
                            ch.logRefusal = nonEmptyArray(lp.get("refusal"));
                        }
                    }
                    case "finish_reason" -> ch.finish = text(p, t);
                    default -> addExtra(ch, Scope.CHOICE, name, tree(p, t));
                }
            }
            list.add(ch);
        }
        return list;
    }

    private void readDelta(JsonParser p, JsonToken t, Choice ch) throws IOException {
        if (t != JsonToken.START_OBJECT) {
            p.skipChildren();
            return;
        }
        boolean reasoningSeen = false;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            t = p.nextToken();
            switch (name) {
                case "role" -> ch.role = text(p, t);
                case "content" -> {
                    if (t == JsonToken.VALUE_STRING) addPart(ch, p.getText());
                    else if (t == JsonToken.START_ARRAY) readContentParts(p, ch);
                    else p.skipChildren();
                }
                case "reasoning_content", "reasoning" -> {
                    // Some servers send the same text under both names; take the first one only.
                    if (t == JsonToken.VALUE_STRING && !reasoningSeen) {
                        reasoningSeen = true;
                        var text = p.getText();
                        if (!text.isEmpty()) addPart(ch, new Reasoning(text, name));
                    } else if (t == JsonToken.VALUE_STRING || t == JsonToken.VALUE_NULL) {
                        // duplicate or null: nothing to add
                    } else {
                        addExtra(ch, Scope.DELTA, name, tree(p, t));
                    }
                }
                case "refusal" -> {
                    var text = text(p, t);
                    if (text != null && !text.isEmpty()) ch.refusal = ch.refusal == null ? text : ch.refusal + text;
                }
                case "tool_calls" -> readToolCalls(p, t, ch);
                default -> addExtra(ch, Scope.DELTA, name, tree(p, t));
            }
        }
    }

    /** Mistral's magistral models stream content as an array of parts, thinking parts nesting text parts. */
    private void readContentParts(JsonParser p, Choice ch) throws IOException {
        JsonNode parts = Json.readTree(p);
        for (var part : parts) {
            String type = part.path("type").asText("");
            switch (type) {
                case "text" -> addPart(ch, part.path("text").asText(""));
                case "thinking" -> {
                    var thinking = part.get("thinking");
                    if (thinking != null && thinking.isArray()) {
                        for (var inner : thinking) {
                            var text = inner.path("text").asText("");
                            if (!text.isEmpty()) addPart(ch, new Reasoning(text, "content[].thinking[]"));
                        }
                    } else if (thinking != null && thinking.isTextual() && !thinking.asText().isEmpty()) {
                        addPart(ch, new Reasoning(thinking.asText(), "content[].thinking[]"));
                    }
                }
                default -> addExtra(ch, Scope.DELTA, "content", parts);
            }
        }
    }

    private void readToolCalls(JsonParser p, JsonToken t, Choice ch) throws IOException {
        if (t != JsonToken.START_ARRAY) {
            p.skipChildren();
            return;
        }
        int position = 0;
        while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
            if (t != JsonToken.START_OBJECT) {
                p.skipChildren();
                continue;
            }
            int index = position;
            String id = null, type = null, name = null, args = null;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                t = p.nextToken();
                switch (field) {
                    case "index" -> index = t.isNumeric() ? p.getIntValue() : index;
                    case "id" -> id = text(p, t);
                    case "type" -> type = text(p, t);
                    case "function" -> {
                        if (t != JsonToken.START_OBJECT) {
                            p.skipChildren();
                            break;
                        }
                        while (p.nextToken() == JsonToken.FIELD_NAME) {
                            String f = p.currentName();
                            t = p.nextToken();
                            switch (f) {
                                case "name" -> name = text(p, t);
                                case "arguments" -> {
                                    // Some servers (Ollama) send arguments as an object rather than a string.
                                    if (t == JsonToken.VALUE_STRING) args = p.getText();
                                    else if (t == JsonToken.START_OBJECT) args = Json.write(Json.readTree(p));
                                    else p.skipChildren();
                                }
                                default -> p.skipChildren();
                            }
                        }
                    }
                    default -> p.skipChildren();
                }
            }
            if (ch.tools == null) ch.tools = new ArrayList<>(1);
            ch.tools.add(new ToolDelta(index, id, type, name, args));
            position++;
        }
    }

    // ---------------------------------------------------------------- emitting

    private static final class ChoiceState {
        boolean roleSent;
        String finish;
        /** Created with the first tool call: most answers have none. */
        Map<Integer, ToolState> tools;
    }

    private static final class ToolState {
        boolean started;
        String id, type, name;
        StringBuilder pendingArgs;
    }

    private void emit(Chunk c) {
        if ("error".equals(c.object) && c.error == null) {
            // vLLM's older ErrorResponse: the whole payload is the error.
            var node = Json.object();
            if (c.extras != null) for (var e : c.extras) node.set(e.getKey(), e.getValue());
            emitError(StreamError.from(node));
            return;
        }
        updateMetadata(c);
        for (var ch : c.choices) emitChoice(ch);
        if (c.extras != null) {
            for (var e : c.extras) sink.accept(new StreamEvent.Extra(Scope.CHUNK, 0, e.getKey(), e.getValue()));
        }
        JsonNode usage = c.usage;
        if (usage == null && c.extras != null) {
            for (var e : c.extras) {
                if (e.getKey().equals("x_groq") && e.getValue().path("usage").isObject()) usage = e.getValue().get("usage");
            }
        }
        if (usage != null) sink.accept(new StreamEvent.Usage(usage));
        if (c.error != null && !c.error.isNull()) {
            emitError(StreamError.from(c.error));
        } else if (finishedWithError(c)) {
            // finish_reason "error" without the provider's own error object: still an error, never a clean end.
            emitError(StreamError.of("The upstream ended the answer with finish_reason \"error\"", "server_error", "upstream_error"));
        }
    }

    private static boolean finishedWithError(Chunk c) {
        for (var ch : c.choices) if ("error".equals(ch.finish)) return true;
        return false;
    }

    private void updateMetadata(Chunk c) {
        boolean changed = false;
        if (c.id != null && !c.id.isEmpty() && !c.id.equals(id)) {
            id = c.id;
            changed = true;
        }
        if (c.model != null && !c.model.isEmpty() && !c.model.equals(model)) {
            model = c.model;
            changed = true;
        }
        if (c.created > 0 && c.created != created) {
            created = c.created;
            changed = true;
        }
        if (c.fingerprint != null && !c.fingerprint.equals(fingerprint)) {
            fingerprint = c.fingerprint;
            changed = true;
        }
        if (c.tier != null && !c.tier.equals(tier)) {
            tier = c.tier;
            changed = true;
        }
        if (changed || (!metadataSent && id != null)) {
            metadataSent = true;
            sink.accept(new StreamEvent.Metadata(id, model, created, fingerprint, tier));
        }
    }

    private void emitChoice(Choice ch) {
        int i = ch.index;
        // Almost every chunk is for the same choice as the one before: no boxing and hashing of its index then.
        var state = lastState;
        if (state == null || lastIndex != i) {
            state = choiceStates.computeIfAbsent(i, k -> new ChoiceState());
            lastState = state;
            lastIndex = i;
        }
        if (ch.role != null && !state.roleSent) {
            state.roleSent = true;
            sink.accept(new StreamEvent.Role(i, ch.role));
        }
        // Logprobs go just before the text they describe, so a front end can put both in one chunk.
        if (ch.logContent != null || ch.logRefusal != null) {
            sink.accept(new StreamEvent.Logprobs(i, ch.logContent, ch.logRefusal));
        }
        if (ch.parts != null) {
            for (var part : ch.parts) {
                if (part instanceof String text) sink.accept(new StreamEvent.TextDelta(i, text));
                else if (part instanceof Reasoning r) sink.accept(new StreamEvent.ReasoningDelta(i, r.text, r.field));
            }
        }
        if (ch.refusal != null) sink.accept(new StreamEvent.RefusalDelta(i, ch.refusal));
        if (ch.tools != null) for (var tool : ch.tools) emitTool(i, state, tool);
        if (ch.extras != null) ch.extras.forEach(sink);
        if (ch.finish != null && !ch.finish.equals(state.finish)) {
            flushPendingTools(i, state);
            state.finish = ch.finish;
            sink.accept(new StreamEvent.Finish(i, ch.finish));
        }
    }

    private void emitTool(int choice, ChoiceState state, ToolDelta d) {
        if (state.tools == null) state.tools = new HashMap<>();
        var tool = state.tools.computeIfAbsent(d.index, k -> new ToolState());
        if (!tool.started) {
            if (tool.id == null) tool.id = d.id;
            if (tool.type == null) tool.type = d.type;
            if (tool.name == null) tool.name = d.name;
            if (tool.name == null) {
                // No name yet: hold the fragments so the start event can carry the name when it arrives.
                if (d.arguments != null && !d.arguments.isEmpty()) {
                    if (tool.pendingArgs == null) tool.pendingArgs = new StringBuilder();
                    tool.pendingArgs.append(d.arguments);
                }
                return;
            }
            startTool(choice, d.index, tool);
        }
        if (d.arguments != null && !d.arguments.isEmpty()) {
            sink.accept(new StreamEvent.ToolCallArguments(choice, d.index, d.arguments));
        }
    }

    private void startTool(int choice, int index, ToolState tool) {
        tool.started = true;
        sink.accept(new StreamEvent.ToolCallStart(choice, index, tool.id, tool.type == null ? "function" : tool.type, tool.name));
        if (tool.pendingArgs != null) {
            sink.accept(new StreamEvent.ToolCallArguments(choice, index, tool.pendingArgs.toString()));
            tool.pendingArgs = null;
        }
    }

    private void flushPendingTools(int choice, ChoiceState state) {
        if (state.tools == null) return;
        state.tools.entrySet().stream()
                .filter(e -> !e.getValue().started)
                .sorted(Map.Entry.comparingByKey())
                .forEach(e -> startTool(choice, e.getKey(), e.getValue()));
    }

    private void emitError(StreamError error) {
        errorSent = true;
        sink.accept(new StreamEvent.Error(error));
    }

    // ---------------------------------------------------------------- helpers

    private static void addPart(Choice ch, Object part) {
        if (part instanceof String s && s.isEmpty()) return;
        if (ch.parts == null) ch.parts = new ArrayList<>(1);
        ch.parts.add(part);
    }

    private static void addExtra(Choice ch, Scope scope, String name, JsonNode value) {
        if (ch.extras == null) ch.extras = new ArrayList<>(2);
        ch.extras.add(new StreamEvent.Extra(scope, ch.index, name, value));
    }

    private static String text(JsonParser p, JsonToken t) throws IOException {
        if (t == JsonToken.VALUE_NULL) return null;
        if (t.isScalarValue()) return p.getText();
        p.skipChildren();
        return null;
    }

    private static final String CHUNK_OBJECT = "chat.completion.chunk";

    /** As {@link #text(JsonParser, JsonToken)}, but returns {@code previous} (no new String) when the text equals it. */
    private static String text(JsonParser p, JsonToken t, String previous) throws IOException {
        if (t == JsonToken.VALUE_STRING && previous != null && p.getTextLength() == previous.length()) {
            char[] chars = p.getTextCharacters();
            int offset = p.getTextOffset();
            for (int i = 0; i < previous.length(); i++) {
                if (chars[offset + i] != previous.charAt(i)) return p.getText();
            }
            return previous;
        }
        return text(p, t);
    }

    private static JsonNode tree(JsonParser p, JsonToken t) throws IOException {
        if (t == JsonToken.VALUE_NULL) return Json.NODES.nullNode();
        return Json.readTree(p);
    }

    private static JsonNode objectOrNull(JsonParser p, JsonToken t) throws IOException {
        if (t != JsonToken.START_OBJECT) {
            p.skipChildren();
            return null;
        }
        return Json.readTree(p);
    }

    private static JsonNode nonEmptyArray(JsonNode node) {
        return node != null && node.isArray() && !node.isEmpty() ? node : null;
    }

    private static StreamError errorFromData(String data) {
        try {
            var node = Json.parse(data);
            return StreamError.from(node);
        } catch (IllegalArgumentException e) {
            return StreamError.of(data, "server_error", null);
        }
    }

    /**
     * What was wrong with a chunk, in words a client can be shown. Jackson's own messages speak of character codes,
     * tokens and its configuration ("Unexpected character ('n' (code 110)): was expecting double-quote to start
     * field name", "...from `StreamReadConstraints.getMaxNestingDepth()`"); the place is what helps.
     */
    private static String why(IOException e) {
        if (e instanceof com.fasterxml.jackson.core.exc.StreamConstraintsException) return "nested or sized beyond the parser's limits";
        if (e instanceof com.fasterxml.jackson.core.JsonProcessingException j) {
            var original = j.getOriginalMessage() == null ? "" : j.getOriginalMessage();
            if (original.startsWith("Unexpected end-of-input")) return "the JSON ends early";
            var at = j.getLocation();
            return at != null && at.getColumnNr() > 0 ? "not valid JSON at column " + at.getColumnNr() : "not valid JSON";
        }
        var message = e.getMessage();
        return message == null ? "not valid JSON" : message.lines().findFirst().orElse("not valid JSON");
    }

    /** The error for a chunk that is not what it should be, with a sample of it only when it is text (not compressed or binary bytes). */
    private static StreamError malformed(String data, String reason) {
        var sample = data.length() > 200 ? data.substring(0, 200) + "..." : data;
        boolean text = sample.chars().allMatch(c -> c >= 0x20 && c != 0x7f && c != 0xfffd || c == '\t');
        return StreamError.of("Malformed chunk from upstream (" + reason + ")" + (text ? ": " + sample : "; its data is not text"),
                "upstream_error", "bad_upstream_response");
    }
}
