package dev.sluice.wire.sse;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertAll;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link SseDecoder} against the WHATWG "event stream interpretation" rules
 * (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation), plus the
 * decoder's own documented choices: lenient {@link SseDecoder#end()}, size limits, comment delivery.
 */
class SseDecoderTest {

    // ---------------------------------------------------------------- helpers

    /** A comment as recorded in the listener log, so events and comments can be compared as one sequence. */
    record Comment(String text) {}

    /** Records every callback, in order. */
    static final class Recorder implements SseDecoder.Listener {
        final List<Object> log = new ArrayList<>();

        @Override
        public void onEvent(SseEvent event) {
            log.add(event);
        }

        @Override
        public void onComment(String comment) {
            log.add(new Comment(comment));
        }

        List<SseEvent> events() {
            return log.stream().filter(SseEvent.class::isInstance).map(SseEvent.class::cast).toList();
        }

        List<String> comments() {
            return log.stream().filter(Comment.class::isInstance).map(o -> ((Comment) o).text()).toList();
        }
    }

    static byte[] utf8(String s) {
        return s.getBytes(UTF_8);
    }

    static byte[] concat(byte[]... parts) {
        var out = new ByteArrayOutputStream();
        for (byte[] p : parts) out.writeBytes(p);
        return out.toByteArray();
    }

    /** Feeds the whole stream in one call, then ends it. */
    static Recorder decode(byte[] stream) {
        var rec = new Recorder();
        var decoder = new SseDecoder(rec);
        decoder.feed(stream);
        decoder.end();
        return rec;
    }

    static Recorder decode(String stream) {
        return decode(utf8(stream));
    }

    /** Feeds the stream in the given chunks (each a separate feed call, sliced out of one shared array). */
    static Recorder decodeChunks(byte[] stream, int... cuts) {
        var rec = new Recorder();
        var decoder = new SseDecoder(rec);
        int from = 0;
        for (int cut : cuts) {
            decoder.feed(stream, from, cut - from);
            from = cut;
        }
        decoder.feed(stream, from, stream.length - from);
        decoder.end();
        return rec;
    }

    /** Feeds the stream in random pieces of 1..maxPiece bytes, each copied into its own array. */
    static Recorder decodeRandomSplits(byte[] stream, long seed, int maxPiece) {
        var rec = new Recorder();
        var decoder = new SseDecoder(rec);
        var random = new Random(seed);
        int i = 0;
        while (i < stream.length) {
            int n = Math.min(stream.length - i, 1 + random.nextInt(maxPiece));
            decoder.feed(Arrays.copyOfRange(stream, i, i + n));
            i += n;
        }
        decoder.end();
        return rec;
    }

    static Recorder decodeByteByByte(byte[] stream) {
        var rec = new Recorder();
        var decoder = new SseDecoder(rec);
        for (byte b : stream) decoder.feed(new byte[] {b});
        decoder.end();
        return rec;
    }

    static SseEvent ev(String event, String data, String id, long retry) {
        return new SseEvent(event, data, id, retry);
    }

    static final byte[] BOM = {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF};

    // ---------------------------------------------------------------- fields

    @Nested
    class Fields {

        @Test
        void dataOnlyEvent() {
            assertThat(decode("data: hello\n\n").log).containsExactly(SseEvent.data("hello"));
        }

        @Test
        void eventFieldSetsTheType() {
            var events = decode("event: ping\ndata: x\n\n").events();
            assertThat(events).containsExactly(ev("ping", "x", null, -1));
            assertThat(events.get(0).type()).isEqualTo("ping");
        }

        @Test
        void missingOrEmptyEventTypeReportsMessage() {
            var events = decode("data: a\n\nevent:\ndata: b\n\n").events();
            assertThat(events).extracting(SseEvent::event).containsExactly(null, "");
            assertThat(events).extracting(SseEvent::type).containsExactly("message", "message");
        }

        @Test
        void eventTypeAppliesOnlyToItsOwnEvent() {
            assertThat(decode("event: a\ndata: 1\n\ndata: 2\n\n").events())
                    .extracting(SseEvent::event)
                    .containsExactly("a", null);
        }

        @Test
        void lastEventTypeLineWins() {
            assertThat(decode("event: a\nevent: b\ndata: x\n\n").events())
                    .containsExactly(ev("b", "x", null, -1));
        }

        @Test
        void idIsSetAndPersistsAcrossEvents() {
            assertThat(decode("id: 7\ndata: a\n\ndata: b\n\nid: 8\ndata: c\n\n").events())
                    .extracting(SseEvent::id)
                    .containsExactly("7", "7", "8");
        }

        @Test
        void emptyIdResetsTheLastEventId() {
            assertThat(decode("id: 7\ndata: a\n\nid\ndata: b\n\nid:\ndata: c\n\n").events())
                    .extracting(SseEvent::id)
                    .containsExactly("7", "", "");
        }

        @Test
        void idWithoutDataIsRememberedForTheNextEvent() {
            // The id buffer is not part of the event buffers: an id-only block dispatches nothing but still
            // updates the last event id.
            var rec = decode("id: 42\n\ndata: x\n\n");
            assertThat(rec.log).containsExactly(ev(null, "x", "42", -1));
        }

        @Test
        void idContainingNulIsIgnored() {
            assertThat(decode("id: 1\ndata: a\n\nid: 2\u0000x\ndata: b\n\n").events())
                    .extracting(SseEvent::id)
                    .containsExactly("1", "1");
        }

        @Test
        void idMayContainNonAsciiAndColons() {
            assertThat(decode("id: évé:nt:1\ndata: a\n\n").events())
                    .extracting(SseEvent::id)
                    .containsExactly("évé:nt:1");
        }

