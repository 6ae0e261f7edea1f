package dev.sluice.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.gateway.config.ConfigLoader;
import dev.sluice.wire.chat.ChatAccumulator;
import dev.sluice.wire.chat.ChatStreamParser;
import dev.sluice.wire.json.Json;
import dev.sluice.wire.openapi.OpenApiValidator;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Failover after the first byte: the client keeps one well-formed stream (one id, no repeated text, one
 * finish, usage over all attempts) while the answer moves to another deployment.
 */
class FailoverTest {

    static final String TEXT = "The quick brown fox jumps over the lazy dog and keeps running far away";
    static final RecordedUsage usage = new RecordedUsage();
    static FakeUpstream dying;
    static FakeUpstream healthy;
    static FakeUpstream dyingEarly;
    static FakeUpstream restarting;
    static TestGateway gw;

    static String chunk(String id, String delta, String finish) {
        return "data: {\"id\":\"" + id + "\",\"object\":\"chat.completion.chunk\",\"created\":5,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":"
                + delta + ",\"finish_reason\":" + finish + "}]}\n\n";
    }

    /** An upstream that streams the first words of the answer and then drops the connection. */
    static byte[] partialBody(String model) {
        var chunk = "data: {\"id\":\"chatcmpl-dying\",\"object\":\"chat.completion.chunk\",\"created\":5,\"model\":\"" + model
                + "\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"The quick brown fox\"},\"finish_reason\":null}]}\n\n";
        return chunk.getBytes(StandardCharsets.UTF_8);
    }

    @BeforeAll
    static void start() throws Exception {
        dying = new FakeUpstream(body -> FakeUpstream.Reply.sse(partialBody("dying"), 1000, 0));
        healthy = new FakeUpstream(body -> {
            // Continues after the prefilled assistant message, as a real model would.
            var messages = body.get("messages");
            var prefill = messages.get(messages.size() - 1).get("content").asText();
            var rest = TEXT.substring(prefill.length());
            var sse = "data: {\"id\":\"chatcmpl-healthy\",\"object\":\"chat.completion.chunk\",\"created\":9,\"model\":\"healthy\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n"
                    + "data: {\"id\":\"chatcmpl-healthy\",\"object\":\"chat.completion.chunk\",\"created\":9,\"model\":\"healthy\",\"choices\":[{\"index\":0,\"delta\":{\"content\":" + Json.write(Json.NODES.textNode(rest)) + "},\"finish_reason\":null}]}\n\n"
                    + "data: {\"id\":\"chatcmpl-healthy\",\"object\":\"chat.completion.chunk\",\"created\":9,\"model\":\"healthy\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
                    + "data: {\"id\":\"chatcmpl-healthy\",\"object\":\"chat.completion.chunk\",\"created\":9,\"model\":\"healthy\",\"choices\":[],\"usage\":{\"prompt_tokens\":30,\"completion_tokens\":10,\"total_tokens\":40}}\n\n"
                    + "data: [DONE]\n\n";
            return FakeUpstream.Reply.sse(sse.getBytes(StandardCharsets.UTF_8), 64, 0);
        });
        // Two words, then the connection ends; the next deployment ignores the prefill and starts its answer over.
        dyingEarly = new FakeUpstream(body -> FakeUpstream.Reply.sse((chunk("chatcmpl-early", "{\"role\":\"assistant\",\"content\":\"\"}", "null")
                + chunk("chatcmpl-early", "{\"content\":\"Hi\"}", "null")).getBytes(StandardCharsets.UTF_8), 1000, 0));
        restarting = new FakeUpstream(body -> FakeUpstream.Reply.sse((chunk("chatcmpl-again", "{\"role\":\"assistant\",\"content\":\"\"}", "null")
                + chunk("chatcmpl-again", "{\"content\":\"H\"}", "null") + chunk("chatcmpl-again", "{\"content\":\"i there, friend.\"}", "null")
                + chunk("chatcmpl-again", "{}", "\"stop\"") + "data: [DONE]\n\n").getBytes(StandardCharsets.UTF_8), 1000, 0));
        gw = new TestGateway(new ConfigLoader(k -> null).parse("""
                providers:
                  dying: {type: openai, base_url: "%s"}
                  healthy: {type: openai, base_url: "%s"}
                  dying_early: {type: openai, base_url: "%s"}
                  restarting: {type: openai, base_url: "%s"}
                  sim_a: {type: sim}
                  sim_b: {type: sim}
                models:
                  - name: resilient
                    deployments:
                      - {provider: dying, model: m1}
                      - {provider: healthy, model: m2}
                  - name: strict
                    on_midstream_failure: error
                    deployments:
                      - {provider: dying, model: m1}
                      - {provider: healthy, model: m2}
                  - name: sim-resilient
                    deployments:
                      - {provider: sim_a, model: echo, ttft_ms: 0, tokens_per_second: 0, fail_after_tokens: 4}
                      - {provider: sim_b, model: echo, ttft_ms: 0, tokens_per_second: 0}
                  - name: restarts
                    deployments:
                      - {provider: dying_early, model: m1}
                      - {provider: restarting, model: m2}
                """.formatted(dying.baseUrl(), healthy.baseUrl(), dyingEarly.baseUrl(), restarting.baseUrl()), "test.yaml"), usage);
    }

