package dev.sluice.wire.chat;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.wire.fixtures.Fixtures;
import dev.sluice.wire.fixtures.Fixtures.Fixture;
import dev.sluice.wire.sse.SseDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The byte fast path of {@link ChatChunkDecoder} against its Jackson path: for fixtures, hand-written edge
 * cases and randomly damaged chunks, both must emit the same events (errors included), and the fast path
 * must really be taken for the shapes it claims.
 */
class FastChunkScannerTest {

    record Payload(String event, byte[] data) {
        static Payload of(String json) {
            return new Payload(null, json.getBytes(UTF_8));
        }

        @Override
        public String toString() {
            return new String(data, UTF_8);
        }
    }

    record Run(List<StreamEvent> events, int fastChunks) {}

    /** Each payload is decoded from inside a larger array whose neighbouring bytes look like JSON, to catch reads past the end. */
    static Run run(List<Payload> payloads, boolean fastPath) {
        var events = new ArrayList<StreamEvent>();
        var decoder = new ChatChunkDecoder(events::add, fastPath);
        for (var p : payloads) {
            byte[] framed = new byte[p.data().length + 8];
            Arrays.fill(framed, (byte) '"');
            framed[framed.length - 1] = '}';
            framed[framed.length - 2] = ']';
            System.arraycopy(p.data(), 0, framed, 4, p.data().length);
            decoder.decode(p.event(), framed, 4, p.data().length);
        }
        decoder.end();
        return new Run(events, decoder.fastChunks());
    }

    /** Asserts both paths agree and returns how many chunks the fast path took. */
    static int assertSameEvents(List<Payload> payloads) {
        var fast = run(payloads, true);
        var jackson = run(payloads, false);
        assertThat(jackson.fastChunks()).isZero();
        assertThat(fast.events()).as("events for %s", payloads).isEqualTo(jackson.events());
        return fast.fastChunks();
    }

    static int assertSameEvents(String... chunks) {
        return assertSameEvents(Stream.of(chunks).map(Payload::of).toList());
    }

    // ---------------------------------------------------------------- fixtures

    static Stream<Fixture> sseFixtures() {
        Assumptions.assumeTrue(Fixtures.available(), "../shared/fixtures/upstream-sse is absent: fixture tests skipped");
        var list = Fixtures.all().stream().filter(f -> f.name().endsWith(".sse")).toList();
        assertThat(list).hasSizeGreaterThanOrEqualTo(20);
        return list.stream();
    }

