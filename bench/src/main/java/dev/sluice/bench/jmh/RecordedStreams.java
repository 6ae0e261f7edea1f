package dev.sluice.bench.jmh;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The byte streams both SDKs parse in the JMH benchmarks: real OpenAI chat completion streams (copied from
 * {@code shared/fixtures/upstream-sse} into this module's resources so the jar needs nothing beside it),
 * lengthened to a realistic answer size by repeating their own middle chunks. The recorded answers are a
 * dozen chunks long; a benchmark of those would mostly measure per-stream setup, while real answers run to
 * hundreds of chunks.
 *
 * <p>Only the middle is repeated, byte for byte: each maximal run of plain delta chunks (text or argument
 * fragments: no role, no tool call start, no finish reason, no usage) is written {@code k} times in a row. The
 * first chunk, tool call starts, the finish chunk, the usage chunk and {@code [DONE]} stay as recorded, so the
 * stream keeps the structure a client must handle; only the text (and the arguments) come out repeated.
 */
public final class RecordedStreams {

    /** One stream: its bytes and how many chunks (data events other than {@code [DONE]}) it carries. */
    public record Stream(String name, String fixture, byte[] bytes, int chunks) {}

    private RecordedStreams() {}

    /** The benchmark's streams by {@code @Param} name. */
    public static Stream get(String name) {
        return switch (name) {
            // gpt-4o 2025 capture: usage:null and obfuscation padding on every chunk, usage details at the end.
            case "text" -> lengthen(name, "openai-chat-text-usage-details-obfuscation.sse", 400);
            // Two parallel tool calls whose arguments arrive in many small fragments; include_usage.
            case "tools" -> lengthen(name, "openai-chat-parallel-tool-calls.sse", 300);
            // logprobs=true (a token object per chunk) and a usage chunk.
            case "logprobs" -> lengthen(name, "openai-chat-logprobs.sse", 300);
            default -> throw new IllegalArgumentException("unknown stream " + name);
        };
    }

    public static List<String> names() {
        return List.of("text", "tools", "logprobs");
    }

    static Stream lengthen(String name, String fixture, int targetChunks) {
        var events = events(load(fixture));
        int fixed = 0, repeatable = 0;
        for (var e : events) {
            if (isRepeatable(e)) repeatable++;
            else if (!isDone(e)) fixed++;
        }
        int k = Math.max(1, (targetChunks - fixed + repeatable - 1) / repeatable);
        var out = new StringBuilder();
        int chunks = 0;
        var run = new ArrayList<String>();
        for (var e : events) {
            if (isRepeatable(e)) {
                run.add(e);
                continue;
            }
            chunks += flush(run, k, out);
            out.append(e).append("\n\n");
            if (!isDone(e)) chunks++;
        }
        chunks += flush(run, k, out);
        return new Stream(name, fixture, out.toString().getBytes(StandardCharsets.UTF_8), chunks);
    }

    private static int flush(List<String> run, int k, StringBuilder out) {
        for (int i = 0; i < k; i++) for (var e : run) out.append(e).append("\n\n");
        int n = run.size() * k;
        run.clear();
        return n;
    }

    /** The recorded events, each the text between blank lines (these fixtures use LF line ends only). */
    private static List<String> events(String body) {
        var list = new ArrayList<String>();
        for (var e : body.split("\n\n")) if (!e.isBlank()) list.add(e.strip());
        return list;
    }

    private static boolean isDone(String event) {
        return event.equals("data: [DONE]");
    }

    private static boolean isRepeatable(String event) {
        return event.startsWith("data: {")
                && !event.contains("\"role\"")
                && !event.contains("\"type\":\"function\"")
                && !event.contains("\"finish_reason\":\"")
                && !event.contains("\"usage\":{");
    }

    private static String load(String fixture) {
        try (var in = RecordedStreams.class.getResourceAsStream(fixture)) {
            if (in == null) throw new IllegalStateException("missing resource " + fixture);
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
