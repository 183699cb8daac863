-- System messages (issue 15, SYM-*); SQLite step 9. See
-- `imps_core::SysmsgStore`.

CREATE TABLE sysmsgs (
    id                TEXT COLLATE "C" PRIMARY KEY,
    text              TEXT NOT NULL,
    requires_response BOOLEAN NOT NULL,
    everyone          BOOLEAN NOT NULL,
    origin            TEXT NOT NULL,
    created_ms        BIGINT NOT NULL
);
CREATE INDEX sysmsgs_to_everyone ON sysmsgs (created_ms, id) WHERE everyone;

-- The answers a message offers, in the order written (ordinal).
CREATE TABLE sysmsg_options (
    message_id TEXT COLLATE "C" NOT NULL REFERENCES sysmsgs (id) ON DELETE CASCADE,
    ordinal    BIGINT NOT NULL,
    option_id  BIGINT NOT NULL,
    text       TEXT NOT NULL,
    action     TEXT,
    PRIMARY KEY (message_id, ordinal)
);

-- sent_count = 0 is "not sent yet"; answered_ms NULL while unanswered.
CREATE TABLE sysmsg_deliveries (
    message_id   TEXT COLLATE "C" NOT NULL REFERENCES sysmsgs (id) ON DELETE CASCADE,
    user_id      TEXT COLLATE "C" NOT NULL,
    sent_count   BIGINT NOT NULL DEFAULT 0,
    last_sent_ms BIGINT,
    answered_ms  BIGINT,
    chosen       BIGINT,
    PRIMARY KEY (message_id, user_id)
);
CREATE INDEX sysmsg_deliveries_by_user ON sysmsg_deliveries (user_id);

CREATE TABLE terms_agreements (
    user_id   TEXT COLLATE "C" PRIMARY KEY,
    version   TEXT NOT NULL,
    option_id BIGINT NOT NULL,
    agreed_ms BIGINT NOT NULL
);