        @Test
        void retrySetsTheReconnectionTimeAndPersists() {
            assertThat(decode("retry: 1500\ndata: a\n\ndata: b\n\nretry:0\ndata: c\n\n").events())
                    .extracting(SseEvent::retry)
                    .containsExactly(1500L, 1500L, 0L);
        }

        @ParameterizedTest(name = "retry value [{0}] is ignored")
        @ValueSource(strings = {"15x0", "-1", "+5", " 100", "1.5", "1e3", "", "٣", "100 "})
        void retryWithNonDigitsIsIgnored(String value) {
            // A single space after the colon is the separator; the parameter is what follows it.
            var events = decode("retry: 250\ndata: a\n\nretry: " + value + "\ndata: b\n\n").events();
            assertThat(events).extracting(SseEvent::retry).containsExactly(250L, 250L);
        }

        @Test
        void retryWithoutColonIsIgnored() {
            assertThat(decode("retry: 250\nretry\ndata: a\n\n").events())
                    .extracting(SseEvent::retry)
                    .containsExactly(250L);
        }

        @Test
        void retryTooLargeForALongIsIgnoredNotWrappedAround() {
            var events = decode("retry: 250\ndata: a\n\nretry: 99999999999999999999999\ndata: b\n\n").events();
            assertThat(events).extracting(SseEvent::retry).containsExactly(250L, 250L);
        }

        @Test
        void retryAtLongMaxIsAccepted() {
            assertThat(decode("retry: " + Long.MAX_VALUE + "\ndata: a\n\n").events())
                    .extracting(SseEvent::retry)
                    .containsExactly(Long.MAX_VALUE);
        }

        @Test
        void retryOnlyBlockDispatchesNothing() {
            var rec = decode("retry: 10\n\n");
            assertThat(rec.log).isEmpty();
        }

        @Test
        void unknownFieldsAreIgnored() {
            assertThat(decode("foo: bar\nDATA: upper\nData: mixed\ndata: kept\n\n").events())
                    .containsExactly(SseEvent.data("kept"));
        }

        @Test
        void spaceBeforeTheColonMakesADifferentFieldName() {
            // "data : x" names the field "data " which is unknown.
            assertThat(decode("data : x\n\n").log).isEmpty();
        }

        @Test
        void lineWithoutFieldOrColonIsIgnored() {
            assertThat(decode("this line is not a field\ndata: x\n\n").events())
                    .containsExactly(SseEvent.data("x"));
        }
    }

    // ---------------------------------------------------------------- field with no colon, leading space

    @Nested
    class ValueSyntax {

        @Test
        void dataWithoutColonIsAnEmptyDataLine() {
            assertThat(decode("data\n\n").events()).containsExactly(SseEvent.data(""));
        }

        @Test
        void twoBareDataLinesGiveOneNewline() {
            assertThat(decode("data\ndata\n\n").events()).containsExactly(SseEvent.data("\n"));
        }

        @Test
        void eventWithoutColonIsAnEmptyType() {
            var events = decode("event\ndata: x\n\n").events();
            assertThat(events).containsExactly(ev("", "x", null, -1));
            assertThat(events.get(0).type()).isEqualTo("message");
        }

        @Test
        void emptyDataAfterColonDispatchesAnEmptyEvent() {
            assertThat(decode("data:\n\n").events()).containsExactly(SseEvent.data(""));
        }

        @Test
        void noSpaceAfterColon() {
            assertThat(decode("data:x\n\n").events()).containsExactly(SseEvent.data("x"));
        }

        @Test
        void exactlyOneLeadingSpaceIsStripped() {
            assertThat(decode("data: x\n\ndata:  x\n\ndata:   x\n\n").events())
                    .extracting(SseEvent::data)
                    .containsExactly("x", " x", "  x");
        }

        @Test
        void onlyASpaceIsStrippedNotATab() {
            assertThat(decode("data:\tx\n\n").events()).containsExactly(SseEvent.data("\tx"));
        }

        @Test
        void trailingSpacesAreKept() {
            assertThat(decode("data: x  \n\n").events()).containsExactly(SseEvent.data("x  "));
        }

        @Test
        void onlyTheFirstColonSeparates() {
            assertThat(decode("data: a: b:c\n\n").events()).containsExactly(SseEvent.data("a: b:c"));
        }

        @Test
        void leadingSpaceRuleAppliesToEventAndId() {
            assertThat(decode("event:  spaced\nid:  7\ndata: x\n\n").events())
                    .containsExactly(ev(" spaced", "x", " 7", -1));
        }
    }

    // ---------------------------------------------------------------- multi-line data

    @Nested
    class MultiLineData {

        @Test
        void dataLinesAreJoinedWithLf() {
            assertThat(decode("data: a\ndata: b\ndata: c\n\n").events()).containsExactly(SseEvent.data("a\nb\nc"));
        }

        @Test
        void emptyDataLinesContributeNewlines() {
            assertThat(decode("data: a\ndata:\ndata\ndata: b\n\n").events())
                    .containsExactly(SseEvent.data("a\n\n\nb"));
        }

        @Test
        void trailingEmptyDataLineKeepsOneNewline() {
            // Buffer is "a\n\n"; dispatch removes only the final LF.
            assertThat(decode("data: a\ndata:\n\n").events()).containsExactly(SseEvent.data("a\n"));
        }

        @Test
        void otherFieldsBetweenDataLinesDoNotSplitTheEvent() {
            assertThat(decode("data: a\nevent: t\nid: 1\n: note\nfoo: bar\ndata: b\n\n").events())
                    .containsExactly(ev("t", "a\nb", "1", -1));
        }

        @Test
        void aFreshEventStartsWithEmptyData() {
            assertThat(decode("data: a\ndata: b\n\ndata: c\n\n").events())
                    .extracting(SseEvent::data)
                    .containsExactly("a\nb", "c");
        }
    }

    // ---------------------------------------------------------------- comments

