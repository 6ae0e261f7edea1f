package dev.sluice.client.tools;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.client.SluiceClient;
import dev.sluice.client.chat.ChatMessage;
import dev.sluice.client.chat.ChatRequest;
import dev.sluice.client.chat.ChatStreamEvent;
import dev.sluice.client.chat.ChatStreamListener;
import dev.sluice.client.testing.FakeUpstream;
import dev.sluice.wire.chat.ChatCompletion;
import dev.sluice.wire.json.Json;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The tool loop against a scripted upstream that streams tool calls like OpenAI does. */
class ToolRunnerTest {

    record Call(String id, String name, String arguments) {}

    /** An OpenAI-style stream asking for {@code calls} in parallel, arguments split in fragments. */
    static byte[] toolCallStream(List<Call> calls) {
        var out = new StringBuilder();
        out.append(chunk("{\"role\":\"assistant\",\"content\":null}", null));
        for (int i = 0; i < calls.size(); i++) {
            var c = calls.get(i);
            out.append(chunk("{\"tool_calls\":[{\"index\":" + i + ",\"id\":\"" + c.id() + "\",\"type\":\"function\",\"function\":{\"name\":\"" + c.name() + "\",\"arguments\":\"\"}}]}", null));
            var args = c.arguments();
            for (int at = 0; at < args.length(); at += 5) {
                var piece = args.substring(at, Math.min(args.length(), at + 5));
                out.append(chunk("{\"tool_calls\":[{\"index\":" + i + ",\"function\":{\"arguments\":" + Json.write(Json.NODES.textNode(piece)) + "}}]}", null));
            }
        }
        out.append(chunk("{}", "tool_calls"));
        out.append("data: [DONE]\n\n");
        return out.toString().getBytes(StandardCharsets.UTF_8);
    }

    static byte[] answerStream(String text) {
        return (chunk("{\"role\":\"assistant\",\"content\":\"\"}", null)
                + chunk("{\"content\":" + Json.write(Json.NODES.textNode(text)) + "}", null)
                + chunk("{}", "stop")
                + "data: [DONE]\n\n").getBytes(StandardCharsets.UTF_8);
    }

    static String chunk(String delta, String finish) {
        return "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":"
                + delta + ",\"finish_reason\":" + (finish == null ? "null" : "\"" + finish + "\"") + "}]}\n\n";
    }

    static ObjectNode citySchema() {
        return (ObjectNode) Json.parse("{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}");
    }

    static ChatRequest request() {
        return ChatRequest.builder().model("m").system("You are helpful.").user("Weather and time in Paris, then Rome?").build();
    }

