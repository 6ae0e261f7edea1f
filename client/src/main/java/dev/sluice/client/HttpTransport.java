package dev.sluice.client;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpHeaders;
import java.time.Duration;
import java.util.Map;

/** Sends one HTTP request and returns once the response head arrived; the body is read through {@link Opened#body()}. */
interface HttpTransport extends AutoCloseable {

    /**
     * One attempt. {@code firstByte}, {@code idle} and {@code total} are null when disabled; {@code deadline}
     * is the {@link System#nanoTime()} at which the total timeout expires.
     */
    record Call(String method, URI uri, Map<String, String> headers, byte[] body,
            Duration firstByte, Duration idle, Duration total, long deadline) {}

    /** A response whose head has arrived and whose body is still to be read. */
    record Opened(int status, HttpHeaders headers, Body body) {}

    /**
     * @throws ConnectionFailure when the request could not be sent or no response head came back (retryable)
     * @throws StreamTimeoutException when the first-byte or total timeout expired
     * @throws java.io.InterruptedIOException when the calling thread was interrupted (the exchange is aborted)
     */
    Opened send(Call call) throws IOException, ConnectionFailure;

    @Override
    void close();
}
