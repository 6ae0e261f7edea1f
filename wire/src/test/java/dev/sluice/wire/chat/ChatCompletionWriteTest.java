package dev.sluice.wire.chat;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.wire.fixtures.Fixtures.Fixture;
import dev.sluice.wire.json.Json;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link ChatCompletion#writeTo} is how the gateway writes a non-streamed answer: it must give exactly the bytes
 * of {@link ChatCompletion#toJson()}, the object the rest of the code (and the fixtures) are checked against.
 */
class ChatCompletionWriteTest {

    static java.util.stream.Stream<Fixture> chatFixtures() {
        return ChatFixtureTest.chatFixtures();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("chatFixtures")
    void everyFixtureIsWrittenAsItsTree(Fixture fixture) throws IOException {
        var result = ChatFixtureTest.parse(fixture.bytes(), 0, 0).accumulator().result();
        assertSameAsTree(result);
    }

    @Test
    void nullsToolCallsReasoningLogprobsAndExtrasAreWrittenAsTheTreeHasThem() throws IOException {
        var call = new ChatCompletion.ToolCall(0, "call_1", null, "get_weather", "{\"city\":\"Paris \\\"Nord\\\"\"}");
        var message = new ChatCompletion.Message(null, null, "I can't \u00e9\n", "thinking…", "reasoning", List.of(call),
                ordered("annotations", Json.parse("[]"), "audio", Json.parse("null")));
        var choice = new ChatCompletion.Choice(1, message, Json.parse("{\"content\":[{\"token\":\"a\",\"logprob\":-0.1}]}"), null,
                ordered("native_finish_reason", Json.parse("\"STOP\"")));
        var completion = new ChatCompletion(null, 0, "m\u00fc", "fp", "default", List.of(choice),
                Json.parse("{\"prompt_tokens\":1,\"completion_tokens\":2,\"total_tokens\":3}"),
                ordered("provider", Json.parse("\"x\""), "usage", Json.parse("{}"), "id", Json.parse("\"dropped\"")));
        assertSameAsTree(completion);
        assertSameAsTree(new ChatCompletion("id", 1, "m", null, null, List.of(), null, ordered("usage", Json.parse("{\"n\":1}"))));
    }

    @Test
    void extrasThatReplaceTypedFieldsKeepTheirPlace() throws IOException {
        // A tree replaces such a value where it stands; the writer goes through the tree then.
        var parts = Json.parse("[{\"type\":\"text\",\"text\":\"hi\"}]");
        var message = new ChatCompletion.Message("assistant", "hi", null, "r", "reasoning_content", List.of(),
                ordered("content", parts, "reasoning_content", Json.parse("\"other\"")));
        var choice = new ChatCompletion.Choice(0, message, null, "stop", ordered("finish_reason", Json.parse("\"length\"")));
        var completion = new ChatCompletion("id", 1, "m", null, null, List.of(choice), null, Map.of());
        assertSameAsTree(completion);
        var written = Json.parse(write(completion));
        assertThat(written.at("/choices/0/message/content")).isEqualTo(parts);
        assertThat(written.at("/choices/0/finish_reason").asText()).isEqualTo("length");
    }

    private static void assertSameAsTree(ChatCompletion completion) throws IOException {
        var expected = new String(Json.bytes(completion.toJson()), StandardCharsets.UTF_8);
        assertThat(new String(write(completion), StandardCharsets.UTF_8)).isEqualTo(expected);
    }

    private static byte[] write(ChatCompletion completion) throws IOException {
        var out = new ByteArrayOutputStream();
        try (var g = Json.FACTORY.createGenerator(out)) {
            completion.writeTo(g);
        }
        return out.toByteArray();
    }

    private static Map<String, JsonNode> ordered(Object... pairs) {
        var map = new LinkedHashMap<String, JsonNode>();
        for (int i = 0; i < pairs.length; i += 2) map.put((String) pairs[i], (JsonNode) pairs[i + 1]);
        return map;
    }
}
