package dev.sluice.wire.json;

import com.fasterxml.jackson.core.util.BufferRecycler;
import com.fasterxml.jackson.core.util.JsonRecyclerPools;
import com.fasterxml.jackson.core.util.RecyclerPool;

/**
 * Jackson's parser and generator buffers: per thread on platform threads, shared on virtual threads.
 *
 * <p>Jackson's default pool is per thread. The SDK and the gateway parse on virtual threads, one per stream,
 * which would each allocate fresh buffers; those share a concurrent pool instead. The gateway's event loops
 * are long-lived platform threads that write and parse on every chunk: for them the per-thread pool is
 * cheaper than the shared one, which costs a deque node and two atomic updates per use.
 *
 * <p>A per-thread buffer is never linked to a pool (Jackson releases nothing back to it), and a shared one is
 * linked to the shared pool itself, so each goes back where it came from, whichever thread releases it.
 */
final class BufferPool implements RecyclerPool<BufferRecycler> {

    private static final long serialVersionUID = 1L;

    private final RecyclerPool<BufferRecycler> shared = JsonRecyclerPools.newConcurrentDequePool();

    private RecyclerPool<BufferRecycler> forThisThread() {
        return Thread.currentThread().isVirtual() ? shared : JsonRecyclerPools.threadLocalPool();
    }

    @Override
    public BufferRecycler acquireAndLinkPooled() {
        return forThisThread().acquireAndLinkPooled();
    }

    @Override
    public BufferRecycler acquirePooled() {
        return forThisThread().acquirePooled();
    }

    /**
     * Jackson hands buffers back through the pool they are linked to (the shared one), never through this one.
     * Anything given here is dropped: pushing a per-thread buffer into the shared pool would let two threads use it.
     */
    @Override
    public void releasePooled(BufferRecycler recycler) {}

    @Override
    public int pooledCount() {
        return shared.pooledCount();
    }

    @Override
    public boolean clear() {
        return shared.clear();
    }
}
