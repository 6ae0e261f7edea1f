package dev.sluice.gateway.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.sluice.gateway.config.GatewayConfig.Deployment;
import dev.sluice.gateway.config.GatewayConfig.Limits;
import dev.sluice.gateway.config.GatewayConfig.ModelRoute;
import dev.sluice.gateway.config.GatewayConfig.ProviderConfig;
import dev.sluice.gateway.config.GatewayConfig.Timeouts;
import dev.sluice.gateway.provider.sim.SimSettings;
import dev.sluice.wire.json.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads the YAML configuration, substituting {@code ${ENV}} and {@code ${ENV:-default}} in string values,
 * and builds the defaults used when there is no file: the {@code sim} provider always, plus every
 * well-known provider whose API key is in the environment.
 */
public final class ConfigLoader {

    /** Providers recognised by their API key variable when no config file says otherwise. */
    static final List<String[]> KNOWN_PROVIDERS = List.of(
            new String[] {"openai", "OPENAI_API_KEY", "https://api.openai.com/v1"},
            new String[] {"openrouter", "OPENROUTER_API_KEY", "https://openrouter.ai/api/v1"},
            new String[] {"groq", "GROQ_API_KEY", "https://api.groq.com/openai/v1"},
            new String[] {"deepseek", "DEEPSEEK_API_KEY", "https://api.deepseek.com/v1"},
            new String[] {"mistral", "MISTRAL_API_KEY", "https://api.mistral.ai/v1"},
            new String[] {"together", "TOGETHER_API_KEY", "https://api.together.xyz/v1"});

    private static final Pattern VARIABLE = Pattern.compile("\\$\\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?}");

    private final Function<String, String> env;

    public ConfigLoader() {
        this(System::getenv);
    }

    public ConfigLoader(Function<String, String> env) {
        this.env = env;
    }

    public GatewayConfig load(Path file) {
        try {
            return parse(Files.readString(file), file.toString());
        } catch (IOException e) {
            throw new ConfigException("cannot read config " + file + ": " + e.getMessage());
        }
    }

    public GatewayConfig parse(String yaml, String source) {
        JsonNode root;
        try {
            root = new ObjectMapper(new YAMLFactory()).readTree(yaml);
        } catch (IOException e) {
            throw new ConfigException(source + ": invalid YAML: " + e.getMessage());
        }
        if (root == null || root.isNull() || root.isMissingNode()) root = Json.object();
        if (!root.isObject()) throw new ConfigException(source + ": the top level must be a mapping");
        return build(substitute(root, source, "") , source);
    }

    /** The configuration with no file: sim plus providers found by their API key variables. */
    public GatewayConfig defaults() {
        var providers = new LinkedHashMap<String, ProviderConfig>();
        providers.put("sim", new ProviderConfig("sim", "sim", null, null, Map.of(), null, false, false));
        for (var known : KNOWN_PROVIDERS) {
            var key = env.apply(known[1]);
            if (key != null && !key.isBlank()) {
                providers.put(known[0], new ProviderConfig(known[0], "openai", known[2], key, Map.of(), null, false, false));
            }
        }
        return new GatewayConfig("127.0.0.1", 8080, Limits.DEFAULTS, providers, List.of(), null, GatewayConfig.Storage.DEFAULT);
    }

    /** Proxy mode: every model name, unchanged, to one OpenAI-compatible upstream. */
    public static GatewayConfig proxy(GatewayConfig base, String upstreamUrl, String upstreamKey) {
        var providers = new LinkedHashMap<>(base.providers());
        boolean forwardAuth = upstreamKey == null || upstreamKey.isBlank();
        providers.put("upstream", new ProviderConfig("upstream", "openai", upstreamUrl, forwardAuth ? null : upstreamKey, Map.of(), null, forwardAuth, false));
        return new GatewayConfig(base.host(), base.port(), base.limits(), providers, base.models(), "upstream", base.storage(), base.cors());
    }

