package dev.sluice.gateway.responses;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.gateway.FakeUpstream;
import dev.sluice.gateway.Gateway;
import dev.sluice.gateway.RecordedUsage;
import dev.sluice.gateway.config.ConfigLoader;
import dev.sluice.gateway.usage.UsageRecord;
import dev.sluice.wire.json.Json;
import dev.sluice.wire.openapi.OpenApiValidator;
import dev.sluice.wire.sse.SseDecoder;
import dev.sluice.wire.sse.SseEvent;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The Responses API over raw HTTP, every object and event checked against OpenAI's OpenAPI spec, on one
 * storage backend per subclass (SQLite: {@link ResponsesTest}, PostgreSQL: {@link ResponsesPostgresTest}).
 * Each test runs twice: on the sim provider ({@code echo}, {@code tools}...) and on an OpenAI-compatible
 * fake upstream on loopback ({@code fake-echo}, {@code fake-tools}...), whose chat stream echoes the last
 * user message or calls a tool.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class ResponsesContract {

    static final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    static final OpenApiValidator spec = OpenApiValidator.shared();
    static final String REASONING = "The user wants an echo. ";
    static final String REFUSAL = "I can't help with that.";

    Gateway gateway;
    FakeUpstream upstream;
    final RecordedUsage usage = new RecordedUsage();

    /** The {@code storage:} section of the gateway's config. */
    protected abstract String storage(Path dir) throws Exception;

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        upstream = new FakeUpstream(ResponsesContract::fakeChat);
        gateway = Gateway.start(new ConfigLoader(name -> null).parse("""
                listen: 127.0.0.1:0
                limits: {keepalive: 200ms}
                storage: %s
                providers:
                  fake: {type: openai, base_url: '%s', api_key: k}
                  fake_quick: {type: openai, base_url: '%2$s', api_key: k, timeouts: {idle: 300ms}}
                  sim_a: {type: sim}
                  sim_b: {type: sim}
                models:
                  - name: echo
                    deployments: [{provider: sim, model: echo, ttft_ms: 0, tokens_per_second: 0}]
                  - name: slow
                    deployments: [{provider: sim, model: lorem, ttft_ms: 0, tokens_per_second: 100, length: 60}]
                  - name: tools
                    deployments: [{provider: sim, model: echo, ttft_ms: 0, tokens_per_second: 0, tool_calls: [{name: get_weather, arguments: '{"city":"Paris"}'}]}]
                  - name: fallback
                    retries: 0
                    cooldown_failures: 1000
                    deployments:
                      - {provider: sim_a, model: echo, ttft_ms: 0, tokens_per_second: 0, fail_status: 503, fail_rate: 1}
                      - {provider: sim_b, model: echo, ttft_ms: 0, tokens_per_second: 0}
                  - name: midstream
                    cooldown_failures: 1000
                    deployments:
                      - {provider: sim_a, model: echo, ttft_ms: 0, tokens_per_second: 0, fail_after_tokens: 3}
                      - {provider: sim_b, model: echo, ttft_ms: 0, tokens_per_second: 0}
                  - name: fake-echo
                    deployments: [{provider: fake, model: echo}]
                  - name: fake-slow
                    deployments: [{provider: fake, model: slow}]
                  - name: fake-tools
                    deployments: [{provider: fake, model: tools}]
                  - name: fake-nousage
                    deployments: [{provider: fake, model: nousage}]
                  - name: fake-reasoning
                    deployments: [{provider: fake, model: reasoning}]
                  - name: fake-refusal
                    deployments: [{provider: fake, model: refusal}]
                  - name: fake-parallel
                    deployments: [{provider: fake, model: parallel}]
                  - name: fake-empty
                    retries: 0
                    deployments: [{provider: fake, model: empty}]
                  - name: fake-refusing
                    retries: 0
                    deployments: [{provider: fake, model: status-503}]
                  - name: fake-slowhead
                    retries: 0
                    deployments: [{provider: fake, model: slowhead}]
                  - name: fake-slowhead-fg
                    retries: 0
                    deployments: [{provider: fake, model: slowhead}]
                  - name: backing-off
                    retries: 3
                    backoff: 5s
                    deployments: [{provider: sim, model: echo, fail_status: 503, fail_rate: 1}]
                  - name: fake-ratelimited
                    retries: 0
                    deployments: [{provider: fake, model: ratelimited}]
                  - name: fake-stalling
                    retries: 0
                    on_midstream_failure: error
                    deployments: [{provider: fake_quick, model: stall}]
                  - name: fake-fallback
                    retries: 0
                    cooldown_failures: 1000
                    deployments: [{provider: fake, model: status-503}, {provider: fake, model: echo}]
                  - name: fake-midstream
                    cooldown_failures: 1000
                    deployments: [{provider: fake, model: dying}, {provider: fake, model: echo}]
                """.formatted(storage(dir), upstream.baseUrl()), "test.yaml"), usage);
    }

    @AfterAll
    void stop() throws Exception {
        if (gateway != null) gateway.close();
        if (upstream != null) upstream.close();
        gateway = null;
        upstream = null;
    }

    /**
     * A chat upstream on loopback. By model: {@code tools} calls get_weather until a tool result comes back;
     * {@code status-503} refuses; {@code dying} streams the first three words and drops the connection;
     * {@code reasoning} streams {@code reasoning_content} before the answer. Otherwise (and for a
     * continuation, whose last message is the partial answer) it echoes the last user or tool message,
     * word by word, finishing with {@code length} when asked for fewer tokens than it has words.
     * {@code nousage} reports no usage, {@code slow} drips its answer. Usage is always 11 + 5 tokens.
     */
    static FakeUpstream.Reply fakeChat(JsonNode body) {
        var model = body.path("model").asText();
        if (model.equals("status-503")) {
            return FakeUpstream.Reply.json(503, "{\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\",\"param\":null,\"code\":null}}", Map.of());
        }
        var head0 = "{\"id\":\"chatcmpl-f\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[";
        if (model.equals("parallel")) { // two calls whose argument fragments interleave, as the chat format allows
            var sse = "data: " + head0 + "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"tool_calls\":[{\"index\":0,\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\"\"}}]}}]}\n\n"
                    + "data: " + head0 + "{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_b\",\"type\":\"function\",\"function\":{\"name\":\"g\",\"arguments\":\"{\\\"b\\\"\"}}]}}]}\n\n"
                    + "data: " + head0 + "{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\":1}\"}}]}}]}\n\n"
                    + "data: " + head0 + "{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\":2}\"}}]}}]}\n\n"
                    + "data: " + head0 + "{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n"
                    + "data: [DONE]\n\n";
            return FakeUpstream.Reply.sse(sse.getBytes(StandardCharsets.UTF_8), 97, 0);
        }
        if (model.equals("slowhead")) { // no head for a while: a cancel lands while the gateway is still opening
            try {
                Thread.sleep(3_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            model = "echo";
        }
        if (model.equals("ratelimited")) { // an error event as the whole answer
            return FakeUpstream.Reply.sse("data: {\"error\":{\"message\":\"Slow down.\",\"type\":\"requests\",\"code\":\"rate_limit_exceeded\"}}\n\n"
                    .getBytes(StandardCharsets.UTF_8), 1000, 0);
        }
        if (model.equals("stall")) { // one chunk, then silence until the gateway gives up
            var first = "data: " + head0 + "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"}}]}\n\n";
            return new FakeUpstream.Reply(200, Map.of("Content-Type", "text/event-stream"),
                    List.of(new FakeUpstream.Piece(first.getBytes(StandardCharsets.UTF_8), 0)), true);
        }
        if (model.equals("empty")) { // [DONE] after nothing: no choice at all
            return FakeUpstream.Reply.sse("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8), 97, 0);
        }
        var messages = body.path("messages");
        var last = messages.get(messages.size() - 1);
        String prefill = "";
        if (last.path("role").asText().equals("assistant")) { // a continuation after another deployment died
            prefill = last.path("content").asText();
            last = messages.get(messages.size() - 2);
        }
        var sse = new StringBuilder();
        var head = "{\"id\":\"chatcmpl-f\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[";
        if (model.equals("tools") && !last.path("role").asText().equals("tool")) {
            sse.append("data: ").append(head).append("{\"index\":0,\"delta\":{\"role\":\"assistant\",\"tool_calls\":[{\"index\":0,\"id\":\"call_fake1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]}}]}\n\n");
            sse.append("data: ").append(head).append("{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]}}]}\n\n");
            sse.append("data: ").append(head).append("{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n");
        } else {
            var text = last.path("content").asText();
            var words = text.substring(Math.min(prefill.length(), text.length())).split("(?<= )");
            sse.append("data: ").append(head).append("{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n");
            if (model.equals("refusal")) {
                for (var word : REFUSAL.split("(?<= )")) {
                    sse.append("data: ").append(head).append("{\"index\":0,\"delta\":{\"refusal\":").append(Json.write(Json.NODES.textNode(word))).append("}}]}\n\n");
                }
                words = new String[0];
            }
            if (model.equals("reasoning")) {
                for (var word : REASONING.split("(?<= )")) {
                    sse.append("data: ").append(head).append("{\"index\":0,\"delta\":{\"reasoning_content\":").append(Json.write(Json.NODES.textNode(word))).append("}}]}\n\n");
                }
            }
            int limit = body.path("max_tokens").asInt(Integer.MAX_VALUE);
            int n = model.equals("dying") ? Math.min(3, words.length) : Math.min(limit, words.length);
            for (int i = 0; i < n; i++) {
                sse.append("data: ").append(head).append("{\"index\":0,\"delta\":{\"content\":").append(Json.write(Json.NODES.textNode(words[i]))).append("}}]}\n\n");
            }
            if (model.equals("dying")) return FakeUpstream.Reply.sse(sse.toString().getBytes(StandardCharsets.UTF_8), 97, 0);
            sse.append("data: ").append(head).append("{\"index\":0,\"delta\":{},\"finish_reason\":\"").append(n < words.length ? "length" : "stop").append("\"}]}\n\n");
        }
        if (!model.equals("nousage")) {
            sse.append("data: {\"id\":\"chatcmpl-f\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":5,\"total_tokens\":16}}\n\n");
        }
        sse.append("data: [DONE]\n\n");
        return FakeUpstream.Reply.sse(sse.toString().getBytes(StandardCharsets.UTF_8), model.equals("slow") ? 200 : 97, model.equals("slow") ? 15 : 0);
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
        // Past the end, even the largest sequence number there is: nothing more (it once overflowed to a 400 saying 'at least 0').
        assertThat(stream("GET", "/responses/" + id + "?stream=true&starting_after=" + Long.MAX_VALUE, null)).isEmpty();
        // -1: every event, as a client resuming from scratch asks (the openai-node conformance suite does).
        assertThat(stream("GET", "/responses/" + id + "?stream=true&starting_after=-1", null)).isEqualTo(events);
        assertError(call("GET", "/responses/" + id + "?stream=true&starting_after=-2", null), 400, "starting_after");
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
        // Continuing past a call without its output is the client's error, as at OpenAI, whatever the upstream would do.
        assertError(call("POST", "/responses", """
                {"model":"%secho","previous_response_id":"%s","input":"never mind"}""".formatted(p, first.get("id").asText())), 400, "input");
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
        assertError(call("POST", "/responses", "{\"model\":\"" + model + "\",\"input\":[{\"type\":\"function_call\",\"name\":\"f\",\"arguments\":\"{}\"}]}"), 400, "input[0].call_id");
        assertError(call("POST", "/responses", "{\"model\":\"" + model + "\",\"input\":[{\"role\":\"robot\",\"content\":\"x\"}]}"), 400, "input[0].role");
        assertError(call("POST", "/responses", "{\"model\":\"" + model + "\",\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_image\",\"image_url\":\"u\"}]}]}"), 400, "input[0].content[0].type");
        assertError(call("POST", "/responses", "{\"model\":\"" + model + "\",\"input\":\"x\",\"text\":{\"format\":{\"type\":\"yaml\"}}}"), 400, "text.format.type");
        assertError(call("POST", "/responses", "{\"model\":\"" + model + "\",\"input\":\"x\",\"tools\":[{\"type\":\"function\",\"name\":\"f\"}],\"tool_choice\":{\"type\":\"function\",\"name\":\"g\"}}"), 400, "tool_choice");
        assertError(call("POST", "/responses", "{\"model\":\"" + model + "\",\"input\":\"x\",\"temperature\":3}"), 400, "temperature");
        assertError(call("POST", "/responses", "{\"model\":\"" + model + "\",\"input\":\"x\",\"metadata\":{\"k\":1}}"), 400, "metadata");
        assertError(call("POST", "/responses", "{\"model\":\"" + model + "\",\"input\":\"x\",\"background\":true,\"store\":false}"), 400, "store");
        assertError(call("GET", "/responses/resp_nope/input_items", null), 404, null);
        // Every error is OpenAI-shaped: message, type, param, code.
        var shaped = call("POST", "/responses", "{\"model\":\"" + model + "\",\"input\":[{\"type\":\"web_search_call\",\"id\":\"ws_1\"}]}").json.get("error");
        assertThat(shaped.get("type").asText()).isEqualTo("invalid_request_error");
        assertThat(shaped.has("code")).isTrue();
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

    @ParameterizedTest
    @ValueSource(strings = {"slow", "fake-slow"})
    void backgroundResponsesResumeAndCancel(String model) throws Exception {
        var created = call("POST", "/responses", "{\"model\":\"%s\",\"input\":\"%s\",\"background\":true}".formatted(model, LONG_INPUT)).json;
        spec.assertValid("Response", created);
        assertThat(created.get("status").asText()).isEqualTo("queued");
        var id = created.get("id").asText();
        // Follow from the start, then reconnect after event 5: nothing is missed and nothing repeats.
        var all = stream("GET", "/responses/" + id + "?stream=true", null);
        all.forEach(e -> spec.assertValid("ResponseStreamEvent", e));
        assertThat(all.getFirst().get("type").asText()).isEqualTo("response.created");
        assertThat(all.get(1).get("type").asText()).isEqualTo("response.queued");
        assertThat(all.getLast().get("type").asText()).isEqualTo("response.completed");
        for (int i = 0; i < all.size(); i++) assertThat(all.get(i).get("sequence_number").asInt()).isEqualTo(i);
        var resumed = stream("GET", "/responses/" + id + "?stream=true&starting_after=5", null);
        assertThat(resumed).isEqualTo(all.subList(6, all.size()));
        assertThat(call("GET", "/responses/" + id, null).json.get("status").asText()).isEqualTo("completed");
        assertError(call("POST", "/responses/" + id + "/cancel", null), 400, null);

        // Cancelled while it is still generating: the stream ends with an error event, replayable.
        var live = call("POST", "/responses", "{\"model\":\"%s\",\"input\":\"%s\",\"background\":true,\"sim\":{\"length\":400}}".formatted(model, LONG_INPUT)).json;
        var liveId = live.get("id").asText();
        awaitEvents(liveId, 8);
        var cancelled = call("POST", "/responses/" + liveId + "/cancel", null);
        assertThat(cancelled.status).isEqualTo(200);
        spec.assertValid("Response", cancelled.json);
        assertThat(cancelled.json.get("status").asText()).isEqualTo("cancelled");
        var tail = stream("GET", "/responses/" + liveId + "?stream=true&starting_after=3", null);
        assertThat(tail.getLast().get("type").asText()).isEqualTo("error");
        tail.forEach(e -> spec.assertValid("ResponseStreamEvent", e));
        // What streamed before the cancel is kept, and cancelling again answers the same object.
        var partial = new StringBuilder();
        stream("GET", "/responses/" + liveId + "?stream=true", null).stream().filter(e -> e.get("type").asText().equals("response.output_text.delta"))
                .forEach(e -> partial.append(e.get("delta").asText()));
        assertThat(partial).isNotEmpty();
        assertThat(cancelled.json.at("/output/0/content/0/text").asText()).isEqualTo(partial.toString());
        assertThat(call("POST", "/responses/" + liveId + "/cancel", null).json.get("status").asText()).isEqualTo("cancelled");
    }

    /** A long input: fake-slow echoes it in small, slow pieces (sim's lorem ignores it). */
    static final String LONG_INPUT = "word ".repeat(120).strip();

    /** Waits until a background response has logged at least {@code n} events. */
    void awaitEvents(String id, int n) throws Exception {
        var deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        var seen = new ArrayList<JsonNode>();
        var decoder = new SseDecoder(new SseDecoder.Listener() {
            @Override
            public void onEvent(SseEvent event) {
                seen.add(Json.parse(event.data()));
            }

            @Override
            public void onComment(String comment) {}
        });
        var r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gateway.port() + "/v1/responses/" + id + "?stream=true")).build(),
                HttpResponse.BodyHandlers.ofInputStream());
        try (var in = r.body()) {
            var buf = new byte[512];
            int read;
            while (seen.size() < n && (read = in.read(buf)) > 0) {
                decoder.feed(java.util.Arrays.copyOf(buf, read));
                assertThat(System.nanoTime()).isLessThan(deadline);
            }
        }
        assertThat(seen.size()).isGreaterThanOrEqualTo(n);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "fake-"})
    void structuredOutputAndIncomplete(String p) throws Exception {
        var schema = """
                {"type":"json_schema","name":"thing","schema":{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"],"additionalProperties":false},"strict":true}""";
        var r = call("POST", "/responses", """
                {"model":"%secho","input":"{\\"a\\":1}","text":{"format":%s}}""".formatted(p, schema));
        assertThat(r.status).as(String.valueOf(r.json)).isEqualTo(200);
        spec.assertValid("Response", r.json);
        assertThat(r.json.at("/text/format/type").asText()).isEqualTo("json_schema");
        assertThat(r.json.at("/text/format/name").asText()).isEqualTo("thing");
        assertThat(r.json.at("/text/format/strict").asBoolean()).isTrue();
        assertThat(Json.parse(r.json.at("/output/0/content/0/text").asText()).get("a").asInt()).isEqualTo(1);
        if (!p.isEmpty()) {
            var seen = upstream.seen.getLast().body;
            assertThat(seen.at("/response_format/type").asText()).isEqualTo("json_schema");
            assertThat(seen.at("/response_format/json_schema/name").asText()).isEqualTo("thing");
            assertThat(seen.at("/response_format/json_schema/strict").asBoolean()).isTrue();
            assertThat(seen.at("/response_format/json_schema/schema/required/0").asText()).isEqualTo("a");
        }

        // An answer cut at max_output_tokens ends incomplete, streamed or not, with the text so far.
        var model = p.isEmpty() ? "slow" : "fake-echo";
        var cut = call("POST", "/responses", "{\"model\":\"%s\",\"input\":\"%s\",\"max_output_tokens\":16,\"sim\":{\"tokens_per_second\":0}}".formatted(model, LONG_INPUT)).json;
        spec.assertValid("Response", cut);
        assertThat(cut.get("status").asText()).isEqualTo("incomplete");
        assertThat(cut.get("incomplete_details").get("reason").asText()).isEqualTo("max_output_tokens");
        assertThat(cut.get("max_output_tokens").asInt()).isEqualTo(16);
        assertThat(cut.at("/output/0/status").asText()).isEqualTo("incomplete");
        assertThat(cut.at("/output/0/content/0/text").asText()).isNotEmpty();
        if (!p.isEmpty()) assertThat(upstream.seen.getLast().body.get("max_tokens").asInt()).isEqualTo(16);
        var events = stream("POST", "/responses", "{\"model\":\"%s\",\"input\":\"%s\",\"max_output_tokens\":16,\"stream\":true,\"sim\":{\"tokens_per_second\":0}}".formatted(model, LONG_INPUT));
        events.forEach(e -> spec.assertValid("ResponseStreamEvent", e));
        assertThat(events.getLast().get("type").asText()).isEqualTo("response.incomplete");
        assertThat(events.getLast().at("/response/incomplete_details/reason").asText()).isEqualTo("max_output_tokens");
    }

    @org.junit.jupiter.api.Test
    void reasoningStreamsAsSummaryEvents() throws Exception {
        var events = stream("POST", "/responses", "{\"model\":\"fake-reasoning\",\"input\":\"think then echo\",\"stream\":true}");
        events.forEach(e -> spec.assertValid("ResponseStreamEvent", e));
        var types = events.stream().map(e -> e.get("type").asText()).toList();
        // The reasoning item is complete before the message starts, as OpenAI orders them.
        assertThat(types).containsSubsequence("response.output_item.added", "response.reasoning_summary_part.added",
                "response.reasoning_summary_text.delta", "response.reasoning_summary_text.done", "response.reasoning_summary_part.done",
                "response.output_item.done", "response.output_item.added", "response.output_text.delta", "response.completed");
        var summary = new StringBuilder();
        events.stream().filter(e -> e.get("type").asText().equals("response.reasoning_summary_text.delta")).forEach(e -> summary.append(e.get("delta").asText()));
        assertThat(summary.toString()).isEqualTo(REASONING);
        var done = events.stream().filter(e -> e.get("type").asText().equals("response.reasoning_summary_text.done")).findFirst().orElseThrow();
        assertThat(done.get("text").asText()).isEqualTo(REASONING);
        var response = events.getLast().get("response");
        var reasoning = response.get("output").get(0);
        assertThat(reasoning.get("type").asText()).isEqualTo("reasoning");
        assertThat(reasoning.get("id").asText()).startsWith("rs_");
        assertThat(reasoning.at("/summary/0/type").asText()).isEqualTo("summary_text");
        assertThat(reasoning.at("/summary/0/text").asText()).isEqualTo(REASONING);
        assertThat(response.at("/output/1/content/0/text").asText()).isEqualTo("think then echo");
        // Chained on, the reasoning item stays with the response: the upstream gets the text turns only.
        var next = call("POST", "/responses", "{\"model\":\"fake-reasoning\",\"input\":\"again\",\"previous_response_id\":\"" + response.get("id").asText() + "\"}");
        assertThat(next.status).isEqualTo(200);
        spec.assertValid("Response", next.json);
        var roles = new ArrayList<String>();
        upstream.seen.getLast().body.get("messages").forEach(m -> roles.add(m.get("role").asText()));
        assertThat(roles).containsExactly("user", "assistant", "user");
    }

    @org.junit.jupiter.api.Test
    void refusalsAreRefusalParts() throws Exception {
        var events = stream("POST", "/responses", "{\"model\":\"fake-refusal\",\"input\":\"something bad\",\"stream\":true}");
        events.forEach(e -> spec.assertValid("ResponseStreamEvent", e));
        var types = events.stream().map(e -> e.get("type").asText()).toList();
        assertThat(types).containsSubsequence("response.output_item.added", "response.content_part.added", "response.refusal.delta",
                "response.refusal.done", "response.content_part.done", "response.output_item.done", "response.completed");
        assertThat(types).doesNotContain("response.output_text.delta");
        var part = events.getLast().at("/response/output/0/content/0");
        assertThat(part.get("type").asText()).isEqualTo("refusal");
        assertThat(part.get("refusal").asText()).isEqualTo(REFUSAL);
        var id = events.getLast().at("/response/id").asText();
        assertThat(call("GET", "/responses/" + id, null).json.at("/output/0/content/0/refusal").asText()).isEqualTo(REFUSAL);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "fake-"})
    void everyResponseLeavesAUsageRecord(String p) throws Exception {
        var model = p + "echo";
        // Not streamed: the upstream's own count, exact (sim counts words, the fake says 11 + 5).
        var plain = call("POST", "/responses", "{\"model\":\"%s\",\"input\":\"count these words\"}".formatted(model));
        var u = plain.json.get("usage");
        assertThat(u.has("estimated")).isFalse();
        var record = awaitRecord(plain.headers.firstValue("x-request-id").orElseThrow());
        assertThat(record.model()).isEqualTo(model);
        assertThat(record.deployment()).isEqualTo(p.isEmpty() ? "sim/echo" : "fake/echo");
        assertThat(record.outcome()).isEqualTo("completed");
        assertThat(record.estimated()).isFalse();
        assertThat(record.attempts()).isEqualTo(1);
        assertThat(record.promptTokens()).isEqualTo(u.get("input_tokens").asInt());
        assertThat(record.completionTokens()).isEqualTo(u.get("output_tokens").asInt());
        if (!p.isEmpty()) {
            assertThat(u.get("input_tokens").asInt()).isEqualTo(11);
            assertThat(u.get("output_tokens").asInt()).isEqualTo(5);
            assertThat(u.get("total_tokens").asInt()).isEqualTo(16);
        }

        // Streamed, and in the background: one record each, when the response ends.
        var streamed = streamWithHeaders("POST", "/responses", "{\"model\":\"%s\",\"input\":\"count these words\",\"stream\":true}".formatted(model));
        var streamedRecord = awaitRecord(streamed.headers.firstValue("x-request-id").orElseThrow());
        assertThat(streamedRecord.outcome()).isEqualTo("completed");
        assertThat(streamedRecord.completionTokens()).isEqualTo(streamed.events.getLast().at("/response/usage/output_tokens").asInt());
        var bg = call("POST", "/responses", "{\"model\":\"%s\",\"input\":\"count these words\",\"background\":true}".formatted(model));
        var bgRecord = awaitRecord(bg.headers.firstValue("x-request-id").orElseThrow());
        assertThat(bgRecord.outcome()).isEqualTo("completed");
        assertThat(call("GET", "/responses/" + bg.json.get("id").asText(), null).json.at("/usage/output_tokens").asInt()).isEqualTo(bgRecord.completionTokens());

        // Cancelled mid-answer: no upstream count exists, so the usage is estimated and marked so.
        var slow = p.isEmpty() ? "slow" : "fake-slow";
        var live = call("POST", "/responses", "{\"model\":\"%s\",\"input\":\"%s\",\"background\":true,\"sim\":{\"length\":400}}".formatted(slow, LONG_INPUT));
        awaitEvents(live.json.get("id").asText(), 8);
        var cancelled = call("POST", "/responses/" + live.json.get("id").asText() + "/cancel", null).json;
        assertThat(cancelled.get("status").asText()).isEqualTo("cancelled");
        spec.assertValid("Response", cancelled);
        assertThat(cancelled.at("/usage/estimated").asBoolean()).isTrue();
        assertThat(cancelled.at("/usage/output_tokens").asInt()).isPositive();
        assertThat(cancelled.at("/usage/input_tokens").asInt()).isPositive();
        var cancelRecord = awaitRecord(live.headers.firstValue("x-request-id").orElseThrow());
        assertThat(cancelRecord.outcome()).isEqualTo("cancelled");
        assertThat(cancelRecord.estimated()).isTrue();
        assertThat(cancelRecord.completionTokens()).isEqualTo(cancelled.at("/usage/output_tokens").asInt());

        // A foreground stream whose client hangs up is cancelled by that, and recorded so.
        var request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gateway.port() + "/v1/responses"))
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"%s\",\"input\":\"%s\",\"stream\":true,\"sim\":{\"length\":400}}".formatted(slow, LONG_INPUT))).build();
        var gone = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
        try (var in = gone.body()) {
            in.readNBytes(2000);
        }
        var goneRecord = awaitRecord(gone.headers().firstValue("x-request-id").orElseThrow());
        assertThat(goneRecord.outcome()).isEqualTo("client_cancelled");
        assertThat(goneRecord.completionTokens()).isPositive();
    }

    @org.junit.jupiter.api.Test
    void usageIsEstimatedWhenTheUpstreamReportsNone() throws Exception {
        var r = call("POST", "/responses", "{\"model\":\"fake-nousage\",\"input\":\"no usage from upstream here\"}");
        assertThat(r.status).isEqualTo(200);
        spec.assertValid("Response", r.json);
        var u = r.json.get("usage");
        assertThat(u.get("estimated").asBoolean()).isTrue();
        assertThat(u.get("input_tokens").asInt()).isPositive();
        assertThat(u.get("output_tokens").asInt()).isBetween(4, 8); // "no usage from upstream here" in o200k
        assertThat(u.get("total_tokens").asInt()).isEqualTo(u.get("input_tokens").asInt() + u.get("output_tokens").asInt());
        var record = awaitRecord(r.headers.firstValue("x-request-id").orElseThrow());
        assertThat(record.estimated()).isTrue();
        assertThat(record.completionTokens()).isEqualTo(u.get("output_tokens").asInt());
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "fake-"})
    void aFailingDeploymentFallsBackToTheNext(String p) throws Exception {
        // Refused before the first byte: the second deployment answers.
        var r = call("POST", "/responses", "{\"model\":\"%sfallback\",\"input\":\"alpha beta gamma delta epsilon zeta\"}".formatted(p));
        assertThat(r.status).as(String.valueOf(r.json)).isEqualTo(200);
        spec.assertValid("Response", r.json);
        assertThat(r.json.get("status").asText()).isEqualTo("completed");
        assertThat(r.json.at("/output/0/content/0/text").asText()).isEqualTo("alpha beta gamma delta epsilon zeta");
        assertThat(r.headers.firstValue("x-sluice-deployment")).hasValue(p.isEmpty() ? "sim_b/echo" : "fake/echo");
        var record = awaitRecord(r.headers.firstValue("x-request-id").orElseThrow());
        assertThat(record.attempts()).isEqualTo(2);
        assertThat(record.outcome()).isEqualTo("completed");
        // In the background too, where the upstream is opened after the request has been answered.
        var bg = call("POST", "/responses", "{\"model\":\"%sfallback\",\"input\":\"alpha beta\",\"background\":true}".formatted(p)).json;
        var events = stream("GET", "/responses/" + bg.get("id").asText() + "?stream=true", null);
        assertThat(events.getLast().get("type").asText()).isEqualTo("response.completed");
        assertThat(events.getLast().at("/response/output/0/content/0/text").asText()).isEqualTo("alpha beta");

        // Dying mid-answer: the answer continues on the next deployment, one message, nothing repeated.
        var streamed = stream("POST", "/responses", "{\"model\":\"%smidstream\",\"input\":\"alpha beta gamma delta epsilon zeta\",\"stream\":true}".formatted(p));
        streamed.forEach(e -> spec.assertValid("ResponseStreamEvent", e));
        for (int i = 0; i < streamed.size(); i++) assertThat(streamed.get(i).get("sequence_number").asInt()).isEqualTo(i);
        var types = streamed.stream().map(e -> e.get("type").asText()).toList();
        assertThat(types.stream().filter(t -> t.equals("response.output_item.added")).count()).isEqualTo(1);
        assertThat(types.getLast()).isEqualTo("response.completed");
        var text = new StringBuilder();
        streamed.stream().filter(e -> e.get("type").asText().equals("response.output_text.delta")).forEach(e -> text.append(e.get("delta").asText()));
        assertThat(text.toString()).isEqualTo("alpha beta gamma delta epsilon zeta");
        assertThat(streamed.getLast().at("/response/output/0/content/0/text").asText()).isEqualTo(text.toString());
    }

    // ------------------------------------------------------------------ usage helpers

    UsageRecord awaitRecord(String requestId) throws InterruptedException {
        return usage.await(requestId);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "fake-"})
    void inputItemsKeepTheClientsIdsAcrossRequests(String p) throws Exception {
        // A client that manages its own context sends the same items, ids and all, in every request.
        var input = """
                [{"type":"message","id":"msg_client1","role":"user","content":"first"},
                 {"type":"function_call","id":"fc_client1","call_id":"call_c1","name":"f","arguments":"{}"},
                 {"type":"function_call_output","id":"fco_client1","call_id":"call_c1","output":"again"}]""";
        var first = call("POST", "/responses", "{\"model\":\"%secho\",\"input\":%s}".formatted(p, input));
        var second = call("POST", "/responses", "{\"model\":\"%secho\",\"input\":%s}".formatted(p, input));
        assertThat(first.status).as(String.valueOf(first.json)).isEqualTo(200);
        assertThat(second.status).as(String.valueOf(second.json)).isEqualTo(200);
        for (var r : List.of(first.json, second.json)) {
            var id = r.get("id").asText();
            var items = call("GET", "/responses/" + id + "/input_items?order=asc", null).json;
            spec.assertValid("ResponseItemList", items);
            assertThat(items.get("data").findValuesAsText("id")).containsExactly("msg_client1", "fc_client1", "fco_client1");
            assertThat(items.get("first_id").asText()).isEqualTo("msg_client1");
            assertThat(items.get("last_id").asText()).isEqualTo("fco_client1");
            var page = call("GET", "/responses/" + id + "/input_items?order=asc&after=msg_client1&limit=1", null).json;
            assertThat(page.get("data").findValuesAsText("id")).containsExactly("fc_client1");
            assertThat(page.get("has_more").asBoolean()).isTrue();
            var before = call("GET", "/responses/" + id + "/input_items?order=asc&before=fco_client1", null).json;
            assertThat(before.get("data").findValuesAsText("id")).containsExactly("msg_client1", "fc_client1");
        }
        // Deleting one response leaves the other's items alone.
        call("DELETE", "/responses/" + first.json.get("id").asText(), null);
        assertThat(call("GET", "/responses/" + second.json.get("id").asText() + "/input_items", null).json.get("data").size()).isEqualTo(3);
        // The same id twice in one input is the client's error, not the store's.
        assertError(call("POST", "/responses", """
                {"model":"%secho","input":[{"type":"message","id":"msg_twice","role":"user","content":"a"},
                                          {"type":"message","id":"msg_twice","role":"user","content":"b"}]}""".formatted(p)), 400, "input[1].id");
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void interleavedParallelCallsKeepEveryArgument(boolean streamed) throws Exception {
        var body = "{\"model\":\"fake-parallel\",\"input\":\"go\",\"stream\":" + streamed + "}";
        JsonNode response;
        if (streamed) {
            var events = stream("POST", "/responses", body);
            events.forEach(e -> spec.assertValid("ResponseStreamEvent", e));
            for (int i = 0; i < events.size(); i++) assertThat(events.get(i).get("sequence_number").asInt()).isEqualTo(i);
            // Each call's deltas add up to its done arguments, whichever order they came in.
            for (int index = 0; index < 2; index++) {
                int at = index;
                var deltas = new StringBuilder();
                events.stream().filter(e -> e.get("type").asText().equals("response.function_call_arguments.delta") && e.get("output_index").asInt() == at)
                        .forEach(e -> deltas.append(e.get("delta").asText()));
                var done = events.stream().filter(e -> e.get("type").asText().equals("response.function_call_arguments.done") && e.get("output_index").asInt() == at)
                        .toList();
                assertThat(done).hasSize(1);
                assertThat(done.getFirst().get("arguments").asText()).isEqualTo(deltas.toString());
            }
            response = events.getLast().get("response");
        } else {
            var answer = call("POST", "/responses", body);
            assertThat(answer.status).isEqualTo(200);
            response = answer.json;
        }
        spec.assertValid("Response", response);
        assertThat(response.get("status").asText()).isEqualTo("completed");
        var output = response.get("output");
        assertThat(output.findValuesAsText("call_id")).containsExactly("call_a", "call_b");
        assertThat(output.get(0).get("arguments").asText()).isEqualTo("{\"a\":1}");
        assertThat(output.get(1).get("arguments").asText()).isEqualTo("{\"b\":2}");
    }

    @org.junit.jupiter.api.Test
    void anUpstreamAnswerWithoutAnyChoiceFails() throws Exception {
        // Not an empty success the SDKs would take for an answer: 502 in the foreground, response.failed in a stream.
        var answer = call("POST", "/responses", "{\"model\":\"fake-empty\",\"input\":\"hi\"}");
        assertError(answer, 502, null);
        assertThat(answer.json.get("error").get("message").asText()).contains("without any choice");
        var events = stream("POST", "/responses", "{\"model\":\"fake-empty\",\"input\":\"hi\",\"stream\":true}");
        events.forEach(e -> spec.assertValid("ResponseStreamEvent", e));
        var last = events.getLast();
        assertThat(last.get("type").asText()).isEqualTo("response.failed");
        assertThat(last.get("response").get("error").get("code").asText()).isEqualTo("server_error");
        assertThat(call("GET", "/responses/" + last.get("response").get("id").asText(), null).json.get("status").asText()).isEqualTo("failed");
    }

    @org.junit.jupiter.api.Test
    void optionsAreValidatedNotIgnored() throws Exception {
        var base = "{\"model\":\"echo\",\"input\":\"x\",";
        assertError(call("POST", "/responses", base + "\"truncation\":\"bogus\"}"), 400, "truncation");
        assertError(call("POST", "/responses", base + "\"include\":[\"bogus\"]}"), 400, "include[0]");
        assertError(call("POST", "/responses", base + "\"include\":\"reasoning.encrypted_content\"}"), 400, "include");
        assertError(call("POST", "/responses", base + "\"top_logprobs\":21}"), 400, "top_logprobs");
        assertError(call("POST", "/responses", base + "\"top_logprobs\":1.5}"), 400, "top_logprobs");
        assertError(call("POST", "/responses", base + "\"max_tool_calls\":0}"), 400, "max_tool_calls");
        assertError(call("POST", "/responses", base + "\"service_tier\":\"bogus\"}"), 400, "service_tier");
        assertError(call("POST", "/responses", base + "\"prompt\":{\"id\":\"pmpt_1\"}}"), 400, "prompt");
        assertError(call("POST", "/responses", base + "\"reasoning\":{\"effort\":5}}"), 400, "reasoning.effort");
        assertError(call("POST", "/responses", base + "\"reasoning\":{\"summary\":\"long\"}}"), 400, "reasoning.summary");
        assertError(call("POST", "/responses", base + "\"tools\":[{\"type\":\"function\",\"name\":\"f\",\"strict\":\"yes\"}]}"), 400, "tools[0].strict");
        assertError(call("POST", "/responses", base + "\"tools\":[{\"type\":\"function\",\"name\":\"f\",\"description\":7}]}"), 400, "tools[0].description");
        assertError(call("POST", "/responses", base + "\"text\":{\"verbosity\":\"loud\"}}"), 400, "text.verbosity");
        assertError(call("POST", "/responses", base + "\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"n\",\"schema\":{},\"strict\":\"yes\"}}}"), 400, "text.format.strict");
        assertError(call("POST", "/responses", base + "\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"n\",\"schema\":{},\"description\":5}}}"), 400, "text.format.description");
        assertError(call("POST", "/responses", "{\"model\":\"echo\",\"input\":[{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":\"bad\"}]}"), 400, "input[0].summary");
        assertError(call("POST", "/responses", base + "\"tool_choice\":\"required\"}"), 400, "tool_choice");
        assertError(call("POST", "/responses", base + "\"tools\":[{\"type\":\"function\",\"name\":\"bad name!\"}]}"), 400, "tools[0].name");
        // Valid values are accepted and echoed as given.
        var ok = call("POST", "/responses", base + """
                "truncation":"auto","include":["reasoning.encrypted_content"],"top_logprobs":3,"max_tool_calls":2,"service_tier":"auto",
                "text":{"verbosity":"low"}}""");
        assertThat(ok.status).as(String.valueOf(ok.json)).isEqualTo(200);
        spec.assertValid("Response", ok.json);
        assertThat(ok.json.get("truncation").asText()).isEqualTo("auto");
        assertThat(ok.json.get("top_logprobs").asInt()).isEqualTo(3);
        assertThat(ok.json.get("max_tool_calls").asInt()).isEqualTo(2);
        assertThat(ok.json.at("/text/verbosity").asText()).isEqualTo("low");
    }

    @org.junit.jupiter.api.Test
    void aRefusedBackgroundResponseSaysWhatTheUpstreamSaidOnce() throws Exception {
        var id = call("POST", "/responses", "{\"model\":\"fake-refusing\",\"input\":\"hi\",\"background\":true}").json.get("id").asText();
        var last = stream("GET", "/responses/" + id + "?stream=true", null).getLast();
        assertThat(last.get("type").asText()).isEqualTo("response.failed");
        var message = last.get("response").get("error").get("message").asText();
        assertThat(message).contains("fake/status-503").contains("overloaded").containsOnlyOnce("HTTP 503");
    }

    @org.junit.jupiter.api.Test
    void aCancelWhileOpeningIsRecordedAsCancelled() throws Exception {
        var created = call("POST", "/responses", "{\"model\":\"fake-slowhead\",\"input\":\"hi\",\"background\":true}");
        var id = created.json.get("id").asText();
        int requests = upstream.seen.size();
        for (int i = 0; i < 200 && upstream.seen.size() == requests; i++) Thread.sleep(10); // the upstream has the request
        var cancelled = call("POST", "/responses/" + id + "/cancel", null);
        assertThat(cancelled.json.get("status").asText()).isEqualTo("cancelled");
        assertThat(awaitRecord(created.headers.firstValue("x-request-id").orElseThrow()).outcome()).isEqualTo("cancelled");
    }

    @org.junit.jupiter.api.Test
    void aClientGoneWhileOpeningIsRecordedAsClientCancelled() throws Exception {
        // Gone while the upstream holds its head, and while the opener backs off before a retry.
        for (var model : List.of("fake-slowhead-fg", "backing-off")) {
            int requests = upstream.seen.size();
            try (var socket = new java.net.Socket("127.0.0.1", gateway.port())) {
                var body = "{\"model\":\"" + model + "\",\"input\":\"hi\"}";
                socket.getOutputStream().write(("POST /v1/responses HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " + body.length()
                        + "\r\n\r\n" + body).getBytes(StandardCharsets.US_ASCII));
                if (model.startsWith("fake-")) {
                    for (int i = 0; i < 200 && upstream.seen.size() == requests; i++) Thread.sleep(10); // the upstream has the request
                } else {
                    Thread.sleep(300); // the sim refused at once; the opener waits out its 5 s backoff
                }
            }
            UsageRecord record = null;
            for (int i = 0; i < 300 && record == null; i++) {
                record = usage.all().stream().filter(r -> r.model().equals(model)).findFirst().orElse(null);
                if (record == null) Thread.sleep(10);
            }
            assertThat(record).as(model).isNotNull();
            assertThat(record.outcome()).as(model).isEqualTo("client_cancelled");
        }
    }

    @org.junit.jupiter.api.Test
    void aFailedAnswerKeepsTheStatusItsCauseMeans() throws Exception {
        // As for chat completions: an upstream's rate-limit event is a 429 (which SDKs back off on), a timeout a 504.
        var limited = call("POST", "/responses", "{\"model\":\"fake-ratelimited\",\"input\":\"hi\"}");
        assertError(limited, 429, null);
        assertThat(limited.json.get("error").get("code").asText()).isEqualTo("rate_limit_exceeded");
        var events = stream("POST", "/responses", "{\"model\":\"fake-ratelimited\",\"input\":\"hi\",\"stream\":true}");
        assertThat(events.getLast().get("type").asText()).isEqualTo("response.failed");
        assertThat(events.getLast().at("/response/error/code").asText()).isEqualTo("rate_limit_exceeded");
        var stalled = call("POST", "/responses", "{\"model\":\"fake-stalling\",\"input\":\"hi\"}");
        assertError(stalled, 504, null);
        assertThat(stalled.json.get("error").get("code").asText()).isEqualTo("upstream_timeout");
    }

    @org.junit.jupiter.api.Test
    void aChainWithADeletedTurnIsNotContinuedWithoutIt() throws Exception {
        var a = call("POST", "/responses", "{\"model\":\"fake-echo\",\"input\":\"alpha\"}").json.get("id").asText();
        var b = call("POST", "/responses", "{\"model\":\"fake-echo\",\"input\":\"beta\",\"previous_response_id\":\"" + a + "\"}").json.get("id").asText();
        var c = call("POST", "/responses", "{\"model\":\"fake-echo\",\"input\":\"gamma\",\"previous_response_id\":\"" + b + "\"}").json.get("id").asText();
        assertThat(call("DELETE", "/responses/" + b, null).status).isEqualTo(200);
        int requests = upstream.seen.size();
        var refused = call("POST", "/responses", "{\"model\":\"fake-echo\",\"input\":\"delta\",\"previous_response_id\":\"" + c + "\"}");
        assertError(refused, 404, "previous_response_id");
        assertThat(refused.json.at("/error/message").asText()).contains(b);
        assertThat(upstream.seen.size()).isEqualTo(requests); // nothing was asked with half the conversation
        // The turn before the deleted one still continues.
        assertThat(call("POST", "/responses", "{\"model\":\"fake-echo\",\"input\":\"x\",\"previous_response_id\":\"" + a + "\"}").status).isEqualTo(200);
    }

    record Streamed(List<JsonNode> events, HttpHeaders headers) {}

    Streamed streamWithHeaders(String method, String path, String body) throws IOException, InterruptedException {
        var headers = new HttpHeaders[1];
        var events = stream(method, path, body, headers);
        return new Streamed(events, headers[0]);
    }

    // ------------------------------------------------------------------ helpers

    record Answer(int status, JsonNode json, HttpHeaders headers) {}

    static void assertError(Answer a, int status, String param) {
        assertThat(a.status).as(String.valueOf(a.json)).isEqualTo(status);
        assertThat(a.json.get("error").get("message").asText()).isNotBlank();
        spec.assertValid("ErrorResponse", a.json);
        if (param != null) assertThat(a.json.get("error").get("param").asText()).isEqualTo(param);
    }

    Answer call(String method, String path, String body) throws IOException, InterruptedException {
        var b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gateway.port() + "/v1" + path)).timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        var r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        return new Answer(r.statusCode(), r.body().isEmpty() ? null : Json.parse(r.body()), r.headers());
    }

    /** The events of an SSE answer, each checked to name its type in {@code event:}. */
    List<JsonNode> stream(String method, String path, String body) throws IOException, InterruptedException {
        return stream(method, path, body, new HttpHeaders[1]);
    }

    List<JsonNode> stream(String method, String path, String body, HttpHeaders[] headers) throws IOException, InterruptedException {
        var b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gateway.port() + "/v1" + path)).timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        var r = http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
        headers[0] = r.headers();
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
