package dev.sluice.client;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * The default transport: {@link java.net.http.HttpClient}, which works from any thread, speaks HTTP/2 where
 * the caller chose it, and whose exchanges an interrupt aborts on platform threads too. Bodies arrive
 * through {@link ResponseBody}.
 */
final class JdkTransport implements HttpTransport {

    private volatile HttpClient http;
    private final Supplier<HttpClient> factory; // null: the client is the caller's, never replaced
    private final HttpClient.Version version;   // null: the client's own choice

    JdkTransport(HttpClient http, Supplier<HttpClient> factory, HttpClient.Version version) {
        this.http = http;
        this.factory = factory;
        this.version = version;
    }

    @Override
    public Opened send(Call call) throws IOException, ConnectionFailure {
        var channel = new ResponseBody(call.idle(), call.total(), call.deadline());
        var response = awaitHeaders(request(call), channel, call);
        return new Opened(response.statusCode(), response.headers(), channel);
    }

    private HttpRequest request(Call call) {
        var b = HttpRequest.newBuilder(call.uri());
        if (version != null) b.version(version);
        call.headers().forEach(b::setHeader);
        var body = call.body();
        b.method(call.method(), body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body));
        return b.build();
    }

    private HttpResponse<Void> awaitHeaders(HttpRequest request, ResponseBody channel, Call call)
            throws IOException, ConnectionFailure {
        var client = http;
        var future = client.sendAsync(request, info -> channel);
        var firstByte = call.firstByte();
        var total = call.total();
        long wait = firstByte == null ? Long.MAX_VALUE : firstByte.toNanos();
        if (total != null) wait = Math.min(wait, call.deadline() - System.nanoTime());
        try {
            if (wait <= 0) throw new TimeoutException();
            return wait == Long.MAX_VALUE ? future.get() : future.get(wait, TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            abort(future, channel);
            throw StreamTimeoutException.expired(StreamTimeoutException.Kind.FIRST_BYTE, firstByte, total, call.deadline());
        } catch (InterruptedException e) {
            abort(future, channel);
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

    /**
     * The future completes some time after the body: a short body may be parsed, and its connection back in
     * the pool, while the response is still on its way here. Cancelling the future then closes that pooled
     * connection, under the next request sent on it ("header parser received no bytes"). So once the body is
     * subscribed the body cancels itself (nothing, if it has ended); only an exchange without one is aborted.
     */
    private static void abort(Future<?> future, ResponseBody channel) {
        if (!channel.cancelSubscribed()) future.cancel(true);
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

    /**
     * Aborts what is still in flight. The JDK's own {@code HttpClient.close()} waits, without a bound, for every
     * exchange to end: one stream left open, or an exchange the JDK never completes, would hang it for good.
     */
    @Override
    public void close() {
        var client = http;
        client.shutdownNow();
        try {
            // Bounded: the selector thread normally ends at once; a daemon thread left behind is better than a hang.
            client.awaitTermination(CLOSE_WAIT);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static final java.time.Duration CLOSE_WAIT = java.time.Duration.ofSeconds(2);
}
