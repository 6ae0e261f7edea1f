package dev.sluice.gateway.provider.openai;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.client.ApiException;
import dev.sluice.client.EventStream;
import dev.sluice.client.RequestOptions;
import dev.sluice.client.SluiceClient;
import dev.sluice.gateway.chat.UpstreamErrors;
import dev.sluice.gateway.config.GatewayConfig.ProviderConfig;
import dev.sluice.gateway.provider.EventLoopProvider;
import dev.sluice.gateway.provider.UpstreamException;
import dev.sluice.gateway.provider.UpstreamRequest;
import dev.sluice.gateway.provider.UpstreamStream;
import dev.sluice.gateway.upstream.UpstreamHttp;
import dev.sluice.wire.chat.StreamEvent;
import io.netty.channel.EventLoop;
import java.io.IOException;
import java.net.http.HttpTimeoutException;
import java.util.List;

/**
 * Any OpenAI-compatible API (OpenAI, Azure's v1 endpoint, OpenRouter, vLLM, Ollama's /v1, llama.cpp,
 * Groq, DeepSeek, Mistral, Together...). The SDK's own client builds every request and its decoder reads every
 * answer, so the gateway and the SDK share one request builder and one parser. The bytes travel either on the
 * client connection's event loop ({@link #openOn}, {@link UpstreamHttp}) or on the caller's thread through
 * the SDK's blocking transport ({@link #open}).
 */
public final class OpenAiProvider implements EventLoopProvider {

    private final ProviderConfig config;
    private final SluiceClient client;
    /** The same requests, sent and read on the client connection's event loop ({@link #openOn}). */
    private final UpstreamHttp loopHttp;
    /** What the upstream must not be able to make the gateway repeat to its clients. */
    private final Secrets secrets;

    public OpenAiProvider(ProviderConfig config) {
        this.config = config;
        this.secrets = Secrets.of(config);
        var t = config.timeouts();
        var builder = SluiceClient.builder()
                // Upstreams are read on the request's virtual thread: blocking sockets spare every read the
                // java.net.http selector/worker hand-offs (see docs/benchmarks.md).
                .transport(SluiceClient.Transport.BLOCKING_HTTP1)
                .baseUrl(config.baseUrl())
                .connectTimeout(t.connect())
                .firstByteTimeout(t.firstByte())
                .idleTimeout(t.idle())
                .totalTimeout(t.total())
                .maxRetries(0); // retries and fallbacks are the gateway's decision, not the client's
        if (config.apiKey() != null) builder.apiKey(config.apiKey());
        config.headers().forEach(builder::header);
        this.client = builder.build();
        this.loopHttp = new UpstreamHttp(t.connect(), null);
    }

    @Override
    public String name() {
        return config.name();
    }

    @Override
    public UpstreamStream open(UpstreamRequest request) throws UpstreamException {
        boolean whole = whole(request);
        try {
            var events = client.openChatStream(body(request, whole), options(request));
            return whole ? Whole.read(events, secrets) : new Stream(events, secrets);
        } catch (ApiException e) {
            throw refused(e, secrets, forwardsClientKey(request));
        } catch (IOException e) {
            throw failed(e);
        }
    }

    /**
     * An upstream's error status, as the SDK read it, without the credentials it may quote. A 401 or 403 is the
     * client's only when the client's own key was sent.
     */
    static UpstreamException refused(ApiException e, Secrets secrets, boolean clientKey) {
        var refusal = secrets.redact(UpstreamException.http(e.status(), e.getMessage(), e.body(),
                e.headers().firstValue("content-type").orElse(null), e.retryAfter().orElse(null)));
        return clientKey ? refusal : refusal.asGatewayCredentials();
    }

    private boolean forwardsClientKey(UpstreamRequest request) {
        return config.forwardClientAuth() && config.apiKey() == null && request.clientAuthorization() != null;
    }

    /** No answer: a timeout, or the connection failed. */
    static UpstreamException failed(IOException e) {
        if (e instanceof HttpTimeoutException) return UpstreamException.timeout(UpstreamErrors.reason(e));
        return UpstreamException.connection(UpstreamErrors.reason(e), e);
    }

