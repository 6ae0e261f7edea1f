package dev.sluice.gateway.runs;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.gateway.FakeUpstream;
import dev.sluice.gateway.TestGateway;
import dev.sluice.gateway.config.ConfigLoader;
import dev.sluice.wire.json.Json;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Runs in proxy mode without an upstream key: each model call carries the Authorization header of the request
 * that queued the run, as chat completions forward the client's own key.
 */
class RunsProxyModeTest {

    private static final String TOOL_CALL = sse(
            "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\","
                    + "\"function\":{\"name\":\"get_weather\",\"arguments\":\"{}\"}}]},\"finish_reason\":null}",
            "{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}");
    private static final String TEXT = sse(
            "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Sunny.\"},\"finish_reason\":null}",
            "{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}");

    private static String sse(String... choices) {
        var out = new StringBuilder();
        for (var c : choices) {
            out.append("data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"llama3\",\"choices\":[").append(c).append("]}\n\n");
        }
        return out.append("data: [DONE]\n\n").toString();
    }

    @Test
    void aRunCallsTheModelWithTheKeyOfTheRequestThatQueuedIt() throws Exception {
        // The first call asks for a tool; the one after the tool's output answers.
        try (var upstream = new FakeUpstream(body -> FakeUpstream.Reply.sse(
                    (hasToolOutput(body) ? TEXT : TOOL_CALL).getBytes(StandardCharsets.UTF_8), 4096, 0));
             var gw = new TestGateway(ConfigLoader.proxy(new ConfigLoader(k -> null).defaults(),
                     upstream.baseUrl(), null))) {
            var assistant = post(gw, "/assistants", "{\"model\":\"llama3\",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}]}", null);
            var run = post(gw, "/threads/runs", "{\"assistant_id\":\"" + assistant.get("id").asText()
                    + "\",\"thread\":{\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"}]}}", "Bearer key-of-alice");
            var threadId = run.get("thread_id").asText();
            var runId = run.get("id").asText();
            run = await(gw, threadId, runId);
            assertThat(run.get("status").asText()).as("%s", run).isEqualTo("requires_action");
            assertThat(upstream.seen).hasSize(1);
            assertThat(upstream.seen.getLast().headers.get("authorization")).isEqualTo("Bearer key-of-alice");

            // Whoever gives the tool outputs pays for the call that follows.
            post(gw, "/threads/" + threadId + "/runs/" + runId + "/submit_tool_outputs",
                    "{\"tool_outputs\":[{\"tool_call_id\":\"call_1\",\"output\":\"sunny\"}]}", "Bearer key-of-bob");
            run = await(gw, threadId, runId);
            assertThat(run.get("status").asText()).as("%s", run).isEqualTo("completed");
            assertThat(upstream.seen).hasSize(2);
            assertThat(upstream.seen.getLast().headers.get("authorization")).isEqualTo("Bearer key-of-bob");

            // A run queued without a key sends none (and this upstream, which checks nothing, answers anyway).
            var anonymous = post(gw, "/threads/" + threadId + "/runs", "{\"assistant_id\":\"" + assistant.get("id").asText() + "\"}", null);
            await(gw, threadId, anonymous.get("id").asText());
            assertThat(upstream.seen).hasSize(3);
            assertThat(upstream.seen.getLast().headers).doesNotContainKey("authorization");
        }
    }

    private static boolean hasToolOutput(JsonNode body) {
        for (var m : body.path("messages")) if (m.path("role").asText().equals("tool")) return true;
        return false;
    }

    private static JsonNode post(TestGateway gw, String path, String body, String authorization) throws Exception {
        var r = gw.post(path, body, authorization == null ? Map.of() : Map.of("Authorization", authorization));
        assertThat(r.statusCode()).as("POST %s -> %s", path, r.body()).isEqualTo(200);
        return Json.parse(r.body());
    }

    private static JsonNode await(TestGateway gw, String threadId, String runId) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (true) {
            var r = gw.http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(gw.base() + "/threads/" + threadId + "/runs/" + runId)).build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString());
            var run = Json.parse(r.body());
            if (!List.of("queued", "in_progress", "cancelling").contains(run.path("status").asText())) return run;
            if (System.nanoTime() > deadline) throw new AssertionError("run still in progress: " + run);
            Thread.sleep(20);
        }
    }
}
