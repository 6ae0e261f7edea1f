package dev.sluice.gateway.responses;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.gateway.FakeUpstream;
import dev.sluice.gateway.Gateway;
import dev.sluice.gateway.config.ConfigLoader;
import dev.sluice.wire.json.Json;
import dev.sluice.wire.openapi.OpenApiValidator;
import dev.sluice.wire.sse.SseDecoder;
import dev.sluice.wire.sse.SseEvent;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The Responses API over raw HTTP, every object and event checked against OpenAI's OpenAPI spec. Each test
 * runs twice: on the sim provider ({@code echo}, {@code tools}) and on an OpenAI-compatible fake upstream on
 * loopback whose chat stream echoes the last user message or calls a tool ({@code fake-echo}, {@code fake-tools}).
 */
class ResponsesTest {

    @TempDir
    static Path dir;
    static Gateway gateway;
    static FakeUpstream upstream;
    static final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    static final OpenApiValidator spec = OpenApiValidator.shared();

    @BeforeAll
    static void start() throws Exception {
        upstream = new FakeUpstream(ResponsesTest::fakeChat);
        gateway = Gateway.start(new ConfigLoader(name -> null).parse("""
                listen: 127.0.0.1:0
                limits: {keepalive: 200ms}
                storage: {type: sqlite, path: %s}
                providers:
                  fake: {type: openai, base_url: '%s', api_key: k}
                models:
                  - name: echo
                    deployments: [{provider: sim, model: echo, ttft_ms: 0, tokens_per_second: 0}]
                  - name: slow
                    deployments: [{provider: sim, model: lorem, ttft_ms: 0, tokens_per_second: 100, length: 60}]
                  - name: tools
                    deployments: [{provider: sim, model: echo, ttft_ms: 0, tokens_per_second: 0, tool_calls: [{name: get_weather, arguments: '{"city":"Paris"}'}]}]
                  - name: fake-echo
                    deployments: [{provider: fake, model: echo}]
                  - name: fake-tools
                    deployments: [{provider: fake, model: tools}]
                """.formatted(dir.resolve("sluice.db"), upstream.baseUrl()), "test.yaml"));
    }

    @AfterAll
    static void stop() throws IOException {
        gateway.close();
        upstream.close();
    }

    /** A chat upstream: with model "tools" and no tool result yet, one get_weather call; otherwise the last user or tool message, echoed. */
    static FakeUpstream.Reply fakeChat(JsonNode body) {
        var messages = body.path("messages");
        var last = messages.get(messages.size() - 1);
        var sse = new StringBuilder();
        var head = "{\"id\":\"chatcmpl-f\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[";
        if (body.path("model").asText().equals("tools") && !last.path("role").asText().equals("tool")) {
            sse.append("data: ").append(head).append("{\"index\":0,\"delta\":{\"role\":\"assistant\",\"tool_calls\":[{\"index\":0,\"id\":\"call_fake1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]}}]}\n\n");
            sse.append("data: ").append(head).append("{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]}}]}\n\n");
            sse.append("data: ").append(head).append("{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n");
        } else {
            var text = last.path("content").asText();
            sse.append("data: ").append(head).append("{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n");
            for (var word : text.split("(?<= )")) {
                sse.append("data: ").append(head).append("{\"index\":0,\"delta\":{\"content\":").append(Json.write(Json.NODES.textNode(word))).append("}}]}\n\n");
            }
            sse.append("data: ").append(head).append("{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n");
        }
        sse.append("data: {\"id\":\"chatcmpl-f\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":5,\"total_tokens\":16}}\n\n");
        sse.append("data: [DONE]\n\n");
        return FakeUpstream.Reply.sse(sse.toString().getBytes(StandardCharsets.UTF_8), 97, 0);
    }

    // ------------------------------------------------------------------ tests