    @AfterAll
    static void stop() throws Exception {
        gw.close();
        dying.close();
        healthy.close();
        dyingEarly.close();
        restarting.close();
    }

    static String chat(String model, boolean stream) {
        return "{\"model\":\"" + model + "\",\"stream\":" + stream + ",\"stream_options\":" + (stream ? "{\"include_usage\":true}" : "null")
                + ",\"messages\":[{\"role\":\"user\",\"content\":" + Json.write(Json.NODES.textNode(TEXT)) + "}]}";
    }

    @Test
    void aDroppedStreamContinuesOnAnotherDeployment() throws Exception {
        var r = gw.stream(chat("resilient", true));
        assertThat(r.endsWithDone()).isTrue();
        var chunks = r.chunks();
        var ids = chunks.stream().map(c -> c.get("id").asText()).distinct().toList();
        assertThat(ids).containsExactly("chatcmpl-dying");
        var acc = new ChatAccumulator();
        var parser = new ChatStreamParser(acc);
        parser.feed(r.raw().getBytes(StandardCharsets.UTF_8));
        parser.end();
        var result = acc.result();
        assertThat(result.choice(0).message().content()).isEqualTo(TEXT);
        assertThat(chunks.stream().filter(c -> c.at("/choices/0/finish_reason").isTextual()).count()).isEqualTo(1);
        assertThat(chunks.stream().filter(c -> c.at("/choices/0/delta/role").isTextual()).count()).isEqualTo(1);
        // The dying attempt's usage (estimated: it reported none) plus the healthy one's.
        var u = result.usage();
        assertThat(u.get("completion_tokens").asInt()).isGreaterThan(10);
        assertThat(u.get("prompt_tokens").asInt()).isGreaterThan(30);
        assertThat(u.get("estimated").asBoolean()).isTrue();
        // The healthy upstream was asked to continue the partial answer.
        var continued = healthy.seen.getLast().body;
        var last = continued.get("messages").get(continued.get("messages").size() - 1);
        assertThat(last.get("role").asText()).isEqualTo("assistant");
        assertThat(last.get("content").asText()).isEqualTo("The quick brown fox");
        assertThat(r.headers().firstValue("x-sluice-deployment")).hasValue("dying/m1");
        if (OpenApiValidator.available()) for (var c : chunks) OpenApiValidator.shared().assertValid("CreateChatCompletionStreamResponse", c);
    }

    @Test
    void nonStreamingAnswersFailOverToo() throws Exception {
        var r = gw.post("/chat/completions", chat("resilient", false));
        assertThat(r.statusCode()).isEqualTo(200);
        var json = Json.parse(r.body());
        assertThat(json.at("/choices/0/message/content").asText()).isEqualTo(TEXT);
        assertThat(json.get("id").asText()).isEqualTo("chatcmpl-dying");
    }

    @Test
    void errorModeEndsWithACleanErrorEvent() throws Exception {
        var r = gw.stream(chat("strict", true));
        assertThat(r.endsWithDone()).isFalse();
        var last = Json.parse(r.events().getLast().data());
        assertThat(last.at("/error/code").asText()).isEqualTo("upstream_incomplete");
    }

    @Test
    void simulatedMidStreamFailureIsContinuedWithoutRepeats() throws Exception {
        var r = gw.stream(chat("sim-resilient", true));
        assertThat(r.endsWithDone()).isTrue();
        assertThat(r.text()).isEqualTo(TEXT);
        var record = usage.await(r.headers().firstValue("x-request-id").orElseThrow());
        assertThat(record.attempts()).isEqualTo(3); // sim_a ok, sim_a failed mid-stream, sim_b ok
        assertThat(record.outcome()).isEqualTo("completed");
    }

    @Test
    void aContinuationThatRestartsAShortPartialAnswerIsTrimmed() throws Exception {
        var r = gw.stream(chat("restarts", true));
        assertThat(r.endsWithDone()).isTrue();
        assertThat(r.text()).isEqualTo("Hi there, friend.");
        var continued = restarting.seen.getLast().body;
        assertThat(continued.at("/messages/1/content").asText()).isEqualTo("Hi");
    }
}