    static final List<String> TOP_KEYS = List.of("listen", "host", "port", "limits", "providers", "models", "passthrough_provider", "storage", "cors");
    static final List<String> LIMIT_KEYS = List.of("max_body_bytes", "keepalive", "max_concurrent_streams", "request_timeout", "idle_timeout");
    static final List<String> PROVIDER_KEYS = List.of("type", "base_url", "api_key", "headers", "timeouts", "forward_client_auth", "always_stream", "event_loop",
            "max_tokens_field");
    static final List<String> TIMEOUT_KEYS = List.of("connect", "first_byte", "idle", "total");
    static final List<String> ROUTE_KEYS = List.of("name", "deployments", "strategy", "retries", "backoff", "max_backoff", "max_retry_after",
            "cooldown_failures", "cooldown", "on_midstream_failure", "timeouts");
    static final List<String> DEPLOYMENT_KEYS = List.of("provider", "model", "weight");
    /** Deployment options by provider type: how an OpenAI-compatible one continues a cut answer; the simulator's behaviour. */
    static final List<String> OPENAI_OPTIONS = List.of("continuation");
    static final List<String> CONTINUATIONS = List.of("prefill", "continue_final_message", "reask");
    static final List<String> SIM_OPTIONS = SimSettings.KEYS;
    static final List<String> STORAGE_KEYS = List.of("type", "path", "url", "user", "password");

    private GatewayConfig build(JsonNode root, String source) {
        ConfigNodes.onlyKeys(root, source, TOP_KEYS);
        var base = defaults();
        String host = base.host();
        int port = base.port();
        var listen = root.path("listen");
        if (!listen.isMissingNode() && !listen.isTextual()) throw new ConfigException(source + ": listen must be host:port, got " + listen);
        if (listen.isTextual()) {
            var text = listen.asText();
            int colon = text.lastIndexOf(':');
            if (colon < 0) throw new ConfigException(source + ": listen must be host:port, got '" + text + "'");
            host = text.substring(0, colon);
            port = parsePort(text.substring(colon + 1), source);
        }
        if (root.has("host")) host = ConfigNodes.text(root.get("host"), source + ": host");
        if (root.has("port")) port = parsePort(ConfigNodes.text(root.get("port"), source + ": port"), source);

        var l = ConfigNodes.mapping(root.get("limits"), source + ": limits");
        ConfigNodes.onlyKeys(l, source + ": limits", LIMIT_KEYS);
        var limits = new Limits(
                l.has("max_body_bytes") ? ConfigNodes.integer(l.get("max_body_bytes"), source + ": limits.max_body_bytes", 1, Integer.MAX_VALUE) : Limits.DEFAULTS.maxBodyBytes(),
                l.has("keepalive") ? duration(l.get("keepalive"), source + ": limits.keepalive") : Limits.DEFAULTS.keepAlive(),
                l.has("max_concurrent_streams") ? ConfigNodes.integer(l.get("max_concurrent_streams"), source + ": limits.max_concurrent_streams", 1, Integer.MAX_VALUE)
                        : Limits.DEFAULTS.maxConcurrentStreams(),
                l.has("request_timeout") ? duration(l.get("request_timeout"), source + ": limits.request_timeout") : Limits.DEFAULTS.requestTimeout(),
                l.has("idle_timeout") ? duration(l.get("idle_timeout"), source + ": limits.idle_timeout") : Limits.DEFAULTS.idleTimeout());

        var providers = new LinkedHashMap<>(base.providers());
        var p = root.path("providers");
        if (!p.isMissingNode() && !p.isObject()) throw new ConfigException(source + ": providers must be a mapping of name to provider");
        for (var it = p.properties().iterator(); it.hasNext(); ) {
            var e = it.next();
            providers.put(e.getKey(), provider(e.getKey(), e.getValue(), source + ": providers." + e.getKey()));
        }

        var models = new ArrayList<ModelRoute>();
        var m = root.path("models");
        if (!m.isMissingNode() && !m.isArray()) throw new ConfigException(source + ": models must be a list");
        int i = 0;
        for (var model : m) {
            var where = source + ": models[" + i++ + "]";
            if (!model.isObject()) throw new ConfigException(where + " must be a mapping (name, deployments, ...)");
            var name = model.has("name") ? ConfigNodes.text(model.get("name"), where + ".name") : null;
            if (name == null || name.isBlank()) throw new ConfigException(where + ": name is required");
            var deployments = new ArrayList<Deployment>();
            boolean listed = model.has("deployments");
            if (listed && !model.get("deployments").isArray()) throw new ConfigException(where + ".deployments must be a list");
            if (listed) ConfigNodes.onlyKeys(model, where, ROUTE_KEYS);
            // Without a deployments list the entry is its own single deployment.
            var list = listed ? model.get("deployments") : Json.NODES.arrayNode().add(model);
            int j = 0;
            for (var d : list) {
                var dWhere = listed ? where + ".deployments[" + j++ + "]" : where;
                if (!d.isObject()) throw new ConfigException(dWhere + " must be a mapping (provider, model, ...)");
                var provider = d.has("provider") ? ConfigNodes.text(d.get("provider"), dWhere + ".provider") : null;
                if (provider == null) throw new ConfigException(dWhere + ": provider is required");
                if (!providers.containsKey(provider)) {
                    throw new ConfigException(dWhere + ": unknown provider '" + provider + "' (configured: " + providers.keySet() + ")");
                }
                var optionKeys = providers.get(provider).type().equals("sim") ? SIM_OPTIONS : OPENAI_OPTIONS;
                var known = new ArrayList<>(DEPLOYMENT_KEYS);
                known.addAll(optionKeys);
                if (!listed) known.addAll(ROUTE_KEYS);
                ConfigNodes.onlyKeys(d, dWhere, known);
                var options = new LinkedHashMap<String, Object>();
                for (var it = d.properties().iterator(); it.hasNext(); ) {
                    var f = it.next();
                    if (optionKeys.contains(f.getKey())) {
                        checkOption(f.getKey(), f.getValue(), dWhere + "." + f.getKey());
                        options.put(f.getKey(), Json.MAPPER.convertValue(f.getValue(), Object.class));
                    }
                }
                var upstreamModel = d.has("model") ? ConfigNodes.text(d.get("model"), dWhere + ".model") : name;
                int weight = d.has("weight") ? ConfigNodes.integer(d.get("weight"), dWhere + ".weight", 0, 1_000_000) : 1;
                deployments.add(new Deployment(provider, upstreamModel, weight, options));
            }
            if (deployments.isEmpty()) throw new ConfigException(where + ": at least one deployment is required");
            models.add(new ModelRoute(name, deployments, policy(model, where)));
        }
        String passthrough = root.has("passthrough_provider") ? ConfigNodes.text(root.get("passthrough_provider"), source + ": passthrough_provider") : null;
        if (passthrough != null && !providers.containsKey(passthrough)) {
            throw new ConfigException(source + ": passthrough_provider '" + passthrough + "' is not a configured provider");
        }
        return new GatewayConfig(host, port, limits, providers, models, passthrough, storage(root.path("storage"), source + ": storage"),
                cors(root.path("cors"), source + ": cors"));
    }

