package dev.sluice.gateway.store;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.wire.json.Json;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Optional;

/** {@link ObjectRepository} on one table, in SQL that SQLite and PostgreSQL both speak. */
final class JdbcObjectRepository implements ObjectRepository {

    private static final String COLUMNS = "id, parent_id, ref_id, sort_key, status, body, internal";

    private final ConnectionPool pool;
    private final String table;

    JdbcObjectRepository(ConnectionPool pool, Kind kind) {
        this.pool = pool;
        this.table = kind.table();
    }

    @Override
    public void insert(StoredObject o) {
        pool.with(c -> {
            try (var st = c.prepareStatement("INSERT INTO " + table + " (" + COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?)")) {
                st.setString(1, o.id());
                st.setString(2, o.parentId());
                st.setString(3, o.refId());
                st.setLong(4, o.sortKey());
                st.setString(5, o.status());
                st.setString(6, Json.write(o.body()));
                st.setString(7, o.internal() == null ? null : Json.write(o.internal()));
                return st.executeUpdate();
            }
        });
    }

    @Override
    public boolean update(StoredObject o) {
        return pool.with(c -> {
            try (var st = c.prepareStatement("UPDATE " + table + " SET status = ?, body = ?, internal = ?, ref_id = ? WHERE id = ?")) {
                st.setString(1, o.status());
                st.setString(2, Json.write(o.body()));
                st.setString(3, o.internal() == null ? null : Json.write(o.internal()));
                st.setString(4, o.refId());
                st.setString(5, o.id());
                return st.executeUpdate() == 1;
            }
        });
    }

    @Override
    public Optional<StoredObject> get(String id) {
        return pool.with(c -> {
            try (var st = c.prepareStatement("SELECT " + COLUMNS + " FROM " + table + " WHERE id = ?")) {
                st.setString(1, id);
                var rows = rows(st);
                return rows.isEmpty() ? Optional.<StoredObject>empty() : Optional.of(rows.getFirst());
            }
        });
    }

    @Override
    public boolean delete(String id) {
        return pool.with(c -> {
            try (var st = c.prepareStatement("DELETE FROM " + table + " WHERE id = ?")) {
                st.setString(1, id);
                return st.executeUpdate() == 1;
            }
        });
    }

    @Override
    public int deleteByParent(String parentId) {
        return pool.with(c -> {
            try (var st = c.prepareStatement("DELETE FROM " + table + " WHERE parent_id = ?")) {
                st.setString(1, parentId);
                return st.executeUpdate();
            }
        });
    }

    @Override
    public Page list(String parentId, String refId, PageRequest page) {
        return pool.with(c -> {
            Long afterKey = null;
            Long beforeKey = null;
            if (page.after() != null) {
                afterKey = sortKeyOf(c, page.after());
                if (afterKey == null) return new Page(List.of(), false);
            }
            if (page.before() != null) {
                beforeKey = sortKeyOf(c, page.before());
                if (beforeKey == null) return new Page(List.of(), false);
            }
            var sql = new StringBuilder("SELECT " + COLUMNS + " FROM " + table + " WHERE 1 = 1");
            var args = new ArrayList<Object>();
            if (parentId != null) {
                sql.append(" AND parent_id = ?");
                args.add(parentId);
            }
            if (refId != null) {
                sql.append(" AND ref_id = ?");
                args.add(refId);
            }
            boolean asc = page.ascending();
            if (afterKey != null) {
                sql.append(asc ? " AND sort_key > ?" : " AND sort_key < ?");
                args.add(afterKey);
            }
            if (beforeKey != null) {
                sql.append(asc ? " AND sort_key < ?" : " AND sort_key > ?");
                args.add(beforeKey);
            }
            // With only "before", the page is the one just before the cursor: read towards it, then flip.
            boolean backwards = beforeKey != null && afterKey == null;
            boolean sqlAscending = backwards != asc;
            sql.append(" ORDER BY sort_key ").append(sqlAscending ? "ASC" : "DESC").append(" LIMIT ?");
            args.add(page.limit() + 1);
            try (var st = c.prepareStatement(sql.toString())) {
                bind(st, args);
                var rows = rows(st);
                boolean more = rows.size() > page.limit();
                if (more) rows = new ArrayList<>(rows.subList(0, page.limit()));
                if (backwards) Collections.reverse(rows);
                return new Page(rows, more);
            }
        });
    }

    @Override
    public List<StoredObject> all(String parentId) {
        return pool.with(c -> {
            try (var st = c.prepareStatement("SELECT " + COLUMNS + " FROM " + table + " WHERE parent_id = ? ORDER BY sort_key ASC")) {
                st.setString(1, parentId);
                return rows(st);
            }
        });
    }

    @Override
    public List<StoredObject> withStatus(Collection<String> statuses) {
        if (statuses.isEmpty()) return List.of();
        return pool.with(c -> {
            var marks = String.join(", ", Collections.nCopies(statuses.size(), "?"));
            try (var st = c.prepareStatement("SELECT " + COLUMNS + " FROM " + table + " WHERE status IN (" + marks + ") ORDER BY sort_key ASC")) {
                bind(st, new ArrayList<>(statuses));
                return rows(st);
            }
        });
    }

    private Long sortKeyOf(java.sql.Connection c, String id) throws SQLException {
        try (var st = c.prepareStatement("SELECT sort_key FROM " + table + " WHERE id = ?")) {
            st.setString(1, id);
            try (var rs = st.executeQuery()) {
                return rs.next() ? rs.getLong(1) : null;
            }
        }
    }

    private static void bind(PreparedStatement st, List<Object> args) throws SQLException {
        for (int i = 0; i < args.size(); i++) {
            var a = args.get(i);
            if (a instanceof Long l) st.setLong(i + 1, l);
            else if (a instanceof Integer n) st.setInt(i + 1, n);
            else st.setString(i + 1, (String) a);
        }
    }

    private static List<StoredObject> rows(PreparedStatement st) throws SQLException {
        var out = new ArrayList<StoredObject>();
        try (ResultSet rs = st.executeQuery()) {
            while (rs.next()) {
                var internal = rs.getString(7);
                out.add(new StoredObject(rs.getString(1), rs.getString(2), rs.getString(3), rs.getLong(4), rs.getString(5),
                        (ObjectNode) Json.parse(rs.getString(6)), internal == null ? Json.object() : (ObjectNode) Json.parse(internal)));
            }
        }
        return out;
    }
}
