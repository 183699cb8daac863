-- Users and sessions: the logical schema of imps-store's SQLite steps 1,
-- 6, 8 and 9 (the session columns), in PostgreSQL types. Every text
-- column that is compared, ordered or ranged over is COLLATE "C": the
-- core expects IDs in byte (code point) order, as Rust sorts strings and
-- as SQLite's BINARY collation gives them, whatever the database's
-- default collation is.

CREATE TABLE users (
    id            TEXT COLLATE "C" PRIMARY KEY,
    password_hash TEXT,
    digest_secret BYTEA,
    msisdn        TEXT COLLATE "C" CONSTRAINT users_msisdn_key UNIQUE,
    friendly_name TEXT,
    created_ms    BIGINT NOT NULL
);

-- delivery_method: 'P' push, 'N' notify/get, NULL never said. withheld:
-- space-separated function names a level of service withholds ('' full).
CREATE TABLE sessions (
    id              TEXT COLLATE "C" PRIMARY KEY,
    user_id         TEXT COLLATE "C" NOT NULL,
    client_id       TEXT NOT NULL,
    version         TEXT NOT NULL,
    cookie          TEXT NOT NULL,
    ttl_secs        BIGINT NOT NULL,
    created_ms      BIGINT NOT NULL,
    delivery_method TEXT,
    bare_ids        BOOLEAN NOT NULL DEFAULT FALSE,
    android_engine  BOOLEAN NOT NULL DEFAULT FALSE,
    withheld        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_by_user ON sessions (user_id);
