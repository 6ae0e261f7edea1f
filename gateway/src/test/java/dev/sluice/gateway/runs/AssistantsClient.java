package dev.sluice.gateway.runs;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.gateway.Gateway;
import dev.sluice.gateway.config.ConfigLoader;
import dev.sluice.wire.json.Json;
import dev.sluice.wire.sse.SseDecoder;
import dev.sluice.wire.sse.SseEvent;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/** A gateway with sim models and SQLite storage in a temp dir, and a small HTTP client for the Assistants API. */
final class AssistantsClient implements AutoCloseable {

    static final String MODELS = """
            models:
              - name: fast
                deployments: [{provider: sim, model: lorem, ttft_ms: 0, tokens_per_second: 0, length: 12}]
              - name: echo
                deployments: [{provider: sim, model: echo, ttft_ms: 0, tokens_per_second: 0}]
              - name: slow
                deployments: [{provider: sim, model: lorem, ttft_ms: 20, tokens_per_second: 50, length: 40}]
              - name: tools
                deployments: [{provider: sim, model: echo, ttft_ms: 0, tokens_per_second: 0, tool_calls: [{name: get_weather, arguments: '{"city":"Paris"}'}, {name: get_time, arguments: '{"tz":"CET"}'}]}]
            """;

    final Gateway gateway;
    final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();

    AssistantsClient(Path dir) throws InterruptedException {
        this(dir, "listen: 127.0.0.1:0\nlimits: {keepalive: 200ms}\nstorage: {type: sqlite, path: " + dir.resolve("sluice.db") + "}\n" + MODELS);
    }

    AssistantsClient(Path dir, String yaml) throws InterruptedException {
        this(yaml, dev.sluice.gateway.usage.UsageSink.LOG);
    }

    AssistantsClient(String yaml, dev.sluice.gateway.usage.UsageSink usage) throws InterruptedException {
        this.gateway = Gateway.start(new ConfigLoader(name -> null).parse(yaml, "test.yaml"), usage);
    }

    String base() {
        return "http://127.0.0.1:" + gateway.port() + "/v1";
    }

    record Response(int status, JsonNode json) {}

    Response call(String method, String path, String body) throws IOException, InterruptedException {
        var b = HttpRequest.newBuilder(URI.create(base() + path)).timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json");
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        var r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        return new Response(r.statusCode(), r.body().isEmpty() ? null : Json.parse(r.body()));
    }

    JsonNode post(String path, String body) throws IOException, InterruptedException {
        var r = call("POST", path, body);
        assertThat(r.status()).as("POST %s -> %s", path, r.json()).isEqualTo(200);
        return r.json();
    }

    JsonNode get(String path) throws IOException, InterruptedException {
        var r = call("GET", path, null);
        assertThat(r.status()).as("GET %s -> %s", path, r.json()).isEqualTo(200);
        return r.json();
    }

    String assistant(String model, String extra) throws IOException, InterruptedException {
        return post("/assistants", "{\"model\":\"" + model + "\",\"name\":\"Helper\",\"instructions\":\"Be brief.\"" + extra + "}").get("id").asText();
    }

    String thread(String firstMessage) throws IOException, InterruptedException {
        return post("/threads", "{\"messages\":[{\"role\":\"user\",\"content\":" + Json.write(Json.NODES.textNode(firstMessage)) + "}]}").get("id").asText();
    }

    /** Polls a run until it leaves queued/in_progress/cancelling. */
    JsonNode await(String threadId, String runId) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (true) {
            var run = get("/threads/" + threadId + "/runs/" + runId);
            var status = run.get("status").asText();
            if (!List.of("queued", "in_progress", "cancelling").contains(status)) return run;
            if (System.nanoTime() > deadline) throw new AssertionError("run still " + status + ": " + run);
            Thread.sleep(20);
        }
    }

    /** A streamed POST (or GET when body is null), read to the end. */
    List<SseEvent> stream(String method, String path, String body, Map<String, String> headers) throws IOException, InterruptedException {
        var out = new ArrayList<SseEvent>();
        streamEach(method, path, body, headers, out::add);
        return out;
    }

    int streamEach(String method, String path, String body, Map<String, String> headers, Consumer<SseEvent> each) throws IOException, InterruptedException {
        var b = HttpRequest.newBuilder(URI.create(base() + path)).timeout(Duration.ofSeconds(60)).header("Content-Type", "application/json");
        headers.forEach(b::header);
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        var r = http.send(b.build(), HttpResponse.BodyHandlers.ofInputStream());
        var decoder = new SseDecoder(each::accept);
        try (InputStream in = r.body()) {
            var buf = new byte[8192];
            int n;
            while ((n = in.read(buf)) > 0) decoder.feed(buf, 0, n);
        }
        decoder.end();
        return r.statusCode();
    }

    @Override
    public void close() {
        gateway.close();
    }
}
