package dev.sluice.gateway.upstream;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.concurrent.FastThreadLocalThread;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class LoopReadBufferTest {

    /** Runs on a thread of the kind event loops run on, so the per-loop slot is the one a loop has. */
    private static void onLoopThread(Runnable body) throws Exception {
        var failure = new AtomicReference<Throwable>();
        var t = new FastThreadLocalThread(() -> {
            try {
                body.run();
            } catch (Throwable e) {
                failure.set(e);
            }
        });
        t.start();
        t.join();
        if (failure.get() != null) throw new AssertionError(failure.get());
    }

    @Test
    void aReadBufferNobodyHoldsIsReusedEmptyForTheNextRead() throws Exception {
        onLoopThread(() -> {
            var alloc = PooledByteBufAllocator.DEFAULT;
            var first = LoopReadBuffer.take(alloc);
            assertThat(first.capacity()).isEqualTo(LoopReadBuffer.SIZE);
            first.writeCharSequence("data: one\n\n", US_ASCII);
            first.release(); // the pipeline is done with the read
            var second = LoopReadBuffer.take(alloc);
            assertThat(second).isSameAs(first);
            assertThat(second.readableBytes()).as("handed out empty").isZero();
            assertThat(second.writableBytes()).isEqualTo(LoopReadBuffer.SIZE);
            second.release();
        });
    }

    @Test
    void aReadBufferStillHeldKeepsItsBytesAndTheNextReadGetsAnotherOne() throws Exception {
        onLoopThread(() -> {
            var alloc = PooledByteBufAllocator.DEFAULT;
            var held = LoopReadBuffer.take(alloc);
            held.writeCharSequence("a partial TLS record", US_ASCII);
            // Kept past the read (e.g. as a decoder's cumulation): the reader's reference is not given back.
            var next = LoopReadBuffer.take(alloc);
            assertThat(next).isNotSameAs(held);
            next.writeCharSequence("the next read", US_ASCII);
            assertThat(held.toString(US_ASCII)).isEqualTo("a partial TLS record");
            assertThat(held.refCnt()).as("only its holder's reference is left").isEqualTo(1);
            held.release();
            assertThat(held.refCnt()).isZero();
            next.release();
            assertThat(LoopReadBuffer.take(alloc)).as("the new buffer is the loop's one now").isSameAs(next);
            next.release();
        });
    }
}
