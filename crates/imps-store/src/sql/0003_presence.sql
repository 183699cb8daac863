-- Presence (BASE-PRES, PRR-*). OnlineStatus is not stored: it follows
-- live sessions. Attribute sets are space-separated attribute names.

-- A user's own attributes: the XML of one PresenceSubList, written by the
-- core's codec. One row per user, so an update is one write.
CREATE TABLE presence_docs (
    user_id    TEXT PRIMARY KEY,
    doc        BLOB NOT NULL,
    updated_ms INTEGER NOT NULL
);

-- Proactive authorization (attribute lists). kind: 'D' default list
-- (subject ''), 'U' user, 'L' contact list.
CREATE TABLE presence_grants (
    owner   TEXT NOT NULL,
    kind    TEXT NOT NULL,
    subject TEXT NOT NULL,
    attrs   TEXT NOT NULL,
    PRIMARY KEY (owner, kind, subject)
);

-- Reactive authorization requests and their answers.
CREATE TABLE presence_reactive (
    owner      TEXT NOT NULL,
    watcher    TEXT NOT NULL,
    state      TEXT NOT NULL,
    attrs      TEXT,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (owner, watcher)
);

-- Subscriptions, current (active = 1) and former (0). attrs NULL = all.
CREATE TABLE presence_subscriptions (
    owner      TEXT NOT NULL,
    watcher    TEXT NOT NULL,
    attrs      TEXT,
    active     INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (owner, watcher)
);
CREATE INDEX presence_subscriptions_by_watcher ON presence_subscriptions (watcher);
