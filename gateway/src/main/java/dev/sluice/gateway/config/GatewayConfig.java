package dev.sluice.gateway.config;

import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * The gateway's whole configuration, as read from YAML (or built from defaults when there is no file).
 *
 * @param host             listen address
 * @param port             listen port (0 picks a free one)
 * @param limits           request and stream limits
 * @param providers        upstreams by name
 * @param models           public model names and the deployments that serve them
 * @param passthroughProvider when set (proxy mode), every model name not otherwise routed goes, unchanged, to this provider
 */
public record GatewayConfig(
        String host,
        int port,
        Limits limits,
        Map<String, ProviderConfig> providers,
        List<ModelRoute> models,
        String passthroughProvider) {

    public GatewayConfig {
        providers = Map.copyOf(providers);
        models = List.copyOf(models);
    }

    /**
     * @param maxBodyBytes     largest request body accepted (413 above)
     * @param keepAlive        interval of SSE keep-alive comments while the upstream is silent
     * @param maxConcurrentStreams concurrent chat requests; more get 429
     */
    public record Limits(int maxBodyBytes, Duration keepAlive, int maxConcurrentStreams) {
        public static final Limits DEFAULTS = new Limits(8 * 1024 * 1024, Duration.ofSeconds(15), 10_000);
    }

    /**
     * An upstream. {@code type} is {@code openai} (any OpenAI-compatible API) or {@code sim}. When
     * {@code forwardClientAuth} is set and there is no api key, the client's own Authorization header is
     * forwarded (proxy mode).
     */
    public record ProviderConfig(
            String name,
            String type,
            String baseUrl,
            String apiKey,
            Map<String, String> headers,
            Timeouts timeouts,
            boolean forwardClientAuth) {

        public ProviderConfig {
            headers = headers == null ? Map.of() : Map.copyOf(headers);
            if (timeouts == null) timeouts = Timeouts.DEFAULTS;
        }

        @Override
        public String toString() {
            // Never print the key.
            return "ProviderConfig[name=" + name + ", type=" + type + ", baseUrl=" + baseUrl + ", apiKey=" + (apiKey == null ? "none" : "***") + "]";
        }
    }

    public record Timeouts(Duration connect, Duration firstByte, Duration idle, Duration total) {
        public static final Timeouts DEFAULTS =
                new Timeouts(Duration.ofSeconds(10), Duration.ofSeconds(120), Duration.ofSeconds(300), Duration.ofMinutes(30));
    }

    public record ModelRoute(String name, List<Deployment> deployments) {
        public ModelRoute {
            deployments = List.copyOf(deployments);
        }
    }

    /** One way to serve a model: a provider, the model name it knows, a weight, and provider options. */
    public record Deployment(String provider, String model, int weight, Map<String, Object> options) {
        public Deployment {
            options = options == null ? Map.of() : Map.copyOf(options);
        }
    }
}