    @Nested
    class Comments {

        @Test
        void commentIsDeliveredToOnCommentAndNeverAsAnEvent() {
            var rec = decode(": keep-alive\n\n");
            assertThat(rec.log).containsExactly(new Comment("keep-alive"));
            assertThat(rec.events()).isEmpty();
        }

        @Test
        void commentTextDropsTheColonAndOneSpace() {
            assertThat(decode(":no-space\n:  two\n:\n: \n").comments())
                    .containsExactly("no-space", " two", "", "");
        }

        @Test
        void commentThatLooksLikeAFieldIsStillAComment() {
            var rec = decode(":data: x\n\n");
            assertThat(rec.log).containsExactly(new Comment("data: x"));
        }

        @Test
        void commentsInsideAnEventDoNotBreakIt() {
            var rec = decode("data: a\n: ping\ndata: b\n\n");
            assertThat(rec.log).containsExactly(new Comment("ping"), SseEvent.data("a\nb"));
        }

        @Test
        void commentsAreDeliveredInStreamOrder() {
            var rec = decode(": one\ndata: x\n\n: two\n\n: three\n");
            assertThat(rec.log).containsExactly(new Comment("one"), SseEvent.data("x"), new Comment("two"),
                    new Comment("three"));
        }

        @Test
        void defaultOnCommentIsANoOp() {
            var events = new ArrayList<SseEvent>();
            var decoder = new SseDecoder(events::add);
            decoder.feed(utf8(": hi\ndata: x\n\n"));
            decoder.end();
            assertThat(events).containsExactly(SseEvent.data("x"));
        }

        @Test
        void multiByteCommentIsDecoded() {
            assertThat(decode(": 心跳 💓\n").comments()).containsExactly("心跳 💓");
        }
    }

    // ---------------------------------------------------------------- line ends

    @Nested
    class LineEnds {

        static final String LF_STREAM = "event: a\ndata: 1\ndata: 2\n\n: c\nid: 9\ndata: 3\n\n";

        static List<Object> expected() {
            return List.of(ev("a", "1\n2", null, -1), new Comment("c"), ev(null, "3", "9", -1));
        }

        @ParameterizedTest(name = "line end {0}")
        @ValueSource(strings = {"LF", "CR", "CRLF"})
        void eachLineEndStyleParsesTheSame(String style) {
            String eol = switch (style) {
                case "LF" -> "\n";
                case "CR" -> "\r";
                default -> "\r\n";
            };
            assertThat(decode(LF_STREAM.replace("\n", eol)).log).isEqualTo(expected());
        }

        @Test
        void mixedLineEndsInOneStream() {
            var stream = "event: a\r\ndata: 1\rdata: 2\n\r\n: c\rid: 9\r\ndata: 3\r\r";
            assertThat(decode(stream).log).isEqualTo(expected());
        }

        @Test
        void lfCrIsTwoLineEnds() {
            // "\n\r" is LF then CR: two line ends, i.e. the data line ends and a blank line follows.
            assertThat(decodeChunks(utf8("data: a\n\rdata: b\n\n")).events())
                    .extracting(SseEvent::data)
                    .containsExactly("a", "b");
        }

        @Test
        void crCrLfIsTwoLineEnds() {
            // CR, then CRLF: line end + blank line => dispatch after "a".
            assertThat(decode("data: a\r\r\ndata: b\r\n\r\n").events())
                    .extracting(SseEvent::data)
                    .containsExactly("a", "b");
        }

        @Test
        void crlfSplitAcrossFeedsIsOneLineEnd() {
            byte[] stream = utf8("data: a\r\ndata: b\r\n\r\n");
            int crIndex = "data: a\r".length();
            // If the LF at the start of the second feed were taken as its own line end, it would be a blank
            // line and "a" would be dispatched alone.
            assertThat(decodeChunks(stream, crIndex).events()).containsExactly(SseEvent.data("a\nb"));
        }

        @Test
        void crlfBlankLineSplitAcrossFeeds() {
            byte[] stream = utf8("data: a\r\n\r\ndata: b\r\n\r\n");
            int secondCr = "data: a\r\n\r".length();
            assertThat(decodeChunks(stream, secondCr).events())
                    .extracting(SseEvent::data)
                    .containsExactly("a", "b");
        }

        @Test
        void crAtEndOfFeedFollowedByTextEndsTheLine() {
            byte[] stream = utf8("data: a\rdata: b\r\r");
            assertThat(decodeChunks(stream, "data: a\r".length()).events()).containsExactly(SseEvent.data("a\nb"));
        }

        @Test
        void crlfStreamSplitAtEveryOffsetAndEveryPairOfOffsets() {
            byte[] stream = utf8(LF_STREAM.replace("\n", "\r\n"));
            var expected = expected();
            for (int a = 0; a <= stream.length; a++) {
                assertThat(decodeChunks(stream, a).log).as("split at %d", a).isEqualTo(expected);
                for (int b = a; b <= stream.length; b++) {
                    assertThat(decodeChunks(stream, a, b).log).as("split at %d,%d", a, b).isEqualTo(expected);
                }
            }
        }

        @Test
        void emptyFeedsBetweenCrAndLfChangeNothing() {
            byte[] stream = utf8("data: a\r\ndata: b\r\n\r\n");
            int cr = "data: a\r".length();
            assertThat(decodeChunks(stream, cr, cr, cr).events()).containsExactly(SseEvent.data("a\nb"));
        }
    }

    // ---------------------------------------------------------------- BOM

    @Nested
    class ByteOrderMark {

        @Test
        void leadingBomIsStripped() {
            var rec = decode(concat(BOM, utf8("data: x\n\n")));
            assertThat(rec.log).containsExactly(SseEvent.data("x"));
        }

