-- Email: which mails of which mailbox were taken (so each becomes work once across restarts, even
-- when the server forgets its flags), mails set aside as malformed, and the message ids that
-- thread replies to their tickets.

CREATE TABLE mail_seen (
    mailbox      TEXT   NOT NULL,
    uidvalidity  BIGINT NOT NULL,
    uid          BIGINT NOT NULL,
    message_id   TEXT,
    -- created, attached, comment, ignored (with why), quarantined
    outcome      TEXT   NOT NULL,
    incident_id  BIGINT REFERENCES incidents (id),
    at           BIGINT NOT NULL,
    PRIMARY KEY (mailbox, uidvalidity, uid)
);

CREATE TABLE mail_quarantine (
    id           BIGSERIAL PRIMARY KEY,
    mailbox      TEXT   NOT NULL,
    uidvalidity  BIGINT NOT NULL,
    uid          BIGINT NOT NULL,
    reason       TEXT   NOT NULL,
    raw          BYTEA  NOT NULL,
    received_at  BIGINT NOT NULL,
    UNIQUE (mailbox, uidvalidity, uid)
);

-- Message ids of mails about an incident, in and out: a reply's In-Reply-To/References find it.
CREATE TABLE mail_threads (
    message_id   TEXT   PRIMARY KEY,
    incident_id  BIGINT NOT NULL REFERENCES incidents (id),
    at           BIGINT NOT NULL
);
