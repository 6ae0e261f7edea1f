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

    /** Strict parsing must not turn an empty or non-object chat body into anything but the 400s it was. */
    @ParameterizedTest
    @CsvSource(delimiter = '|', textBlock = """
            ''     | invalid_body
            '  '   | invalid_body
            7      | invalid_body
            [] []  | invalid_json
            """)
    void emptyAndNonObjectChatBodies(String body, String code) throws Exception {
        var error = error("/chat/completions", body);
        assertThat(error.get("code").asText()).isEqualTo(code);
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

    // ------------------------------------------------------------------ integers beyond 64 bits

    /** asLong() reduces a JSON integer beyond 64 bits mod 2^64: 2^64+3 passed as n=3, 2^64 was reported as "got 0". */
    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            "n":18446744073709551619                    | n                     | integer_above_max_value | 18446744073709551619
            "n":18446744073709551616                    | n                     | integer_above_max_value | 18446744073709551616
            "n":-18446744073709551615                   | n                     | integer_below_min_value | -18446744073709551615
            "max_tokens":18446744073709551617           | max_tokens            | integer_above_max_value | 18446744073709551617
            "max_tokens":99999999999999999999999        | max_tokens            | integer_above_max_value | 99999999999999999999999
            "max_completion_tokens":18446744073709551617| max_completion_tokens | integer_above_max_value | 18446744073709551617
            "seed":99999999999999999999999              | seed                  | integer_above_max_value | 99999999999999999999999
            "seed":-9223372036854775809                 | seed                  | integer_below_min_value | -9223372036854775809
            "logprobs":true,"top_logprobs":18446744073709551616 | top_logprobs  | integer_above_max_value | 18446744073709551616
            """)
    void chatIntegersBeyond64BitsAreRejectedWithTheirRealValue(String field, String param, String code, String value) throws Exception {
        var error = error("/chat/completions", "{" + M + "," + field + "}");
        assertThat(param(error)).isEqualTo(param);
        assertThat(error.get("code").asText()).isEqualTo(code);
        assertThat(error.get("message").asText()).contains("but got " + value + " instead");
    }

    @org.junit.jupiter.api.Test
    void seedAtTheEdgesOf64BitsIsStillAccepted() throws Exception {
        assertThat(gw.post("/chat/completions", "{" + M + ",\"seed\":9223372036854775807}").statusCode()).isEqualTo(200);
        assertThat(gw.post("/chat/completions", "{" + M + ",\"seed\":-9223372036854775808}").statusCode()).isEqualTo(200);
    }

    @ParameterizedTest
    @ValueSource(strings = {"18446744073709551617", "99999999999999999999999"})
    void responsesMaxOutputTokensBeyond64BitsIsRejectedWithItsRealValue(String value) throws Exception {
        var error = error("/responses", "{\"model\":\"sim/echo\",\"input\":\"hi\",\"max_output_tokens\":" + value + "}");
        assertThat(param(error)).isEqualTo("max_output_tokens");
        assertThat(error.get("code").asText()).isEqualTo("integer_above_max_value");
        assertThat(error.get("message").asText()).contains("but got " + value + " instead");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            "max_completion_tokens":18446744073709551872              | max_completion_tokens            | integer_above_max_value
            "max_prompt_tokens":-18446744073709551360                 | max_prompt_tokens                | integer_below_min_value
            "truncation_strategy":{"type":"last_messages","last_messages":4294967297} | truncation_strategy.last_messages | integer_above_max_value
            "truncation_strategy":{"type":"last_messages","last_messages":18446744073709551617} | truncation_strategy.last_messages | integer_above_max_value
            """)
    void runIntegersBeyondTheirRangeAreRejected(String field, String param, String code) throws Exception {
        var assistant = Json.parse(gw.post("/assistants", "{\"model\":\"sim/echo\"}").body()).get("id").asText();
        var thread = Json.parse(gw.post("/threads", "{}").body()).get("id").asText();
        var error = error("/threads/" + thread + "/runs", "{\"assistant_id\":\"" + assistant + "\"," + field + "}");
        assertThat(param(error)).isEqualTo(param);
        assertThat(error.get("code").asText()).isEqualTo(code);
    }

    // ------------------------------------------------------------------ content parts

    private static String message(String role, String content) {
        var extra = role.equals("tool") ? ",\"tool_call_id\":\"call_1\"" : "";
        return "{\"model\":\"sim/echo\",\"messages\":[{\"role\":\"" + role + "\",\"content\":" + content + extra + "}]}";
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource(delimiter = '|', textBlock = """
            user      | []                                                    | messages[0].content                      | empty_array
            user      | [1]                                                   | messages[0].content[0]                   | invalid_type
            user      | ["hi"]                                                | messages[0].content[0]                   | invalid_type
            user      | [{}]                                                  | messages[0].content[0].type              | missing_required_parameter
            user      | [{"type":7}]                                          | messages[0].content[0].type              | invalid_type
            user      | [{"type":"text"}]                                     | messages[0].content[0].text              | missing_required_parameter
            user      | [{"type":"text","text":5}]                            | messages[0].content[0].text              | invalid_type
            user      | [{"type":"bogus","text":"x"}]                         | messages[0].content[0].type              | invalid_value
            user      | [{"type":"refusal","refusal":"x"}]                    | messages[0].content[0].type              | invalid_value
            user      | [{"type":"text","text":"a"},{"type":"image_url"}]     | messages[0].content[1].image_url         | missing_required_parameter
            user      | [{"type":"image_url","image_url":"http://x/a.png"}]   | messages[0].content[0].image_url         | invalid_type
            user      | [{"type":"image_url","image_url":{}}]                 | messages[0].content[0].image_url.url     | missing_required_parameter
            user      | [{"type":"image_url","image_url":{"url":5}}]          | messages[0].content[0].image_url.url     | invalid_type
            user      | [{"type":"image_url","image_url":{"url":"http://x/a.png","detail":"ultra"}}] | messages[0].content[0].image_url.detail | invalid_value
            user      | [{"type":"input_audio"}]                              | messages[0].content[0].input_audio       | missing_required_parameter
            user      | [{"type":"input_audio","input_audio":{"data":"AAAA"}}] | messages[0].content[0].input_audio.format | missing_required_parameter
            user      | [{"type":"input_audio","input_audio":{"data":"AAAA","format":"ogg"}}] | messages[0].content[0].input_audio.format | invalid_value
            user      | [{"type":"file"}]                                     | messages[0].content[0].file              | missing_required_parameter
            user      | [{"type":"file","file":{"file_id":5}}]                | messages[0].content[0].file.file_id      | invalid_type
            system    | [{"type":"image_url","image_url":{"url":"http://x/a.png"}}] | messages[0]                        | invalid_value
            system    | [{"type":"input_audio","input_audio":{"data":"AAAA","format":"wav"}}] | messages[0].content[0].type | invalid_value
            developer | [{"type":"file","file":{"file_id":"file-1"}}]         | messages[0].content[0].type              | invalid_value
            tool      | [{"type":"refusal","refusal":"no"}]                   | messages[0].content[0].type              | invalid_value
            assistant | [{"type":"image_url","image_url":{"url":"http://x/a.png"}}] | messages[0]                        | invalid_value
            assistant | [{"type":"refusal"}]                                  | messages[0].content[0].refusal           | missing_required_parameter
            assistant | []                                                    | messages[0].content                      | empty_array
            """)
    void badContentPartsAreRejected(String role, String content, String param, String code) throws Exception {
        var error = error("/chat/completions", message(role, content));
        assertThat(param(error)).isEqualTo(param);
        assertThat(error.get("code").asText()).isEqualTo(code);
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource(delimiter = '|', textBlock = """
            user      | [{"type":"text","text":""}]
            user      | [{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA","detail":"low"}}]
            user      | [{"type":"input_audio","input_audio":{"data":"AAAA","format":"wav"}}]
            user      | [{"type":"file","file":{"file_id":"file-1"}}]
            user      | [{"type":"file","file":{"filename":"a.pdf","file_data":"data:application/pdf;base64,AAAA"}}]
            system    | [{"type":"text","text":"be brief"}]
            developer | [{"type":"text","text":"be brief"}]
            assistant | [{"type":"text","text":"ok"},{"type":"refusal","refusal":"no"}]
            tool      | [{"type":"text","text":"42"}]
            """)
    void contentPartsOpenAiAcceptsAreAccepted(String role, String content) throws Exception {
        var r = gw.post("/chat/completions", message(role, content));
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    }

    // ------------------------------------------------------------------ tools and tool_choice

    static final String F = "{\"type\":\"function\",\"function\":{\"name\":\"f\"}}";

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            "tool_choice":"required"                                                     | tool_choice        | 'tool_choice' is only allowed when 'tools' are specified
            "tool_choice":"required","tools":[]                                          | tool_choice        | 'tool_choice' is only allowed when 'tools' are specified
            "tool_choice":{"type":"function","function":{"name":"missing"}}              | tool_choice        | 'tool_choice' is only allowed when 'tools' are specified
            "tools":[F],"tool_choice":{"type":"function","function":{"name":"missing"}}  | tool_choice        | 'missing' not found in 'tools'
            "tools":[F],"tool_choice":{"type":"function","function":{}}                  | tool_choice.function.name | Missing required parameter
            "tools":[F],"tool_choice":{"type":"function"}                                | tool_choice.function | Missing required parameter
            "tools":[F],"tool_choice":{"type":"bogus"}                                   | tool_choice.type   | Invalid value: 'bogus'
            "tools":[F],"tool_choice":{"type":"custom","custom":{"name":"f"}}            | tool_choice        | 'f' not found in 'tools'
            "tools":[{"type":"bogus","function":{"name":"f"}}]                           | tools[0].type      | Invalid value: 'bogus'. Supported values are: 'function' and 'custom'.
            "tools":[F,{"type":"custom"}]                                                | tools[1].custom    | Missing required parameter
            """)
    void toolChoiceMustMatchTheTools(String fields, String param, String message) throws Exception {
        var error = error("/chat/completions", "{" + M + "," + fields.replace("[F", "[" + F) + "}");
        assertThat(param(error)).isEqualTo(param);
        assertThat(error.get("message").asText()).contains(message);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {
            "\"tool_choice\":\"none\"",
            "\"tool_choice\":\"auto\"",
            "\"tools\":[F],\"tool_choice\":\"required\"",
            "\"tools\":[F],\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"f\"}}",
            "\"tools\":[F,{\"type\":\"custom\",\"custom\":{\"name\":\"g\"}}],\"tool_choice\":{\"type\":\"custom\",\"custom\":{\"name\":\"g\"}}",
            "\"tools\":[F],\"tool_choice\":{\"type\":\"allowed_tools\",\"allowed_tools\":{\"mode\":\"auto\",\"tools\":[]}}"})
    void toolChoicesOpenAiAcceptsAreAccepted(String fields) throws Exception {
        var r = gw.post("/chat/completions", "{" + M + "," + fields.replace("[F", "[" + F) + ",\"sim\":{\"ttft_ms\":0,\"tokens_per_second\":0}}");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    }

    // ------------------------------------------------------------------ thread messages

    /** A message posted on its own is the body: its params have no prefix (they used to start with a dot). */
    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            {"role":"bogus","content":"x"}           | role
            {"content":"x"}                          | role
            {"role":"user","content":5}              | content
            {"role":"user","content":[]}             | content
            {"role":"user"}                          | content
            {"role":"user","content":[{"type":"bogus"}]} | content[0].type
            {"role":"user","content":[{"type":"text"}]}  | content[0].text
            """)
    void threadMessageErrorsNameTheParamWithoutALeadingDot(String body, String param) throws Exception {
        var thread = Json.parse(gw.post("/threads", "{}").body()).get("id").asText();
        var error = error("/threads/" + thread + "/messages", body);
        assertThat(param(error)).isEqualTo(param);
        assertThat(error.get("message").asText()).doesNotContainPattern("'\\.[a-z]");
    }

    /** Inside a thread or a run the same errors keep their prefix. */
    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            {"messages":[{"role":"user","content":"x"},{"content":"x"}]}          | messages[1].role
            {"messages":[{"role":"bogus","content":"x"}]}                         | messages[0].role
            {"messages":[{"role":"user","content":[{"type":"bogus"}]}]}           | messages[0].content[0].type
            """)
    void messagesInsideAThreadKeepTheirPrefix(String body, String param) throws Exception {
        assertThat(param(error("/threads", body))).isEqualTo(param);
    }
}
