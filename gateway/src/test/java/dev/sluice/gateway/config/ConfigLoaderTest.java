package dev.sluice.gateway.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ConfigLoaderTest {

    static final Map<String, String> ENV = Map.of("OPENAI_API_KEY", "sk-from-env", "TEAM", "search");

    static GatewayConfig parse(String yaml) {
        return new ConfigLoader(ENV::get).parse(yaml, "sluice.yaml");
    }

    @Test
    void fullConfig() {
        var c = parse("""
                listen: 0.0.0.0:9000
                limits: {max_body_bytes: 1024, keepalive: 500ms, max_concurrent_streams: 3}
                providers:
                  openai:
                    type: openai
                    base_url: https://api.openai.com/v1
                    api_key: ${OPENAI_API_KEY}
                    headers: {X-Team: "${TEAM}", X-Optional: "${NOT_SET:-fallback}"}
                    timeouts: {connect: 2s, first_byte: 1m, idle: 90, total: 1h}
                models:
                  - name: smart
                    deployments:
                      - {provider: openai, model: gpt-4o, weight: 3}
                      - {provider: sim, model: lorem, ttft_ms: 10}
                """);
        assertThat(c.host()).isEqualTo("0.0.0.0");
        assertThat(c.port()).isEqualTo(9000);
        assertThat(c.limits()).isEqualTo(new GatewayConfig.Limits(1024, Duration.ofMillis(500), 3));
        assertThat(c.limits().requestTimeout()).isEqualTo(Duration.ofSeconds(60));
        assertThat(c.limits().idleTimeout()).isEqualTo(Duration.ofMinutes(3));
        var timeouts = parse("limits: {request_timeout: 30s, idle_timeout: 0}").limits();
        assertThat(timeouts.requestTimeout()).isEqualTo(Duration.ofSeconds(30));
        assertThat(timeouts.idleTimeout()).isEqualTo(Duration.ZERO);
        var openai = c.providers().get("openai");
        assertThat(openai.apiKey()).isEqualTo("sk-from-env");
        assertThat(openai.headers()).containsEntry("X-Team", "search").containsEntry("X-Optional", "fallback");
        assertThat(openai.timeouts()).isEqualTo(new GatewayConfig.Timeouts(Duration.ofSeconds(2), Duration.ofMinutes(1), Duration.ofSeconds(90), Duration.ofHours(1)));
        assertThat(openai.toString()).doesNotContain("sk-from-env");
        assertThat(c.providers()).containsKey("sim");
        var smart = c.models().getFirst();
        assertThat(smart.deployments()).hasSize(2);
        assertThat(smart.deployments().get(0).weight()).isEqualTo(3);
        assertThat(smart.deployments().get(1).options()).containsEntry("ttft_ms", 10);
    }

    @Test
    void missingVariableIsNamed() {
        assertThatThrownBy(() -> parse("""
                providers:
                  groq: {type: openai, base_url: "https://api.groq.com/openai/v1", api_key: "${GROQ_API_KEY}"}
                """)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("GROQ_API_KEY").hasMessageContaining("providers.groq.api_key");
    }

    @Test
    void mistakesAreExplained() {
        assertThatThrownBy(() -> parse("models: [{name: x, deployments: [{provider: nowhere}]}]"))
                .hasMessageContaining("unknown provider 'nowhere'");
        assertThatThrownBy(() -> parse("providers: {p: {type: openai}}")).hasMessageContaining("base_url is required");
        assertThatThrownBy(() -> parse("providers: {p: {type: carrier-pigeon, base_url: x}}")).hasMessageContaining("unknown provider type");
        assertThatThrownBy(() -> parse("listen: nowhere")).hasMessageContaining("host:port");
        assertThatThrownBy(() -> parse("limits: {keepalive: soon}")).hasMessageContaining("invalid duration");
        assertThatThrownBy(() -> parse("limits: {request_timeout: soon}")).hasMessageContaining("limits.request_timeout");
        assertThatThrownBy(() -> parse("models: [{deployments: []}]")).hasMessageContaining("name is required");
        assertThatThrownBy(() -> parse(": : :")).hasMessageContaining("invalid YAML");
    }

    /** A typo or a wrong type used to fall back to a default silently: no key sent, no limit set, no retries. */
    @Test
    void typosAndWrongTypesAreRefusedWhereTheyAre() {
        assertThatThrownBy(() -> parse("providers: {p: {base_url: http://x/v1, api_kye: k}}"))
                .hasMessage("sluice.yaml: providers.p: unknown key 'api_kye' (did you mean 'api_key'?)");
        assertThatThrownBy(() -> parse("limts: {max_body_bytes: 10}")).hasMessage("sluice.yaml: unknown key 'limts' (did you mean 'limits'?)");
        assertThatThrownBy(() -> parse("tracing: {on: true}")).hasMessageStartingWith("sluice.yaml: unknown key 'tracing' (known: cors, host, limits, listen,");
        assertThatThrownBy(() -> parse("limits: {max_body_bytes: 8MB}")).hasMessage("sluice.yaml: limits.max_body_bytes: must be a whole number, got '8MB'");
        assertThatThrownBy(() -> parse("limits: {max_concurrent_streams: 0}")).hasMessageContaining("limits.max_concurrent_streams: must be between 1 and");
        assertThatThrownBy(() -> parse("limits: 5")).hasMessageContaining("limits must be a mapping");
        assertThatThrownBy(() -> parse("models: [{name: m, retries: two, deployments: [{provider: sim}]}]"))
                .hasMessage("sluice.yaml: models[0].retries: must be a whole number, got 'two'");
        assertThatThrownBy(() -> parse("models: [{name: m, deployments: [{provider: sim, ttft: 5}]}]"))
                .hasMessage("sluice.yaml: models[0].deployments[0]: unknown key 'ttft' (did you mean 'ttft_ms'?)");
        assertThatThrownBy(() -> parse("models: [{name: m, deployments: [{provider: sim, colour: red}]}]"))
                .hasMessage("sluice.yaml: models[0].deployments[0]: unknown key 'colour' (known: fail_after_tokens, fail_rate, fail_status, length, "
                        + "model, provider, retry_after_seconds, tokens_per_second, tool_calls, ttft_ms, weight)");
        assertThatThrownBy(() -> parse("models: [{name: m, deployments: [{provider: sim, ttft_ms: soon}]}]"))
                .hasMessage("sluice.yaml: models[0].deployments[0].ttft_ms: must be a whole number from 0 to 600000");
        assertThatThrownBy(() -> parse("models: [{name: m, deployments: [{provider: sim, length: 2000000000}]}]"))
                .hasMessage("sluice.yaml: models[0].deployments[0].length: must be from 0 to 100000");
        assertThatThrownBy(() -> parse("providers: {p: {base_url: http://x/v1}}\nmodels: [{name: m, deployments: [{provider: p, continuation: resume}]}]"))
                .hasMessage("sluice.yaml: models[0].deployments[0].continuation: unknown 'resume' (prefill, continue_final_message, reask)");
        assertThatThrownBy(() -> parse("providers: {p: {base_url: http://x/v1, always_stream: yes-please}}"))
                .hasMessage("sluice.yaml: providers.p.always_stream: must be true or false, got 'yes-please'");
        assertThatThrownBy(() -> parse("providers: {p: {base_url: http://x/v1, timeouts: {firstbyte: 1s}}}"))
                .hasMessage("sluice.yaml: providers.p.timeouts: unknown key 'firstbyte' (did you mean 'first_byte'?)");
        assertThatThrownBy(() -> parse("models: [{name: m, provider: sim, strategy: ordered, wieght: 2}]"))
                .hasMessage("sluice.yaml: models[0]: unknown key 'wieght' (did you mean 'weight'?)");
        // Values from ${VAR} are strings: numbers and flags written that way are read as such.
        var c = new ConfigLoader(Map.of("RETRIES", "4", "STREAM", "true")::get).parse("""
                providers: {p: {base_url: http://x/v1, always_stream: "${STREAM}"}}
                models: [{name: m, retries: "${RETRIES}", deployments: [{provider: p, continuation: reask}]}]
                """, "sluice.yaml");
        assertThat(c.models().getFirst().policy().maxRetries()).isEqualTo(4);
        assertThat(c.providers().get("p").alwaysStream()).isTrue();
        // The single-deployment form takes route and deployment keys together.
        assertThat(parse("models: [{name: m, provider: sim, model: echo, retries: 1, ttft_ms: 0}]").models().getFirst().deployments().getFirst().model())
                .isEqualTo("echo");
    }

    /** The README's configuration example is what a newcomer copies: it must load under the strict reading. */
    @Test
    void theReadmesExampleLoads() throws Exception {
        var readme = java.nio.file.Path.of("..", "README.md");
        var text = java.nio.file.Files.readString(readme);
        int start = text.indexOf("```yaml\nlisten:");
        assertThat(start).as("the README's configuration example").isNotNegative();
        var yaml = text.substring(start + "```yaml\n".length(), text.indexOf("```", start + 7));
        var c = parse(yaml);
        assertThat(c.providers()).containsKeys("openai", "local", "sim");
        assertThat(c.models()).extracting(GatewayConfig.ModelRoute::name).containsExactly("smart", "demo");
        // Each storage line of the Storage section on its own.
        int storage = text.indexOf("```yaml\nstorage:");
        assertThat(storage).isNotNegative();
        for (var line : text.substring(storage + 8, text.indexOf("```", storage + 7)).strip().lines().toList()) {
            assertThat(new ConfigLoader(Map.of("PGPASSWORD", "x")::get).parse(line, "README").storage()).isNotNull();
        }
    }

    @Test
    void defaultsFindProvidersByTheirKeys() {
        var c = new ConfigLoader(Map.of("OPENROUTER_API_KEY", "or-key")::get).defaults();
        assertThat(c.providers()).containsOnlyKeys("sim", "openrouter");
        assertThat(c.providers().get("openrouter").baseUrl()).isEqualTo("https://openrouter.ai/api/v1");
        assertThat(c.port()).isEqualTo(8080);
        assertThat(c.host()).isEqualTo("127.0.0.1");
    }

    @Test
    void proxyModeForwardsClientAuthOnlyWithoutAKey() {
        var base = new ConfigLoader(k -> null).defaults();
        var open = ConfigLoader.proxy(base, "http://127.0.0.1:11434/v1", null);
        assertThat(open.passthroughProvider()).isEqualTo("upstream");
        assertThat(open.providers().get("upstream").forwardClientAuth()).isTrue();
        var keyed = ConfigLoader.proxy(base, "http://127.0.0.1:11434/v1", "k");
        assertThat(keyed.providers().get("upstream").forwardClientAuth()).isFalse();
        assertThat(keyed.providers().get("upstream").apiKey()).isEqualTo("k");
    }
}
