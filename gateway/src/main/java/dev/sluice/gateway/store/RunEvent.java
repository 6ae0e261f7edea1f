package dev.sluice.gateway.store;

/**
 * One event of a run's stream, as it goes out over SSE: {@code event: <event>}, {@code data: <data>},
 * {@code id: <seq>}. Sequence numbers start at 1 and have no gaps within a run.
 */
public record RunEvent(String runId, long seq, String event, String data, long createdAtMillis) {}
