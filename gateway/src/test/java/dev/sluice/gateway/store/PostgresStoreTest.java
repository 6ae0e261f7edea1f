package dev.sluice.gateway.store;

import org.junit.jupiter.api.BeforeAll;

/**
 * The same contract on a real PostgreSQL server: {@code SLUICE_TEST_PG_URL} (system property or environment,
 * e.g. from {@code scripts/postgres.sh}). Without it the tests are skipped locally and fail in CI.
 */
class PostgresStoreTest extends StoreContract {

    @BeforeAll
    static void requireServer() {
        TestPostgres.require();
    }

    @Override
    protected Store open() {
        return TestPostgres.open();
    }
}
