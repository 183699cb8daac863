-- System messages (issue 15, SYM-*): what the operator or the server sent
-- to users, who was sent what and how many times, what each user answered,
-- and which version of the terms each user agreed to. See
-- `imps_core::SysmsgStore`. Users are canonical local IDs.

-- The functions a session's level of service withholds (SYM-11), as
-- space-separated names like presence attribute sets (names never contain
-- spaces). '' is full service, which is what sessions stored before this
-- step had, so a restart does not take anything away from them.
ALTER TABLE sessions ADD COLUMN withheld TEXT NOT NULL DEFAULT '';

-- One row per message. everyone = 1: addressed to every user, present and
-- future, who gets a delivery row only once sent it or answering it;
-- otherwise the delivery rows written with the message are its audience.
CREATE TABLE sysmsgs (
    id                TEXT PRIMARY KEY,
    text              TEXT NOT NULL,
    requires_response INTEGER NOT NULL,
    everyone          INTEGER NOT NULL,
    origin            TEXT NOT NULL,
    created_ms        INTEGER NOT NULL
);
-- At every login the store looks for messages to everyone the user has not
-- had yet; they are few among all messages, so keep them apart, oldest
-- first as they are sent.
CREATE INDEX sysmsgs_to_everyone ON sysmsgs (created_ms, id) WHERE everyone = 1;

-- The answers a message offers, in the order written (ordinal): the order
-- the client shows them in. action is the core's notation, NULL for a
-- plain answer; the store never reads it.
CREATE TABLE sysmsg_options (
    message_id TEXT NOT NULL REFERENCES sysmsgs (id) ON DELETE CASCADE,
    ordinal    INTEGER NOT NULL,
    option_id  INTEGER NOT NULL,
    text       TEXT NOT NULL,
    action     TEXT,
    PRIMARY KEY (message_id, ordinal)
);

-- One user's copy of a message: how many times it went out, and the
-- latest answer (answered_ms NULL while unanswered; chosen NULL when the
-- answer named no option). sent_count = 0 is "not sent yet".
CREATE TABLE sysmsg_deliveries (
    message_id   TEXT NOT NULL REFERENCES sysmsgs (id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL,
    sent_count   INTEGER NOT NULL DEFAULT 0,
    last_sent_ms INTEGER,
    answered_ms  INTEGER,
    chosen       INTEGER,
    PRIMARY KEY (message_id, user_id)
);
-- What is due at login is looked up by user.
CREATE INDEX sysmsg_deliveries_by_user ON sysmsg_deliveries (user_id);

-- The terms version each user last agreed to and the option that set
-- their level of service; a new agreement replaces the row.
CREATE TABLE terms_agreements (
    user_id   TEXT PRIMARY KEY,
    version   TEXT NOT NULL,
    option_id INTEGER NOT NULL,
    agreed_ms INTEGER NOT NULL
);
