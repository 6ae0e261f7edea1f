package dev.sluice.client;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Sends one logical call: builds the request, waits for the response headers within the first-byte timeout,
 * turns error statuses into {@link ApiException}s and retries what may be retried. Retries happen only before
 * a 2xx response is handed out, so never after a byte of a stream was delivered.
 */
final class HttpCaller {

    /** Error bodies are read up to this size; the gateway relays them, so they are kept whole when sane. */
    static final int MAX_ERROR_BODY = 1 << 20;

    /** A Retry-After longer than this is not waited for: the error goes to the caller, who can relay it. */
    static final Duration MAX_RETRY_AFTER = Duration.ofSeconds(60);

    record Settings(
            String baseUrl,
            Map<String, String> headers,
            Duration firstByteTimeout,
            Duration idleTimeout,
            Duration totalTimeout,
            int maxRetries,
            Duration initialBackoff,
            Duration maxBackoff,
            HttpClient.Version version) {}

    /** A 2xx response whose body is still to be read. */
    record Opened(HttpResponse<Void> response, ResponseBody body) {}

    private volatile HttpClient http;
    private final java.util.function.Supplier<HttpClient> factory; // null: the client is the caller's, never replaced
    private final Settings settings;

    HttpCaller(HttpClient http, java.util.function.Supplier<HttpClient> factory, Settings settings) {
        this.http = http;
        this.factory = factory;
        this.settings = settings;
    }

    /**
     * The JDK client leaves a connection open (CLOSE-WAIT, forever) when the server answered with something
     * that is not HTTP. The only public way to release it is to retire that HttpClient: new requests go to a
     * fresh one, and the old one shuts down once its exchanges are done, closing its connections.
     */
    private void retireAfterProtocolError(HttpClient failed) {
        if (factory == null) return;
        synchronized (this) {
            if (http != failed) return; // another thread already replaced it
            http = factory.get();
        }
        failed.shutdown();
    }

    void close() {
        http.close();
    }

    Opened open(String method, String path, byte[] body, String accept, RequestOptions options) throws IOException {
        var firstByte = enabled(options.firstByteTimeout() != null ? options.firstByteTimeout() : settings.firstByteTimeout());
        var idle = enabled(options.idleTimeout() != null ? options.idleTimeout() : settings.idleTimeout());
        var total = enabled(options.totalTimeout() != null ? options.totalTimeout() : settings.totalTimeout());
        int maxRetries = options.maxRetries() != null ? options.maxRetries() : settings.maxRetries();
        long deadline = total == null ? 0 : System.nanoTime() + total.toNanos();
        var request = request(method, path, body, accept, options);

        for (int attempt = 1; ; attempt++) {
            var channel = new ResponseBody(idle, total, deadline);
            HttpResponse<Void> response;
            try {
                response = awaitHeaders(request, channel, firstByte, deadline, total);
            } catch (ConnectionFailure failure) {
                if (attempt <= maxRetries && pause(backoff(attempt), deadline, total)) continue;
                throw new ApiConnectionException(
                        "cannot reach " + request.uri() + ": " + failure.getCause(), attempt, failure.getCause());
            }
            int status = response.statusCode();
            if (status >= 200 && status <= 299) return new Opened(response, channel);

            var error = readError(response, channel);
            if (attempt <= maxRetries && retryable(status, response.headers())) {
                var delay = error.retryAfter().orElse(backoff(attempt));
                if (delay.compareTo(MAX_RETRY_AFTER) <= 0 && pause(delay, deadline, total)) continue;
            }
            throw error;
        }
    }

