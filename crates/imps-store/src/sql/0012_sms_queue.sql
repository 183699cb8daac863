-- Short messages waiting for the SMSC (issue 20): SMS CIR wake-ups and
-- offline-message notifications. A row leaves when the SMSC accepted it.
-- `key` coalesces: one waiting wake-up per session.
CREATE TABLE sms_queue (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    key         TEXT UNIQUE,
    destination TEXT    NOT NULL,
    udh         INTEGER NOT NULL,
    binary_data INTEGER NOT NULL,
    payload     BLOB    NOT NULL,
    created_ms  INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_ms     INTEGER NOT NULL
);
CREATE INDEX sms_queue_due ON sms_queue (next_ms, id);
