package dev.sluice.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.gateway.config.ConfigException;
import dev.sluice.gateway.config.ConfigLoader;
import dev.sluice.wire.json.Json;
import dev.sluice.wire.openapi.OpenApiValidator;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Cross-origin access for browser apps (openai-node with dangerouslyAllowBrowser), over raw sockets to see every header. */
class CorsTest {

    static final String APP = "https://app.example";
    static final String PREFLIGHT = "OPTIONS /v1/chat/completions HTTP/1.1\r\nHost: x\r\nOrigin: %s\r\nAccess-Control-Request-Method: POST\r\n"
            + "Access-Control-Request-Headers: authorization,content-type,x-stainless-os, x-stainless-retry-count\r\nConnection: close\r\n\r\n";
    static final String CHAT = "{\"model\":\"sim/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    static final String STREAM = "{\"model\":\"sim/echo\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

    static TestGateway gw;
    static TestGateway off;

    @BeforeAll
    static void start() throws Exception {
        gw = TestGateway.yaml("""
                limits:
                  max_body_bytes: 4096
                cors:
                  allow_origins: ["https://App.example/", "http://localhost:5173"]
                  max_age: 2h
                """);
        off = TestGateway.yaml("");
    }

    @AfterAll
    static void stop() {
        gw.close();
        off.close();
    }

    @Test
    void aPreflightFromAnAllowedOriginIs204WithWhatTheBrowserAskedFor() throws Exception {
        var answer = exchange(gw, PREFLIGHT.formatted(APP));
        assertThat(answer).startsWith("HTTP/1.1 204 ").endsWith("\r\n\r\n");
        var head = head(answer);
        assertThat(head).contains("\r\naccess-control-allow-origin: https://app.example\r\n")
                .contains("\r\nvary: origin\r\n")
                .contains("\r\naccess-control-allow-methods: get, head, post, delete\r\n")
                .contains("\r\naccess-control-allow-headers: authorization, content-type, x-stainless-os, x-stainless-retry-count\r\n")
                .contains("\r\naccess-control-max-age: 7200\r\n")
                .doesNotContain("\r\ncontent-length:").doesNotContain("\r\ncontent-type:");
    }

    @Test
    void aPreflightFromAnotherOriginIs403WithoutCorsHeaders() throws Exception {
        var answer = exchange(gw, PREFLIGHT.formatted("https://evil.example"));
        assertThat(answer).startsWith("HTTP/1.1 403 ");
        assertThat(head(answer)).doesNotContain("access-control-");
        var json = Json.parse(answer.substring(answer.indexOf("\r\n\r\n") + 4));
        if (OpenApiValidator.available()) OpenApiValidator.shared().assertValid("ErrorResponse", json);
        assertThat(json.at("/error/code").asText()).isEqualTo("cors_origin_not_allowed");
        assertThat(json.at("/error/message").asText()).contains("https://evil.example");
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"json", "error", "stream", "413", "404"})
    void everyAnswerToAnAllowedOriginCarriesTheCorsHeaders(String kind) throws Exception {
        var origin = "Origin: http://localhost:5173\r\n";
        var request = switch (kind) {
            case "json" -> post(origin, CHAT);
            case "error" -> post(origin, "{\"model\":");
            case "stream" -> post(origin, STREAM);
            case "413" -> "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + origin + "Content-Type: application/json\r\nContent-Length: 10000\r\n"
                    + "Expect: 100-continue\r\n\r\n";
            default -> "GET /v1/nothing HTTP/1.1\r\nHost: x\r\n" + origin + "Connection: close\r\n\r\n";
        };
        var answer = exchange(gw, request);
        var head = head(answer);
        assertThat(head).contains("\r\naccess-control-allow-origin: http://localhost:5173\r\n").contains("\r\nvary: origin\r\n");
        assertThat(head).containsPattern("\r\naccess-control-expose-headers: [^\r]*x-request-id")
                .containsPattern("\r\naccess-control-expose-headers: [^\r]*retry-after")
                .containsPattern("\r\naccess-control-expose-headers: [^\r]*x-sluice-deployment");
        if (kind.equals("stream")) assertThat(head).contains("text/event-stream");
        if (kind.equals("stream")) assertThat(answer).contains("data: [DONE]");
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"https://evil.example", "https://app.example.evil", "null", "http://app.example"})
    void anAnswerToAnotherOriginHasNoCorsHeaders(String origin) throws Exception {
        var answer = exchange(gw, post("Origin: " + origin + "\r\n", CHAT));
        assertThat(answer).startsWith("HTTP/1.1 200 ");
        assertThat(head(answer)).doesNotContain("access-control-").contains("\r\nvary: origin\r\n");
    }

    @Test
    void withoutACorsSectionNoCorsHeaderIsEverSent() throws Exception {
        var preflight = exchange(off, PREFLIGHT.formatted(APP));
        assertThat(preflight).startsWith("HTTP/1.1 405 ");
        assertThat(head(preflight)).doesNotContain("access-control-");
        var answer = exchange(off, post("Origin: " + APP + "\r\n", CHAT));
        assertThat(answer).startsWith("HTTP/1.1 200 ");
        assertThat(head(answer)).doesNotContain("access-control-").doesNotContain("vary");
    }

    @Test
    void aStarAllowsEveryOriginEchoingIt() throws Exception {
        try (var any = TestGateway.yaml("cors: { allow_origins: [\"*\"] }")) {
            var answer = exchange(any, PREFLIGHT.formatted("https://anywhere.example"));
            assertThat(answer).startsWith("HTTP/1.1 204 ");
            assertThat(head(answer)).contains("\r\naccess-control-allow-origin: https://anywhere.example\r\n").contains("\r\naccess-control-max-age: 600\r\n");
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"app.example", "https://app.example/path", "null", "''"})
    void anAllowedOriginThatIsNoOriginIsAConfigError(String origin) {
        assertThatThrownBy(() -> new ConfigLoader(name -> null).parse("cors: { allow_origins: [" + origin + "] }", "test.yaml"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("cors.allow_origins");
    }

    // ------------------------------------------------------------------ helpers

    static String post(String headers, String body) {
        return "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + headers + "Content-Type: application/json\r\nConnection: close\r\nContent-Length: "
                + body.length() + "\r\n\r\n" + body;
    }

    /** The head, lower-cased, for matching header lines. */
    static String head(String answer) {
        return answer.substring(0, answer.indexOf("\r\n\r\n") + 4).toLowerCase(Locale.ROOT);
    }

    static String exchange(TestGateway gateway, String request) throws Exception {
        try (var socket = new Socket("127.0.0.1", gateway.gateway.port())) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
            return new String(socket.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }
}
