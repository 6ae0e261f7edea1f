package dev.sluice.gateway.store;

/** The kinds of stored objects (Assistants and Responses), each in its own table. */
public enum Kind {
    ASSISTANT("assistants"),
    THREAD("threads"),
    MESSAGE("messages"),
    RUN("runs"),
    STEP("run_steps"),
    RESPONSE("responses"),
    RESPONSE_ITEM("response_items");

    private final String table;

    Kind(String table) {
        this.table = table;
    }

    public String table() {
        return table;
    }
}
