package dev.sluice.gateway.runs;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.gateway.FakeUpstream;
import dev.sluice.wire.json.Json;
import dev.sluice.wire.openapi.OpenApiValidator;
import dev.sluice.wire.sse.SseEvent;
import java.nio.file.Path;
import java.sql.DriverManager;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad input and failing upstreams on the Assistants API, found by black-box QA: parameters of the wrong type
 * are refused instead of ignored, a refused create-and-run stores nothing, and a run that fails or is
 * cancelled mid-message reports its steps as failed / cancelled.
 */
class RunsBadInputTest {

    @TempDir
    static Path dir;

    static AssistantsClient api;
    static OpenApiValidator spec;
    /** Refuses every request with a 400, as OpenAI words it. */
    static FakeUpstream refusing;

    @BeforeAll
    static void start() throws Exception {
        refusing = new FakeUpstream(body -> FakeUpstream.Reply.json(400,
                "{\"error\":{\"message\":\"bad thing\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}", Map.of()));
        api = new AssistantsClient(dir, """
                listen: 127.0.0.1:0
                limits: {keepalive: 200ms}
                storage: {type: sqlite, path: %s}
                providers:
                  refusing: {type: openai, base_url: "%s"}
                %s
                  - name: refused
                    retries: 0
                    deployments: [{provider: refusing, model: m}]
                  - name: dies
                    on_midstream_failure: error
                    deployments: [{provider: sim, model: echo, ttft_ms: 0, tokens_per_second: 0, fail_after_tokens: 3}]
                """.formatted(dir.resolve("sluice.db"), refusing.baseUrl(), AssistantsClient.MODELS.stripTrailing()));
        spec = OpenApiValidator.shared();
    }

    @AfterAll
    static void stop() throws Exception {
        api.close();
        refusing.close();
    }