    /** An origin as browsers send it: scheme://host[:port], nothing after. */
    private static final Pattern ORIGIN = Pattern.compile("[a-z][a-z0-9+.-]*://[^/?#\\s]+");

    private static GatewayConfig.Cors cors(JsonNode node, String where) {
        if (node.isMissingNode() || node.isNull()) return GatewayConfig.Cors.OFF;
        if (!node.isObject()) throw new ConfigException(where + " must be a mapping");
        ConfigNodes.onlyKeys(node, where, List.of("allow_origins", "max_age"));
        var list = node.path("allow_origins");
        if (list.isTextual()) list = Json.NODES.arrayNode().add(list);
        if (!list.isMissingNode() && !list.isArray()) throw new ConfigException(where + ".allow_origins must be a list of origins");
        var origins = new ArrayList<String>();
        for (var item : list) {
            // Browsers send scheme and host in lower case, and no trailing slash.
            var origin = item.asText().trim().toLowerCase(java.util.Locale.ROOT);
            if (origin.endsWith("/")) origin = origin.substring(0, origin.length() - 1);
            if (!origin.equals("*") && !ORIGIN.matcher(origin).matches()) {
                throw new ConfigException(where + ".allow_origins: '" + item.asText() + "' is not an origin (scheme://host[:port], e.g. https://app.example) or *");
            }
            origins.add(origin);
        }
        var maxAge = node.has("max_age") ? duration(node.get("max_age"), where + ".max_age") : null;
        return new GatewayConfig.Cors(origins, maxAge);
    }

    /** A deployment option's value, checked where it is written rather than when a request first uses it. */
    private static void checkOption(String key, JsonNode value, String where) {
        switch (key) {
            case "continuation" -> ConfigNodes.oneOf(value, where, CONTINUATIONS);
            default -> {
                var problem = SimSettings.problem(key, value);
                if (problem != null) throw new ConfigException(where + ": " + problem);
            }
        }
    }

