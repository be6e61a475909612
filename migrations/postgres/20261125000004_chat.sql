-- Chat (IM): updates taken from providers before they are answered, the bot's messages that
-- concern incidents (cards edited in place, replies that can be replied to), bound accounts,
-- binding codes, guided reports in progress, chats that moved or went away, leases and
-- attachments.

-- Every update is committed here before the provider hears 200 (webhook) or the polling offset
-- moves past it; a worker then handles it. (provider, update_id) makes taking it idempotent.
CREATE TABLE chat_inbox (
    id             BIGSERIAL PRIMARY KEY,
    provider       TEXT    NOT NULL,
    update_id      BIGINT  NOT NULL,
    body           TEXT    NOT NULL,
    received_at    BIGINT  NOT NULL,
    claimed_by     TEXT,
    claimed_until  BIGINT,
    attempts       INTEGER NOT NULL DEFAULT 0,
    done_at        BIGINT,
    error          TEXT,
    UNIQUE (provider, update_id)
);
CREATE INDEX chat_inbox_pending ON chat_inbox (done_at, id);

-- Where long polling resumes (the next update id to ask for), per provider.
CREATE TABLE chat_cursors (
    provider     TEXT   PRIMARY KEY,
    next_update  BIGINT NOT NULL
);

-- The bot's messages about incidents: a channel's card (kind 'card'), a reply, a page.
CREATE TABLE chat_messages (
    provider     TEXT   NOT NULL,
    chat         TEXT   NOT NULL,
    message_id   TEXT   NOT NULL,
    incident_id  BIGINT NOT NULL REFERENCES incidents (id),
    kind         TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (provider, chat, message_id)
);
CREATE INDEX chat_messages_incident ON chat_messages (provider, chat, incident_id, kind);

CREATE TABLE im_bindings (
    provider   TEXT   NOT NULL,
    user_id    TEXT   NOT NULL,
    person     TEXT   NOT NULL,
    username   TEXT,
    bound_at   BIGINT NOT NULL,
    PRIMARY KEY (provider, user_id)
);

-- One-time binding codes; only a hash of each code is kept.
CREATE TABLE bind_codes (
    code_hash   TEXT   PRIMARY KEY,
    person      TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    used_by     TEXT
);

-- A guided report (引导报障) waiting for the reporter's answers.
CREATE TABLE chat_sessions (
    provider    TEXT   NOT NULL,
    chat        TEXT   NOT NULL,
    user_id     TEXT   NOT NULL,
    state       TEXT   NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (provider, chat, user_id)
);

-- Chats that moved (a group upgraded to a supergroup) or cannot be reached any more.
CREATE TABLE im_chats (
    provider     TEXT   NOT NULL,
    chat         TEXT   NOT NULL,
    moved_to     TEXT,
    gone_at      BIGINT,
    gone_reason  TEXT,
    PRIMARY KEY (provider, chat)
);

-- Who holds a job only one instance may do (long polling a provider), until when.
CREATE TABLE leases (
    name    TEXT   PRIMARY KEY,
    holder  TEXT   NOT NULL,
    until   BIGINT NOT NULL
);

-- Files that came with reports (a photo of the error screen).
CREATE TABLE attachments (
    id           BIGSERIAL PRIMARY KEY,
    incident_id  BIGINT NOT NULL REFERENCES incidents (id),
    name         TEXT   NOT NULL,
    mime         TEXT,
    size         BIGINT NOT NULL,
    data         BYTEA  NOT NULL,
    source       TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    UNIQUE (incident_id, source)
);
