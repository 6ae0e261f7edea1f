package dev.sluice.gateway.runs;

import dev.sluice.gateway.http.Exchange;
import dev.sluice.wire.sse.SseWriter;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Answers with a run's events as Server-Sent Events ({@code id: <seq>}, {@code event: <name>}, {@code data}),
 * read from the run's log after a given sequence number and followed live until the stream's end (a terminal
 * event or {@code thread.run.requires_action}), then {@code event: done} / {@code data: [DONE]}, always last.
 * A slow client only slows its own reads; the run never waits for it.
 */
final class RunStreamer {

    private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(500);
    private static final byte[] DONE = SseWriter.event("done", null, "[DONE]");

    private final RunEventLog log;
    private final Duration keepAlive;

    RunStreamer(RunEventLog log, Duration keepAlive) {
        this.log = log;
        this.keepAlive = keepAlive;
    }

    /** Streams run {@code runId} from the event after {@code afterSeq}; blocks until the stream ends or the client leaves. */
    void stream(Exchange ex, String runId, long afterSeq) throws InterruptedException {
        var sse = ex.startEventStream(Map.of(), keepAlive);
        try {
            if (endedAt(runId, afterSeq)) {
                // A client resuming after the terminal event (its connection dropped before done) would wait
                // for an event that never comes.
                sse.send(DONE);
                return;
            }
            long cursor = afterSeq;
            while (sse.isOpen()) {
                var events = log.read(runId, cursor, POLL_NANOS);
                for (var e : events) {
                    if (!sse.send(SseWriter.event(e.event(), Long.toString(e.seq()), e.data()))) return;
                    cursor = e.seq();
                    if (Runs.endsStream(e.event())) {
                        sse.send(DONE);
                        return;
                    }
                }
            }
        } finally {
            sse.end();
        }
    }

    /** Whether {@code seq} is the last event of the run's log and ends the run. */
    private boolean endedAt(String runId, long seq) throws InterruptedException {
        if (seq <= 0 || seq != log.lastSeq(runId)) return false;
        var at = log.read(runId, seq - 1, 0);
        return !at.isEmpty() && at.getFirst().seq() == seq && Runs.terminalEvent(at.getFirst().event());
    }
}
