package dev.sluice.gateway.runs;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.gateway.FakeUpstream;
import dev.sluice.wire.json.Json;
import dev.sluice.wire.openapi.OpenApiValidator;
import dev.sluice.wire.sse.SseEvent;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs go through the same resilient routing as chat completions: retries (honouring Retry-After), fallback
 * to the next deployment, the route's timeouts, mid-stream continuation; and a cancel still stops the
 * upstream at once, also while the gateway is waiting between retries or for a first byte.
 */
class RunsFailoverTest {

    @TempDir
    static Path dir;

    static AssistantsClient api;
    static OpenApiValidator spec;
    /** Refuses with 429 and Retry-After: 1. */
    static FakeUpstream limited;
    /** Refuses with 503 and a Retry-After longer than any test waits. */
    static FakeUpstream unavailable;
    /** Accepts and then says nothing. */
    static FakeUpstream stalled;

    @BeforeAll
    static void start() throws Exception {
        limited = new FakeUpstream(body -> FakeUpstream.Reply.json(429, "{\"error\":{\"message\":\"slow down\",\"type\":\"rate_limit_error\",\"code\":null}}", Map.of("Retry-After", "1")));
        unavailable = new FakeUpstream(body -> FakeUpstream.Reply.json(503, "{\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\",\"code\":null}}", Map.of("Retry-After", "8")));
        stalled = new FakeUpstream(body -> new FakeUpstream.Reply(200, Map.of("Content-Type", "text/event-stream"), List.of(), true));
        var echo = "{provider: sim_b, model: echo, ttft_ms: 0, tokens_per_second: 0}";
        api = new AssistantsClient(dir, """
                listen: 127.0.0.1:0
                storage: {type: sqlite, path: %s}
                providers:
                  sim_a: {type: sim}
                  sim_b: {type: sim}
                  limited: {type: openai, base_url: "%s"}
                  unavailable: {type: openai, base_url: "%s"}
                  stalled: {type: openai, base_url: "%s"}
                models:
                  - name: rate-limited-first
                    retries: 1
                    deployments: [{provider: limited, model: m}, %s]
                  - name: down
                    retries: 1
                    backoff: 10ms
                    deployments:
                      - {provider: sim_a, model: lorem, ttft_ms: 0, fail_status: 503}
                      - {provider: sim_b, model: lorem, ttft_ms: 0, fail_status: 503}
                  - name: limited-everywhere
                    retries: 1
                    backoff: 10ms
                    deployments:
                      - {provider: sim_a, model: lorem, ttft_ms: 0, fail_status: 429}
                      - {provider: sim_b, model: lorem, ttft_ms: 0, fail_status: 429}
                  - name: dies-midway
                    deployments:
                      - {provider: sim_a, model: echo, ttft_ms: 0, tokens_per_second: 0, fail_after_tokens: 3}
                      - %s
                  - name: stalls-first
                    retries: 0
                    timeouts: {first_byte: 300ms, idle: 300ms}
                    deployments: [{provider: stalled, model: m}, %s]
                  - name: backs-off
                    retries: 2
                    deployments: [{provider: unavailable, model: m}]
                  - name: stalls
                    retries: 0
                    deployments: [{provider: stalled, model: m}]
                """.formatted(dir.resolve("sluice.db"), limited.baseUrl(), unavailable.baseUrl(), stalled.baseUrl(), echo, echo, echo));
        spec = OpenApiValidator.shared();
    }

    @AfterAll
    static void stop() throws Exception {
        api.close();
        limited.close();
        unavailable.close();
        stalled.close();
    }

    private static List<String> names(List<SseEvent> events) {
        return events.stream().map(SseEvent::type).toList();
    }

    private String streamedText(List<SseEvent> events) {
        var text = new StringBuilder();
        for (var e : events) if (e.type().equals("thread.message.delta")) text.append(Json.parse(e.data()).at("/delta/content/0/text/value").asText());
        return text.toString();
    }

    @Test
    void aRateLimitedFirstDeploymentIsRetriedAfterRetryAfterThenTheRunCompletesFromTheSecond() throws Exception {
        var a = api.assistant("rate-limited-first", "");
        var t = api.thread("Answer from the fallback");
        int before = limited.seen.size();
        long start = System.nanoTime();
        var events = api.stream("POST", "/threads/" + t + "/runs", "{\"assistant_id\":\"" + a + "\",\"stream\":true}", Map.of());
        assertThat(names(events)).endsWith("thread.message.completed", "thread.run.step.completed", "thread.run.completed", "done");
        assertThat(streamedText(events)).isEqualTo("Answer from the fallback");
        // One retry on the first deployment, not before its Retry-After (1 s) had passed.
        var tries = limited.seen.subList(before, limited.seen.size());
        assertThat(tries).hasSize(2);
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isGreaterThanOrEqualTo(1_000);
        assertThat(tries.get(0).body.get("stream").asBoolean()).isTrue();
        var completed = Json.parse(events.get(names(events).indexOf("thread.run.completed")).data());
        spec.assertValid("RunObject", completed);
        assertThat(completed.at("/usage/completion_tokens").asInt()).isPositive();
    }