    private HttpRequest request(String method, String path, byte[] body, String accept, RequestOptions options) {
        var b = HttpRequest.newBuilder(URI.create(settings.baseUrl() + path));
        if (settings.version() != null) b.version(settings.version());
        b.setHeader("Accept", accept);
        if (body != null) b.setHeader("Content-Type", "application/json");
        settings.headers().forEach(b::setHeader);
        options.headers().forEach(b::setHeader);
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body));
        return b.build();
    }

    private HttpResponse<Void> awaitHeaders(
            HttpRequest request, ResponseBody channel, Duration firstByte, long deadline, Duration total)
            throws IOException, ConnectionFailure {
        var client = http;
        var future = client.sendAsync(request, info -> channel);
        long wait = firstByte == null ? Long.MAX_VALUE : firstByte.toNanos();
        if (total != null) wait = Math.min(wait, deadline - System.nanoTime());
        try {
            if (wait <= 0) throw new TimeoutException();
            return wait == Long.MAX_VALUE ? future.get() : future.get(wait, TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            // Cancelling the future aborts the exchange; the channel may already hold the subscription.
            future.cancel(true);
            channel.cancel();
            boolean totalExpired = total != null && deadline - System.nanoTime() <= 0;
            throw totalExpired
                    ? new StreamTimeoutException(StreamTimeoutException.Kind.TOTAL, total)
                    : new StreamTimeoutException(StreamTimeoutException.Kind.FIRST_BYTE, firstByte);
        } catch (InterruptedException e) {
            future.cancel(true);
            channel.cancel();
            Thread.currentThread().interrupt();
            var io = new InterruptedIOException("interrupted while waiting for the response");
            io.initCause(e);
            throw io;
        } catch (CancellationException e) {
            throw new IOException("request cancelled", e);
        } catch (ExecutionException e) {
            var cause = e.getCause();
            if (cause instanceof HttpTimeoutException timeout && !(cause instanceof HttpConnectTimeoutException)) {
                throw timeout;
            }
            if (cause instanceof java.net.ProtocolException || (cause instanceof IOException && String.valueOf(cause.getMessage()).contains("status line"))) {
                retireAfterProtocolError(client);
            }
            if (cause instanceof IOException) throw new ConnectionFailure(cause);
            throw new IOException(cause);
        }
    }

    private static ApiException readError(HttpResponse<Void> response, ResponseBody channel) throws IOException {
        byte[] bytes;
        IOException failure = null;
        try {
            bytes = channel.readAll(MAX_ERROR_BODY);
        } catch (InterruptedIOException e) {
            throw e;
        } catch (IOException e) {
            // The status says what happened; a body cut short must not hide it.
            bytes = new byte[0];
            failure = e;
        }
        var error = ApiException.of(response.statusCode(), response.headers(), bytes);
        if (failure != null) error.addSuppressed(failure);
        return error;
    }

    /** OpenAI's rule: an explicit {@code x-should-retry} wins, else 408, 409, 429 and 5xx are retried. */
    static boolean retryable(int status, HttpHeaders headers) {
        var hint = headers.firstValue("x-should-retry").orElse("");
        if (hint.equalsIgnoreCase("true")) return true;
        if (hint.equalsIgnoreCase("false")) return false;
        return status == 408 || status == 409 || status == 429 || status >= 500;
    }

    /** Exponential backoff from the initial delay, capped, with up to 25% jitter taken off. */
    private Duration backoff(int attempt) {
        double base = settings.initialBackoff().toNanos() * Math.pow(2, attempt - 1);
        double capped = Math.min(base, settings.maxBackoff().toNanos());
        double jitter = 1 - 0.25 * ThreadLocalRandom.current().nextDouble();
        return Duration.ofNanos((long) (capped * jitter));
    }

    /** Sleeps before the next attempt; false when the total deadline would pass first (then no retry). */
    private static boolean pause(Duration delay, long deadline, Duration total) throws InterruptedIOException {
        if (total != null && deadline - System.nanoTime() - delay.toNanos() <= 0) return false;
        try {
            Thread.sleep(delay);
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            var io = new InterruptedIOException("interrupted while waiting to retry");
            io.initCause(e);
            throw io;
        }
    }

    private static Duration enabled(Duration timeout) {
        return timeout == null || timeout.isZero() || timeout.isNegative() ? null : timeout;
    }

    /** The request could not be sent or no response came back: retryable. */
    private static final class ConnectionFailure extends Exception {
        ConnectionFailure(Throwable cause) {
            super(cause);
        }
    }
}
