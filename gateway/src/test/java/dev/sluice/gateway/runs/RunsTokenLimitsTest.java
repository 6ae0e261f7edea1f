package dev.sluice.gateway.runs;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.gateway.FakeUpstream;
import dev.sluice.gateway.usage.TokenEstimator;
import dev.sluice.wire.json.Json;
import dev.sluice.wire.openapi.OpenApiValidator;
import dev.sluice.wire.sse.SseEvent;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code max_prompt_tokens}, {@code truncation_strategy} and {@code max_completion_tokens} as OpenAI documents
 * them, counted with the o200k tokenizer, against a loopback upstream that records the prompt it is sent.
 */
class RunsTokenLimitsTest {

    @TempDir
    static Path dir;

    static AssistantsClient api;
    static OpenApiValidator spec;
    static FakeUpstream upstream;

    static final String LOOKUP_TOOL = ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"lookup\",\"parameters\":{\"type\":\"object\",\"properties\":{}}}}]";

    static String chunk(String choice) {
        return "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[" + choice + "]}\n\n";
    }

    /**
     * Calls {@code lookup} when offered tools and no tool result yet (claiming 200 prompt tokens); answers
     * "LENGTH" messages with a cut-off answer that used the whole completion budget; otherwise says "ok".
     */
    static FakeUpstream.Reply answer(JsonNode body) {
        var messages = body.get("messages");
        var last = messages.get(messages.size() - 1);
        var sse = new StringBuilder();
        String usage;
        if (body.has("tools") && !last.path("role").asText().equals("tool")) {
            sse.append(chunk("{\"index\":0,\"delta\":{\"role\":\"assistant\",\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"lookup\",\"arguments\":\"{}\"}}]},\"finish_reason\":null}"));
            sse.append(chunk("{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}"));
            usage = "{\"prompt_tokens\":200,\"completion_tokens\":5,\"total_tokens\":205}";
        } else if (last.path("content").asText().startsWith("LENGTH")) {
            int max = body.path("max_completion_tokens").asInt();
            sse.append(chunk("{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"cut off\"},\"finish_reason\":null}"));
            sse.append(chunk("{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}"));
            usage = "{\"prompt_tokens\":20,\"completion_tokens\":" + max + ",\"total_tokens\":" + (20 + max) + "}";
        } else {
            sse.append(chunk("{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"ok\"},\"finish_reason\":null}"));
            sse.append(chunk("{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}"));
            usage = "{\"prompt_tokens\":" + TokenEstimator.prompt(body) + ",\"completion_tokens\":1,\"total_tokens\":" + (TokenEstimator.prompt(body) + 1) + "}";
        }
        sse.append("data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[],\"usage\":").append(usage).append("}\n\n");
        sse.append("data: [DONE]\n\n");
        return FakeUpstream.Reply.sse(sse.toString().getBytes(StandardCharsets.UTF_8), 4096, 0);
    }

    @BeforeAll
    static void start() throws Exception {
        upstream = new FakeUpstream(RunsTokenLimitsTest::answer);
        api = new AssistantsClient(dir, """
                listen: 127.0.0.1:0
                storage: {type: sqlite, path: %s}
                providers:
                  up: {type: openai, base_url: "%s", max_tokens_field: max_completion_tokens}
                models:
                  - name: recorded
                    deployments: [{provider: up, model: m}]
                """.formatted(dir.resolve("sluice.db"), upstream.baseUrl()));
        spec = OpenApiValidator.shared();
    }

    @AfterAll
    static void stop() throws Exception {
        api.close();
        upstream.close();
    }

    /** About 100 o200k tokens of ordinary prose, tagged. */
    static String middle(int i) {
        return "middle-" + i + " " + "the quick brown fox jumps over the lazy dog ".repeat(11);
    }

    static String thread(List<String> messages) throws Exception {
        var body = Json.object();
        var list = body.putArray("messages");
        for (var m : messages) list.addObject().put("role", "user").put("content", m);
        return api.post("/threads", Json.write(body)).get("id").asText();
    }

    /** The texts of the messages the upstream was sent for the latest request. */
    static List<String> sentTexts() {
        var out = new ArrayList<String>();
        for (var m : upstream.seen.getLast().body.get("messages")) out.add(m.path("role").asText() + ":" + m.path("content").asText());
        return out;
    }

    private static List<String> names(List<SseEvent> events) {
        return events.stream().map(SseEvent::type).toList();
    }

    @Test
    void autoTruncationDropsTheMiddleOfTheThreadToFitMaxPromptTokens() throws Exception {
        var a = api.assistant("recorded", "");
        var messages = new ArrayList<String>();
        messages.add("FIRST: you are helping me plan a trip");
        for (int i = 1; i <= 5; i++) messages.add(middle(i));
        messages.add("LAST: so which train?");
        var t = thread(messages);
        var run = api.post("/threads/" + t + "/runs", "{\"assistant_id\":\"" + a + "\",\"max_prompt_tokens\":256}");
        var done = api.await(t, run.get("id").asText());
        assertThat(done.get("status").asText()).isEqualTo("completed");
        var sent = sentTexts();
        // The thread's first message and the latest ones are kept; the oldest of the middle go first.
        assertThat(sent.getFirst()).isEqualTo("system:Be brief.");
        assertThat(sent.get(1)).isEqualTo("user:" + messages.getFirst());
        assertThat(sent.getLast()).isEqualTo("user:" + messages.getLast());
        assertThat(sent).doesNotContain("user:" + middle(1), "user:" + middle(2)).contains("user:" + middle(5));
        var kept = sent.subList(2, sent.size() - 1);
        assertThat(kept).isEqualTo(messages.subList(6 - kept.size(), 6).stream().map(m -> "user:" + m).toList());
        // Counted as OpenAI counts: the prompt sent fits the budget, and one more message would not have.
        int prompt = TokenEstimator.prompt(upstream.seen.getLast().body);
        assertThat(prompt).isLessThanOrEqualTo(256).isGreaterThan(256 - 110);
        assertThat(done.at("/usage/prompt_tokens").asInt()).isEqualTo(prompt);
    }

