package dev.sluice.gateway.runs;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.gateway.RecordedUsage;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Runs report each model call to the usage sink, as chat completions do, so accounting sees every token. */
class RunsUsageTest {

    @TempDir
    Path dir;

    @Test
    void everyModelCallOfARunIsRecordedWithItsOutcome() throws Exception {
        var records = new RecordedUsage();
        var yaml = "listen: 127.0.0.1:0\nstorage: {type: sqlite, path: " + dir.resolve("sluice.db") + "}\n" + AssistantsClient.MODELS;
        try (var api = new AssistantsClient(yaml, records)) {
            // A plain run: one call, completed.
            var a = api.assistant("fast", "");
            var t = api.thread("Hello there");
            var run = api.post("/threads/" + t + "/runs", "{\"assistant_id\":\"" + a + "\"}");
            var done = api.await(t, run.get("id").asText());
            assertThat(done.get("status").asText()).isEqualTo("completed");

            // A tool run: the first call ends in requires_action, the second (after the outputs) completes.
            var tools = api.assistant("tools", ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}},"
                    + "{\"type\":\"function\",\"function\":{\"name\":\"get_time\"}}]");
            var t2 = api.thread("Weather?");
            var toolRun = api.post("/threads/" + t2 + "/runs", "{\"assistant_id\":\"" + tools + "\"}");
            var waiting = api.await(t2, toolRun.get("id").asText());
            assertThat(waiting.get("status").asText()).isEqualTo("requires_action");

            var r = records.await(run.get("id").asText()); // exactly one record for the run
            assertThat(r.model()).isEqualTo("fast");
            assertThat(r.deployment()).isEqualTo("sim/lorem");
            assertThat(r.outcome()).isEqualTo("completed");
            assertThat(r.completionTokens()).isEqualTo(done.at("/usage/completion_tokens").asInt()).isPositive();
            assertThat(r.promptTokens()).isEqualTo(done.at("/usage/prompt_tokens").asInt());
            assertThat(r.attempts()).isEqualTo(1);
            assertThat(records.await(toolRun.get("id").asText()).outcome()).isEqualTo("requires_action");
        }
    }
}