    /** The data events up to {@code [DONE]}, as ChatStreamParser hands them to the decoder. */
    static List<Payload> payloads(byte[] body) {
        var out = new ArrayList<Payload>();
        boolean[] done = {false};
        var sse = SseDecoder.forBytes((event, data, offset, length, id, retry) -> {
            if (done[0]) return;
            var bytes = Arrays.copyOfRange(data, offset, offset + length);
            if (Arrays.equals(bytes, "[DONE]".getBytes(StandardCharsets.US_ASCII))) done[0] = true;
            else out.add(new Payload(event, bytes));
        }, SseDecoder.DEFAULT_MAX_LINE_BYTES, SseDecoder.DEFAULT_MAX_EVENT_BYTES);
        sse.feed(body, 0, body.length);
        sse.end();
        return out;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("sseFixtures")
    void fixtureGivesTheSameEventsOnBothPaths(Fixture fixture) {
        assertSameEvents(payloads(fixture.bytes()));
    }

    @Test
    void fastPathTakesMostChunksOfPlainOpenAiStreams() {
        Assumptions.assumeTrue(Fixtures.available(), "../shared/fixtures/upstream-sse is absent: fixture tests skipped");
        for (var name : List.of("openai-chat-text-include-usage.sse", "openai-chat-text-usage-details-obfuscation.sse",
                "groq-x-groq-usage.sse", "vllm-chat-opt125m.sse", "openai-chat-refusal.sse")) {
            var fixture = Fixtures.all().stream().filter(f -> f.name().equals(name)).findFirst().orElseThrow();
            var payloads = payloads(fixture.bytes());
            int fast = assertSameEvents(payloads);
            // Only the odd chunk (usage object, x_groq, stop_reason) needs Jackson.
            assertThat(fast).as(name).isGreaterThanOrEqualTo(payloads.size() - 2).isGreaterThan(0);
        }
    }

    // ---------------------------------------------------------------- synthetic chunks

    static final String TYPICAL = """
            {"id":"chatcmpl-abc","object":"chat.completion.chunk","created":1732000000,"model":"gpt-4o-mini-2024-07-18",\
            "system_fingerprint":"fp_0ba0d124f1","choices":[{"index":0,"delta":{"content":" two words"},"logprobs":null,\
            "finish_reason":null}]}""";

    static String withContent(String jsonString) {
        return TYPICAL.replace("\" two words\"", jsonString);
    }

    static String withDelta(String delta) {
        return TYPICAL.replace("{\"content\":\" two words\"}", delta);
    }

    static final String ROLE = withDelta("{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null}");
    static final String FINISH = withDelta("{}").replace("\"finish_reason\":null", "\"finish_reason\":\"stop\"");

    /** Chunks the fast path must take (and decode exactly as Jackson does). */
    static Stream<String> fastShapes() {
        return Stream.of(
                TYPICAL,
                ROLE,
                FINISH,
                "{}",
                TYPICAL.replaceAll("\\[\\{.*}]", "[]"),
                TYPICAL.replaceAll("\\[\\{.*}]", "[ \n ]"),
                withContent("\"\""),
                withContent("null"),
                withContent("\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\""),
                withContent("\"\\u00e9\\u4E2d\\ud83d\\ude00 \\u0000\\u001f\""),
                withContent("\"lone \\ud83d surrogate \\ude00 reversed \\ude00\\ud83d\""),
                withContent("\"h\u00e9llo \u4e16\u754c \uD83D\uDE00 \u00ff\u0080\u07ff\u0800\ud7ff\ue000\uffff\uD800\uDC00\uDBFF\uDFFF\""),
                withContent("\"\u007f tab-less DEL\""),
                withContent("\"\\\\u0041 is not an escape here\""),
                // Pretty-printed, every kind of JSON whitespace.
                " \r\n\t{ \"id\" : \"chatcmpl-abc\" ,\n\t\"object\":\"chat.completion.chunk\",\"created\" :\r\n1732000000 ,"
                        + "\"model\":\"m\",\"choices\" : [ { \"index\" : 0 , \"delta\" : { \"content\" : \"x\" } , "
                        + "\"logprobs\" : null , \"finish_reason\" : null } ] } \n\t\r ",
                // Azure sorts keys.
                "{\"choices\":[{\"delta\":{\"content\":\"x\",\"role\":\"assistant\"},\"finish_reason\":null,\"index\":0,"
                        + "\"logprobs\":null}],\"created\":1732000000,\"id\":\"chatcmpl-abc\",\"model\":\"gpt-4o\","
                        + "\"object\":\"chat.completion.chunk\",\"system_fingerprint\":null}",
                TYPICAL.replace("1732000000", "999999999999999999"),
                TYPICAL.replace("1732000000", "0"),
                TYPICAL.replace("1732000000", "null"),
                TYPICAL.replace("\"index\":0", "\"index\":2"),
                TYPICAL.replace("\"index\":0", "\"index\":123456789"),
                TYPICAL.replace("\"chatcmpl-abc\"", "\"\""),
                TYPICAL.replace("\"chatcmpl-abc\"", "null"),
                TYPICAL.replace("\"chatcmpl-abc\"", "\"chatcmpl-\\u00e9\\n\""),
                TYPICAL.replace("\"chat.completion.chunk\"", "\"error\""),
                TYPICAL.replace("\"chat.completion.chunk\"", "\"chat.completion\""),
                TYPICAL.replace("\"fp_0ba0d124f1\"", "null"),
                TYPICAL.replace("\"fp_0ba0d124f1\"", "null,\"service_tier\":\"default\",\"usage\":null"),
                TYPICAL.replace("\"id\"", "\"obfuscation\":\"Xy3\\u00e9\",\"id\""),
                TYPICAL.replace("\"finish_reason\":null", "\"finish_reason\":\"error\""),
                TYPICAL.replace("\"finish_reason\":null", "\"finish_reason\":\"length\""),
                withDelta("{\"role\":\"\"}"),
                withDelta("{\"role\":null,\"content\":null,\"refusal\":\"I can't\"}"),
                withDelta("{\"refusal\":\"\"}"),
                withDelta("{\"content\":null,\"reasoning_content\":null,\"reasoning\":null,\"tool_calls\":null}"),
                "{\"choices\":[{}]}",
                "{\"choices\":[{\"delta\":{}}]}");
    }

    /** Chunks the fast path must leave to Jackson (and the result must still be Jackson's). */
    static Stream<String> jacksonShapes() {
        return Stream.of(
                // Beyond the shape.
                TYPICAL.replace("}]}", "},{\"index\":1,\"delta\":{\"content\":\"y\"}}]}"),
                withDelta("{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"function\":{\"name\":\"f\",\"arguments\":\"\"}}]}"),
                withDelta("{\"reasoning_content\":\"hmm\"}"),
                withDelta("{\"reasoning\":\"hmm\",\"content\":\"\"}"),
                withDelta("{\"content\":[{\"type\":\"text\",\"text\":\"x\"}]}"),
                withDelta("{\"content\":\"x\",\"function_call\":null}"),
                withDelta("{\"content\":123}"),
                withDelta("{\"content\":true}"),
                withDelta("null"),
                withDelta("\"x\""),
                TYPICAL.replace("\"logprobs\":null", "\"logprobs\":{\"content\":[{\"token\":\"x\",\"logprob\":-0.1}],\"refusal\":null}"),
                TYPICAL.replace("\"logprobs\":null", "\"logprobs\":{}"),
                TYPICAL.replace("\"finish_reason\":null", "\"finish_reason\":null,\"stop_reason\":null"),
                TYPICAL.replace("\"delta\"", "\"message\""),
                TYPICAL.replace("\"fp_0ba0d124f1\"", "\"fp\",\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2,\"total_tokens\":3}"),
                TYPICAL.replace("\"fp_0ba0d124f1\"", "\"fp\",\"usage\":[]"),
                TYPICAL.replace("\"fp_0ba0d124f1\"", "\"fp\",\"x_groq\":{\"id\":\"req_1\"}"),
                TYPICAL.replace("\"fp_0ba0d124f1\"", "\"fp\",\"error\":{\"message\":\"boom\",\"code\":500}"),
                TYPICAL.replace("\"id\"", "\"obfuscation\":null,\"id\""),
                TYPICAL.replace("\"id\"", "\"obfuscation\":7,\"id\""),
                "{\"object\":\"error\",\"message\":\"bad\",\"type\":\"BadRequestError\",\"code\":400}",
                // Values the Jackson path reads in its own way.
                TYPICAL.replace("1732000000", "1732000000.5"),
                TYPICAL.replace("1732000000", "1.732e9"),
                TYPICAL.replace("1732000000", "-1732000000"),
                TYPICAL.replace("1732000000", "-0"),
                TYPICAL.replace("1732000000", "\"1732000000\""),
                TYPICAL.replace("1732000000", "9223372036854775807"),
                TYPICAL.replace("1732000000", "99999999999999999999"),
                TYPICAL.replace("1732000000", "01732000000"),
                TYPICAL.replace("1732000000", "true"),
                TYPICAL.replace("\"chatcmpl-abc\"", "42"),
                TYPICAL.replace("\"chatcmpl-abc\"", "{\"a\":1}"),
                TYPICAL.replace("\"gpt-4o-mini-2024-07-18\"", "[\"m\"]"),
                TYPICAL.replace("\"index\":0", "\"index\":\"0\""),
                TYPICAL.replace("\"index\":0", "\"index\":null"),
                TYPICAL.replace("\"index\":0", "\"index\":-1"),
                TYPICAL.replace("\"index\":0", "\"index\":1.0"),
                TYPICAL.replace("\"index\":0", "\"index\":00"),
                TYPICAL.replace("\"index\":0", "\"index\":99999999999"),
                TYPICAL.replace("\"finish_reason\":null", "\"finish_reason\":1"),
                TYPICAL.replace("\"choices\":[", "\"choices\":null,\"x\":["),
                TYPICAL.replace("\"choices\":[{", "\"choices\":{\"a\":[{").replace("}]}", "}]}}"),
                // Duplicate and escaped keys.
                TYPICAL.replace("\"id\"", "\"id\":\"first\",\"id\""),
                withDelta("{\"content\":\"a\",\"content\":\"b\"}"),
                TYPICAL.replace("\"index\":0", "\"index\":0,\"index\":1"),
                TYPICAL.replace("\"id\"", "\"i\\u0064\""),
                TYPICAL.replace("\"model\"", "\"mod\u00e9l\""),
                // Malformed, all to be reported by Jackson.
                TYPICAL.substring(0, TYPICAL.length() - 1),
                TYPICAL + "}",
                TYPICAL + " trailing",
                TYPICAL + "\n" + TYPICAL,
                TYPICAL.replace("null}]}", "null,}]}"),
                TYPICAL.replace(",\"object\"", ",,\"object\""),
                TYPICAL.replace("\"logprobs\":null", "\"logprobs\":nul"),
                TYPICAL.replace("\"logprobs\":null", "\"logprobs\":nullx"),
                TYPICAL.replace("\"logprobs\":null", "\"logprobs\":NULL"),
                TYPICAL.replace("\"created\":", "\"created\""),
                TYPICAL.replace("\"created\"", "created"),
                TYPICAL.replace("\"", "'"),
                withContent("\"bad \\x escape\""),
                withContent("\"bad \\u12g4 escape\""),
                withContent("\"bad \\u12\""),
                withContent("\"raw\ttab\""),
                withContent("\"raw\nnewline\""),
                withContent("\"unterminated"),
                "[" + TYPICAL + "]",
                "\"just a string\"",
                "42",
                "null",
                "",
                " ",
                "{",
                "\uFEFF" + TYPICAL,
                "{\"id\":\"x\" /* comment */}");
    }

    @ParameterizedTest
    @MethodSource("fastShapes")
    void fastPathTakesTheCommonShapeAndAgreesWithJackson(String chunk) {
        // Alone, after the same chunk (metadata reused) and after a typical one (metadata compared).
        assertThat(assertSameEvents(chunk)).isEqualTo(1);
        assertThat(assertSameEvents(chunk, chunk)).isEqualTo(2);
        assertThat(assertSameEvents(ROLE, TYPICAL, chunk, TYPICAL)).isEqualTo(4);
    }

    @ParameterizedTest
    @MethodSource("jacksonShapes")
    void fastPathLeavesEverythingElseToJackson(String chunk) {
        assertThat(assertSameEvents(chunk)).isZero();
        assertThat(assertSameEvents(ROLE, chunk, TYPICAL)).isEqualTo(2);
    }

    @Test
    void invalidUtf8IsLeftToJackson() {
        byte[][] bad = {
            {(byte) 0xC0, (byte) 0x80}, // overlong NUL
            {(byte) 0xC1, (byte) 0xBF}, // overlong
            {(byte) 0xE0, (byte) 0x80, (byte) 0x80}, // overlong
            {(byte) 0xED, (byte) 0xA0, (byte) 0x80}, // UTF-8 encoded surrogate
            {(byte) 0xF0, (byte) 0x80, (byte) 0x80, (byte) 0x80}, // overlong
            {(byte) 0xF4, (byte) 0x90, (byte) 0x80, (byte) 0x80}, // beyond U+10FFFF
            {(byte) 0xF5, (byte) 0x80, (byte) 0x80, (byte) 0x80},
            {(byte) 0xFF},
            {(byte) 0x80}, // stray continuation
            {(byte) 0xC3}, // truncated before the quote
            {(byte) 0xE4, (byte) 0xB8}, // truncated
            {(byte) 0xF0, (byte) 0x9F, (byte) 0x98}, // truncated
            {(byte) 0xC3, (byte) 0x28}, // bad continuation
        };
        var template = withContent("\"a#b\"").getBytes(UTF_8);
        int hole = new String(template, UTF_8).indexOf('#');
        for (var seq : bad) {
            var chunk = new byte[template.length - 1 + seq.length];
            System.arraycopy(template, 0, chunk, 0, hole);
            System.arraycopy(seq, 0, chunk, hole, seq.length);
            System.arraycopy(template, hole + 1, chunk, hole + seq.length, template.length - hole - 1);
            assertThat(assertSameEvents(List.of(new Payload(null, chunk)))).as(Arrays.toString(seq)).isZero();
        }
        // Also outside strings, where only JSON whitespace and punctuation may be.
        var outside = (TYPICAL.substring(0, 1) + "\u00e9" + TYPICAL.substring(1)).getBytes(UTF_8);
        assertThat(assertSameEvents(List.of(new Payload(null, outside)))).isZero();
    }

    @Test
    void everyTruncationGivesJacksonsError() {
        for (int n = 0; n < TYPICAL.length(); n++) {
            var cut = TYPICAL.substring(0, n);
            assertThat(assertSameEvents(ROLE, cut)).as(cut).isEqualTo(1);
            var events = run(List.of(Payload.of(cut)), true).events();
            assertThat(events).as(cut).hasSize(1).first().isInstanceOf(StreamEvent.Error.class);
        }
    }

    @Test
    void changedMetadataIsSentAgain() {
        var other = TYPICAL.replace("chatcmpl-abc", "chatcmpl-xyz");
        var otherModel = TYPICAL.replace("gpt-4o-mini-2024-07-18", "gpt-4o");
        var later = TYPICAL.replace("1732000000", "1732000001");
        var tier = TYPICAL.replace("\"fp_0ba0d124f1\"", "\"fp_0ba0d124f1\",\"service_tier\":\"default\"");
        var noId = TYPICAL.replace("\"chatcmpl-abc\"", "\"\"");
        var chunks = List.of(ROLE, TYPICAL, other, other, TYPICAL, otherModel, later, later, tier, tier, noId, TYPICAL, FINISH);
        assertThat(assertSameEvents(chunks.toArray(String[]::new))).isEqualTo(chunks.size());
        var events = run(chunks.stream().map(Payload::of).toList(), true).events();
        var ids = events.stream().filter(e -> e instanceof StreamEvent.Metadata).map(e -> ((StreamEvent.Metadata) e).id()).toList();
        assertThat(ids).containsExactly("chatcmpl-abc", "chatcmpl-xyz", "chatcmpl-abc", "chatcmpl-abc", "chatcmpl-abc", "chatcmpl-abc");
        assertThat(events).filteredOn(e -> e instanceof StreamEvent.Role).hasSize(1);
        assertThat(events).filteredOn(e -> e instanceof StreamEvent.Finish).hasSize(1);
    }

    @Test
    void repeatedMetadataReusesTheFirstStrings() {
        var events = run(List.of(Payload.of(ROLE), Payload.of(TYPICAL.replace("1732000000", "1732000001"))), true).events();
        var metadata = events.stream().filter(e -> e instanceof StreamEvent.Metadata).map(StreamEvent.Metadata.class::cast).toList();
        assertThat(metadata).hasSize(2);
        assertThat(metadata.get(1).id()).isSameAs(metadata.get(0).id());
        assertThat(metadata.get(1).model()).isSameAs(metadata.get(0).model());
        assertThat(metadata.get(1).systemFingerprint()).isSameAs(metadata.get(0).systemFingerprint());
    }

    @Test
    void finishIsSentOncePerReason() {
        var length = FINISH.replace("\"stop\"", "\"length\"");
        assertThat(assertSameEvents(ROLE, TYPICAL, FINISH, FINISH, length, ROLE)).isEqualTo(6);
    }

    @Test
    void fastPathBacksOffOnStreamsOfOtherShapesAndComesBack() {
        var tool = withDelta("{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{}\"}}]}");
        var chunks = new ArrayList<String>();
        chunks.add(ROLE);
        for (int i = 0; i < 200; i++) chunks.add(tool);
        for (int i = 0; i < 100; i++) chunks.add(TYPICAL);
        int fast = assertSameEvents(chunks.toArray(String[]::new));
        // The role chunk, then all the text but at most the 31 chunks of one back-off.
        assertThat(fast).isBetween(1 + 100 - 31, 1 + 100);
        // However long the other shape lasted, text is taken again within one back-off (31 chunks).
        var decoder = new ChatChunkDecoder(e -> {}, true);
        var bytes = tool.getBytes(UTF_8);
        for (int i = 0; i < 200; i++) decoder.decode(null, bytes, 0, bytes.length);
        var text = TYPICAL.getBytes(UTF_8);
        for (int i = 0; i < 32; i++) decoder.decode(null, text, 0, text.length);
        assertThat(decoder.fastChunks()).isPositive();
    }

    @ParameterizedTest
    @ValueSource(strings = {"error", "message"})
    void namedErrorEventsNeverReachTheFastPath(String event) {
        var payloads = List.of(Payload.of(ROLE), new Payload(event, TYPICAL.getBytes(UTF_8)));
        var fast = run(payloads, true);
        assertThat(fast.events()).isEqualTo(run(payloads, false).events());
        assertThat(fast.fastChunks()).isEqualTo(event.equals("error") ? 1 : 2);
    }

    // ---------------------------------------------------------------- the repeated head

    private static boolean scan(FastChunkScanner scanner, String chunk) {
        var bytes = chunk.getBytes(UTF_8);
        return scanner.scan(bytes, 0, bytes.length);
    }

    @Test
    void aRepeatedHeadIsReadOnceAndGivesItsValuesAgain() {
        var scanner = new FastChunkScanner("chat.completion.chunk");
        for (var chunk : List.of(ROLE, TYPICAL, withContent("\"x\""), FINISH)) {
            assertThat(scan(scanner, chunk)).as(chunk).isTrue();
            assertThat(scanner.id).isEqualTo("chatcmpl-abc");
            assertThat(scanner.model).isEqualTo("gpt-4o-mini-2024-07-18");
            assertThat(scanner.fingerprint).isEqualTo("fp_0ba0d124f1");
            assertThat(scanner.hasFingerprint).isTrue();
            assertThat(scanner.created).isEqualTo(1732000000L);
        }
        assertThat(scanner.content).isNull();
        assertThat(scanner.finish).isEqualTo("stop");
        assertThat(scanner.headHits).isEqualTo(3);
    }

    @Test
    void aChangedHeadIsReadInFullAndKeptInstead() {
        var scanner = new FastChunkScanner("chat.completion.chunk");
        var later = TYPICAL.replace("1732000000", "1732000001");
        assertThat(scan(scanner, TYPICAL)).isTrue();
        assertThat(scan(scanner, later)).isTrue();
        assertThat(scanner.created).isEqualTo(1732000001L);
        assertThat(scanner.headHits).isZero();
        assertThat(scan(scanner, later)).isTrue();
        assertThat(scanner.created).isEqualTo(1732000001L);
        assertThat(scanner.headHits).isEqualTo(1);
        // Leading whitespace is part of the head: the same chunk indented is read in full.
        assertThat(scan(scanner, " " + later)).isTrue();
        assertThat(scanner.headHits).isEqualTo(1);
    }

    @Test
    void aHeadWithMoreThanMetadataIsNotKept() {
        var scanner = new FastChunkScanner("chat.completion.chunk");
        // An obfuscation string or a usage null before the choices: the head would carry more than the kept values.
        var obfuscated = TYPICAL.replace("\"choices\"", "\"obfuscation\":\"abc\",\"choices\"");
        var usage = TYPICAL.replace("\"choices\"", "\"usage\":null,\"choices\"");
        for (var chunk : List.of(obfuscated, obfuscated, usage, usage)) assertThat(scan(scanner, chunk)).isTrue();
        assertThat(scanner.obfuscation).isNull();
        assertThat(scanner.headHits).isZero();
        assertThat(scan(scanner, obfuscated)).isTrue();
        assertThat(scanner.obfuscation).isEqualTo("abc");
    }

    @Test
    void aRefusedChunkAfterAKeptHeadChangesNothingKept() {
        var scanner = new FastChunkScanner("chat.completion.chunk");
        assertThat(scan(scanner, TYPICAL)).isTrue();
        // The head matches, what follows is not the fast path's (a tool call; a cut payload; only the head).
        assertThat(scan(scanner, withDelta("{\"tool_calls\":[]}"))).isFalse();
        assertThat(scan(scanner, TYPICAL.substring(0, TYPICAL.length() - 3))).isFalse();
        assertThat(scan(scanner, TYPICAL.substring(0, TYPICAL.indexOf("[{")))).isFalse();
        assertThat(scanner.headHits).isZero();
        assertThat(scan(scanner, TYPICAL)).isTrue();
        assertThat(scanner.headHits).isEqualTo(1);
        assertThat(scanner.id).isEqualTo("chatcmpl-abc");
        assertThat(scanner.content).isEqualTo(" two words");
        // The decoder's view of such a sequence: the same events as Jackson gives, errors included.
        assertSameEvents(TYPICAL, withDelta("{\"tool_calls\":[]}"), TYPICAL.substring(0, TYPICAL.indexOf("[{")),
                TYPICAL + " x", TYPICAL, withContent("\"\\u00e9\""));
    }

    @Test
    void randomStreamsWithARepeatedHeadAgreeWithJackson() {
        var random = new Random(5);
        int taken = 0, chunks = 0;
        var hits = 0;
        for (int n = 0; n < 1500; n++) {
            var stream = new ChunkGenerator(random).streamWithOneHead(1 + random.nextInt(8));
            // A chunk now and then damaged, so that a kept head meets payloads it must refuse.
            var payloads = new ArrayList<Payload>();
            for (var chunk : stream) {
                var bytes = chunk.getBytes(UTF_8);
                payloads.add(new Payload(null, random.nextInt(6) == 0 ? mutate(bytes, random) : bytes));
            }
            taken += assertSameEvents(payloads);
            chunks += payloads.size();
            var scanner = new FastChunkScanner("chat.completion.chunk");
            for (var p : payloads) scanner.scan(p.data(), 0, p.data().length);
            hits += scanner.headHits;
        }
        assertThat(taken).isGreaterThan(chunks / 2);
        assertThat(hits).isGreaterThan(chunks / 4);
    }

    // ---------------------------------------------------------------- random damage

    private static final byte[] INTERESTING = "{}[]:,\"\\/ \t\n\r0123456789-+.eEnultrfabxu".getBytes(StandardCharsets.US_ASCII);

    @Test
    void randomlyDamagedChunksGiveTheSameEventsOnBothPaths() {
        // Mostly chunks the fast path takes, so that damage lands both on and off its shape; the rest as recorded.
        var fastSources = new ArrayList<byte[]>();
        var otherSources = new ArrayList<byte[]>();
        fastShapes().forEach(s -> fastSources.add(s.getBytes(UTF_8)));
        var generator = new ChunkGenerator(new Random(11));
        for (int i = 0; i < 300; i++) fastSources.add(generator.chunk().getBytes(UTF_8));
        jacksonShapes().forEach(s -> otherSources.add(s.getBytes(UTF_8)));
        if (Fixtures.available()) {
            for (var fixture : Fixtures.chat()) {
                for (var p : payloads(fixture.bytes())) {
                    if (p.event() != null) continue;
                    (run(List.of(p), true).fastChunks() == 1 ? fastSources : otherSources).add(p.data());
                }
            }
        }
        var random = new Random(20250101L);
        int fastTaken = 0, cases = 5000;
        for (int n = 0; n < cases; n++) {
            var sources = random.nextInt(4) == 0 ? otherSources : fastSources;
            byte[] chunk = sources.get(random.nextInt(sources.size()));
            int edits = 1 + random.nextInt(3);
            for (int e = 0; e < edits; e++) chunk = mutate(chunk, random);
            var payloads = List.of(Payload.of(ROLE), new Payload(null, chunk), Payload.of(TYPICAL));
            fastTaken += assertSameEvents(payloads) - 2;
        }
        // Many damaged chunks are still valid (a changed letter of text): the fast path must have met some of them.
        assertThat(fastTaken).isGreaterThan(cases / 20);
    }

    @Test
    void randomChunksOfTheCommonShapeAreAllTakenAndAgree() {
        var random = new Random(7);
        for (int n = 0; n < 1500; n++) {
            var chunks = new ArrayList<String>();
            int count = 1 + random.nextInt(8);
            for (int i = 0; i < count; i++) chunks.add(new ChunkGenerator(random).chunk());
            assertThat(assertSameEvents(chunks.toArray(String[]::new))).as("%s", chunks).isEqualTo(count);
        }
    }

    /** Random chunks within the fast path's shape: any key order and subset, whitespace, escapes, any Unicode. */
    private record ChunkGenerator(Random random) {

        String chunk() {
            var fields = new ArrayList<String>();
            maybe(fields, "id", () -> stringOrNull(pick("chatcmpl-1", "chatcmpl-2", "", "chatcmpl-\\u00e9")));
            maybe(fields, "object", () -> stringOrNull(pick("chat.completion.chunk", "error", "x")));
            maybe(fields, "created", () -> pick("null", "0", "1732000000", "1732000001", "999999999999999999", Long.toString(random.nextLong(1, Long.MAX_VALUE / 1000))));
            maybe(fields, "model", () -> stringOrNull(pick("gpt-4o", "gpt-4o-mini", "m\\/1")));
            maybe(fields, "system_fingerprint", () -> stringOrNull(pick("fp_1", "fp_2")));
            maybe(fields, "service_tier", () -> stringOrNull(pick("default", "flex")));
            maybe(fields, "usage", () -> "null");
            maybe(fields, "obfuscation", this::text);
            maybe(fields, "choices", () -> random.nextInt(6) == 0 ? "[" + ws() + "]" : "[" + ws() + choice() + ws() + "]");
            return ws() + object(fields) + ws();
        }

        /**
         * Chunks sharing one head (metadata keys then "choices", in a random order and spacing), each with its
         * own choices and, after them, perhaps a usage null or an obfuscation string.
         */
        List<String> streamWithOneHead(int count) {
            var fields = new ArrayList<String>();
            maybe(fields, "id", () -> stringOrNull(pick("chatcmpl-1", "", "chatcmpl-\\u00e9")));
            maybe(fields, "object", () -> stringOrNull(pick("chat.completion.chunk", "x")));
            maybe(fields, "created", () -> pick("null", "0", "1732000000"));
            maybe(fields, "model", () -> stringOrNull(pick("gpt-4o", "m\\/1")));
            maybe(fields, "system_fingerprint", () -> stringOrNull(pick("fp_1", "fp_2")));
            maybe(fields, "service_tier", () -> stringOrNull(pick("default", "flex")));
            java.util.Collections.shuffle(fields, random);
            var head = new StringBuilder(ws()).append('{').append(ws());
            for (var f : fields) head.append(f).append(ws()).append(',').append(ws());
            head.append("\"choices\"").append(ws()).append(':').append(ws());
            var out = new ArrayList<String>();
            for (int i = 0; i < count; i++) {
                var chunk = new StringBuilder(head).append('[').append(ws()).append(choice()).append(ws()).append(']');
                if (random.nextInt(3) == 0) chunk.append(ws()).append(",\"usage\":null");
                if (random.nextInt(3) == 0) chunk.append(ws()).append(",\"obfuscation\":").append(text());
                out.add(chunk.append(ws()).append('}').append(ws()).toString());
            }
            return out;
        }

        private String choice() {
            var fields = new ArrayList<String>();
            maybe(fields, "index", () -> pick("0", "0", "1", "7", "10", "123456789"));
            maybe(fields, "delta", this::delta);
            maybe(fields, "logprobs", () -> "null");
            maybe(fields, "finish_reason", () -> stringOrNull(pick("stop", "length", "error", "content_filter", "tool_calls")));
            return object(fields);
        }

        private String delta() {
            var fields = new ArrayList<String>();
            maybe(fields, "role", () -> stringOrNull(pick("assistant", "assistant", "")));
            maybe(fields, "content", () -> random.nextInt(5) == 0 ? "null" : text());
            maybe(fields, "refusal", () -> random.nextInt(2) == 0 ? "null" : text());
            maybe(fields, "reasoning_content", () -> "null");
            maybe(fields, "reasoning", () -> "null");
            maybe(fields, "tool_calls", () -> "null");
            return object(fields);
        }

        private String object(List<String> fields) {
            java.util.Collections.shuffle(fields, random);
            var out = new StringBuilder("{").append(ws());
            for (int i = 0; i < fields.size(); i++) out.append(i == 0 ? "" : ws() + "," + ws()).append(fields.get(i));
            return out.append(ws()).append('}').toString();
        }

        private void maybe(List<String> fields, String key, java.util.function.Supplier<String> value) {
            if (random.nextInt(5) != 0) fields.add("\"" + key + "\"" + ws() + ":" + ws() + value.get());
        }

        private String stringOrNull(String raw) {
            return random.nextInt(8) == 0 ? "null" : "\"" + raw + "\"";
        }

        private String pick(String... options) {
            return options[random.nextInt(options.length)];
        }

        private String ws() {
            if (random.nextInt(4) != 0) return "";
            var out = new StringBuilder();
            for (int i = random.nextInt(3); i >= 0; i--) out.append(" \t\n\r".charAt(random.nextInt(4)));
            return out.toString();
        }

        private static final int[] CODE_POINTS = {'a', 'Z', ' ', '0', '"', '\\', '/', '\b', '\f', '\n', '\r', '\t', 0, 0x1F, 0x7F,
            0x80, 0xE9, 0x7FF, 0x800, 0x4E16, 0xD7FF, 0xE000, 0xFEFF, 0xFFFD, 0xFFFF, 0x10000, 0x1F600, 0x10FFFF};

        /** A JSON string of random code points, each written raw or escaped in one of the ways JSON allows. */
        private String text() {
            var out = new StringBuilder("\"");
            for (int i = random.nextInt(10); i > 0; i--) {
                int cp = random.nextInt(3) == 0 ? CODE_POINTS[random.nextInt(CODE_POINTS.length)] : 0x20 + random.nextInt(0x5F);
                boolean mustEscape = cp < 0x20 || cp == '"' || cp == '\\';
                int how = random.nextInt(3);
                if (!mustEscape && how == 0) {
                    out.appendCodePoint(cp);
                } else if (how == 1 && "\"\\/\b\f\n\r\t".indexOf(cp) >= 0) {
                    out.append('\\').append("\"\\/bfnrt".charAt("\"\\/\b\f\n\r\t".indexOf(cp)));
                } else if (!mustEscape && how == 1) {
                    out.appendCodePoint(cp);
                } else {
                    for (char c : Character.toChars(cp)) {
                        var hex = String.format("%04x", (int) c);
                        out.append("\\u").append(random.nextBoolean() ? hex : hex.toUpperCase());
                    }
                }
            }
            // Now and then a lone surrogate, which only an escape can carry.
            if (random.nextInt(20) == 0) out.append(random.nextBoolean() ? "\\ud83d" : "\\uDE00");
            return out.append('"').toString();
        }
    }

    private static byte[] mutate(byte[] in, Random random) {
        int at = in.length == 0 ? 0 : random.nextInt(in.length);
        byte b = switch (random.nextInt(4)) {
            case 0 -> INTERESTING[random.nextInt(INTERESTING.length)];
            case 1 -> (byte) random.nextInt(256);
            case 2 -> (byte) (0x80 + random.nextInt(0x80)); // UTF-8 lead and continuation bytes
            default -> (byte) (0x20 + random.nextInt(0x5F));
        };
        return switch (random.nextInt(3)) {
            case 0 -> { // delete
                if (in.length == 0) yield in;
                var out = new byte[in.length - 1];
                System.arraycopy(in, 0, out, 0, at);
                System.arraycopy(in, at + 1, out, at, in.length - at - 1);
                yield out;
            }
            case 1 -> { // insert
                var out = new byte[in.length + 1];
                System.arraycopy(in, 0, out, 0, at);
                out[at] = b;
                System.arraycopy(in, at, out, at + 1, in.length - at);
                yield out;
            }
            default -> { // replace
                var out = in.clone();
                if (out.length > 0) out[at] = b;
                yield out;
            }
        };
    }
}
