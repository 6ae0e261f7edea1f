package dev.sluice.gateway.provider;

import dev.sluice.wire.chat.StreamEvent;
import java.io.IOException;

/** An answer being streamed from an upstream, pulled one canonical event at a time on a (virtual) thread. */
public interface UpstreamStream extends AutoCloseable {

    /** The next event, or null when the stream ended. Blocks while the upstream is silent. */
    StreamEvent next() throws IOException;

    /** How many events are already decoded and {@link #next()} returns without blocking; 0 when unknown. */
    default int buffered() {
        return 0;
    }

    /**
     * Whether {@link #next()} returns without blocking: an event is decoded, or the stream is over (ended, or
     * failed, in which case next() throws at once).
     */
    default boolean ready() {
        return buffered() > 0;
    }

    /** Whether the upstream ended the stream properly ({@code [DONE]}, or an error it reported) rather than just stopping. */
    boolean completed();

    /** Cancels the upstream request at once. Any thread may call it; a thread blocked in {@link #next()} is released. */
    @Override
    void close();
}
