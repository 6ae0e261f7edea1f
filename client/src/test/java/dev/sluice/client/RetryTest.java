package dev.sluice.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.sluice.client.testing.FakeUpstream;
import dev.sluice.client.testing.RawUpstream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Retries happen before the first byte of a response body only, with backoff, honouring Retry-After. */
class RetryTest {

    static final byte[] STREAM = (EventStreamTest.CHUNK + EventStreamTest.FINISH + EventStreamTest.DONE).getBytes(StandardCharsets.UTF_8);

    static SluiceClient.Builder fast(String baseUrl) {
        return SluiceClient.builder().baseUrl(baseUrl).retryBackoff(Duration.ofMillis(5), Duration.ofMillis(20));
    }

    static String error(String message) {
        return "{\"error\":{\"message\":\"" + message + "\",\"type\":\"x\"}}";
    }

    @Test
    void retries429And503ThenStreams() throws Exception {
        try (var upstream = FakeUpstream.start((ex, req, i) -> {
                    switch (i) {
                        case 0 -> FakeUpstream.json(ex, 429, error("busy"));
                        case 1 -> FakeUpstream.json(ex, 503, error("down"));
                        default -> FakeUpstream.sse(ex, STREAM);
                    }
                });
                var client = fast(upstream.baseUrl()).build();
                var stream = client.openChatStream(EventStreamTest.body())) {
            assertThat(EventStreamTest.drain(stream)).hasSize(4);
            assertThat(upstream.requests()).hasSize(3);
            assertThat(upstream.requests()).allSatisfy(r -> assertThat(r.json()).isEqualTo(EventStreamTest.body()));
        }
    }

    @Test
    void givesUpAfterMaxRetries() throws Exception {
        try (var upstream = FakeUpstream.start((ex, req, i) -> FakeUpstream.json(ex, 500, error("boom " + i)));
                var client = fast(upstream.baseUrl()).maxRetries(1).build()) {
            var thrown = catchThrowableOfType(ApiException.InternalServer.class, () -> client.openChatStream(EventStreamTest.body()));
            assertThat(thrown.errorMessage()).isEqualTo("boom 1");
            assertThat(upstream.requests()).hasSize(2);
        }
    }

    @Test
    void perRequestMaxRetriesOverridesTheClient() throws Exception {
        try (var upstream = FakeUpstream.start((ex, req, i) -> FakeUpstream.json(ex, 503, error("down")));
                var client = fast(upstream.baseUrl()).maxRetries(5).build()) {
            var options = RequestOptions.builder().maxRetries(0).build();
            assertThatThrownBy(() -> client.openChatStream(EventStreamTest.body(), options)).isInstanceOf(ApiException.InternalServer.class);
            assertThat(upstream.requests()).hasSize(1);
        }
    }

    @Test
    void clientErrorsAreNotRetried() throws Exception {
        for (int status : new int[] {400, 401, 403, 404, 422}) {
            try (var upstream = FakeUpstream.start((ex, req, i) -> FakeUpstream.json(ex, status, error("no")));
                    var client = fast(upstream.baseUrl()).build()) {
                assertThatThrownBy(() -> client.openChatStream(EventStreamTest.body())).isInstanceOf(ApiException.class);
                assertThat(upstream.requests()).as("status %d", status).hasSize(1);
            }
        }
    }

    @Test
    void retries408And409() throws Exception {
        try (var upstream = FakeUpstream.start((ex, req, i) -> {
                    switch (i) {
                        case 0 -> FakeUpstream.json(ex, 408, error("timeout"));
                        case 1 -> FakeUpstream.json(ex, 409, error("conflict"));
                        default -> FakeUpstream.sse(ex, STREAM);
                    }
                });
                var client = fast(upstream.baseUrl()).build();
                var stream = client.openChatStream(EventStreamTest.body())) {
            assertThat(EventStreamTest.drain(stream)).hasSize(4);
            assertThat(upstream.requests()).hasSize(3);
        }
    }

    @Test
    void shouldRetryHeaderWins() throws Exception {
        try (var upstream = FakeUpstream.start((ex, req, i) -> {
                    if (i == 0) FakeUpstream.json(ex, 400, error("try again"), Map.of("x-should-retry", "true"));
                    else FakeUpstream.json(ex, 503, error("final"), Map.of("x-should-retry", "false"));
                });
                var client = fast(upstream.baseUrl()).build()) {
            var thrown = catchThrowableOfType(ApiException.class, () -> client.openChatStream(EventStreamTest.body()));
            assertThat(thrown.status()).isEqualTo(503);
            assertThat(upstream.requests()).hasSize(2);
        }
    }

