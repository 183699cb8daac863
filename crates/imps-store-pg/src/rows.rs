//! Translation between PostgreSQL rows and errors and the core's domain
//! types, and the few query helpers every area uses.
//!
//! Every statement goes through [`prepare`], so the driver's per-connection
//! statement cache serves it after its first use on a connection. Columns
//! are read with `try_get`, never `get`: a column of an unexpected type
//! (a schema edited by hand) is a `Backend` error, not a panic.

use deadpool_postgres::GenericClient;
use imps_core::StoreError;
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, ToSql};

/// One bound parameter.
pub(crate) type Param<'a> = &'a (dyn ToSql + Sync);

/// The driver's error in full: its kind, then the server's message (with
/// SQLSTATE, detail and constraint when there is one) or the I/O cause.
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut s = format!("{} {}: {}", db.severity(), db.code().code(), db.message());
        if let Some(d) = db.detail() {
            s.push_str(&format!(" ({d})"));
        }
        return s;
    }
    let mut s = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        s.push_str(&format!(": {c}"));
        cause = c.source();
    }
    s
}

/// Any failure we do not classify, saying what we were doing.
pub(crate) fn backend(context: &str, e: &tokio_postgres::Error) -> StoreError {
    StoreError::Backend(format!("postgres: {context}: {}", describe(e)))
}

/// The pool could not hand out a connection (server down, pool
/// exhausted past the wait timeout, bad credentials).
pub(crate) fn pool_error(e: &deadpool_postgres::PoolError) -> StoreError {
    let detail = match e {
        deadpool_postgres::PoolError::Backend(e) => describe(e),
        other => other.to_string(),
    };
    StoreError::Backend(format!("postgres: getting a connection: {detail}"))
}

/// SQLSTATE 23505: a UNIQUE or PRIMARY KEY constraint refused the row.
/// Other constraint failures (NOT NULL, foreign keys, checks) are our
/// bugs and stay `Backend`, as on SQLite.
pub(crate) fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

/// The name of the constraint a database error names, if any.
pub(crate) fn constraint(e: &tokio_postgres::Error) -> Option<&str> {
    e.as_db_error().and_then(|d| d.constraint())
}

pub(crate) fn to_i64(value: u64, field: &str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| {
        StoreError::Backend(format!(
            "{field} {value} does not fit in a PostgreSQL BIGINT"
        ))
    })
}

pub(crate) fn opt_to_i64(value: Option<u64>, field: &str) -> Result<Option<i64>, StoreError> {
    value.map(|v| to_i64(v, field)).transpose()
}

/// A limit or cap as a bound parameter (large values mean "no limit").
pub(crate) fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Reads column `idx`, or says which column could not be read.
pub(crate) fn col<'a, T: FromSql<'a>>(row: &'a Row, idx: usize) -> Result<T, StoreError> {
    row.try_get(idx).map_err(|e| {
        StoreError::Backend(format!("postgres: reading column {idx}: {}", describe(&e)))
    })
}

/// Reads a BIGINT column that holds a `u64` (times, counts, sizes).
pub(crate) fn col_u64(row: &Row, idx: usize) -> Result<u64, StoreError> {
    let v: i64 = col(row, idx)?;
    // A negative value can only come from someone editing rows by hand.
    u64::try_from(v)
        .map_err(|_| StoreError::Backend(format!("postgres: column {idx} holds {v}, below 0")))
}