        @Test
        void leadingBomBeforeAFieldNameIsStrippedSoTheFieldIsRecognised() {
            // Without stripping, the first field name would be "\uFEFFevent" and be ignored.
            var rec = decode(concat(BOM, utf8("event: first\ndata: x\n\n")));
            assertThat(rec.events()).containsExactly(ev("first", "x", null, -1));
        }

        @Test
        void bomSplitAcrossFeedsAtEveryOffset() {
            byte[] stream = concat(BOM, utf8("event: e\ndata: x\n\n"));
            var expected = List.<Object>of(ev("e", "x", null, -1));
            for (int a = 0; a <= 4; a++) {
                for (int b = a; b <= 4; b++) {
                    assertThat(decodeChunks(stream, a, b).log).as("cuts %d,%d", a, b).isEqualTo(expected);
                }
            }
            assertThat(decodeByteByByte(stream).log).isEqualTo(expected);
        }

        @Test
        void onlyOneBomIsStripped() {
            // The second BOM becomes part of the field name "\uFEFFdata", which is unknown: no event.
            var rec = decode(concat(BOM, BOM, utf8("data: x\n\ndata: y\n\n")));
            assertThat(rec.events()).containsExactly(SseEvent.data("y"));
        }

        @Test
        void onlyOneBomIsStrippedEvenWhenFedByteByByte() {
            var rec = decodeByteByByte(concat(BOM, BOM, utf8("data: x\n\ndata: y\n\n")));
            assertThat(rec.events()).containsExactly(SseEvent.data("y"));
        }

        @Test
        void bomIsStrippedOnlyAtStreamStart() {
            var rec = decode(concat(utf8("data: a\n\n"), BOM, utf8("data: b\n\n")));
            assertThat(rec.events()).containsExactly(SseEvent.data("a"));
        }

        @Test
        void bomInsideAValueIsKept() {
            var rec = decode(concat(utf8("data: "), BOM, utf8("x\n\n")));
            assertThat(rec.events()).containsExactly(SseEvent.data("\uFEFFx"));
        }

        @Test
        void bomAfterFirstFeedIsNotStripped() {
            var rec = new Recorder();
            var decoder = new SseDecoder(rec);
            decoder.feed(utf8("data: a\n\n"));
            decoder.feed(concat(BOM, utf8("data: b\n\n")));
            decoder.end();
            assertThat(rec.events()).containsExactly(SseEvent.data("a"));
        }

        @Test
        void partialBomPrefixThatIsNotABomIsKeptAsData() {
            // EF BB then "\n": not a BOM; the withheld bytes form a (garbage, ignored) line of their own.
            byte[] stream = concat(new byte[] {(byte) 0xEF, (byte) 0xBB}, utf8("\ndata: x\n\n"));
            for (int cut = 0; cut <= stream.length; cut++) {
                assertThat(decodeChunks(stream, cut).events()).as("cut %d", cut).containsExactly(SseEvent.data("x"));
            }
        }

        @Test
        void partialBomPrefixFollowedByContentIsReplayed() {
            // "\xEF" + "data: x" is not a BOM: the field name is "\uFFFDdata" and is ignored. The replayed
            // byte must not be dropped (else "data" would be recognised) nor duplicated.
            byte[] stream = concat(new byte[] {(byte) 0xEF}, utf8("data: x\n\ndata: y\n\n"));
            for (int cut = 0; cut <= stream.length; cut++) {
                assertThat(decodeChunks(stream, cut).events()).as("cut %d", cut).containsExactly(SseEvent.data("y"));
            }
        }

        @Test
        void streamConsistingOfABomPrefixIsPending() {
            var rec = new Recorder();
            var decoder = new SseDecoder(rec);
            decoder.feed(new byte[] {(byte) 0xEF, (byte) 0xBB});
            assertThat(decoder.hasPending()).isTrue();
            decoder.end();
            assertThat(rec.log).isEmpty();
            assertThat(decoder.hasPending()).isFalse();
        }

        @Test
        void completeBomAloneLeavesNothingPending() {
            var rec = new Recorder();
            var decoder = new SseDecoder(rec);
            decoder.feed(BOM);
            assertThat(decoder.hasPending()).isFalse();
            decoder.end();
            assertThat(rec.log).isEmpty();
        }
    }

    // ---------------------------------------------------------------- UTF-8

    @Nested
    class Utf8 {

        @Test
        void multiByteCharactersSplitAtEveryOffset() {
            String text = "😀 日本語 ü 🇺🇦";
            byte[] stream = utf8("event: é😀\nid: ✓😀\ndata: " + text + "\n\n");
            var expected = List.<Object>of(ev("é😀", text, "✓😀", -1));
            for (int cut = 0; cut <= stream.length; cut++) {
                assertThat(decodeChunks(stream, cut).log).as("cut %d", cut).isEqualTo(expected);
            }
        }

        @Test
        void fourByteEmojiSplitAtEachInnerOffsetAndFedByteByByte() {
            byte[] emoji = utf8("😀");
            assertThat(emoji).hasSize(4);
            byte[] stream = concat(utf8("data: "), emoji, utf8("\n\n"));
            int start = "data: ".length();
            for (int a = start; a <= start + 4; a++) {
                for (int b = a; b <= start + 4; b++) {
                    assertThat(decodeChunks(stream, a, b).events())
                            .as("cuts %d,%d", a, b)
                            .containsExactly(SseEvent.data("😀"));
                }
            }
            assertThat(decodeByteByByte(stream).events()).containsExactly(SseEvent.data("😀"));
        }

        @Test
        void invalidUtf8BecomesReplacementCharacters() {
            byte[] stream = concat(utf8("data: a"), new byte[] {(byte) 0xFF}, utf8("b\n\n"));
            assertThat(decode(stream).events()).containsExactly(SseEvent.data("a\uFFFDb"));
        }

