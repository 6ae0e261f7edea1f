package dev.sluice.gateway.store;

import java.util.ArrayList;
import java.util.List;

/** {@link RunEventRepository} on the {@code run_events} table. */
final class JdbcRunEventRepository implements RunEventRepository {

    private final ConnectionPool pool;

    JdbcRunEventRepository(ConnectionPool pool) {
        this.pool = pool;
    }

    @Override
    public void append(RunEvent e) {
        pool.with(c -> {
            try (var st = c.prepareStatement("INSERT INTO run_events (run_id, seq, event, data, created_at) VALUES (?, ?, ?, ?, ?)")) {
                st.setString(1, e.runId());
                st.setLong(2, e.seq());
                st.setString(3, e.event());
                st.setString(4, e.data());
                st.setLong(5, e.createdAtMillis());
                return st.executeUpdate();
            }
        });
    }

    @Override
    public List<RunEvent> read(String runId, long afterSeq, int limit) {
        return pool.with(c -> {
            try (var st = c.prepareStatement("SELECT seq, event, data, created_at FROM run_events WHERE run_id = ? AND seq > ? ORDER BY seq ASC LIMIT ?")) {
                st.setString(1, runId);
                st.setLong(2, afterSeq);
                st.setInt(3, limit);
                var out = new ArrayList<RunEvent>();
                try (var rs = st.executeQuery()) {
                    while (rs.next()) out.add(new RunEvent(runId, rs.getLong(1), rs.getString(2), rs.getString(3), rs.getLong(4)));
                }
                return out;
            }
        });
    }

    @Override
    public long lastSeq(String runId) {
        return pool.with(c -> {
            try (var st = c.prepareStatement("SELECT MAX(seq) FROM run_events WHERE run_id = ?")) {
                st.setString(1, runId);
                try (var rs = st.executeQuery()) {
                    return rs.next() ? rs.getLong(1) : 0L;
                }
            }
        });
    }

    @Override
    public void deleteRun(String runId) {
        pool.with(c -> {
            try (var st = c.prepareStatement("DELETE FROM run_events WHERE run_id = ?")) {
                st.setString(1, runId);
                return st.executeUpdate();
            }
        });
    }
}
