package dev.sluice.client;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.function.Consumer;

/**
 * A response body read as it arrives by one thread, which blocks in {@link #read}; {@link #cancel} and
 * {@link #release} may come from any thread. The transport behind it decides how bytes arrive.
 */
interface Body {

    /**
     * Hands the next received bytes to {@code sink}, which must consume them before returning (the buffer is
     * reused). Returns false once the body has ended.
     *
     * @throws StreamTimeoutException when the idle or total timeout expires (the exchange is cancelled first)
     * @throws java.io.InterruptedIOException when the thread is interrupted (the exchange is cancelled)
     * @throws IOException when the connection fails, or the body was cancelled
     */
    boolean read(Consumer<ByteBuffer> sink) throws IOException;

    /** Takes what has already arrived without waiting, dropping it; returns whether the end of the body was reached. */
    boolean drainAvailable();

    /** Cancels the exchange: the connection is closed (unless the body has ended) and a blocked reader is woken. Idempotent. */
    void cancel();

    /**
     * The reader wants nothing more, but the body is known to be nearly over (the stream's end marker was
     * read). The rest is received and dropped so that, if the body ends within {@code grace}, the connection
     * can be reused; otherwise the exchange is cancelled then. Never blocks the caller.
     */
    void release(Duration grace);

    /** The whole (rest of the) body; past {@code max} bytes the exchange is cancelled and the rest dropped. */
    default byte[] readAll(int max) throws IOException {
        var out = new ByteArrayOutputStream();
        boolean[] full = {false};
        Consumer<ByteBuffer> sink = buffer -> {
            int n = Math.min(buffer.remaining(), max - out.size());
            if (n < buffer.remaining()) full[0] = true;
            if (buffer.hasArray()) {
                out.write(buffer.array(), buffer.arrayOffset() + buffer.position(), n);
                buffer.position(buffer.position() + n);
            } else {
                var bytes = new byte[n];
                buffer.get(bytes);
                out.write(bytes, 0, n);
            }
        };
        while (!full[0] && read(sink)) {
            // until the end, or the cap
        }
        if (full[0]) cancel();
        return out.toByteArray();
    }
}
