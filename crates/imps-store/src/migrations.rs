//! Versioned schema migrations for the SQLite backend.
//!
//! We keep our own small runner instead of a migration crate because the
//! whole mechanism is one table and a loop, and because it must cooperate
//! with a second process (the admin CLI) opening the same file at the same
//! moment: each step re-reads the version inside an IMMEDIATE transaction,
//! so two openers never apply the same step twice.
//!
//! To change the schema, append one entry to [`MIGRATIONS`]. Never edit or
//! reorder a step that has shipped: databases in the field already ran it.

use std::time::{SystemTime, UNIX_EPOCH};

use imps_core::StoreError;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::rows::backend;

/// One schema step: the version it brings the database to, and its SQL.
pub(crate) struct Migration {
    pub(crate) version: u32,
    pub(crate) sql: &'static str,
}

/// Append-only, in increasing version order (a unit test checks it).
/// Steps 2.. live in `sql/`, one file per service area, so areas can be
/// written side by side.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: V1_USERS_SESSIONS,
    },
    Migration {
        version: 2,
        sql: include_str!("sql/0002_lists.sql"),
    },
    Migration {
        version: 3,
        sql: include_str!("sql/0003_presence.sql"),
    },
    Migration {
        version: 4,
        sql: include_str!("sql/0004_messages.sql"),
    },
    Migration {
        version: 5,
        sql: include_str!("sql/0005_groups.sql"),
    },
    Migration {
        version: 6,
        sql: include_str!("sql/0006_session_delivery.sql"),
    },
    Migration {
        version: 7,
        sql: include_str!("sql/0007_im_quota.sql"),
    },
    Migration {
        version: 8,
        sql: include_str!("sql/0008_session_style.sql"),
    },
    Migration {
        version: 9,
        sql: include_str!("sql/0009_sysmsg.sql"),
    },
    Migration {
        version: 10,
        sql: include_str!("sql/0010_directory.sql"),
    },
    Migration {
        version: 11,
        sql: include_str!("sql/0011_search_rows.sql"),
    },
    Migration {
        version: 12,
        sql: include_str!("sql/0012_sms_queue.sql"),
    },
    Migration {
        version: 13,
        sql: include_str!("sql/0013_session_cir_target.sql"),
    },
    Migration {
        version: 14,
        sql: include_str!("sql/0014_ssp_queue.sql"),
    },
    Migration {
        version: 15,
        sql: include_str!("sql/0015_session_node.sql"),
    },
    Migration {
        version: 16,
        sql: include_str!("sql/0016_remote_group_joins.sql"),
    },
    Migration {
        version: 17,
        sql: include_str!("sql/0017_peers.sql"),
    },
    Migration {
        version: 18,
        sql: include_str!("sql/0018_ssp_depth_handled.sql"),
    },
    Migration {
        version: 19,
        sql: include_str!("sql/0019_peer_client_cert.sql"),
    },
    Migration {
        version: 20,
        sql: include_str!("sql/0020_im_queue_totals.sql"),
    },
];

const V1_USERS_SESSIONS: &str = "
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    password_hash TEXT,
    digest_secret BLOB,
    msisdn        TEXT UNIQUE,
    friendly_name TEXT,
    created_ms    INTEGER NOT NULL
);
CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    version    TEXT NOT NULL,
    cookie     TEXT NOT NULL,
    ttl_secs   INTEGER NOT NULL,
    created_ms INTEGER NOT NULL
);
-- Session restore and 'sessions per user' limits look sessions up by user.
CREATE INDEX sessions_by_user ON sessions (user_id);
";

const CREATE_BOOKKEEPING: &str = "
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    applied_ms INTEGER NOT NULL
);";

/// The schema version this build writes; a database beyond it is refused.
pub fn latest_schema_version() -> u32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// What [`migrate`] did, for the startup log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MigrationReport {
    pub(crate) from: u32,
    pub(crate) to: u32,
}

