package dev.sluice.gateway.chat;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.util.ByteArrayBuilder;
import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.wire.chat.ChoiceSet;
import dev.sluice.wire.chat.StreamError;
import dev.sluice.wire.chat.StreamEvent;
import dev.sluice.wire.json.Json;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Translates canonical stream events into OpenAI {@code chat.completion.chunk} SSE frames, exactly as
 * OpenAI streams them: every chunk carries the same id, created, model and system_fingerprint; each choice
 * opens with a role chunk; tool calls carry their index on every delta and id/type/name on the first; each
 * choice ends with a chunk carrying its finish_reason; with {@code include_usage} every chunk has
 * {@code "usage": null} and a final chunk with {@code choices: []} carries the usage; then {@code [DONE]}.
 * An error becomes a {@code data: {"error": {...}}} frame, which the official SDKs raise as an error.
 * Not thread-safe; one per response.
 */
public final class ChatChunkWriter {

    private static final byte[] DONE = "data: [DONE]\n\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

    private final boolean includeUsage;
    private String id;
    private String model;
    private long created;
    private String fingerprint;
    private String serviceTier;
    private final ChoiceSet openedChoices = new ChoiceSet();
    private final ChoiceSet finishedChoices = new ChoiceSet();
    private final Map<Integer, JsonNode[]> pendingLogprobs = new HashMap<>();
    private JsonNode usage;
    private final ByteArrayBuilder buffer = new ByteArrayBuilder(512);

    /**
     * @param requestedModel reported as the model until the upstream names its own
     * @param includeUsage   the client asked for {@code stream_options.include_usage}
     */
    public ChatChunkWriter(String requestedModel, boolean includeUsage) {
        this.model = requestedModel;
        this.includeUsage = includeUsage;
    }

    /** The id every chunk carries (known once the first chunk went out). */
    public String id() {
        return id;
    }

    public JsonNode usage() {
        return usage;
    }

    /**
     * Where frames go: whole, or a text chunk in the pieces it is assembled from, which the sink appends in
     * order. The bytes are lent for the call only (the writer reuses a buffer for them): a sink copies what it
     * keeps. Returns false once the client is gone.
     */
    @FunctionalInterface
    public interface Sink {
        boolean write(byte[] bytes, int offset, int length);

        default boolean write(byte[] frame) {
            return write(frame, 0, frame.length);
        }
    }