pub(crate) fn col_opt_u64(row: &Row, idx: usize) -> Result<Option<u64>, StoreError> {
    let v: Option<i64> = col(row, idx)?;
    v.map(|v| {
        u64::try_from(v)
            .map_err(|_| StoreError::Backend(format!("postgres: column {idx} holds {v}, below 0")))
    })
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

/// The cached prepared statement for `sql` on this connection.
async fn prepare<C: GenericClient>(
    c: &C,
    sql: &str,
    what: &str,
) -> Result<tokio_postgres::Statement, StoreError> {
    c.prepare_cached(sql)
        .await
        .map_err(|e| backend(&format!("preparing ({what})"), &e))
}

/// Runs a statement; the number of rows it changed.
pub(crate) async fn exec<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[Param<'_>],
    what: &str,
) -> Result<u64, StoreError> {
    let st = prepare(c, sql, what).await?;
    c.execute(&st, params).await.map_err(|e| backend(what, &e))
}

/// Like [`exec`], but hands back the driver's error so the caller can
/// classify it (a unique violation is a `Conflict` in some places).
pub(crate) async fn exec_raw<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[Param<'_>],
    what: &str,
) -> Result<Result<u64, tokio_postgres::Error>, StoreError> {
    let st = prepare(c, sql, what).await?;
    Ok(c.execute(&st, params).await)
}

/// Every row of a query.
pub(crate) async fn query<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[Param<'_>],
    what: &str,
) -> Result<Vec<Row>, StoreError> {
    let st = prepare(c, sql, what).await?;
    c.query(&st, params).await.map_err(|e| backend(what, &e))
}

/// Every row of a statement prepared for this call only: for text that
/// varies without bound (search terms of any shape), which would
/// otherwise grow each connection's statement cache forever.
pub(crate) async fn query_once<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[Param<'_>],
    what: &str,
) -> Result<Vec<Row>, StoreError> {
    c.query(sql, params).await.map_err(|e| backend(what, &e))
}

/// At most one row.
pub(crate) async fn query_opt<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[Param<'_>],
    what: &str,
) -> Result<Option<Row>, StoreError> {
    let st = prepare(c, sql, what).await?;
    c.query_opt(&st, params)
        .await
        .map_err(|e| backend(what, &e))
}

/// Exactly one row.
pub(crate) async fn query_one<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[Param<'_>],
    what: &str,
) -> Result<Row, StoreError> {
    let st = prepare(c, sql, what).await?;
    c.query_one(&st, params)
        .await
        .map_err(|e| backend(what, &e))
}

/// What a transaction-scoped advisory lock serializes. SQLite has one
/// writer, so a check followed by a write (a limit, a count, a queue's
/// order) can never interleave with another; here two transactions can,
/// unless both take the lock of the thing they check first. Held until
/// the transaction ends. The number is the lock's first key.
#[derive(Debug, Clone, Copy)]
pub(crate) enum LockArea {
    /// A user's contact, block and grant lists (limits are counts).
    Lists = 0x494d_0001,
    /// A recipient's message queue: quota counts and seq order.
    Queue = 0x494d_0002,
    /// A sender's send references (dedupe of a retried send).
    SendRef = 0x494d_0003,
    /// A group's joined users (size, screen names).
    Group = 0x494d_0004,
    /// A peer domain's SSP queue (its bound).
    SspPeer = 0x494d_0005,
}

/// Takes the advisory lock of `key` in `area` for the rest of the
/// transaction. Keys are hashed to 32 bits: two keys sharing a hash only
/// wait for each other, they never lose a write.
pub(crate) async fn lock<C: GenericClient>(
    c: &C,
    area: LockArea,
    key: &str,
) -> Result<(), StoreError> {
    let area = area as i32;
    exec_lock(c, area, key).await
}

async fn exec_lock<C: GenericClient>(c: &C, area: i32, key: &str) -> Result<(), StoreError> {
    query(
        c,
        "SELECT pg_advisory_xact_lock($1, hashtext($2))",
        &[&area, &key],
        "taking an advisory lock",
    )
    .await
    .map(|_| ())
}

/// Takes the locks of several keys of one area, in a fixed (sorted)
/// order so that two transactions locking overlapping sets cannot
/// deadlock; duplicates are locked once. One round trip.
pub(crate) async fn lock_all<C: GenericClient>(
    c: &C,
    area: LockArea,
    keys: &[&str],
) -> Result<(), StoreError> {
    let mut keys: Vec<&str> = keys.to_vec();
    keys.sort_unstable();
    keys.dedup();
    let area = area as i32;
    match keys.as_slice() {
        [] => Ok(()),
        [one] => exec_lock(c, area, one).await,
        _ => {
            // unnest yields the array in order, and the scan calls the
            // function row by row in that order.
            query(
                c,
                "SELECT pg_advisory_xact_lock($1, hashtext(k))
                 FROM unnest($2::text[]) WITH ORDINALITY AS t (k, n) ORDER BY n",
                &[&area, &keys],
                "taking advisory locks",
            )
            .await
            .map(|_| ())
        }
    }
}
