package dev.sluice.gateway.upstream;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import dev.sluice.client.StreamTimeoutException;
import dev.sluice.client.StreamTimeoutException.Kind;
import io.netty.buffer.ByteBuf;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.handler.codec.http.HttpHeaders;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.stream.Stream;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The upstream client against real loopback servers: raw sockets where the test needs byte-exact control of
 * the response (chunk boundaries, pauses, cuts, closing a keep-alive connection), an HttpsServer for TLS.
 */
class UpstreamHttpTest {

    private static EventLoopGroup epoll;
    private static EventLoopGroup nio;

    @TempDir
    static Path keys;
    private static KeyStore loopbackKeys;
    private static KeyStore elsewhereKeys;

    private final List<AutoCloseable> closeAfter = new ArrayList<>();
    private UpstreamHttp client = new UpstreamHttp(Duration.ofSeconds(2), null);

    @BeforeAll
    static void loops() throws Exception {
        if (Epoll.isAvailable()) epoll = new EpollEventLoopGroup(1);
        nio = new NioEventLoopGroup(1);
        loopbackKeys = load(keystore("loopback", "ip:127.0.0.1"));
        elsewhereKeys = load(keystore("elsewhere", "dns:elsewhere.example"));
    }

    @AfterAll
    static void stopLoops() {
        if (epoll != null) epoll.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        nio.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }

    @AfterEach
    void closeAll() throws Exception {
        client.close();
        for (var c : closeAfter) c.close();
    }

    static Stream<String> transports() {
        return Stream.of("epoll", "nio");
    }

    private static EventLoop loop(String transport) {
        if (transport.equals("epoll")) {
            Assumptions.assumeTrue(epoll != null, "epoll is not available here");
            return epoll.next();
        }
        return nio.next();
    }

    /** The production shape: epoll where it is available. */
    private static EventLoop loop() {
        return (epoll != null ? epoll : nio).next();
    }

    // ---- 1. streaming ------------------------------------------------------------------------------------

    @ParameterizedTest
    @MethodSource("transports")
    void aChunkedSseStreamArrivesCompleteInOrderAndOnTheLoop(String transport) throws Exception {
        var events = List.of("data: {\"n\":1}\n\n", "data: {\"n\":2}\n\n", ": keep-alive\n\n", "data: {\"n\":3}\n\n", "data: [DONE]\n\n");
        var request = new CopyOnWriteArrayList<String>();
        var server = server(peer -> {
            request.add(peer.readRequest());
            peer.write("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n");
            for (var e : events) {
                peer.write(Integer.toHexString(e.length()) + "\r\n" + e + "\r\n");
                Thread.sleep(15); // separate socket reads, so the relay's per-read flush hook is exercised
            }
            peer.write("0\r\n\r\n");
            peer.awaitClose(Duration.ofSeconds(5));
        });
        var loop = loop(transport);
        var uri = URI.create("http://127.0.0.1:" + server.port() + "/v1/chat/completions?stream=true");
        var r = send(loop, new UpstreamHttp.Request("POST", uri, Map.of("Authorization", "Bearer sk-test", "Accept", "text/event-stream"),
                "{\"stream\":true}".getBytes(UTF_8), Duration.ofSeconds(2), Duration.ofSeconds(2), Duration.ofSeconds(5)));

        r.awaitDone();
        assertThat(r.error).isNull();
        assertThat(r.status).isEqualTo(200);
        assertThat(r.headers.get("content-type")).isEqualTo("text/event-stream");
        assertThat(r.body()).isEqualTo(String.join("", events));
        assertThat(r.offLoop).as("a listener call off the loop").isFalse();
        assertThat(r.events.getFirst()).isEqualTo("head");
        assertThat(r.events.getLast()).isEqualTo("end");
        assertThat(r.events).contains("readComplete");
        // A flush hook only after reads that delivered something.
        for (int i = 1; i < r.events.size(); i++) {
            if (r.events.get(i).equals("readComplete")) assertThat(r.events.get(i - 1)).isEqualTo("content");
        }
        var head = request.getFirst();
        assertThat(head).startsWith("POST /v1/chat/completions?stream=true HTTP/1.1\r\n")
                .containsIgnoringCase("\r\nHost: 127.0.0.1:" + server.port() + "\r\n")
                .containsIgnoringCase("\r\nContent-Length: 15\r\n")
                .contains("\r\nAuthorization: Bearer sk-test\r\n")
                .doesNotContainIgnoringCase("transfer-encoding")
                .endsWith("\r\n\r\n{\"stream\":true}");
    }

    // ---- 2. body framings ----------------------------------------------------------------------------------

