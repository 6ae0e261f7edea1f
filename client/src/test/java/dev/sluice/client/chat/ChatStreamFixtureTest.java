package dev.sluice.client.chat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.client.IncompleteStreamException;
import dev.sluice.client.SluiceClient;
import dev.sluice.client.StreamErrorException;
import dev.sluice.client.testing.FakeUpstream;
import dev.sluice.wire.chat.ChatAccumulator;
import dev.sluice.wire.chat.ChatCompletion;
import dev.sluice.wire.chat.ChatStreamParser;
import dev.sluice.wire.chat.StreamEvent;
import dev.sluice.wire.fixtures.Fixtures;
import dev.sluice.wire.fixtures.Fixtures.Fixture;
import dev.sluice.wire.json.Json;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every OpenAI-compatible chat transcript of ../shared/fixtures/upstream-sse, served as text/event-stream by a
 * loopback server and read through {@code client.chat().stream(...)}: the result must be exactly what wire's
 * parser and accumulator make of the same bytes, the typed events must agree with it, and error transcripts
 * must raise the provider's error.
 */
class ChatStreamFixtureTest {

    /** The fixture each request asks for: the test puts its name in the body, the server serves it. */
    private static final Map<String, Fixture> FIXTURES = new HashMap<>();
    private static FakeUpstream upstream;
    private static SluiceClient client;

    @BeforeAll
    static void start() throws Exception {
        upstream = FakeUpstream.start((exchange, request, position) -> {
            var body = request.json();
            var fixture = FIXTURES.get(body.get("fixture").asText());
            byte[] bytes = fixture.bytes();
            if (body.path("strip_done").asBoolean()) bytes = stripDone(bytes);
            if (body.has("seed")) FakeUpstream.ssePieces(exchange, bytes, body.get("max_piece").asInt(), body.get("seed").asLong());
            else FakeUpstream.sse(exchange, bytes);
        });
        client = SluiceClient.builder().baseUrl(upstream.baseUrl()).apiKey("test").maxRetries(0).build();
    }

    @AfterAll
    static void stop() {
        client.close();
        upstream.close();
    }

    static Stream<Fixture> chatFixtures() {
        Assumptions.assumeTrue(Fixtures.available(), "../shared/fixtures/upstream-sse is absent");
        var list = Fixtures.chat();
        assertThat(list).hasSizeGreaterThanOrEqualTo(20);
        list.forEach(f -> FIXTURES.put(f.name(), f));
        return list.stream();
    }

    static Stream<Fixture> completeChatFixtures() {
        return chatFixtures().filter(f -> f.expected().get("errors").isEmpty());
    }

    static Stream<Fixture> errorChatFixtures() {
        return chatFixtures().filter(f -> !f.expected().get("errors").isEmpty());
    }

    /** What wire makes of the bytes directly. */
    record Reference(List<StreamEvent> events, ChatCompletion result) {
        static Reference of(byte[] body) {
            var events = new ArrayList<StreamEvent>();
            var acc = new ChatAccumulator();
            var parser = new ChatStreamParser(e -> {
                events.add(e);
                acc.accept(e);
            });
            parser.feed(body);
            parser.end();
            return new Reference(events, acc.result());
        }
    }

    /** What the client delivered. */
    record Received(List<ChatStreamEvent> events, ChatCompletion completion, Throwable failure) {
        List<StreamEvent> canonical() {
            return events.stream().filter(e -> e instanceof ChatStreamEvent.Chunk).map(e -> ((ChatStreamEvent.Chunk) e).event()).toList();
        }

        <T extends ChatStreamEvent> List<T> all(Class<T> type) {
            return events.stream().filter(type::isInstance).map(type::cast).toList();
        }
    }

    static Received pull(com.fasterxml.jackson.databind.node.ObjectNode body) throws Exception {
        var events = new ArrayList<ChatStreamEvent>();
        try (var stream = client.chat().stream(body)) {
            Throwable failure = catchThrowable(() -> stream.forEach(events::add));
            ChatCompletion completion = failure == null ? stream.finalChatCompletion() : null;
            if (failure != null) assertThat(catchThrowable(stream::finalChatCompletion)).as("finalChatCompletion throws the same").isSameAs(failure);
            return new Received(events, completion, failure);
        }
    }

