package dev.sluice.gateway.store;

import java.util.List;

/** The append-only event log of every run. */
public interface RunEventRepository {

    /** Appends an event; a duplicate {@code (runId, seq)} is an error, so the log never forks. */
    void append(RunEvent event);

    /** Up to {@code limit} events of a run with a sequence number above {@code afterSeq}, in order. */
    List<RunEvent> read(String runId, long afterSeq, int limit);

    /** The highest sequence number of a run, 0 when it has none. */
    long lastSeq(String runId);

    void deleteRun(String runId);
}
