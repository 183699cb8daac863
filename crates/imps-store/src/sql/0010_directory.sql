-- Public profiles, operator-held contact details and the search index
-- (issue 16: BASE-SRCH, SRC-*, PPR-*). See `imps_core::DirectoryStore`
-- and `directory.rs`. Users are canonical local IDs.
--
-- A search is a boolean term over exact keys (`imps_core::search_key`:
-- NFKC, lower case, blanks folded). The keys live in user_keys and
-- group_keys, written by the store in the same transaction as the user,
-- profile, contact details or group they come from. field is the numeric
-- code of the field (`directory.rs`, `user_field_code` and
-- `group_field_code`; the codes are stored and must never change).
--
-- NFKC is computed in Rust, not in SQL, so this step cannot fill the key
-- tables itself: it leaves a row in directory_reindex and the store, right
-- after the migrations and before serving anything, recomputes every
-- user's and every listed group's keys in one transaction and deletes the
-- row. A later step that changes how keys are made only has to insert
-- that row again.

-- One row per user who ever set a profile; the friendly name stays in
-- users. birth_idx = birth_year * 12 + birth_month - 1
-- (`Birth::month_index`), the column the age bounds search. listed is
-- `PublicProfile::listed()` (complete and agreed to), kept by the store.
CREATE TABLE user_profiles (
    user_id        TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    birth_year     INTEGER,
    birth_month    INTEGER,
    birth_idx      INTEGER,
    gender         TEXT,
    intention      TEXT,
    interests      TEXT,
    marital_status TEXT,
    city           TEXT,
    country        TEXT,
    free_text      TEXT,
    consent        INTEGER NOT NULL DEFAULT 0,
    listed         INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
-- Age bounds. Entries are (birth_idx, user_id).
CREATE INDEX user_profiles_by_birth ON user_profiles (birth_idx)
    WHERE birth_idx IS NOT NULL;
-- The listed profiles, in user ID order: a search driven by "listed"
-- walks it in the order it answers in and stops at the cap.
CREATE INDEX user_profiles_listed ON user_profiles (user_id) WHERE listed = 1;

-- Birth dates were kept for minimum-age groups only; they are now part of
-- the profile. Dates of IDs that are not users are dropped (no profile
-- without a user).
INSERT INTO user_profiles (user_id, birth_year, birth_month, birth_idx)
    SELECT b.user_id, b.year, b.month, b.year * 12 + b.month - 1
    FROM user_birth b JOIN users u ON u.id = b.user_id;
DROP TABLE user_birth;

-- Never shown by a search (SRC-UC), only searched.
CREATE TABLE user_contacts (
    user_id    TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    first_name TEXT,
    last_name  TEXT,
    email      TEXT
) WITHOUT ROWID;

-- One row per (field, key) of a user (`imps_core::user_keys`): at most
-- one key per field. The primary key answers "field = key" and key
-- prefixes in user ID order; the second index rewrites a user's keys and
-- checks one user's key without scanning the others.
CREATE TABLE user_keys (
    field   INTEGER NOT NULL,
    key     TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (field, key, user_id)
) WITHOUT ROWID;
CREATE INDEX user_keys_by_user ON user_keys (user_id, field, key);

-- The same for groups (`imps_core::group_keys`), and only for listed ones
-- (`imps_core::group_listed`: public, Searchable = T): a group has rows
-- here exactly when a search may show it, so "listed" is "has a row".
CREATE TABLE group_keys (
    field    INTEGER NOT NULL,
    key      TEXT NOT NULL,
    group_id TEXT NOT NULL REFERENCES chat_groups (id) ON DELETE CASCADE,
    PRIMARY KEY (field, key, group_id)
) WITHOUT ROWID;
CREATE INDEX group_keys_by_group ON group_keys (group_id, field, key);

-- Groups a user is joined to (the Joined search field).
CREATE INDEX group_joined_by_user ON group_joined (user_id, group_id);

-- A row here asks the store to recompute every key at its next open.
CREATE TABLE directory_reindex (
    pending INTEGER PRIMARY KEY CHECK (pending = 1)
);
INSERT INTO directory_reindex (pending) VALUES (1);