/// Brings the database up to [`latest_schema_version`], one transaction
/// per step. Refuses a database written by a newer impsd rather than
/// guessing what its extra tables or columns mean.
pub(crate) fn migrate(conn: &mut Connection) -> Result<MigrationReport, StoreError> {
    conn.execute_batch(CREATE_BOOKKEEPING)
        .map_err(|e| backend("creating schema_migrations", e))?;
    let from = current_version(conn)?;
    refuse_newer(from)?;

    for step in MIGRATIONS {
        // IMMEDIATE takes the write lock before we read the version, so a
        // concurrent opener waits (busy_timeout) and then sees our commit.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| backend("starting migration", e))?;
        let now = current_version(&tx)?;
        refuse_newer(now)?;
        if now >= step.version {
            continue; // dropping `tx` rolls back the empty transaction
        }
        tx.execute_batch(step.sql)
            .map_err(|e| backend(&format!("applying migration {}", step.version), e))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_ms) VALUES (?1, ?2)",
            (step.version, now_ms()),
        )
        .map_err(|e| backend(&format!("recording migration {}", step.version), e))?;
        tx.commit()
            .map_err(|e| backend(&format!("committing migration {}", step.version), e))?;
        tracing::info!(version = step.version, "applied schema migration");
    }
    Ok(MigrationReport {
        from,
        to: current_version(conn)?,
    })
}

