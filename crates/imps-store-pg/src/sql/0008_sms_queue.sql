-- Short messages waiting for the SMSC (issue 20), as in SQLite's
-- 0012_sms_queue.sql: a row leaves when the SMSC accepted it; `key`
-- coalesces (one waiting wake-up per session).
CREATE TABLE sms_queue (
    id          BIGSERIAL PRIMARY KEY,
    key         TEXT COLLATE "C" UNIQUE,
    destination TEXT    NOT NULL,
    udh         BOOLEAN NOT NULL,
    binary_data BOOLEAN NOT NULL,
    payload     BYTEA   NOT NULL,
    created_ms  BIGINT  NOT NULL,
    attempts    BIGINT  NOT NULL DEFAULT 0,
    next_ms     BIGINT  NOT NULL
);
CREATE INDEX sms_queue_due ON sms_queue (next_ms, id);
