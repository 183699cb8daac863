//! The threads that own SQLite connections, and the bounded queues that
//! feed them.
//!
//! A `rusqlite::Connection` is `Send` but not `Sync`, and every call on it
//! blocks on disk. So each connection lives on its own OS thread and async
//! callers hand it closures through a bounded queue, awaiting the answer
//! on a oneshot. When the queue is full the caller waits (push back), which
//! is the right decision for storage: the request that needs the write
//! cannot be acknowledged before it is done anyway (house rule 7).
//!
//! Group commit. With `synchronous=FULL` every commit is an fsync, and one
//! fsync per job would cap the writer at a few hundred jobs a second. Jobs
//! queued with [`Lane::run_batched`] are therefore run together: the writer
//! takes every such job waiting (up to [`GROUP_COMMIT_MAX`]), runs each in
//! its own SAVEPOINT inside one transaction, commits once, and only then
//! tells each caller its own result. A job that fails is rolled back to its
//! savepoint alone, so the others keep their effects; if the COMMIT itself
//! fails, every job of the batch gets the error (none of them is durable).
//! So "answered Ok" still means "on disk". Jobs queued with [`Lane::run`]
//! may open their own transactions and always run alone, in queue order.

use std::io;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use imps_core::StoreError;
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

/// Most jobs committed together. Bounds the time the first caller of a
/// batch waits for the last job's work, and the size of the transaction.
pub(crate) const GROUP_COMMIT_MAX: usize = 512;

/// Called once the fate of a batched job's transaction is known: `Ok` after
/// the commit, the commit's error otherwise.
type Completer = Box<dyn FnOnce(Result<(), StoreError>) + Send + 'static>;

type BatchedFn = Box<dyn FnOnce(Option<&Connection>) -> (bool, Completer) + Send + 'static>;

enum Job {
    /// Runs alone, in autocommit mode; may open its own transaction.
    Alone(Box<dyn FnOnce(&mut Connection) + Send + 'static>),
    /// Runs inside the group transaction. Returns whether its work stands
    /// (false: roll back to its savepoint) and who to tell after commit.
    /// Given no connection it does no work and only hands back its
    /// completer (the batch could not start).
    Batched(BatchedFn),
}

/// A queue into one or more connection threads.
pub(crate) struct Lane {
    tx: mpsc::Sender<Job>,
}

fn closed() -> StoreError {
    StoreError::Backend("store closed".into())
}

impl Lane {
    /// Runs `f` on one of the lane's connections and returns its result.
    ///
    /// If the caller is cancelled after the job was queued the job still
    /// runs to completion (a write still commits); only the answer is lost.
    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply_tx, reply_rx) = oneshot::channel();
        let job = Job::Alone(Box::new(move |conn| {
            // The receiver is gone only if the caller was cancelled.
            let _ = reply_tx.send(f(conn));
        }));
        self.tx.send(job).await.map_err(|_| closed())?;
        // A dropped reply sender means the thread died mid-job (a panic).
        reply_rx.await.map_err(|_| closed())?
    }

    /// Like [`Lane::run`], but the job shares one transaction and one
    /// commit with the other batched jobs waiting at the same time (see
    /// the module doc). `f` must not open a transaction of its own (it
    /// runs inside one; use savepoints if it needs nesting). An `Err` from
    /// `f` undoes `f`'s writes only. The answer comes after the commit.
    pub(crate) async fn run_batched<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply_tx, reply_rx) = oneshot::channel();
        let job = Job::Batched(Box::new(move |conn: Option<&Connection>| {
            let res = conn.map(f);
            let ok = matches!(res, Some(Ok(_)));
            let complete: Completer = Box::new(move |commit| {
                let out = match (res, commit) {
                    (Some(Ok(v)), Ok(())) => Ok(v),
                    // The job's own error says more than the commit's.
                    (Some(Err(e)), _) | (_, Err(e)) => Err(e),
                    (None, Ok(())) => Err(closed()),
                };
                let _ = reply_tx.send(out);
            });
            (ok, complete)
        }));
        self.tx.send(job).await.map_err(|_| closed())?;
        reply_rx.await.map_err(|_| closed())?
    }
}

