package dev.sluice.gateway.store;

import org.junit.jupiter.api.Assumptions;

/** Where the PostgreSQL tests find their server: {@code SLUICE_TEST_PG_URL}, a JDBC URL with user and password in it. */
public final class TestPostgres {

    private TestPostgres() {}

    public static String url() {
        var url = System.getProperty("SLUICE_TEST_PG_URL");
        if (url == null || url.isBlank()) url = System.getenv("SLUICE_TEST_PG_URL");
        return url == null || url.isBlank() ? null : url;
    }

    /** Skips the calling test when no server is configured, except in CI, where that is a failure. */
    public static void require() {
        if (url() != null) return;
        if ("true".equalsIgnoreCase(System.getenv("CI"))) {
            throw new AssertionError("SLUICE_TEST_PG_URL is not set: in CI the PostgreSQL tests must run (start a server with scripts/postgres.sh)");
        }
        Assumptions.abort("PostgreSQL tests skipped: set SLUICE_TEST_PG_URL (eval \"$(scripts/postgres.sh)\") to run them");
    }

    public static Store open() {
        return Stores.postgres(url(), null, null);
    }
}