        @Test
        void truncatedSequenceAtLineEndDoesNotSwallowTheLineBreak() {
            // F0 9F is the start of a 4-byte sequence; the LF still ends the line.
            byte[] stream = concat(utf8("data: a"), new byte[] {(byte) 0xF0, (byte) 0x9F}, utf8("\ndata: b\n\n"));
            var events = decode(stream).events();
            assertThat(events).hasSize(1);
            assertThat(events.get(0).data()).startsWith("a\uFFFD").endsWith("\nb");
        }
    }

    // ---------------------------------------------------------------- blank lines and dispatch

    @Nested
    class Dispatch {

        @Test
        void blankLinesAtStreamStartDispatchNothing() {
            for (String eol : List.of("\n", "\r", "\r\n")) {
                var rec = decode(eol.repeat(5) + "data: x" + eol + eol);
                assertThat(rec.log).as("eol %s", eol.replace("\r", "CR").replace("\n", "LF"))
                        .containsExactly(SseEvent.data("x"));
            }
        }

        @Test
        void repeatedBlankLinesBetweenEventsDispatchNothingExtra() {
            assertThat(decode("data: a\n\n\n\n\ndata: b\n\n\n").events())
                    .extracting(SseEvent::data)
                    .containsExactly("a", "b");
        }

        @Test
        void eventWithoutDataIsNotDispatchedAndItsTypeDoesNotLeak() {
            var rec = decode("event: orphan\n\ndata: x\n\n");
            assertThat(rec.log).containsExactly(ev(null, "x", null, -1));
        }

        @Test
        void eventTypeDoesNotLeakEvenWhenTheOrphanBlockEndsWithEnd() {
            var rec = new Recorder();
            var decoder = new SseDecoder(rec);
            decoder.feed(utf8("event: orphan\n"));
            decoder.end();
            assertThat(rec.log).isEmpty();
            decoder.feed(utf8("data: x\n\n"));
            assertThat(rec.log).containsExactly(SseEvent.data("x"));
        }

        @Test
        void eventsAreDispatchedSynchronouslyAtTheBlankLine() {
            var rec = new Recorder();
            var decoder = new SseDecoder(rec);
            decoder.feed(utf8("data: a\n"));
            assertThat(rec.log).isEmpty();
            assertThat(decoder.hasPending()).isTrue();
            decoder.feed(utf8("\n"));
            assertThat(rec.log).containsExactly(SseEvent.data("a"));
            assertThat(decoder.hasPending()).isFalse();
        }
    }

    // ---------------------------------------------------------------- end()

    @Nested
    class End {

        @Test
        void endDispatchesAnUnterminatedFinalEventWithoutNewline() {
            var rec = new Recorder();
            var decoder = new SseDecoder(rec);
            decoder.feed(utf8("data: a\n\nevent: last\ndata: tail"));
            assertThat(rec.events()).containsExactly(SseEvent.data("a"));
            assertThat(decoder.hasPending()).isTrue();
            decoder.end();
            assertThat(rec.events()).containsExactly(SseEvent.data("a"), ev("last", "tail", null, -1));
            assertThat(decoder.hasPending()).isFalse();
        }

        @Test
        void endDispatchesAnEventMissingOnlyTheBlankLine() {
            for (String eol : List.of("\n", "\r", "\r\n")) {
                var rec = decode("data: a" + eol + "data: b" + eol);
                assertThat(rec.events()).containsExactly(SseEvent.data("a\nb"));
            }
        }

        @Test
        void endDeliversAnUnterminatedComment() {
            assertThat(decode("data: a\n\n: bye").log).containsExactly(SseEvent.data("a"), new Comment("bye"));
        }

        @Test
        void endDoesNothingWhenNothingIsPending() {
            var rec = new Recorder();
            var decoder = new SseDecoder(rec);
            assertThat(decoder.hasPending()).isFalse();
            decoder.end();
            assertThat(rec.log).isEmpty();

            decoder.feed(utf8("data: a\n\n"));
            decoder.end();
            decoder.end();
            assertThat(rec.log).containsExactly(SseEvent.data("a"));
        }

        @Test
        void endDoesNotDispatchABlockWithoutData() {
            assertThat(decode("data: a\n\nevent: x\nid: 3\nretry: 5").log).containsExactly(SseEvent.data("a"));
        }

        @Test
        void endAfterTrailingCrDispatchesOnce() {
            assertThat(decode("data: a\r").events()).containsExactly(SseEvent.data("a"));
        }

        @Test
        void endOnAnEmptyStream() {
            assertThat(decode(new byte[0]).log).isEmpty();
        }
    }

    // ---------------------------------------------------------------- limits

    @Nested
    class Limits {

        @Test
        void lineAtTheLimitIsAccepted() {
            var rec = new Recorder();
            var decoder = new SseDecoder(rec, 16, 1024);
            decoder.feed(utf8("data: 0123456789\n\n")); // "data: 0123456789" is 16 bytes
            assertThat(rec.events()).containsExactly(SseEvent.data("0123456789"));
        }

        @Test
        void lineOverTheLimitThrowsWithAClearMessage() {
            var decoder = new SseDecoder(new Recorder(), 16, 1024);
            assertThatThrownBy(() -> decoder.feed(utf8("data: 0123456789X\n\n")))
                    .isInstanceOf(SseException.class)
                    .hasMessageContaining("line")
                    .hasMessageContaining("16 bytes");
        }

        @Test
        void lineOverTheLimitThrowsBeforeTheLineEnds() {
            // Memory is bounded: the decoder gives up as soon as the limit is crossed, it does not wait for a
            // line end that may never come. Fed byte by byte, the exception comes at byte limit + 1.
            int limit = 1024;
            var decoder = new SseDecoder(new Recorder(), limit, 4 * limit);
            byte[] huge = new byte[10 * limit];
            Arrays.fill(huge, (byte) 'a');
            int accepted = 0;
            try {
                for (byte b : huge) {
                    decoder.feed(new byte[] {b});
                    accepted++;
                }
            } catch (SseException expected) {
                assertThat(expected).hasMessageContaining("line");
            }
            assertThat(accepted).isEqualTo(limit);
        }