/// Starts one thread serving `conn` alone: the single writer, so that
/// writes from this process are serialised here rather than by SQLite's
/// file lock, which would turn contention into busy-waiting.
pub(crate) fn spawn_single(
    name: &str,
    mut conn: Connection,
    capacity: usize,
) -> io::Result<(Lane, JoinHandle<()>)> {
    let (tx, mut rx) = mpsc::channel::<Job>(capacity.max(1));
    let handle = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            // A job taken from the queue that must wait for the next round
            // (an `Alone` job met while collecting a batch).
            let mut held: Option<Job> = None;
            loop {
                let job = match held.take() {
                    Some(j) => j,
                    None => match rx.blocking_recv() {
                        Some(j) => j,
                        // The queue closed because the store was dropped;
                        // dropping the connection closes it (and
                        // checkpoints the WAL if last).
                        None => break,
                    },
                };
                match job {
                    Job::Alone(f) => f(&mut conn),
                    Job::Batched(f) => {
                        let mut batch = vec![f];
                        while batch.len() < GROUP_COMMIT_MAX {
                            match rx.try_recv() {
                                Ok(Job::Batched(f)) => batch.push(f),
                                Ok(other) => {
                                    // Keep queue order: the batch commits
                                    // first, then this job runs alone.
                                    held = Some(other);
                                    break;
                                }
                                Err(_) => break,
                            }
                        }
                        run_batch(&conn, batch);
                    }
                }
            }
        })?;
    Ok((Lane { tx }, handle))
}

/// Runs the jobs of one batch in one transaction, each in its own
/// savepoint, commits, then completes every job with its own outcome.
fn run_batch(conn: &Connection, batch: Vec<BatchedFn>) {
    let sql_err = |what: &str, e: rusqlite::Error| {
        StoreError::Backend(format!("sqlite: group commit: {what}: {e}"))
    };
    // The control statements run once or twice per job: prepared once and
    // kept in the connection's cache, not parsed again every time.
    let exec =
        |sql: &str| -> rusqlite::Result<()> { conn.prepare_cached(sql)?.execute([]).map(|_| ()) };
    // IMMEDIATE takes the write lock now, so another process holding it
    // makes us wait out the busy timeout here rather than fail at COMMIT.
    if let Err(e) = exec("BEGIN IMMEDIATE") {
        // Run nothing; every caller gets the failure.
        let err = sql_err("begin", e);
        for f in batch {
            let (_, complete) = f(None);
            complete(Err(err.clone()));
        }
        return;
    }
    let mut completers = Vec::with_capacity(batch.len());
    for f in batch {
        if let Err(e) = exec("SAVEPOINT job") {
            let (_, complete) = f(None);
            complete(Err(sql_err("savepoint", e)));
            continue;
        }
        let (ok, complete) = f(Some(conn));
        let end = if ok {
            exec("RELEASE job")
        } else {
            exec("ROLLBACK TO job").and_then(|()| exec("RELEASE job"))
        };
        if let Err(e) = end {
            // The transaction is in an unknown state: give up on all of
            // it, including this job.
            completers.push(complete);
            let err = sql_err("ending a savepoint", e);
            let _ = conn.execute_batch("ROLLBACK");
            for c in completers {
                c(Err(err.clone()));
            }
            return;
        }
        completers.push(complete);
    }
    let commit = exec("COMMIT").map_err(|e| sql_err("commit", e));
    if commit.is_err() && !conn.is_autocommit() {
        // A failed COMMIT may leave the transaction open; close it so the
        // next batch starts clean.
        let _ = conn.execute_batch("ROLLBACK");
    }
    for c in completers {
        c(commit.clone());
    }
}