    @Test
    void honoursRetryAfterSeconds() throws Exception {
        try (var upstream = FakeUpstream.start((ex, req, i) -> {
                    if (i == 0) FakeUpstream.json(ex, 429, error("wait"), Map.of("Retry-After", "1"));
                    else FakeUpstream.sse(ex, STREAM);
                });
                var client = fast(upstream.baseUrl()).build()) {
            long start = System.nanoTime();
            try (var stream = client.openChatStream(EventStreamTest.body())) {
                assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofSeconds(1));
                assertThat(EventStreamTest.drain(stream)).hasSize(4);
            }
            assertThat(upstream.requests()).hasSize(2);
        }
    }

    @Test
    void honoursRetryAfterMs() throws Exception {
        try (var upstream = FakeUpstream.start((ex, req, i) -> {
                    if (i == 0) FakeUpstream.json(ex, 503, error("wait"), Map.of("retry-after-ms", "300", "Retry-After", "30"));
                    else FakeUpstream.sse(ex, STREAM);
                });
                var client = fast(upstream.baseUrl()).build()) {
            long start = System.nanoTime();
            client.openChatStream(EventStreamTest.body()).close();
            var elapsed = Duration.ofNanos(System.nanoTime() - start);
            assertThat(elapsed).isGreaterThanOrEqualTo(Duration.ofMillis(300)).isLessThan(Duration.ofSeconds(5));
        }
    }

    @Test
    void aRetryAfterTooLongIsNotWaitedForButRelayed() throws Exception {
        try (var upstream = FakeUpstream.start((ex, req, i) -> FakeUpstream.json(ex, 429, error("tomorrow"), Map.of("Retry-After", "3600")));
                var client = fast(upstream.baseUrl()).build()) {
            var thrown = catchThrowableOfType(ApiException.RateLimit.class, () -> client.openChatStream(EventStreamTest.body()));
            assertThat(thrown.retryAfter()).hasValue(Duration.ofHours(1));
            assertThat(upstream.requests()).hasSize(1);
        }
    }

    @Test
    void retriesConnectionRefused() throws Exception {
        int port;
        try (var socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = socket.getLocalPort();
        }
        try (var client = fast("http://127.0.0.1:" + port + "/v1").build()) {
            var thrown = catchThrowableOfType(ApiConnectionException.class, () -> client.openChatStream(EventStreamTest.body()));
            assertThat(thrown.attempts()).isEqualTo(3);
            assertThat(thrown.getCause()).isInstanceOf(java.net.ConnectException.class);
            assertThat(thrown.getMessage()).doesNotContain("java.", "Exception");
        }
    }

    @Test
    void callsAfterCloseFailAtOnceWithoutRetrying() throws Exception {
        try (var upstream = FakeUpstream.start((ex, req, i) -> FakeUpstream.sse(ex, STREAM))) {
            var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).retryBackoff(Duration.ofSeconds(2), Duration.ofSeconds(2)).build();
            client.close();
            long start = System.nanoTime();
            // The JDK transport used to take each failure for a connection error: 2 retries, 4 s of backoff, then
            // "cannot reach ...: java.io.IOException: closed (after 3 attempts)".
            assertThatThrownBy(() -> client.openChatStream(EventStreamTest.body()))
                    .isExactlyInstanceOf(IOException.class)
                    .hasMessage("client closed");
            assertThatThrownBy(() -> client.models()).isExactlyInstanceOf(IOException.class).hasMessage("client closed");
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(1));
            assertThat(upstream.requests()).isEmpty();
        }
    }

    @Test
    void connectionFailuresAreDescribedWithoutJavaClassNames() throws Exception {
        try (var upstream = RawUpstream.start(c -> c.write("SSH-2.0-OpenSSH_9.6\r\n"));
                var client = fast(upstream.baseUrl()).maxRetries(0).build()) {
            var thrown = catchThrowableOfType(ApiConnectionException.class, () -> client.openChatStream(EventStreamTest.body()));
            assertThat(thrown.getMessage())
                    .startsWith("cannot reach " + upstream.baseUrl() + "/chat/completions: ")
                    .containsIgnoringCase("status line")
                    .doesNotContain("java.", "Exception");
        }
    }

    @Test
    void retriesAConnectionDroppedBeforeTheResponse() throws Exception {
        try (var upstream = RawUpstream.start(c -> {
                    if (c.position() < 2) {
                        c.reset();
                        return;
                    }
                    c.write(RawUpstream.SSE_HEAD);
                    c.chunk(new String(STREAM, StandardCharsets.UTF_8));
                    c.endChunks();
                });
                var client = fast(upstream.baseUrl()).build();
                var stream = client.openChatStream(EventStreamTest.body())) {
            assertThat(EventStreamTest.drain(stream)).hasSize(4);
            assertThat(upstream.connectionsAccepted()).isEqualTo(3);
        }
    }

    @Test
    void neverRetriesOnceTheBodyStarted() throws Exception {
        try (var upstream = RawUpstream.start(c -> {
                    c.write(RawUpstream.SSE_HEAD);
                    c.chunk(EventStreamTest.CHUNK);
                    Thread.sleep(100);
                    c.reset();
                });
                var client = fast(upstream.baseUrl()).build();
                var stream = client.openChatStream(EventStreamTest.body())) {
            assertThat(stream.next()).isNotNull();
            assertThatThrownBy(() -> EventStreamTest.drain(stream)).isInstanceOf(IOException.class);
            assertThat(stream.completed()).isFalse();
            Thread.sleep(100);
            assertThat(upstream.connectionsAccepted()).isEqualTo(1);
        }
    }

    @Test
    void aTypedStreamCutShortIsNotRetriedEither() throws Exception {
        try (var upstream = RawUpstream.start(c -> {
                    c.write(RawUpstream.SSE_HEAD);
                    c.chunk(EventStreamTest.CHUNK);
                    c.endChunks(); // clean end, no [DONE]
                });
                var client = fast(upstream.baseUrl()).build();
                var stream = client.chat().stream(EventStreamTest.body())) {
            assertThatThrownBy(stream::finalChatCompletion).isInstanceOf(IncompleteStreamException.class);
            assertThat(upstream.connectionsAccepted()).isEqualTo(1);
        }
    }
}
