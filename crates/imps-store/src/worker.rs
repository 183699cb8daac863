//! The threads that own SQLite connections, and the bounded queues that
//! feed them.
//!
//! A `rusqlite::Connection` is `Send` but not `Sync`, and every call on it
//! blocks on disk. So each connection lives on its own OS thread and async
//! callers hand it closures through a bounded queue, awaiting the answer
//! on a oneshot. When the queue is full the caller waits (push back), which
//! is the right decision for storage: the request that needs the write
//! cannot be acknowledged before it is done anyway (house rule 7).

use std::io;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use imps_core::StoreError;
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

type Job = Box<dyn FnOnce(&mut Connection) + Send + 'static>;

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
        let job: Job = Box::new(move |conn| {
            // The receiver is gone only if the caller was cancelled.
            let _ = reply_tx.send(f(conn));
        });
        self.tx.send(job).await.map_err(|_| closed())?;
        // A dropped reply sender means the thread died mid-job (a panic).
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
            while let Some(job) = rx.blocking_recv() {
                job(&mut conn);
            }
            // The queue closed because the store was dropped; dropping the
            // connection here closes it (and checkpoints the WAL if last).
        })?;
    Ok((Lane { tx }, handle))
}

/// Starts one thread per connection, all taking jobs from one shared queue,
/// so a slow read never holds up the next one while another reader is idle.
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
                        Some(job) => job(&mut conn),
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
}
