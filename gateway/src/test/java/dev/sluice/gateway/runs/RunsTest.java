package dev.sluice.gateway.runs;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.wire.json.Json;
import dev.sluice.wire.openapi.OpenApiValidator;
import dev.sluice.wire.sse.SseEvent;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Runs end to end on the sim provider: lifecycle, streaming, tool calls, cancel, limits, and the event log over HTTP. */
class RunsTest {

    @TempDir
    static Path dir;

    static AssistantsClient api;
    static OpenApiValidator spec;

    @BeforeAll
    static void start() throws Exception {
        api = new AssistantsClient(dir);
        spec = OpenApiValidator.shared();
    }

    @AfterAll
    static void stop() {
        api.close();
    }

    private static List<String> names(List<SseEvent> events) {
        return events.stream().map(SseEvent::type).toList();
    }

    /** Every event validates as an AssistantStreamEvent; ids count up from first; [DONE] last. */
    private static void assertWellFormed(List<SseEvent> events, long firstId) {
        assertThat(events).isNotEmpty();
        var last = events.getLast();
        assertThat(last.type()).isEqualTo("done");
        assertThat(last.data()).isEqualTo("[DONE]");
        long id = firstId;
        for (var e : events.subList(0, events.size() - 1)) {
            assertThat(e.id()).isEqualTo(Long.toString(id++));
            var pair = Json.object();
            pair.put("event", e.type());
            pair.set("data", Json.parse(e.data()));
            spec.assertValid("AssistantStreamEvent", pair);
        }
    }

    @Test
    void runCompletesWhenPolled() throws Exception {
        var a = api.assistant("echo", "");
        var t = api.thread("Say this back");
        var run = api.post("/threads/" + t + "/runs", "{\"assistant_id\":\"" + a + "\",\"metadata\":{\"m\":\"1\"}}");
        spec.assertValid("RunObject", run);
        assertThat(run.get("status").asText()).isEqualTo("queued");
        assertThat(run.get("instructions").asText()).isEqualTo("Be brief.");
        var done = api.await(t, run.get("id").asText());
        spec.assertValid("RunObject", done);
        assertThat(done.get("status").asText()).isEqualTo("completed");
        assertThat(done.get("started_at").isNumber()).isTrue();
        assertThat(done.get("completed_at").isNumber()).isTrue();
        assertThat(done.get("expires_at").isNull()).isTrue();
        assertThat(done.at("/usage/completion_tokens").asInt()).isPositive();
        var messages = api.get("/threads/" + t + "/messages");
        spec.assertValid("ListMessagesResponse", messages);
        assertThat(messages.at("/data/0/role").asText()).isEqualTo("assistant");
        assertThat(messages.at("/data/0/run_id").asText()).isEqualTo(run.get("id").asText());
        assertThat(messages.at("/data/0/content/0/text/value").asText()).isEqualTo("Say this back");
        var steps = api.get("/threads/" + t + "/runs/" + run.get("id").asText() + "/steps");
        spec.assertValid("ListRunStepsResponse", steps);
        assertThat(steps.at("/data/0/type").asText()).isEqualTo("message_creation");
        assertThat(steps.at("/data/0/status").asText()).isEqualTo("completed");
        var step = api.get("/threads/" + t + "/runs/" + run.get("id").asText() + "/steps/" + steps.at("/data/0/id").asText());
        spec.assertValid("RunStepObject", step);
        spec.assertValid("ListRunsResponse", api.get("/threads/" + t + "/runs"));
    }

    @Test
    void streamedRunHasTheOfficialSequence() throws Exception {
        var a = api.assistant("fast", "");
        var t = api.thread("Hi");
        var events = api.stream("POST", "/threads/" + t + "/runs", "{\"assistant_id\":\"" + a + "\",\"stream\":true}", Map.of());
        assertWellFormed(events, 1);
        var names = names(events);
        assertThat(names.subList(0, 7)).containsExactly("thread.run.created", "thread.run.queued", "thread.run.in_progress",
                "thread.run.step.created", "thread.run.step.in_progress", "thread.message.created", "thread.message.in_progress");
        assertThat(names.subList(names.size() - 4, names.size())).containsExactly("thread.message.completed", "thread.run.step.completed", "thread.run.completed", "done");
        var text = new StringBuilder();
        for (var e : events) {
            if (!e.type().equals("thread.message.delta")) continue;
            var d = Json.parse(e.data());
            spec.assertValid("MessageDeltaObject", d);
            assertThat(d.get("object").asText()).isEqualTo("thread.message.delta");
            assertThat(d.at("/delta/content/0/index").asInt()).isZero();
            assertThat(d.at("/delta/content/0/type").asText()).isEqualTo("text");
            text.append(d.at("/delta/content/0/text/value").asText());
        }
        var completed = Json.parse(events.get(names.indexOf("thread.message.completed")).data());
        assertThat(completed.at("/content/0/text/value").asText()).isEqualTo(text.toString()).isNotEmpty();
    }

