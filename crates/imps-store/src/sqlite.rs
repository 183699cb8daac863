//! The embedded SQLite backend: one database file, WAL mode, a single
//! writer thread and a small pool of reader threads.
//!
//! WAL lets readers run while the writer commits, and lets a second
//! process (the admin CLI) open the same file while the server runs; the
//! busy timeout makes the two wait for each other instead of failing.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use imps_core::StoreError;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::migrations;
use crate::rows::backend;
use crate::worker::{self, Lane};

/// How to open the database. Every field has a safe default. impsd reads
/// it as the `[store]` section of its config file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SqliteOptions {
    /// `synchronous=FULL`: fsync on every commit, so a success returned to
    /// a client survives power loss, not only a crash of impsd. `false`
    /// selects NORMAL, which in WAL mode still survives a process crash
    /// but may lose the last commits if the machine goes down.
    pub synchronous_full: bool,
    /// How long a connection waits for another one (the other process)
    /// holding the write lock before it reports an error.
    pub busy_timeout_ms: u64,
    /// Length of each job queue (writer, readers). A full queue makes
    /// callers wait rather than grow memory without bound.
    pub queue_capacity: usize,
    /// Read-only connections serving reads concurrently with the writer.
    /// 0 sends reads through the writer too.
    pub read_connections: usize,
    /// Page cache of each connection (the writer and every reader), in
    /// KiB: SQLite's `cache_size`. It fills with the pages a connection
    /// touches and stays full, so the process holds up to
    /// `(1 + read_connections) * cache_kib` whatever its number of users;
    /// the operating system caches the file besides. SQLite's own default
    /// is 2000.
    pub cache_kib: u32,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            synchronous_full: true,
            busy_timeout_ms: 5_000,
            queue_capacity: 1024,
            read_connections: 2,
            cache_kib: 2_000,
        }
    }
}

/// An `imps_core::Store` on one SQLite file. Cheap to share behind an `Arc`; all
/// methods are async and never block the runtime.
pub struct SqliteStore {
    path: PathBuf,
    writer: Lane,
    readers: Option<Lane>,
    threads: Vec<JoinHandle<()>>,
    /// Recent counts of search keys, shared by the readers (`directory`).
    search_counts: Arc<crate::directory::CountCache>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its
    /// schema up to date. Blocks the calling thread for the open and the
    /// migrations, which is meant for startup and the admin CLI.
    pub fn open(path: &Path, opts: SqliteOptions) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Backend(format!("creating directory {}: {e}", dir.display()))
            })?;
        }
        let what = |step: &str| format!("{step} {}", path.display());

        let mut writer = Connection::open(path).map_err(|e| backend(&what("opening"), e))?;
        configure_writer(&writer, &opts, path)?;
        let report = migrations::migrate(&mut writer)?;
        // Keys that SQL steps could not compute (NFKC), before any reader
        // or job sees the tables.
        if reindex_if_asked(&mut writer)? {
            tracing::info!(path = %path.display(), "directory search index rebuilt");
        }

        let mut readers = Vec::with_capacity(opts.read_connections);
        for _ in 0..opts.read_connections {
            let conn = Connection::open(path).map_err(|e| backend(&what("opening reader"), e))?;
            configure_reader(&conn, &opts).map_err(|e| backend(&what("configuring reader"), e))?;
            readers.push(conn);
        }

        let spawn_err =
            |e: std::io::Error| StoreError::Backend(format!("starting store thread: {e}"));
        let (writer, writer_thread) =
            worker::spawn_single("imps-store-writer", writer, opts.queue_capacity)
                .map_err(spawn_err)?;
        let mut threads = vec![writer_thread];
        let readers = if readers.is_empty() {
            None
        } else {
            let (lane, handles) =
                worker::spawn_pool("imps-store-reader", readers, opts.queue_capacity)
                    .map_err(spawn_err)?;
            threads.extend(handles);
            Some(lane)
        };

        tracing::info!(
            path = %path.display(),
            schema_from = report.from,
            schema_to = report.to,
            synchronous_full = opts.synchronous_full,
            readers = opts.read_connections,
            "sqlite store open"
        );
        Ok(SqliteStore {
            path: path.to_owned(),
            writer,
            readers,
            threads,
            search_counts: Arc::default(),
        })
    }

    /// The database file this store was opened on.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version recorded in the database.
    pub async fn schema_version(&self) -> Result<u32, StoreError> {
        self.read_lane()
            .run(|c| migrations::current_version(c))
            .await
    }

    /// Finishes the queued jobs and waits for every connection to close.
    /// Dropping the store does the same without waiting; this exists so a
    /// shutdown (or a test) knows the file is released.
    pub async fn close(self) -> Result<(), StoreError> {
        let SqliteStore {
            writer,
            readers,
            threads,
            ..
        } = self;
        drop((writer, readers));
        let joined = tokio::task::spawn_blocking(move || {
            // Join every thread, not just up to the first that panicked.
            let panicked = threads
                .into_iter()
                .map(JoinHandle::join)
                .filter(Result::is_err)
                .count();
            panicked == 0
        })
        .await
        .map_err(|e| StoreError::Backend(format!("closing store: {e}")))?;
        if joined {
            Ok(())
        } else {
            Err(StoreError::Backend("a store thread panicked".into()))
        }
    }

    pub(crate) fn writer(&self) -> &Lane {
        &self.writer
    }

    /// The counts of search keys the readers share.
    pub(crate) fn search_counts(&self) -> Arc<crate::directory::CountCache> {
        self.search_counts.clone()
    }

    /// Where reads go: the reader pool, or the writer when there is none.
    pub(crate) fn read_lane(&self) -> &Lane {
        self.readers.as_ref().unwrap_or(&self.writer)
    }
}

