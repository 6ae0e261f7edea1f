package dev.sluice.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.sluice.client.testing.RawUpstream;
import dev.sluice.wire.chat.StreamEvent;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** First-byte, idle and total timeouts fire on time, are typed, and close the upstream connection. */
class TimeoutTest {

    static final Duration SHORT = Duration.ofMillis(300);

    @Test
    void firstByteTimeoutWhenNoHeadersCome() throws Exception {
        var closed = new CompletableFuture<Boolean>();
        try (var upstream = RawUpstream.start(c -> closed.complete(c.awaitClientClose(Duration.ofSeconds(10))));
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).firstByteTimeout(SHORT).build()) {
            long start = System.nanoTime();
            var e = catchThrowableOfType(StreamTimeoutException.class, () -> client.openChatStream(EventStreamTest.body()));
            var elapsed = Duration.ofNanos(System.nanoTime() - start);
            assertThat(e.kind()).isEqualTo(StreamTimeoutException.Kind.FIRST_BYTE);
            assertThat(e.timeout()).isEqualTo(SHORT);
            assertThat(elapsed).isGreaterThanOrEqualTo(SHORT).isLessThan(Duration.ofSeconds(3));
            assertThat(closed.get(5, TimeUnit.SECONDS)).as("connection closed").isTrue();
            assertThat(upstream.connectionsAccepted()).as("timeouts are not retried").isEqualTo(1);
        }
    }

    @Test
    void idleTimeoutWhenTheStreamGoesSilent() throws Exception {
        var closed = new CompletableFuture<Boolean>();
        try (var upstream = RawUpstream.start(c -> {
                    c.write(RawUpstream.SSE_HEAD);
                    c.chunk(EventStreamTest.CHUNK);
                    Thread.sleep(100); // gaps shorter than the timeout are fine
                    c.chunk(EventStreamTest.FINISH);
                    closed.complete(c.awaitClientClose(Duration.ofSeconds(10)));
                });
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).idleTimeout(SHORT).build();
                var stream = client.openChatStream(EventStreamTest.body())) {
            for (int i = 0; i < 4; i++) assertThat(stream.next()).isNotNull();
            long start = System.nanoTime();
            var e = catchThrowableOfType(StreamTimeoutException.class, stream::next);
            var elapsed = Duration.ofNanos(System.nanoTime() - start);
            assertThat(e.kind()).isEqualTo(StreamTimeoutException.Kind.IDLE);
            assertThat(elapsed).isGreaterThanOrEqualTo(Duration.ofMillis(250)).isLessThan(Duration.ofSeconds(3));
            assertThat(closed.get(5, TimeUnit.SECONDS)).isTrue();
        }
    }

    @Test
    void totalTimeoutEvenWhileBytesKeepComing() throws Exception {
        var closed = new CompletableFuture<Boolean>();
        try (var upstream = RawUpstream.start(c -> {
                    c.write(RawUpstream.SSE_HEAD);
                    try {
                        for (int i = 0; i < 100; i++) {
                            c.chunk(": keep-alive\n\n");
                            Thread.sleep(50);
                        }
                        closed.complete(false);
                    } catch (java.io.IOException e) {
                        closed.complete(true);
                    }
                });
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).idleTimeout(SHORT).build()) {
            // Long enough that opening the exchange on a busy machine fits in it: the expiry must come mid-body.
            var options = RequestOptions.builder().totalTimeout(Duration.ofMillis(1500)).build();
            long start = System.nanoTime();
            try (var stream = client.openChatStream(EventStreamTest.body(), options)) {
                var e = catchThrowableOfType(StreamTimeoutException.class, stream::next);
                assertThat(e.kind()).isEqualTo(StreamTimeoutException.Kind.TOTAL);
            }
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofMillis(1500)).isLessThan(Duration.ofSeconds(4));
            assertThat(closed.get(5, TimeUnit.SECONDS)).as("server's writes failed").isTrue();
        }
    }

    @Test
    void perRequestTimeoutsOverrideTheClient() throws Exception {
        try (var upstream = RawUpstream.start(c -> c.awaitClientClose(Duration.ofSeconds(10)));
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).firstByteTimeout(Duration.ofMinutes(5)).build()) {
            var options = RequestOptions.builder().firstByteTimeout(SHORT).build();
            var e = catchThrowableOfType(StreamTimeoutException.class, () -> client.openChatStream(EventStreamTest.body(), options));
            assertThat(e.kind()).isEqualTo(StreamTimeoutException.Kind.FIRST_BYTE);
        }
    }

    @Test
    void zeroDisablesATimeout() throws Exception {
        try (var upstream = RawUpstream.start(c -> {
                    c.write(RawUpstream.SSE_HEAD);
                    Thread.sleep(500);
                    c.chunk(EventStreamTest.CHUNK + EventStreamTest.DONE);
                    c.endChunks();
                });
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).idleTimeout(SHORT).build();
                var stream = client.openChatStream(EventStreamTest.body(), RequestOptions.builder().idleTimeout(Duration.ZERO).build())) {
            assertThat(stream.next()).isInstanceOf(StreamEvent.Metadata.class);
        }
    }
}
