package dev.sluice.gateway.conformance;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.errors.BadRequestException;
import com.openai.errors.InternalServerException;
import com.openai.errors.NotFoundException;
import com.openai.errors.OpenAIServiceException;
import com.openai.errors.RateLimitException;
import com.openai.errors.SseException;
import com.openai.helpers.ChatCompletionAccumulator;
import com.openai.models.FunctionDefinition;
import com.openai.models.FunctionParameters;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionFunctionTool;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.chat.completions.ChatCompletionToolMessageParam;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.sluice.gateway.TestGateway;
import dev.sluice.wire.fixtures.Fixtures;
import dev.sluice.wire.fixtures.Fixtures.Fixture;
import dev.sluice.wire.json.Json;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Executors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The official OpenAI Java SDK ({@code com.openai:openai-java}), used as it is, against a real gateway on
 * loopback whose {@code fake} provider is a small HTTP server replaying the shared real upstream
 * transcripts. What the SDK's {@link ChatCompletionAccumulator} rebuilds from the gateway's stream must be
 * what the fixture's {@code expected} says a correct client rebuilds from the original.
 */
class OpenAiJavaConformanceTest {

    private static HttpServer upstream;
    private static TestGateway gateway;
    private static OpenAIClient client;

    @BeforeAll
    static void start() throws Exception {
        Assumptions.assumeTrue(Fixtures.available(), "shared fixtures not found at " + Fixtures.dir());
        upstream = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        upstream.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        upstream.createContext("/", OpenAiJavaConformanceTest::serveUpstream);
        upstream.start();
        gateway = TestGateway.yaml("""
                providers:
                  fake:
                    type: openai
                    base_url: http://127.0.0.1:%d/v1
                    api_key: test-key
                models:
                  - name: sim-strict
                    on_midstream_failure: error
                    deployments: [{provider: sim, model: lorem}]
                """.formatted(upstream.getAddress().getPort()));
        client = OpenAIOkHttpClient.builder()
                .baseUrl(gateway.base())
                .apiKey("sk-conformance")
                .maxRetries(0)
                .timeout(Duration.ofSeconds(30))
                .build();
    }

    @AfterAll
    static void stop() {
        if (client != null) client.close();
        if (gateway != null) gateway.close();
        if (upstream != null) upstream.stop(0);
    }

    // ------------------------------------------------------------------------------------ fake upstream

    /** The model name picks the answer: a fixture's name replays it; status-NNN refuses with that status. */
    private static void serveUpstream(HttpExchange ex) throws IOException {
        try (ex) {
            var body = Json.parse(ex.getRequestBody().readAllBytes());
            var model = body.path("model").asText("");
            if (model.matches("status-\\d{3}")) {
                int status = Integer.parseInt(model.substring(7));
                if (status == 429) ex.getResponseHeaders().add("Retry-After", "7");
                sendJson(ex, status, "{\"error\":{\"message\":\"Fake upstream refused with HTTP " + status + "\",\"type\":\""
                        + (status == 429 ? "rate_limit_error" : "server_error") + "\",\"param\":null,\"code\":\"fake_" + status + "\"}}");
                return;
            }
            var file = Fixtures.dir().resolve(model + ".sse");
            if (!model.matches("[A-Za-z0-9._-]+") || !Files.isRegularFile(file)) {
                sendJson(ex, 404, "{\"error\":{\"message\":\"The model `" + model + "` does not exist.\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"model_not_found\"}}");
                return;
            }
            var bytes = Files.readAllBytes(file);
            ex.getResponseHeaders().add("Content-Type", "text/event-stream; charset=utf-8");
            ex.sendResponseHeaders(200, 0);
            var out = ex.getResponseBody();
            var random = new Random(model.hashCode());
            // Small pieces, flushed one by one: the gateway sees the stream cut anywhere, even inside a UTF-8 sequence.
            for (int offset = 0; offset < bytes.length; ) {
                int n = Math.min(bytes.length - offset, 1 + random.nextInt(160));
                out.write(bytes, offset, n);
                out.flush();
                offset += n;
            }
        }
    }

    private static void sendJson(HttpExchange ex, int status, String json) throws IOException {
        var bytes = json.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().add("Content-Type", "application/json");
        ex.sendResponseHeaders(status, bytes.length);
        ex.getResponseBody().write(bytes);
    }

    // ------------------------------------------------------------------------------------ helpers

    private static final Map<String, Object> FAST = Map.of("ttft_ms", 0, "tokens_per_second", 0);

    private static ChatCompletionCreateParams.Builder request(String model, String userMessage) {
        return ChatCompletionCreateParams.builder().model(model).addUserMessage(userMessage);
    }