        @Test
        void lineOverTheLimitIsDetectedInOneBigFeed() {
            var decoder = new SseDecoder(new Recorder(), 1024, 4096);
            byte[] huge = new byte[1 << 20];
            Arrays.fill(huge, (byte) 'a');
            assertThatThrownBy(() -> decoder.feed(huge)).isInstanceOf(SseException.class);
        }

        @Test
        void longCommentLineIsAlsoLimited() {
            var decoder = new SseDecoder(new Recorder(), 8, 1024);
            assertThatThrownBy(() -> decoder.feed(utf8(": 0123456789\n"))).isInstanceOf(SseException.class);
        }

        @Test
        void lineLimitCountsBytesNotChars() {
            var decoder = new SseDecoder(new Recorder(), 10, 1024);
            // "data: " + 2 emoji = 6 + 8 = 14 bytes but only 10 UTF-16 chars.
            assertThatThrownBy(() -> decoder.feed(utf8("data: 😀😀\n\n"))).isInstanceOf(SseException.class);
        }

        @Test
        void eventAtTheLimitIsAccepted() {
            var rec = new Recorder();
            var decoder = new SseDecoder(rec, 64, 9);
            decoder.feed(utf8("data: 1234\ndata: 5678\n\n")); // "1234\n5678" = 9 bytes
            assertThat(rec.events()).containsExactly(SseEvent.data("1234\n5678"));
        }

        @Test
        void eventOverTheLimitThrowsWithAClearMessage() {
            var decoder = new SseDecoder(new Recorder(), 64, 9);
            assertThatThrownBy(() -> decoder.feed(utf8("data: 1234\ndata: 56789\n\n")))
                    .isInstanceOf(SseException.class)
                    .hasMessageContaining("event")
                    .hasMessageContaining("9 bytes");
        }

        @Test
        void eventLimitIsCheckedLineByLineSoManySmallLinesCannotGrowMemory() {
            var decoder = new SseDecoder(new Recorder(), 64, 1000);
            byte[] line = utf8("data: 0123456789\n");
            int fed = 0;
            try {
                for (int i = 0; i < 10_000; i++) {
                    decoder.feed(line);
                    fed++;
                }
            } catch (SseException expected) {
                assertThat(expected).hasMessageContaining("event");
            }
            // k lines hold 10k bytes of values + (k-1) separators: 91 lines = 1000 bytes fit exactly, the
            // 92nd line crosses the limit and throws.
            assertThat(fed).isEqualTo(91);
        }

        @Test
        void eventLimitCountsUtf8BytesNotChars() {
            // Four data lines of "日" (3 bytes each) = 12 bytes + 3 separators = 15 bytes, but only 7 chars.
            var decoder = new SseDecoder(new Recorder(), 64, 10);
            assertThatThrownBy(() -> decoder.feed(utf8("data: 日\ndata: 日\ndata: 日\ndata: 日\n\n")))
                    .isInstanceOf(SseException.class);
        }

        @Test
        void eventLimitResetsBetweenEvents() {
            var rec = new Recorder();
            var decoder = new SseDecoder(rec, 64, 8);
            for (int i = 0; i < 100; i++) decoder.feed(utf8("data: 12345678\n\n"));
            assertThat(rec.events()).hasSize(100);
        }

        @Test
        void afterALimitErrorTheDecoderStaysFailedAndDispatchesNothingMore() {
            // Before the fix the decoder "recovered" mid-line: the tail of the oversized line was parsed as a
            // fresh line, so bytes inside a value could inject a field and an event that was never sent.
            var rec = new Recorder();
            var decoder = new SseDecoder(rec, 12, 1024);
            byte[] stream = utf8("data: 012345Xdata: inj\n\ndata: later\n\n");
            int errors = 0;
            for (byte b : stream) {
                try {
                    decoder.feed(new byte[] {b});
                } catch (SseException e) {
                    errors++;
                }
            }
            try {
                decoder.end();
            } catch (SseException e) {
                errors++;
            }
            assertThat(rec.log).isEmpty();
            assertThat(errors).isGreaterThanOrEqualTo(1);
            assertThatThrownBy(() -> decoder.feed(utf8("data: x\n\n")))
                    .isInstanceOf(SseException.class)
                    .hasMessageContaining("line exceeds 12 bytes");
        }

        @Test
        void afterAnEventLimitErrorTheRestOfTheEventIsNotDispatchedAsAnEvent() {
            var rec = new Recorder();
            var decoder = new SseDecoder(rec, 64, 8);
            assertThatThrownBy(() -> decoder.feed(utf8("data: 12345\ndata: 67890\n"))).isInstanceOf(SseException.class);
            assertThatThrownBy(() -> decoder.feed(utf8("data: tail\n\n"))).isInstanceOf(SseException.class);
            assertThatThrownBy(decoder::end).isInstanceOf(SseException.class);
            assertThat(rec.log).isEmpty();
        }

        @Test
        void nonPositiveLimitsAreRejected() {
            SseDecoder.Listener l = e -> {};
            assertThatThrownBy(() -> new SseDecoder(l, 0, 10)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> new SseDecoder(l, 10, -1)).isInstanceOf(IllegalArgumentException.class);
        }
    }

    // ---------------------------------------------------------------- feed variants

    @Nested
    class FeedVariants {

        static final String STREAM = "event: e\ndata: 😀\n\n";

