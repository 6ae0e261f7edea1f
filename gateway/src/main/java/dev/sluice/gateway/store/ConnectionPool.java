package dev.sluice.gateway.store;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.Semaphore;

/**
 * A few reusable JDBC connections, at most {@code size} in use at once (callers wait for one). Small on
 * purpose instead of HikariCP: the store needs borrow/return, a cap and replacement of a broken connection,
 * nothing more. SQLite uses one connection (its writes are serialised anyway); PostgreSQL a handful.
 */
final class ConnectionPool implements AutoCloseable {

    @FunctionalInterface
    interface Opener {
        Connection open() throws SQLException;
    }

    @FunctionalInterface
    interface Work<T> {
        T apply(Connection connection) throws SQLException;
    }

    private final Opener opener;
    private final Semaphore permits;
    private final ConcurrentLinkedDeque<Connection> idle = new ConcurrentLinkedDeque<>();
    private volatile boolean closed;

    ConnectionPool(Opener opener, int size) {
        this.opener = opener;
        this.permits = new Semaphore(size, true);
    }

    <T> T with(Work<T> work) {
        if (closed) throw new StoreException("the store is closed", null);
        permits.acquireUninterruptibly();
        Connection connection = idle.pollFirst();
        try {
            if (connection == null || connection.isClosed()) connection = opener.open();
            T result = work.apply(connection);
            idle.addFirst(connection);
            connection = null;
            return result;
        } catch (SQLException e) {
            throw new StoreException("database error: " + e.getMessage(), e);
        } finally {
            // A connection that failed is dropped rather than handed to the next caller in an unknown state.
            if (connection != null) closeQuietly(connection);
            permits.release();
        }
    }

    @Override
    public void close() {
        closed = true;
        Connection c;
        while ((c = idle.pollFirst()) != null) closeQuietly(c);
    }

    private static void closeQuietly(Connection c) {
        try {
            c.close();
        } catch (SQLException ignored) {
            // nothing useful to do
        }
    }
}
