-- Contact lists, block and grant lists (BASE-LIST, ADC-*); SQLite step 2.
-- SQLite lists lists and members in rowid order (creation / insertion);
-- here an identity column `seq` keeps that order. An upsert that finds
-- the row keeps its old seq, so a renamed member keeps its place.

CREATE TABLE contact_lists (
    owner        TEXT COLLATE "C" NOT NULL,
    name         TEXT COLLATE "C" NOT NULL,
    wire_id      TEXT NOT NULL,
    display_name TEXT,
    is_default   BOOLEAN NOT NULL DEFAULT FALSE,
    created_ms   BIGINT NOT NULL,
    seq          BIGINT GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (owner, name)
);

CREATE TABLE contacts (
    owner     TEXT COLLATE "C" NOT NULL,
    list_name TEXT COLLATE "C" NOT NULL,
    user_id   TEXT COLLATE "C" NOT NULL,
    nickname  TEXT,
    seq       BIGINT GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (owner, list_name, user_id)
);
-- is_contact asks "is X in any of Y's lists".
CREATE INDEX contacts_by_member ON contacts (owner, user_id);

-- kind: 'B' block list, 'G' grant list.
CREATE TABLE access_entries (
    owner   TEXT COLLATE "C" NOT NULL,
    kind    TEXT NOT NULL CHECK (kind IN ('B', 'G')),
    user_id TEXT COLLATE "C" NOT NULL,
    seq     BIGINT GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (owner, kind, user_id)
);

-- One row per user who changed a default.
CREATE TABLE list_prefs (
    owner        TEXT COLLATE "C" PRIMARY KEY,
    block_in_use BOOLEAN NOT NULL,
    grant_in_use BOOLEAN NOT NULL,
    notify_added BOOLEAN NOT NULL
);
