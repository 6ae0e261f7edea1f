package dev.sluice.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.gateway.config.ConfigLoader;
import dev.sluice.wire.json.Json;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@code sluice serve --upstream URL}: every model name, unchanged, to one upstream. */
class ProxyModeTest {

    static final String BODY = "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"llama3:8b\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hi\"},\"finish_reason\":null}]}\n\n"
            + "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"llama3:8b\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";

    @Test
    void routesEveryModelUnchangedAndForwardsTheClientsKey() throws Exception {
        try (var upstream = new FakeUpstream(b -> FakeUpstream.Reply.sse(BODY.getBytes(StandardCharsets.UTF_8), 50, 0));
             var gw = new TestGateway(ConfigLoader.proxy(new ConfigLoader(k -> null).defaults(), upstream.baseUrl(), null))) {
            var r = gw.post("/chat/completions", "{\"model\":\"llama3:8b\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"keep_alive\":\"5m\"}",
                    Map.of("Authorization", "Bearer client-own-key"));
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(Json.parse(r.body()).at("/choices/0/message/content").asText()).isEqualTo("Hi");
            var seen = upstream.seen.getLast();
            assertThat(seen.body.get("model").asText()).isEqualTo("llama3:8b");
            assertThat(seen.body.get("keep_alive").asText()).as("provider-specific fields pass through").isEqualTo("5m");
            assertThat(seen.headers.get("authorization")).isEqualTo("Bearer client-own-key");
            assertThat(seen.requestLine).startsWith("POST /v1/chat/completions ");
            // The simulator stays reachable by its own prefix.
            assertThat(gw.post("/chat/completions", "{\"model\":\"sim/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"sim\":{\"ttft_ms\":0}}").statusCode()).isEqualTo(200);
        }
    }

    @Test
    void configuredKeyReplacesTheClientsOwn() throws Exception {
        try (var upstream = new FakeUpstream(b -> FakeUpstream.Reply.sse(BODY.getBytes(StandardCharsets.UTF_8), 50, 0));
             var gw = new TestGateway(ConfigLoader.proxy(new ConfigLoader(k -> null).defaults(), upstream.baseUrl(), "sk-gateway"))) {
            gw.post("/chat/completions", "{\"model\":\"any\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", Map.of("Authorization", "Bearer client-own-key"));
            assertThat(upstream.seen.getLast().headers.get("authorization")).isEqualTo("Bearer sk-gateway");
        }
    }
    /**
     * A 401 or 403 says whose key was wrong. The client's own forwarded key: relayed as it came, so its SDK raises
     * an authentication error. The gateway's key: a 502 that names the deployment, because the client can do
     * nothing about it, and with a route of several deployments the next one answers instead.
     */
    @Test
    void aRejectedKeyIsTheClientsOnlyWhenTheClientSentIt() throws Exception {
        var refusal = "{\"error\":{\"message\":\"Incorrect API key provided\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"invalid_api_key\"}}";
        var chat = "{\"model\":\"any\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}";
        for (boolean stream : new boolean[] {false, true}) {
            var body = chat.replace("}]}", "}],\"stream\":" + stream + "}");
            try (var upstream = new FakeUpstream(b -> FakeUpstream.Reply.json(401, refusal, Map.of()));
                 var forwarding = new TestGateway(ConfigLoader.proxy(new ConfigLoader(k -> null).defaults(), upstream.baseUrl(), null));
                 var keyed = new TestGateway(ConfigLoader.proxy(new ConfigLoader(k -> null).defaults(), upstream.baseUrl(), "sk-gateway"))) {
                var clients = forwarding.post("/chat/completions", body, Map.of("Authorization", "Bearer client-own-key"));
                assertThat(clients.statusCode()).isEqualTo(401);
                assertThat(Json.parse(clients.body()).at("/error/code").asText()).isEqualTo("invalid_api_key");

                int before = upstream.seen.size();
                var gateways = keyed.post("/chat/completions", body, Map.of("Authorization", "Bearer client-own-key"));
                assertThat(gateways.statusCode()).isEqualTo(502);
                var error = Json.parse(gateways.body()).get("error");
                assertThat(error.get("code").asText()).isEqualTo("upstream_auth_failed");
                assertThat(error.get("message").asText()).contains("refused the gateway's credentials (HTTP 401)").contains("Incorrect API key provided");
                assertThat(upstream.seen.size() - before).as("a rejected key is not retried").isEqualTo(1);
                assertThat(gateways.headers().firstValue("x-sluice-attempts").orElseThrow()).endsWith("=401");
            }
        }
        try (var revoked = new FakeUpstream(b -> FakeUpstream.Reply.json(403, "{\"error\":{\"message\":\"key revoked\"}}", Map.of()));
             var healthy = new FakeUpstream(b -> FakeUpstream.Reply.sse(BODY.getBytes(StandardCharsets.UTF_8), 50, 0));
             var gw = TestGateway.yaml("""
                     providers:
                       revoked: {type: openai, base_url: "%s", api_key: sk-old}
                       healthy: {type: openai, base_url: "%s", api_key: sk-new}
                     models:
                       - name: m
                         deployments: [{provider: revoked, model: a}, {provider: healthy, model: b}]
                     """.formatted(revoked.baseUrl(), healthy.baseUrl()))) {
            var r = gw.post("/chat/completions", "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
            assertThat(r.headers().firstValue("x-sluice-attempts").orElseThrow()).isEqualTo("revoked/a=403, healthy/b=ok");
        }
    }
}
