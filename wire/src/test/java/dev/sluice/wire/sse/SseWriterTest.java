package dev.sluice.wire.sse;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@link SseWriter} framing, and writer → {@link SseDecoder} round trips. */
class SseWriterTest {

    static String str(byte[] bytes) {
        return new String(bytes, UTF_8);
    }

    /** SSE cannot carry CR in a value: every CRLF / CR / LF in data comes back as LF. */
    static String normalizeLineBreaks(String s) {
        return s.replace("\r\n", "\n").replace('\r', '\n');
    }

    static final class Recorder implements SseDecoder.Listener {
        final List<SseEvent> events = new ArrayList<>();
        final List<String> comments = new ArrayList<>();

        @Override
        public void onEvent(SseEvent event) {
            events.add(event);
        }

        @Override
        public void onComment(String comment) {
            comments.add(comment);
        }
    }

    /** Decodes without calling end(): whatever the writer framed must be complete on its own. */
    static Recorder decodeFramed(byte[]... frames) {
        var rec = new Recorder();
        var decoder = new SseDecoder(rec);
        for (byte[] f : frames) decoder.feed(f);
        assertThat(decoder.hasPending()).as("writer output leaves nothing pending").isFalse();
        return rec;
    }

    // ---------------------------------------------------------------- exact framing

    @Test
    void dataFraming() {
        assertThat(str(SseWriter.data("hello"))).isEqualTo("data: hello\n\n");
    }

    @Test
    void openAiDoneMarker() {
        assertThat(str(SseWriter.data("[DONE]"))).isEqualTo("data: [DONE]\n\n");
    }

    @Test
    void eventFramingWritesIdThenEventThenData() {
        assertThat(str(SseWriter.event("ping", "7", "x"))).isEqualTo("id: 7\nevent: ping\ndata: x\n\n");
    }

    @Test
    void eventWithoutIdOrType() {
        assertThat(str(SseWriter.event(null, null, "x"))).isEqualTo("data: x\n\n");
    }

    @Test
    void multiLineDataIsOneFieldPerLine() {
        assertThat(str(SseWriter.data("a\nb\r\nc\rd"))).isEqualTo("data: a\ndata: b\ndata: c\ndata: d\n\n");
    }

    @Test
    void emptyDataWritesABareField() {
        assertThat(str(SseWriter.data(""))).isEqualTo("data:\n\n");
    }

    @Test
    void emptyLinesInsideDataWriteBareFields() {
        assertThat(str(SseWriter.data("a\n\nb\n"))).isEqualTo("data: a\ndata:\ndata: b\ndata:\n\n");
    }

    @Test
    void leadingSpaceInDataIsProtectedByTheSeparatorSpace() {
        assertThat(str(SseWriter.data(" x"))).isEqualTo("data:  x\n\n");
    }

    @Test
    void outputIsUtf8() {
        assertThat(SseWriter.data("é😀")).isEqualTo("data: é😀\n\n".getBytes(UTF_8));
    }

    @Test
    void commentFraming() {
        assertThat(str(SseWriter.comment("keep-alive"))).isEqualTo(": keep-alive\n");
    }

    @Test
    void multiLineCommentIsOneCommentLinePerLine() {
        assertThat(str(SseWriter.comment("a\nb\r\nc"))).isEqualTo(": a\n: b\n: c\n");
    }

    @Test
    void emptyComment() {
        assertThat(str(SseWriter.comment(""))).isEqualTo(": \n");
    }

    // ---------------------------------------------------------------- validation

