package dev.sluice.gateway.responses;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.gateway.runs.CrashTestServer;
import dev.sluice.gateway.store.TestPostgres;
import dev.sluice.wire.json.Json;
import dev.sluice.wire.openapi.OpenApiValidator;
import dev.sluice.wire.sse.SseDecoder;
import dev.sluice.wire.sse.SseEvent;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.DriverManager;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code kill -9} of a gateway process in the middle of a background response, then a restart on the same
 * store: every event committed before the crash replays, from the start or with {@code starting_after},
 * exactly as a client saw it live; the response ends {@code failed} with an error that says why, the
 * open message is closed as {@code incomplete} with the text streamed so far, and the stream ends with
 * {@code response.failed}.
 */
class ResponsesCrashRecoveryTest {

    @TempDir
    Path dir;

    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private final OpenApiValidator spec = OpenApiValidator.shared();

    private JsonNode call(CrashTestServer.Running s, String method, String path, String body) throws Exception {
        var r = http.send(HttpRequest.newBuilder(URI.create(s.base() + path)).timeout(Duration.ofSeconds(20)).header("Content-Type", "application/json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return Json.parse(r.body());
    }

    /** Reads a response's event stream until {@code until} events arrived (or it ended); the connection is then dropped. */
    private List<JsonNode> events(CrashTestServer.Running s, String path, int until) throws Exception {
        var out = new ArrayList<JsonNode>();
        var decoder = new SseDecoder(new SseDecoder.Listener() {
            @Override
            public void onEvent(SseEvent event) {
                out.add(Json.parse(event.data()));
            }

            @Override
            public void onComment(String comment) {}
        });
        var r = http.send(HttpRequest.newBuilder(URI.create(s.base() + path)).timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.ofInputStream());
        assertThat(r.statusCode()).isEqualTo(200);
        try (var in = r.body()) {
            var buf = new byte[1024];
            int n;
            while (out.size() < until && (n = in.read(buf)) > 0) decoder.feed(Arrays.copyOf(buf, n));
        }
        return out.size() > until ? new ArrayList<>(out.subList(0, until)) : out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgres"})
    void killNineDuringABackgroundResponseThenRestart(String store) throws Exception {
        String storage;
        String schema = null;
        if (store.equals("postgres")) {
            TestPostgres.require();
            // A schema of its own: the restarted gateway fails whatever it finds in flight there, and only there.
            schema = "sluice_crash_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
            try (var c = DriverManager.getConnection(TestPostgres.url()); var st = c.createStatement()) {
                st.execute("CREATE SCHEMA " + schema);
            }
            storage = "{type: postgres, url: '" + TestPostgres.url() + (TestPostgres.url().contains("?") ? "&" : "?") + "currentSchema=" + schema + "'}";
        } else {
            storage = "{type: sqlite, path: '" + dir.resolve("data/sluice.db") + "'}";
        }
        var config = dir.resolve("sluice.yaml");
        Files.writeString(config, """
                listen: 127.0.0.1:0
                storage: %s
                models:
                  - name: slow
                    deployments: [{provider: sim, model: lorem, ttft_ms: 0, tokens_per_second: 40, length: 400}]
                """.formatted(storage));
        try {
            run(config);
        } finally {
            if (schema != null) {
                try (var c = DriverManager.getConnection(TestPostgres.url()); var st = c.createStatement()) {
                    st.execute("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
                }
            }
        }
    }

    private void run(Path config) throws Exception {
        var first = CrashTestServer.launch(config);
        String id;
        List<JsonNode> live;
        try {
            id = call(first, "POST", "/responses", "{\"model\":\"slow\",\"input\":\"Tell me everything\",\"background\":true}").get("id").asText();
            // What a client saw live before the crash: the opening events and some text.
            live = events(first, "/responses/" + id + "?stream=true", 14);
            assertThat(live).hasSize(14);
            assertThat(live.getLast().get("type").asText()).isEqualTo("response.output_text.delta");
        } finally {
            first.process().destroyForcibly(); // SIGKILL
            first.process().waitFor(10, TimeUnit.SECONDS);
        }

        var second = CrashTestServer.launch(config);
        try {
            var response = call(second, "GET", "/responses/" + id, null);
            spec.assertValid("Response", response);
            assertThat(response.get("status").asText()).isEqualTo("failed");
            assertThat(response.at("/error/code").asText()).isEqualTo("server_error");
            assertThat(response.at("/error/message").asText()).contains("gateway stopped while this response was in progress");

            // Everything committed replays: what the client saw, unchanged, then the rest up to the crash, then the end.
            var all = events(second, "/responses/" + id + "?stream=true", Integer.MAX_VALUE);
            all.forEach(e -> spec.assertValid("ResponseStreamEvent", e));
            assertThat(all.subList(0, live.size())).isEqualTo(live);
            for (int i = 0; i < all.size(); i++) assertThat(all.get(i).get("sequence_number").asInt()).isEqualTo(i);
            var types = all.stream().map(e -> e.get("type").asText()).toList();
            assertThat(types.subList(types.size() - 4, types.size())).containsExactly(
                    "response.output_text.done", "response.content_part.done", "response.output_item.done", "response.failed");
            assertThat(all.getLast().get("response")).isEqualTo(response);

            // The open message is closed with every committed delta, under the id the client already had.
            var text = new StringBuilder();
            all.stream().filter(e -> e.get("type").asText().equals("response.output_text.delta")).forEach(e -> text.append(e.get("delta").asText()));
            assertThat(text.toString()).startsWith("Lorem ipsum");
            var message = response.at("/output/0");
            assertThat(message.get("id").asText()).isEqualTo(live.stream().filter(e -> e.get("type").asText().equals("response.output_item.added"))
                    .findFirst().orElseThrow().at("/item/id").asText());
            assertThat(message.get("status").asText()).isEqualTo("incomplete");
            assertThat(message.at("/content/0/text").asText()).isEqualTo(text.toString());
            assertThat(all.get(all.size() - 4).get("text").asText()).isEqualTo(text.toString());

            // Resuming where the client stopped gets the rest, and nothing it already had.
            var resumed = events(second, "/responses/" + id + "?stream=true&starting_after=" + live.getLast().get("sequence_number").asInt(), Integer.MAX_VALUE);
            assertThat(resumed).isEqualTo(all.subList(live.size(), all.size()));

            // The failed response is still part of a conversation: a new turn chains onto it.
            var next = call(second, "POST", "/responses", "{\"model\":\"slow\",\"input\":\"go on\",\"previous_response_id\":\"" + id + "\",\"sim\":{\"length\":5,\"tokens_per_second\":0}}");
            assertThat(next.get("status").asText()).isEqualTo("completed");
        } finally {
            second.process().destroyForcibly();
            second.process().waitFor(10, TimeUnit.SECONDS);
        }
    }
}
