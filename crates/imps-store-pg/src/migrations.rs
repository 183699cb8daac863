//! Versioned schema migrations for the PostgreSQL backend.
//!
//! The same small runner as imps-store's SQLite one: numbered SQL steps
//! and a `schema_version` table. PostgreSQL runs DDL in transactions, so
//! the whole upgrade (every pending step and its version rows) is one
//! transaction: a failed step leaves the database as it was. Several
//! processes opening the store at once (nodes of a cluster, the admin
//! CLI beside a server) take one advisory lock, keyed by the schema,
//! before reading the version: the first applies the steps, the others
//! wait for its commit and then find nothing to do.
//!
//! To change the schema, append one entry to [`MIGRATIONS`]. Never edit or
//! reorder a step that has shipped.

use std::time::{SystemTime, UNIX_EPOCH};

use deadpool_postgres::GenericClient;
use imps_core::StoreError;

use crate::rows::{backend, col, exec, query, query_one};

/// One schema step: the version it brings the database to, and its SQL.
pub(crate) struct Migration {
    pub(crate) version: u32,
    pub(crate) sql: &'static str,
}

/// Append-only, in increasing version order (a unit test checks it).
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("sql/0001_users_sessions.sql"),
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
        sql: include_str!("sql/0006_sysmsg.sql"),
    },
    Migration {
        version: 7,
        sql: include_str!("sql/0007_directory.sql"),
    },
    Migration {
        version: 8,
        sql: include_str!("sql/0008_sms_queue.sql"),
    },
    Migration {
        version: 9,
        sql: include_str!("sql/0009_session_cir_target.sql"),
    },
    Migration {
        version: 10,
        sql: include_str!("sql/0010_ssp_queue.sql"),
    },
    Migration {
        version: 11,
        sql: include_str!("sql/0011_session_node.sql"),
    },
    Migration {
        version: 12,
        sql: include_str!("sql/0012_remote_group_joins.sql"),
    },
    Migration {
        version: 13,
        sql: include_str!("sql/0013_peers.sql"),
    },
    Migration {
        version: 14,
        sql: include_str!("sql/0014_ssp_depth_handled.sql"),
    },
    Migration {
        version: 15,
        sql: include_str!("sql/0015_peer_client_cert.sql"),
    },
];

/// The first key of the migration lock (the second is the schema's hash).
const MIGRATION_LOCK: i32 = 0x494d_0000;

const CREATE_BOOKKEEPING: &str = "
CREATE TABLE IF NOT EXISTS schema_version (
    version    BIGINT PRIMARY KEY,
    applied_ms BIGINT NOT NULL
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

/// Creates `schema` if given and missing, then brings it up to
/// [`latest_schema_version`] in one transaction under the migration lock.
/// The connection's search_path must already name `schema` first.
pub(crate) async fn migrate(
    c: &mut deadpool_postgres::Object,
    schema: Option<&str>,
) -> Result<MigrationReport, StoreError> {
    let tx = c
        .transaction()
        .await
        .map_err(|e| backend("starting the migration", &e))?;
    exec(
        &tx,
        "SELECT pg_advisory_xact_lock($1, hashtext(COALESCE($2::text, current_schema(), '')))",
        &[&MIGRATION_LOCK, &schema],
        "taking the migration lock",
    )
    .await?;
    if let Some(s) = schema {
        // The name was checked (letters, digits, _) before it got here.
        tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {s}"))
            .await
            .map_err(|e| backend(&format!("creating schema {s}"), &e))?;
    }
    tx.batch_execute(CREATE_BOOKKEEPING)
        .await
        .map_err(|e| backend("creating schema_version", &e))?;
    let from = current_version(&tx).await?;
    refuse_newer(from)?;
    for step in MIGRATIONS.iter().filter(|m| m.version > from) {
        tx.batch_execute(step.sql)
            .await
            .map_err(|e| backend(&format!("applying migration {}", step.version), &e))?;
        exec(
            &tx,
            "INSERT INTO schema_version (version, applied_ms) VALUES ($1, $2)",
            &[&i64::from(step.version), &now_ms()],
            &format!("recording migration {}", step.version),
        )
        .await?;
        tracing::info!(version = step.version, "applied schema migration");
    }
    let to = current_version(&tx).await?;
    tx.commit()
        .await
        .map_err(|e| backend("committing the migration", &e))?;
    Ok(MigrationReport { from, to })
}

/// The highest applied version; 0 for a new, empty schema.
pub(crate) async fn current_version<C: GenericClient>(c: &C) -> Result<u32, StoreError> {
    let exists = query_one(
        c,
        "SELECT to_regclass('schema_version') IS NOT NULL",
        &[],
        "looking for schema_version",
    )
    .await?;
    if !col::<bool>(&exists, 0)? {
        return Ok(0);
    }
    let rows = query(
        c,
        "SELECT MAX(version) FROM schema_version",
        &[],
        "reading the schema version",
    )
    .await?;
    let v: Option<i64> = match rows.first() {
        Some(r) => col(r, 0)?,
        None => None,
    };
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

/// Wall-clock time for the bookkeeping column only.
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
}
