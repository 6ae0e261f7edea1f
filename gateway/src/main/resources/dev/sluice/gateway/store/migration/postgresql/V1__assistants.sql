-- Assistants API objects. Each table keeps the API object as JSON text (body) plus the columns that lists
-- and recovery query; internal holds Sluice's bookkeeping that is not part of the object.
CREATE TABLE assistants (
    id        TEXT PRIMARY KEY,
    parent_id TEXT,
    ref_id    TEXT,
    sort_key  BIGINT NOT NULL,
    status    TEXT,
    body      TEXT NOT NULL,
    internal  TEXT
);
CREATE INDEX assistants_order ON assistants (sort_key);

CREATE TABLE threads (
    id        TEXT PRIMARY KEY,
    parent_id TEXT,
    ref_id    TEXT,
    sort_key  BIGINT NOT NULL,
    status    TEXT,
    body      TEXT NOT NULL,
    internal  TEXT
);
CREATE INDEX threads_order ON threads (sort_key);

CREATE TABLE messages (
    id        TEXT PRIMARY KEY,
    parent_id TEXT,
    ref_id    TEXT,
    sort_key  BIGINT NOT NULL,
    status    TEXT,
    body      TEXT NOT NULL,
    internal  TEXT
);
CREATE INDEX messages_by_thread ON messages (parent_id, sort_key);

CREATE TABLE runs (
    id        TEXT PRIMARY KEY,
    parent_id TEXT,
    ref_id    TEXT,
    sort_key  BIGINT NOT NULL,
    status    TEXT,
    body      TEXT NOT NULL,
    internal  TEXT
);
CREATE INDEX runs_by_thread ON runs (parent_id, sort_key);
CREATE INDEX runs_by_status ON runs (status);

CREATE TABLE run_steps (
    id        TEXT PRIMARY KEY,
    parent_id TEXT,
    ref_id    TEXT,
    sort_key  BIGINT NOT NULL,
    status    TEXT,
    body      TEXT NOT NULL,
    internal  TEXT
);
CREATE INDEX run_steps_by_run ON run_steps (parent_id, sort_key);
CREATE INDEX run_steps_by_status ON run_steps (status);

-- The append-only event log of every run: what each SSE subscriber replays, in seq order.
CREATE TABLE run_events (
    run_id     TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    event      TEXT NOT NULL,
    data       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
