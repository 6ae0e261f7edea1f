package dev.sluice.client;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.client.testing.RawUpstream;
import dev.sluice.wire.json.Json;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;

/**
 * A timeout that expires right as an answer completes must not close a connection the HTTP client has already
 * put back in its pool: the next request sent on it would fail with "HTTP/1.1 header parser received no bytes"
 * although the upstream is healthy (seen rarely in a soak with timeouts and aborts, and maxRetries(0)).
 */
class ResponseBodyRaceTest {

    private static final String FIRST = "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"}}]}\n\n";
    private static final String DONE = "data: [DONE]\n\n";

    private static String chunk(String data) {
        return Integer.toHexString(data.length()) + "\r\n" + data + "\r\n";
    }

    /** Keep-alive: each request's content is "delay:N", and its whole SSE body goes in one write N µs later. */
    private static void serve(RawUpstream.Connection c) throws IOException {
        while (true) {
            var body = c.body();
            int at = body.indexOf("delay:");
            pause(Long.parseLong(body.substring(at + 6, body.indexOf('"', at))) * 1000);
            c.write(RawUpstream.SSE_HEAD + chunk(FIRST) + chunk(DONE) + "0\r\n\r\n");
            try {
                c.readRequest();
            } catch (IOException e) {
                return;
            }
            if (c.head().isEmpty()) return; // the client closed the connection
        }
    }

    private static void pause(long nanos) {
        if (nanos > 0) LockSupport.parkNanos(nanos);
    }

    private static ObjectNode body(long delayMicros) {
        var body = Json.object().put("model", "m").put("stream", true);
        body.putArray("messages").addObject().put("role", "user").put("content", "delay:" + delayMicros);
        return body;
    }

    /**
     * Made deterministic with the HTTP client's executor: the task that completes a response future runs 30 ms
     * late (as on a busy machine, now and then), while the body, already parsed, has put the connection back in
     * the pool. The first request's total timeout (20 ms) expires in that gap; another request has taken the
     * pooled connection at 15 ms. Before the fix nearly every round broke that other request.
     */
    @Test
    void aTimeoutAfterTheBodyEndedButBeforeTheResponseArrivedLeavesThePooledConnectionAlone() throws Exception {
        var pool = Executors.newCachedThreadPool();
        Executor lagging = task -> pool.execute(() -> {
            if (task.getClass().getName().contains("ResponseSubscribers")) pause(30_000_000); // getBody's task
            task.run();
        });
        var failures = new ArrayList<String>();
        int timeouts = 0;
        try (var upstream = RawUpstream.start(ResponseBodyRaceTest::serve);
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).transport(SluiceClient.Transport.JAVA_NET_HTTP)
                        .maxRetries(0).executor(lagging).build()) {
            for (int round = 0; round < 10; round++) {
                try (var stream = client.openChatStream(body(0))) { // one idle connection in the pool
                    while (stream.next() != null) {
                        // to the end
                    }
                }
                var other = Thread.ofPlatform().start(() -> {
                    pause(15_000_000);
                    try (var stream = client.openChatStream(body(40_000))) {
                        while (stream.next() != null) {
                            // to the end
                        }
                    } catch (Exception e) {
                        synchronized (failures) {
                            failures.add(e.toString());
                        }
                    }
                });
                var options = RequestOptions.builder().totalTimeout(Duration.ofMillis(20)).build();
                try (var stream = client.openChatStream(body(0), options)) {
                    while (stream.next() != null) {
                        // to the end
                    }
                } catch (StreamTimeoutException e) {
                    timeouts++;
                }
                other.join();
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(timeouts).as("the timeouts landed after the body, while the response was late").isEqualTo(10);
        assertThat(failures).as("requests broken by another one's timeout").isEmpty();
    }
}