    /**
     * Writes the frames of one event to {@code out}, in order; often one, sometimes none or two. Returns false
     * if the sink refused one (the client is gone).
     */
    public boolean onEvent(StreamEvent event, Sink out) {
        // Nothing follows a choice's finish chunk: clients (openai-java's accumulator) reject it.
        int choice = choiceOf(event);
        if (choice >= 0 && finishedChoices.contains(choice)) return true;
        boolean ok = true;
        switch (event) {
            case StreamEvent.Metadata m -> {
                // Identity is fixed by the first chunk sent; a later change must not split the stream's identity.
                if (id == null) {
                    id = m.id();
                    if (m.model() != null) model = m.model();
                    if (m.created() > 0) created = m.created();
                }
                if (fingerprint == null) fingerprint = m.systemFingerprint();
                if (serviceTier == null) serviceTier = m.serviceTier();
            }
            case StreamEvent.Role r -> {
                // The role chunk waits for the first content: OpenAI opens text answers with content ""
                // and tool-call or refusal answers with content null, and clients rebuild what it sends.
            }
            case StreamEvent.TextDelta t -> {
                ok = open(t.choice(), "", out);
                var logprobs = takeLogprobs(t.choice());
                ok &= logprobs == null ? contentChunk(t.choice(), t.text(), out) : out.write(chunk(t.choice(), "content", t.text(), logprobs, null));
            }
            case StreamEvent.RefusalDelta r -> {
                ok = open(r.choice(), out);
                ok &= out.write(chunk(r.choice(), "refusal", r.text(), takeLogprobs(r.choice()), null));
            }
            case StreamEvent.ReasoningDelta r -> {
                ok = open(r.choice(), out) & flushLogprobs(r.choice(), out);
                ok &= out.write(chunk(r.choice(), "reasoning".equals(r.field()) ? "reasoning" : "reasoning_content", r.text(), null, null));
            }
            case StreamEvent.Logprobs l -> {
                ok = open(l.choice(), out) & flushLogprobs(l.choice(), out);
                pendingLogprobs.put(l.choice(), new JsonNode[] {l.content(), l.refusal()});
            }
            case StreamEvent.ToolCallStart s -> {
                ok = open(s.choice(), out) & flushLogprobs(s.choice(), out);
                ok &= out.write(toolChunk(s.choice(), s.index(), s.id() == null ? generatedCallId() : s.id(), s.type(), s.name(), ""));
            }
            case StreamEvent.ToolCallArguments a -> {
                ok = open(a.choice(), out);
                ok &= out.write(toolChunk(a.choice(), a.index(), null, null, null, a.fragment()));
            }
            case StreamEvent.Finish f -> {
                // "error" is not an OpenAI finish reason; the error event that follows says it.
                if (f.reason().equals("error")) break;
                ok = open(f.choice(), "", out) & flushLogprobs(f.choice(), out);
                finishedChoices.add(f.choice());
                ok &= out.write(chunk(f.choice(), null, null, null, f.reason()));
            }
            case StreamEvent.Usage u -> usage = u.usage();
            case StreamEvent.Extra x -> {
                if (x.scope() == StreamEvent.Scope.DELTA && !(x.value().isContainerNode() && x.value().isEmpty()) && !x.value().isNull()) {
                    ok = open(x.choice(), out);
                    ok &= out.write(extraChunk(x));
                }
                // Chunk- and choice-level provider extras are kept by the accumulator, not relayed.
            }
            case StreamEvent.Error e -> {
                // Usage the upstream reported before failing is still the client's to see.
                if (includeUsage && usage != null) ok = out.write(usageChunk());
                ok &= out.write(error(e.error()));
            }
        }
        return ok;
    }

    /**
     * Writes the end of a successful stream to {@code out}: the usage chunk if asked for, then {@code [DONE]}.
     * Returns false if the sink refused a frame.
     */
    public boolean finish(Sink out) {
        boolean ok = true;
        for (var choice : List.copyOf(pendingLogprobs.keySet())) ok &= flushLogprobs(choice, out);
        if (includeUsage && usage != null) ok &= out.write(usageChunk());
        return ok & out.write(DONE);
    }

    private byte[] usageChunk() {
        return frame(g -> {
            header(g);
            g.writeArrayFieldStart("choices");
            g.writeEndArray();
            g.writeFieldName("usage");
            Json.writeTree(g, usage);
        });
    }

    /** An error frame in the shape the official SDKs raise: {@code data: {"error": {...}}}. */
    public byte[] error(StreamError error) {
        return frame(g -> {
            g.writeObjectFieldStart("error");
            g.writeStringField("message", error.message());
            g.writeStringField("type", error.type() == null ? "server_error" : error.type());
            g.writeStringField("param", error.param());
            g.writeStringField("code", error.code());
            g.writeEndObject();
        });
    }

    // ------------------------------------------------------------------------------------------------

    private static int choiceOf(StreamEvent event) {
        return switch (event) {
            case StreamEvent.Role r -> r.choice();
            case StreamEvent.TextDelta t -> t.choice();
            case StreamEvent.ReasoningDelta r -> r.choice();
            case StreamEvent.RefusalDelta r -> r.choice();
            case StreamEvent.ToolCallStart t -> t.choice();
            case StreamEvent.ToolCallArguments t -> t.choice();
            case StreamEvent.Logprobs l -> l.choice();
            case StreamEvent.Finish f -> f.choice();
            case StreamEvent.Extra x -> x.scope() == StreamEvent.Scope.CHUNK ? -1 : x.choice();
            case StreamEvent.Metadata m -> -1;
            case StreamEvent.Usage u -> -1;
            case StreamEvent.Error e -> -1;
        };
    }

    private boolean open(int choice, Sink out) {
        return open(choice, null, out);
    }

