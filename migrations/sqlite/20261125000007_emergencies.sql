-- Emergency plans (应急预案) activated for incidents, and their checklist steps as done.
CREATE TABLE emergencies (
    id             INTEGER PRIMARY KEY,
    plan           TEXT   NOT NULL,
    incident_id    INTEGER NOT NULL REFERENCES incidents (id),
    -- offered, active, ended
    status         TEXT   NOT NULL,
    activated_by   TEXT,
    activated_at   INTEGER,
    ended_at       INTEGER,
    evaluation     TEXT,
    created_at     INTEGER NOT NULL,
    UNIQUE (incident_id, plan)
);

CREATE TABLE emergency_steps (
    emergency_id   INTEGER  NOT NULL REFERENCES emergencies (id),
    step           INTEGER NOT NULL,
    done_by        TEXT    NOT NULL,
    done_at        INTEGER  NOT NULL,
    PRIMARY KEY (emergency_id, step)
);