/// The highest applied version; 0 for a new, empty database.
pub(crate) fn current_version(conn: &Connection) -> Result<u32, StoreError> {
    let v: Option<i64> = conn
        .query_row("SELECT MAX(version) FROM schema_migrations", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(|e| backend("reading schema version", e))?
        .flatten();
    match v {
        None => Ok(0),
        Some(v) => u32::try_from(v)
            .map_err(|_| StoreError::Backend(format!("invalid schema version {v} in database"))),
    }
}

fn refuse_newer(found: u32) -> Result<(), StoreError> {
    let known = latest_schema_version();
    if found > known {
        return Err(StoreError::Backend(format!(
            "database schema version {found} is newer than this build supports \
             ({known}); it was written by a newer impsd, upgrade instead of downgrading"
        )));
    }
    Ok(())
}

/// Wall-clock time for the bookkeeping column only; nothing decides on it,
/// so a clock before 1970 is recorded as 0 rather than failing the open.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_millis()).ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_start_at_one_and_increase_by_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(
                m.version as usize,
                i + 1,
                "migration versions must be 1, 2, 3, ..."
            );
        }
    }

    #[test]
    fn migrating_twice_applies_each_step_once() -> Result<(), StoreError> {
        let mut conn = Connection::open_in_memory().map_err(|e| backend("open", e))?;
        let first = migrate(&mut conn)?;
        assert_eq!(
            first,
            MigrationReport {
                from: 0,
                to: latest_schema_version()
            }
        );
        let second = migrate(&mut conn)?;
        assert_eq!(second.from, second.to, "second run must be a no-op");
        let rows: i64 = conn
            .query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0))
            .map_err(|e| backend("count", e))?;
        assert_eq!(rows, i64::from(latest_schema_version()));
        Ok(())
    }

    /// Brings `conn` to `version` exactly, as an impsd of that version
    /// would have left it.
    fn migrate_to(conn: &Connection, version: u32) -> Result<(), StoreError> {
        conn.execute_batch(CREATE_BOOKKEEPING)
            .map_err(|e| backend("bookkeeping", e))?;
        for step in MIGRATIONS.iter().filter(|m| m.version <= version) {
            conn.execute_batch(step.sql)
                .map_err(|e| backend(&format!("step {}", step.version), e))?;
            conn.execute(
                "INSERT INTO schema_migrations (version, applied_ms) VALUES (?1, 0)",
                [step.version],
            )
            .map_err(|e| backend("recording", e))?;
        }
        Ok(())
    }

    /// A database written before the queue totals (version 19) gets them
    /// from the queue it holds, and from then on the triggers keep them
    /// equal to the queue's own count and sum through inserts, deletes
    /// and updates.
    #[test]
    fn version_19_queue_gets_totals_that_follow_it() -> Result<(), StoreError> {
        let mut conn = Connection::open_in_memory().map_err(|e| backend("open", e))?;
        migrate_to(&conn, 19)?;
        let sql = |conn: &Connection, q: &str| conn.execute_batch(q).map_err(|e| backend(q, e));
        sql(
            &conn,
            "INSERT INTO im_messages (id, sender, delivery_report, created_ms, content_type, size, data)
               VALUES ('m1', 'x', 0, 1, 'text/plain', 1, 'a'), ('m2', 'x', 0, 1, 'text/plain', 1, 'b');
             INSERT INTO im_queue (recipient, msg_id, bytes)
               VALUES ('alice', 'm1', 10), ('alice', 'm2', 20), ('bob', 'm1', 5);",
        )?;
        migrate(&mut conn)?;
        // (recipient, entries, bytes): the totals, and the queue's own.
        let totals = |conn: &Connection| -> Result<Vec<(String, i64, i64)>, StoreError> {
            conn.prepare(
                "SELECT recipient, n, bytes FROM im_queue_totals WHERE n > 0 ORDER BY recipient",
            )
            .and_then(|mut st| {
                st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect()
            })
            .map_err(|e| backend("totals", e))
        };
        let summed = |conn: &Connection| -> Result<Vec<(String, i64, i64)>, StoreError> {
            conn.prepare("SELECT recipient, COUNT(*), SUM(bytes) FROM im_queue GROUP BY recipient ORDER BY recipient")
                .and_then(|mut st| st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect())
                .map_err(|e| backend("sum", e))
        };
        assert_eq!(
            totals(&conn)?,
            [("alice".to_string(), 2, 30), ("bob".to_string(), 1, 5)]
        );
        for step in [
            "INSERT INTO im_queue (recipient, msg_id, bytes) VALUES ('carol', 'm2', 7)",
            "DELETE FROM im_queue WHERE recipient = 'alice' AND msg_id = 'm1'",
            "UPDATE im_queue SET bytes = 50 WHERE recipient = 'bob'",
            "UPDATE im_queue SET recipient = 'bob' WHERE recipient = 'carol'",
            "DELETE FROM im_queue WHERE recipient = 'alice'",
        ] {
            sql(&conn, step)?;
            assert_eq!(totals(&conn)?, summed(&conn)?, "after {step}");
        }
        assert_eq!(totals(&conn)?, [("bob".to_string(), 2, 57)]);
        Ok(())
    }

    /// A database written before system messages (version 8) opens: its
    /// sessions come back with full service (nothing withheld) and the
    /// system-message tables are there and empty.
    #[tokio::test]
    async fn version_8_database_migrates_to_system_messages() -> Result<(), StoreError> {
        use imps_core::{AccountStore, SysmsgStore};

        let dir = tempfile::tempdir().map_err(|e| StoreError::Backend(e.to_string()))?;
        let db = dir.path().join("impsd.db");
        {
            let conn = Connection::open(&db).map_err(|e| backend("open", e))?;
            migrate_to(&conn, 8)?;
            assert_eq!(current_version(&conn)?, 8);
            conn.execute(
                "INSERT INTO sessions (id, user_id, client_id, version, cookie, ttl_secs,
                   created_ms, delivery_method, bare_ids, android_engine)
                 VALUES ('s1', 'alice', 'wv:alice-phone', '1.3', 'c', 600, 5, 'N', 1, 0)",
                [],
            )
            .map_err(|e| backend("old session", e))?;
        }
        let store = crate::SqliteStore::open(&db, crate::SqliteOptions::default())?;
        assert_eq!(store.schema_version().await?, latest_schema_version());
        let sessions = store.sessions().await?;
        assert_eq!(sessions.len(), 1);
        let s = &sessions[0];
        assert_eq!(
            (s.id.as_str(), s.delivery_method.as_deref(), s.bare_ids),
            ("s1", Some("N"), true),
            "the old session keeps what it had"
        );
        assert!(s.withheld.is_empty(), "and withholds nothing");
        assert!(store.sysmsgs().await?.is_empty());
        assert_eq!(store.terms_agreement("alice").await?, None);
        store.close().await
    }

    /// A database written before the directory (version 9) opens with
    /// its birth dates moved into profiles and every existing user and
    /// listed group searchable: the keys the SQL step could not compute
    /// (NFKC) are filled in at the open, and only once.
    #[tokio::test]
    async fn version_9_database_migrates_to_directory() -> Result<(), StoreError> {
        use imps_core::GroupStore;
        use imps_core::store::DirectoryStore;
        use imps_core::store::{Birth, GroupField, GroupLeaf, Term, UserField, UserLeaf};

        let dir = tempfile::tempdir().map_err(|e| StoreError::Backend(e.to_string()))?;
        let db = dir.path().join("impsd.db");
        {
            let conn = Connection::open(&db).map_err(|e| backend("open", e))?;
            migrate_to(&conn, 9)?;
            conn.execute_batch(
                "INSERT INTO users (id, msisdn, friendly_name, created_ms)
                   VALUES ('alice', '+15550001', 'Ａlice  SMITH', 1),
                          ('bob', NULL, NULL, 2);
                 INSERT INTO user_birth (user_id, year, month)
                   VALUES ('alice', 1990, 7), ('ghost', 1980, 1);
                 INSERT INTO chat_groups (id, owner, private, created_ms)
                   VALUES ('wv:alice/chess@localhost', 'alice', 0, 1),
                          ('wv:alice/secret@localhost', 'alice', 1, 1),
                          ('wv:alice/quiet@localhost', 'alice', 0, 1);
                 INSERT INTO group_props (group_id, name, value)
                   VALUES ('wv:alice/chess@localhost', 'Name', 'Chess Ｃlub'),
                          ('wv:alice/chess@localhost', 'Searchable', 'T'),
                          ('wv:alice/secret@localhost', 'Name', 'Chess Club'),
                          ('wv:alice/secret@localhost', 'Searchable', 'T'),
                          ('wv:alice/quiet@localhost', 'Name', 'Chess Club');
                 INSERT INTO group_joined (group_id, user_id, sname, sname_key, session_id,
                   subscribed, show_id, joined_ms)
                   VALUES ('wv:alice/chess@localhost', 'bob', 'Bob', 'bob', 's1', 1, 0, 1);",
            )
            .map_err(|e| backend("old rows", e))?;
        }
        let store = crate::SqliteStore::open(&db, crate::SqliteOptions::default())?;
        assert_eq!(store.schema_version().await?, latest_schema_version());
        let users = |t| {
            let store = &store;
            async move { store.search_users(&t, 10).await }
        };
        let is = |f, k: &str| Term::Leaf(UserLeaf::Is(f, k.to_string()));
        assert_eq!(
            users(is(UserField::FriendlyName, "alice smith")).await?,
            ["alice"]
        );
        assert_eq!(users(is(UserField::Msisdn, "+15550001")).await?, ["alice"]);
        assert_eq!(users(is(UserField::UserId, "bob")).await?, ["bob"]);
        assert_eq!(
            users(Term::Leaf(UserLeaf::BornBy(
                Birth {
                    year: 1990,
                    month: 7
                }
                .month_index()
            )))
            .await?,
            ["alice"],
            "the birth date is the profile's, and searchable"
        );
        assert!(users(Term::Leaf(UserLeaf::Listed)).await?.is_empty());
        let p = store.profile("alice").await?;
        assert_eq!(
            p.and_then(|p| p.birth),
            Some(Birth {
                year: 1990,
                month: 7
            })
        );
        assert_eq!(store.profile("ghost").await?, None);
        let club = Term::Leaf(GroupLeaf::Is(GroupField::Name, "chess club".into()));
        assert_eq!(
            store.search_groups(&club, 10).await?,
            ["wv:alice/chess@localhost"],
            "only the listed group"
        );
        let joined = Term::Leaf(GroupLeaf::Is(GroupField::Joined, "bob".into()));
        assert_eq!(
            store.search_groups(&joined, 10).await?,
            ["wv:alice/chess@localhost"]
        );
        // A later change indexes as usual.
        let mut g = store
            .group("wv:alice/quiet@localhost")
            .await?
            .ok_or(StoreError::Backend("group lost".into()))?;
        g.props.push(("Searchable".into(), "T".into()));
        assert!(store.update_group(g).await?);
        assert_eq!(store.search_groups(&club, 10).await?.len(), 2);
        store.close().await?;

        // The reindex is done once: the request row is gone.
        let conn = Connection::open(&db).map_err(|e| backend("reopen", e))?;
        let pending: i64 = conn
            .query_row("SELECT COUNT(*) FROM directory_reindex", [], |r| r.get(0))
            .map_err(|e| backend("marker", e))?;
        assert_eq!(pending, 0);
        Ok(())
    }
}