    @Override
    public Runnable openOn(EventLoop loop, UpstreamRequest request, Opening opening) {
        boolean whole = whole(request);
        var prepared = client.prepareChatStream(body(request, whole), options(request));
        var answer = new LoopAnswer(loop, whole, opening, secrets, forwardsClientKey(request));
        var call = loopHttp.send(loop, new UpstreamHttp.Request(prepared.method(), prepared.uri(), prepared.headers(), prepared.body(),
                prepared.firstByte(), prepared.idle(), prepared.total()), answer);
        answer.started(call);
        return call::cancel;
    }

    @Override
    public boolean servesOnEventLoop() {
        return config.eventLoop();
    }

    /**
     * The body sent upstream. The token limit goes by the name this upstream knows: the gateway's own bodies
     * (Responses, Assistants runs) say {@code max_completion_tokens}, as OpenAI does now, and so do newer
     * clients, which servers that know only {@code max_tokens} would ignore. A client's {@code max_tokens} is
     * left as it is.
     */
    private ObjectNode body(UpstreamRequest request, boolean whole) {
        var body = whole ? request.wholeBody() : request.streamingBody();
        if (config.maxTokensField().equals("max_tokens") && body.has("max_completion_tokens") && !body.has("max_tokens")) {
            body.set("max_tokens", body.remove("max_completion_tokens"));
        }
        return body;
    }

    /** Whether the upstream is asked for one non-streamed answer (read whole before the answer opens). */
    private boolean whole(UpstreamRequest request) {
        return !request.streamed() && !config.alwaysStream();
    }

    /** Per-request headers and timeouts, the same for both ways of sending. */
    private RequestOptions options(UpstreamRequest request) {
        var options = RequestOptions.builder();
        if (forwardsClientKey(request)) {
            options.header("Authorization", request.clientAuthorization());
        }
        var t = request.timeouts();
        if (t != null) options.firstByteTimeout(t.firstByte()).idleTimeout(t.idle()).totalTimeout(t.total());
        if (whole(request)) {
            // A non-streamed answer's head arrives when the whole answer is ready: only the total timeout bounds it.
            options.firstByteTimeout((t != null ? t : config.timeouts()).total());
        }
        return options.build();
    }

    @Override
    public List<String> listModels(String clientAuthorization) {
        try {
            var options = RequestOptions.builder();
            if (config.forwardClientAuth() && config.apiKey() == null && clientAuthorization != null) options.header("Authorization", clientAuthorization);
            var ids = new java.util.ArrayList<String>();
            for (var model : client.get("/models", options.build()).path("data")) ids.add(model.path("id").asText());
            return ids;
        } catch (Exception e) {
            return List.of();
        }
    }

    /**
     * A non-streamed answer, read in full before {@link #open} returns: a body cut short is then a failure
     * before the first byte, which the gateway retries or falls back from, like a refusal.
     */
    private static final class Whole implements UpstreamStream {
        private final List<StreamEvent> events;
        private final boolean completed;
        private int next;

        private Whole(List<StreamEvent> events, boolean completed) {
            this.events = events;
            this.completed = completed;
        }

        static Whole read(EventStream stream, Secrets secrets) throws IOException {
            try (stream) {
                var events = new java.util.ArrayList<StreamEvent>();
                for (StreamEvent e; (e = stream.next()) != null; ) events.add(secrets.redact(e));
                return new Whole(events, stream.completed());
            }
        }

        @Override
        public StreamEvent next() {
            return next < events.size() ? events.get(next++) : null;
        }

        @Override
        public int buffered() {
            return events.size() - next;
        }

        @Override
        public boolean ready() {
            return true;
        }

        @Override
        public boolean completed() {
            return completed;
        }

        @Override
        public void close() {}
    }

    private record Stream(EventStream events, Secrets secrets) implements UpstreamStream {
        @Override
        public StreamEvent next() throws IOException {
            var event = events.next();
            return event == null ? null : secrets.redact(event);
        }

        @Override
        public boolean completed() {
            return events.completed();
        }

        @Override
        public int buffered() {
            return events.buffered();
        }

        @Override
        public void close() {
            events.close();
        }
    }
}
