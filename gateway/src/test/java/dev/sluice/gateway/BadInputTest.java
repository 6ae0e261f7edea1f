package dev.sluice.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.wire.json.Json;
import dev.sluice.wire.openapi.OpenApiValidator;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** Bad input gets a clear OpenAI-shaped error with the right status, naming the parameter. */
class BadInputTest {

    static TestGateway gw;

    @BeforeAll
    static void start() throws Exception {
        gw = TestGateway.yaml("""
                limits:
                  max_body_bytes: 4096
                """);
    }

    @AfterAll
    static void stop() {
        gw.close();
    }

    @ParameterizedTest(name = "{0} -> {1} {2}")
    @CsvSource(delimiter = '|', textBlock = """
            {not json                                                                  | 400 |                         | invalid_json
            []                                                                         | 400 |                         | invalid_body
            {"messages":[{"role":"user","content":"x"}]}                               | 400 | model                   | missing_required_parameter
            {"model":7,"messages":[{"role":"user","content":"x"}]}                     | 400 | model                   | invalid_type
            {"model":"sim/echo"}                                                       | 400 | messages                | missing_required_parameter
            {"model":"sim/echo","messages":"hi"}                                       | 400 | messages                | invalid_type
            {"model":"sim/echo","messages":[]}                                         | 400 | messages                | empty_array
            {"model":"sim/echo","messages":[{"role":"robot","content":"x"}]}           | 400 | messages[0].role        | invalid_value
            {"model":"sim/echo","messages":[{"role":"user"}]}                          | 400 | messages[0].content     | missing_required_parameter
            {"model":"sim/echo","messages":[{"role":"tool","content":"x"}]}            | 400 | messages[0].tool_call_id| missing_required_parameter
            {"model":"sim/echo","messages":[{"role":"user","content":"x"}],"temperature":"hot"} | 400 | temperature | invalid_type
            {"model":"sim/echo","messages":[{"role":"user","content":"x"}],"temperature":3}     | 400 | temperature | decimal_above_max_value
            {"model":"sim/echo","messages":[{"role":"user","content":"x"}],"n":0}               | 400 | n           | integer_below_min_value
            {"model":"sim/echo","messages":[{"role":"user","content":"x"}],"stream":"yes"}      | 400 | stream      | invalid_type
            {"model":"sim/echo","messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":true}} | 400 | stream_options | invalid_value
            {"model":"sim/echo","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{}}]} | 400 | tools[0].function.name | missing_required_parameter
            {"model":"sim/echo","messages":[{"role":"user","content":"x"}],"tool_choice":"sometimes"} | 400 | tool_choice | invalid_value
            {"model":"sim/echo","messages":[{"role":"user","content":"x"}],"stop":["a","b","c","d","e"]} | 400 | stop | array_above_max_length
            {"model":"no-such-model","messages":[{"role":"user","content":"x"}]}       | 404 | model                   | model_not_found
            """)
    void rejected(String body, int status, String param, String code) throws Exception {
        var r = gw.post("/chat/completions", body);
        assertThat(r.statusCode()).isEqualTo(status);
        var json = Json.parse(r.body());
        if (OpenApiValidator.available()) OpenApiValidator.shared().assertValid("ErrorResponse", json);
        assertThat(json.at("/error/message").asText()).isNotBlank().doesNotContain("Exception").doesNotContain("at dev.");
        assertThat(json.at("/error/param").isNull() ? null : json.at("/error/param").asText()).isEqualTo(param);
        assertThat(json.at("/error/code").asText()).isEqualTo(code);
    }

    @Test
    void bodyOverTheLimitIs413() throws Exception {
        var big = "{\"model\":\"sim/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"" + "x".repeat(10_000) + "\"}]}";
        var r = gw.post("/chat/completions", big);
        assertThat(r.statusCode()).isEqualTo(413);
        var json = Json.parse(r.body());
        assertThat(json.at("/error/code").asText()).isEqualTo("request_too_large");
        assertThat(json.at("/error/message").asText()).contains("4096");
    }

