-- Groups (BASE-GRP), private group conversations (PGC-*), invitations
-- (BASE-INV) and birth dates for minimum-age groups (PPR-9/10). Group IDs
-- are canonical `wv:owner/name@domain`, lower case; users are canonical
-- local IDs. Everything about a group goes with it (ON DELETE CASCADE).
-- The table is not called `groups`: GROUPS is an SQL keyword.

CREATE TABLE chat_groups (
    id               TEXT PRIMARY KEY,
    owner            TEXT NOT NULL,
    private          INTEGER NOT NULL,
    welcome_type     TEXT,
    welcome_encoding TEXT,
    welcome_data     TEXT,
    created_ms       INTEGER NOT NULL
);

CREATE TABLE group_props (
    group_id TEXT NOT NULL REFERENCES chat_groups (id) ON DELETE CASCADE,
    name     TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (group_id, name)
);

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES chat_groups (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL,
    access   TEXT NOT NULL CHECK (access IN ('Admin', 'Mod', 'User')),
    PRIMARY KEY (group_id, user_id)
);

-- One row per joined user, with the session it joined from. sname_key is
-- the lower-case screen name: unique per group, ignoring case.
CREATE TABLE group_joined (
    group_id   TEXT NOT NULL REFERENCES chat_groups (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL,
    sname      TEXT NOT NULL,
    sname_key  TEXT NOT NULL,
    session_id TEXT NOT NULL,
    subscribed INTEGER NOT NULL,
    show_id    INTEGER NOT NULL,
    joined_ms  INTEGER NOT NULL,
    PRIMARY KEY (group_id, user_id),
    UNIQUE (group_id, sname_key)
);
-- A session's end drops its user from every group it joined.
CREATE INDEX group_joined_by_session ON group_joined (session_id);

CREATE TABLE group_rejects (
    group_id TEXT NOT NULL REFERENCES chat_groups (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);

-- kind: 'I' invited to a private group, 'R' may rejoin after dropping
-- out. until_ms NULL: until used or the group goes.
CREATE TABLE group_passes (
    group_id TEXT NOT NULL REFERENCES chat_groups (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL,
    kind     TEXT NOT NULL CHECK (kind IN ('I', 'R')),
    until_ms INTEGER,
    PRIMARY KEY (group_id, user_id)
);

-- urls: the shared-content URLs, one per line.
CREATE TABLE invites (
    invite_id  TEXT NOT NULL,
    invitee    TEXT NOT NULL,
    inviter    TEXT NOT NULL,
    kind       TEXT NOT NULL,
    group_id   TEXT REFERENCES chat_groups (id) ON DELETE CASCADE,
    note       TEXT,
    sname      TEXT,
    urls       TEXT NOT NULL DEFAULT '',
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER,
    delivered  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (invite_id, invitee)
);
CREATE INDEX invites_by_inviter ON invites (inviter, invite_id);
CREATE INDEX invites_by_invitee ON invites (invitee, delivered);

CREATE TABLE user_birth (
    user_id TEXT PRIMARY KEY,
    year    INTEGER NOT NULL,
    month   INTEGER NOT NULL CHECK (month BETWEEN 1 AND 12)
);
