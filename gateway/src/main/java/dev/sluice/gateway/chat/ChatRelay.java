package dev.sluice.gateway.chat;

import dev.sluice.gateway.resilience.ResilientStream;
import java.io.IOException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * Moves one answer's events from the upstream ({@link ResilientStream}) to the client ({@link ChatAnswer}),
 * either pulled on a thread that may block ({@link #pull()}) or pushed on the event loop as the upstream's
 * bytes arrive ({@link #push()}). A push that meets a mid-answer failure hands the rest to a virtual thread,
 * since opening the continuation blocks; the answer and its bookkeeping carry on there unchanged.
 */
final class ChatRelay {

    private static final System.Logger LOG = System.getLogger(ChatRelay.class.getName());

    private final ResilientStream upstream;
    private final ChatAnswer answer;
    private final Consumer<ChatRelay> onFinished;
    private final AtomicBoolean finished = new AtomicBoolean();
    private volatile Thread puller;

    ChatRelay(ResilientStream upstream, ChatAnswer answer, Consumer<ChatRelay> onFinished) {
        this.upstream = upstream;
        this.answer = answer;
        this.onFinished = onFinished;
    }

    ResilientStream upstream() {
        return upstream;
    }

    ChatAnswer answer() {
        return answer;
    }

    /** Relays until the answer is over, blocking while the upstream is silent. */
    void pull() {
        puller = Thread.currentThread();
        try {
            for (var event = upstream.next(); event != null; event = upstream.next()) {
                if (!answer.accept(event)) return;
                // What one upstream read brought goes out in one write; the next event would block.
                if (upstream.buffered() == 0 && !answer.flush()) return;
            }
            answer.end(upstream.completed());
        } catch (IOException e) {
            answer.fail(e);
        } finally {
            finish();
        }
    }

    /** Relays what is at hand without blocking; called on the event loop whenever the upstream has news. */
    void push() {
        if (puller != null || finished.get()) return;
        try {
            for (var event = upstream.poll(); event != null; event = upstream.poll()) {
                if (!answer.accept(event)) {
                    finish();
                    return;
                }
            }
            if (upstream.failoverPending()) {
                puller = Thread.ofVirtual().name("continuation-", 0).unstarted(this::pull);
                puller.start();
            } else if (upstream.isEnded()) {
                answer.end(upstream.completed());
                finish();
            } else if (!answer.flush()) {
                finish();
            }
        } catch (IOException e) {
            answer.fail(e);
            finish();
        } catch (RuntimeException e) {
            // A bug must not leave the client waiting: on the loop no thread's failure handler would answer.
            LOG.log(System.Logger.Level.ERROR, "relay failed", e);
            if (!finished.get()) answer.fail(new IOException("the gateway failed while relaying the answer"));
            finish();
        }
    }

    /**
     * The client left: the upstream is cancelled, and a thread blocked on it is released (it then finishes).
     * Pushed, it finishes here; call it on the event loop then, where pushes happen.
     */
    void cancel() {
        upstream.close();
        var thread = puller;
        if (thread != null) {
            thread.interrupt();
        } else {
            answer.over("client_cancelled");
            finish();
        }
    }

    private void finish() {
        if (!finished.compareAndSet(false, true)) return;
        // The client's response ends first: closing the upstream may wait briefly for its body to end.
        answer.close();
        upstream.close();
        onFinished.accept(this);
    }
}