        @Test
        void heapByteBufferSliceIsConsumedFromItsPosition() {
            byte[] padded = concat(utf8("XXXX"), utf8(STREAM), utf8("YYYY"));
            var buffer = ByteBuffer.wrap(padded, 4, padded.length - 8).slice(); // arrayOffset 4
            buffer.position(0);
            var rec = new Recorder();
            new SseDecoder(rec).feed(buffer);
            assertThat(buffer.hasRemaining()).isFalse();
            assertThat(rec.events()).containsExactly(ev("e", "😀", null, -1));
        }

        @Test
        void heapByteBufferWithPosition() {
            byte[] padded = concat(utf8("junk"), utf8(STREAM));
            var buffer = ByteBuffer.wrap(padded);
            buffer.position(4);
            var rec = new Recorder();
            new SseDecoder(rec).feed(buffer);
            assertThat(buffer.position()).isEqualTo(padded.length);
            assertThat(rec.events()).containsExactly(ev("e", "😀", null, -1));
        }

        @Test
        void directAndReadOnlyByteBuffers() {
            byte[] bytes = utf8(STREAM);
            var direct = ByteBuffer.allocateDirect(bytes.length).put(bytes).flip();
            var readOnly = ByteBuffer.wrap(bytes).asReadOnlyBuffer();
            for (var buffer : List.of(direct, readOnly)) {
                var rec = new Recorder();
                new SseDecoder(rec).feed(buffer);
                assertThat(buffer.hasRemaining()).isFalse();
                assertThat(rec.events()).containsExactly(ev("e", "😀", null, -1));
            }
        }

        @Test
        void offsetAndLengthAreHonoured() {
            byte[] padded = concat(utf8("data: no\n\n"), utf8(STREAM), utf8("data: no\n\n"));
            var rec = new Recorder();
            new SseDecoder(rec).feed(padded, 10, utf8(STREAM).length);
            assertThat(rec.events()).containsExactly(ev("e", "😀", null, -1));
        }

