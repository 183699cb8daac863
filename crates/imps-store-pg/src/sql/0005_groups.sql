-- Groups (BASE-GRP), private group conversations (PGC-*) and invitations
-- (BASE-INV); SQLite step 5. Everything about a group goes with it
-- (ON DELETE CASCADE). Not called `groups`: GROUPS is an SQL keyword.

CREATE TABLE chat_groups (
    id               TEXT COLLATE "C" PRIMARY KEY,
    owner            TEXT COLLATE "C" NOT NULL,
    private          BOOLEAN NOT NULL,
    welcome_type     TEXT,
    welcome_encoding TEXT,
    welcome_data     TEXT,
    created_ms       BIGINT NOT NULL
);
CREATE INDEX chat_groups_by_owner ON chat_groups (owner);

CREATE TABLE group_props (
    group_id TEXT COLLATE "C" NOT NULL REFERENCES chat_groups (id) ON DELETE CASCADE,
    name     TEXT COLLATE "C" NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (group_id, name)
);

CREATE TABLE group_members (
    group_id TEXT COLLATE "C" NOT NULL REFERENCES chat_groups (id) ON DELETE CASCADE,
    user_id  TEXT COLLATE "C" NOT NULL,
    access   TEXT NOT NULL CHECK (access IN ('Admin', 'Mod', 'User')),
    PRIMARY KEY (group_id, user_id)
);

-- sname_key: the lower-case screen name, unique per group. seq keeps join
-- order among rows of the same joined_ms (SQLite's rowid).
CREATE TABLE group_joined (
    group_id   TEXT COLLATE "C" NOT NULL REFERENCES chat_groups (id) ON DELETE CASCADE,
    user_id    TEXT COLLATE "C" NOT NULL,
    sname      TEXT NOT NULL,
    sname_key  TEXT NOT NULL,
    session_id TEXT COLLATE "C" NOT NULL,
    subscribed BOOLEAN NOT NULL,
    show_id    BOOLEAN NOT NULL,
    joined_ms  BIGINT NOT NULL,
    seq        BIGINT GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (group_id, user_id),
    UNIQUE (group_id, sname_key)
);
CREATE INDEX group_joined_by_session ON group_joined (session_id);
-- Groups a user is joined to (the Joined search field).
CREATE INDEX group_joined_by_user ON group_joined (user_id, group_id);

CREATE TABLE group_rejects (
    group_id TEXT COLLATE "C" NOT NULL REFERENCES chat_groups (id) ON DELETE CASCADE,
    user_id  TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (group_id, user_id)
);

-- kind: 'I' invited to a private group, 'R' may rejoin after dropping
-- out. until_ms NULL: until used or the group goes.
CREATE TABLE group_passes (
    group_id TEXT COLLATE "C" NOT NULL REFERENCES chat_groups (id) ON DELETE CASCADE,
    user_id  TEXT COLLATE "C" NOT NULL,
    kind     TEXT NOT NULL CHECK (kind IN ('I', 'R')),
    until_ms BIGINT,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_passes_expiry ON group_passes (until_ms) WHERE until_ms IS NOT NULL;

-- urls: the shared-content URLs, one per line.
CREATE TABLE invites (
    invite_id  TEXT COLLATE "C" NOT NULL,
    invitee    TEXT COLLATE "C" NOT NULL,
    inviter    TEXT COLLATE "C" NOT NULL,
    kind       TEXT NOT NULL,
    group_id   TEXT COLLATE "C" REFERENCES chat_groups (id) ON DELETE CASCADE,
    note       TEXT,
    sname      TEXT,
    urls       TEXT NOT NULL DEFAULT '',
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT,
    delivered  BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (invite_id, invitee)
);
CREATE INDEX invites_by_inviter ON invites (inviter, invite_id);
CREATE INDEX invites_by_invitee ON invites (invitee, delivered);
