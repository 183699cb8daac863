-- Bytes of content each queue entry holds for its recipient, so that the
-- offline quota (messages and bytes per recipient) is summed from the
-- queue alone, without reading message bodies. Entries stored before
-- this column count zero bytes.
ALTER TABLE im_queue ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;