    private static long threadsStored() throws Exception {
        try (var c = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("sluice.db"));
                var rs = c.createStatement().executeQuery("SELECT COUNT(*) FROM threads")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static void assertError(AssistantsClient.Response r, int status, String param) {
        assertThat(r.status()).as("%s", r.json()).isEqualTo(status);
        spec.assertValid("ErrorResponse", r.json());
        assertThat(r.json().at("/error/param").asText()).isEqualTo(param);
    }

    @Test
    void createAndRunRefusedForItsRunStoresNoThread() throws Exception {
        var a = api.assistant("fast", "");
        long before = threadsStored();
        var thread = ",\"thread\":{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
        assertError(api.call("POST", "/threads/runs", "{\"assistant_id\":\"" + a + "\",\"temperature\":9" + thread + "}"), 400, "temperature");
        assertError(api.call("POST", "/threads/runs", "{\"assistant_id\":\"" + a + "\",\"model\":\"nope\"" + thread + "}"), 404, "model");
        assertError(api.call("POST", "/threads/runs", "{\"assistant_id\":\"" + a + "\",\"tool_choice\":\"maybe\"" + thread + "}"), 400, "tool_choice");
        assertThat(threadsStored()).isEqualTo(before);
        // A valid one still stores its thread.
        var run = api.post("/threads/runs", "{\"assistant_id\":\"" + a + "\"" + thread + "}");
        assertThat(threadsStored()).isEqualTo(before + 1);
        assertThat(api.await(run.get("thread_id").asText(), run.get("id").asText()).get("status").asText()).isEqualTo("completed");
    }

    @Test
    void parametersOfTheWrongTypeAreRefusedNotIgnored() throws Exception {
        var a = api.assistant("fast", "");
        assertError(api.call("POST", "/threads/runs", "{\"assistant_id\":\"" + a + "\",\"thread\":\"thread_abc\"}"), 400, "thread");
        var t = api.thread("hi");
        assertError(api.call("POST", "/threads/" + t + "/runs", "{\"assistant_id\":\"" + a + "\",\"model\":123}"), 400, "model");
        // Nothing was started on the thread by the refused request.
        assertThat(api.get("/threads/" + t + "/runs").get("data")).isEmpty();
    }

    @Test
    void messageAndThreadFieldsOfTheWrongShapeAreRefused() throws Exception {
        var t = api.thread("hi");
        var messages = "/threads/" + t + "/messages";
        assertError(api.call("POST", messages, "{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}"), 400, "content[0].image_url.url");
        assertError(api.call("POST", messages, "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"image_file\",\"image_file\":{}}]}"),
                400, "content[1].image_file.file_id");
        assertError(api.call("POST", messages, "{\"role\":\"user\",\"content\":\"x\",\"attachments\":\"nope\"}"), 400, "attachments");
        assertError(api.call("POST", "/threads", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\",\"attachments\":{}}]}"), 400, "messages[0].attachments");
        assertError(api.call("POST", "/threads/" + t, "{\"tool_resources\":\"nope\"}"), 400, "tool_resources");
        assertError(api.call("POST", "/threads", "{\"tool_resources\":[]}"), 400, "tool_resources");
        assertError(api.call("POST", "/assistants", "{\"model\":\"fast\",\"tool_resources\":\"nope\"}"), 400, "tool_resources");
        var a = api.assistant("fast", "");
        assertError(api.call("POST", "/threads/runs", "{\"assistant_id\":\"" + a + "\",\"thread\":{\"tool_resources\":1}}"), 400, "thread.tool_resources");
        // Well-formed ones are stored.
        var image = api.post(messages, "{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://example.com/a.png\"}}],\"attachments\":[]}");
        assertThat(image.at("/content/0/image_url/url").asText()).isEqualTo("https://example.com/a.png");
        assertThat(api.get(messages).get("data")).hasSize(2);
    }

    @Test
    void assistantTextFieldsHaveOpenAisMaximumLengths() throws Exception {
        assertError(api.call("POST", "/assistants", "{\"model\":\"fast\",\"name\":\"" + "n".repeat(257) + "\"}"), 400, "name");
        assertError(api.call("POST", "/assistants", "{\"model\":\"fast\",\"description\":\"" + "d".repeat(513) + "\"}"), 400, "description");
        var r = api.call("POST", "/assistants", "{\"model\":\"fast\",\"instructions\":\"" + "i".repeat(256_001) + "\"}");
        assertError(r, 400, "instructions");
        assertThat(r.json().at("/error/code").asText()).isEqualTo("string_above_max_length");
        var a = api.assistant("fast", "");
        assertError(api.call("POST", "/assistants/" + a, "{\"name\":\"" + "n".repeat(257) + "\"}"), 400, "name");
        var ok = api.post("/assistants", "{\"model\":\"fast\",\"name\":\"" + "n".repeat(256) + "\",\"description\":\"" + "d".repeat(512) + "\"}");
        assertThat(ok.get("name").asText()).hasSize(256);
    }

    @Test
    void toolOutputsMustBeStrings() throws Exception {
        var a = api.assistant("tools", ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}},{\"type\":\"function\",\"function\":{\"name\":\"get_time\"}}]");
        var t = api.thread("Weather?");
        var run = api.await(t, api.post("/threads/" + t + "/runs", "{\"assistant_id\":\"" + a + "\"}").get("id").asText());
        assertThat(run.get("status").asText()).isEqualTo("requires_action");
        var path = "/threads/" + t + "/runs/" + run.get("id").asText() + "/submit_tool_outputs";
        var calls = run.at("/required_action/submit_tool_outputs/tool_calls");
        var id0 = calls.get(0).get("id").asText();
        var id1 = calls.get(1).get("id").asText();
        assertError(api.call("POST", path, "{\"tool_outputs\":[{\"tool_call_id\":\"" + id0 + "\",\"output\":{\"temp\":20}},{\"tool_call_id\":\"" + id1 + "\",\"output\":\"12:00\"}]}"),
                400, "tool_outputs[0].output");
        assertError(api.call("POST", path, "{\"tool_outputs\":{}}"), 400, "tool_outputs");
        assertThat(api.call("POST", path, "{\"tool_outputs\":{}}").json().at("/error/message").asText()).contains("expected an array");
        // Still waiting, and a correct submission goes through.
        assertThat(api.get("/threads/" + t + "/runs/" + run.get("id").asText()).get("status").asText()).isEqualTo("requires_action");
        api.post(path, "{\"tool_outputs\":[{\"tool_call_id\":\"" + id0 + "\",\"output\":\"20C\"},{\"tool_call_id\":\"" + id1 + "\",\"output\":\"12:00\"}]}");
    }

    @Test
    void aRunFailingMidMessageFailsItsStep() throws Exception {
        var a = api.assistant("dies", "");
        var t = api.thread("one two three four five six seven");
        var events = api.stream("POST", "/threads/" + t + "/runs", "{\"assistant_id\":\"" + a + "\",\"stream\":true}", Map.of());
        var names = events.stream().map(SseEvent::type).toList();
        assertThat(names).endsWith("thread.message.incomplete", "thread.run.step.failed", "thread.run.failed", "done")
                .doesNotContain("thread.run.step.completed");
        var run = Json.parse(events.get(names.size() - 2).data());
        var step = onlyStep(t, run);
        assertThat(step.get("status").asText()).isEqualTo("failed");
        assertThat(step.get("failed_at").isNumber()).isTrue();
        assertThat(step.get("last_error")).isEqualTo(run.get("last_error"));
        var message = api.get("/threads/" + t + "/messages/" + step.at("/step_details/message_creation/message_id").asText());
        assertThat(message.get("status").asText()).isEqualTo("incomplete");
        assertThat(Messages.text(message)).isNotEmpty();
    }

