package dev.sluice.gateway;

import static dev.sluice.gateway.HttpProtocolTest.readAll;
import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.wire.json.Json;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The bounds on receiving a request and on an idle connection, short here; answers in progress are never cut. */
class RequestTimeoutTest {

    static TestGateway gw;

    @BeforeAll
    static void start() throws Exception {
        gw = TestGateway.yaml("""
                limits:
                  request_timeout: 500ms
                  idle_timeout: 1s
                  keepalive: 200ms
                """);
    }

    @AfterAll
    static void stop() {
        gw.close();
    }

    private static Socket connect() throws Exception {
        var base = URI.create(gw.base());
        var socket = new Socket(base.getHost(), base.getPort());
        socket.setSoTimeout(10_000); // far above the bounds: a gateway that never closes fails the read
        return socket;
    }

    private static String sendAndReadToClose(String partialRequest) throws Exception {
        try (var socket = connect()) {
            socket.getOutputStream().write(partialRequest.getBytes(StandardCharsets.ISO_8859_1));
            socket.getOutputStream().flush();
            return readAll(socket.getInputStream());
        }
    }

    @Test
    void partialHeadersGet408AndTheConnectionCloses() throws Exception {
        var answer = sendAndReadToClose("GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Slow: ");
        assertThat(answer).startsWith("HTTP/1.1 408 ").containsIgnoringCase("connection: close").containsIgnoringCase("x-request-id: req_");
        var json = HttpProtocolTest.errorBody(answer);
        assertThat(json.at("/error/code").asText()).isEqualTo("request_timeout");
        assertThat(json.at("/error/message").asText()).contains("500 ms");
        assertThat(json.at("/error/type").asText()).isEqualTo("invalid_request_error");
    }

    @Test
    void aBodyThatNeverCompletesGets408() throws Exception {
        var answer = sendAndReadToClose("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + "Content-Length: 100\r\n\r\n{\"model\":");
        assertThat(answer).startsWith("HTTP/1.1 408 ");
        assertThat(HttpProtocolTest.errorBody(answer).at("/error/code").asText()).isEqualTo("request_timeout");
    }

    @Test
    void aConnectionThatSendsNothingIsClosedWithoutAnAnswer() throws Exception {
        long start = System.nanoTime();
        try (var socket = connect()) {
            assertThat(readAll(socket.getInputStream())).isEmpty();
        }
        assertThat((System.nanoTime() - start) / 1_000_000).isBetween(300L, 5_000L);
    }

    @Test
    void anIdleKeptAliveConnectionIsClosedAfterItsAnswer() throws Exception {
        long start = System.nanoTime();
        var answer = sendAndReadToClose("GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n");
        assertThat(answer).startsWith("HTTP/1.1 200 ").doesNotContain("HTTP/1.1 408"); // not "408": a timestamp or request id may hold it
        assertThat((System.nanoTime() - start) / 1_000_000).isBetween(800L, 5_000L);
    }

    @Test
    void aSlowUpstreamAndALongStreamAreNotCut() throws Exception {
        // ttft 1.5 s: longer than both bounds while the client, rightly, sends nothing.
        var slow = gw.post("/chat/completions", "{\"model\":\"sim/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"one two three\"}],"
                + "\"sim\":{\"ttft_ms\":1500,\"tokens_per_second\":0}}");
        assertThat(slow.statusCode()).isEqualTo(200);
        assertThat(Json.parse(slow.body()).at("/choices/0/message/content").asText()).isNotBlank();
        var stream = gw.stream("{\"model\":\"sim/echo\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"one two three four five six\"}],"
                + "\"sim\":{\"ttft_ms\":1200,\"tokens_per_second\":4}}");
        assertThat(stream.status()).isEqualTo(200);
        assertThat(stream.endsWithDone()).isTrue();
        // And the gateway still serves the client after those answers.
        assertThat(gw.get("/models").statusCode()).isEqualTo(200);
    }
}
