//! Translation between SQLite rows/errors and the core's domain types.
//!
//! SQLite integers are signed 64-bit while the core uses `u64` for times
//! and TTLs; converting explicitly (instead of enabling rusqlite's
//! `fallible_uint`) keeps the failure message about *which* field is bad.

use imps_core::{SessionRecord, StoreError, UserRecord};
use rusqlite::{ErrorCode, Row, ffi};

pub(crate) const USER_COLUMNS: &str =
    "id, password_hash, digest_secret, msisdn, friendly_name, created_ms";
pub(crate) const SESSION_COLUMNS: &str =
    "id, user_id, client_id, version, cookie, ttl_secs, created_ms, delivery_method, bare_ids,
     android_engine, withheld, cir_target, node";

/// Any failure we do not classify: keep rusqlite's text and say what we
/// were doing, so a log reader can tell a full disk from a locked file.
pub(crate) fn backend(context: &str, e: rusqlite::Error) -> StoreError {
    StoreError::Backend(format!("sqlite: {context}: {e}"))
}

/// True for UNIQUE and PRIMARY KEY violations: the "already taken" cases
/// the core reports to clients. Other constraint failures (NOT NULL,
/// foreign keys) are our bugs and stay `Backend`.
pub(crate) fn is_uniqueness_violation(e: &rusqlite::Error) -> bool {
    match e {
        rusqlite::Error::SqliteFailure(err, _) => {
            err.code == ErrorCode::ConstraintViolation
                && matches!(
                    err.extended_code,
                    ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                )
        }
        _ => false,
    }
}

/// SQLite's message names the violated column (`users.msisdn`); used to
/// tell the core *what* was taken.
pub(crate) fn violation_mentions(e: &rusqlite::Error, column: &str) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(_, Some(msg)) if msg.contains(column))
}

pub(crate) fn to_sql_int(value: u64, field: &str) -> Result<i64, StoreError> {
    i64::try_from(value)
        .map_err(|_| StoreError::Backend(format!("{field} {value} does not fit in SQLite INTEGER")))
}

pub(crate) fn opt_to_sql_int(value: Option<u64>, field: &str) -> Result<Option<i64>, StoreError> {
    value.map(|v| to_sql_int(v, field)).transpose()
}

pub(crate) fn from_sql_int(row: &Row<'_>, idx: usize) -> rusqlite::Result<u64> {
    let v: i64 = row.get(idx)?;
    // A negative value can only come from someone editing the file by hand.
    u64::try_from(v).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(idx, v))
}

/// [`from_sql_int`] for a nullable column.
pub(crate) fn opt_from_sql_int(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<u64>> {
    let v: Option<i64> = row.get(idx)?;
    v.map(|v| u64::try_from(v).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(idx, v)))
        .transpose()
}

/// A list of names as one column, space-separated: the names (attribute
/// names, function names) never contain spaces.
pub(crate) fn join_names(names: &[String]) -> String {
    names.join(" ")
}

pub(crate) fn split_names(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

/// Reads a row selected with [`USER_COLUMNS`].
pub(crate) fn user_from_row(row: &Row<'_>) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        id: row.get(0)?,
        password_hash: row.get(1)?,
        digest_secret: row.get(2)?,
        msisdn: row.get(3)?,
        friendly_name: row.get(4)?,
        created_ms: from_sql_int(row, 5)?,
    })
}

/// Reads a row selected with [`SESSION_COLUMNS`].
pub(crate) fn session_from_row(row: &Row<'_>) -> rusqlite::Result<SessionRecord> {
    Ok(SessionRecord {
        id: row.get(0)?,
        user_id: row.get(1)?,
        client_id: row.get(2)?,
        version: row.get(3)?,
        cookie: row.get(4)?,
        ttl_secs: from_sql_int(row, 5)?,
        created_ms: from_sql_int(row, 6)?,
        delivery_method: row.get(7)?,
        bare_ids: row.get(8)?,
        android_engine: row.get(9)?,
        withheld: split_names(&row.get::<_, String>(10)?),
        cir_target: row.get(11)?,
        node: row.get(12)?,
    })
}
