//! The background work of the areas, started and stopped with the service.
//!
//! Once a tick: sessions idle past their keep-alive end (session), group
//! join passes run out (groups, inside `expire_idle`), unacknowledged
//! messages are offered again and expired ones dropped (im). Beside the
//! ticks, while sends are in flight, a probe of the runtime's lag moves
//! IM's bound on them (`im/admit.rs`). `stop` ends
//! the loop after the tick in hand and waits for the IM store deletes still
//! running, so that a clean stop leaves nothing half done.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::Service;

/// Counts of what the background work did, for `/metrics`.
#[derive(Debug, Default)]
pub struct WorkerCounts {
    /// Sessions ended because their keep-alive ran out.
    pub sessions_expired: AtomicU64,
    /// Passes of the periodic work completed.
    pub passes: AtomicU64,
}

/// The running background work of one service.
pub struct Workers {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    service: Arc<Service>,
}

impl Service {
    /// Starts the areas' periodic work, one pass every `period` (the
    /// server uses a second; tests drive the passes themselves through
    /// `expire_idle` and `im_tick` with a fake clock).
    pub fn start(self: &Arc<Self>, period: Duration) -> Workers {
        let (stop, mut rx) = watch::channel(false);
        let probe = {
            let (svc, rx) = (Arc::clone(self), rx.clone());
            tokio::spawn(async move { svc.im.probe_runtime_lag(rx).await })
        };
        let svc = Arc::clone(self);
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(period.max(Duration::from_millis(1)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = rx.wait_for(|s| *s) => break,
                }
                svc.background_pass().await;
            }
            let _ = probe.await;
        });
        Workers {
            stop,
            task,
            service: Arc::clone(self),
        }
    }

    /// One pass of every area's periodic work.
    pub async fn background_pass(&self) {
        let expired = self.expire_idle().await;
        self.worker_counts
            .sessions_expired
            .fetch_add(expired as u64, Ordering::Relaxed);
        self.im_tick().await;
        self.worker_counts.passes.fetch_add(1, Ordering::Relaxed);
    }

    /// What the background work has done since the start.
    pub fn worker_counts(&self) -> &WorkerCounts {
        &self.worker_counts
    }
}

impl Workers {
    /// Ends the periodic work (after the pass in hand) and waits, at most
    /// `settle_within`, for the store deletes of acknowledged messages.
    /// Returns false when those deletes did not finish in time: the
    /// messages are then offered again after the next start.
    pub async fn stop(self, settle_within: Duration) -> bool {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "background work ended abnormally");
        }
        tokio::time::timeout(settle_within, self.service.settle())
            .await
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CoreConfig, FakeClock, MemStore};

    #[tokio::test]
    async fn passes_expire_idle_sessions_until_stop() {
        let clock = Arc::new(FakeClock::new(1_000));
        let svc = Arc::new(Service::new(
            CoreConfig::default(),
            Arc::new(MemStore::default()),
            clock.clone(),
        ));
        let s = Arc::new(crate::Session::new(
            "s1".into(),
            "alice".into(),
            crate::session::ClientIdent::url("phone"),
            imps_wire::Version::V1_3,
            "cookie".into(),
            "tok".into(),
            1_000,
            30,
        ));
        svc.sessions().insert(s, 0).expect("insert");
        let counts = || {
            (
                svc.worker_counts().passes.load(Ordering::Relaxed),
                svc.worker_counts().sessions_expired.load(Ordering::Relaxed),
            )
        };
        let w = svc.start(Duration::from_millis(5));
        clock.advance_ms(31_000);
        tokio::time::timeout(Duration::from_secs(10), async {
            while counts().1 == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("the idle session is expired by a pass");
        assert!(svc.sessions().get("s1").is_none());
        assert!(w.stop(Duration::from_secs(5)).await);
        let stopped = counts();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(counts(), stopped, "no pass runs after stop");
    }
}