    @Test
    void twoRoundsOfParallelCallsThenAnAnswer() throws Exception {
        var script = List.of(
                toolCallStream(List.of(new Call("call_a", "get_weather", "{\"city\":\"Paris\"}"), new Call("call_b", "get_time", "{\"city\":\"Paris\"}"))),
                toolCallStream(List.of(new Call("call_c", "get_weather", "{\"city\":\"Rome\"}"), new Call("call_d", "get_time", "{\"city\":\"Rome\"}"))),
                answerStream("Paris: sunny, 10:00. Rome: sunny, 10:00."));
        // Both calls of a round must be running at once to pass the barrier: proof they run in parallel.
        var barrier = new CyclicBarrier(2);
        Tool.Function weather = args -> {
            barrier.await(5, TimeUnit.SECONDS);
            return "sunny in " + args.get("city").asText();
        };
        Tool.Function time = args -> {
            barrier.await(5, TimeUnit.SECONDS);
            return "10:00 in " + args.get("city").asText();
        };
        var events = new CopyOnWriteArrayList<ChatStreamEvent>();
        var completions = new CopyOnWriteArrayList<ChatCompletion>();
        try (var upstream = FakeUpstream.start((ex, req, i) -> FakeUpstream.sse(ex, script.get(i)));
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).build()) {
            var runner = ToolRunner.builder(client)
                    .tool("get_weather", "Current weather of a city", citySchema(), weather)
                    .tool("get_time", "Local time of a city", citySchema(), time)
                    .listener(new ChatStreamListener() {
                        @Override
                        public void onEvent(ChatStreamEvent event) {
                            events.add(event);
                        }

                        @Override
                        public void onCompletion(ChatCompletion completion) {
                            completions.add(completion);
                        }
                    })
                    .build();
            var result = runner.run(request());

            assertThat(result.rounds()).isEqualTo(3);
            assertThat(result.content()).isEqualTo("Paris: sunny, 10:00. Rome: sunny, 10:00.");
            assertThat(completions).hasSize(3);
            assertThat(events.stream().filter(e -> e instanceof ChatStreamEvent.ToolCallDone).count()).isEqualTo(4);

            var requests = upstream.requests();
            assertThat(requests).hasSize(3);
            var base = "[{\"role\":\"system\",\"content\":\"You are helpful.\"},{\"role\":\"user\",\"content\":\"Weather and time in Paris, then Rome?\"}";
            var round1 = ",{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
                    + "{\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
                    + "{\"id\":\"call_b\",\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]}"
                    + ",{\"role\":\"tool\",\"tool_call_id\":\"call_a\",\"content\":\"sunny in Paris\"}"
                    + ",{\"role\":\"tool\",\"tool_call_id\":\"call_b\",\"content\":\"10:00 in Paris\"}";
            var round2 = ",{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
                    + "{\"id\":\"call_c\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Rome\\\"}\"}},"
                    + "{\"id\":\"call_d\",\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"arguments\":\"{\\\"city\\\":\\\"Rome\\\"}\"}}]}"
                    + ",{\"role\":\"tool\",\"tool_call_id\":\"call_c\",\"content\":\"sunny in Rome\"}"
                    + ",{\"role\":\"tool\",\"tool_call_id\":\"call_d\",\"content\":\"10:00 in Rome\"}";
            assertThat(requests.get(0).json().get("messages")).isEqualTo(Json.parse(base + "]"));
            assertThat(requests.get(1).json().get("messages")).isEqualTo(Json.parse(base + round1 + "]"));
            assertThat(requests.get(2).json().get("messages")).isEqualTo(Json.parse(base + round1 + round2 + "]"));
            for (var r : requests) {
                JsonNode json = r.json();
                assertThat(json.get("stream").asBoolean()).isTrue();
                assertThat(json.get("tools")).hasSize(2);
                assertThat(json.at("/tools/0/function/name").asText()).isEqualTo("get_time");
                assertThat(json.at("/tools/1/function/parameters")).isEqualTo(citySchema());
            }

            // The full conversation: 2 given, 3 + 3 per tool round, and the final answer.
            assertThat(result.messages()).hasSize(9);
            assertThat(result.messages().getLast()).isEqualTo(ChatMessage.assistant("Paris: sunny, 10:00. Rome: sunny, 10:00."));
            assertThat(ChatRequest.builder().messages(result.messages()).build().toJson().get("messages"))
                    .isEqualTo(Json.parse(base + round1 + round2 + ",{\"role\":\"assistant\",\"content\":\"Paris: sunny, 10:00. Rome: sunny, 10:00.\"}]"));
        }
    }

    @Test
    void stopsAtTheRoundCap() throws Exception {
        var stream = toolCallStream(List.of(new Call("call_x", "get_weather", "{\"city\":\"Oslo\"}")));
        try (var upstream = FakeUpstream.start((ex, req, i) -> FakeUpstream.sse(ex, stream));
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).build()) {
            var runner = ToolRunner.builder(client).tool("get_weather", null, citySchema(), args -> "rain").maxRounds(3).build();
            var e = catchThrowableOfType(ToolRoundsExceededException.class, () -> runner.run(request()));
            assertThat(e.maxRounds()).isEqualTo(3);
            assertThat(upstream.requests()).hasSize(3);
            // given 2, then (assistant + tool) twice, then the assistant whose call was not run
            assertThat(e.messages()).hasSize(2 + 2 + 2 + 1);
            assertThat(e.messages().getLast()).isInstanceOf(ChatMessage.Assistant.class);
            assertThat(e.lastCompletion().choice(0).finishReason()).isEqualTo("tool_calls");
        }
    }

    @Test
    void unknownToolsAndBadArgumentsAreReportedToTheModel() throws Exception {
        var script = List.of(
                toolCallStream(List.of(new Call("call_1", "nope", "{}"), new Call("call_2", "get_weather", "{bad"))),
                answerStream("sorry"));
        try (var upstream = FakeUpstream.start((ex, req, i) -> FakeUpstream.sse(ex, script.get(i)));
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).build()) {
            var runner = ToolRunner.builder(client).tool("get_weather", null, citySchema(), args -> "rain").build();
            var result = runner.run(request());
            assertThat(result.content()).isEqualTo("sorry");
            var messages = upstream.requests().get(1).json().get("messages");
            assertThat(messages.get(3).get("tool_call_id").asText()).isEqualTo("call_1");
            assertThat(messages.get(3).get("content").asText()).startsWith("Error: there is no tool named \"nope\"");
            assertThat(messages.get(4).get("tool_call_id").asText()).isEqualTo("call_2");
            assertThat(messages.get(4).get("content").asText()).startsWith("Error: the arguments are not valid JSON");
        }
    }

    @Test
    void aFailingToolStopsTheLoop() throws Exception {
        var script = toolCallStream(List.of(new Call("call_1", "get_weather", "{\"city\":\"Oslo\"}")));
        try (var upstream = FakeUpstream.start((ex, req, i) -> FakeUpstream.sse(ex, script));
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).build()) {
            var runner = ToolRunner.builder(client).tool("get_weather", null, citySchema(), args -> {
                throw new IllegalStateException("weather service down");
            }).build();
            var e = catchThrowableOfType(ToolExecutionException.class, () -> runner.run(request()));
            assertThat(e.toolName()).isEqualTo("get_weather");
            assertThat(e.toolCallId()).isEqualTo("call_1");
            assertThat(e.getCause()).hasMessage("weather service down");
            assertThat(upstream.requests()).hasSize(1);
        }
    }
}