    private boolean open(int choice, String content, Sink out) {
        if (!openedChoices.add(choice)) return true;
        return out.write(frame(g -> {
            header(g);
            g.writeArrayFieldStart("choices");
            g.writeStartObject();
            g.writeNumberField("index", choice);
            g.writeObjectFieldStart("delta");
            g.writeStringField("role", "assistant");
            g.writeStringField("content", content);
            g.writeNullField("refusal");
            g.writeEndObject();
            g.writeNullField("logprobs");
            g.writeNullField("finish_reason");
            g.writeEndObject();
            g.writeEndArray();
            usageNull(g);
        }));
    }

    private JsonNode[] takeLogprobs(int choice) {
        // Nearly every answer has none pending: no boxing and hashing of the index per text chunk then.
        return pendingLogprobs.isEmpty() ? null : pendingLogprobs.remove(choice);
    }

    private boolean flushLogprobs(int choice, Sink out) {
        var lp = takeLogprobs(choice);
        return lp == null || out.write(chunk(choice, null, null, lp, null));
    }

    private byte[] chunk(int choice, String field, String text, JsonNode[] logprobs, String finish) {
        return frame(g -> {
            header(g);
            g.writeArrayFieldStart("choices");
            g.writeStartObject();
            g.writeNumberField("index", choice);
            g.writeObjectFieldStart("delta");
            if (field != null) g.writeStringField(field, text);
            g.writeEndObject();
            if (logprobs == null) {
                g.writeNullField("logprobs");
            } else {
                g.writeObjectFieldStart("logprobs");
                writeNullable(g, "content", logprobs[0]);
                writeNullable(g, "refusal", logprobs[1]);
                g.writeEndObject();
            }
            g.writeStringField("finish_reason", finish);
            g.writeEndObject();
            g.writeEndArray();
            usageNull(g);
        });
    }

    /**
     * The most frequent chunk, a piece of text, written in pieces: the header every chunk shares is encoded
     * once per stream, the text escaped exactly as the generator would. Same bytes as
     * {@code chunk(choice, "content", text, null, null)}, without a generator per token, and without a frame
     * of its own: the pieces go straight to where the frames are batched.
     */
    private boolean contentChunk(int choice, String text, Sink out) {
        var head = sharedHead();
        var tail = includeUsage ? CONTENT_TAIL_USAGE : CONTENT_TAIL;
        boolean ok = out.write(head);
        ok &= choice >= 0 && choice < DIGITS.length ? out.write(DIGITS[choice]) : out.write(ascii(Integer.toString(choice)));
        ok &= out.write(CONTENT_MID);
        int plain = plainAscii(text);
        ok &= plain >= 0 ? out.write(scratch, 0, plain)
                : out.write(com.fasterxml.jackson.core.io.JsonStringEncoder.getInstance().quoteAsUTF8(text));
        return ok & out.write(tail);
    }

    /** Deltas longer than this take Jackson's encoder; a token is a few characters. */
    private static final int PLAIN_MAX = 128;
    /** A plain delta's bytes, reused for every chunk of the answer (the sink copies what it is given). */
    private final byte[] scratch = new byte[PLAIN_MAX];

    /**
     * Copies {@code text} into {@link #scratch} and returns its length when it is printable ASCII without a quote
     * or backslash (nearly every token): then its JSON string content is its characters as they are, exactly
     * what Jackson would write, with no buffers allocated per chunk. Otherwise -1, and Jackson escapes it.
     */
    private int plainAscii(String text) {
        int n = text.length();
        if (n > PLAIN_MAX) return -1;
        for (int i = 0; i < n; i++) {
            char c = text.charAt(i);
            if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') return -1;
            scratch[i] = (byte) c;
        }
        return n;
    }

    private static final byte[][] DIGITS = new byte[10][];

    static {
        for (int i = 0; i < DIGITS.length; i++) DIGITS[i] = ascii(Integer.toString(i));
    }

    private static final byte[] CONTENT_MID = ascii(",\"delta\":{\"content\":\"");
    private static final byte[] CONTENT_TAIL = ascii("\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n");
    private static final byte[] CONTENT_TAIL_USAGE = ascii("\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n");

    private static byte[] ascii(String s) {
        return s.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    }

    private byte[] sharedHeadBytes;
    private String headId, headModel, headTier, headFingerprint; // what sharedHeadBytes was encoded from
    private long headCreated;

