package dev.sluice.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.client.chat.ChatCompletions;
import dev.sluice.client.responses.Responses;
import dev.sluice.wire.json.Json;
import java.io.IOException;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Executor;
import javax.net.ssl.SSLContext;

/**
 * A client of an OpenAI-compatible API on {@link java.net.http} (or, for virtual threads, on blocking
 * sockets: {@link Transport}). Build one per upstream and share it: it is
 * thread-safe and holds the connection pool.
 *
 * <pre>{@code
 * var client = SluiceClient.builder().baseUrl("http://127.0.0.1:8080/v1").apiKey(key).build();
 * try (var stream = client.chat().stream(ChatRequest.builder().model("gpt-4o").user("Hi").build())) {
 *     for (var event : stream) if (event instanceof ChatStreamEvent.ContentDelta d) System.out.print(d.delta());
 * }
 * }</pre>
 *
 * <p>Calls throw {@link ApiException} (unchecked) for HTTP error statuses, {@link ApiConnectionException} when
 * the upstream cannot be reached, {@link StreamTimeoutException} when a timeout expires and
 * {@link java.io.InterruptedIOException} when the calling thread is interrupted (the exchange is cancelled).
 * Every call accepts a raw JSON body, passed through unchanged, so provider-specific fields need no support here.
 */
public final class SluiceClient implements AutoCloseable {

    public static final String DEFAULT_BASE_URL = "https://api.openai.com/v1";

    private static final String JSON = "application/json";
    private static final String EVENT_STREAM = "text/event-stream";

    private final HttpCaller caller;
    private final boolean ownsHttp;
    private final ChatCompletions chat = new ChatCompletions(this);
    private final Responses responses = new Responses(this);

    /**
     * How requests travel. {@link #JAVA_NET_HTTP}, the default, works from any thread. {@link #BLOCKING_HTTP1}
     * is HTTP/1.1 on blocking sockets driven by the calling thread itself: for callers on virtual threads,
     * where it saves the HTTP client's thread hand-offs on every read (the gateway uses it). On a platform
     * thread an interrupt does not abort its reads; {@code close()} on the stream does. Its first-byte, idle and
     * total timeouts fire up to 10 ms late (a watchdog closes the socket of a read past its deadline, which spares
     * every read a timed park).
     */
    public enum Transport { JAVA_NET_HTTP, BLOCKING_HTTP1 }

