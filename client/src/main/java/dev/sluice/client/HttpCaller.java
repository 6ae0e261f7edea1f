package dev.sluice.client;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.URI;
import java.net.http.HttpHeaders;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Sends one logical call: builds the request, waits for the response headers within the first-byte timeout,
 * turns error statuses into {@link ApiException}s and retries what may be retried. Retries happen only before
 * a 2xx response is handed out, so never after a byte of a stream was delivered.
 */
final class HttpCaller {

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
            Duration maxBackoff) {}

    private final HttpTransport transport;
    private final Settings settings;
    private volatile boolean closed;

    HttpCaller(HttpTransport transport, Settings settings) {
        this.transport = transport;
        this.settings = settings;
    }

    void close() {
        closed = true;
        transport.close();
    }

    /** A 2xx response whose body is still to be read, after the retries allowed. */
    HttpTransport.Opened open(String method, String path, byte[] body, String accept, RequestOptions options) throws IOException {
        var prepared = prepare(method, path, body, accept, options);
        var total = prepared.total();
        int maxRetries = options.maxRetries() != null ? options.maxRetries() : settings.maxRetries();
        long deadline = total == null ? 0 : System.nanoTime() + total.toNanos();
        var call = new HttpTransport.Call(method, prepared.uri(), prepared.headers(), body, prepared.firstByte(), prepared.idle(), total, deadline);

        for (int attempt = 1; ; attempt++) {
            // A closed JDK client fails every send as a connection error: without this, each call after close()
            // went through every retry and its backoff before reporting "cannot reach" the upstream.
            if (closed) throw new IOException("client closed");
            HttpTransport.Opened response;
            try {
                response = transport.send(call);
            } catch (ConnectionFailure failure) {
                var cause = failure.getCause();
                if (closed) throw new IOException("client closed", cause);
                if (attempt <= maxRetries && pause(backoff(attempt), deadline, total)) continue;
                throw new ApiConnectionException("cannot reach " + call.uri() + ": " + describe(cause), attempt, cause);
            }
            int status = response.status();
            if (status >= 200 && status <= 299) return response;

            var error = readError(response);
            if (attempt <= maxRetries && retryable(status, response.headers())) {
                var delay = error.retryAfter().orElse(backoff(attempt));
                if (delay.compareTo(MAX_RETRY_AFTER) <= 0 && pause(delay, deadline, total)) continue;
            }
            throw error;
        }
    }

    /** The request as it goes on the wire: URL, headers (defaults, then the client's, then the call's) and timeouts. */
    PreparedCall prepare(String method, String path, byte[] body, String accept, RequestOptions options) {
        // The URL and the client's headers are the same for every call to a path: built once, not per request.
        var base = bases.computeIfAbsent(path + '\n' + accept + '\n' + (body != null), k -> {
            var headers = new TreeMap<String, String>(String.CASE_INSENSITIVE_ORDER); // a later header of the same name wins
            headers.put("Accept", accept);
            if (body != null) headers.put("Content-Type", "application/json");
            headers.putAll(settings.headers());
            return new Base(URI.create(settings.baseUrl() + path), java.util.Collections.unmodifiableMap(headers));
        });
        var headers = base.headers();
        if (!options.headers().isEmpty()) {
            var merged = new TreeMap<String, String>(String.CASE_INSENSITIVE_ORDER);
            merged.putAll(headers);
            merged.putAll(options.headers());
            headers = java.util.Collections.unmodifiableMap(merged);
        }
        return new PreparedCall(method, base.uri(), headers, body,
                enabled(options.firstByteTimeout() != null ? options.firstByteTimeout() : settings.firstByteTimeout()),
                enabled(options.idleTimeout() != null ? options.idleTimeout() : settings.idleTimeout()),
                enabled(options.totalTimeout() != null ? options.totalTimeout() : settings.totalTimeout()));
    }

    private record Base(URI uri, Map<String, String> headers) {}

    /** Per path, accept type and body presence: a handful of entries for the life of the client. */
    private final java.util.concurrent.ConcurrentHashMap<String, Base> bases = new java.util.concurrent.ConcurrentHashMap<>();

    private static ApiException readError(HttpTransport.Opened response) throws IOException {
        byte[] bytes;
        IOException failure = null;
        try {
            bytes = response.body().readAll(ApiException.MAX_BODY_BYTES);
        } catch (InterruptedIOException e) {
            throw e;
        } catch (IOException e) {
            // The status says what happened; a body cut short must not hide it.
            bytes = new byte[0];
            failure = e;
        }
        var error = ApiException.of(response.status(), response.headers(), bytes);
        if (failure != null) error.addSuppressed(failure);
        return error;
    }

    /**
     * The failure's own words, without the Java class name its toString() starts with. The JDK client's refused
     * connections have no words at all.
     */
    static String describe(Throwable cause) {
        for (var t = cause; t != null; t = t.getCause()) {
            var message = t.getMessage();
            if (message != null && !message.isBlank()) return message;
        }
        return cause instanceof java.net.ConnectException ? "could not connect" : cause.getClass().getSimpleName();
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
}
