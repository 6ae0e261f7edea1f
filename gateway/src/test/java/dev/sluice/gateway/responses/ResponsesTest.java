package dev.sluice.gateway.responses;

import java.nio.file.Path;

/** The Responses API on the default store: one SQLite file. */
class ResponsesTest extends ResponsesContract {

    @Override
    protected String storage(Path dir) {
        return "{type: sqlite, path: '" + dir.resolve("sluice.db") + "'}";
    }
}
