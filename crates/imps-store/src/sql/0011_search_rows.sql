-- Search rows that carry what a profile search checks (issue 16, speed:
-- a search over 1,000,000 users in under 10 ms p99). See
-- `directory/compile.rs`.
--
-- A search reads the rows of one key (its driver) in user ID order and
-- checks the rest of the term on each row. Before this step every other
-- condition was a B-tree probe per row (the profile row for "listed" and
-- the age bounds, a user_keys lookup per other key), a few microseconds
-- each; a city + age window read thousands of rows before it had 201
-- findings. Now every key row of a user repeats the user's listed flag,
-- birth month index and the keys of the four short profile fields a
-- profile search combines (city, country, gender, intention), so those
-- conditions are checked on the row already read.
--
-- Field 13 (`FULL_NAME_CODE` in `directory.rs`) is new: one row per user
-- with both a first and a last name, keyed by both (`full_name_key`), so a
-- first + last name search reads the few users with that pair instead of
-- everyone with the rarer of the two names.
--
-- The store writes these columns with the keys, in the same transaction
-- as the profile (`insert_user_keys`). The rows are rebuilt from the
-- users at the next open (directory_reindex), as after step 10.
DROP TABLE user_keys;
CREATE TABLE user_keys (
    field     INTEGER NOT NULL,
    key       TEXT NOT NULL,
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- `PublicProfile::listed()`, as user_profiles.listed.
    listed    INTEGER NOT NULL DEFAULT 0,
    -- As user_profiles.birth_idx; NULL without a birth date.
    birth_idx INTEGER,
    -- The user's keys of these fields (as in this table), NULL for none.
    city      TEXT,
    country   TEXT,
    gender    TEXT,
    intention TEXT,
    PRIMARY KEY (field, key, user_id)
) WITHOUT ROWID;
CREATE INDEX user_keys_by_user ON user_keys (user_id, field, key);

INSERT OR IGNORE INTO directory_reindex (pending) VALUES (1);
