package dev.sluice.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.client.chat.ChatStreamEvent;
import dev.sluice.client.chat.ChatStreamListener;
import dev.sluice.client.testing.RawUpstream;
import dev.sluice.wire.chat.StreamEvent;
import dev.sluice.wire.json.Json;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * Cancelling a stream must close the upstream connection, observed by the server itself: its read returns -1
 * (or its write fails) shortly after, whether the upstream is silent or busy sending.
 */
class CancellationTest {

    // Generous: the build machine is small and shared; a working cancel takes a few milliseconds.
    private static final Duration PROMPTLY = Duration.ofSeconds(3);
    private static final String FIRST = "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"}}]}\n\n";

    /** Sends the headers and one chunk, then says nothing; reports whether the client closed the connection. */
    private static RawUpstream silentAfterFirstChunk(CompletableFuture<Boolean> closed, CountDownLatch sent) throws IOException {
        return RawUpstream.start(c -> {
            c.write(RawUpstream.SSE_HEAD);
            c.chunk(FIRST);
            sent.countDown();
            closed.complete(c.awaitClientClose(Duration.ofSeconds(10)));
        });
    }

    private static SluiceClient client(RawUpstream upstream) {
        return SluiceClient.builder().baseUrl(upstream.baseUrl()).maxRetries(0).build();
    }

    private static ObjectNode body() {
        var body = Json.object().put("model", "m").put("stream", true);
        body.putArray("messages").addObject().put("role", "user").put("content", "hi");
        return body;
    }

    @Test
    void closingASilentEventStreamClosesTheConnection() throws Exception {
        var closed = new CompletableFuture<Boolean>();
        var sent = new CountDownLatch(1);
        try (var upstream = silentAfterFirstChunk(closed, sent); var client = client(upstream)) {
            var stream = client.openChatStream(body());
            assertThat(stream.next()).isInstanceOf(StreamEvent.Metadata.class);
            sent.await();
            Thread.sleep(100); // the upstream is now silent
            long start = System.nanoTime();
            stream.close();
            assertThat(closed.get(5, TimeUnit.SECONDS)).as("server saw the connection close").isTrue();
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(PROMPTLY);
            stream.close(); // idempotent
            assertThatThrownBy(stream::next).isInstanceOf(IOException.class);
        }
    }

    @Test
    void closingTheClientAbortsAStreamLeftOpen() throws Exception {
        var closed = new CompletableFuture<Boolean>();
        var sent = new CountDownLatch(1);
        try (var upstream = silentAfterFirstChunk(closed, sent)) {
            var client = client(upstream);
            var stream = client.openChatStream(body());
            assertThat(stream.next()).isInstanceOf(StreamEvent.Metadata.class);
            sent.await();
            // The stream is left open. The JDK's HttpClient.close() alone would wait for it to end: here, forever.
            long start = System.nanoTime();
            CompletableFuture.runAsync(client::close).get(10, TimeUnit.SECONDS);
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(PROMPTLY);
            assertThat(closed.get(5, TimeUnit.SECONDS)).as("server saw the connection close").isTrue();
            // What the first chunk held is still read; then the abort shows, never as a clean end.
            assertThatThrownBy(() -> {
                for (var e = stream.next(); e != null; e = stream.next()) {}
            }).isInstanceOf(IOException.class);
        }
    }

    @Test
    void closingFromAnotherThreadUnblocksTheReaderAndClosesTheConnection() throws Exception {
        var closed = new CompletableFuture<Boolean>();
        var sent = new CountDownLatch(1);
        try (var upstream = silentAfterFirstChunk(closed, sent); var client = client(upstream)) {
            var stream = client.openChatStream(body());
            var outcome = new CompletableFuture<Throwable>();
            var reader = Thread.ofVirtual().start(() -> {
                try {
                    while (stream.next() != null) {
                        // read until blocked on the silent upstream
                    }
                    outcome.complete(null);
                } catch (Throwable t) {
                    outcome.complete(t);
                }
            });
            sent.await();
            Thread.sleep(200);
            assertThat(reader.isAlive()).as("reader blocked in next()").isTrue();
            long start = System.nanoTime();
            Thread.ofVirtual().start(stream::close).join();
            assertThat(outcome.get(2, TimeUnit.SECONDS)).isInstanceOf(IOException.class).hasMessageContaining("closed");
            assertThat(closed.get(5, TimeUnit.SECONDS)).isTrue();
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(PROMPTLY);
            assertThat(stream.completed()).isFalse();
        }
    }

    @Test
    void interruptingTheReaderCancels() throws Exception {
        var closed = new CompletableFuture<Boolean>();
        var sent = new CountDownLatch(1);
        try (var upstream = silentAfterFirstChunk(closed, sent); var client = client(upstream)) {
            var stream = client.openChatStream(body());
            var outcome = new CompletableFuture<Throwable>();
            var interruptedAfter = new AtomicReference<Boolean>();
            var reader = Thread.ofVirtual().start(() -> {
                try {
                    while (stream.next() != null) {
                        // block
                    }
                    outcome.complete(null);
                } catch (Throwable t) {
                    interruptedAfter.set(Thread.currentThread().isInterrupted());
                    outcome.complete(t);
                }
            });
            sent.await();
            Thread.sleep(200);
            reader.interrupt();
            assertThat(outcome.get(2, TimeUnit.SECONDS)).isInstanceOf(InterruptedIOException.class);
            assertThat(interruptedAfter.get()).as("interrupt status kept").isTrue();
            assertThat(closed.get(5, TimeUnit.SECONDS)).isTrue();
        }
    }

    @Test
    void closingAChatStreamWhileTheUpstreamIsSilentClosesTheConnection() throws Exception {
        var closed = new CompletableFuture<Boolean>();
        var sent = new CountDownLatch(1);
        try (var upstream = silentAfterFirstChunk(closed, sent); var client = client(upstream)) {
            var stream = client.chat().stream(body());
            var iterator = stream.iterator();
            assertThat(iterator.next()).isInstanceOf(ChatStreamEvent.Chunk.class);
            sent.await();
            Thread.sleep(100);
            long start = System.nanoTime();
            stream.close();
            assertThat(closed.get(5, TimeUnit.SECONDS)).isTrue();
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(PROMPTLY);
        }
    }

    @Test
    void closingAJavaStreamOfEventsCancels() throws Exception {
        var closed = new CompletableFuture<Boolean>();
        var sent = new CountDownLatch(1);
        try (var upstream = silentAfterFirstChunk(closed, sent); var client = client(upstream)) {
            String first;
            try (var events = client.chat().stream(body()).stream()) {
                first = events.filter(e -> e instanceof ChatStreamEvent.ContentDelta)
                        .map(e -> ((ChatStreamEvent.ContentDelta) e).delta())
                        .findFirst().orElseThrow();
            }
            assertThat(first).isEqualTo("Hel");
            assertThat(closed.get(5, TimeUnit.SECONDS)).isTrue();
        }
    }

    @Test
    void interruptingAChatStreamConsumerCancels() throws Exception {
        var closed = new CompletableFuture<Boolean>();
        var sent = new CountDownLatch(1);
        try (var upstream = silentAfterFirstChunk(closed, sent); var client = client(upstream)) {
            var stream = client.chat().stream(body());
            var outcome = new CompletableFuture<Throwable>();
            var consumer = Thread.ofVirtual().start(() -> {
                try {
                    stream.forEach(e -> { });
                    outcome.complete(null);
                } catch (Throwable t) {
                    outcome.complete(t);
                }
            });
            sent.await();
            Thread.sleep(200);
            consumer.interrupt();
            assertThat(outcome.get(2, TimeUnit.SECONDS)).isInstanceOf(UncheckedIOException.class)
                    .hasCauseInstanceOf(InterruptedIOException.class);
            assertThat(closed.get(5, TimeUnit.SECONDS)).isTrue();
            assertThatThrownBy(stream::finalChatCompletion).isInstanceOf(InterruptedIOException.class);
        }
    }

    @Test
    void closingWhileTheUpstreamIsSendingMakesItsWritesFail() throws Exception {
        var writeFailed = new CompletableFuture<Boolean>();
        var streaming = new CountDownLatch(1);
        try (var upstream = RawUpstream.start(c -> {
                    c.write(RawUpstream.SSE_HEAD);
                    try {
                        for (int i = 0; i < 100_000; i++) {
                            c.chunk("data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" + "x".repeat(100) + "\"}}]}\n\n");
                            if (i == 10) streaming.countDown();
                            Thread.sleep(1);
                        }
                        writeFailed.complete(false);
                    } catch (IOException e) {
                        writeFailed.complete(true);
                    }
                });
                var client = client(upstream)) {
            var stream = client.openChatStream(body());
            streaming.await();
            for (int i = 0; i < 5; i++) stream.next();
            stream.close();
            assertThat(writeFailed.get(5, TimeUnit.SECONDS)).as("server's write failed").isTrue();
        }
    }

    @Test
    void closingAPushedStreamCancelsAndReportsOnce() throws Exception {
        var closed = new CompletableFuture<Boolean>();
        var sent = new CountDownLatch(1);
        try (var upstream = silentAfterFirstChunk(closed, sent); var client = client(upstream)) {
            var errors = new CompletableFuture<Throwable>();
            var firstDelta = new CountDownLatch(1);
            var stream = client.chat().stream(body(), RequestOptions.DEFAULT, new ChatStreamListener() {
                @Override
                public void onContentDelta(ChatStreamEvent.ContentDelta event) {
                    firstDelta.countDown();
                }

                @Override
                public void onError(Throwable error) {
                    errors.complete(error);
                }
            });
            assertThat(firstDelta.await(5, TimeUnit.SECONDS)).isTrue();
            stream.close();
            assertThat(errors.get(2, TimeUnit.SECONDS)).isInstanceOf(IOException.class);
            assertThat(closed.get(5, TimeUnit.SECONDS)).isTrue();
            assertThatThrownBy(stream::finalChatCompletion).isInstanceOf(IOException.class);
        }
    }

    @Test
    void closingAPushedStreamBeforeTheHeadersCancelsTheRequest() throws Exception {
        var closed = new CompletableFuture<Boolean>();
        var received = new CountDownLatch(1);
        try (var upstream = RawUpstream.start(c -> {
                    received.countDown();
                    closed.complete(c.awaitClientClose(Duration.ofSeconds(10)));
                });
                var client = client(upstream)) {
            var errors = new CompletableFuture<Throwable>();
            var stream = client.chat().stream(body(), RequestOptions.DEFAULT, new ChatStreamListener() {
                @Override
                public void onError(Throwable error) {
                    errors.complete(error);
                }
            });
            assertThat(received.await(5, TimeUnit.SECONDS)).isTrue();
            stream.close();
            assertThat(errors.get(2, TimeUnit.SECONDS)).isInstanceOf(InterruptedIOException.class);
            assertThat(closed.get(5, TimeUnit.SECONDS)).isTrue();
        }
    }
}
