package dev.sluice.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.wire.json.Json;
import dev.sluice.wire.openapi.OpenApiValidator;
import java.util.HashSet;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The chat completions front end over the built-in simulator: the OpenAI wire format, exactly. */
class SimChatTest {

    static TestGateway gw;

    @BeforeAll
    static void start() throws Exception {
        gw = TestGateway.yaml("""
                limits:
                  keepalive: 200ms
                models:
                  - name: strict-lorem
                    on_midstream_failure: error
                    deployments: [{provider: sim, model: lorem, ttft_ms: 0, tokens_per_second: 0}]
                  - name: fast-echo
                    deployments:
                      - provider: sim
                        model: echo
                        ttft_ms: 0
                        tokens_per_second: 0
                """);
    }

    @AfterAll
    static void stop() {
        gw.close();
    }

    static void valid(String schema, JsonNode node) {
        if (OpenApiValidator.available()) OpenApiValidator.shared().assertValid(schema, node);
    }

    @Test
    void nonStreamingAnswerIsAChatCompletion() throws Exception {
        var r = gw.post("/chat/completions", """
                {"model":"fast-echo","messages":[{"role":"user","content":"Hello there, gateway"}]}""");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("content-type")).hasValue("application/json");
        var json = Json.parse(r.body());
        assertThat(json.get("object").asText()).isEqualTo("chat.completion");
        assertThat(json.get("id").asText()).startsWith("chatcmpl-");
        assertThat(json.at("/choices/0/message/role").asText()).isEqualTo("assistant");
        assertThat(json.at("/choices/0/message/content").asText()).isEqualTo("Hello there, gateway");
        assertThat(json.at("/choices/0/finish_reason").asText()).isEqualTo("stop");
        assertThat(json.at("/usage/completion_tokens").asInt()).isEqualTo(3);
        assertThat(json.at("/usage/total_tokens").asInt()).isEqualTo(json.at("/usage/prompt_tokens").asInt() + 3);
        assertThat(r.headers().firstValue("x-sluice-deployment")).hasValue("sim/echo");
        valid("CreateChatCompletionResponse", json);
    }

    @Test
    void streamFollowsOpenAisChunkShape() throws Exception {
        var r = gw.stream("""
                {"model":"fast-echo","stream":true,"stream_options":{"include_usage":true},
                 "messages":[{"role":"user","content":"one two three four"}]}""");
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.headers().firstValue("content-type").orElseThrow()).startsWith("text/event-stream");
        assertThat(r.headers().firstValue("cache-control")).hasValue("no-cache");
        assertThat(r.headers().firstValue("x-accel-buffering")).hasValue("no");
        assertThat(r.endsWithDone()).isTrue();
        var chunks = r.chunks();
        var first = chunks.getFirst();
        for (var c : chunks) {
            valid("CreateChatCompletionStreamResponse", c);
            assertThat(c.get("id")).isEqualTo(first.get("id"));
            assertThat(c.get("created")).isEqualTo(first.get("created"));
            assertThat(c.get("model")).isEqualTo(first.get("model"));
            assertThat(c.get("system_fingerprint")).isEqualTo(first.get("system_fingerprint"));
            assertThat(c.get("object").asText()).isEqualTo("chat.completion.chunk");
            assertThat(c.has("usage")).as("usage key on every chunk with include_usage").isTrue();
        }
        assertThat(first.at("/choices/0/delta/role").asText()).isEqualTo("assistant");
        var text = new StringBuilder();
        for (var c : chunks) if (!c.get("choices").isEmpty()) text.append(c.at("/choices/0/delta/content").asText(""));
        assertThat(text.toString()).isEqualTo("one two three four");
        var finish = chunks.get(chunks.size() - 2);
        assertThat(finish.at("/choices/0/finish_reason").asText()).isEqualTo("stop");
        var usage = chunks.getLast();
        assertThat(usage.get("choices")).isEmpty();
        assertThat(usage.at("/usage/completion_tokens").asInt()).isEqualTo(4);
        for (var c : chunks.subList(0, chunks.size() - 1)) assertThat(c.get("usage").isNull()).isTrue();
    }

    @Test
    void noUsageChunkUnlessAskedFor() throws Exception {
        var r = gw.stream("""
                {"model":"fast-echo","stream":true,"messages":[{"role":"user","content":"hi"}]}""");
        assertThat(r.endsWithDone()).isTrue();
        for (var c : r.chunks()) {
            assertThat(c.get("choices")).isNotEmpty();
            assertThat(c.has("usage")).isFalse();
        }
    }

    @Test
    void multipleChoicesEachFinish() throws Exception {
        var r = gw.stream("""
                {"model":"fast-echo","stream":true,"n":2,"messages":[{"role":"user","content":"a b"}]}""");
        var finished = new HashSet<Integer>();
        var roles = new HashSet<Integer>();
        for (var c : r.chunks()) {
            valid("CreateChatCompletionStreamResponse", c);
            var choice = c.at("/choices/0");
            if (choice.path("delta").has("role")) roles.add(choice.get("index").asInt());
            if (!choice.path("finish_reason").isNull()) finished.add(choice.get("index").asInt());
        }
        assertThat(roles).containsExactlyInAnyOrder(0, 1);
        assertThat(finished).containsExactlyInAnyOrder(0, 1);
    }

    @Test
    void scriptedToolCallsStreamWithIndexIdAndName() throws Exception {
        var r = gw.stream("""
                {"model":"fast-echo","stream":true,
                 "messages":[{"role":"user","content":"weather?"}],
                 "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}],
                 "sim":{"tool_calls":[{"name":"get_weather","arguments":"{\\"city\\": \\"Paris\\"}"},{"name":"get_weather","arguments":"{\\"city\\": \\"Oslo\\"}"}]}}""");
        var args = new StringBuilder[] {new StringBuilder(), new StringBuilder()};
        var ids = new String[2];
        String finish = null;
        for (var c : r.chunks()) {
            valid("CreateChatCompletionStreamResponse", c);
            for (var call : c.at("/choices/0/delta/tool_calls")) {
                int index = call.get("index").asInt();
                if (call.has("id")) {
                    assertThat(ids[index]).as("id only on the first delta").isNull();
                    ids[index] = call.get("id").asText();
                    assertThat(call.get("type").asText()).isEqualTo("function");
                    assertThat(call.at("/function/name").asText()).isEqualTo("get_weather");
                }
                args[index].append(call.at("/function/arguments").asText());
            }
            if (!c.at("/choices/0/finish_reason").isNull() && !c.at("/choices/0/finish_reason").isMissingNode()) finish = c.at("/choices/0/finish_reason").asText();
        }
        assertThat(ids).doesNotContainNull();
        assertThat(args[0].toString()).isEqualTo("{\"city\": \"Paris\"}");
        assertThat(args[1].toString()).isEqualTo("{\"city\": \"Oslo\"}");
        assertThat(finish).isEqualTo("tool_calls");
    }

    @Test
    void logprobsTravelWithTheirToken() throws Exception {
        var r = gw.stream("""
                {"model":"fast-echo","stream":true,"logprobs":true,"messages":[{"role":"user","content":"x y"}]}""");
        int withLogprobs = 0;
        for (var c : r.chunks()) {
            valid("CreateChatCompletionStreamResponse", c);
            var lp = c.at("/choices/0/logprobs");
            if (lp.isObject()) {
                withLogprobs++;
                assertThat(lp.at("/content/0/token").asText()).isEqualTo(c.at("/choices/0/delta/content").asText());
            }
        }
        assertThat(withLogprobs).isEqualTo(2);
    }

    @Test
    void keepAliveCommentsDuringSilence() throws Exception {
        var r = gw.stream("""
                {"model":"sim/echo","stream":true,"messages":[{"role":"user","content":"slow"}],"sim":{"ttft_ms":900}}""");
        assertThat(r.comments()).contains("keep-alive");
        assertThat(r.endsWithDone()).isTrue();
        assertThat(r.raw()).doesNotContain("data: keep-alive").doesNotContain("event:");
    }

    @Test
    void midStreamFailureIsAnErrorEventNotATruncation() throws Exception {
        var r = gw.stream("""
                {"model":"strict-lorem","stream":true,"messages":[{"role":"user","content":"go"}],
                 "sim":{"fail_after_tokens":3}}""");
        assertThat(r.endsWithDone()).isFalse();
        var last = Json.parse(r.events().getLast().data());
        assertThat(last.at("/error/message").asText()).contains("Simulated failure");
        assertThat(last.at("/error/type").asText()).isEqualTo("server_error");
        valid("ErrorResponse", last);
    }

    /**
     * The simulator is on in every gateway, so its request settings are client input: a bad value was a 500
     * (a NumberFormatException), and a huge length or n × a huge echo scripted the whole answer in memory.
     */
    @Test
    void simulatorSettingsFromARequestAreCheckedAndBounded() throws Exception {
        record Case(String sim, String model, int n, String param) {}
        var big = "w ".repeat(60_000);
        for (var c : List.of(
                new Case("{\"ttft_ms\":\"abc\"}", "sim/echo", 1, "sim.ttft_ms"),
                new Case("{\"tokens_per_second\":\"x\"}", "sim/echo", 1, "sim.tokens_per_second"),
                new Case("{\"fail_rate\":2}", "sim/echo", 1, "sim.fail_rate"),
                new Case("{\"fail_status\":99999}", "sim/echo", 1, "sim.fail_status"),
                new Case("{\"tool_calls\":\"x\"}", "sim/echo", 1, "sim.tool_calls"),
                new Case("{\"colour\":\"red\"}", "sim/echo", 1, "sim.colour"),
                new Case("\"fast\"", "sim/echo", 1, "sim"),
                new Case("{\"length\":2000000000}", "sim/lorem", 1, "sim.length"),
                new Case("{\"length\":90000}", "sim/lorem", 2, "n"),
                new Case("{}", "sim/echo", 2, "n"))) {
            var text = c.model().equals("sim/echo") && c.n() > 1 ? big : "hi";
            var body = "{\"model\":\"" + c.model() + "\",\"n\":" + c.n() + ",\"messages\":[{\"role\":\"user\",\"content\":\"" + text
                    + "\"}],\"sim\":" + c.sim() + "}";
            for (boolean stream : new boolean[] {false, true}) {
                var r = gw.post("/chat/completions", body.replace("\"n\":", "\"stream\":" + stream + ",\"n\":"));
                assertThat(r.statusCode()).as(c + " " + r.body()).isEqualTo(400);
                var json = Json.parse(r.body());
                valid("ErrorResponse", json);
                assertThat(json.at("/error/param").asText()).as(c.toString()).isEqualTo(c.param());
                assertThat(json.at("/error/type").asText()).isEqualTo("invalid_request_error");
            }
        }
        // Within the bounds, numbers written as strings still work.
        var ok = gw.post("/chat/completions", "{\"model\":\"sim/lorem\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                + "\"sim\":{\"ttft_ms\":\"0\",\"tokens_per_second\":0,\"length\":\"7\"}}");
        assertThat(ok.statusCode()).isEqualTo(200);
        assertThat(Json.parse(ok.body()).at("/usage/completion_tokens").asInt()).isEqualTo(7);
    }

    @Test
    void upstreamRefusalKeepsStatusAndRetryAfter() throws Exception {
        var r = gw.post("/chat/completions", """
                {"model":"sim/echo","messages":[{"role":"user","content":"x"}],"sim":{"fail_status":429,"retry_after_seconds":7}}""");
        assertThat(r.statusCode()).isEqualTo(429);
        assertThat(r.headers().firstValue("retry-after")).hasValue("7");
        var json = Json.parse(r.body());
        valid("ErrorResponse", json);
        assertThat(json.at("/error/type").asText()).isEqualTo("rate_limit_error");
    }

    @Test
    void modelsListsConfiguredAndSimulatorModels() throws Exception {
        var r = gw.get("/models");
        assertThat(r.statusCode()).isEqualTo(200);
        var json = Json.parse(r.body());
        valid("ListModelsResponse", json);
        var ids = json.get("data").findValuesAsText("id");
        assertThat(ids).contains("fast-echo", "sim/echo", "sim/lorem");
        assertThat(gw.get("/models/sim/echo").statusCode()).isEqualTo(200);
        var missing = gw.get("/models/nope");
        assertThat(missing.statusCode()).isEqualTo(404);
        valid("ErrorResponse", Json.parse(missing.body()));
    }

    @Test
    void healthz() throws Exception {
        var r = gw.http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + gw.gateway.port() + "/healthz")).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(Json.parse(r.body()).get("status").asText()).isEqualTo("ok");
    }

}
