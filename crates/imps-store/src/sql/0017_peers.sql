-- SSP peer entries made at run time with `impsd peer add|remove`
-- (issue 17): they add to or override the config file's peer table;
-- removed = 1 keeps a removal across a restart.
CREATE TABLE federation_peers (
    domain  TEXT PRIMARY KEY NOT NULL,
    url     TEXT NOT NULL,
    sus     INTEGER NOT NULL,
    removed INTEGER NOT NULL
);
