package dev.sluice.gateway.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.gateway.TestGateway;
import io.netty.buffer.Unpooled;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Streamed answers are framed as HTTP chunks by {@link EventStreamResponse} itself, below Netty's encoder, while
 * the head, keep-alive comments and the end of the body still go through the encoder. Read here off a raw socket
 * with a strict chunked-body parser: what a client's HTTP stack must be able to take, byte for byte.
 */
class ChunkedFramingTest {

    static TestGateway gw;

    @BeforeAll
    static void start() throws Exception {
        gw = TestGateway.yaml("""
                limits: {keepalive: 40ms}
                """);
    }

    @AfterAll
    static void stop() {
        gw.close();
    }

    @Test
    void aChunkIsItsLowerCaseHexSizeCrlfDataCrlfForEveryLength() {
        for (int length : new int[] {1, 9, 10, 15, 16, 17, 255, 256, 4095, 4096, 32_768, 65_539, 1 << 20}) {
            var data = new byte[length];
            for (int i = 0; i < length; i++) data[i] = (byte) ('a' + i % 26);
            var batch = Unpooled.buffer(16 + length);
            batch.writerIndex(10).readerIndex(10).writeBytes(data);

            var framed = EventStreamResponse.framed(batch);

            var bytes = new byte[framed.readableBytes()];
            framed.readBytes(bytes);
            var head = Integer.toHexString(length) + "\r\n";
            assertThat(new String(bytes, 0, head.length(), StandardCharsets.US_ASCII)).as("size line of %d", length).isEqualTo(head);
            assertThat(Arrays.copyOfRange(bytes, head.length(), head.length() + length)).isEqualTo(data);
            assertThat(new String(bytes, head.length() + length, 2, StandardCharsets.US_ASCII)).isEqualTo("\r\n");
            assertThat(bytes).hasSize(head.length() + length + 2);
            framed.release();
        }
    }

    @Test
    void streamsOnOneKeepAliveConnectionAreWellFormedChunkedBodiesWithCommentsBetweenEvents() throws Exception {
        try (var socket = new Socket("127.0.0.1", gw.gateway.port())) {
            socket.setSoTimeout(10_000);
            var in = socket.getInputStream();
            for (int round = 0; round < 3; round++) {
                // A wait before the first token long enough for keep-alive comments (through the encoder) ahead of
                // the events (framed here), and the end of the body through the encoder again.
                var body = """
                        {"model":"sim/echo","stream":true,"stream_options":{"include_usage":true},
                         "messages":[{"role":"user","content":"%s"}],"sim":{"ttft_ms":200,"tokens_per_second":5000}}""".formatted("word ".repeat(40 + round * 300).trim());
                var request = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                        + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body;
                socket.getOutputStream().write(request.getBytes(StandardCharsets.UTF_8));

                var head = readHead(in);
                assertThat(head).startsWith("HTTP/1.1 200 ").containsIgnoringCase("transfer-encoding: chunked")
                        .containsIgnoringCase("content-type: text/event-stream");
                var chunks = readChunkedBody(in);
                var sse = new String(concat(chunks), StandardCharsets.UTF_8);

                assertThat(sse).as("round %d", round).startsWith(": keep-alive\n").endsWith("data: [DONE]\n\n");
                var events = sse.replaceAll("(?m)^: keep-alive\n", "").split("\n\n");
                var text = new StringBuilder();
                for (var event : events) {
                    assertThat(event).startsWith("data: ").doesNotContain("\n");
                    if (event.startsWith("data: {")) {
                        var chunk = dev.sluice.wire.json.Json.parse(event.substring(6));
                        for (var choice : chunk.path("choices")) text.append(choice.at("/delta/content").asText(""));
                    }
                }
                assertThat(text.toString()).isEqualTo("word ".repeat(40 + round * 300).trim());
                assertThat(chunks).as("events framed one chunk per flush, never an empty chunk").allMatch(c -> c.length > 0);
            }
        }
    }

    private static String readHead(InputStream in) throws IOException {
        var head = new ByteArrayOutputStream();
        while (true) {
            int b = in.read();
            assertThat(b).as("connection ended inside the head").isNotNegative();
            head.write(b);
            var s = head.toString(StandardCharsets.ISO_8859_1);
            if (s.endsWith("\r\n\r\n")) return s;
        }
    }

    /** RFC 9112 chunked body, strictly: lower-case hex size without leading zeros, CRLF, data, CRLF; ends with 0 CRLF CRLF. */
    private static List<byte[]> readChunkedBody(InputStream in) throws IOException {
        var chunks = new ArrayList<byte[]>();
        while (true) {
            var line = readLine(in);
            assertThat(line).as("chunk-size line").matches("0|[1-9a-f][0-9a-f]*");
            int size = Integer.parseInt(line, 16);
            if (size == 0) {
                assertThat(readLine(in)).as("end of the chunked body").isEmpty();
                return chunks;
            }
            chunks.add(in.readNBytes(size));
            assertThat(readLine(in)).as("CRLF after a chunk's data").isEmpty();
        }
    }

    private static String readLine(InputStream in) throws IOException {
        var line = new ByteArrayOutputStream();
        int b;
        while ((b = in.read()) != '\r') {
            assertThat(b).as("connection ended inside a line").isNotNegative();
            line.write(b);
        }
        assertThat(in.read()).as("LF after CR").isEqualTo('\n');
        return line.toString(StandardCharsets.US_ASCII);
    }

    private static byte[] concat(List<byte[]> parts) {
        var out = new ByteArrayOutputStream();
        parts.forEach(out::writeBytes);
        return out.toByteArray();
    }
}
