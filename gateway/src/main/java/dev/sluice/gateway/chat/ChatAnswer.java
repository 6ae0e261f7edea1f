package dev.sluice.gateway.chat;

import dev.sluice.gateway.config.GatewayConfig.Limits;
import dev.sluice.gateway.http.ApiError;
import dev.sluice.gateway.http.EventStreamResponse;
import dev.sluice.gateway.http.Exchange;
import dev.sluice.gateway.usage.UsageTracker;
import dev.sluice.wire.chat.ChatAccumulator;
import dev.sluice.wire.chat.ChatCompletion;
import dev.sluice.wire.chat.StreamError;
import dev.sluice.wire.chat.StreamEvent;
import java.io.IOException;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * The client's side of one chat answer: canonical events in, either SSE chunks or one {@code chat.completion}
 * out. The same object serves whether the events are pulled on a thread or pushed on the event loop
 * ({@link ChatRelay}). Each method returns false once the answer is over; {@link #outcome()} says how.
 */
abstract sealed class ChatAnswer {

    private static final System.Logger LOG = System.getLogger(ChatAnswer.class.getName());

    final Exchange ex;
    /** The x-sluice-* headers, as of now: an error answered after more attempts names them all. */
    final Supplier<Map<String, String>> headers;
    final UsageTracker tracker = new UsageTracker();
    private final Progress progress = new Progress();
    private String outcome = "error";

    ChatAnswer(Exchange ex, Supplier<Map<String, String>> headers) {
        this.ex = ex;
        this.headers = headers;
    }

    /** An error answer carrying the x-sluice-* headers. */
    final ApiError withHeaders(ApiError error) {
        for (var h : headers.get().entrySet()) error = error.withHeader(h.getKey(), h.getValue());
        return error;
    }


    /** How the answer ended: completed, error or client_cancelled. */
    String outcome() {
        return outcome;
    }

    final boolean over(String how) {
        outcome = how;
        return false;
    }

    /** One event from the upstream; false when the answer is over. */
    final boolean accept(StreamEvent event) {
        progress.accept(event);
        tracker.accept(event);
        return write(event);
    }

    abstract boolean write(StreamEvent event);

    /** Nothing more is at hand for now: what was written goes out. False when the client is gone. */
    abstract boolean flush();

    /** The upstream's events ended; {@code upstreamCompleted} says whether it ended them properly. */
    final void end(boolean upstreamCompleted) {
        // An answer with no choice at all ([DONE] after nothing, a completion with "choices": [] or null) is a broken
        // upstream, not an empty success a client would take for an answer.
        if (!progress.anyChoice()) incomplete(UpstreamErrors.EMPTY);
        else if (!upstreamCompleted && !progress.allChoicesFinished()) incomplete(UpstreamErrors.INCOMPLETE);
        else complete();
    }

    abstract void incomplete(String why);

    abstract void complete();

    /** The upstream failed and no continuation took over. */
    abstract void fail(IOException e);

    /** Releases the client's response (ends an event stream); idempotent. */
    abstract void close();

    static final class Streamed extends ChatAnswer {
        private final ChatChunkWriter writer;
        private final EventStreamResponse sse;
        /** The writer's frames go straight into the response's batch (one sink per answer, not one per event). */
        private final ChatChunkWriter.Sink toClient;

        Streamed(Exchange ex, String model, boolean includeUsage, Supplier<Map<String, String>> headers, Limits limits) {
            super(ex, headers);
            this.writer = new ChatChunkWriter(model, includeUsage);
            // The head waits for the first chunk (or keep-alive): an answer that fails before it is an error status
            // the client's SDK knows (a 429 it backs off from, a 502), not a 200 whose stream holds only an error.
            this.sse = ex.startEventStream(headers.get(), limits.keepAlive(), true);
            this.toClient = sse::queue;
        }

        @Override
        boolean write(StreamEvent event) {
            if (event instanceof StreamEvent.Error e && ex.sendErrorInstead(sse, withHeaders(UpstreamErrors.toApiError(e.error())))) {
                return over("error");
            }
            if (!writer.onEvent(event, toClient)) return over("client_cancelled"); // closing the upstream is the caller's job
            if (event instanceof StreamEvent.Error) return over("error");
            return true;
        }

        @Override
        boolean flush() {
            return sse.flush() || over("client_cancelled");
        }

        @Override
        void incomplete(String why) {
            failWith(ApiError.server(502, why, "upstream_incomplete"));
            over("error");
        }

        /** The error as a status while the head can still be withdrawn, else as an event in the stream. */
        private boolean failWith(ApiError error) {
            if (ex.sendErrorInstead(sse, withHeaders(error))) return true;
            sse.queue(writer.error(StreamError.of(error.message(), error.type(), error.code())));
            return false;
        }

        @Override
        void complete() {
            over(writer.finish(toClient) ? "completed" : "client_cancelled");
        }

        @Override
        void fail(IOException e) {
            if (sse.isOpen()) {
                boolean beforeFirstChunk = failWith(UpstreamErrors.toApiError(e));
                LOG.log(System.Logger.Level.WARNING, "upstream failed " + (beforeFirstChunk ? "before the answer's first chunk" : "mid-stream")
                        + ": " + e.getMessage());
            }
            over("error");
        }

        @Override
        void close() {
            sse.end();
        }
    }

    static final class Whole extends ChatAnswer {
        private final String model;
        private final ChatAccumulator acc = new ChatAccumulator();

        Whole(Exchange ex, String model, Supplier<Map<String, String>> headers) {
            super(ex, headers);
            this.model = model;
        }

        @Override
        boolean write(StreamEvent event) {
            acc.accept(event);
            if (event instanceof StreamEvent.Error e) {
                ex.sendError(withHeaders(UpstreamErrors.toApiError(e.error())));
                return over("error");
            }
            return true;
        }

        @Override
        boolean flush() {
            return true;
        }

        @Override
        void incomplete(String why) {
            if (!ex.isOpen()) {
                over("client_cancelled");
                return;
            }
            ex.sendError(withHeaders(ApiError.server(502, why, "upstream_incomplete")));
            over("error");
        }

        @Override
        void complete() {
            if (!ex.isOpen()) {
                over("client_cancelled");
                return;
            }
            var r = acc.result();
            if (r.id() == null || r.model() == null || r.created() == 0) {
                r = new ChatCompletion(r.id() != null ? r.id() : "chatcmpl-" + Long.toHexString(System.nanoTime()),
                        r.created() != 0 ? r.created() : System.currentTimeMillis() / 1000, r.model() != null ? r.model() : model,
                        r.systemFingerprint(), r.serviceTier(), r.choices(), r.usage(), r.extras());
            }
            ex.sendJson(200, r::writeTo, headers.get());
            over("completed");
        }

        @Override
        void fail(IOException e) {
            if (ex.isOpen()) ex.sendError(withHeaders(UpstreamErrors.toApiError(e)));
            over("error");
        }

        @Override
        void close() {}
    }

    /** Which choices have started and finished: a stream whose choices all finished is complete even without [DONE]. */
    private static final class Progress {
        private final Set<Integer> started = new HashSet<>();
        private final Set<Integer> finished = new HashSet<>();
        // Text deltas come by the hundred, nearly always for the choice of the delta before.
        private int lastStarted; // meaningful once started is not empty

        /** Whether anything of any choice came (metadata, usage and chunk-level extras are not a choice's). */
        private boolean anyChoice;

        void accept(StreamEvent event) {
            if (!anyChoice) anyChoice = StreamEvent.ofAChoice(event);
            switch (event) {
                case StreamEvent.Role r -> start(r.choice());
                case StreamEvent.TextDelta t -> start(t.choice());
                case StreamEvent.Finish f -> {
                    start(f.choice());
                    finished.add(f.choice());
                }
                default -> {}
            }
        }

        private void start(int choice) {
            if (!started.isEmpty() && choice == lastStarted) return;
            started.add(choice);
            lastStarted = choice;
        }

        boolean anyChoice() {
            return anyChoice;
        }

        boolean allChoicesFinished() {
            return !started.isEmpty() && finished.containsAll(started);
        }
    }
}
