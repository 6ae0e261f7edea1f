package dev.sluice.wire.json;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.util.BufferRecycler;
import java.util.ArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

class BufferPoolTest {

    @Test
    void aPlatformThreadKeepsItsOwnBuffersAndNeverTouchesTheSharedPool() {
        var pool = new BufferPool();
        var first = pool.acquireAndLinkPooled();
        first.releaseToPool();
        var second = pool.acquireAndLinkPooled();
        second.releaseToPool();
        assertThat(second).isSameAs(first);
        assertThat(first.isLinkedWithPool()).isFalse();
        assertThat(pool.pooledCount()).isZero();
    }

    @Test
    void virtualThreadsShareBuffersThroughThePool() throws Exception {
        var pool = new BufferPool();
        BufferRecycler[] used = new BufferRecycler[2];
        Thread.ofVirtual().start(() -> {
            used[0] = pool.acquireAndLinkPooled();
            assertThat(used[0].isLinkedWithPool()).isTrue();
            used[0].releaseToPool();
        }).join();
        assertThat(pool.pooledCount()).isEqualTo(1);
        // Another virtual thread gets the same buffers back instead of allocating.
        Thread.ofVirtual().start(() -> used[1] = pool.acquireAndLinkPooled()).join();
        assertThat(used[1]).isSameAs(used[0]);
        assertThat(pool.pooledCount()).isZero();
        // A buffer is never in two hands: one released elsewhere goes to the shared pool, a per-thread one never does.
        used[1].releaseToPool();
        pool.releasePooled(pool.acquirePooled());
        assertThat(pool.pooledCount()).isEqualTo(1);
    }

    @Test
    void manyThreadsOfBothKindsParseAndWriteCorrectlyAtOnce() throws Exception {
        var futures = new ArrayList<Future<Boolean>>();
        try (var virtual = Executors.newVirtualThreadPerTaskExecutor(); var platform = Executors.newFixedThreadPool(4)) {
            for (int t = 0; t < 64; t++) {
                int id = t;
                var executor = t % 2 == 0 ? virtual : platform;
                futures.add(executor.submit(() -> {
                    for (int i = 0; i < 500; i++) {
                        var node = Json.object().put("thread", id).put("i", i).put("text", "x".repeat(i % 97));
                        var back = Json.parse(Json.bytes(node));
                        if (!back.equals(node) || !Json.parse(Json.write(node)).equals(node)) return false;
                    }
                    return true;
                }));
            }
            for (var f : futures) assertThat(f.get()).isTrue();
        }
    }
}
