package dev.sluice.gateway.responses;

import dev.sluice.gateway.store.TestPostgres;
import java.nio.file.Path;
import java.sql.DriverManager;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;

/**
 * The same Responses suite on PostgreSQL ({@code SLUICE_TEST_PG_URL}, e.g. from {@code scripts/postgres.sh}):
 * storage, {@code previous_response_id} chains and the event log's replay and resume. The gateway gets a
 * schema of its own, so its startup recovery (which fails responses left in flight) never touches another
 * test's rows on the shared server, and the schema is dropped afterwards.
 */
class ResponsesPostgresTest extends ResponsesContract {

    private final String schema = "sluice_responses_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);

    @Override
    protected String storage(Path dir) throws Exception {
        TestPostgres.require();
        try (var c = DriverManager.getConnection(TestPostgres.url()); var st = c.createStatement()) {
            st.execute("CREATE SCHEMA " + schema);
        }
        var url = TestPostgres.url() + (TestPostgres.url().contains("?") ? "&" : "?") + "currentSchema=" + schema;
        return "{type: postgres, url: '" + url + "'}";
    }

    @AfterAll
    void dropSchema() throws Exception {
        if (TestPostgres.url() == null) return;
        stop(); // the gateway's connections first
        try (var c = DriverManager.getConnection(TestPostgres.url()); var st = c.createStatement()) {
            st.execute("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
        }
    }
}