    @Test
    void aContentLengthBodyEndsAtItsLengthAfterInformationalResponses() throws Exception {
        var server = server(peer -> {
            peer.readRequest();
            peer.write("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n");
            peer.write("HTTP/1.1 201 Created\r\nContent-Length: 11\r\nX-Id: 7\r\n\r\nhello");
            Thread.sleep(10);
            peer.write(" world");
            peer.awaitClose(Duration.ofSeconds(5));
        });
        var r = send(loop(), get(server, "/x"));
        r.awaitDone();
        assertThat(r.error).isNull();
        assertThat(r.status).isEqualTo(201);
        assertThat(r.headers.get("x-id")).isEqualTo("7");
        assertThat(r.body()).isEqualTo("hello world");
        assertThat(r.events.stream().filter("head"::equals)).hasSize(1);
    }

    @Test
    void aBodyWithoutLengthIsReadUntilTheServerCloses() throws Exception {
        var server = server(peer -> {
            peer.readRequest();
            peer.write("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of ");
            Thread.sleep(10);
            peer.write("this");
            peer.close();
        });
        var r = send(loop(), get(server, "/"));
        r.awaitDone();
        assertThat(r.error).isNull();
        assertThat(r.body()).isEqualTo("all of this");
        assertThat(r.events.getLast()).isEqualTo("end");
    }

