package dev.sluice.gateway.provider.openai;

import dev.sluice.client.ApiException;
import dev.sluice.client.EventStream;
import dev.sluice.client.RequestOptions;
import dev.sluice.client.SluiceClient;
import dev.sluice.gateway.config.GatewayConfig.ProviderConfig;
import dev.sluice.gateway.provider.Provider;
import dev.sluice.gateway.provider.UpstreamException;
import dev.sluice.gateway.provider.UpstreamRequest;
import dev.sluice.gateway.provider.UpstreamStream;
import dev.sluice.wire.chat.StreamEvent;
import java.io.IOException;
import java.net.http.HttpTimeoutException;
import java.util.List;

/**
 * Any OpenAI-compatible API (OpenAI, Azure's v1 endpoint, OpenRouter, vLLM, Ollama's /v1, llama.cpp,
 * Groq, DeepSeek, Mistral, Together...). It goes through the SDK's own client, so the gateway and the SDK
 * share one HTTP + SSE path and one parser.
 */
public final class OpenAiProvider implements Provider {

    private final ProviderConfig config;
    private final SluiceClient client;

    public OpenAiProvider(ProviderConfig config) {
        this.config = config;
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
    }

    @Override
    public String name() {
        return config.name();
    }

    @Override
    public UpstreamStream open(UpstreamRequest request) throws UpstreamException {
        var options = RequestOptions.builder();
        if (config.forwardClientAuth() && config.apiKey() == null && request.clientAuthorization() != null) {
            options.header("Authorization", request.clientAuthorization());
        }
        var t = request.timeouts();
        if (t != null) options.firstByteTimeout(t.firstByte()).idleTimeout(t.idle()).totalTimeout(t.total());
        try {
            return new Stream(client.openChatStream(request.streamingBody(), options.build()));
        } catch (ApiException e) {
            throw UpstreamException.http(e.status(), e.getMessage(), e.body(), e.headers().firstValue("content-type").orElse(null), e.retryAfter().orElse(null));
        } catch (HttpTimeoutException e) {
            throw UpstreamException.timeout(e.getMessage());
        } catch (IOException e) {
            throw UpstreamException.connection(e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage(), e);
        }
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

    private record Stream(EventStream events) implements UpstreamStream {
        @Override
        public StreamEvent next() throws IOException {
            return events.next();
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
