package dev.sluice.gateway.store;

import java.util.EnumMap;
import java.util.Map;

/** The {@link Store} on a JDBC database (SQLite or PostgreSQL): one repository per table over a shared pool. */
final class JdbcStore implements Store {

    private final ConnectionPool pool;
    private final Map<Kind, ObjectRepository> objects = new EnumMap<>(Kind.class);
    private final RunEventRepository events;
    private final String description;
    private final AutoCloseable onClose;

    JdbcStore(ConnectionPool pool, String description, AutoCloseable onClose) {
        this.pool = pool;
        this.description = description;
        this.onClose = onClose;
        for (var kind : Kind.values()) objects.put(kind, new JdbcObjectRepository(pool, kind));
        this.events = new JdbcRunEventRepository(pool);
    }

    @Override
    public ObjectRepository objects(Kind kind) {
        return objects.get(kind);
    }

    @Override
    public RunEventRepository runEvents() {
        return events;
    }

    @Override
    public String describe() {
        return description;
    }

    @Override
    public void close() {
        pool.close();
        if (onClose != null) {
            try {
                onClose.close();
            } catch (Exception ignored) {
                // closing the anchor of an in-memory database
            }
        }
    }
}
