//! Group commit for the IM hot path (issue 18): message puts, and
//! acknowledged deletes, that arrive within a short window of each other
//! go to PostgreSQL as one transaction in a few pipelined round trips
//! (`im::run_puts`, `im::run_removes`), where each alone costs a
//! transaction and four or five round trips of its own.
//!
//! A caller hands its call to a collector task over a bounded channel
//! (backpressure, not an unbounded queue) and waits for its answer, which
//! comes only after the batch's COMMIT: an acknowledged message is as
//! durable as before. A batch that fails answers every caller in it with
//! the store's error; nothing of it is written.
//!
//! The collector starts a batch when a slot is free (at most `slots`
//! batches run at once, each on a pooled connection), takes the first
//! call waiting, waits up to `window` for more (at most `max`), and hands
//! the batch to a task of its own. While every slot is busy, calls queue
//! up and the next batch takes them all: under load batches grow by
//! themselves, with no window at all.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use imps_core::StoreError;
use imps_core::store::{NewStoredMessage, PutOutcome};
use tokio::sync::{Semaphore, mpsc, oneshot};

/// A message put waiting for its batch.
pub(crate) struct PutJob {
    pub(crate) msg: NewStoredMessage,
    pub(crate) dedupe_since_ms: u64,
    pub(crate) reply: oneshot::Sender<Result<PutOutcome, StoreError>>,
}

/// An acknowledged delete (`remove_delivered`) waiting for its batch.
pub(crate) struct RemoveJob {
    pub(crate) entries: Vec<(String, String)>,
    pub(crate) reply: oneshot::Sender<Result<(), StoreError>>,
}

/// How batches are formed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchSettings {
    pub(crate) window: Duration,
    pub(crate) max: usize,
    /// Batches (of both kinds) running at once.
    pub(crate) slots: usize,
}

/// The two collectors' inboxes. Dropping them (with the store) ends the
/// collectors once the calls already handed over are answered.
pub(crate) struct Batchers {
    pub(crate) puts: mpsc::Sender<PutJob>,
    pub(crate) removes: mpsc::Sender<RemoveJob>,
}

impl Batchers {
    /// Starts both collectors on the current runtime; `puts` and `removes`
    /// run one batch each.
    pub(crate) fn start<P, PF, R, RF>(s: BatchSettings, puts: P, removes: R) -> Batchers
    where
        P: Fn(Vec<PutJob>) -> PF + Send + Sync + 'static,
        PF: Future<Output = ()> + Send + 'static,
        R: Fn(Vec<RemoveJob>) -> RF + Send + Sync + 'static,
        RF: Future<Output = ()> + Send + 'static,
    {
        let slots = Arc::new(Semaphore::new(s.slots.max(1)));
        Batchers {
            puts: collector(s, Arc::clone(&slots), puts),
            removes: collector(s, slots, removes),
        }
    }
}

/// What a caller gets when the collector is gone (the store is closing).
pub(crate) fn stopped() -> StoreError {
    StoreError::Backend("postgres: the batch writer has stopped (store closing)".into())
}

fn collector<T, F, Fut>(s: BatchSettings, slots: Arc<Semaphore>, run: F) -> mpsc::Sender<T>
where
    T: Send + 'static,
    F: Fn(Vec<T>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let max = s.max.max(1);
    let (tx, mut rx) = mpsc::channel::<T>(max.saturating_mul(s.slots.max(1)).max(16));
    tokio::spawn(async move {
        loop {
            // The job first, then a slot: an idle collector holds no slot
            // (with one slot, an idle delete collector holding it would
            // stall every put), and what queues while the slot is awaited
            // joins this batch.
            let Some(first) = rx.recv().await else {
                break;
            };
            let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
                break;
            };
            let mut batch = Vec::with_capacity(max);
            batch.push(first);
            if !s.window.is_zero() {
                let until = tokio::time::Instant::now() + s.window;
                while batch.len() < max {
                    match tokio::time::timeout_at(until, rx.recv()).await {
                        Ok(Some(job)) => batch.push(job),
                        Ok(None) | Err(_) => break,
                    }
                }
            }
            while batch.len() < max {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            let work = run(batch);
            tokio::spawn(async move {
                work.await;
                drop(permit);
            });
        }
    });
    tx
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A collector that answers each job at once.
    fn answering(slots: &Arc<Semaphore>) -> mpsc::Sender<oneshot::Sender<()>> {
        let s = BatchSettings {
            window: Duration::ZERO,
            max: 8,
            slots: 1,
        };
        collector(
            s,
            Arc::clone(slots),
            |batch: Vec<oneshot::Sender<()>>| async move {
                for tx in batch {
                    let _ = tx.send(());
                }
            },
        )
    }

    async fn call(c: &mpsc::Sender<oneshot::Sender<()>>) {
        let (tx, rx) = oneshot::channel();
        c.send(tx).await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), rx)
            .await
            .expect("answered: an idle collector must not hold the only slot")
            .unwrap();
    }

    /// One slot shared by two collectors (a pool of 1-3 connections):
    /// calls to one keep being answered while the other has no work.
    #[tokio::test]
    async fn an_idle_collector_holds_no_slot() {
        let slots = Arc::new(Semaphore::new(1));
        let puts = answering(&slots);
        let removes = answering(&slots);
        for _ in 0..3 {
            call(&puts).await;
        }
        call(&removes).await;
        call(&puts).await;
    }
}
