-- Which process holds the session (issue 18: the cluster's node name);
-- the logical schema of imps-store's SQLite step 15. NULL: a process
-- alone. When a node dies, a surviving node takes its rows (DELETE ...
-- RETURNING: each row to exactly one taker) and ends those sessions for
-- everybody.
ALTER TABLE sessions ADD COLUMN node TEXT COLLATE "C";
CREATE INDEX sessions_by_node ON sessions (node);
