-- zhiban schema, SQLite dialect. Instants are epoch milliseconds (UTC) in both backends.

CREATE TABLE incidents (
    id              INTEGER PRIMARY KEY,
    ticket          TEXT    NOT NULL UNIQUE,
    title           TEXT    NOT NULL,
    description     TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    severity        INTEGER NOT NULL CHECK (severity BETWEEN 1 AND 4),
    system_id       TEXT,
    unit_id         TEXT,
    source          TEXT    NOT NULL,
    dedup_key       TEXT    NOT NULL,
    assignee        TEXT,
    occurrences     INTEGER NOT NULL,
    -- Timeline entries recorded so far; the next entry's `seq` is event_count + 1.
    event_count     INTEGER NOT NULL DEFAULT 0,
    labels          TEXT    NOT NULL,
    link            TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    acknowledged_at INTEGER,
    resolved_at     INTEGER,
    -- The SLA clock (policy, deadlines, pauses, breaches) as JSON; NULL when no policy applies.
    sla             TEXT,
    closed_at       INTEGER
);
CREATE INDEX incidents_status_severity ON incidents (status, severity);
CREATE INDEX incidents_created_at ON incidents (created_at);

-- Which incident collects the reports of a fault right now (one row per live dedup key).
CREATE TABLE open_dedup (
    dedup_key   TEXT PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents (id)
);

-- Deliveries already taken, keyed by the sender's own ids, so re-deliveries change nothing.
CREATE TABLE intake_receipts (
    source        TEXT    NOT NULL,
    occurrence_id TEXT    NOT NULL,
    incident_id   INTEGER REFERENCES incidents (id),
    received_at   INTEGER NOT NULL,
    PRIMARY KEY (source, occurrence_id)
);

CREATE TABLE ticket_counters (
    day      TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL
);

CREATE TABLE timeline (
    id          INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    -- 1, 2, … per incident: names the entry in outbox idempotency keys.
    seq         INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    actor_kind  TEXT    NOT NULL,
    actor_id    TEXT,
    channel     TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    detail      TEXT    NOT NULL,
    UNIQUE (incident_id, seq)
);

CREATE TABLE timers (
    id          INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    kind        TEXT    NOT NULL,
    due_at      INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (incident_id, kind)
);
CREATE INDEX timers_due_at ON timers (due_at);

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    idempotency_key TEXT    NOT NULL UNIQUE,
    incident_id     INTEGER REFERENCES incidents (id),
    sink            TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claimed_by      TEXT,
    claimed_until   INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
