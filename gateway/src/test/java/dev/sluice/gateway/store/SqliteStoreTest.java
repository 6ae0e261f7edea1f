package dev.sluice.gateway.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SqliteStoreTest extends StoreContract {

    @TempDir
    Path dir;

    @Override
    protected Store open() {
        return Stores.sqlite(dir.resolve("data/sluice.db"));
    }

    @Test
    void createsTheFileInWalMode() throws Exception {
        assertThat(dir.resolve("data/sluice.db")).exists();
        try (var c = java.sql.DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("data/sluice.db"));
                var rs = c.createStatement().executeQuery("PRAGMA journal_mode")) {
            assertThat(rs.getString(1)).isEqualToIgnoringCase("wal");
        }
        assertThat(Files.list(dir.resolve("data")).map(p -> p.getFileName().toString())).contains("sluice.db");
    }
}