        @Test
        void outOfRangeArgumentsAreRejectedBeforeAnyParsing() {
            var rec = new Recorder();
            var decoder = new SseDecoder(rec);
            byte[] bytes = utf8("data: x\n\n");
            assertThatThrownBy(() -> decoder.feed(bytes, 0, bytes.length + 1))
                    .isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> decoder.feed(bytes, -1, 2)).isInstanceOf(IndexOutOfBoundsException.class);
            assertThat(rec.log).isEmpty();
            decoder.feed(bytes);
            assertThat(rec.log).containsExactly(SseEvent.data("x"));
        }
    }

    // ---------------------------------------------------------------- spec walk-through

    @Test
    void webkitEventSourceConformanceStream() {
        // The classic EventSource conformance stream (WebKit LayoutTests http/tests/eventsource), with the
        // split "da" / "ta:" write simulated by a feed boundary.
        String part1 = """
                : a comment (ignored)
                this line will be ignored since there is no field and the line itself is not a field
                field: an unknown field that will be ignored
                :another commment

                data : this line will be ignored since there is a space after data

                data
                data:
                data
                : dispatch event with two newlines

                data: simple

                data: spanning
                data:multiple
                data
                data: lines
                data

                id: 1
                data: id is 1

                data: id is still 1

                id
                data: no id

                event: open
                data: a message event with the name "open"

                da""";
        String part2 = "ta: a message event with the name \"message\"\n\n"
                + "data: a line ending with crlf\r\n"
                + "data: a line with a : (colon)\n"
                // As in the original, the LF after this CR completes a CRLF pair rather than being a blank
                // line, so the event is dispatched only after the retry line below and carries it.
                + "data: a line ending with cr\r"
                + "\n"
                + "retry: 10000\n: reconnection time set to 10 seconds\n\n"
                + "retry: one thousand\n: ignored invalid reconnection time value\n\n"
                + "retry\n: reset to ua default\n\n";
        var rec = new Recorder();
        var decoder = new SseDecoder(rec);
        decoder.feed(utf8(part1));
        decoder.feed(utf8(part2));
        decoder.end();
        assertThat(rec.events()).containsExactly(
                ev(null, "\n\n", null, -1),
                ev(null, "simple", null, -1),
                ev(null, "spanning\nmultiple\n\nlines\n", null, -1),
                ev(null, "id is 1", "1", -1),
                ev(null, "id is still 1", "1", -1),
                ev(null, "no id", "", -1),
                ev("open", "a message event with the name \"open\"", "", -1),
                ev(null, "a message event with the name \"message\"", "", -1),
                ev(null, "a line ending with crlf\na line with a : (colon)\na line ending with cr", "", 10000));
        assertThat(rec.comments()).containsExactly("a comment (ignored)", "another commment",
                "dispatch event with two newlines", "reconnection time set to 10 seconds",
                "ignored invalid reconnection time value", "reset to ua default");
    }

    // ---------------------------------------------------------------- upstream fixtures (property test)

    static final long[] SEEDS = {1L, 2L, 3L, 42L, 20240601L, 0x5EEDL};

    static Path fixturesDir() {
        String root = System.getProperty("sluice.root");
        Path rootDir = null;
        if (root != null && !root.isBlank()) {
            rootDir = Path.of(root);
        } else {
            for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
                if (Files.exists(p.resolve("mvnw"))) {
                    rootDir = p;
                    break;
                }
            }
        }
        return rootDir == null ? null : rootDir.resolve("../shared/fixtures/upstream-sse").normalize();
    }

    @TestFactory
    Stream<DynamicTest> upstreamFixturesDecodeIdenticallyWhateverTheSplits() throws IOException {
        Path dir = fixturesDir();
        Assumptions.assumeTrue(dir != null && Files.isDirectory(dir), "upstream-sse fixtures folder absent: " + dir);
        List<Path> transcripts;
        try (var files = Files.list(dir)) {
            transcripts = files.filter(p -> p.getFileName().toString().endsWith(".sse")).sorted().toList();
        }
        assertThat(transcripts).as("*.sse transcripts in %s", dir).isNotEmpty();
        var mapper = new ObjectMapper();
        return transcripts.stream().map(sse -> DynamicTest.dynamicTest(sse.getFileName().toString(), () -> {
            byte[] body = read(sse);
            var whole = decode(body);
            List<Object> reference = whole.log;

            for (long seed : SEEDS) {
                assertThat(decodeRandomSplits(body, seed, 7).log).as("seed %d", seed).isEqualTo(reference);
            }
            assertThat(decodeByteByByte(body).log).as("byte by byte").isEqualTo(reference);

            Path json = sse.resolveSibling(sse.getFileName().toString().replaceFirst("\\.sse$", ".json"));
            if (!Files.exists(json)) return;
            JsonNode expectedSse = mapper.readTree(json.toFile()).path("expected").path("sse");
            assertAll(
                    () -> {
                        if (expectedSse.has("events")) {
                            assertThat(whole.events()).as("events").hasSize(expectedSse.get("events").asInt());
                        }
                    },
                    () -> {
                        if (expectedSse.has("comment_lines")) {
                            assertThat(whole.comments()).as("comment lines")
                                    .hasSize(expectedSse.get("comment_lines").asInt());
                        }
                    },
                    () -> {
                        if (expectedSse.has("comments")) {
                            var distinct = new ArrayList<String>();
                            expectedSse.get("comments").forEach(c -> distinct.add(c.asText()));
                            assertThat(new LinkedHashSet<>(whole.comments())).as("distinct comments")
                                    .containsExactlyElementsOf(distinct);
                        }
                    },
                    () -> {
                        // unterminated_tail: the last event is only produced by the lenient end().
                        if (expectedSse.path("unterminated_tail").asBoolean(false)) {
                            var rec = new Recorder();
                            var decoder = new SseDecoder(rec);
                            decoder.feed(body);
                            assertThat(decoder.hasPending()).as("pending before end()").isTrue();
                            assertThat(rec.events()).hasSize(whole.events().size() - 1);
                            decoder.end();
                            assertThat(rec.log).isEqualTo(reference);
                        }
                    });
        }));
    }

    private static byte[] read(Path p) {
        try {
            return Files.readAllBytes(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    // ---------------------------------------------------------------- byte listener

    /** {@link SseDecoder#forBytes}: the same events as the String listener, with the data as the bytes that came. */
    @Nested
    class ByteListener {

        /** Records byte events in the String listener's form (copying the bytes, which are only lent). */
        static final class ByteRecorder implements SseDecoder.DataListener {
            final List<Object> log = new ArrayList<>();
            final List<byte[]> data = new ArrayList<>();

            @Override
            public void onEvent(String event, byte[] bytes, int offset, int length, String id, long retry) {
                data.add(Arrays.copyOfRange(bytes, offset, offset + length));
                log.add(new SseEvent(event, new String(bytes, offset, length, UTF_8), id, retry));
            }

            @Override
            public void onComment(String comment) {
                log.add(new Comment(comment));
            }
        }

        static final List<byte[]> INPUTS = List.of(
                "data: {\"a\":1}\n\ndata: two\ndata: lines\n\n".getBytes(UTF_8),
                "\uFEFFevent: delta\r\nid: 7\r\nretry: 1500\r\ndata: caf\u00e9 \u2603 \uD83D\uDE00\r\n\r\n: keep-alive\r\ndata:x\rdata\r\r".getBytes(UTF_8),
                "data\n\ndata:\n\nid: 9\n\nevent: e\ndata:  spaced \n\nfield: ignored\ndata: [DONE]\n\ndata: tail".getBytes(UTF_8),
                // malformed UTF-8 (a lone continuation byte, a truncated sequence before the line end)
                new byte[] {'d', 'a', 't', 'a', ':', ' ', (byte) 0x80, 'x', '\n', 'd', 'a', 't', 'a', ':', (byte) 0xE2, (byte) 0x98, '\n', '\n'});

        @Test
        void matchesTheStringListenerForEverySplit() {
            for (var input : INPUTS) {
                var expected = new Recorder();
                var strings = new SseDecoder(expected);
                strings.feed(input);
                strings.end();
                assertThat(expected.events()).isNotEmpty();
                for (int split = 0; split <= input.length; split++) {
                    var actual = new ByteRecorder();
                    var bytes = SseDecoder.forBytes(actual, 1024, 1024);
                    bytes.feed(input, 0, split);
                    bytes.feed(ByteBuffer.wrap(input, split, input.length - split));
                    bytes.end();
                    assertThat(actual.log).as("split at %d of %s", split, new String(input, UTF_8)).isEqualTo(expected.log);
                }
            }
        }

        @Test
        void handsOverTheDataBytesAsReceived() {
            var recorder = new ByteRecorder();
            var decoder = SseDecoder.forBytes(recorder, 1024, 1024);
            var text = "{\"t\":\"\u00e9\uD83D\uDE00\"}";
            decoder.feed(("data: " + text + "\ndata: more\n\n").getBytes(UTF_8));
            assertThat(recorder.data).hasSize(1);
            assertThat(recorder.data.getFirst()).isEqualTo((text + "\nmore").getBytes(UTF_8));
        }

        @Test
        void enforcesTheEventLimitInBytes() {
            var decoder = SseDecoder.forBytes(new ByteRecorder(), 64, 10);
            decoder.feed("data: 12345\ndata: 6789\n".getBytes(UTF_8)); // exactly 10 bytes with the \n between
            assertThatThrownBy(() -> decoder.feed("data: 0\n".getBytes(UTF_8)))
                    .isInstanceOf(SseException.class)
                    .hasMessageContaining("maxEventBytes");
        }
    }
}