    @Test
    void aHeadResponseHasNoBodyDespiteItsContentLength() throws Exception {
        var server = server(peer -> {
            for (String request; (request = peer.readRequest()) != null; ) {
                peer.write(request.startsWith("HEAD ") ? "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n" : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
            }
        });
        var r = send(loop(), new UpstreamHttp.Request("HEAD", uri(server, "/"), Map.of(), null, null, null, Duration.ofSeconds(2)));
        r.awaitDone();
        assertThat(r.error).isNull();
        assertThat(r.events).containsExactly("head", "end");
        assertThat(send(loop(), get(server, "/")).awaitDone().error).as("the connection is still in step").isNull();
    }

    // ---- 3. keep-alive -------------------------------------------------------------------------------------

    @Test
    void sequentialExchangesReuseOneKeepAliveConnection() throws Exception {
        var server = server(peer -> {
            while (peer.readRequest() != null) peer.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        });
        var loop = loop();
        for (int i = 0; i < 3; i++) {
            var r = send(loop, get(server, "/" + i)).awaitDone();
            assertThat(r.error).isNull();
            assertThat(r.body()).isEqualTo("ok");
        }
        assertThat(server.accepted.get()).isEqualTo(1);
    }

    @Test
    void aConnectionCloseResponseIsNotReused() throws Exception {
        var server = server(peer -> {
            while (peer.readRequest() != null) peer.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        });
        var loop = loop();
        for (int i = 0; i < 2; i++) assertThat(send(loop, get(server, "/")).awaitDone().body()).isEqualTo("ok");
        assertThat(server.accepted.get()).isEqualTo(2);
    }

    @Test
    void aRequestAskingForCloseDoesNotPoolItsConnection() throws Exception {
        var server = server(peer -> {
            while (peer.readRequest() != null) peer.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        });
        var loop = loop();
        var close = new UpstreamHttp.Request("GET", uri(server, "/"), Map.of("Connection", "close"), null, null, null, Duration.ofSeconds(2));
        assertThat(send(loop, close).awaitDone().body()).isEqualTo("ok");
        assertThat(send(loop, get(server, "/")).awaitDone().body()).isEqualTo("ok");
        assertThat(server.accepted.get()).isEqualTo(2);
    }

    // ---- 4. stale pooled connections ---------------------------------------------------------------------

    @Test
    void aPooledConnectionTheServerClosedIsReplacedTransparently() throws Exception {
        var closedByServer = new CountDownLatch(1);
        var server = server(peer -> {
            peer.readRequest();
            peer.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
            if (peer.index == 1) {
                peer.close(); // the idle keep-alive timeout of a real server
                closedByServer.countDown();
            }
        });
        var loop = loop();
        assertThat(send(loop, get(server, "/")).awaitDone().error).isNull();
        assertThat(closedByServer.await(5, TimeUnit.SECONDS)).isTrue();
        var r = send(loop, get(server, "/")).awaitDone();
        assertThat(r.error).isNull();
        assertThat(r.body()).isEqualTo("ok");
        assertThat(server.accepted.get()).isEqualTo(2);
    }

    @Test
    void aRequestLostOnAReusedConnectionIsRetriedOnceOnAFreshOne() throws Exception {
        var server = server(peer -> {
            peer.readRequest();
            peer.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
            if (peer.index == 1) {
                // The race every pooling client meets: the request arrives as the server gives up on the idle connection.
                peer.readRequest();
                peer.close();
            }
        });
        var loop = loop();
        assertThat(send(loop, get(server, "/")).awaitDone().body()).isEqualTo("ok");
        var r = send(loop, get(server, "/")).awaitDone();
        assertThat(r.error).isNull();
        assertThat(r.body()).isEqualTo("ok");
        assertThat(server.accepted.get()).isEqualTo(2);
    }

    @Test
    void aFreshConnectionThatDiesBeforeTheHeadIsAnErrorNotARetry() throws Exception {
        var server = server(peer -> {
            peer.readRequest();
            peer.close();
        });
        var r = send(loop(), get(server, "/")).awaitDone();
        assertThat(r.error).isInstanceOf(IOException.class).isNotInstanceOf(ConnectException.class);
        assertThat(r.events).containsExactly("error");
        assertThat(server.accepted.get()).isEqualTo(1);
    }

    @Test
    void aRetriedRequestIsRetriedOnlyOnce() throws Exception {
        var server = server(peer -> {
            peer.readRequest();
            if (peer.index == 1) {
                peer.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
                peer.readRequest();
            }
            peer.close();
        });
        var loop = loop();
        assertThat(send(loop, get(server, "/")).awaitDone().body()).isEqualTo("ok");
        var r = send(loop, get(server, "/")).awaitDone();
        assertThat(r.error).isInstanceOf(IOException.class);
        assertThat(server.accepted.get()).isEqualTo(2);
    }

    @Test
    void aReusedConnectionThatFailsAfterResponseBytesIsNotRetried() throws Exception {
        var server = server(peer -> {
            peer.readRequest();
            peer.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
            if (peer.index == 1) {
                peer.readRequest();
                peer.write("HTTP/1.1 200 OK\r\nContent-Le"); // the server saw the request: resending could repeat it
                peer.close();
            }
        });
        var loop = loop();
        assertThat(send(loop, get(server, "/")).awaitDone().body()).isEqualTo("ok");
        var r = send(loop, get(server, "/")).awaitDone();
        assertThat(r.error).isInstanceOf(IOException.class);
        assertThat(server.accepted.get()).isEqualTo(1);
    }

    // ---- 5. connection failures ----------------------------------------------------------------------------

    @Test
    void aRefusedConnectionIsAConnectException() throws Exception {
        int port;
        try (var s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        var r = send(loop(), new UpstreamHttp.Request("GET", URI.create("http://127.0.0.1:" + port + "/"), Map.of(), null, null, null, null));
        r.awaitDone();
        assertThat(r.error).isInstanceOf(ConnectException.class);
        assertThat(r.events).containsExactly("error");
    }

    @Test
    void sentOnTheLoopAFailureReachesTheListenerOnlyAfterSendReturnsAndNotAfterACancel() throws Exception {
        int port;
        try (var s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        // Sent on the loop, the exchange starts inside send(). Netty connects in a task of its own, so a refused
        // connect (even one that fails inside connect(), like the broadcast address's ENETUNREACH: no packet is
        // sent) is told after send() returns; Exchange also defers any failure found inside send() itself.
        for (var uri : List.of("http://127.0.0.1:" + port + "/", "http://255.255.255.255:9/")) {
            var request = new UpstreamHttp.Request("GET", URI.create(uri), Map.of(), null, null, null, null);
            var loop = loop();
            var returned = new java.util.concurrent.atomic.AtomicBoolean();
            var errorBeforeReturn = new java.util.concurrent.atomic.AtomicBoolean();
            var recorder = new Recorder(loop);
            var listener = new UpstreamHttp.Listener() {
                @Override
                public void onHead(int status, io.netty.handler.codec.http.HttpHeaders headers) {
                    recorder.onHead(status, headers);
                }

                @Override
                public void onContent(ByteBuf content) {
                    recorder.onContent(content);
                }

                @Override
                public void onEnd() {
                    recorder.onEnd();
                }

                @Override
                public void onError(IOException cause) {
                    if (!returned.get()) errorBeforeReturn.set(true);
                    recorder.onError(cause);
                }
            };
            loop.submit(() -> {
                recorder.call = client.send(loop, request, listener);
                returned.set(true);
            }).get(5, TimeUnit.SECONDS);
            recorder.awaitDone();
            assertThat(recorder.error).as(uri).isInstanceOf(ConnectException.class);
            assertThat(errorBeforeReturn).as("onError inside send() for %s", uri).isFalse();

            // Cancelled in the same loop turn as send(): whatever failed on the way is not told.
            var silent = new Recorder(loop);
            loop.submit(() -> client.send(loop, request, silent).cancel()).get(5, TimeUnit.SECONDS);
            Thread.sleep(200);
            loop.submit(() -> {}).get(5, TimeUnit.SECONDS);
            assertThat(silent.events).as(uri).isEmpty();
        }
    }

    @Test
    void anUnknownHostIsAConnectException() throws Exception {
        var r = send(loop(), new UpstreamHttp.Request("GET", URI.create("http://no-such-host.invalid/"), Map.of(), null, null, null, null));
        r.awaitDone();
        assertThat(r.error).isInstanceOf(ConnectException.class).hasMessageContaining("no-such-host.invalid");
    }

    @Test
    void aConnectionCutMidBodyIsAnErrorAndNeverAnEnd() throws Exception {
        var server = server(peer -> {
            peer.readRequest();
            peer.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial");
            Thread.sleep(10);
            peer.close();
        });
        var r = send(loop(), get(server, "/")).awaitDone();
        assertThat(r.error).isInstanceOf(IOException.class);
        assertThat(r.body()).isEqualTo("partial");
        assertThat(r.events).doesNotContain("end");
        assertThat(r.events.getLast()).isEqualTo("error");
    }

    @Test
    void aChunkedStreamCutMidBodyIsAnError() throws Exception {
        var server = server(peer -> {
            peer.readRequest();
            peer.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\ndata: \r\n");
            Thread.sleep(10);
            peer.close();
        });
        var r = send(loop(), get(server, "/")).awaitDone();
        assertThat(r.error).isInstanceOf(IOException.class);
        assertThat(r.events).doesNotContain("end");
    }

    @Test
    void aMalformedResponseIsAnError() throws Exception {
        var server = server(peer -> {
            peer.readRequest();
            peer.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz-not-hex\r\n");
            peer.awaitClose(Duration.ofSeconds(5));
        });
        var r = send(loop(), get(server, "/")).awaitDone();
        assertThat(r.error).isInstanceOf(IOException.class);
        assertThat(r.events).doesNotContain("end");
    }

    @Test
    void aListenerThatThrowsGetsTheFailureAsAnError() throws Exception {
        var server = server(peer -> {
            peer.readRequest();
            peer.write("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabc");
            peer.awaitClose(Duration.ofSeconds(5));
        });
        var r = new Recorder(loop());
        r.onContent = b -> {
            throw new IllegalStateException("relay bug");
        };
        r.call = client.send(r.loop, get(server, "/"), r);
        r.awaitDone();
        assertThat(r.error).hasRootCauseInstanceOf(IllegalStateException.class);
        assertThat(r.events).containsExactly("head", "content", "error");
    }

    @Test
    void aRequestThatCannotBeSentIsRefusedAtOnce() {
        var loop = loop();
        var listener = new Recorder(loop);
        assertThatIllegalArgumentException().isThrownBy(() -> client.send(loop,
                new UpstreamHttp.Request("GET", URI.create("http://127.0.0.1:1/"), Map.of("X-Evil", "a\r\nHost: b"), null, null, null, null), listener));
        assertThatIllegalArgumentException().isThrownBy(() -> client.send(loop,
                new UpstreamHttp.Request("GET", URI.create("ftp://127.0.0.1/"), Map.of(), null, null, null, null), listener));
        assertThatIllegalArgumentException().isThrownBy(() -> client.send(loop,
                new UpstreamHttp.Request("GET", URI.create("http://127.0.0.1:1/"), Map.of(), null, Duration.ZERO, null, null), listener));
        assertThat(listener.events).isEmpty();
    }

    // ---- 6. timeouts ------------------------------------------------------------------------------------

    @Test
    void aServerThatNeverAnswersTimesOutOnTheFirstByte() throws Exception {
        var closed = new CountDownLatch(1);
        var server = server(peer -> {
            peer.readRequest();
            if (peer.awaitClose(Duration.ofSeconds(5))) closed.countDown();
        });
        var started = System.nanoTime();
        var r = send(loop(), new UpstreamHttp.Request("GET", uri(server, "/"), Map.of(), null, Duration.ofMillis(200), null, null)).awaitDone();
        assertTimeout(r, Kind.FIRST_BYTE, started, 200);
        assertThat(closed.await(2, TimeUnit.SECONDS)).as("server saw its connection closed").isTrue();
    }

    @Test
    void aStreamThatFallsSilentTimesOutAsIdle() throws Exception {
        var closed = new CountDownLatch(1);
        var server = server(peer -> {
            peer.readRequest();
            peer.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
            for (int i = 0; i < 5; i++) {
                peer.write("3\r\nabc\r\n");
                Thread.sleep(50); // under the idle limit: reads keep it alive
            }
            if (peer.awaitClose(Duration.ofSeconds(5))) closed.countDown();
        });
        var started = System.nanoTime();
        var r = send(loop(), new UpstreamHttp.Request("GET", uri(server, "/"), Map.of(), null, null, Duration.ofMillis(200), null)).awaitDone();
        assertTimeout(r, Kind.IDLE, started, 200 + 4 * 50);
        assertThat(r.body()).isEqualTo("abc".repeat(5));
        assertThat(closed.await(2, TimeUnit.SECONDS)).as("server saw its connection closed").isTrue();
    }

    @Test
    void aStreamThatNeverEndsHitsTheTotalTimeout() throws Exception {
        var closed = new CountDownLatch(1);
        var server = server(peer -> {
            peer.readRequest();
            peer.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
            peer.watchForClose(closed);
            try {
                while (true) {
                    peer.write("3\r\nabc\r\n");
                    Thread.sleep(30);
                }
            } catch (IOException closedByClient) {
                // expected
            }
        });
        var started = System.nanoTime();
        var r = send(loop(), new UpstreamHttp.Request("GET", uri(server, "/"), Map.of(), null,
                Duration.ofSeconds(2), Duration.ofSeconds(2), Duration.ofMillis(300))).awaitDone();
        assertTimeout(r, Kind.TOTAL, started, 300);
        assertThat(closed.await(2, TimeUnit.SECONDS)).as("server saw its connection closed").isTrue();
    }

    @Test
    void aFirstByteTimeoutDueWithTheTotalIsReportedAsTheTotal() throws Exception {
        // A whole (non-streamed) answer's head comes only when it is complete, so its first-byte bound is the total:
        // both timers are due at once, and the error must say which limit the caller set, whichever fires first.
        for (int i = 0; i < 5; i++) {
            var server = server(peer -> {
                peer.readRequest();
                peer.awaitClose(Duration.ofSeconds(5));
            });
            var started = System.nanoTime();
            var r = send(loop(), new UpstreamHttp.Request("GET", uri(server, "/"), Map.of(), null,
                    Duration.ofMillis(100), null, Duration.ofMillis(100))).awaitDone();
            assertTimeout(r, Kind.TOTAL, started, 100);
        }
    }

    @Test
    void aConnectThatCannotCompleteTimesOutAsAConnectException() throws Exception {
        // A listener whose backlog is full: the SYN is never answered by an accept, and a TLS client waits for a ServerHello forever.
        try (var silent = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            var quick = new UpstreamHttp(Duration.ofMillis(200), null);
            closeAfter.add(quick);
            var started = System.nanoTime();
            var r = new Recorder(loop());
            r.call = quick.send(r.loop, new UpstreamHttp.Request("GET", URI.create("https://127.0.0.1:" + silent.getLocalPort() + "/"),
                    Map.of(), null, null, null, null), r);
            r.awaitDone();
            assertThat(r.error).isInstanceOf(ConnectException.class);
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isBetween(Duration.ofMillis(150), Duration.ofSeconds(2));
        }
    }

    // ---- 7. cancel ---------------------------------------------------------------------------------------

    @Test
    void cancelMidBodyClosesTheConnectionAndSilencesTheListener() throws Exception {
        var closed = new CountDownLatch(1);
        var keepWriting = new CountDownLatch(1);
        var server = server(peer -> {
            peer.readRequest();
            peer.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n");
            peer.watchForClose(closed);
            keepWriting.await(5, TimeUnit.SECONDS);
            for (int i = 0; i < 20; i++) {
                peer.write("3\r\ndef\r\n");
                Thread.sleep(5);
            }
        });
        var firstContent = new CountDownLatch(1);
        var r = new Recorder(loop());
        r.onContent = b -> firstContent.countDown();
        r.call = client.send(r.loop, get(server, "/"), r);
        assertThat(firstContent.await(5, TimeUnit.SECONDS)).isTrue();

        var cancelledAt = System.nanoTime();
        r.call.cancel(); // from a thread other than the loop
        r.call.cancel(); // idempotent
        var eventsAtCancel = r.loop.submit(() -> r.events.size()).get(5, TimeUnit.SECONDS);
        keepWriting.countDown();
        assertThat(closed.await(2, TimeUnit.SECONDS)).as("server saw its connection closed").isTrue();
        assertThat(Duration.ofNanos(System.nanoTime() - cancelledAt)).isLessThan(Duration.ofSeconds(1));
        r.loop.submit(() -> {}).get(5, TimeUnit.SECONDS);
        assertThat(r.events).hasSize(eventsAtCancel).doesNotContain("end", "error");
    }

    @Test
    void cancelFromInsideTheListenerStopsAtOnce() throws Exception {
        var closed = new CountDownLatch(1);
        var server = server(peer -> {
            peer.readRequest();
            peer.write("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabc");
            if (peer.awaitClose(Duration.ofSeconds(5))) closed.countDown();
        });
        var r = new Recorder(loop());
        r.onContent = b -> r.call.cancel();
        r.sendOnLoop(client, new UpstreamHttp.Request("GET", uri(server, "/"), Map.of(), null, null, Duration.ofMillis(100), null));
        assertThat(closed.await(2, TimeUnit.SECONDS)).isTrue();
        Thread.sleep(150); // past the idle timeout: a live timer would report it now
        r.loop.submit(() -> {}).get(5, TimeUnit.SECONDS);
        assertThat(r.events).containsExactly("head", "content");
    }

    // ---- 8. backpressure ---------------------------------------------------------------------------------

    @Test
    void autoReadOffStopsDeliveryAndOnResumesIt() throws Exception {
        var size = 32 * 1024 * 1024;
        var serverWrote = new CountDownLatch(1);
        var server = server(peer -> {
            peer.readRequest();
            peer.write("HTTP/1.1 200 OK\r\nContent-Length: " + size + "\r\n\r\n");
            var block = new byte[64 * 1024];
            for (int i = 0; i < block.length; i++) block[i] = (byte) ('a' + i % 26);
            for (int sent = 0; sent < size; sent += block.length) peer.out.write(block);
            peer.out.flush();
            serverWrote.countDown();
            peer.awaitClose(Duration.ofSeconds(10));
        });
        var received = new AtomicLong();
        var paused = new CountDownLatch(1);
        var r = new Recorder(loop());
        r.keepBody = false;
        r.onContent = b -> {
            if (received.getAndAdd(b.readableBytes()) == 0) {
                r.call.setAutoRead(false);
                paused.countDown();
            }
        };
        r.sendOnLoop(client, get(server, "/big"));
        assertThat(paused.await(5, TimeUnit.SECONDS)).isTrue();

        // What the current socket read already held may still come; then nothing, and the server backs up.
        r.loop.submit(() -> {}).get(5, TimeUnit.SECONDS);
        var atPause = received.get();
        assertThat(serverWrote.await(300, TimeUnit.MILLISECONDS)).as("server could write everything while paused").isFalse();
        assertThat(received.get()).isEqualTo(atPause).isLessThan(size);

        r.loop.execute(() -> r.call.setAutoRead(true));
        r.awaitDone();
        assertThat(r.error).isNull();
        assertThat(received.get()).isEqualTo(size);
    }

    // ---- 9. TLS ------------------------------------------------------------------------------------------

    @Test
    void httpsWithATrustedCertificateWorksAndReusesTheConnection() throws Exception {
        var server = https(loopbackKeys);
        var tls = new UpstreamHttp(Duration.ofSeconds(2), trusting(loopbackKeys));
        closeAfter.add(tls);
        var uri = URI.create("https://127.0.0.1:" + server.getAddress().getPort() + "/v1/models");
        for (int i = 0; i < 2; i++) {
            var r = new Recorder(loop());
            r.call = tls.send(r.loop, new UpstreamHttp.Request("GET", uri, Map.of(), null, null, null, Duration.ofSeconds(5)), r);
            r.awaitDone();
            assertThat(r.error).isNull();
            assertThat(r.status).isEqualTo(200);
            assertThat(r.body()).isEqualTo(MODELS);
        }
    }

    @Test
    void httpsWithAnUntrustedCertificateFails() throws Exception {
        var server = https(loopbackKeys);
        var r = send(loop(), new UpstreamHttp.Request("GET", URI.create("https://127.0.0.1:" + server.getAddress().getPort() + "/v1/models"),
                Map.of(), null, null, null, Duration.ofSeconds(5))).awaitDone();
        assertThat(r.error).isInstanceOf(SSLException.class);
        assertThat(r.events).containsExactly("error");
    }

    @Test
    void httpsWithATrustedCertificateForAnotherHostFails() throws Exception {
        var server = https(elsewhereKeys);
        var tls = new UpstreamHttp(Duration.ofSeconds(2), trusting(elsewhereKeys));
        closeAfter.add(tls);
        var r = new Recorder(loop());
        r.call = tls.send(r.loop, new UpstreamHttp.Request("GET", URI.create("https://127.0.0.1:" + server.getAddress().getPort() + "/v1/models"),
                Map.of(), null, null, null, Duration.ofSeconds(5)), r);
        r.awaitDone();
        assertThat(r.error).isInstanceOf(SSLException.class).rootCause().isInstanceOf(java.security.cert.CertificateException.class);
    }

    // ---- helpers ---------------------------------------------------------------------------------------------

    private static void assertTimeout(Recorder r, Kind kind, long startedNanos, long limitMillis) {
        assertThat(r.error).isInstanceOf(StreamTimeoutException.class);
        assertThat(((StreamTimeoutException) r.error).kind()).isEqualTo(kind);
        assertThat(r.events).doesNotContain("end");
        assertThat(Duration.ofNanos(System.nanoTime() - startedNanos)).isBetween(Duration.ofMillis(limitMillis - 20), Duration.ofMillis(limitMillis + 1500));
    }

    private Recorder send(EventLoop loop, UpstreamHttp.Request request) {
        var r = new Recorder(loop);
        r.call = client.send(loop, request, r);
        return r;
    }

    private static URI uri(RawServer server, String path) {
        return URI.create("http://127.0.0.1:" + server.port() + path);
    }

    private static UpstreamHttp.Request get(RawServer server, String path) {
        return new UpstreamHttp.Request("GET", uri(server, path), Map.of(), null, null, null, Duration.ofSeconds(5));
    }

    private RawServer server(PeerScript script) throws IOException {
        var server = new RawServer(script);
        closeAfter.add(server);
        return server;
    }

    /** Records every listener call, and whether any came off the loop or after the exchange ended. */
    static final class Recorder implements UpstreamHttp.Listener {
        final EventLoop loop;
        final List<String> events = Collections.synchronizedList(new ArrayList<>());
        final CountDownLatch done = new CountDownLatch(1);
        private final ByteArrayOutputStream body = new ByteArrayOutputStream();
        volatile UpstreamHttp.Call call;
        volatile Consumer<ByteBuf> onContent = b -> {};
        volatile boolean keepBody = true;
        volatile int status;
        volatile HttpHeaders headers;
        volatile IOException error;
        volatile boolean offLoop;
        volatile boolean afterEnd;

        Recorder(EventLoop loop) {
            this.loop = loop;
        }

        /**
         * Sends from the loop itself, so {@link #call} is set before any listener call (on the loop, send tells a
         * failure found while starting in a task of its own). Sent from another thread, a fast answer could reach a listener that uses the
         * call before that thread stored it.
         */
        void sendOnLoop(UpstreamHttp client, UpstreamHttp.Request request) throws Exception {
            loop.submit(() -> call = client.send(loop, request, this)).get(5, TimeUnit.SECONDS);
        }

        private void record(String event) {
            if (!loop.inEventLoop()) offLoop = true;
            if (done.getCount() == 0) afterEnd = true;
            events.add(event);
        }

        @Override
        public void onHead(int status, HttpHeaders headers) {
            record("head");
            this.status = status;
            this.headers = headers;
        }

        @Override
        public void onContent(ByteBuf content) {
            record("content");
            if (keepBody) {
                var bytes = new byte[content.readableBytes()];
                content.getBytes(content.readerIndex(), bytes);
                synchronized (body) {
                    body.writeBytes(bytes);
                }
            }
            onContent.accept(content);
        }

        @Override
        public void onReadComplete() {
            record("readComplete");
        }

        @Override
        public void onEnd() {
            record("end");
            done.countDown();
        }

        @Override
        public void onError(IOException cause) {
            record("error");
            error = cause;
            done.countDown();
        }

        Recorder awaitDone() throws InterruptedException {
            assertThat(done.await(10, TimeUnit.SECONDS)).as("exchange ended").isTrue();
            // Let anything wrongly queued behind the end run, so the checks below can see it.
            try {
                loop.submit(() -> {}).get(5, TimeUnit.SECONDS);
            } catch (Exception e) {
                throw new AssertionError(e);
            }
            assertThat(afterEnd).as("a listener call after the end").isFalse();
            assertThat(offLoop).as("a listener call off the loop").isFalse();
            return this;
        }

        String body() {
            synchronized (body) {
                return body.toString(UTF_8);
            }
        }
    }

    @FunctionalInterface
    interface PeerScript {
        void run(Peer peer) throws Exception;
    }

    /** A loopback server speaking whatever bytes the test script writes; one thread per connection. */
    static final class RawServer implements AutoCloseable {
        final ServerSocket socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        final AtomicInteger accepted = new AtomicInteger();
        private final List<Socket> peers = new CopyOnWriteArrayList<>();

        RawServer(PeerScript script) throws IOException {
            Thread.ofPlatform().daemon().name("raw-server-accept").start(() -> {
                while (!socket.isClosed()) {
                    try {
                        var s = socket.accept();
                        peers.add(s);
                        var peer = new Peer(s, accepted.incrementAndGet());
                        Thread.ofPlatform().daemon().name("raw-server-peer").start(() -> {
                            try {
                                script.run(peer);
                            } catch (Exception e) {
                                // the client went away mid-script: what several tests provoke
                            }
                        });
                    } catch (IOException closed) {
                        return;
                    }
                }
            });
        }

        int port() {
            return socket.getLocalPort();
        }

        @Override
        public void close() throws IOException {
            socket.close();
            for (var s : peers) s.close();
        }
    }

    static final class Peer {
        final int index;
        final Socket socket;
        final InputStream in;
        final OutputStream out;

        Peer(Socket socket, int index) throws IOException {
            this.socket = socket;
            this.index = index;
            this.in = new BufferedInputStream(socket.getInputStream());
            this.out = socket.getOutputStream();
        }

        /** The request's head and body as text, or null when the client closed the connection instead. */
        String readRequest() throws IOException {
            var head = new ByteArrayOutputStream();
            int b, matched = 0;
            while (matched < 4) {
                b = in.read();
                if (b < 0) return null;
                head.write(b);
                matched = (b == (matched % 2 == 0 ? '\r' : '\n')) ? matched + 1 : (b == '\r' ? 1 : 0);
            }
            var text = head.toString(US_ASCII);
            var length = 0;
            for (var line : text.split("\r\n")) {
                if (line.toLowerCase().startsWith("content-length:")) length = Integer.parseInt(line.substring(15).trim());
            }
            return text + new String(in.readNBytes(length), UTF_8);
        }

        void write(String s) throws IOException {
            out.write(s.getBytes(UTF_8));
            out.flush();
        }

        /** True once the client closed (EOF or reset), false if it kept the connection open for {@code within}. */
        boolean awaitClose(Duration within) throws IOException {
            socket.setSoTimeout((int) within.toMillis());
            try {
                while (in.read() >= 0) {
                    // the client has nothing more to send on a finished exchange
                }
                return true;
            } catch (SocketTimeoutException stillOpen) {
                return false;
            } catch (IOException reset) {
                return true;
            }
        }

        /** Counts {@code closed} down when the client closes, while the script goes on writing. */
        void watchForClose(CountDownLatch closed) {
            Thread.ofPlatform().daemon().name("raw-server-watch").start(() -> {
                try {
                    if (awaitClose(Duration.ofSeconds(10))) closed.countDown();
                } catch (IOException e) {
                    closed.countDown();
                }
            });
        }

        void close() throws IOException {
            socket.close();
        }
    }

    // ---- TLS fixtures (the approach of dev.sluice.client.Http1TlsTest) ------------------------------------

    private static final String MODELS = "{\"object\":\"list\",\"data\":[{\"id\":\"m1\",\"object\":\"model\"}]}";

    private static Path keystore(String name, String san) throws Exception {
        var file = keys.resolve(name + ".p12");
        var keytool = Path.of(System.getProperty("java.home"), "bin", "keytool").toString();
        var p = new ProcessBuilder(keytool, "-genkeypair", "-keystore", file.toString(), "-storetype", "PKCS12", "-storepass", "secret",
                "-alias", "server", "-keyalg", "EC", "-dname", "CN=" + name, "-validity", "2", "-ext", "san=" + san)
                .redirectErrorStream(true).start();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(new String(p.getInputStream().readAllBytes(), UTF_8)).isZero();
        return file;
    }

    private static KeyStore load(Path file) throws Exception {
        var ks = KeyStore.getInstance("PKCS12");
        try (var in = new FileInputStream(file.toFile())) {
            ks.load(in, "secret".toCharArray());
        }
        return ks;
    }

    private HttpsServer https(KeyStore keyStore) throws Exception {
        var kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(keyStore, "secret".toCharArray());
        var ssl = SSLContext.getInstance("TLS");
        ssl.init(kmf.getKeyManagers(), null, null);
        var server = HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.setHttpsConfigurator(new HttpsConfigurator(ssl));
        server.createContext("/v1/models", exchange -> {
            var body = MODELS.getBytes(UTF_8);
            exchange.getResponseHeaders().add("Content-Type", "application/json");
            exchange.sendResponseHeaders(200, body.length);
            try (var out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        server.start();
        closeAfter.add(() -> server.stop(0));
        return server;
    }

    private static SSLContext trusting(KeyStore keyStore) throws Exception {
        var trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        trust.setCertificateEntry("server", keyStore.getCertificate("server"));
        var tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        var ssl = SSLContext.getInstance("TLS");
        ssl.init(null, tmf.getTrustManagers(), null);
        return ssl;
    }
}
