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
}