    @Test
    void lastMessagesKeepsTheMostRecentMessages() throws Exception {
        var a = api.assistant("recorded", "");
        var t = thread(List.of("one", "two", "three", "four"));
        var run = api.post("/threads/" + t + "/runs", "{\"assistant_id\":\"" + a + "\",\"truncation_strategy\":{\"type\":\"last_messages\",\"last_messages\":2}}");
        var done = api.await(t, run.get("id").asText());
        assertThat(done.get("status").asText()).isEqualTo("completed");
        assertThat(done.at("/truncation_strategy/last_messages").asInt()).isEqualTo(2);
        assertThat(sentTexts()).containsExactly("system:Be brief.", "user:three", "user:four");
    }

    @Test
    void aPromptThatCannotFitEndsIncompleteWithMaxPromptTokensWithoutCallingTheModel() throws Exception {
        var a = api.assistant("recorded", "");
        // One "word" of digits: a word count would call it 1 token; o200k needs several hundred.
        var digits = "31415926535897932384626433832795028841971693993751".repeat(20);
        assertThat(TokenEstimator.count(digits)).isGreaterThan(256);
        var t = thread(List.of("earlier", digits));
        int calls = upstream.seen.size();
        var events = api.stream("POST", "/threads/" + t + "/runs", "{\"assistant_id\":\"" + a + "\",\"stream\":true,\"max_prompt_tokens\":256}", Map.of());
        assertThat(names(events)).containsExactly("thread.run.created", "thread.run.queued", "thread.run.in_progress", "thread.run.incomplete", "done");
        var ended = Json.parse(events.get(3).data());
        spec.assertValid("RunObject", ended);
        assertThat(ended.get("status").asText()).isEqualTo("incomplete");
        assertThat(ended.at("/incomplete_details/reason").asText()).isEqualTo("max_prompt_tokens");
        assertThat(upstream.seen.size()).isEqualTo(calls);
    }

    @Test
    void maxPromptTokensCoversEveryPassOfTheRun() throws Exception {
        var a = api.assistant("recorded", LOOKUP_TOOL);
        var t = thread(List.of("look it up"));
        var run = api.post("/threads/" + t + "/runs", "{\"assistant_id\":\"" + a + "\",\"max_prompt_tokens\":256}");
        var runId = run.get("id").asText();
        var waiting = api.await(t, runId);
        assertThat(waiting.get("status").asText()).isEqualTo("requires_action");
        int calls = upstream.seen.size();
        // The first pass used 200 of the 256 prompt tokens: the second pass's prompt (the call and its output) does not fit in 56.
        api.post("/threads/" + t + "/runs/" + runId + "/submit_tool_outputs", "{\"tool_outputs\":[{\"tool_call_id\":\"call_1\",\"output\":\"forty-two, according to the almanac of everything, page 42, line 7, which settles the question for good\"}]}");
        var ended = api.await(t, runId);
        spec.assertValid("RunObject", ended);
        assertThat(ended.get("status").asText()).isEqualTo("incomplete");
        assertThat(ended.at("/incomplete_details/reason").asText()).isEqualTo("max_prompt_tokens");
        assertThat(ended.at("/usage/prompt_tokens").asInt()).isEqualTo(200);
        assertThat(upstream.seen.size()).isEqualTo(calls);
    }

    @Test
    void reachingMaxCompletionTokensEndsIncomplete() throws Exception {
        var a = api.assistant("recorded", "");
        var t = thread(List.of("LENGTH: tell me everything"));
        var events = api.stream("POST", "/threads/" + t + "/runs", "{\"assistant_id\":\"" + a + "\",\"stream\":true,\"max_completion_tokens\":300}", Map.of());
        assertThat(upstream.seen.getLast().body.get("max_completion_tokens").asInt()).isEqualTo(300);
        assertThat(names(events)).endsWith("thread.message.incomplete", "thread.run.step.completed", "thread.run.incomplete", "done");
        var ended = Json.parse(events.get(events.size() - 2).data());
        spec.assertValid("RunObject", ended);
        assertThat(ended.at("/incomplete_details/reason").asText()).isEqualTo("max_completion_tokens");
        assertThat(ended.at("/usage/completion_tokens").asInt()).isEqualTo(300);
        var message = api.get("/threads/" + t + "/messages").at("/data/0");
        assertThat(message.get("status").asText()).isEqualTo("incomplete");
        assertThat(message.at("/incomplete_details/reason").asText()).isEqualTo("max_tokens");
        assertThat(message.at("/content/0/text/value").asText()).isEqualTo("cut off");
    }
}