    private static ChatCompletionCreateParams.Builder sim(String model, String userMessage, Map<String, Object> sim) {
        return request(model, userMessage).putAdditionalBodyProperty("sim", JsonValue.from(sim));
    }

    private static ChatCompletionStreamOptions includeUsage() {
        return ChatCompletionStreamOptions.builder().includeUsage(true).build();
    }

    private static ChatCompletionFunctionTool tool(String name) {
        return ChatCompletionFunctionTool.builder()
                .function(FunctionDefinition.builder()
                        .name(name)
                        .parameters(FunctionParameters.builder()
                                .putAdditionalProperty("type", JsonValue.from("object"))
                                .putAdditionalProperty("properties", JsonValue.from(Map.of()))
                                .build())
                        .build())
                .build();
    }

    /** Streams with the SDK's accumulator, as its documentation shows; also returns the raw chunks. */
    private record Streamed(ChatCompletion completion, List<ChatCompletionChunk> chunks) {}

    private static Streamed stream(ChatCompletionCreateParams params) {
        var accumulator = ChatCompletionAccumulator.create();
        var chunks = new ArrayList<ChatCompletionChunk>();
        try (var response = client.chat().completions().createStreaming(params)) {
            response.stream().peek(accumulator::accumulate).forEach(chunks::add);
        }
        return new Streamed(accumulator.chatCompletion(), chunks);
    }

    private static String text(JsonNode node) {
        return node == null || node.isNull() ? null : node.asText();
    }

    // ------------------------------------------------------------------------------------ fixtures

    /** Complete OpenAI-compatible chat transcripts without an error in them. */
    static Stream<Fixture> chatFixtures() {
        if (!Fixtures.available()) return Stream.empty();
        return Fixtures.chat().stream().filter(f -> f.expected().path("errors").isEmpty() && !f.expected().path("choices").isEmpty()
                && f.meta().path("complete_body").asBoolean(true));
    }

    private static ChatCompletionCreateParams fixtureRequest(Fixture f, boolean streaming) {
        var name = f.name().substring(0, f.name().length() - ".sse".length());
        var exp = f.expected();
        var builder = request("fake/" + name, "Say something.");
        if (exp.path("choices").size() > 1) builder.n(exp.path("choices").size());
        var tools = new java.util.LinkedHashSet<String>();
        for (var c : exp.path("choices")) for (var t : c.path("tool_calls")) tools.add(t.path("name").asText());
        tools.forEach(t -> builder.addTool(tool(t)));
        for (var c : exp.path("choices")) if (c.has("logprobs_content_tokens") || c.has("logprobs_refusal_tokens")) builder.logprobs(true);
        if (streaming) builder.streamOptions(includeUsage());
        return builder.build();
    }