/// Starts one thread per connection, all taking jobs from one shared queue,
/// so a slow read never holds up the next one while another reader is idle.
/// A batched job sent here runs on its own (reads need no commit).
pub(crate) fn spawn_pool(
    name: &str,
    conns: Vec<Connection>,
    capacity: usize,
) -> io::Result<(Lane, Vec<JoinHandle<()>>)> {
    let (tx, rx) = mpsc::channel::<Job>(capacity.max(1));
    let rx = Arc::new(Mutex::new(rx));
    let mut handles = Vec::with_capacity(conns.len());
    for (i, mut conn) in conns.into_iter().enumerate() {
        let rx = Arc::clone(&rx);
        let handle = std::thread::Builder::new()
            .name(format!("{name}-{i}"))
            .spawn(move || {
                loop {
                    // Only one idle reader waits inside the queue at a time;
                    // the lock is a plain std mutex on a plain thread and is
                    // released before the job runs.
                    let job = match rx.lock() {
                        Ok(mut queue) => queue.blocking_recv(),
                        Err(_) => None,
                    };
                    match job {
                        Some(Job::Alone(f)) => f(&mut conn),
                        Some(Job::Batched(f)) => {
                            let (_, complete) = f(Some(&conn));
                            complete(Ok(()));
                        }
                        None => break,
                    }
                }
            })?;
        handles.push(handle);
    }
    Ok((Lane { tx }, handles))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> Result<Connection, StoreError> {
        Connection::open_in_memory().map_err(|e| StoreError::Backend(e.to_string()))
    }

    fn be(e: rusqlite::Error) -> StoreError {
        StoreError::Backend(e.to_string())
    }

    #[tokio::test]
    async fn a_dead_thread_reports_store_closed() -> Result<(), StoreError> {
        let (lane, handle) = spawn_single("test-writer", conn()?, 4)
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        assert_eq!(lane.run(|_| Ok(7)).await, Ok(7));
        // A panic inside a job kills the thread (it is a bug, not an error
        // to recover from); the caller and every later call see "closed".
        let res: Result<(), _> = lane.run(|_| panic!("bug in a job")).await;
        assert_eq!(res, Err(StoreError::Backend("store closed".into())));
        assert!(handle.join().is_err(), "the thread should have died");
        assert_eq!(
            lane.run(|_| Ok(())).await,
            Err(StoreError::Backend("store closed".into()))
        );
        Ok(())
    }

    #[tokio::test]
    async fn pool_serves_jobs_and_survives_a_dead_reader() -> Result<(), StoreError> {
        let (lane, handles) = spawn_pool("test-reader", vec![conn()?, conn()?], 4)
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let res: Result<(), _> = lane.run(|_| panic!("bug in a job")).await;
        assert!(res.is_err());
        // The other reader keeps serving.
        for i in 0..10 {
            assert_eq!(lane.run(move |_| Ok(i)).await, Ok(i));
        }
        drop(lane);
        let dead = handles
            .into_iter()
            .map(|h| h.join())
            .filter(Result::is_err)
            .count();
        assert_eq!(dead, 1);
        Ok(())
    }

    /// Many batched writers at once: each gets its own answer, a failing
    /// job is undone alone, and alone-jobs in between keep queue order.
    #[tokio::test]
    async fn batched_jobs_commit_together_and_fail_alone() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Backend(e.to_string()))?;
        let c = Connection::open(dir.path().join("t.db")).map_err(be)?;
        c.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t (k INTEGER PRIMARY KEY)")
            .map_err(be)?;
        let (lane, handle) =
            spawn_single("test-writer", c, 1024).map_err(|e| StoreError::Backend(e.to_string()))?;
        let lane = Arc::new(lane);
        let mut tasks = Vec::new();
        for k in 0..400i64 {
            let lane = Arc::clone(&lane);
            tasks.push(tokio::spawn(async move {
                if k % 50 == 7 {
                    // Inserts, then fails: its row must not stay.
                    return lane
                        .run_batched(move |c| {
                            c.execute("INSERT INTO t VALUES (?1)", [k]).map_err(be)?;
                            Err::<(), _>(StoreError::Conflict(format!("job {k}")))
                        })
                        .await;
                }
                if k % 100 == 50 {
                    // An alone-job may use its own transaction.
                    return lane
                        .run(move |c| {
                            let tx = c.transaction().map_err(be)?;
                            tx.execute("INSERT INTO t VALUES (?1)", [k]).map_err(be)?;
                            tx.commit().map_err(be)
                        })
                        .await;
                }
                lane.run_batched(move |c| {
                    c.execute("INSERT INTO t VALUES (?1)", [k])
                        .map(|_| ())
                        .map_err(be)
                })
                .await
            }));
        }
        let mut failed = 0;
        for t in tasks {
            match t.await.map_err(|e| StoreError::Backend(e.to_string()))? {
                Ok(()) => {}
                Err(StoreError::Conflict(_)) => failed += 1,
                Err(e) => return Err(e),
            }
        }
        assert_eq!(failed, 8);
        // A duplicate key fails that job only.
        let dup = lane
            .run_batched(|c| c.execute("INSERT INTO t VALUES (1)", []).map_err(be))
            .await;
        assert!(dup.is_err());
        let n: i64 = lane
            .run(|c| {
                c.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
                    .map_err(be)
            })
            .await?;
        assert_eq!(n, 392);
        drop(lane);
        assert!(handle.join().is_ok());
        Ok(())
    }
}
