//! Which store the test servers run on: the SQLite file in their data dir
//! (the default), or PostgreSQL when `IMPSD_TEST_STORE=postgres`, with the
//! database at `IMPSD_TEST_PG_URL`.
//!
//! On PostgreSQL every server (a [`crate::TestServer`], a
//! [`crate::RealServer`], or a test's own config through [`TestDb`]) gets
//! a schema of its own, `e2e_<pid>_<n>`, which the store creates and
//! migrates when the server first opens it. Restarts of the same server
//! keep it; it is dropped when the [`TestDb`] (held by the server handle)
//! drops. Schemas left by a run that was killed (their process is gone)
//! are dropped when the next run makes its first one.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use impsd::Config;
use impsd::config::StoreKind;

/// `postgres` runs every test server on PostgreSQL; unset or `sqlite`,
/// on SQLite.
pub const STORE_VAR: &str = "IMPSD_TEST_STORE";
/// The database the tests use on PostgreSQL (they make schemas in it).
pub const PG_URL_VAR: &str = "IMPSD_TEST_PG_URL";

/// Pool size of a test server on PostgreSQL: enough for a test's
/// concurrency, small enough that tests running in parallel stay far
/// below the database's connection limit.
pub const TEST_PG_CONNECTIONS: usize = 4;

/// The PostgreSQL URL when the tests run on PostgreSQL, `None` on SQLite.
/// Panics (the run is misconfigured, every test would be wrong) when
/// `IMPSD_TEST_STORE` names something else, or says `postgres` without
/// `IMPSD_TEST_PG_URL`.
pub fn test_pg_url() -> Option<String> {
    match std::env::var(STORE_VAR).as_deref().map(str::trim) {
        Err(_) | Ok("") | Ok("sqlite") => None,
        Ok("postgres") => match std::env::var(PG_URL_VAR) {
            Ok(url) if !url.trim().is_empty() => Some(url),
            _ => panic!("{STORE_VAR}=postgres needs {PG_URL_VAR} (postgres://user@host:port/db)"),
        },
        Ok(other) => panic!("{STORE_VAR}={other:?}: expected \"sqlite\" or \"postgres\""),
    }
}

/// Whether the test servers run on PostgreSQL (`IMPSD_TEST_STORE`).
pub fn on_postgres() -> bool {
    test_pg_url().is_some()
}

/// Prints the line a test prints when it does not apply to the store the
/// run uses, `SKIPPED <test>: <why>`, to standard error.
pub fn skipped(test: &str, why: &str) {
    let line = format!("SKIPPED {test}: {why}\n");
    let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
}

/// One server's PostgreSQL schema; dropped (with everything in it) when
/// this drops.
#[derive(Debug)]
pub struct TestDb {
    url: String,
    schema: String,
}

static NEXT: AtomicU64 = AtomicU64::new(0);
static SWEPT: Mutex<bool> = Mutex::new(false);

impl TestDb {
    /// A new schema name when the run is on PostgreSQL; `None` on SQLite.
    /// The schema itself is made when the server opens its store.
    pub fn from_env() -> Option<TestDb> {
        test_pg_url().map(TestDb::at)
    }

    /// A new schema name on the database at `url`, whatever store the run
    /// is on (for tests that need PostgreSQL in any case, such as several
    /// nodes sharing one schema).
    pub fn at(url: String) -> TestDb {
        sweep_once(&url);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        TestDb {
            url,
            schema: format!("e2e_{}_{n}", std::process::id()),
        }
    }

    /// Points `cfg` at this schema.
    pub fn apply(&self, cfg: &mut Config) {
        cfg.store.kind = StoreKind::Postgres;
        cfg.store.url = self.url.clone();
        cfg.store.schema = self.schema.clone();
        cfg.store.max_connections = TEST_PG_CONNECTIONS;
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// Runs `sql` on the database (not in the schema's search path unless
    /// the SQL says so), for a test that changes the store behind the
    /// server's back. Blocks the thread (fine in a test).
    pub fn execute(&self, sql: &str) -> Result<(), String> {
        batch(&self.url, sql.to_string())
    }
}

/// The `[store]` section of a config file on `db`'s schema, for a test
/// that writes its own config; empty (SQLite, the default) for `None`.
/// Goes last in the file (a TOML table runs to the next header).
pub fn store_toml(db: Option<&TestDb>) -> String {
    match db {
        None => String::new(),
        Some(db) => {
            let mut cfg = Config::default();
            db.apply(&mut cfg);
            let store = toml::to_string(&cfg.store).expect("store settings serialize");
            format!("[store]\n{store}")
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // A server left running (its tasks belong to the test's runtime,
        // which this may be blocking) could hold a lock the drop waits
        // for: give up after a while and leave the schema to the sweep
        // of the next run.
        let sql = format!(
            "SET lock_timeout = '5s'; DROP SCHEMA IF EXISTS {} CASCADE",
            self.schema
        );
        if let Err(e) = batch(&self.url, sql) {
            let line = format!("imps-testkit: could not drop schema {}: {e}\n", self.schema);
            let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
        }
    }
}

/// Runs `sql` on a connection of its own, on a thread and runtime of its
/// own (the caller may be inside a runtime, or dropping in one).
fn batch(url: &str, sql: String) -> Result<(), String> {
    let url = url.to_string();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            let (c, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .map_err(|e| e.to_string())?;
            let conn = tokio::spawn(conn);
            let r = c.batch_execute(&sql).await.map_err(|e| e.to_string());
            drop(c);
            let _ = conn.await;
            r
        })
    })
    .join()
    .unwrap_or_else(|_| Err("the SQL thread panicked".into()))
}

/// Once a process: drops the `e2e_<pid>_<n>` schemas of processes that
/// no longer run (a run killed before its servers dropped).
fn sweep_once(url: &str) {
    let mut swept = SWEPT.lock().unwrap_or_else(|e| e.into_inner());
    if *swept {
        return;
    }
    *swept = true;
    let alive = alive_pids();
    if alive.is_empty() {
        return; // no /proc: which runs are over is unknown
    }
    let me = std::process::id();
    // Names are listed and dropped in one DO block: no result to read.
    let sql = format!(
        r"DO $$
DECLARE s text; p text;
BEGIN
  FOR s IN SELECT nspname FROM pg_namespace WHERE nspname ~ '^e2e_[0-9]+_[0-9]+$' LOOP
    p := split_part(s, '_', 2);
    IF p <> '{me}' AND NOT p = ANY(ARRAY[{alive}]::text[]) THEN
      EXECUTE format('DROP SCHEMA IF EXISTS %I CASCADE', s);
    END IF;
  END LOOP;
END $$;",
        alive = alive
            .iter()
            .map(|p| format!("'{p}'"))
            .collect::<Vec<_>>()
            .join(",")
    );
    if let Err(e) = batch(url, sql) {
        let line = format!("imps-testkit: sweeping old test schemas: {e}\n");
        let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
    }
}

/// The process IDs running on this machine (from /proc; empty elsewhere,
/// where nothing is swept but this process's own).
fn alive_pids() -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}
