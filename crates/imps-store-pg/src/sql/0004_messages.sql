-- Instant messages (BASE-IM, IMR-*); SQLite steps 4 and 7. A message is
-- stored once; each recipient user has a queue entry until their client
-- acknowledged it.
CREATE TABLE im_messages (
    id              TEXT COLLATE "C" PRIMARY KEY,
    sender          TEXT COLLATE "C" NOT NULL,
    sender_name     TEXT,
    delivery_report BOOLEAN NOT NULL,
    created_ms      BIGINT NOT NULL,
    expires_ms      BIGINT,
    content_type    TEXT NOT NULL,
    encoding        TEXT,
    size            BIGINT NOT NULL,
    name            TEXT,
    font_size       TEXT,
    font_styles     TEXT,
    font_color      TEXT,
    data            TEXT NOT NULL
);
-- seq comes from a sequence, so it only grows. A sequence hands numbers
-- out at insert, not at commit: the store takes the recipient's queue
-- lock (rows.rs, LockArea::Queue) before inserting, so that one
-- recipient's entries commit in seq order and a reader that has seen seq
-- n never later finds a new entry below it. bytes: the content bytes the
-- entry counts against the recipient's quota.
CREATE TABLE im_queue (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recipient     TEXT COLLATE "C" NOT NULL,
    msg_id        TEXT COLLATE "C" NOT NULL REFERENCES im_messages (id),
    target_client TEXT,
    bytes         BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX im_queue_by_recipient ON im_queue (recipient, seq);
CREATE INDEX im_queue_by_message ON im_queue (msg_id);
CREATE INDEX im_messages_expiry ON im_messages (expires_ms) WHERE expires_ms IS NOT NULL;
-- The sender's own MessageID of recent sends, to recognise a retry.
CREATE TABLE im_send_refs (
    sender     TEXT COLLATE "C" NOT NULL,
    client_ref TEXT COLLATE "C" NOT NULL,
    msg_id     TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (sender, client_ref)
);
CREATE INDEX im_send_refs_age ON im_send_refs (created_ms);
