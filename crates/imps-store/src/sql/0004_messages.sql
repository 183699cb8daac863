-- Instant messages (BASE-IM, IMR-*). A message is stored once; each
-- recipient user has a queue entry until their client acknowledged it.
CREATE TABLE im_messages (
    id              TEXT PRIMARY KEY,
    sender          TEXT NOT NULL,
    sender_name     TEXT,
    delivery_report INTEGER NOT NULL,
    created_ms      INTEGER NOT NULL,
    expires_ms      INTEGER,
    content_type    TEXT NOT NULL,
    encoding        TEXT,
    size            INTEGER NOT NULL,
    name            TEXT,
    font_size       TEXT,
    font_styles     TEXT,
    font_color      TEXT,
    data            TEXT NOT NULL
);
-- seq only grows (AUTOINCREMENT never reuses a number), so it orders every
-- user's queue, and each sender's messages, by acceptance.
CREATE TABLE im_queue (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    recipient     TEXT NOT NULL,
    msg_id        TEXT NOT NULL REFERENCES im_messages (id),
    target_client TEXT
);
CREATE INDEX im_queue_by_recipient ON im_queue (recipient, seq);
CREATE INDEX im_queue_by_message ON im_queue (msg_id);
CREATE INDEX im_messages_expiry ON im_messages (expires_ms) WHERE expires_ms IS NOT NULL;
-- The sender's own MessageID of recent sends, to recognise a retry.
CREATE TABLE im_send_refs (
    sender     TEXT NOT NULL,
    client_ref TEXT NOT NULL,
    msg_id     TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (sender, client_ref)
);
CREATE INDEX im_send_refs_age ON im_send_refs (created_ms);
