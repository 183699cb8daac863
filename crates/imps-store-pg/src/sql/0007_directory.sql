-- Public profiles, operator-held contact details and the search index
-- (issue 16: BASE-SRCH, SRC-*, PPR-*); SQLite step 10. See
-- `imps_core::DirectoryStore` and `directory.rs`.
--
-- The keys (`imps_core::search_key`: NFKC, lower case, blanks folded) are
-- computed in Rust and written by the store in the same transaction as
-- the user, profile, contact details or group they come from. field is
-- the numeric code of the field (`directory.rs`: the same codes as
-- SQLite's, stored, never to change). This backend starts with this step
-- in place, so unlike SQLite it never has keys to rebuild at open.

-- birth_idx = birth_year * 12 + birth_month - 1 (`Birth::month_index`);
-- listed = `PublicProfile::listed()`, kept by the store.
CREATE TABLE user_profiles (
    user_id        TEXT COLLATE "C" PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    birth_year     INTEGER,
    birth_month    INTEGER,
    birth_idx      BIGINT,
    gender         TEXT,
    intention      TEXT,
    interests      TEXT,
    marital_status TEXT,
    city           TEXT,
    country        TEXT,
    free_text      TEXT,
    consent        BOOLEAN NOT NULL DEFAULT FALSE,
    listed         BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX user_profiles_by_birth ON user_profiles (birth_idx) WHERE birth_idx IS NOT NULL;
CREATE INDEX user_profiles_listed ON user_profiles (user_id) WHERE listed;

-- Never shown by a search (SRC-UC), only searched.
CREATE TABLE user_contacts (
    user_id    TEXT COLLATE "C" PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    first_name TEXT,
    last_name  TEXT,
    email      TEXT
);

-- One row per (field, key) of a user (`imps_core::user_keys`). The
-- primary key answers "field = key" and key prefixes (C collation: byte
-- ranges) in user ID order.
CREATE TABLE user_keys (
    field   INTEGER NOT NULL,
    key     TEXT COLLATE "C" NOT NULL,
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (field, key, user_id)
);
CREATE INDEX user_keys_by_user ON user_keys (user_id, field, key);

-- The same for listed groups only (`imps_core::group_listed`): a group
-- has rows here exactly when a search may show it.
CREATE TABLE group_keys (
    field    INTEGER NOT NULL,
    key      TEXT COLLATE "C" NOT NULL,
    group_id TEXT COLLATE "C" NOT NULL REFERENCES chat_groups (id) ON DELETE CASCADE,
    PRIMARY KEY (field, key, group_id)
);
CREATE INDEX group_keys_by_group ON group_keys (group_id, field, key);
