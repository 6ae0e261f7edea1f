package dev.sluice.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.gateway.config.ConfigLoader;
import dev.sluice.gateway.config.GatewayConfig;
import dev.sluice.wire.json.Json;
import dev.sluice.wire.sse.SseDecoder;
import dev.sluice.wire.sse.SseEvent;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** A real gateway on a free loopback port, and a plain HTTP client to look at exactly what it sends. */
public final class TestGateway implements AutoCloseable {

    public record SseResponse(int status, java.net.http.HttpHeaders headers, List<SseEvent> events, List<String> comments, String raw) {
        /** The JSON payloads before [DONE]. */
        public List<JsonNode> chunks() {
            return events.stream().filter(e -> !e.data().equals("[DONE]")).map(e -> Json.parse(e.data())).toList();
        }

        /** Choice 0's text, as the chunks carried it. */
        public String text() {
            var text = new StringBuilder();
            for (var c : chunks()) if (!c.path("choices").isEmpty()) text.append(c.at("/choices/0/delta/content").asText(""));
            return text.toString();
        }

        public boolean endsWithDone() {
            return !events.isEmpty() && events.getLast().data().equals("[DONE]");
        }
    }

    public final Gateway gateway;
    public final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();

    public TestGateway(GatewayConfig config) throws InterruptedException {
        this(config, dev.sluice.gateway.usage.UsageSink.LOG);
    }

    public TestGateway(GatewayConfig config, dev.sluice.gateway.usage.UsageSink usage) throws InterruptedException {
        this.gateway = Gateway.start(new GatewayConfig("127.0.0.1", 0, config.limits(), config.providers(), config.models(), config.passthroughProvider(),
                dev.sluice.gateway.config.GatewayConfig.Storage.MEMORY, config.cors()), usage);
    }

    public static TestGateway yaml(String yaml) throws InterruptedException {
        return new TestGateway(new ConfigLoader(name -> null).parse(yaml, "test.yaml"));
    }

    public static TestGateway defaults() throws InterruptedException {
        return new TestGateway(new ConfigLoader(name -> null).defaults());
    }

    public String base() {
        return "http://127.0.0.1:" + gateway.port() + "/v1";
    }

    public HttpResponse<String> post(String path, String body) throws IOException, InterruptedException {
        return post(path, body, Map.of());
    }

    public HttpResponse<String> post(String path, String body, Map<String, String> headers) throws IOException, InterruptedException {
        var builder = HttpRequest.newBuilder(URI.create(base() + path)).timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body));
        headers.forEach(builder::header);
        return http.send(builder.build(), HttpResponse.BodyHandlers.ofString());
    }

    public HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create(base() + path)).timeout(Duration.ofSeconds(30)).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    public SseResponse stream(String body) throws IOException, InterruptedException {
        var response = http.send(HttpRequest.newBuilder(URI.create(base() + "/chat/completions")).timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofByteArray());
        var events = new ArrayList<SseEvent>();
        var comments = new ArrayList<String>();
        var decoder = new SseDecoder(new SseDecoder.Listener() {
            @Override
            public void onEvent(SseEvent event) {
                events.add(event);
            }

            @Override
            public void onComment(String comment) {
                comments.add(comment);
            }
        });
        decoder.feed(response.body());
        decoder.end();
        return new SseResponse(response.statusCode(), response.headers(), events, comments, new String(response.body(), java.nio.charset.StandardCharsets.UTF_8));
    }

    @Override
    public void close() {
        gateway.close();
    }
}