    private static GatewayConfig.Storage storage(JsonNode node, String where) {
        if (node.isMissingNode() || node.isNull()) return GatewayConfig.Storage.DEFAULT;
        if (!node.isObject()) throw new ConfigException(where + " must be a mapping");
        ConfigNodes.onlyKeys(node, where, STORAGE_KEYS);
        var type = node.path("type").asText("sqlite");
        return switch (type) {
            case "sqlite" -> new GatewayConfig.Storage("sqlite", node.path("path").asText(GatewayConfig.Storage.DEFAULT.path()), null, null, null);
            case "memory" -> GatewayConfig.Storage.MEMORY;
            case "postgres", "postgresql" -> {
                var url = node.path("url").asText(null);
                if (url == null || !url.startsWith("jdbc:postgresql:")) {
                    throw new ConfigException(where + ".url is required for postgres storage (jdbc:postgresql://host:5432/db)");
                }
                yield new GatewayConfig.Storage("postgres", null, url, node.path("user").asText(null), node.path("password").asText(null));
            }
            default -> throw new ConfigException(where + ".type: unknown storage type '" + type + "' (use sqlite, postgres or memory)");
        };
    }

    private static GatewayConfig.RoutePolicy policy(JsonNode model, String where) {
        var d = GatewayConfig.RoutePolicy.DEFAULTS;
        var strategy = d.strategy();
        if (model.has("strategy")) {
            strategy = switch (model.get("strategy").asText()) {
                case "ordered", "fallback" -> GatewayConfig.Strategy.ORDERED;
                case "weighted" -> GatewayConfig.Strategy.WEIGHTED;
                case "least_in_flight" -> GatewayConfig.Strategy.LEAST_IN_FLIGHT;
                default -> throw new ConfigException(where + ".strategy: unknown '" + model.get("strategy").asText() + "' (ordered, weighted or least_in_flight)");
            };
        }
        var midStream = d.midStream();
        if (model.has("on_midstream_failure")) {
            midStream = switch (model.get("on_midstream_failure").asText()) {
                case "continue" -> GatewayConfig.MidStream.CONTINUE;
                case "error" -> GatewayConfig.MidStream.ERROR;
                default -> throw new ConfigException(where + ".on_midstream_failure: use continue or error");
            };
        }
        GatewayConfig.Timeouts timeouts = null;
        if (model.has("timeouts")) timeouts = timeouts(model.get("timeouts"), where + ".timeouts", Timeouts.DEFAULTS);
        return new GatewayConfig.RoutePolicy(
                strategy,
                model.has("retries") ? ConfigNodes.integer(model.get("retries"), where + ".retries", 0, 100) : d.maxRetries(),
                model.has("backoff") ? duration(model.get("backoff"), where + ".backoff") : d.initialBackoff(),
                model.has("max_backoff") ? duration(model.get("max_backoff"), where + ".max_backoff") : d.maxBackoff(),
                model.has("max_retry_after") ? duration(model.get("max_retry_after"), where + ".max_retry_after") : d.maxRetryAfter(),
                model.has("cooldown_failures") ? ConfigNodes.integer(model.get("cooldown_failures"), where + ".cooldown_failures", 0, 1_000_000) : d.cooldownFailures(),
                model.has("cooldown") ? duration(model.get("cooldown"), where + ".cooldown") : d.cooldown(),
                midStream,
                timeouts);
    }

    private static Timeouts timeouts(JsonNode node, String where, Timeouts d) {
        var t = ConfigNodes.mapping(node, where);
        ConfigNodes.onlyKeys(t, where, TIMEOUT_KEYS);
        return new Timeouts(
                t.has("connect") ? duration(t.get("connect"), where + ".connect") : d.connect(),
                t.has("first_byte") ? duration(t.get("first_byte"), where + ".first_byte") : d.firstByte(),
                t.has("idle") ? duration(t.get("idle"), where + ".idle") : d.idle(),
                t.has("total") ? duration(t.get("total"), where + ".total") : d.total());
    }

