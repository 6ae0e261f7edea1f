package dev.sluice.bench.runs;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The runs benchmark's own checks: what it accepts as a valid run, and what the stamping upstream sends. */
class RunsBenchTest {

    static List<RunsBench.Event> run(String... deltas) {
        var events = new ArrayList<RunsBench.Event>();
        int id = 1;
        for (var t : List.of("thread.run.created", "thread.run.queued", "thread.run.in_progress", "thread.run.step.created",
                "thread.run.step.in_progress", "thread.message.created", "thread.message.in_progress")) {
            events.add(new RunsBench.Event(t, Integer.toString(id++), "{\"id\":\"run_1\"}", 0));
        }
        var text = new StringBuilder();
        for (var d : deltas) {
            events.add(new RunsBench.Event("thread.message.delta", Integer.toString(id++), "{\"delta\":{\"content\":[{\"index\":0,\"type\":\"text\",\"text\":{\"value\":\"" + d + "\"}}]}}", 0));
            text.append(d);
        }
        events.add(new RunsBench.Event("thread.message.completed", Integer.toString(id++), "{\"content\":[{\"type\":\"text\",\"text\":{\"value\":\"" + text + "\",\"annotations\":[]}}]}", 0));
        events.add(new RunsBench.Event("thread.run.step.completed", Integer.toString(id++), "{}", 0));
        events.add(new RunsBench.Event("thread.run.completed", Integer.toString(id++), "{}", 0));
        events.add(new RunsBench.Event("done", null, "[DONE]", 0));
        return events;
    }

    @Test
    void acceptsOnlyTheCompleteOfficialSequence() {
        assertThat(RunsBench.validate(run("Lorem", " ipsum"))).isNull();
        assertThat(RunsBench.validate(run())).startsWith("short stream");
        var failed = run("a");
        failed.set(failed.size() - 2, new RunsBench.Event("thread.run.failed", "10", "{}", 0));
        assertThat(RunsBench.validate(failed)).startsWith("unexpected end");
        var gap = run("a", "b");
        gap.set(8, new RunsBench.Event("thread.message.delta", "12", gap.get(8).data(), 0));
        assertThat(RunsBench.validate(gap)).startsWith("SSE id");
        var lost = run("a", "b");
        lost.remove(7);
        assertThat(RunsBench.validate(lost)).isNotNull();
    }

    @Test
    void stampUpstreamStampsEveryChunkWithTheMonotonicClock() throws Exception {
        try (var upstream = new StampUpstream(0, 5, 0, 1)) {
            long before = System.nanoTime();
            var body = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + upstream.port() + "/v1/chat/completions"))
                    .POST(HttpRequest.BodyPublishers.ofString("{\"stream\":true}")).build(), HttpResponse.BodyHandlers.ofString()).body();
            long after = System.nanoTime();
            var stamps = Pattern.compile(" t(\\d+)").matcher(body).results().map(m -> Long.parseLong(m.group(1))).toList();
            assertThat(stamps).hasSize(5).isSorted().allSatisfy(s -> assertThat(s).isBetween(before, after));
            assertThat(body).contains("\"finish_reason\":\"stop\"").contains("\"completion_tokens\":5").endsWith("data: [DONE]\n\n");
        }
    }
}
