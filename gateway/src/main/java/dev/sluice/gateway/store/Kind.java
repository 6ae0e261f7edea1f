package dev.sluice.gateway.store;

/** The kinds of stored Assistants objects, each in its own table. */
public enum Kind {
    ASSISTANT("assistants"),
    THREAD("threads"),
    MESSAGE("messages"),
    RUN("runs"),
    STEP("run_steps");

    private final String table;

    Kind(String table) {
        this.table = table;
    }

    public String table() {
        return table;
    }
}