    static com.fasterxml.jackson.databind.node.ObjectNode request(Fixture fixture) {
        var body = Json.object().put("model", "m").put("fixture", fixture.name());
        body.putArray("messages").addObject().put("role", "user").put("content", "hi");
        return body;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("completeChatFixtures")
    void streamsExactlyWhatWireAccumulates(Fixture fixture) throws Exception {
        var reference = Reference.of(fixture.bytes());
        var received = pull(request(fixture));

        assertThat(received.failure()).as("failure").isNull();
        assertThat(received.canonical()).as("canonical events").isEqualTo(reference.events());
        assertThat(received.completion()).as("final completion").isEqualTo(reference.result());
        assertThat(upstream.requests().getLast().json().get("stream").asBoolean()).as("stream flag sent").isTrue();

        var expected = fixture.expected();
        for (var want : expected.get("choices")) {
            int choice = want.get("index").asInt();
            var message = received.completion().choice(choice).message();
            assertThat(message.content()).as("content").isEqualTo(Json.text(want.get("content")));
            checkTextEvents(received, choice, message);
            checkToolEvents(received, choice, want.get("tool_calls"));
            checkFinishAndDoneOrder(received, choice, received.completion().choice(choice));
            checkLogprobs(received, choice, received.completion().choice(choice).logprobs());
        }
        var usages = received.all(ChatStreamEvent.Usage.class);
        if (received.completion().usage() != null) assertThat(usages.getLast().usage()).isEqualTo(received.completion().usage());
        else assertThat(usages).isEmpty();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("chatFixtures")
    void randomFlushedPiecesGiveTheSameEvents(Fixture fixture) throws Exception {
        var whole = pull(request(fixture));
        for (long seed = 1; seed <= 3; seed++) {
            var body = request(fixture).put("seed", seed).put("max_piece", (int) (1 + seed * 7 % 17));
            var split = pull(body);
            assertThat(split.events()).as("events, seed %d", seed).isEqualTo(whole.events());
            assertThat(split.completion()).as("completion, seed %d", seed).isEqualTo(whole.completion());
            assertThat(String.valueOf(split.failure())).as("failure, seed %d", seed).isEqualTo(String.valueOf(whole.failure()));
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("errorChatFixtures")
    void errorInTheStreamRaisesTheProvidersError(Fixture fixture) throws Exception {
        var want = fixture.expected().get("errors").get(0).get("error");
        var reference = Reference.of(fixture.bytes());
        var received = pull(request(fixture));

        assertThat(received.failure()).isInstanceOf(StreamErrorException.class);
        var error = (StreamErrorException) received.failure();
        assertThat(error.error().message()).isEqualTo(want.get("message").asText());
        assertThat(error.code()).isEqualTo(Json.text(want.get("code")));
        assertThat(error.type()).isEqualTo(Json.text(want.get("type")));
        assertThat(error.error().raw()).isEqualTo(want);
        // Everything before the error, and the error's chunk, was delivered first.
        var canonical = received.canonical();
        assertThat(reference.events()).startsWith(canonical.toArray(StreamEvent[]::new));
        assertThat(canonical.getLast()).isInstanceOf(StreamEvent.Error.class);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("errorChatFixtures")
    void listenerGetsTheProvidersErrorOnce(Fixture fixture) throws Exception {
        var errors = new CopyOnWriteArrayList<Throwable>();
        var completions = new CopyOnWriteArrayList<ChatCompletion>();
        var stream = client.chat().stream(request(fixture), dev.sluice.client.RequestOptions.DEFAULT, new ChatStreamListener() {
            @Override
            public void onCompletion(ChatCompletion completion) {
                completions.add(completion);
            }

            @Override
            public void onError(Throwable error) {
                errors.add(error);
            }
        });
        var thrown = catchThrowable(stream::finalChatCompletion);
        assertThat(thrown).isInstanceOf(StreamErrorException.class)
                .hasMessageStartingWith(fixture.expected().get("errors").get(0).get("error").get("message").asText());
        assertThat(errors).containsExactly(thrown);
        assertThat(completions).isEmpty();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("chatFixtures")
    void pushDeliversTheSameEventsAsPull(Fixture fixture) throws Exception {
        var pulled = pull(request(fixture));
        var pushed = new CopyOnWriteArrayList<ChatStreamEvent>();
        var stream = client.chat().stream(request(fixture), dev.sluice.client.RequestOptions.DEFAULT, new ChatStreamListener() {
            @Override
            public void onEvent(ChatStreamEvent event) {
                pushed.add(event);
            }
        });
        var failure = catchThrowable(stream::finalChatCompletion);
        assertThat(pushed).isEqualTo(pulled.events());
        assertThat(String.valueOf(failure)).isEqualTo(String.valueOf(pulled.failure()));
        if (failure == null) assertThat(stream.finalChatCompletion()).isEqualTo(pulled.completion());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("completeChatFixtures")
    void bodyEndingWithoutDoneIsIncompleteAfterEveryEvent(Fixture fixture) throws Exception {
        var stripped = stripDone(fixture.bytes());
        var reference = Reference.of(stripped);
        var received = pull(request(fixture).put("strip_done", true));

        assertThat(received.failure()).isInstanceOf(IncompleteStreamException.class).hasMessageContaining("prematurely");
        assertThat(received.canonical()).isEqualTo(reference.events());
        var partial = ((IncompleteStreamException) received.failure()).partial().orElseThrow();
        assertThat(partial).isEqualTo(reference.result());
        // Same accumulation as with [DONE]: nothing after it in these transcripts.
        assertThat(partial).isEqualTo(Reference.of(fixture.bytes()).result());
        for (var c : partial.choices()) checkTextEvents(received, c.index(), c.message());
    }

    // ------------------------------------------------------------------ consistency checks

    private static void checkTextEvents(Received r, int choice, ChatCompletion.Message message) {
        var content = r.all(ChatStreamEvent.ContentDelta.class).stream().filter(e -> e.choice() == choice).toList();
        checkDeltas(content.stream().map(ChatStreamEvent.ContentDelta::delta).toList(),
                content.stream().map(ChatStreamEvent.ContentDelta::snapshot).toList(),
                r.all(ChatStreamEvent.ContentDone.class).stream().filter(e -> e.choice() == choice).map(ChatStreamEvent.ContentDone::content).toList(),
                message.content(), "content");
        var refusal = r.all(ChatStreamEvent.RefusalDelta.class).stream().filter(e -> e.choice() == choice).toList();
        checkDeltas(refusal.stream().map(ChatStreamEvent.RefusalDelta::delta).toList(),
                refusal.stream().map(ChatStreamEvent.RefusalDelta::snapshot).toList(),
                r.all(ChatStreamEvent.RefusalDone.class).stream().filter(e -> e.choice() == choice).map(ChatStreamEvent.RefusalDone::refusal).toList(),
                message.refusal(), "refusal");
        var reasoning = r.all(ChatStreamEvent.ReasoningDelta.class).stream().filter(e -> e.choice() == choice).toList();
        checkDeltas(reasoning.stream().map(ChatStreamEvent.ReasoningDelta::delta).toList(),
                reasoning.stream().map(ChatStreamEvent.ReasoningDelta::snapshot).toList(),
                r.all(ChatStreamEvent.ReasoningDone.class).stream().filter(e -> e.choice() == choice).map(ChatStreamEvent.ReasoningDone::reasoning).toList(),
                message.reasoning(), "reasoning");
    }

    /** Deltas concatenate to the done value and to the final one; each snapshot is the concatenation so far. */
    private static void checkDeltas(List<String> deltas, List<String> snapshots, List<String> done, String fin, String what) {
        var sofar = new StringBuilder();
        for (int i = 0; i < deltas.size(); i++) {
            sofar.append(deltas.get(i));
            assertThat(snapshots.get(i)).as("%s snapshot %d", what, i).isEqualTo(sofar.toString());
        }
        if (fin == null) {
            assertThat(done).as("%s done", what).isEmpty();
            assertThat(sofar.toString()).as("%s deltas", what).isEmpty();
        } else {
            assertThat(done).as("%s done", what).containsExactly(fin);
            assertThat(sofar.toString()).as("%s deltas", what).isEqualTo(fin);
        }
    }

    private static void checkToolEvents(Received r, int choice, JsonNode wantCalls) {
        var done = r.all(ChatStreamEvent.ToolCallDone.class).stream().filter(e -> e.choice() == choice).toList();
        assertThat(done).as("tool call done events").hasSize(wantCalls.size());
        for (int i = 0; i < wantCalls.size(); i++) {
            var want = wantCalls.get(i);
            int index = want.get("index").asInt();
            var event = done.stream().filter(d -> d.index() == index).findFirst().orElseThrow();
            assertThat(event.id()).isEqualTo(Json.text(want.get("id")));
            assertThat(event.name()).isEqualTo(Json.text(want.get("name")));
            assertThat(event.arguments()).isEqualTo(Json.text(want.get("arguments")));
            var deltas = r.all(ChatStreamEvent.ToolCallArgumentsDelta.class).stream()
                    .filter(d -> d.choice() == choice && d.index() == index).toList();
            var sofar = new StringBuilder();
            for (var d : deltas) {
                sofar.append(d.delta());
                assertThat(d.argumentsSnapshot()).isEqualTo(sofar.toString());
                assertThat(d.name()).isEqualTo(event.name());
            }
            assertThat(sofar.toString()).as("argument deltas").isEqualTo(event.arguments());
            // Done fires after the last fragment of the call.
            assertThat(r.events().indexOf(event)).isGreaterThan(deltas.isEmpty() ? -1 : r.events().indexOf(deltas.getLast()));
        }
    }

    private static void checkFinishAndDoneOrder(Received r, int choice, ChatCompletion.Choice fin) {
        var finishes = r.all(ChatStreamEvent.Finish.class).stream().filter(e -> e.choice() == choice).toList();
        if (fin.finishReason() == null) {
            assertThat(finishes).isEmpty();
            return;
        }
        assertThat(finishes.getLast().reason()).isEqualTo(fin.finishReason());
        int finish = r.events().indexOf(finishes.getFirst());
        r.events().stream()
                .filter(e -> e instanceof ChatStreamEvent.ContentDone d && d.choice() == choice
                        || e instanceof ChatStreamEvent.RefusalDone d2 && d2.choice() == choice
                        || e instanceof ChatStreamEvent.ReasoningDone d3 && d3.choice() == choice)
                .forEach(e -> assertThat(r.events().indexOf(e)).as("done before finish: %s", e).isLessThan(finish));
    }

    private static void checkLogprobs(Received r, int choice, JsonNode logprobs) {
        var contentDone = r.all(ChatStreamEvent.LogprobsContentDone.class).stream().filter(e -> e.choice() == choice).toList();
        var refusalDone = r.all(ChatStreamEvent.LogprobsRefusalDone.class).stream().filter(e -> e.choice() == choice).toList();
        if (logprobs == null) {
            assertThat(contentDone).isEmpty();
            assertThat(refusalDone).isEmpty();
            return;
        }
        checkTokens(contentDone.stream().map(ChatStreamEvent.LogprobsContentDone::content).toList(), logprobs.get("content"));
        checkTokens(refusalDone.stream().map(ChatStreamEvent.LogprobsRefusalDone::refusal).toList(), logprobs.get("refusal"));
        var deltas = r.all(ChatStreamEvent.LogprobsContentDelta.class).stream().filter(e -> e.choice() == choice).toList();
        if (!deltas.isEmpty()) assertThat(deltas.getLast().snapshot()).isEqualTo(contentDone.getFirst().content());
    }

    private static void checkTokens(List<List<JsonNode>> done, JsonNode want) {
        if (want == null || want.isNull()) {
            assertThat(done).isEmpty();
            return;
        }
        var tokens = new ArrayList<JsonNode>();
        want.forEach(tokens::add);
        assertThat(done).containsExactly(tokens);
    }

    static byte[] stripDone(byte[] body) {
        var text = new String(body, StandardCharsets.UTF_8);
        return text.replaceAll("data: \\[DONE\\]\\r?\\n?\\r?\\n?", "").getBytes(StandardCharsets.UTF_8);
    }
}
