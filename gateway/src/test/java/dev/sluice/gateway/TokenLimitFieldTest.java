package dev.sluice.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.gateway.config.GatewayConfig.ProviderConfig;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The completion token limit reaches each upstream under the name it knows. OpenAI's reasoning models refuse
 * {@code max_tokens}; Mistral, DeepSeek, Ollama and others ignore {@code max_completion_tokens}, which would
 * silently lift the limit.
 */
class TokenLimitFieldTest {

    static final String SSE = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"ok\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
    static FakeUpstream upstream;
    static TestGateway gw;

    @BeforeAll
    static void start() throws Exception {
        upstream = new FakeUpstream(b -> FakeUpstream.Reply.sse(SSE.getBytes(StandardCharsets.UTF_8), 4096, 0));
        gw = TestGateway.yaml("""
                storage: {type: memory}
                providers:
                  classic: {type: openai, base_url: "%1$s"}
                  current: {type: openai, base_url: "%1$s", max_tokens_field: max_completion_tokens}
                """.formatted(upstream.baseUrl()));
    }

    @AfterAll
    static void stop() throws Exception {
        gw.close();
        upstream.close();
    }

    static JsonNode sent(String path, String body) throws Exception {
        var r = gw.post(path, body);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return upstream.seen.getLast().body;
    }

    @Test
    void eachUpstreamGetsTheNameItKnows() throws Exception {
        // Responses' max_output_tokens: OpenAI's current name, or the classic one.
        var responses = "{\"model\":\"%s/m\",\"input\":\"hi\",\"max_output_tokens\":16}";
        var current = sent("/responses", responses.formatted("current"));
        assertThat(current.get("max_completion_tokens").asInt()).isEqualTo(16);
        assertThat(current.has("max_tokens")).isFalse();
        var classic = sent("/responses", responses.formatted("classic"));
        assertThat(classic.get("max_tokens").asInt()).isEqualTo(16);
        assertThat(classic.has("max_completion_tokens")).isFalse();

        // A chat client's max_completion_tokens is renamed for a classic upstream; its max_tokens is never touched.
        var chat = "{\"model\":\"%s/m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"%s\":7}";
        assertThat(sent("/chat/completions", chat.formatted("classic", "max_completion_tokens")).get("max_tokens").asInt()).isEqualTo(7);
        assertThat(sent("/chat/completions", chat.formatted("current", "max_completion_tokens")).get("max_completion_tokens").asInt()).isEqualTo(7);
        var faithful = sent("/chat/completions", chat.formatted("current", "max_tokens"));
        assertThat(faithful.get("max_tokens").asInt()).isEqualTo(7);
        assertThat(faithful.has("max_completion_tokens")).isFalse();
    }

    @Test
    void theDefaultFollowsTheHost() {
        assertThat(ProviderConfig.defaultMaxTokensField("https://api.openai.com/v1")).isEqualTo("max_completion_tokens");
        assertThat(ProviderConfig.defaultMaxTokensField("https://my-team.openai.azure.com/openai/v1")).isEqualTo("max_completion_tokens");
        assertThat(ProviderConfig.defaultMaxTokensField("https://api.mistral.ai/v1")).isEqualTo("max_tokens");
        assertThat(ProviderConfig.defaultMaxTokensField("http://127.0.0.1:11434/v1")).isEqualTo("max_tokens");
        assertThat(ProviderConfig.defaultMaxTokensField(null)).isEqualTo("max_tokens");
    }
}