    @ParameterizedTest
    @ValueSource(strings = {"", "fake-"})
    void createRetrieveListDelete(String p) throws Exception {
        var created = call("POST", "/responses", """
                {"model":"%secho","input":"hello there","instructions":"Be brief.","metadata":{"k":"v"},"temperature":0.5}""".formatted(p));
        assertThat(created.status).isEqualTo(200);
        var r = created.json;
        spec.assertValid("Response", r);
        assertThat(r.get("id").asText()).startsWith("resp_");
        assertThat(r.get("status").asText()).isEqualTo("completed");
        assertThat(r.get("model").asText()).isEqualTo(p + "echo");
        assertThat(r.get("metadata").get("k").asText()).isEqualTo("v");
        var msg = r.get("output").get(0);
        assertThat(msg.get("id").asText()).startsWith("msg_");
        assertThat(msg.get("content").get(0).get("text").asText()).isEqualTo("hello there");
        assertThat(r.get("usage").get("input_tokens").asInt()).isPositive();
        assertThat(r.get("usage").get("output_tokens").asInt()).isPositive();

        var got = call("GET", "/responses/" + r.get("id").asText(), null);
        assertThat(got.json).isEqualTo(r);
        var items = call("GET", "/responses/" + r.get("id").asText() + "/input_items", null);
        spec.assertValid("ResponseItemList", items.json);
        assertThat(items.json.get("data").get(0).get("content").get(0).get("text").asText()).isEqualTo("hello there");

        var deleted = call("DELETE", "/responses/" + r.get("id").asText(), null);
        assertThat(deleted.json.get("deleted").asBoolean()).isTrue();
        assertThat(call("GET", "/responses/" + r.get("id").asText(), null).status).isEqualTo(404);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "fake-"})
    void streamsTheOfficialEventsInOrder(String p) throws Exception {
        var events = stream("POST", "/responses", """
                {"model":"%secho","input":"one two three","stream":true}""".formatted(p));
        var types = events.stream().map(e -> e.get("type").asText()).toList();
        assertThat(types.getFirst()).isEqualTo("response.created");
        assertThat(types.get(1)).isEqualTo("response.in_progress");
        assertThat(types).containsSubsequence("response.output_item.added", "response.content_part.added", "response.output_text.delta",
                "response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed");
        assertThat(types.getLast()).isEqualTo("response.completed");
        for (int i = 0; i < events.size(); i++) {
            assertThat(events.get(i).get("sequence_number").asInt()).isEqualTo(i);
            spec.assertValid("ResponseStreamEvent", events.get(i));
        }
        var text = new StringBuilder();
        events.stream().filter(e -> e.get("type").asText().equals("response.output_text.delta")).forEach(e -> text.append(e.get("delta").asText()));
        assertThat(text.toString()).isEqualTo("one two three");
        var done = events.getLast().get("response");
        assertThat(done.get("output").get(0).get("content").get(0).get("text").asText()).isEqualTo("one two three");
        // Stored: the same object comes back, and the stream replays.
        var id = done.get("id").asText();
        assertThat(call("GET", "/responses/" + id, null).json).isEqualTo(done);
        assertThat(stream("GET", "/responses/" + id + "?stream=true&starting_after=2", null)).isEqualTo(events.subList(3, events.size()));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "fake-"})
    void functionCallRoundTripAndChains(String p) throws Exception {
        var tools = """
                [{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}}]""";
        var events = stream("POST", "/responses", """
                {"model":"%stools","input":"Weather in Paris?","tools":%s,"stream":true}""".formatted(p, tools));
        events.forEach(e -> spec.assertValid("ResponseStreamEvent", e));
        var types = events.stream().map(e -> e.get("type").asText()).toList();
        assertThat(types).containsSubsequence("response.output_item.added", "response.function_call_arguments.delta",
                "response.function_call_arguments.done", "response.output_item.done", "response.completed");
        var first = events.getLast().get("response");
        var call = first.get("output").get(0);
        assertThat(call.get("type").asText()).isEqualTo("function_call");
        assertThat(call.get("id").asText()).startsWith("fc_");
        assertThat(call.get("name").asText()).isEqualTo("get_weather");
        assertThat(call.get("arguments").asText()).isEqualTo("{\"city\":\"Paris\"}");

        // The tool result goes back by call_id, chained onto the first response.
        var second = call("POST", "/responses", """
                {"model":"%stools","previous_response_id":"%s","tools":%s,
                 "input":[{"type":"function_call_output","call_id":"%s","output":"sunny, 21C"}]}"""
                .formatted(p, first.get("id").asText(), tools, call.get("call_id").asText()));
        assertThat(second.status).isEqualTo(200);
        spec.assertValid("Response", second.json);
        assertThat(second.json.get("previous_response_id").asText()).isEqualTo(first.get("id").asText());
        // The fake echoes the tool result; sim/echo repeats the last user message.
        assertThat(second.json.get("output").get(0).get("content").get(0).get("text").asText()).isEqualTo(p.isEmpty() ? "Weather in Paris?" : "sunny, 21C");
        // What the upstream saw: the call and its output, as chat messages.
        if (!p.isEmpty()) {
            var seen = upstream.seen.getLast().body.get("messages");
            assertThat(seen.get(seen.size() - 2).get("tool_calls").get(0).get("id").asText()).isEqualTo(call.get("call_id").asText());
            assertThat(seen.get(seen.size() - 1).get("role").asText()).isEqualTo("tool");
        }
        var items = call("GET", "/responses/" + second.json.get("id").asText() + "/input_items", null).json;
        spec.assertValid("ResponseItemList", items);
        assertThat(items.get("data").size()).isEqualTo(1);

        // A plain text chain: the earlier turns are context (echo answers with the last user message).
        var third = call("POST", "/responses", """
                {"model":"%secho","previous_response_id":"%s","input":"and tomorrow?"}""".formatted(p, second.json.get("id").asText()));
        assertThat(third.json.get("output").get(0).get("content").get(0).get("text").asText()).isEqualTo("and tomorrow?");
        if (!p.isEmpty()) {
            var seen = upstream.seen.getLast().body.get("messages");
            assertThat(seen.size()).isEqualTo(5); // user, assistant call, tool, assistant text, user
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"echo", "fake-echo"})
    void rejectsBadInputNamingTheParam(String model) throws Exception {
        assertError(call("POST", "/responses", "{\"model\":\"" + model + "\",\"input\":\"x\",\"previous_response_id\":\"resp_nope\"}"), 404, "previous_response_id");
        assertError(call("POST", "/responses", "{\"model\":\"" + model + "\",\"input\":[{\"type\":\"web_search_call\",\"id\":\"ws_1\"}]}"), 400, "input[0].type");
        assertError(call("POST", "/responses", "{\"model\":\"" + model + "\",\"input\":\"x\",\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"n\",\"schema\":\"nope\"}}}"), 400, "text.format.schema");
        assertError(call("POST", "/responses", "{\"model\":\"" + model + "\",\"input\":\"x\",\"text\":{\"format\":{\"type\":\"json_schema\",\"schema\":{}}}}"), 400, "text.format.name");
        assertError(call("POST", "/responses", "{\"model\":\"" + model + "\",\"input\":\"x\",\"tools\":[{\"type\":\"web_search\"}]}"), 400, "tools[0].type");
        assertError(call("POST", "/responses", "{\"model\":\"" + model + "\",\"input\":[{\"type\":\"function_call_output\",\"call_id\":\"c\",\"output\":\"o\"}]}"), 400, "input");
        assertError(call("POST", "/responses", "{\"model\":\"" + model + "\",\"input\":\"x\",\"max_output_tokens\":3}"), 400, "max_output_tokens");
        assertError(call("POST", "/responses", "{\"input\":\"x\"}"), 400, "model");
        assertError(call("POST", "/responses", "{\"model\":\"nope\",\"input\":\"x\"}"), 404, "model");
        // Not stored: not retrievable, not chainable, cancel only for background.
        var unstored = call("POST", "/responses", "{\"model\":\"" + model + "\",\"input\":\"x\",\"store\":false}").json;
        spec.assertValid("Response", unstored);
        assertError(call("GET", "/responses/" + unstored.get("id").asText(), null), 404, null);
        assertError(call("POST", "/responses", "{\"model\":\"" + model + "\",\"input\":\"x\",\"previous_response_id\":\"" + unstored.get("id").asText() + "\"}"), 404, "previous_response_id");
        var stored = call("POST", "/responses", "{\"model\":\"" + model + "\",\"input\":\"x\"}").json;
        assertError(call("POST", "/responses/" + stored.get("id").asText() + "/cancel", null), 400, null);
    }

    @org.junit.jupiter.api.Test
    void backgroundResponsesResumeAndCancel() throws Exception {
        var created = call("POST", "/responses", "{\"model\":\"slow\",\"input\":\"go\",\"background\":true}").json;
        spec.assertValid("Response", created);
        assertThat(created.get("status").asText()).isEqualTo("queued");
        var id = created.get("id").asText();
        // Follow from the start, then reconnect after event 5: nothing is missed and nothing repeats.
        var all = stream("GET", "/responses/" + id + "?stream=true", null);
        all.forEach(e -> spec.assertValid("ResponseStreamEvent", e));
        assertThat(all.getFirst().get("type").asText()).isEqualTo("response.created");
        assertThat(all.get(1).get("type").asText()).isEqualTo("response.queued");
        assertThat(all.getLast().get("type").asText()).isEqualTo("response.completed");
        var resumed = stream("GET", "/responses/" + id + "?stream=true&starting_after=5", null);
        assertThat(resumed).isEqualTo(all.subList(6, all.size()));
        assertThat(call("GET", "/responses/" + id, null).json.get("status").asText()).isEqualTo("completed");
        assertError(call("POST", "/responses/" + id + "/cancel", null), 400, null);

        // A background stream with stream: true, resumed mid-way while it is still generating.
        var live = call("POST", "/responses", "{\"model\":\"slow\",\"input\":\"go\",\"background\":true,\"sim\":{\"length\":400}}").json;
        Thread.sleep(150);
        var cancelled = call("POST", "/responses/" + live.get("id").asText() + "/cancel", null);
        assertThat(cancelled.status).isEqualTo(200);
        spec.assertValid("Response", cancelled.json);
        assertThat(cancelled.json.get("status").asText()).isEqualTo("cancelled");
        var tail = stream("GET", "/responses/" + live.get("id").asText() + "?stream=true&starting_after=3", null);
        assertThat(tail.getLast().get("type").asText()).isEqualTo("error");
        tail.forEach(e -> spec.assertValid("ResponseStreamEvent", e));
    }

    @org.junit.jupiter.api.Test
    void structuredOutputAndIncomplete() throws Exception {
        var r = call("POST", "/responses", """
                {"model":"fake-echo","input":"{\\"a\\":1}","max_output_tokens":16,
                 "text":{"format":{"type":"json_schema","name":"thing","schema":{"type":"object","properties":{"a":{"type":"integer"}}},"strict":true}}}""");
        spec.assertValid("Response", r.json);
        var seen = upstream.seen.getLast().body;
        assertThat(seen.get("response_format").get("json_schema").get("name").asText()).isEqualTo("thing");
        assertThat(seen.get("max_tokens").asInt()).isEqualTo(16);
        var cut = call("POST", "/responses", "{\"model\":\"slow\",\"input\":\"x\",\"max_output_tokens\":16,\"sim\":{\"tokens_per_second\":0}}").json;
        spec.assertValid("Response", cut);
        assertThat(cut.get("status").asText()).isEqualTo("incomplete");
        assertThat(cut.get("incomplete_details").get("reason").asText()).isEqualTo("max_output_tokens");
    }

    // ------------------------------------------------------------------ helpers

    record Answer(int status, JsonNode json) {}

    static void assertError(Answer a, int status, String param) {
        assertThat(a.status).as(String.valueOf(a.json)).isEqualTo(status);
        assertThat(a.json.get("error").get("message").asText()).isNotBlank();
        if (param != null) assertThat(a.json.get("error").get("param").asText()).isEqualTo(param);
    }

    static Answer call(String method, String path, String body) throws IOException, InterruptedException {
        var b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gateway.port() + "/v1" + path)).timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        var r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        return new Answer(r.statusCode(), r.body().isEmpty() ? null : Json.parse(r.body()));
    }

    /** The events of an SSE answer, each checked to name its type in {@code event:}. */
    static List<JsonNode> stream(String method, String path, String body) throws IOException, InterruptedException {
        var b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gateway.port() + "/v1" + path)).timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        var r = http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
        assertThat(r.statusCode()).as(new String(r.body(), StandardCharsets.UTF_8)).isEqualTo(200);
        var out = new ArrayList<JsonNode>();
        var decoder = new SseDecoder(new SseDecoder.Listener() {
            @Override
            public void onEvent(SseEvent event) {
                var json = Json.parse(event.data());
                assertThat(event.event()).isEqualTo(json.get("type").asText());
                out.add(json);
            }

            @Override
            public void onComment(String comment) {}
        });
        decoder.feed(r.body());
        decoder.end();
        return out;
    }
}
