-- Federation throughput (issue 17), as in SQLite's
-- 0018_ssp_depth_handled.sql: `ssp_peer_depth` holds how many rows of
-- `ssp_queue` wait for each peer, kept by triggers, so that a put's bound,
-- the counts of /metrics and a claim's choice of due peers read one row
-- per peer instead of counting the queue; `ssp_handled` remembers the
-- peers' Request transactions already carried out, for a bounded time,
-- so that a batch sent again is not done twice.
-- No writer may change the queue between the count below and the
-- triggers (a node of the previous version during a rolling upgrade):
-- a count left too low would keep a peer's rows from ever being claimed.
-- The migration's transaction holds this lock to its end.
LOCK TABLE ssp_queue IN SHARE ROW EXCLUSIVE MODE;
CREATE TABLE ssp_peer_depth (
    peer TEXT COLLATE "C" PRIMARY KEY,
    n    BIGINT NOT NULL
);
INSERT INTO ssp_peer_depth (peer, n) SELECT peer, COUNT(*) FROM ssp_queue GROUP BY peer;
CREATE FUNCTION ssp_queue_depth_up() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ssp_peer_depth (peer, n) VALUES (NEW.peer, 1)
        ON CONFLICT (peer) DO UPDATE SET n = ssp_peer_depth.n + 1;
    RETURN NULL;
END $$;
CREATE FUNCTION ssp_queue_depth_down() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE ssp_peer_depth SET n = n - 1 WHERE peer = OLD.peer;
    RETURN NULL;
END $$;
CREATE TRIGGER ssp_queue_depth_up AFTER INSERT ON ssp_queue
    FOR EACH ROW EXECUTE FUNCTION ssp_queue_depth_up();
CREATE TRIGGER ssp_queue_depth_down AFTER DELETE ON ssp_queue
    FOR EACH ROW EXECUTE FUNCTION ssp_queue_depth_down();
-- A peer's oldest row without sorting its rows.
CREATE INDEX ssp_queue_peer_id ON ssp_queue (peer, id);
CREATE TABLE ssp_handled (
    peer           TEXT COLLATE "C" NOT NULL,
    transaction_id TEXT COLLATE "C" NOT NULL,
    handled_ms     BIGINT NOT NULL,
    PRIMARY KEY (peer, transaction_id)
);
CREATE INDEX ssp_handled_age ON ssp_handled (handled_ms);
