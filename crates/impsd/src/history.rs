//! The last hour of the main figures for the operator page's graphs
//! (issue 21): a sample every `admin.graph_sample_secs`, kept in a ring
//! of `admin.graph_window_secs` worth of samples, in memory only (a
//! restart starts the graphs afresh; Prometheus at `/metrics` is the
//! place for long history).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use imps_core::Service;
use imps_core::stats::{BUCKETS_US, PrimitiveFigures};
use imps_wire::PrimitiveKind;
use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::watch;

use crate::conn::Gate;

/// One sample: what happened since the previous one, and levels now.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// Wall-clock milliseconds.
    pub t_ms: u64,
    /// Login transactions since the previous sample.
    pub logins: u64,
    /// SendMessage transactions since the previous sample.
    pub messages: u64,
    /// Transaction latency percentiles over the interval, in ms (the
    /// upper bound of the histogram bucket they fall in); `None` with no
    /// transactions.
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Live sessions and open client connections now.
    pub sessions: u64,
    pub connections: u64,
    /// Resident memory of the process, bytes (`None` off Linux).
    pub rss_bytes: Option<u64>,
}

/// The ring the page reads.
pub struct History {
    pub sample_secs: u64,
    capacity: usize,
    ring: Mutex<VecDeque<Sample>>,
}

impl History {
    pub fn new(sample_secs: u64, window_secs: u64) -> Arc<History> {
        let sample_secs = sample_secs.max(1);
        let capacity = usize::try_from(window_secs / sample_secs)
            .unwrap_or(usize::MAX)
            .clamp(1, 100_000);
        Arc::new(History {
            sample_secs,
            capacity,
            ring: Mutex::new(VecDeque::with_capacity(capacity.min(4096))),
        })
    }

    pub fn samples(&self) -> Vec<Sample> {
        self.ring.lock().iter().cloned().collect()
    }

    fn push(&self, s: Sample) {
        let mut r = self.ring.lock();
        while r.len() >= self.capacity {
            r.pop_front();
        }
        r.push_back(s);
    }

    /// Samples until the stop.
    pub async fn run(
        self: Arc<History>,
        service: Arc<Service>,
        gate: Arc<Gate>,
        mut shut: watch::Receiver<bool>,
    ) {
        let mut tick = tokio::time::interval(Duration::from_secs(self.sample_secs));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut prev = service.transaction_stats().snapshot();
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shut.wait_for(|s| *s) => return,
            }
            let now = service.transaction_stats().snapshot();
            let sample = Sample {
                t_ms: crate::federation::now_ms(),
                logins: delta_count(&prev, &now, Some(PrimitiveKind::LoginRequest)),
                messages: delta_count(&prev, &now, Some(PrimitiveKind::SendMessageRequest)),
                p50_ms: percentile(&prev, &now, 0.50),
                p99_ms: percentile(&prev, &now, 0.99),
                sessions: service.sessions().len() as u64,
                connections: gate.open() as u64,
                rss_bytes: rss_bytes().await,
            };
            prev = now;
            self.push(sample);
        }
    }
}

fn count_of(rows: &[PrimitiveFigures], kind: Option<PrimitiveKind>) -> u64 {
    rows.iter()
        .filter(|r| kind.is_none_or(|k| r.kind == k))
        .map(|r| r.count)
        .sum()
}

fn delta_count(
    prev: &[PrimitiveFigures],
    now: &[PrimitiveFigures],
    k: Option<PrimitiveKind>,
) -> u64 {
    count_of(now, k).saturating_sub(count_of(prev, k))
}

/// The `q` quantile of every transaction between two snapshots, as the
/// upper bound of its bucket in ms (the open last bucket counts as twice
/// the highest bound).
fn percentile(prev: &[PrimitiveFigures], now: &[PrimitiveFigures], q: f64) -> Option<f64> {
    let mut buckets = vec![0u64; BUCKETS_US.len() + 1];
    for r in now {
        let before = prev.iter().find(|p| p.kind == r.kind);
        for (i, n) in r.buckets.iter().enumerate() {
            let old = before.and_then(|p| p.buckets.get(i)).copied().unwrap_or(0);
            if let Some(b) = buckets.get_mut(i) {
                *b += n.saturating_sub(old);
            }
        }
    }
    let total: u64 = buckets.iter().sum();
    if total == 0 {
        return None;
    }
    let want = ((total as f64) * q).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (i, n) in buckets.iter().enumerate() {
        seen += n;
        if seen >= want {
            let us = BUCKETS_US
                .get(i)
                .copied()
                .unwrap_or(BUCKETS_US[BUCKETS_US.len() - 1] * 2);
            return Some(us as f64 / 1000.0);
        }
    }
    None
}

/// VmRSS from /proc/self/status.
async fn rss_bytes() -> Option<u64> {
    let s = tokio::fs::read_to_string("/proc/self/status").await.ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use imps_core::stats::TransactionStats;

    #[test]
    fn percentiles_are_of_the_interval_only() {
        let stats = TransactionStats::default();
        let k = PrimitiveKind::GetPresenceRequest;
        for _ in 0..10 {
            stats.record(k, Duration::from_millis(200), Some(200));
        }
        let before = stats.snapshot();
        for _ in 0..99 {
            stats.record(k, Duration::from_micros(100), Some(200));
        }
        stats.record(k, Duration::from_millis(40), Some(200));
        let after = stats.snapshot();
        assert_eq!(percentile(&before, &after, 0.5), Some(0.25));
        assert_eq!(percentile(&before, &after, 0.99), Some(0.25));
        assert_eq!(percentile(&before, &after, 1.0), Some(50.0));
        assert_eq!(percentile(&after, &after, 0.5), None);
        assert_eq!(delta_count(&before, &after, Some(k)), 100);
        assert_eq!(
            delta_count(&before, &after, Some(PrimitiveKind::LoginRequest)),
            0
        );
    }
}
