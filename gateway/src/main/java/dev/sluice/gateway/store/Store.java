package dev.sluice.gateway.store;

/**
 * Durable storage of the Assistants API: objects by kind and the run event log. Implementations are
 * thread-safe; {@link JdbcStore} serves SQLite and PostgreSQL.
 */
public interface Store extends AutoCloseable {

    ObjectRepository objects(Kind kind);

    RunEventRepository runEvents();

    /** A short description for logs ({@code sqlite /path/sluice.db}); never includes a password. */
    String describe();

    @Override
    void close();
}
