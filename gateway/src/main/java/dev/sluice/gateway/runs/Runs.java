package dev.sluice.gateway.runs;

import java.util.Set;

/** Run statuses and the stream events that end a stream. */
final class Runs {

    static final Set<String> TERMINAL = Set.of("completed", "failed", "cancelled", "incomplete", "expired");
    /** Statuses in which the thread is busy: no new run and no new message. */
    static final Set<String> ACTIVE = Set.of("queued", "in_progress", "requires_action", "cancelling");

    private Runs() {}

    static boolean terminalEvent(String event) {
        return event.equals("error") || (event.startsWith("thread.run.") && !event.startsWith("thread.run.step.")
                && TERMINAL.contains(event.substring("thread.run.".length())));
    }

    /** Events after which a stream ends with {@code done}: a terminal one, or the run waiting for tool outputs. */
    static boolean endsStream(String event) {
        return terminalEvent(event) || event.equals("thread.run.requires_action");
    }
}