    private static void assertMatchesExpected(ChatCompletion completion, JsonNode exp, String where) {
        var expChoices = exp.path("choices");
        assertThat(completion.choices()).as(where + ": choices").hasSize(expChoices.size());
        for (var e : expChoices) {
            int index = e.path("index").asInt();
            var choice = completion.choices().stream().filter(c -> c.index() == index).findFirst().orElseThrow();
            var message = choice.message();
            // A text-less message may say "" or null; compare what was said (null-ness is a separate test).
            assertThat(message.content().filter(s -> !s.isEmpty()).orElse(null)).as(where + ": content of choice " + index)
                    .isEqualTo(text(e.get("content")));
            assertThat(message.refusal().filter(s -> !s.isEmpty()).orElse(null)).as(where + ": refusal of choice " + index)
                    .isEqualTo(text(e.get("refusal")));
            assertThat(choice.finishReason().asString()).as(where + ": finish_reason of choice " + index)
                    .isEqualTo(text(e.get("finish_reason")));
            var calls = message.toolCalls().orElse(List.of()).stream()
                    .map(t -> List.of(t.asFunction().id(), t.asFunction().function().name(), t.asFunction().function().arguments()))
                    .toList();
            var expCalls = new ArrayList<List<String>>();
            for (var t : e.path("tool_calls")) expCalls.add(List.of(t.path("id").asText(), t.path("name").asText(), t.path("arguments").asText()));
            assertThat(calls).as(where + ": tool calls of choice " + index).isEqualTo(expCalls);
            if (e.has("logprobs_content_tokens")) {
                var tokens = choice.logprobs().flatMap(ChatCompletion.Choice.Logprobs::content).orElse(List.of()).stream().map(l -> l.token()).toList();
                assertThat(tokens).as(where + ": logprobs tokens").isEqualTo(Json.MAPPER.convertValue(e.get("logprobs_content_tokens"), List.class));
            }
            if (e.has("logprobs_refusal_tokens")) {
                var tokens = choice.logprobs().flatMap(ChatCompletion.Choice.Logprobs::refusal).orElse(List.of()).stream().map(l -> l.token()).toList();
                assertThat(tokens).as(where + ": refusal logprobs tokens").isEqualTo(Json.MAPPER.convertValue(e.get("logprobs_refusal_tokens"), List.class));
            }
        }
        var expUsage = exp.path("usage").isObject() ? exp.get("usage") : exp.path("x_groq_usage").isObject() ? exp.get("x_groq_usage") : null;
        if (expUsage == null) {
            // The upstream reported none: the gateway estimates it with a tokenizer and says so.
            var usage = completion.usage().orElseThrow(() -> new AssertionError(where + ": no estimated usage"));
            assertThat(usage.completionTokens()).as(where + ": estimated completion tokens").isPositive();
            assertThat(usage.totalTokens()).isEqualTo(usage.promptTokens() + usage.completionTokens());
            assertThat(usage._additionalProperties().get("estimated")).as(where + ": marked estimated").isNotNull();
        } else {
            var usage = completion.usage().orElseThrow(() -> new AssertionError(where + ": no usage"));
            assertThat(List.of(usage.promptTokens(), usage.completionTokens(), usage.totalTokens())).as(where + ": usage")
                    .isEqualTo(List.of(expUsage.path("prompt_tokens").asLong(), expUsage.path("completion_tokens").asLong(), expUsage.path("total_tokens").asLong()));
        }
        if (exp.hasNonNull("id") && !exp.get("id").asText().isEmpty()) assertThat(completion.id()).as(where + ": id").isEqualTo(exp.get("id").asText());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("chatFixtures")
    void streamedFixtureAccumulatesToExpected(Fixture f) {
        var streamed = stream(fixtureRequest(f, true));
        assertMatchesExpected(streamed.completion(), f.expected(), "createStreaming + ChatCompletionAccumulator");
        assertThat(streamed.chunks().stream().map(ChatCompletionChunk::id).distinct()).as("one id for the whole stream").hasSize(1);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("chatFixtures")
    void fixtureNotStreamedEqualsExpected(Fixture f) {
        var completion = client.chat().completions().create(fixtureRequest(f, false));
        assertMatchesExpected(completion, f.expected(), "create");
    }

    @Test
    void toolCallOnlyMessageHasNoContentAsFromTheProviderItself() {
        // Straight from OpenAI, this stream's role chunk says "content": null and the accumulator leaves content empty.
        var f = Fixtures.chat().stream().filter(x -> x.name().equals("openai-chat-parallel-tool-calls.sse")).findFirst().orElseThrow();
        var completion = stream(fixtureRequest(f, true)).completion();
        assertThat(completion.choices().getFirst().message().content()).isEmpty();
    }

    // ------------------------------------------------------------------------------------ sim

    @Test
    void simEchoNotStreamed() {
        var completion = client.chat().completions().create(sim("sim/echo", "Hello from Java, ünïcödé 👋", FAST).build());
        assertThat(completion.id()).startsWith("chatcmpl-");
        assertThat(completion.model()).isEqualTo("sim/echo");
        assertThat(completion.choices()).hasSize(1);
        assertThat(completion.choices().getFirst().message().content()).contains("Hello from Java, ünïcödé 👋");
        assertThat(completion.choices().getFirst().finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.STOP);
        var usage = completion.usage().orElseThrow();
        assertThat(usage.totalTokens()).isEqualTo(usage.promptTokens() + usage.completionTokens());
    }

    @Test
    void simStreamedWithAccumulatorAndUsage() {
        var streamed = stream(sim("sim/lorem", "x", Map.of("ttft_ms", 0, "tokens_per_second", 0, "length", 12)).streamOptions(includeUsage()).build());
        var completion = streamed.completion();
        assertThat(completion.choices().getFirst().message().content())
                .contains("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor");
        assertThat(completion.choices().getFirst().finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.STOP);
        assertThat(completion.usage().orElseThrow().completionTokens()).isEqualTo(12);
        assertThat(streamed.chunks().stream().map(ChatCompletionChunk::id).distinct()).hasSize(1);
        assertThat(streamed.chunks().getFirst().choices().getFirst().delta().role()).isPresent();
        assertThat(streamed.chunks().getLast().choices()).isEmpty();
    }

    @Test
    void simNEquals2Streamed() {
        var completion = stream(sim("sim/echo", "both of us", FAST).n(2).streamOptions(includeUsage()).build()).completion();
        assertThat(completion.choices()).extracting(c -> c.index()).containsExactly(0L, 1L);
        assertThat(completion.choices()).allSatisfy(c -> {
            assertThat(c.message().content()).contains("both of us");
            assertThat(c.finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.STOP);
        });
        assertThat(completion.usage()).isPresent();
    }

    @Test
    void simToolRoundTrip() {
        var question = "What is the weather in Paris?";
        var simSettings = Map.<String, Object>of("ttft_ms", 0, "tokens_per_second", 0,
                "tool_calls", List.of(Map.of("name", "get_weather", "arguments", "{\"city\": \"Paris\"}")));
        var first = stream(sim("sim/echo", question, simSettings).addTool(tool("get_weather")).build()).completion();
        var choice = first.choices().getFirst();
        assertThat(choice.finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.TOOL_CALLS);
        var call = choice.message().toolCalls().orElseThrow().getFirst().asFunction();
        assertThat(call.id()).startsWith("call_");
        assertThat(call.function().name()).isEqualTo("get_weather");
        assertThat(call.function().arguments()).isEqualTo("{\"city\": \"Paris\"}");

        var second = client.chat().completions().create(sim("sim/echo", question, simSettings)
                .addTool(tool("get_weather"))
                .addMessage(choice.message())
                .addMessage(ChatCompletionToolMessageParam.builder().toolCallId(call.id()).content("{\"temperature\": 21}").build())
                .build());
        assertThat(second.choices().getFirst().finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.STOP);
        assertThat(second.choices().getFirst().message().content()).contains(question);
        assertThat(second.choices().getFirst().message().toolCalls().orElse(List.of())).isEmpty();
    }

    // ------------------------------------------------------------------------------------ errors

    @Test
    void midStreamErrorFromSimIsAnSseException() {
        var chunks = new ArrayList<ChatCompletionChunk>();
        var thrown = catchThrowable(() -> {
            try (var response = client.chat().completions().createStreaming(
                    sim("sim-strict", "x", Map.of("ttft_ms", 0, "tokens_per_second", 0, "length", 10, "fail_after_tokens", 3)).build())) {
                response.stream().forEach(chunks::add);
            }
        });
        assertThat(thrown).isInstanceOf(SseException.class).hasMessageContaining("Simulated failure after 3 tokens");
        assertThat(((SseException) thrown).code()).contains("sim_injected_failure");
        assertThat(chunks.stream().flatMap(c -> c.choices().stream()).flatMap(c -> c.delta().content().stream()).reduce("", String::concat))
                .isEqualTo("Lorem ipsum dolor");
    }

    @Test
    void midStreamErrorFromUpstreamFixtureIsAnSseException() {
        var thrown = catchThrowable(() -> stream(request("fake/openrouter-midstream-error", "Hello there").build()));
        assertThat(thrown).isInstanceOf(SseException.class).hasMessageContaining("Token limit reached");
        // An error before any chunk is answered as an error status: openai-java raises its status exception.
        thrown = catchThrowable(() -> stream(request("fake/sglang-vllm-style-stream-error", "x").build()));
        assertThat(thrown).isInstanceOf(BadRequestException.class).hasMessageContaining("maximum context length");
    }

    @Test
    void badRequestIsBadRequestExceptionNamingTheParam() {
        var thrown = catchThrowable(() -> client.chat().completions().create(sim("sim/echo", "x", FAST).temperature(5.0).build()));
        assertThat(thrown).isInstanceOf(BadRequestException.class);
        var e = (BadRequestException) thrown;
        assertThat(e.statusCode()).isEqualTo(400);
        assertThat(e.param()).contains("temperature");
        assertThat(e.type()).contains("invalid_request_error");
    }

    @Test
    void unknownModelIsNotFoundException() {
        assertThatThrownBy(() -> client.chat().completions().create(request("no-such-model", "x").build()))
                .isInstanceOf(NotFoundException.class)
                .satisfies(e -> assertThat(((NotFoundException) e).code()).contains("model_not_found"));
        assertThatThrownBy(() -> stream(request("no-such-model", "x").build())).isInstanceOf(NotFoundException.class);
    }

    @Test
    void upstream429IsRateLimitExceptionWithRetryAfter() {
        for (boolean streaming : new boolean[] {false, true}) {
            var thrown = catchThrowable(() -> {
                if (streaming) stream(request("fake/status-429", "x").build());
                else client.chat().completions().create(request("fake/status-429", "x").build());
            });
            assertThat(thrown).as("streaming=" + streaming).isInstanceOf(RateLimitException.class);
            var e = (RateLimitException) thrown;
            assertThat(e.headers().values("Retry-After")).containsExactly("7");
            assertThat(e.code()).contains("fake_429");
        }
    }

    @Test
    void upstream500IsInternalServerException() {
        var thrown = catchThrowable(() -> stream(request("fake/status-500", "x").build()));
        assertThat(thrown).isInstanceOf(InternalServerException.class);
        assertThat(((OpenAIServiceException) thrown).statusCode()).isEqualTo(500);
    }
}
