-- Federation throughput (issue 17). `ssp_peer_depth` holds how many rows
-- of `ssp_queue` wait for each peer, kept by triggers, so that the bound
-- checked at each put, the counts of /metrics and the choice of due peers
-- at each claim read one row per peer instead of counting the queue (a
-- cost that grew with the queue's length). `ssp_handled` remembers the
-- peers' Request transactions already carried out, for a bounded time
-- (`federation.handled_keep_secs`), so that a batch sent again (its
-- answer was lost) is answered without being done twice.
CREATE TABLE ssp_peer_depth (
    peer TEXT    PRIMARY KEY,
    n    INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO ssp_peer_depth (peer, n) SELECT peer, COUNT(*) FROM ssp_queue GROUP BY peer;
CREATE TRIGGER ssp_queue_depth_up AFTER INSERT ON ssp_queue BEGIN
    INSERT INTO ssp_peer_depth (peer, n) VALUES (NEW.peer, 1)
        ON CONFLICT (peer) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER ssp_queue_depth_down AFTER DELETE ON ssp_queue BEGIN
    UPDATE ssp_peer_depth SET n = n - 1 WHERE peer = OLD.peer;
END;
CREATE TABLE ssp_handled (
    peer           TEXT    NOT NULL,
    transaction_id TEXT    NOT NULL,
    handled_ms     INTEGER NOT NULL,
    PRIMARY KEY (peer, transaction_id)
) WITHOUT ROWID;
CREATE INDEX ssp_handled_age ON ssp_handled (handled_ms);
