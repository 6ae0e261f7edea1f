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
 * @param storage          where the Assistants API keeps threads, messages, runs and run events
 * @param cors             which browser apps' origins may call the gateway (none by default)
 */
public record GatewayConfig(
        String host,
        int port,
        Limits limits,
        Map<String, ProviderConfig> providers,
        List<ModelRoute> models,
        String passthroughProvider,
        Storage storage,
        Cors cors) {

    public GatewayConfig {
        providers = Map.copyOf(providers);
        models = List.copyOf(models);
        if (storage == null) storage = Storage.MEMORY;
        if (cors == null) cors = Cors.OFF;
    }

    /** A configuration without a cors section: no browser app of another origin may call the gateway. */
    public GatewayConfig(String host, int port, Limits limits, Map<String, ProviderConfig> providers, List<ModelRoute> models, String passthroughProvider,
            Storage storage) {
        this(host, port, limits, providers, models, passthroughProvider, storage, Cors.OFF);
    }

    /** A configuration without a storage section: the Assistants API keeps its data in memory only. */
    public GatewayConfig(String host, int port, Limits limits, Map<String, ProviderConfig> providers, List<ModelRoute> models, String passthroughProvider) {
        this(host, port, limits, providers, models, passthroughProvider, Storage.MEMORY);
    }

    /**
     * Assistants storage. {@code type} is {@code sqlite} (one file at {@code path}, the default
     * {@code .sluice/sluice.db}), {@code postgres} ({@code url}, {@code user}, {@code password}) or
     * {@code memory} (SQLite in memory, gone at exit; what a config built in code without storage gets).
     */
    public record Storage(String type, String path, String url, String user, String password) {
        public static final Storage DEFAULT = new Storage("sqlite", ".sluice/sluice.db", null, null, null);
        public static final Storage MEMORY = new Storage("memory", null, null, null, null);

        @Override
        public String toString() {
            return "Storage[type=" + type + ", path=" + path + ", url=" + url + ", user=" + user + ", password=" + (password == null ? "none" : "***") + "]";
        }
    }

    /**
     * Cross-origin access for browser apps. With no origin listed (the default) no CORS header is sent at all.
     *
     * @param allowOrigins origins whose pages may call the gateway ({@code https://app.example}), or {@code "*"} for any
     * @param maxAge       how long a browser may reuse a preflight's answer
     */
    public record Cors(List<String> allowOrigins, Duration maxAge) {
        public static final Cors OFF = new Cors(List.of(), null);

        public Cors {
            allowOrigins = List.copyOf(allowOrigins);
            if (maxAge == null) maxAge = Duration.ofMinutes(10);
        }
    }

    /**
     * @param maxBodyBytes     largest request body accepted (413 above)
     * @param keepAlive        interval of SSE keep-alive comments while the upstream is silent
     * @param maxConcurrentStreams concurrent chat requests; more get 429
     * @param requestTimeout   longest time from a request's first byte to its last; past it 408 and the connection
     *                         closes (slow or stalled clients). Zero turns it off. Never applies while answering
     * @param idleTimeout      how long a kept-alive connection may wait for its next request before it is closed.
     *                         Longer than the 60 s idle timeouts of common load balancers and proxies in front,
     *                         so they close first and never reuse a connection the gateway is closing
     */
    public record Limits(int maxBodyBytes, Duration keepAlive, int maxConcurrentStreams, Duration requestTimeout, Duration idleTimeout) {
        /** With the default request and idle timeouts, which the compact constructor fills in. */
        public static final Limits DEFAULTS = new Limits(8 * 1024 * 1024, Duration.ofSeconds(15), 10_000);

        public Limits {
            if (requestTimeout == null) requestTimeout = Duration.ofSeconds(60);
            if (idleTimeout == null) idleTimeout = Duration.ofMinutes(3);
        }

        /** The default request and idle timeouts. */
        public Limits(int maxBodyBytes, Duration keepAlive, int maxConcurrentStreams) {
            this(maxBodyBytes, keepAlive, maxConcurrentStreams, null, null);
        }
    }

    /**
     * An upstream. {@code type} is {@code openai} (any OpenAI-compatible API) or {@code sim}. When
     * {@code forwardClientAuth} is set and there is no api key, the client's own Authorization header is
     * forwarded (proxy mode). A request whose client does not stream is sent upstream without streaming too
     * (one JSON body to read instead of a stream of chunks), unless {@code alwaysStream} is set: then every
     * request is streamed from the upstream, which keeps the first-byte and idle timeouts (stall detection) and
     * mid-answer continuation for non-streaming clients as well. {@code maxTokensField} is the name this
     * upstream knows the completion token limit by (see {@link #defaultMaxTokensField}).
     */
    public record ProviderConfig(
            String name,
            String type,
            String baseUrl,
            String apiKey,
            Map<String, String> headers,
            Timeouts timeouts,
            boolean forwardClientAuth,
            boolean alwaysStream,
            boolean eventLoop,
            String maxTokensField) {

        public ProviderConfig {
            headers = headers == null ? Map.of() : Map.copyOf(headers);
            if (timeouts == null) timeouts = Timeouts.DEFAULTS;
            if (maxTokensField == null) maxTokensField = defaultMaxTokensField(baseUrl);
        }

        /** Relayed on the client connection's event loop, the default. */
        public ProviderConfig(String name, String type, String baseUrl, String apiKey, Map<String, String> headers, Timeouts timeouts,
                boolean forwardClientAuth, boolean alwaysStream) {
            this(name, type, baseUrl, apiKey, headers, timeouts, forwardClientAuth, alwaysStream, true, null);
        }

        /**
         * OpenAI's own API (and Azure's) takes {@code max_completion_tokens}, and its reasoning models refuse
         * {@code max_tokens}; most other OpenAI-compatible servers (Mistral, DeepSeek, Ollama, Together, older
         * vLLM and llama.cpp) know only {@code max_tokens}.
         */
        public static String defaultMaxTokensField(String baseUrl) {
            String host = null;
            try {
                host = baseUrl == null ? null : java.net.URI.create(baseUrl).getHost();
            } catch (IllegalArgumentException e) {
                // not a URL: the common name
            }
            if (host == null) return "max_tokens";
            host = host.toLowerCase(java.util.Locale.ROOT);
            return host.equals("api.openai.com") || host.endsWith(".openai.azure.com") ? "max_completion_tokens" : "max_tokens";
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

    public record ModelRoute(String name, List<Deployment> deployments, RoutePolicy policy) {
        public ModelRoute {
            deployments = List.copyOf(deployments);
            if (policy == null) policy = RoutePolicy.DEFAULTS;
        }
    }

    /** How the first attempt is chosen among a route's deployments. */
    public enum Strategy { ORDERED, WEIGHTED, LEAST_IN_FLIGHT }

    /** What happens when an upstream fails after the first byte reached the client. */
    public enum MidStream { CONTINUE, ERROR }

    /**
     * A route's resilience settings.
     *
     * @param strategy         first choice among healthy deployments; the rest follow as fallbacks
     * @param maxRetries       retries of one deployment before falling back to the next (before the first byte)
     * @param initialBackoff   first retry delay, doubled each time with jitter, capped by {@code maxBackoff}
     * @param maxRetryAfter    a Retry-After longer than this skips to the next deployment instead of waiting
     * @param cooldownFailures consecutive failures that put a deployment in cooldown
     * @param cooldown         how long a cooled-down deployment is tried only as a last resort
     * @param midStream        continue the answer on another deployment, or end with an error event
     * @param timeouts         overrides of the providers' timeouts for this route, or null
     */
    public record RoutePolicy(
            Strategy strategy,
            int maxRetries,
            Duration initialBackoff,
            Duration maxBackoff,
            Duration maxRetryAfter,
            int cooldownFailures,
            Duration cooldown,
            MidStream midStream,
            Timeouts timeouts) {
        public static final RoutePolicy DEFAULTS = new RoutePolicy(Strategy.ORDERED, 2, Duration.ofMillis(250), Duration.ofSeconds(4),
                Duration.ofSeconds(10), 3, Duration.ofSeconds(30), MidStream.CONTINUE, null);
    }

    /** One way to serve a model: a provider, the model name it knows, a weight, and provider options. */
    public record Deployment(String provider, String model, int weight, Map<String, Object> options) {
        public Deployment {
            options = options == null ? Map.of() : Map.copyOf(options);
        }
    }
}
