package dev.sluice.gateway.provider;

import io.netty.channel.EventLoop;

/**
 * A provider that can also answer without a thread of its own: the request goes out, and its answer is read,
 * on the client connection's event loop, the way a reverse proxy relays (one thread, no hand-offs per chunk).
 * {@link Provider#open} remains for callers that read on a thread of their own.
 */
public interface EventLoopProvider extends Provider {

    /** The outcome of {@link #openOn}, delivered on the loop. */
    interface Opening {
        /** The answer is open: for a streamed request its head arrived; otherwise the whole answer was read. */
        void opened(Pushing stream);

        /** Refused or failed before the answer opened. */
        void failed(UpstreamException e);
    }

    /**
     * Starts the request on {@code loop} and returns at once; {@code opening} is told on the loop. The returned
     * stream pushes: it calls the runnable given to {@link Pushing#onData} on the loop whenever
     * {@link UpstreamStream#ready()} may have changed. Returns a handle that cancels the attempt.
     */
    Runnable openOn(EventLoop loop, UpstreamRequest request, Opening opening);

    /** Whether this provider serves on an event loop (else the caller uses {@link #open}). */
    default boolean servesOnEventLoop() {
        return true;
    }

    /** An upstream stream that tells when data arrived, instead of being waited on. */
    interface Pushing extends UpstreamStream {
        /** Runs {@code onData} on the loop whenever events arrived or the stream ended or failed. */
        void onData(Runnable onData);

        /** On the loop: false stops reading the upstream (the client is slow to take what was relayed), true resumes. */
        void setReading(boolean reading);
    }
}