    @Test
    void createAndRunStreamsThreadCreatedFirst() throws Exception {
        var a = api.assistant("echo", "");
        var events = api.stream("POST", "/threads/runs", "{\"assistant_id\":\"" + a + "\",\"stream\":true,\"thread\":{\"messages\":[{\"role\":\"user\",\"content\":\"ping\"}]}}", Map.of());
        assertWellFormed(events, 1);
        assertThat(events.getFirst().type()).isEqualTo("thread.created");
        spec.assertValid("ThreadObject", Json.parse(events.getFirst().data()));
        assertThat(names(events)).contains("thread.run.completed");
    }

    @Test
    void toolCallsRequireActionThenResume() throws Exception {
        var a = api.assistant("tools", ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}},{\"type\":\"function\",\"function\":{\"name\":\"get_time\"}}]");
        var t = api.thread("Weather in Paris?");
        var first = api.stream("POST", "/threads/" + t + "/runs", "{\"assistant_id\":\"" + a + "\",\"stream\":true}", Map.of());
        assertWellFormed(first, 1);
        assertThat(names(first).get(names(first).size() - 2)).isEqualTo("thread.run.requires_action");
        var run = Json.parse(first.get(first.size() - 2).data());
        spec.assertValid("RunObject", run);
        var calls = run.at("/required_action/submit_tool_outputs/tool_calls");
        assertThat(calls).hasSize(2);
        assertThat(calls.get(0).at("/function/name").asText()).isEqualTo("get_weather");
        assertThat(calls.get(0).at("/function/arguments").asText()).isEqualTo("{\"city\":\"Paris\"}");
        var runId = run.get("id").asText();

        // Not while the run waits: a new message, a new run.
        assertThat(api.call("POST", "/threads/" + t + "/messages", "{\"role\":\"user\",\"content\":\"x\"}").status()).isEqualTo(400);
        assertThat(api.call("POST", "/threads/" + t + "/runs", "{\"assistant_id\":\"" + a + "\"}").status()).isEqualTo(400);
        // Outputs must cover every call.
        var partial = api.call("POST", "/threads/" + t + "/runs/" + runId + "/submit_tool_outputs",
                "{\"tool_outputs\":[{\"tool_call_id\":\"" + calls.get(0).get("id").asText() + "\",\"output\":\"sunny\"}]}");
        assertThat(partial.status()).isEqualTo(400);

        var outputs = "{\"stream\":true,\"tool_outputs\":[{\"tool_call_id\":\"" + calls.get(0).get("id").asText() + "\",\"output\":\"sunny\"},"
                + "{\"tool_call_id\":\"" + calls.get(1).get("id").asText() + "\",\"output\":\"noon\"}]}";
        var second = api.stream("POST", "/threads/" + t + "/runs/" + runId + "/submit_tool_outputs", outputs, Map.of());
        assertWellFormed(second, Long.parseLong(first.get(first.size() - 2).id()) + 1);
        assertThat(names(second).subList(0, 3)).containsExactly("thread.run.step.completed", "thread.run.queued", "thread.run.in_progress");
        assertThat(names(second)).contains("thread.message.delta", "thread.run.completed");
        var toolStep = Json.parse(second.getFirst().data());
        assertThat(toolStep.at("/step_details/tool_calls/1/function/output").asText()).isEqualTo("noon");

        var again = api.call("POST", "/threads/" + t + "/runs/" + runId + "/submit_tool_outputs", outputs);
        assertThat(again.status()).isEqualTo(400);
        assertThat(again.json().at("/error/message").asText()).contains("completed");