    private static ProviderConfig provider(String name, JsonNode node, String where) {
        if (!node.isObject()) throw new ConfigException(where + " must be a mapping (type, base_url, ...)");
        ConfigNodes.onlyKeys(node, where, PROVIDER_KEYS);
        var type = node.has("type") ? ConfigNodes.text(node.get("type"), where + ".type") : "openai";
        if (!type.equals("openai") && !type.equals("sim")) {
            throw new ConfigException(where + ".type: unknown provider type '" + type + "' (use openai or sim)");
        }
        var baseUrl = node.has("base_url") ? ConfigNodes.text(node.get("base_url"), where + ".base_url") : null;
        if (type.equals("openai") && (baseUrl == null || baseUrl.isBlank())) {
            throw new ConfigException(where + ".base_url is required for an OpenAI-compatible provider");
        }
        var headers = new LinkedHashMap<String, String>();
        for (var it = ConfigNodes.mapping(node.get("headers"), where + ".headers").properties().iterator(); it.hasNext(); ) {
            var h = it.next();
            headers.put(h.getKey(), ConfigNodes.text(h.getValue(), where + ".headers." + h.getKey()));
        }
        var timeouts = timeouts(node.path("timeouts"), where + ".timeouts", Timeouts.DEFAULTS);
        var key = node.has("api_key") && !node.get("api_key").isNull() ? ConfigNodes.text(node.get("api_key"), where + ".api_key") : null;
        return new ProviderConfig(name, type, baseUrl, key == null || key.isBlank() ? null : key, headers, timeouts,
                flag(node, "forward_client_auth", false, where), flag(node, "always_stream", false, where), flag(node, "event_loop", true, where),
                maxTokensField(node, where));
    }

    private static String maxTokensField(JsonNode node, String where) {
        return node.has("max_tokens_field")
                ? ConfigNodes.oneOf(node.get("max_tokens_field"), where + ".max_tokens_field", List.of("max_tokens", "max_completion_tokens"))
                : null;
    }

    private static boolean flag(JsonNode node, String key, boolean absent, String where) {
        return node.has(key) ? ConfigNodes.bool(node.get(key), where + "." + key) : absent;
    }

    private static int parsePort(String text, String source) {
        try {
            int port = Integer.parseInt(text.trim());
            if (port < 0 || port > 65535) throw new NumberFormatException();
            return port;
        } catch (NumberFormatException e) {
            throw new ConfigException(source + ": invalid port '" + text + "'");
        }
    }

    /** "250ms", "10s", "5m", "1h", or a bare number of seconds. */
    static Duration duration(JsonNode node, String where) {
        if (node.isNumber()) return Duration.ofMillis((long) (node.asDouble() * 1000));
        var text = node.asText().trim();
        var m = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*(ms|s|m|h)?").matcher(text);
        if (!m.matches()) throw new ConfigException(where + ": invalid duration '" + text + "' (e.g. 500ms, 10s, 5m)");
        double value = Double.parseDouble(m.group(1));
        var unit = m.group(2) == null ? "s" : m.group(2);
        double millis = switch (unit) {
            case "ms" -> value;
            case "s" -> value * 1000;
            case "m" -> value * 60_000;
            default -> value * 3_600_000;
        };
        return Duration.ofMillis((long) millis);
    }

    private JsonNode substitute(JsonNode node, String source, String path) {
        if (node.isTextual()) return Json.NODES.textNode(expand(node.asText(), source, path));
        if (node.isObject()) {
            var out = Json.object();
            for (var it = node.properties().iterator(); it.hasNext(); ) {
                var e = it.next();
                out.set(e.getKey(), substitute(e.getValue(), source, path.isEmpty() ? e.getKey() : path + "." + e.getKey()));
            }
            return out;
        }
        if (node.isArray()) {
            var out = Json.NODES.arrayNode();
            int i = 0;
            for (var item : node) out.add(substitute(item, source, path + "[" + i++ + "]"));
            return out;
        }
        return node;
    }

    private String expand(String text, String source, String path) {
        Matcher m = VARIABLE.matcher(text);
        var out = new StringBuilder();
        while (m.find()) {
            var value = env.apply(m.group(1));
            if (value == null) {
                if (m.group(2) == null) {
                    throw new ConfigException(source + ": environment variable " + m.group(1) + " is not set (used at " + path
                            + "; write ${" + m.group(1) + ":-} to make it optional)");
                }
                value = m.group(3);
            }
            m.appendReplacement(out, Matcher.quoteReplacement(value));
        }
        m.appendTail(out);
        return out.toString();
    }
}