    @Test
    void aRunCancelledMidMessageCancelsItsStep() throws Exception {
        var a = api.assistant("slow", "");
        var t = api.thread("Hi");
        var run = api.post("/threads/" + t + "/runs", "{\"assistant_id\":\"" + a + "\"}");
        var runPath = "/threads/" + t + "/runs/" + run.get("id").asText();
        awaitFirstStep(runPath); // the message is under way
        api.post(runPath + "/cancel", null);
        var done = api.await(t, run.get("id").asText());
        assertThat(done.get("status").asText()).isEqualTo("cancelled");
        var step = onlyStep(t, done);
        assertThat(step.get("status").asText()).isEqualTo("cancelled");
        assertThat(step.get("cancelled_at").isNumber()).isTrue();
        var message = api.get("/threads/" + t + "/messages/" + step.at("/step_details/message_creation/message_id").asText());
        assertThat(message.get("status").asText()).isEqualTo("incomplete");
        assertThat(message.at("/incomplete_details/reason").asText()).isEqualTo("run_cancelled");
        var events = api.stream("GET", runPath + "/events", null, Map.of()).stream().map(SseEvent::type).toList();
        assertThat(events).endsWith("thread.message.incomplete", "thread.run.step.cancelled", "thread.run.cancelled", "done");
    }

    @Test
    void aRunCancelledMidMessageStillCountsItsTokens() throws Exception {
        var a = api.assistant("slow", "");
        var t = api.thread("Hi");
        var run = api.post("/threads/" + t + "/runs", "{\"assistant_id\":\"" + a + "\"}");
        var runPath = "/threads/" + t + "/runs/" + run.get("id").asText();
        awaitFirstStep(runPath);
        api.post(runPath + "/cancel", null);
        var done = api.await(t, run.get("id").asText());
        assertThat(done.get("status").asText()).isEqualTo("cancelled");
        // The upstream was sent the prompt and streamed part of an answer before the cancel: that was not free.
        assertThat(done.at("/usage/prompt_tokens").asLong()).isPositive();
        assertThat(done.at("/usage/completion_tokens").asLong()).isPositive();
        assertThat(done.at("/usage/total_tokens").asLong()).isEqualTo(done.at("/usage/prompt_tokens").asLong() + done.at("/usage/completion_tokens").asLong());
    }

    private static void awaitFirstStep(String runPath) throws Exception {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (api.get(runPath + "/steps").get("data").isEmpty()) {
            assertThat(System.nanoTime()).isLessThan(deadline);
            Thread.sleep(10);
        }
    }

    @Test
    @Timeout(value = 15, threadMode = Timeout.ThreadMode.SEPARATE_THREAD) // without the fix the stream never ends
    void resumingAfterTheLastEventEndsInsteadOfWaitingForever() throws Exception {
        var a = api.assistant("fast", "");
        var t = api.thread("Hi");
        var run = api.await(t, api.post("/threads/" + t + "/runs", "{\"assistant_id\":\"" + a + "\"}").get("id").asText());
        var path = "/threads/" + t + "/runs/" + run.get("id").asText() + "/events";
        var all = api.stream("GET", path, null, Map.of());
        var terminal = all.get(all.size() - 2);
        assertThat(terminal.type()).isEqualTo("thread.run.completed");
        // A client that saw the terminal event but lost the connection before done: done, at once.
        var rest = api.stream("GET", path, null, Map.of("Last-Event-ID", terminal.id()));
        assertThat(rest).extracting(SseEvent::type).containsExactly("done");
        // An id the run never gave out: a 400, not a stream that waits for it forever.
        long beyond = Long.parseLong(terminal.id()) + 1;
        var r = api.call("GET", path + "?after=" + beyond, null);
        assertThat(r.status()).isEqualTo(400);
        spec.assertValid("ErrorResponse", r.json());
        assertThat(r.json().at("/error/message").asText()).contains("no event " + beyond);
    }

    @Test
    void anUpstreamRefusalIsQuotedOnceInLastError() throws Exception {
        var a = api.assistant("refused", "");
        var t = api.thread("Hi");
        var run = api.await(t, api.post("/threads/" + t + "/runs", "{\"assistant_id\":\"" + a + "\"}").get("id").asText());
        assertThat(run.get("status").asText()).isEqualTo("failed");
        var message = run.at("/last_error/message").asText();
        assertThat(message).contains("HTTP 400").contains("bad thing").doesNotContain("HTTP 400 HTTP 400");
    }

    private static JsonNode onlyStep(String threadId, JsonNode run) throws Exception {
        var steps = api.get("/threads/" + threadId + "/runs/" + run.get("id").asText() + "/steps").get("data");
        assertThat(steps).hasSize(1);
        spec.assertValid("RunStepObject", steps.get(0));
        return steps.get(0);
    }
}
