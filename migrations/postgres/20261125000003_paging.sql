-- Paging (呼叫): the escalation state of each incident, every page as a row, and the uses of the
-- signed action links printed in pages.

ALTER TABLE incidents ADD COLUMN escalation TEXT;

CREATE TABLE pages (
    id           BIGSERIAL PRIMARY KEY,
    incident_id  BIGINT  NOT NULL REFERENCES incidents (id),
    -- Names the page within its incident (escalation run, tier, round, person, rule): the same
    -- step can never create a page twice.
    page_key     TEXT    NOT NULL,
    person       TEXT    NOT NULL,
    channel      TEXT    NOT NULL,
    reason       TEXT    NOT NULL,
    -- queued → sent → delivered → acknowledged, or failed, or cancelled (stopped before it went out).
    status       TEXT    NOT NULL,
    due_at       BIGINT  NOT NULL,
    created_at   BIGINT  NOT NULL,
    sent_at      BIGINT ,
    answered_at  BIGINT ,
    error        TEXT,
    UNIQUE (incident_id, page_key)
);
CREATE INDEX pages_incident ON pages (incident_id, status);
CREATE INDEX pages_person ON pages (person, created_at);

-- A signed action link works once per action: the first use is recorded here.
CREATE TABLE link_uses (
    page_id  BIGINT  NOT NULL,
    action   TEXT    NOT NULL,
    used_at  BIGINT  NOT NULL,
    PRIMARY KEY (page_id, action)
);

-- 静默: reports matching a silence open incidents without paging anyone, until it ends.
CREATE TABLE silences (
    id          BIGSERIAL PRIMARY KEY,
    matcher     TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    created_by  TEXT    NOT NULL,
    starts_at   BIGINT  NOT NULL,
    ends_at     BIGINT  NOT NULL,
    ended_at    BIGINT 
);
CREATE INDEX silences_ends_at ON silences (ends_at);

-- 告警风暴: the storm in progress, led by the incident that pages for all of it.
CREATE TABLE storms (
    lead_incident BIGINT PRIMARY KEY REFERENCES incidents (id),
    started_at    BIGINT NOT NULL,
    last_at       BIGINT NOT NULL,
    incidents     BIGINT NOT NULL
);
CREATE INDEX storms_last_at ON storms (last_at);
-- The incidents a storm holds (acknowledging the lead acknowledges them).
CREATE TABLE storm_members (
    lead_incident BIGINT NOT NULL REFERENCES incidents (id),
    incident      BIGINT NOT NULL REFERENCES incidents (id),
    PRIMARY KEY (lead_incident, incident)
);

-- 交接班: each schedule's shift changes that were announced (one row per change, so that several
-- instances announce each change once).
CREATE TABLE handovers (
    schedule    TEXT NOT NULL,
    at          BIGINT NOT NULL,
    posted_at   BIGINT NOT NULL,
    PRIMARY KEY (schedule, at)
);

-- 换班: shift swaps and covers recorded at runtime, with who asked and who approved; they are
-- merged over the configured schedules.
CREATE TABLE schedule_overrides (
    id            BIGSERIAL PRIMARY KEY,
    schedule      TEXT NOT NULL,
    person        TEXT NOT NULL,
    replaces      TEXT,
    starts_at     BIGINT NOT NULL,
    ends_at       BIGINT NOT NULL,
    requested_by  TEXT,
    approved_by   TEXT NOT NULL,
    reason        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    cancelled_at  BIGINT
);
CREATE INDEX schedule_overrides_ends_at ON schedule_overrides (ends_at);
