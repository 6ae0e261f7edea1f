package dev.sluice.gateway.store;

import dev.sluice.gateway.config.GatewayConfig.Storage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Properties;
import java.util.concurrent.ThreadLocalRandom;
import org.flywaydb.core.Flyway;

/**
 * Opens the configured store: creates the SQLite file (and its directory) or connects to PostgreSQL, then
 * brings the schema up to date with Flyway migrations from {@code dev/sluice/gateway/store/migration/<db>}.
 */
public final class Stores {

    private static final int POSTGRES_POOL_SIZE = 8;

    private Stores() {}

    public static Store open(Storage storage) {
        return switch (storage.type()) {
            case "sqlite" -> sqlite(Path.of(storage.path()));
            case "postgres" -> postgres(storage.url(), storage.user(), storage.password());
            case "memory" -> memory();
            default -> throw new IllegalArgumentException("unknown storage type " + storage.type());
        };
    }

    /** One SQLite file, in WAL mode: readers never block the writer, and a killed process loses nothing committed. */
    public static Store sqlite(Path file) {
        var absolute = file.toAbsolutePath().normalize();
        try {
            if (absolute.getParent() != null) Files.createDirectories(absolute.getParent());
        } catch (IOException e) {
            throw new StoreException("cannot create the directory of " + absolute + ": " + e.getMessage(), e);
        }
        var url = "jdbc:sqlite:" + absolute;
        migrate(url, null, null, "sqlite");
        var pool = new ConnectionPool(() -> openSqlite(url), 1);
        pool.with(c -> null); // connect now (and switch to WAL), so a bad path fails at startup
        return new JdbcStore(pool, "sqlite " + absolute, null);
    }

    /** SQLite in memory (shared cache, kept alive by an anchor connection): nothing survives the process. */
    public static Store memory() {
        var url = "jdbc:sqlite:file:sluice-" + Long.toHexString(ThreadLocalRandom.current().nextLong()) + "?mode=memory&cache=shared";
        Connection anchor;
        try {
            anchor = DriverManager.getConnection(url);
        } catch (SQLException e) {
            throw new StoreException("cannot open an in-memory SQLite database: " + e.getMessage(), e);
        }
        migrate(url, null, null, "sqlite");
        var pool = new ConnectionPool(() -> openSqlite(url), 1);
        return new JdbcStore(pool, "sqlite in memory", anchor);
    }

    public static Store postgres(String url, String user, String password) {
        migrate(url, user, password, "postgresql");
        var props = new Properties();
        if (user != null) props.setProperty("user", user);
        if (password != null) props.setProperty("password", password);
        var pool = new ConnectionPool(() -> DriverManager.getConnection(url, props), POSTGRES_POOL_SIZE);
        pool.with(c -> null);
        return new JdbcStore(pool, "postgres " + url, null);
    }

    private static Connection openSqlite(String url) throws SQLException {
        var c = DriverManager.getConnection(url);
        try (var st = c.createStatement()) {
            st.execute("PRAGMA journal_mode=WAL");
            // NORMAL in WAL mode: a killed process loses nothing committed (only a power cut could lose the last commits).
            st.execute("PRAGMA synchronous=NORMAL");
            st.execute("PRAGMA busy_timeout=10000");
        }
        return c;
    }

    private static void migrate(String url, String user, String password, String dialect) {
        try {
            Flyway.configure(Stores.class.getClassLoader())
                    .dataSource(url, user, password)
                    .locations("classpath:dev/sluice/gateway/store/migration/" + dialect)
                    .table("sluice_schema_history")
                    .load()
                    .migrate();
        } catch (RuntimeException e) {
            throw new StoreException("cannot migrate the " + dialect + " database: " + e.getMessage(), e);
        }
    }
}
