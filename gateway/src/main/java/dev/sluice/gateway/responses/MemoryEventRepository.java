package dev.sluice.gateway.responses;

import dev.sluice.gateway.store.RunEvent;
import dev.sluice.gateway.store.RunEventRepository;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Events of responses that are not stored ({@code store: false}): they stream through the same log as
 * stored ones but never reach the database, and are dropped when the response ends.
 */
final class MemoryEventRepository implements RunEventRepository {

    private final Map<String, List<RunEvent>> events = new ConcurrentHashMap<>();

    @Override
    public void append(RunEvent event) {
        var list = events.computeIfAbsent(event.runId(), id -> new ArrayList<>());
        synchronized (list) {
            if (!list.isEmpty() && list.getLast().seq() >= event.seq()) throw new IllegalStateException("duplicate event " + event.seq());
            list.add(event);
        }
    }

    @Override
    public List<RunEvent> read(String runId, long afterSeq, int limit) {
        var list = events.get(runId);
        if (list == null) return List.of();
        synchronized (list) {
            var out = new ArrayList<RunEvent>();
            for (var e : list) if (e.seq() > afterSeq && out.size() < limit) out.add(e);
            return out;
        }
    }

    @Override
    public long lastSeq(String runId) {
        var list = events.get(runId);
        if (list == null) return 0;
        synchronized (list) {
            return list.isEmpty() ? 0 : list.getLast().seq();
        }
    }

    @Override
    public void deleteRun(String runId) {
        events.remove(runId);
    }
}
