-- Contact lists, block and grant lists (BASE-LIST, ADC-*). Owners and
-- members are canonical local user IDs; a list is keyed by its owner and
-- the lower-case resource part of its ID. Lists and members are listed in
-- rowid order, which is creation / insertion order.

CREATE TABLE contact_lists (
    owner        TEXT NOT NULL,
    name         TEXT NOT NULL,
    wire_id      TEXT NOT NULL,
    display_name TEXT,
    is_default   INTEGER NOT NULL DEFAULT 0,
    created_ms   INTEGER NOT NULL,
    PRIMARY KEY (owner, name)
);

CREATE TABLE contacts (
    owner     TEXT NOT NULL,
    list_name TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    nickname  TEXT,
    UNIQUE (owner, list_name, user_id)
);
-- has_contact (IM, IMR-8) asks "is X in any of Y's lists".
CREATE INDEX contacts_by_member ON contacts (owner, user_id);

-- kind: 'B' block list, 'G' grant list.
CREATE TABLE access_entries (
    owner   TEXT NOT NULL,
    kind    TEXT NOT NULL CHECK (kind IN ('B', 'G')),
    user_id TEXT NOT NULL,
    PRIMARY KEY (owner, kind, user_id)
);

-- One row per user who changed a default: the "in use" flags of the
-- block and grant lists, and the ADC-3 opt-out.
CREATE TABLE list_prefs (
    owner        TEXT PRIMARY KEY,
    block_in_use INTEGER NOT NULL,
    grant_in_use INTEGER NOT NULL,
    notify_added INTEGER NOT NULL
);
