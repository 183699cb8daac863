-- SSP peer entries made at run time with `impsd peer add|remove`
-- (issue 17): they add to or override the config file's peer table;
-- removed keeps a removal across a restart.
CREATE TABLE federation_peers (
    domain  TEXT COLLATE "C" PRIMARY KEY,
    url     TEXT NOT NULL,
    sus     BOOLEAN NOT NULL,
    removed BOOLEAN NOT NULL
);