    @Test
    void unknownPathAndWrongMethod() throws Exception {
        var r = gw.post("/nothing/here", "{}");
        assertThat(r.statusCode()).isEqualTo(404);
        assertThat(Json.parse(r.body()).at("/error/message").asText()).isEqualTo("Invalid URL (POST /v1/nothing/here)");
        var get = gw.http.send(HttpRequest.newBuilder(URI.create(gw.base() + "/chat/completions")).GET().build(), HttpResponse.BodyHandlers.ofString());
        assertThat(get.statusCode()).isEqualTo(405);
        assertThat(Json.parse(get.body()).at("/error/type").asText()).isEqualTo("invalid_request_error");
    }

    @Test
    void malformedPercentEscapeInThePathIs404NotAClosedConnection() throws Exception {
        // Sent over a raw socket: java.net.URI refuses to build such a request at all.
        var answer = rawExchange("GET /v1/models/%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assertThat(answer).startsWith("HTTP/1.1 404 ");
        var json = Json.parse(answer.substring(answer.indexOf("\r\n\r\n") + 4));
        if (OpenApiValidator.available()) OpenApiValidator.shared().assertValid("ErrorResponse", json);
        assertThat(json.at("/error/type").asText()).isEqualTo("invalid_request_error");
    }

    /**
     * Sends {@code request} as it is over a raw socket (java.net.URI and HttpClient refuse malformed requests)
     * and reads until the gateway closes the connection.
     */
    private static String rawExchange(String request) throws Exception {
        var base = URI.create(gw.base());
        try (var socket = new java.net.Socket(base.getHost(), base.getPort())) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(request.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            return new String(socket.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        }
    }

    @Test
    void malformedHttpIs400AndTheConnectionCloses() throws Exception {
        var answer = rawExchange("GET /v1/models NOT-HTTP/9\r\nHost: x\r\n\r\n");
        assertThat(answer).startsWith("HTTP/1.1 400 ").containsIgnoringCase("connection: close");
        var json = Json.parse(answer.substring(answer.indexOf("\r\n\r\n") + 4));
        if (OpenApiValidator.available()) OpenApiValidator.shared().assertValid("ErrorResponse", json);
        assertThat(json.at("/error/message").asText()).isEqualTo("Malformed HTTP request.");
    }

    @Test
    void aClientThatHangsUpInTheMiddleOfARequestIsNotReportedAsAnError() throws Exception {
        var logger = java.util.logging.Logger.getLogger(dev.sluice.gateway.http.HttpServer.class.getName());
        var warnings = new java.util.concurrent.CopyOnWriteArrayList<java.util.logging.LogRecord>();
        var handler = new java.util.logging.Handler() {
            @Override
            public void publish(java.util.logging.LogRecord r) {
                if (r.getLevel().intValue() >= java.util.logging.Level.WARNING.intValue()) warnings.add(r);
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
        };
        logger.addHandler(handler);
        try {
            var base = URI.create(gw.base());
            for (int i = 0; i < 3; i++) {
                try (var socket = new java.net.Socket(base.getHost(), base.getPort())) {
                    socket.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            + "Content-Length: 100\r\n\r\n{\"model\":").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                    socket.getOutputStream().flush();
                    Thread.sleep(50); // the head is read and the aggregator is waiting for the rest of the body
                }
            }
            // The gateway sees the hang-ups on its loops; give them time to be handled (and, before the fix, logged).
            Thread.sleep(500);
            assertThat(gw.get("/models").statusCode()).isEqualTo(200);
            assertThat(warnings).extracting(r -> r.getMessage() + " " + r.getThrown()).isEmpty();
        } finally {
            logger.removeHandler(handler);
        }
    }

    @Test
    void connectionStaysUsableAfterAnError() throws Exception {
        for (int i = 0; i < 5; i++) {
            assertThat(gw.post("/chat/completions", "{bad").statusCode()).isEqualTo(400);
            assertThat(gw.post("/chat/completions", "{\"model\":\"sim/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"ok\"}],\"sim\":{\"ttft_ms\":0,\"tokens_per_second\":0}}").statusCode()).isEqualTo(200);
        }
    }
}
