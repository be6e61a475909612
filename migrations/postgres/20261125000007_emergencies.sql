-- Emergency plans (应急预案) activated for incidents, and their checklist steps as done.
CREATE TABLE emergencies (
    id             BIGSERIAL PRIMARY KEY,
    plan           TEXT   NOT NULL,
    incident_id    BIGINT NOT NULL REFERENCES incidents (id),
    -- offered, active, ended
    status         TEXT   NOT NULL,
    activated_by   TEXT,
    activated_at   BIGINT,
    ended_at       BIGINT,
    evaluation     TEXT,
    created_at     BIGINT NOT NULL,
    UNIQUE (incident_id, plan)
);

CREATE TABLE emergency_steps (
    emergency_id   BIGINT  NOT NULL REFERENCES emergencies (id),
    step           INTEGER NOT NULL,
    done_by        TEXT    NOT NULL,
    done_at        BIGINT  NOT NULL,
    PRIMARY KEY (emergency_id, step)
);
