-- Drill plans edited through the API: the plan as written (the same keys as [[drills]]), over the
-- configured plan of the same id.
CREATE TABLE drill_plans (
    id          TEXT   PRIMARY KEY,
    body        TEXT   NOT NULL,
    updated_by  TEXT   NOT NULL,
    updated_at  BIGINT NOT NULL
);