    private SluiceClient(Builder b) {
        var connect = b.connectTimeout != null && !b.connectTimeout.isZero() && !b.connectTimeout.isNegative() ? b.connectTimeout : null;
        HttpTransport transport;
        if (b.httpClient != null) {
            this.ownsHttp = false;
            transport = new JdkTransport(b.httpClient, null, null);
        } else if (b.transport == Transport.BLOCKING_HTTP1) {
            this.ownsHttp = true;
            transport = new Http1Transport(connect, b.sslContext);
        } else {
            this.ownsHttp = true;
            var hb = HttpClient.newBuilder()
                    // Plain-http upstreams speak HTTP/1.1, and only there does cancelling a stream close its TCP
                    // connection, which is how an upstream learns that the answer is no longer wanted.
                    .version(HttpClient.Version.HTTP_1_1)
                    .followRedirects(HttpClient.Redirect.NEVER);
            if (connect != null) hb.connectTimeout(connect);
            if (b.executor != null) hb.executor(b.executor);
            if (b.sslContext != null) hb.sslContext(b.sslContext);
            java.util.function.Supplier<HttpClient> factory = hb::build;
            transport = new JdkTransport(factory.get(), factory, HttpClient.Version.HTTP_1_1);
        }
        var headers = new LinkedHashMap<String, String>();
        headers.put("User-Agent", "sluice-java/0.1");
        if (b.apiKey != null) headers.put("Authorization", "Bearer " + b.apiKey);
        if (b.organization != null) headers.put("OpenAI-Organization", b.organization);
        if (b.project != null) headers.put("OpenAI-Project", b.project);
        headers.putAll(b.headers);
        this.caller = new HttpCaller(transport, new HttpCaller.Settings(
                b.baseUrl,
                Map.copyOf(headers),
                b.firstByteTimeout,
                b.idleTimeout,
                b.totalTimeout,
                b.maxRetries,
                b.initialBackoff,
                b.maxBackoff));
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Chat completions: blocking, streaming (typed events), and the tool-calling loop's building blocks. */
    public ChatCompletions chat() {
        return chat;
    }

    /** The Responses API. */
    public Responses responses() {
        return responses;
    }

    // ------------------------------------------------------------------ low-level streaming (the gateway's)

    /**
     * Sends {@code body} as-is to {@code POST {baseUrl}/chat/completions} and returns once the response headers
     * have arrived; the body is then read through the returned stream. Error statuses throw (after retries).
     * A body without {@code "stream": true} is answered with one {@code chat.completion} object, which the
     * stream reads as the same events its streamed form would give.
     */
    public EventStream openChatStream(ObjectNode body) throws IOException, ApiException {
        return openChatStream(body, RequestOptions.DEFAULT);
    }

    /** {@link #openChatStream(ObjectNode)} with per-request headers, timeouts and retry count. */
    public EventStream openChatStream(ObjectNode body, RequestOptions options) throws IOException, ApiException {
        return new EventStream(caller.open("POST", "/chat/completions", Json.bytes(body), chatAccept(body), options));
    }

    /** A streamed answer is an event stream; any other, one JSON completion. */
    private static String chatAccept(ObjectNode body) {
        return body.path("stream").asBoolean(false) ? EVENT_STREAM : JSON;
    }

    /**
     * The request {@link #openChatStream(ObjectNode, RequestOptions)} would send, without sending it: for
     * callers with their own transport (the gateway's event-loop relay).
     */
    public PreparedCall prepareChatStream(ObjectNode body, RequestOptions options) {
        return caller.prepare("POST", "/chat/completions", Json.bytes(body), chatAccept(body), options);
    }

    /** Posts {@code body} as-is to any streaming endpoint ({@code path} relative to the base URL, e.g. "/responses"). */
    public SseStream openSse(String path, JsonNode body, RequestOptions options) throws IOException, ApiException {
        return new SseStream(caller.open("POST", path, Json.bytes(body), EVENT_STREAM, options));
    }

    // ------------------------------------------------------------------ plain JSON calls

    /** Posts a JSON body to {@code path} (relative to the base URL) and returns the JSON answer. */
    public JsonNode post(String path, JsonNode body) throws IOException, ApiException {
        return post(path, body, RequestOptions.DEFAULT);
    }

    public JsonNode post(String path, JsonNode body, RequestOptions options) throws IOException, ApiException {
        return json(caller.open("POST", path, Json.bytes(body), JSON, options));
    }

    public JsonNode get(String path) throws IOException, ApiException {
        return get(path, RequestOptions.DEFAULT);
    }

    public JsonNode get(String path, RequestOptions options) throws IOException, ApiException {
        return json(caller.open("GET", path, null, JSON, options));
    }

    /** {@code GET /models}. */
    public List<Model> models() throws IOException, ApiException {
        var data = get("/models").get("data");
        // Iterated leniently, an object gave its values as models and anything else an empty list.
        if (data == null || !data.isArray()) throw new IOException("the upstream's model list is malformed: it has no data array");
        var list = new ArrayList<Model>();
        for (var m : data) list.add(Model.of(m));
        return List.copyOf(list);
    }

    /** {@code POST /embeddings} for texts, as floats. */
    public Embeddings embeddings(String model, List<String> input) throws IOException, ApiException {
        var body = Json.object().put("model", model);
        var array = body.putArray("input");
        input.forEach(array::add);
        return embeddings(body);
    }

    /** {@code POST /embeddings} with a raw body; {@code encoding_format: "base64"} answers are decoded too. */
    public Embeddings embeddings(ObjectNode body) throws IOException, ApiException {
        return embeddings(body, RequestOptions.DEFAULT);
    }

    public Embeddings embeddings(ObjectNode body, RequestOptions options) throws IOException, ApiException {
        return Embeddings.of(post("/embeddings", body, options));
    }

    /** Closes the HTTP client if this client created it; exchanges still in flight (streams left open) are aborted. */
    @Override
    public void close() {
        if (ownsHttp) caller.close();
    }

    private static JsonNode json(HttpTransport.Opened opened) throws IOException {
        var bytes = opened.body().readAll(Integer.MAX_VALUE - 8);
        if (bytes.length == 0) {
            // Only a 204 says there is nothing; an empty 200 read as "no fields" gave a completion, model list or
            // embeddings that were silently empty.
            if (opened.status() == 204) return Json.NODES.missingNode();
            throw new IOException("the upstream answered " + opened.status() + " with an empty body instead of JSON");
        }
        try {
            return Json.parse(bytes);
        } catch (IllegalArgumentException e) {
            throw new IOException("the upstream answered " + opened.status() + " with a body that is not JSON", e);
        }
    }

    public static final class Builder {
        private String baseUrl = DEFAULT_BASE_URL;
        private String apiKey, organization, project;
        private final Map<String, String> headers = new LinkedHashMap<>();
        private Duration connectTimeout = Duration.ofSeconds(10);
        private Duration firstByteTimeout = Duration.ofMinutes(10);
        private Duration idleTimeout = Duration.ofMinutes(10);
        private Duration totalTimeout;
        private int maxRetries = 2;
        private Duration initialBackoff = Duration.ofMillis(500);
        private Duration maxBackoff = Duration.ofSeconds(8);
        private Executor executor;
        private HttpClient httpClient;
        private SSLContext sslContext;
        private Transport transport = defaultTransport();

        private Builder() {}

        /** Up to and including the version segment, e.g. {@code http://127.0.0.1:8080/v1}. */
        public Builder baseUrl(String baseUrl) {
            var url = Objects.requireNonNull(baseUrl, "baseUrl");
            while (url.endsWith("/")) url = url.substring(0, url.length() - 1);
            this.baseUrl = url;
            return this;
        }

        /** Sent as {@code Authorization: Bearer <key>}. */
        public Builder apiKey(String apiKey) {
            this.apiKey = apiKey;
            return this;
        }

        /** Sent as {@code OpenAI-Organization}. */
        public Builder organization(String organization) {
            this.organization = organization;
            return this;
        }

        /** Sent as {@code OpenAI-Project}. */
        public Builder project(String project) {
            this.project = project;
            return this;
        }

        /** A header sent with every request; it replaces a built-in header of the same name. */
        public Builder header(String name, String value) {
            headers.put(name, value);
            return this;
        }

        public Builder headers(Map<String, String> headers) {
            this.headers.putAll(headers);
            return this;
        }

        /** TCP (and TLS) connection setup. Applies only to the HTTP client this builder creates. Default 10 s. */
        public Builder connectTimeout(Duration timeout) {
            this.connectTimeout = timeout;
            return this;
        }

        /** Until the response headers arrive, per attempt. Zero disables. Default 10 min (non-streaming answers come whole). */
        public Builder firstByteTimeout(Duration timeout) {
            this.firstByteTimeout = timeout;
            return this;
        }

        /** Longest silence allowed in the middle of a body. Zero disables. Default 10 min. */
        public Builder idleTimeout(Duration timeout) {
            this.idleTimeout = timeout;
            return this;
        }

        /** The whole call: attempts, backoff and the entire body. Zero or null disables (the default). */
        public Builder totalTimeout(Duration timeout) {
            this.totalTimeout = timeout;
            return this;
        }

        /** Retries of 408/409/429/5xx answers and connection failures, before any body byte. Default 2. */
        public Builder maxRetries(int maxRetries) {
            if (maxRetries < 0) throw new IllegalArgumentException("maxRetries < 0");
            this.maxRetries = maxRetries;
            return this;
        }

        /** Backoff between attempts: doubles from {@code initial} up to {@code max}, minus up to 25% jitter. */
        public Builder retryBackoff(Duration initial, Duration max) {
            this.initialBackoff = Objects.requireNonNull(initial);
            this.maxBackoff = Objects.requireNonNull(max);
            return this;
        }

        /** The executor of the HTTP client this builder creates (its internal tasks and body delivery). */
        public Builder executor(Executor executor) {
            this.executor = executor;
            return this;
        }

        /**
         * Uses this HTTP client instead of creating one: its own connect timeout, executor and HTTP version then
         * apply, and {@link SluiceClient#close()} leaves it open.
         */
        public Builder httpClient(HttpClient httpClient) {
            this.httpClient = httpClient;
            return this;
        }

        /**
         * How requests travel (see {@link Transport}). The default is {@link Transport#JAVA_NET_HTTP}, or what the
         * system property {@code sluice.client.transport} names ({@code java_net_http} or {@code blocking_http1}).
         */
        public Builder transport(Transport transport) {
            this.transport = Objects.requireNonNull(transport, "transport");
            return this;
        }

        /** TLS settings (trusted certificates, client keys) for https base URLs. Default: the JDK's. */
        public Builder sslContext(SSLContext sslContext) {
            this.sslContext = sslContext;
            return this;
        }

        private static Transport defaultTransport() {
            var name = System.getProperty("sluice.client.transport");
            return name == null || name.isBlank() ? Transport.JAVA_NET_HTTP : Transport.valueOf(name.trim().toUpperCase(java.util.Locale.ROOT));
        }

        public SluiceClient build() {
            return new SluiceClient(this);
        }
    }
}
