-- Each recipient's queue in two numbers (entries, and bytes as in
-- im_queue.bytes), kept by triggers, so that the offline quota check of
-- every stored message reads one row instead of summing the recipient's
-- whole queue (issue 19: with a backlog of a thousand per recipient that
-- sum was a third of the server's CPU, and made a server that fell
-- behind slower still). A row stays when its queue empties.
CREATE TABLE im_queue_totals (
    recipient TEXT PRIMARY KEY,
    n         INTEGER NOT NULL,
    bytes     INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO im_queue_totals (recipient, n, bytes)
    SELECT recipient, COUNT(*), COALESCE(SUM(bytes), 0) FROM im_queue GROUP BY recipient;
CREATE TRIGGER im_queue_totals_insert AFTER INSERT ON im_queue
BEGIN
    INSERT OR IGNORE INTO im_queue_totals (recipient, n, bytes) VALUES (NEW.recipient, 0, 0);
    UPDATE im_queue_totals SET n = n + 1, bytes = bytes + NEW.bytes
        WHERE recipient = NEW.recipient;
END;
CREATE TRIGGER im_queue_totals_delete AFTER DELETE ON im_queue
BEGIN
    UPDATE im_queue_totals SET n = n - 1, bytes = bytes - OLD.bytes
        WHERE recipient = OLD.recipient;
END;
CREATE TRIGGER im_queue_totals_update AFTER UPDATE OF recipient, bytes ON im_queue
BEGIN
    UPDATE im_queue_totals SET n = n - 1, bytes = bytes - OLD.bytes
        WHERE recipient = OLD.recipient;
    INSERT OR IGNORE INTO im_queue_totals (recipient, n, bytes) VALUES (NEW.recipient, 0, 0);
    UPDATE im_queue_totals SET n = n + 1, bytes = bytes + NEW.bytes
        WHERE recipient = NEW.recipient;
END;
