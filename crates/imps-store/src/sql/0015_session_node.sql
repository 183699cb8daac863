-- Which process holds the session when several share the store (issue
-- 18: the cluster's node name). NULL: a process alone. When a node dies,
-- a surviving node takes its rows (DELETE ... RETURNING) and ends those
-- sessions for everybody.
ALTER TABLE sessions ADD COLUMN node TEXT;
CREATE INDEX sessions_by_node ON sessions (node);
