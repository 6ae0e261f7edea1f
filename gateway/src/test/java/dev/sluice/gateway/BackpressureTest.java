package dev.sluice.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A client that stops reading must not make the gateway buffer the upstream's answer without bound: the
 * pause travels back to the upstream, whose writes block; once the client reads again, nothing is lost.
 */
class BackpressureTest {

    // ~84 MB of SSE. The kernel buffers of both connections absorb part of it before the upstream stalls (their
    // autotuning goes up to 32 MB here): 12.4 MB once in CI, past a quarter of the 42 MB this test used to send.
    static final int CHUNKS = 80_000;
    static final byte[] CHUNK = ("data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" + "x".repeat(1000)
            + "\"},\"finish_reason\":null}]}\n\n").getBytes(StandardCharsets.UTF_8);

    /** On the event loop the relay stops reading the upstream; on a virtual thread, the thread waits to write. */
    @org.junit.jupiter.params.ParameterizedTest(name = "event_loop: {0}")
    @org.junit.jupiter.params.provider.ValueSource(booleans = {true, false})
    void aStalledClientStallsTheUpstreamInsteadOfFillingMemory(boolean eventLoop) throws Exception {
        var written = new AtomicLong();
        try (var server = new ServerSocket(0, 10, InetAddress.getLoopbackAddress())) {
            Thread.ofVirtual().start(() -> serve(server, written));
            try (var gw = TestGateway.yaml("""
                    providers:
                      big: {type: openai, base_url: "http://127.0.0.1:%d/v1", event_loop: %b}
                    """.formatted(server.getLocalPort(), eventLoop));
                 var client = new Socket(InetAddress.getLoopbackAddress(), gw.gateway.port())) {
                client.setReceiveBufferSize(64 * 1024);
                var body = "{\"model\":\"big/m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}";
                client.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                        + body.length() + "\r\n\r\n" + body).getBytes(StandardCharsets.US_ASCII));
                var in = client.getInputStream();
                in.read(new byte[1024]); // the response has started
                long total = (long) CHUNKS * CHUNK.length;
                // Not reading: the upstream must come to a halt far short of the whole answer.
                long before;
                long after = written.get();
                do {
                    before = after;
                    Thread.sleep(500);
                    after = written.get();
                } while (after != before);
                assertThat(after).as("bytes the upstream could write while the client was stalled").isLessThan(total / 4);
                // Reading again, the whole answer arrives.
                long received = drain(in);
                assertThat(written.get()).isEqualTo(total);
                assertThat(received).isGreaterThan(total);
            }
        }
    }

    static void serve(ServerSocket server, AtomicLong written) {
        try (var socket = server.accept()) {
            var in = socket.getInputStream();
            readRequest(in);
            var out = socket.getOutputStream();
            out.write("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            for (int i = 0; i < CHUNKS; i++) {
                out.write(CHUNK);
                written.addAndGet(CHUNK.length);
            }
            out.write(("data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
                    + "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":40000,\"total_tokens\":40001}}\n\ndata: [DONE]\n\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
        } catch (IOException e) {
            // the test ended
        }
    }

    static void readRequest(InputStream in) throws IOException {
        var head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) head.append((char) in.read());
        var m = java.util.regex.Pattern.compile("(?i)content-length: (\\d+)").matcher(head);
        if (m.find()) in.readNBytes(Integer.parseInt(m.group(1)));
    }

    /** Reads the chunked SSE response to its end marker; returns the bytes read. */
    static long drain(InputStream in) throws IOException {
        long n = 0;
        var buf = new byte[64 * 1024];
        var tail = new StringBuilder();
        int r;
        while ((r = in.read(buf)) > 0) {
            n += r;
            tail.append(new String(buf, 0, r, StandardCharsets.ISO_8859_1));
            if (tail.length() > 64) tail.delete(0, tail.length() - 64);
            if (tail.indexOf("data: [DONE]") >= 0 && tail.toString().endsWith("0\r\n\r\n")) break;
        }
        return n;
    }
}
