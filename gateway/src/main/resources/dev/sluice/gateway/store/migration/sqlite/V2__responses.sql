-- Responses API objects, in the same layout as the Assistants tables. A response's streamed events go to
-- run_events under the response id, so background responses replay and resume like runs.
CREATE TABLE responses (
    id        TEXT PRIMARY KEY,
    parent_id TEXT,
    ref_id    TEXT,
    sort_key  BIGINT NOT NULL,
    status    TEXT,
    body      TEXT NOT NULL,
    internal  TEXT
);
CREATE INDEX responses_order ON responses (sort_key);
CREATE INDEX responses_by_status ON responses (status);

-- The input items of each response (parent_id), listed by GET /v1/responses/{id}/input_items.
CREATE TABLE response_items (
    id        TEXT PRIMARY KEY,
    parent_id TEXT,
    ref_id    TEXT,
    sort_key  BIGINT NOT NULL,
    status    TEXT,
    body      TEXT NOT NULL,
    internal  TEXT
);
CREATE INDEX response_items_by_response ON response_items (parent_id, sort_key);
