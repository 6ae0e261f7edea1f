package dev.sluice.gateway.chat;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.wire.chat.StreamEvent;
import dev.sluice.wire.json.Json;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Text chunks are assembled from pre-encoded bytes; they must be exactly what Jackson writes for the same object. */
class ChatChunkWriterTest {

    /** The frames one event makes, in order. */
    private static List<byte[]> frames(ChatChunkWriter writer, StreamEvent event) {
        var out = new Collected();
        writer.onEvent(event, out);
        return out.frames();
    }

    /** The frames that end a successful stream. */
    private static List<byte[]> finishFrames(ChatChunkWriter writer) {
        var out = new Collected();
        writer.finish(out);
        return out.frames();
    }

    /** What a sink was given, split into frames at their blank lines (JSON strings never hold a raw newline). */
    private static final class Collected implements ChatChunkWriter.Sink {
        private final java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();

        @Override
        public boolean write(byte[] b, int offset, int length) {
            bytes.write(b, offset, length);
            return true;
        }

        List<byte[]> frames() {
            var all = bytes.toByteArray();
            var frames = new ArrayList<byte[]>(2);
            int start = 0;
            for (int i = 1; i < all.length; i++) {
                if (all[i] == '\n' && all[i - 1] == '\n') {
                    frames.add(java.util.Arrays.copyOfRange(all, start, i + 1));
                    start = i + 1;
                }
            }
            return frames;
        }
    }

    private static String json(byte[] frame) {
        var text = new String(frame, StandardCharsets.UTF_8);
        assertThat(text).startsWith("data: ").endsWith("\n\n");
        return text.substring(6, text.length() - 2);
    }

    @ParameterizedTest
    @ValueSource(strings = {"Hello", "", "quote \" and \\ backslash", "line\nbreak\ttab\r", "\u0000\u0001\u001f control", "héllo wörld",
            "emoji 😀 and CJK 漢字", "</script>", "\u2028\u2029", "del \u007f", " ~ plain ASCII, every printable: !#$%&'()*+,-./0-9:;<=>?@A-Z[]^_`a-z{|}",
            "a plain delta longer than the writer's scratch buffer, 0123456789 0123456789 0123456789 0123456789 0123456789 0123456789 0123456789",
            "ends in a quote \""})
    void textChunksAreByteForByteWhatJacksonWrites(String text) {
        for (boolean includeUsage : new boolean[] {false, true}) {
            var writer = new ChatChunkWriter("gpt-x", includeUsage);
            frames(writer, new StreamEvent.Metadata("chatcmpl-1", "gpt-4o-2024", 1700000000, "fp_1", null));
            var frames = new ArrayList<byte[]>();
            frames.addAll(frames(writer, new StreamEvent.TextDelta(0, "first")));
            frames.addAll(frames(writer, new StreamEvent.TextDelta(0, text)));
            var last = json(frames.getLast());
            var tree = Json.parse(last);
            assertThat(Json.write(tree)).isEqualTo(last); // same escaping and field order as the generator
            assertThat(tree.path("choices").get(0).path("delta").path("content").asText()).isEqualTo(text);
            assertThat(tree.path("id").asText()).isEqualTo("chatcmpl-1");
            assertThat(tree.path("model").asText()).isEqualTo("gpt-4o-2024");
            assertThat(tree.path("system_fingerprint").asText()).isEqualTo("fp_1");
            assertThat(tree.has("usage")).isEqualTo(includeUsage);
        }
    }

    @Test
    void aFingerprintLearnedLaterIsInTheChunksAfterIt() {
        var writer = new ChatChunkWriter("gpt-x", false);
        frames(writer, new StreamEvent.Metadata("chatcmpl-2", "m", 1700000000, null, null));
        var before = json(frames(writer, new StreamEvent.TextDelta(1, "a")).getLast());
        frames(writer, new StreamEvent.Metadata("chatcmpl-2", "m", 1700000000, "fp_late", null));
        var after = json(frames(writer, new StreamEvent.TextDelta(1, "b")).getLast());
        assertThat(Json.parse(before).has("system_fingerprint")).isFalse();
        assertThat(Json.parse(after).path("system_fingerprint").asText()).isEqualTo("fp_late");
        assertThat(Json.parse(after).path("choices").get(0).path("index").asInt()).isEqualTo(1);
        assertThat(List.of(Json.parse(before).path("id").asText(), Json.parse(after).path("id").asText())).containsOnly("chatcmpl-2");
    }

    @Test
    void aSinkGetsTheSameBytesAsTheFramesAndARefusalIsReportedWithoutLosingTheWritersState() {
        var events = List.<StreamEvent>of(
                new StreamEvent.Metadata("chatcmpl-3", "m", 1700000000, "fp", null),
                new StreamEvent.TextDelta(0, "Hel"),
                new StreamEvent.TextDelta(0, "lo \"x\""),
                new StreamEvent.TextDelta(12, "other choice"),
                new StreamEvent.ToolCallStart(0, 0, "call_1", "function", "f"),
                new StreamEvent.ToolCallArguments(0, 0, "{}"),
                new StreamEvent.Finish(0, "tool_calls"),
                new StreamEvent.Finish(12, "stop"),
                new StreamEvent.Usage(Json.parse("{\"prompt_tokens\":1,\"completion_tokens\":2,\"total_tokens\":3}")));
        var byFrames = new ChatChunkWriter("m", true);
        var bySink = new ChatChunkWriter("m", true);
        var expected = new java.io.ByteArrayOutputStream();
        var written = new java.io.ByteArrayOutputStream();
        ChatChunkWriter.Sink sink = (b, off, len) -> {
            written.write(b, off, len);
            return true;
        };
        for (var event : events) {
            frames(byFrames, event).forEach(expected::writeBytes);
            assertThat(bySink.onEvent(event, sink)).isTrue();
        }
        finishFrames(byFrames).forEach(expected::writeBytes);
        assertThat(bySink.finish(sink)).isTrue();
        assertThat(written.toString(StandardCharsets.UTF_8)).isEqualTo(expected.toString(StandardCharsets.UTF_8))
                .contains("\"index\":12", "\"finish_reason\":\"tool_calls\"", "data: [DONE]");

        // A client gone: the sink refuses, the writer says so, and still knows the choice finished.
        var writer = new ChatChunkWriter("m", false);
        ChatChunkWriter.Sink gone = (b, off, len) -> false;
        assertThat(writer.onEvent(new StreamEvent.TextDelta(0, "a"), gone)).isFalse();
        assertThat(writer.onEvent(new StreamEvent.Finish(0, "stop"), gone)).isFalse();
        assertThat(frames(writer, new StreamEvent.TextDelta(0, "after the end"))).as("nothing follows a finish chunk").isEmpty();
        assertThat(writer.finish(gone)).isFalse();
    }
}
