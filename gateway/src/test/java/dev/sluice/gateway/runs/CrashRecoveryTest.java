package dev.sluice.gateway.runs;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.wire.json.Json;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code kill -9} of a gateway process in the middle of a run, then a restart on the same SQLite file:
 * everything committed is still there and the interrupted run ends {@code failed} with a {@code last_error}
 * that says why, its partial answer kept in an incomplete message.
 */
class CrashRecoveryTest {

    @TempDir
    Path dir;

    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    private JsonNode call(CrashTestServer.Running s, String method, String path, String body) throws Exception {
        var r = http.send(HttpRequest.newBuilder(URI.create(s.base() + path)).timeout(Duration.ofSeconds(20)).header("Content-Type", "application/json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return Json.parse(r.body());
    }

    @Test
    void killNineDuringARunThenRestart() throws Exception {
        var config = dir.resolve("sluice.yaml");
        Files.writeString(config, """
                listen: 127.0.0.1:0
                storage: {type: sqlite, path: %s}
                models:
                  - name: slow
                    deployments: [{provider: sim, model: lorem, ttft_ms: 0, tokens_per_second: 40, length: 400}]
                """.formatted(dir.resolve("data/sluice.db")));
        var first = CrashTestServer.launch(config);
        String thread;
        String runId;
        try {
            var assistant = call(first, "POST", "/assistants", "{\"model\":\"slow\"}").get("id").asText();
            thread = call(first, "POST", "/threads", "{\"messages\":[{\"role\":\"user\",\"content\":\"Tell me everything\"}]}").get("id").asText();
            runId = call(first, "POST", "/threads/" + thread + "/runs", "{\"assistant_id\":\"" + assistant + "\"}").get("id").asText();
            var deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (call(first, "GET", "/threads/" + thread + "/messages?run_id=" + runId, null).get("data").isEmpty()) {
                assertThat(System.nanoTime()).isLessThan(deadline);
                Thread.sleep(20);
            }
            Thread.sleep(300); // some tokens streamed
            assertThat(call(first, "GET", "/threads/" + thread + "/runs/" + runId, null).get("status").asText()).isEqualTo("in_progress");
        } finally {
            first.process().destroyForcibly(); // SIGKILL
            first.process().waitFor(10, TimeUnit.SECONDS);
        }

        var second = CrashTestServer.launch(config);
        try {
            var run = call(second, "GET", "/threads/" + thread + "/runs/" + runId, null);
            assertThat(run.get("status").asText()).isEqualTo("failed");
            assertThat(run.at("/last_error/code").asText()).isEqualTo("server_error");
            assertThat(run.at("/last_error/message").asText()).contains("gateway stopped while this run was in progress");
            assertThat(run.get("failed_at").isNumber()).isTrue();
            var messages = call(second, "GET", "/threads/" + thread + "/messages?order=asc", null).get("data");
            assertThat(messages).hasSize(2);
            assertThat(messages.get(0).at("/content/0/text/value").asText()).isEqualTo("Tell me everything");
            assertThat(messages.get(1).get("status").asText()).isEqualTo("incomplete");
            assertThat(messages.get(1).at("/content/0/text/value").asText()).startsWith("Lorem ipsum");
            var step = call(second, "GET", "/threads/" + thread + "/runs/" + runId + "/steps", null).at("/data/0");
            assertThat(step.get("status").asText()).isEqualTo("failed");
            // The log ends with the failure, then [DONE], and the thread takes new messages again.
            var events = http.send(HttpRequest.newBuilder(URI.create(second.base() + "/threads/" + thread + "/runs/" + runId + "/events")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            assertThat(events).contains("event: thread.message.delta").contains("event: thread.run.failed");
            assertThat(events.strip()).endsWith("event: done\ndata: [DONE]");
            call(second, "POST", "/threads/" + thread + "/messages", "{\"role\":\"user\",\"content\":\"still there?\"}");
        } finally {
            second.process().destroyForcibly();
            second.process().waitFor(10, TimeUnit.SECONDS);
        }
    }
}