    /** {@code data: {"id":...,"system_fingerprint":...,"choices":[{"index":}, encoded again only if the identity changes. */
    private byte[] sharedHead() {
        if (id == null) id = "chatcmpl-" + Long.toHexString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE);
        if (created == 0) created = System.currentTimeMillis() / 1000;
        // Identity compare: these fields are only ever reassigned, so a new object means a possible change.
        if (sharedHeadBytes == null || headId != id || headModel != model || headCreated != created || headTier != serviceTier
                || headFingerprint != fingerprint) {
            var frame = frame(g -> {
                header(g);
                g.writeArrayFieldStart("choices");
                g.writeStartObject();
                g.writeNumberField("index", 0);
            });
            // frame() closed the objects and added the blank line: cut back to just after "index":
            int end = frame.length;
            while (frame[end - 1] != '0') end--;
            sharedHeadBytes = java.util.Arrays.copyOf(frame, end - 1);
            headId = id;
            headModel = model;
            headCreated = created;
            headTier = serviceTier;
            headFingerprint = fingerprint;
        }
        return sharedHeadBytes;
    }

    private byte[] toolChunk(int choice, int index, String callId, String type, String name, String arguments) {
        return frame(g -> {
            header(g);
            g.writeArrayFieldStart("choices");
            g.writeStartObject();
            g.writeNumberField("index", choice);
            g.writeObjectFieldStart("delta");
            g.writeArrayFieldStart("tool_calls");
            g.writeStartObject();
            g.writeNumberField("index", index);
            if (callId != null) {
                g.writeStringField("id", callId);
                g.writeStringField("type", type == null ? "function" : type);
            }
            g.writeObjectFieldStart("function");
            if (callId != null) g.writeStringField("name", name);
            g.writeStringField("arguments", arguments);
            g.writeEndObject();
            g.writeEndObject();
            g.writeEndArray();
            g.writeEndObject();
            g.writeNullField("logprobs");
            g.writeNullField("finish_reason");
            g.writeEndObject();
            g.writeEndArray();
            usageNull(g);
        });
    }

    private byte[] extraChunk(StreamEvent.Extra x) {
        return frame(g -> {
            header(g);
            g.writeArrayFieldStart("choices");
            g.writeStartObject();
            g.writeNumberField("index", x.choice());
            g.writeObjectFieldStart("delta");
            g.writeFieldName(x.name());
            Json.writeTree(g, x.value());
            g.writeEndObject();
            g.writeNullField("logprobs");
            g.writeNullField("finish_reason");
            g.writeEndObject();
            g.writeEndArray();
            usageNull(g);
        });
    }

    private void header(JsonGenerator g) throws IOException {
        if (id == null) id = "chatcmpl-" + Long.toHexString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE);
        if (created == 0) created = System.currentTimeMillis() / 1000;
        g.writeStringField("id", id);
        g.writeStringField("object", "chat.completion.chunk");
        g.writeNumberField("created", created);
        g.writeStringField("model", model);
        if (serviceTier != null) g.writeStringField("service_tier", serviceTier);
        // OpenAI's spec types it as a string; an upstream without one gets no key rather than null.
        if (fingerprint != null) g.writeStringField("system_fingerprint", fingerprint);
    }

    private void usageNull(JsonGenerator g) throws IOException {
        if (includeUsage) g.writeNullField("usage");
    }

    private static void writeNullable(JsonGenerator g, String name, JsonNode value) throws IOException {
        g.writeFieldName(name);
        if (value == null) g.writeNull();
        else Json.writeTree(g, value);
    }

    private static String generatedCallId() {
        return "call_" + Long.toHexString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE);
    }

    private interface Body {
        void write(JsonGenerator g) throws IOException;
    }

    private byte[] frame(Body body) {
        buffer.reset();
        try {
            buffer.write(DATA_PREFIX);
            try (var g = Json.FACTORY.createGenerator(buffer)) {
                g.writeStartObject();
                body.write(g);
                g.writeEndObject();
            }
            buffer.write('\n');
            buffer.write('\n');
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return buffer.toByteArray();
    }

    private static final byte[] DATA_PREFIX = "data: ".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
}
