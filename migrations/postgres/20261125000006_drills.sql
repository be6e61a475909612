-- Emergency drills (应急演练): each run of a plan, its incident, its end and its evaluation.
CREATE TABLE drill_runs (
    id             BIGSERIAL PRIMARY KEY,
    plan           TEXT   NOT NULL,
    -- announced, running, paused, stopped, finished
    status         TEXT   NOT NULL,
    incident_id    BIGINT REFERENCES incidents (id),
    started_by     TEXT   NOT NULL,
    announced_at   BIGINT NOT NULL,
    starts_at      BIGINT NOT NULL,
    ended_at       BIGINT,
    evaluation     TEXT,
    -- The report was posted to the plan's channels.
    reported_at    BIGINT,
    UNIQUE (plan, starts_at)
);
CREATE INDEX drill_runs_status ON drill_runs (status);
