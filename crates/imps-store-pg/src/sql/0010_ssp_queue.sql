-- Server-to-server transactions waiting for a peer domain (issue 17), as
-- in SQLite's 0014_ssp_queue.sql: a row leaves when the peer took it.
CREATE TABLE ssp_queue (
    id             BIGSERIAL PRIMARY KEY,
    peer           TEXT COLLATE "C" NOT NULL,
    response       BOOLEAN NOT NULL,
    transaction_id TEXT,
    body           BYTEA   NOT NULL,
    created_ms     BIGINT  NOT NULL,
    attempts       BIGINT  NOT NULL DEFAULT 0,
    next_ms        BIGINT  NOT NULL
);
CREATE INDEX ssp_queue_due ON ssp_queue (next_ms, id);
CREATE INDEX ssp_queue_peer ON ssp_queue (peer);
