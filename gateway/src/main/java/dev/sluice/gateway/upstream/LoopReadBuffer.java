package dev.sluice.gateway.upstream;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.DefaultMaxMessagesRecvByteBufAllocator;
import io.netty.util.concurrent.FastThreadLocal;

/**
 * Socket reads of upstream connections go into one buffer per event loop, reused from read to read, instead of
 * a pooled buffer taken and freed for every read: with a relayed chunk per read, that take and free was several
 * per cent of the loops' user time (docs/benchmarks.md). {@link ResponseDecoder} keeps no reference to a read
 * buffer once the read is handled, so the loop's buffer is normally free again for the next read, whichever of
 * the loop's connections it is for. When something does still hold it (TLS keeping a partial record, a listener
 * retaining a slice), a fresh buffer takes its place and the held one is freed by its holder.
 */
final class LoopReadBuffer extends DefaultMaxMessagesRecvByteBufAllocator {

    /** Large enough that one read drains what a socket holds in the usual case (Netty reads on while reads fill it). */
    static final int SIZE = 64 * 1024;

    /** Netty's own default for stream channels: reads per readiness event before other channels get their turn. */
    private static final int MAX_READS_PER_EVENT = 16;

    private static final FastThreadLocal<ByteBuf> SPARE = new FastThreadLocal<>() {
        @Override
        protected void onRemoval(ByteBuf spare) {
            if (spare != null) spare.release();
        }
    };

    static final LoopReadBuffer INSTANCE = new LoopReadBuffer();

    private LoopReadBuffer() {
        super(MAX_READS_PER_EVENT);
    }

    @Override
    public Handle newHandle() {
        return new MaxMessageHandle() {
            @Override
            public int guess() {
                return SIZE;
            }

            @Override
            public ByteBuf allocate(ByteBufAllocator alloc) {
                return take(alloc);
            }
        };
    }

    /** The loop's buffer, empty, with a reference for the read; the loop keeps its own. */
    static ByteBuf take(ByteBufAllocator alloc) {
        var spare = SPARE.get();
        if (spare != null && spare.refCnt() == 1) {
            return spare.clear().retain();
        }
        if (spare != null) spare.release(); // still held elsewhere: its last holder frees it
        spare = alloc.directBuffer(SIZE, SIZE);
        SPARE.set(spare);
        return spare.retain();
    }
}