fn configure_common(conn: &Connection, opts: &SqliteOptions) -> rusqlite::Result<()> {
    // First, so that every later statement waits out the other process.
    conn.busy_timeout(Duration::from_millis(opts.busy_timeout_ms))?;
    // Negative: a size in KiB rather than in pages.
    conn.pragma_update(None, "cache_size", -i64::from(opts.cache_kib.max(1)))?;
    conn.pragma_update(None, "foreign_keys", true)
}

fn configure_writer(
    conn: &Connection,
    opts: &SqliteOptions,
    path: &Path,
) -> Result<(), StoreError> {
    let fail = |e| backend(&format!("configuring {}", path.display()), e);
    configure_common(conn, opts).map_err(fail)?;
    // journal_mode is stored in the file; readers and other processes
    // inherit it. It answers with the mode actually in force.
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(fail)?;
    if !mode.eq_ignore_ascii_case("wal") {
        // Without WAL the admin CLI would block the server's reads, and
        // our reader pool would contend with the writer.
        return Err(StoreError::Backend(format!(
            "{}: journal_mode is {mode}, WAL is required (a network filesystem?)",
            path.display()
        )));
    }
    let sync = if opts.synchronous_full {
        "FULL"
    } else {
        "NORMAL"
    };
    conn.pragma_update(None, "synchronous", sync)
        .map_err(fail)?;
    // Statement journals (one per savepoint of a group commit, see
    // `worker`) in memory rather than in temporary files.
    conn.pragma_update(None, "temp_store", "MEMORY")
        .map_err(fail)
}

fn configure_reader(conn: &Connection, opts: &SqliteOptions) -> rusqlite::Result<()> {
    configure_common(conn, opts)?;
    // A write through a reader would bypass the writer's ordering.
    conn.pragma_update(None, "query_only", true)
}

/// Recomputes every key when the schema asks for it (a row in
/// `directory_reindex`, left by migration 10 or a later one that changes
/// how keys are made): NFKC is Rust's, so SQL steps cannot do it. One
/// IMMEDIATE transaction: a second process opening the file at the same
/// moment waits, then finds the row gone. Runs before the store serves.
fn reindex_if_asked(conn: &mut Connection) -> Result<bool, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| backend("starting the directory reindex", e))?;
    let asked = tx
        .query_row("SELECT 1 FROM directory_reindex", [], |_| Ok(()))
        .optional()
        .map_err(|e| backend("reading directory_reindex", e))?
        .is_some();
    if !asked {
        return Ok(false);
    }
    crate::directory::reindex_users(&tx)?;
    crate::groups::reindex_groups(&tx)?;
    tx.execute("DELETE FROM directory_reindex", [])
        .map_err(|e| backend("clearing directory_reindex", e))?;
    tx.commit()
        .map_err(|e| backend("committing the directory reindex", e))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn pragma(lane: &Lane, name: &'static str) -> Result<i64, StoreError> {
        lane.run(move |c| {
            c.pragma_query_value(None, name, |r| r.get(0))
                .map_err(|e| backend(name, e))
        })
        .await
    }

    #[tokio::test]
    async fn writer_is_durable_and_readers_cannot_write() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Backend(e.to_string()))?;
        let store = SqliteStore::open(&dir.path().join("a/b/impsd.db"), SqliteOptions::default())?;
        // 2 = FULL: an acknowledged commit has been fsynced.
        assert_eq!(pragma(&store.writer, "synchronous").await?, 2);
        assert_eq!(pragma(&store.writer, "foreign_keys").await?, 1);
        assert_eq!(pragma(&store.writer, "busy_timeout").await?, 5_000);
        let mode = store
            .writer
            .run(|c| {
                c.pragma_query_value(None, "journal_mode", |r| r.get::<_, String>(0))
                    .map_err(|e| backend("journal_mode", e))
            })
            .await?;
        assert_eq!(mode, "wal");
        let reader = store
            .readers
            .as_ref()
            .ok_or(StoreError::Backend("no readers".into()))?;
        assert_eq!(pragma(reader, "query_only").await?, 1);
        store.close().await
    }

    #[tokio::test]
    async fn normal_sync_when_asked() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Backend(e.to_string()))?;
        let opts = SqliteOptions {
            synchronous_full: false,
            read_connections: 0,
            ..SqliteOptions::default()
        };
        let store = SqliteStore::open(&dir.path().join("impsd.db"), opts)?;
        assert_eq!(pragma(&store.writer, "synchronous").await?, 1);
        assert_eq!(pragma(&store.writer, "cache_size").await?, -2_000);
        store.close().await
    }
}
