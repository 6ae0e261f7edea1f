package dev.sluice.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.wire.json.Json;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Request bodies OpenAI refuses are refused here too, with OpenAI's param and code, across chat completions,
 * responses and the Assistants endpoints (found by black-box QA: each case used to be accepted or misreported).
 */
class RequestValidationTest {

    static final String M = "\"model\":\"sim/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";
    static final String PARSE_ERROR = "We could not parse the JSON body of your request. The API expects a JSON payload.";

    static TestGateway gw;

    @BeforeAll
    static void start() throws Exception {
        gw = TestGateway.defaults();
    }

    @AfterAll
    static void stop() {
        gw.close();
    }

    private static JsonNode error(String path, String body) throws Exception {
        var r = gw.post(path, body);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
        var error = Json.parse(r.body()).get("error");
        assertThat(error.get("type").asText()).isEqualTo("invalid_request_error");
        return error;
    }

    private static String param(JsonNode error) {
        return error.get("param").isNull() ? null : error.get("param").asText();
    }

    // ------------------------------------------------------------------ JSON bodies

    /** The parser's own words (feature names, source locations) are no business of a client's. */
    @ParameterizedTest
    @ValueSource(strings = {"{\"model\":\"sim/echo\",\"temperature\":NaN}", "/*c*/{}", "{", "{\"a\":'x'}"})
    void anUnparsableChatBodyGetsOpenAisMessageAndNoParserInternals(String body) throws Exception {
        var error = error("/chat/completions", body);
        assertThat(error.get("message").asText()).isEqualTo(PARSE_ERROR);
        assertThat(error.get("code").asText()).isEqualTo("invalid_json");
    }

    @org.junit.jupiter.api.Test
    void deeplyNestedChatBodyGetsOpenAisMessage() throws Exception {
        var error = error("/chat/completions", "[".repeat(10_000));
        assertThat(error.get("message").asText()).isEqualTo(PARSE_ERROR);
    }

    /** Only the first value used to be read, and in proxy mode only it was forwarded: the rest must not be dropped silently. */
    @ParameterizedTest
    @CsvSource(delimiter = '|', textBlock = """
            /chat/completions | {"model":"sim/echo","messages":[{"role":"user","content":"hi"}]} garbage
            /chat/completions | {"model":"sim/echo","messages":[{"role":"user","content":"hi"}]}{"a":1}
            /chat/completions | {"model":"sim/echo","messages":[{"role":"user","content":"hi"}]}]
            /responses        | {"model":"sim/echo","input":"hi"} trailing
            /responses        | {"model":"sim/echo","input":"hi"}{}
            /assistants       | {"model":"sim/echo"} 1
            /threads          | {} {}
            """)
    void dataAfterTheJsonBodyIsRejected(String path, String body) throws Exception {
        var error = error(path, body);
        assertThat(error.get("message").asText()).isEqualTo(PARSE_ERROR);
        assertThat(param(error)).isNull();
    }

    @ParameterizedTest
    @ValueSource(strings = {"/chat/completions", "/responses", "/assistants"})
    void trailingWhitespaceIsStillFine(String path) throws Exception {
        var body = switch (path) {
            case "/chat/completions" -> "{" + M + "}";
            case "/responses" -> "{\"model\":\"sim/echo\",\"input\":\"hi\"}";
            default -> "{\"model\":\"sim/echo\"}";
        };
        assertThat(gw.post(path, body + " \r\n\t ").statusCode()).isEqualTo(200);
    }
}
