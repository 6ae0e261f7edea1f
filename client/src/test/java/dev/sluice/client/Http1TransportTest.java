package dev.sluice.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.client.testing.RawUpstream;
import dev.sluice.wire.json.Json;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The blocking HTTP/1.1 transport on the wire: body framings, keep-alive reuse, and the idle connection a
 * server closed in the meantime. (Every other client test also runs on this transport: see the pom.)
 */
class Http1TransportTest {

    private static SluiceClient client(RawUpstream upstream) {
        return SluiceClient.builder().baseUrl(upstream.baseUrl()).maxRetries(0).transport(SluiceClient.Transport.BLOCKING_HTTP1).build();
    }

    private static final String JSON_OK = "{\"object\":\"list\",\"data\":[{\"id\":\"m1\",\"object\":\"model\"}]}";

    @Test
    void keepAliveConnectionsAreReusedAcrossRequests() throws Exception {
        try (var upstream = RawUpstream.start(c -> {
                    for (int i = 0; i < 3; i++) {
                        if (i > 0) c.readRequest();
                        c.write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + JSON_OK.length() + "\r\n\r\n" + JSON_OK);
                    }
                });
                var client = client(upstream)) {
            for (int i = 0; i < 3; i++) assertThat(client.models()).extracting(Model::id).containsExactly("m1");
            assertThat(upstream.connectionsAccepted()).isEqualTo(1);
        }
    }

    @Test
    void aRequestOnAnIdleConnectionTheServerClosedIsSentAgainOnANewOne() throws Exception {
        // Each connection answers one request and then closes without saying so (no "Connection: close").
        try (var upstream = RawUpstream.start(c -> c.write("HTTP/1.1 200 OK\r\nContent-Length: " + JSON_OK.length() + "\r\n\r\n" + JSON_OK));
                var client = client(upstream)) {
            assertThat(client.models()).hasSize(1);
            Thread.sleep(100); // the server has closed its end by now
            assertThat(client.models()).hasSize(1);
            assertThat(upstream.connectionsAccepted()).isEqualTo(2);
        }
    }

    @Test
    void chunkedBodiesWithExtensionsTrailersAndSplitWritesAreDecoded() throws Exception {
        var sse = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"héllo\"},\"finish_reason\":null}]}\n\n";
        try (var upstream = RawUpstream.start(c -> {
                    c.write(RawUpstream.SSE_HEAD);
                    var bytes = sse.getBytes(java.nio.charset.StandardCharsets.UTF_8);
                    c.write(Integer.toHexString(bytes.length) + ";ext=1\r\n");
                    for (int i = 0; i < bytes.length; i += 7) {
                        c.write(bytes, i, Math.min(7, bytes.length - i)); // splits the two bytes of "é" too
                        Thread.sleep(1);
                    }
                    c.write("\r\n");
                    c.chunk("data: [DONE]\n\n");
                    c.write("0\r\nX-Trailer: yes\r\n\r\n");
                });
                var client = client(upstream)) {
            var body = Json.object().put("model", "m");
            body.putArray("messages").addObject().put("role", "user").put("content", "hi");
            var text = new StringBuilder();
            try (var stream = client.openChatStream(body)) {
                for (var e = stream.next(); e != null; e = stream.next()) {
                    if (e instanceof dev.sluice.wire.chat.StreamEvent.TextDelta t) text.append(t.text());
                }
                assertThat(stream.completed()).isTrue();
            }
            assertThat(text).hasToString("héllo");
        }
    }

    @Test
    void aBodyThatEndsWithTheConnectionIsReadToItsEnd() throws Exception {
        try (var upstream = RawUpstream.start(c -> c.write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n" + JSON_OK));
                var client = client(upstream)) {
            assertThat(client.models()).extracting(Model::id).containsExactly("m1");
        }
    }

    @Test
    void interimResponsesAreSkipped() throws Exception {
        try (var upstream = RawUpstream.start(c -> c.write("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: " + JSON_OK.length() + "\r\n\r\n" + JSON_OK));
                var client = client(upstream)) {
            assertThat(client.models()).hasSize(1);
        }
    }

    @Test
    void aChunkedBodyCutShortIsAnErrorNotAnEnd() throws Exception {
        var served = new AtomicInteger();
        try (var upstream = RawUpstream.start(c -> {
                    served.incrementAndGet();
                    c.write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
                    c.chunk(JSON_OK.substring(0, 10));
                });
                var client = client(upstream)) {
            assertThatThrownBy(client::models).isInstanceOf(java.io.IOException.class);
            assertThat(served).hasValue(1);
        }
    }

    @Test
    void whatIsNotHttpIsAConnectionFailure() throws Exception {
        try (var upstream = RawUpstream.start(c -> c.write("SSH-2.0-OpenSSH_9.2\r\n\r\n"));
                var client = client(upstream)) {
            assertThatThrownBy(client::models).isInstanceOf(ApiConnectionException.class);
        }
    }

    @Test
    void headerValuesCannotSmuggleLines() {
        var client = SluiceClient.builder().baseUrl("http://127.0.0.1:9/v1").transport(SluiceClient.Transport.BLOCKING_HTTP1)
                .header("X-Evil", "a\r\nHost: elsewhere").maxRetries(0).firstByteTimeout(Duration.ofSeconds(1)).build();
        assertThatThrownBy(client::models).isInstanceOf(IllegalArgumentException.class);
    }
}