    @ParameterizedTest(name = "event name with {0} is rejected")
    @ValueSource(strings = {"a\nb", "a\rb", "a\r\nb", "\n", "trailing\n"})
    void eventNameWithALineBreakIsRejected(String name) {
        assertThatThrownBy(() -> SseWriter.event(name, null, "x"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("event");
    }

    @ParameterizedTest(name = "id with {0} is rejected")
    @ValueSource(strings = {"1\n2", "1\r2", "1\r\n", "\r"})
    void idWithALineBreakIsRejected(String id) {
        assertThatThrownBy(() -> SseWriter.event(null, id, "x"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("id");
    }

    @Test
    void idWithNulIsRejectedBecauseClientsWouldIgnoreIt() {
        assertThatThrownBy(() -> SseWriter.event(null, "1\u00002", "x"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("NUL");
    }

    @Test
    void nullDataIsRejected() {
        assertThatThrownBy(() -> SseWriter.data(null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> SseWriter.comment(null)).isInstanceOf(NullPointerException.class);
    }

    // ---------------------------------------------------------------- round trips

    @ParameterizedTest(name = "data round trip [{index}]")
    @ValueSource(strings = {
        "", "a", "hello world", "a\nb", "a\r\nb", "a\rb", "\n", "\r\n", "\r", "a\n", "\na", "\n\n\n",
        "a\r\n\r\nb", "\r\r\n\n", "x\n\ny", " leading", "  two leading", "trailing ", "\tTab",
        ":starts with colon", "data: nested field", "event: fake\nid: fake", "{\"json\": [1, 2, 3]}",
        "😀 日本語 ü 🇺🇦", "\uFEFFbom first", "nul\u0000inside", "[DONE]"})
    void dataRoundTrip(String data) {
        var rec = decodeFramed(SseWriter.data(data));
        assertThat(rec.events).containsExactly(SseEvent.data(normalizeLineBreaks(data)));
        assertThat(rec.comments).isEmpty();
    }

    @ParameterizedTest(name = "event round trip [{index}]")
    @ValueSource(strings = {"", "a\nb", "a\r\nb", "a\rb", "😀\n日本語", " sp"})
    void eventRoundTripWithTypeAndId(String data) {
        var rec = decodeFramed(SseWriter.event("message.delta", "id-😀: 1", data));
        assertThat(rec.events).containsExactly(new SseEvent("message.delta", normalizeLineBreaks(data), "id-😀: 1", -1));
    }

    @Test
    void typeAndIdWithLeadingSpacesRoundTrip() {
        var rec = decodeFramed(SseWriter.event(" t", " 1", "x"));
        assertThat(rec.events).containsExactly(new SseEvent(" t", "x", " 1", -1));
    }

    @Test
    void emptyTypeAndIdRoundTrip() {
        var rec = decodeFramed(SseWriter.event("", "", "x"));
        assertThat(rec.events).containsExactly(new SseEvent("", "x", "", -1));
        assertThat(rec.events.get(0).type()).isEqualTo("message");
    }

    @ParameterizedTest(name = "comment round trip [{index}]")
    @ValueSource(strings = {"keep-alive", "", " spaced", "OPENROUTER PROCESSING", "💓", ":colon"})
    void commentRoundTrip(String text) {
        var rec = decodeFramed(SseWriter.comment(text));
        assertThat(rec.comments).containsExactly(text);
        assertThat(rec.events).isEmpty();
    }

    @Test
    void multiLineCommentRoundTripsAsSeveralComments() {
        var rec = decodeFramed(SseWriter.comment("a\r\nb\rc"));
        assertThat(rec.comments).containsExactly("a", "b", "c");
        assertThat(rec.events).isEmpty();
    }

    @Test
    void commentsInterleavedWithEventsDoNotDisturbThem() {
        var rec = decodeFramed(
                SseWriter.comment("start"),
                SseWriter.event("a", "1", "x\ny"),
                SseWriter.comment("ping"),
                SseWriter.data("z"),
                SseWriter.data("[DONE]"));
        assertThat(rec.events).containsExactly(
                new SseEvent("a", "x\ny", "1", -1),
                new SseEvent(null, "z", "1", -1), // the last event id persists, as on the wire
                new SseEvent(null, "[DONE]", "1", -1));
        assertThat(rec.comments).containsExactly("start", "ping");
    }

    @Test
    void concatenatedFramesRoundTripWhateverTheSplits() {
        var out = new ByteArrayOutputStream();
        var data = List.of("a\r\nb", "", "😀", "\r", "x\n");
        for (String d : data) out.writeBytes(SseWriter.data(d));
        byte[] stream = out.toByteArray();
        var expected = data.stream().map(d -> SseEvent.data(normalizeLineBreaks(d))).toList();
        for (int cut = 0; cut <= stream.length; cut++) {
            var rec = new Recorder();
            var decoder = new SseDecoder(rec);
            decoder.feed(stream, 0, cut);
            decoder.feed(stream, cut, stream.length - cut);
            assertThat(rec.events).as("cut %d", cut).isEqualTo(expected);
        }
    }
}
