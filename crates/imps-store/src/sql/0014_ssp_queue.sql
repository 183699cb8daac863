-- Server-to-server transactions waiting for a peer domain (issue 17). A
-- row leaves when the peer's server took it (HTTP 2xx); `body` is the
-- primitive as SSP XML; `transaction_id` is set for a response (it
-- echoes the peer's request), a request goes out under the row's id.
CREATE TABLE ssp_queue (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    peer           TEXT    NOT NULL,
    response       INTEGER NOT NULL,
    transaction_id TEXT,
    body           BLOB    NOT NULL,
    created_ms     INTEGER NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    next_ms        INTEGER NOT NULL
);
CREATE INDEX ssp_queue_due ON ssp_queue (next_ms, id);
CREATE INDEX ssp_queue_peer ON ssp_queue (peer);
