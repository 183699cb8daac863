-- Presence (BASE-PRES, PRR-*); SQLite step 3. Attribute sets are
-- space-separated attribute names.

CREATE TABLE presence_docs (
    user_id    TEXT COLLATE "C" PRIMARY KEY,
    doc        BYTEA NOT NULL,
    updated_ms BIGINT NOT NULL
);

-- kind: 'D' default list (subject ''), 'U' user, 'L' contact list.
CREATE TABLE presence_grants (
    owner   TEXT COLLATE "C" NOT NULL,
    kind    TEXT COLLATE "C" NOT NULL,
    subject TEXT COLLATE "C" NOT NULL,
    attrs   TEXT NOT NULL,
    PRIMARY KEY (owner, kind, subject)
);

CREATE TABLE presence_reactive (
    owner      TEXT COLLATE "C" NOT NULL,
    watcher    TEXT COLLATE "C" NOT NULL,
    state      TEXT NOT NULL,
    attrs      TEXT,
    updated_ms BIGINT NOT NULL,
    PRIMARY KEY (owner, watcher)
);

CREATE TABLE presence_subscriptions (
    owner      TEXT COLLATE "C" NOT NULL,
    watcher    TEXT COLLATE "C" NOT NULL,
    attrs      TEXT,
    active     BOOLEAN NOT NULL,
    updated_ms BIGINT NOT NULL,
    PRIMARY KEY (owner, watcher)
);
CREATE INDEX presence_subscriptions_by_watcher ON presence_subscriptions (watcher);
