-- Emergency drills (应急演练): each run of a plan, its incident, its end and its evaluation.
CREATE TABLE drill_runs (
    id             INTEGER PRIMARY KEY,
    plan           TEXT   NOT NULL,
    -- announced, running, paused, stopped, finished
    status         TEXT   NOT NULL,
    incident_id    INTEGER REFERENCES incidents (id),
    started_by     TEXT   NOT NULL,
    announced_at   INTEGER NOT NULL,
    starts_at      INTEGER NOT NULL,
    ended_at       INTEGER,
    evaluation     TEXT,
    -- The report was posted to the plan's channels.
    reported_at    INTEGER,
    UNIQUE (plan, starts_at)
);
CREATE INDEX drill_runs_status ON drill_runs (status);