    @Test
    void aRunWhoseEveryDeploymentFailsEndsFailedWithServerError() throws Exception {
        var a = api.assistant("down", "");
        var t = api.thread("x");
        var events = api.stream("POST", "/threads/" + t + "/runs", "{\"assistant_id\":\"" + a + "\",\"stream\":true}", Map.of());
        assertThat(names(events)).endsWith("thread.run.failed", "done").doesNotContain("thread.run.completed");
        var failed = Json.parse(events.get(events.size() - 2).data());
        spec.assertValid("RunObject", failed);
        assertThat(failed.get("status").asText()).isEqualTo("failed");
        assertThat(failed.get("failed_at").isNumber()).isTrue();
        assertThat(failed.at("/last_error/code").asText()).isEqualTo("server_error");
        // Every deployment was tried, each retried once.
        assertThat(failed.at("/last_error/message").asText()).contains("503").containsPattern("attempts: .*=503, .*=503, .*=503, .*=503");
        assertThat(api.get("/threads/" + t + "/runs/" + failed.get("id").asText()).get("status").asText()).isEqualTo("failed");
    }

    @Test
    void aRunRateLimitedEverywhereEndsFailedWithRateLimitExceeded() throws Exception {
        var a = api.assistant("limited-everywhere", "");
        var t = api.thread("x");
        var events = api.stream("POST", "/threads/" + t + "/runs", "{\"assistant_id\":\"" + a + "\",\"stream\":true}", Map.of());
        assertThat(names(events)).endsWith("thread.run.failed", "done");
        var failed = Json.parse(events.get(events.size() - 2).data());
        spec.assertValid("RunObject", failed);
        assertThat(failed.at("/last_error/code").asText()).isEqualTo("rate_limit_exceeded");
    }

    @Test
    void anAnswerThatDiesMidwayContinuesOnAnotherDeploymentWithoutRepeats() throws Exception {
        var a = api.assistant("dies-midway", "");
        var text = "one two three four five six seven eight";
        var t = api.thread(text);
        var events = api.stream("POST", "/threads/" + t + "/runs", "{\"assistant_id\":\"" + a + "\",\"stream\":true}", Map.of());
        assertThat(names(events)).endsWith("thread.run.completed", "done");
        assertThat(streamedText(events)).isEqualTo(text);
        var message = api.get("/threads/" + t + "/messages").at("/data/0");
        assertThat(message.at("/content/0/text/value").asText()).isEqualTo(text);
    }

    @Test
    void aStalledFirstDeploymentTimesOutAndTheRunCompletesFromTheSecond() throws Exception {
        var a = api.assistant("stalls-first", "");
        var t = api.thread("after the timeout");
        long start = System.nanoTime();
        var events = api.stream("POST", "/threads/" + t + "/runs", "{\"assistant_id\":\"" + a + "\",\"stream\":true}", Map.of());
        assertThat(names(events)).endsWith("thread.run.completed", "done");
        assertThat(streamedText(events)).isEqualTo("after the timeout");
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isLessThan(5_000);
    }

    @Test
    void cancelDuringABackoffWaitEndsTheRunAtOnceWithoutAnotherTry() throws Exception {
        var a = api.assistant("backs-off", "");
        var t = api.thread("x");
        int before = unavailable.seen.size();
        var runId = api.post("/threads/" + t + "/runs", "{\"assistant_id\":\"" + a + "\"}").get("id").asText();
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (unavailable.seen.size() == before && System.nanoTime() < deadline) Thread.sleep(5);
        assertThat(unavailable.seen.size()).isEqualTo(before + 1);
        Thread.sleep(100); // now waiting out the 8 s Retry-After
        long start = System.nanoTime();
        api.post("/threads/" + t + "/runs/" + runId + "/cancel", "");
        var ended = api.await(t, runId);
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isLessThan(2_000);
        assertThat(ended.get("status").asText()).isEqualTo("cancelled");
        spec.assertValid("RunObject", ended);
        Thread.sleep(200);
        assertThat(unavailable.seen.size()).isEqualTo(before + 1);
    }

    @Test
    void cancelWhileWaitingForTheFirstByteHangsUpOnTheUpstream() throws Exception {
        var a = api.assistant("stalls", "");
        var t = api.thread("x");
        int before = stalled.seen.size();
        var runId = api.post("/threads/" + t + "/runs", "{\"assistant_id\":\"" + a + "\"}").get("id").asText();
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (stalled.seen.size() == before && System.nanoTime() < deadline) Thread.sleep(5);
        var upstreamRequest = stalled.seen.get(before);
        Thread.sleep(100);
        api.post("/threads/" + t + "/runs/" + runId + "/cancel", "");
        assertThat(upstreamRequest.awaitClosed(2_000)).as("the gateway closed the upstream connection").isTrue();
        var ended = api.await(t, runId);
        assertThat(ended.get("status").asText()).isEqualTo("cancelled");
        var events = api.stream("GET", "/threads/" + t + "/runs/" + runId + "/events", null, Map.of());
        assertThat(names(events)).endsWith("thread.run.cancelling", "thread.run.cancelled", "done");
    }
}