        // The whole log replays as one sequence: both segments, each ended once.
        var replay = api.stream("GET", "/threads/" + t + "/runs/" + runId + "/events", null, Map.of());
        assertThat(names(replay).getLast()).isEqualTo("done");
        assertThat(names(replay)).contains("thread.run.requires_action").doesNotContain("thread.run.completed");
        var rest = api.stream("GET", "/threads/" + t + "/runs/" + runId + "/events", null, Map.of("Last-Event-ID", replay.get(replay.size() - 2).id()));
        assertThat(rest.stream().map(SseEvent::data).toList()).isEqualTo(second.stream().map(SseEvent::data).toList());
    }

    @Test
    void cancelStopsARunningRun() throws Exception {
        var a = api.assistant("slow", "");
        var t = api.thread("Tell me a long story");
        var run = api.post("/threads/" + t + "/runs", "{\"assistant_id\":\"" + a + "\"}");
        var runId = run.get("id").asText();
        var deadline = System.nanoTime() + 5_000_000_000L;
        while (api.get("/threads/" + t + "/messages?run_id=" + runId).get("data").isEmpty() && System.nanoTime() < deadline) Thread.sleep(10);
        var cancelling = api.post("/threads/" + t + "/runs/" + runId + "/cancel", "");
        assertThat(cancelling.get("status").asText()).isIn("cancelling", "cancelled");
        var ended = api.await(t, runId);
        spec.assertValid("RunObject", ended);
        assertThat(ended.get("status").asText()).isEqualTo("cancelled");
        assertThat(ended.get("cancelled_at").isNumber()).isTrue();
        var message = api.get("/threads/" + t + "/messages?run_id=" + runId).at("/data/0");
        assertThat(message.get("status").asText()).isEqualTo("incomplete");
        var events = api.stream("GET", "/threads/" + t + "/runs/" + runId + "/events", null, Map.of());
        assertThat(names(events)).contains("thread.run.cancelling").endsWith("thread.run.cancelled", "done");
        assertThat(api.call("POST", "/threads/" + t + "/runs/" + runId + "/cancel", "").status()).isEqualTo(400);
        // The thread is free again.
        assertThat(api.call("POST", "/threads/" + t + "/messages", "{\"role\":\"user\",\"content\":\"ok\"}").status()).isEqualTo(200);
    }

    @Test
    void maxCompletionTokensEndsIncomplete() throws Exception {
        var a = api.assistant("slow", "");
        var t = api.thread("Go on");
        assertThat(api.call("POST", "/threads/" + t + "/runs", "{\"assistant_id\":\"" + a + "\",\"max_completion_tokens\":3}").status()).isEqualTo(400);
        var run = api.post("/threads/" + t + "/runs", "{\"assistant_id\":\"" + a + "\",\"max_completion_tokens\":256,\"temperature\":0.2,"
                + "\"truncation_strategy\":{\"type\":\"last_messages\",\"last_messages\":1},\"sim\":{\"length\":400,\"tokens_per_second\":0}}");
        var ended = api.await(t, run.get("id").asText());
        assertThat(ended.get("status").asText()).isEqualTo("incomplete");
        assertThat(ended.at("/incomplete_details/reason").asText()).isEqualTo("max_completion_tokens");
        assertThat(ended.at("/usage/completion_tokens").asInt()).isEqualTo(256);
        assertThat(ended.get("temperature").asDouble()).isEqualTo(0.2);
        spec.assertValid("RunObject", ended);
    }

    @Test
    void upstreamFailureFailsTheRun() throws Exception {
        var a = api.assistant("fast", "");
        var t = api.thread("x");
        var run = api.post("/threads/" + t + "/runs", "{\"assistant_id\":\"" + a + "\",\"sim\":{\"fail_status\":503}}");
        var ended = api.await(t, run.get("id").asText());
        assertThat(ended.get("status").asText()).isEqualTo("failed");
        assertThat(ended.at("/last_error/code").asText()).isEqualTo("server_error");
        assertThat(ended.at("/last_error/message").asText()).contains("503");
        spec.assertValid("RunObject", ended);
    }

    @Test
    void lateConcurrentAndSlowSubscribersSeeTheSameSequence() throws Exception {
        var a = api.assistant("slow", "");
        var t = api.thread("Stream please");
        var run = api.post("/threads/" + t + "/runs", "{\"assistant_id\":\"" + a + "\",\"sim\":{\"length\":30,\"tokens_per_second\":300}}");
        var path = "/threads/" + t + "/runs/" + run.get("id").asText() + "/events";
        var results = new CopyOnWriteArrayList<List<SseEvent>>();
        var threads = new ArrayList<Thread>();
        for (int i = 0; i < 3; i++) {
            threads.add(Thread.ofVirtual().start(() -> {
                try {
                    results.add(api.stream("GET", path, null, Map.of()));
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            }));
        }
        // A slow reader: sleeps on every event while the run goes on.
        var slow = new ArrayList<SseEvent>();
        threads.add(Thread.ofVirtual().start(() -> {
            try {
                api.streamEach("GET", path, null, Map.of(), e -> {
                    slow.add(e);
                    try {
                        Thread.sleep(15);
                    } catch (InterruptedException ex) {
                        Thread.currentThread().interrupt();
                    }
                });
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        }));
        for (var th : threads) th.join();
        api.await(t, run.get("id").asText());
        var late = api.stream("GET", path, null, Map.of());
        assertWellFormed(late, 1);
        assertThat(names(late)).endsWith("thread.run.completed", "done");
        for (var r : results) assertThat(r).isEqualTo(late);
        assertThat(slow).isEqualTo(late);
        // Reconnect in the middle: exactly the rest.
        var cut = late.get(10).id();
        var rest = api.stream("GET", path, null, Map.of("Last-Event-ID", cut));
        assertThat(rest).isEqualTo(late.subList(11, late.size()));
        assertThat(api.call("GET", path + "?after=abc", null).status()).isEqualTo(400);
    }

    @Test
    void keepAliveCommentsDuringSilence() throws Exception {
        var a = api.assistant("slow", "");
        var t = api.thread("wait");
        var comments = new ArrayList<String>();
        var raw = api.http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(api.base() + "/threads/" + t + "/runs"))
                .header("Content-Type", "application/json")
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString("{\"assistant_id\":\"" + a + "\",\"stream\":true,\"sim\":{\"ttft_ms\":700,\"length\":2}}")).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
        for (var line : raw.body().split("\n")) if (line.startsWith(":")) comments.add(line);
        assertThat(comments).isNotEmpty();
        assertThat(raw.body().strip()).endsWith("data: [DONE]");
    }

}
