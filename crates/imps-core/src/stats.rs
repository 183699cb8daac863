//! Counts and latencies of transactions, per primitive: what an operator
//! reads on `/metrics` to see which requests are slow or failing.
//!
//! Fixed histogram buckets and one row of atomics per primitive kind, so
//! recording is a few relaxed increments and never allocates or locks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use imps_wire::PrimitiveKind;

/// Upper bounds of the latency buckets, in microseconds (the last bucket,
/// above every bound, is implicit).
pub const BUCKETS_US: [u64; 12] = [
    250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000, 5_000_000,
];

#[derive(Default)]
struct Row {
    count: AtomicU64,
    /// Answered with a status code outside 200..300.
    failed: AtomicU64,
    sum_us: AtomicU64,
    /// One per bound in `BUCKETS_US`, plus one for slower ones.
    buckets: [AtomicU64; BUCKETS_US.len() + 1],
}

/// One primitive's figures, read at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrimitiveFigures {
    pub kind: PrimitiveKind,
    pub count: u64,
    pub failed: u64,
    pub sum_us: u64,
    /// Counts per bucket (not cumulative), `BUCKETS_US.len() + 1` of them.
    pub buckets: Vec<u64>,
}

/// The table of every primitive's figures.
pub struct TransactionStats {
    rows: Vec<Row>,
}

impl Default for TransactionStats {
    fn default() -> Self {
        TransactionStats {
            rows: PrimitiveKind::ALL.iter().map(|_| Row::default()).collect(),
        }
    }
}

fn index(kind: PrimitiveKind) -> Option<usize> {
    // `ALL` lists the kinds in declaration order, so the discriminant is
    // the index; the check keeps a future reordering from miscounting.
    let i = kind as usize;
    (PrimitiveKind::ALL.get(i) == Some(&kind)).then_some(i)
}

impl TransactionStats {
    /// Records one transaction of `kind` that took `took` and was answered
    /// with `code` (`None`: no status, e.g. an empty answer).
    pub fn record(&self, kind: PrimitiveKind, took: Duration, code: Option<u16>) {
        let Some(row) = index(kind).and_then(|i| self.rows.get(i)) else {
            return;
        };
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        row.count.fetch_add(1, Ordering::Relaxed);
        if code.is_some_and(|c| !(200..300).contains(&c)) {
            row.failed.fetch_add(1, Ordering::Relaxed);
        }
        row.sum_us.fetch_add(us, Ordering::Relaxed);
        let b = BUCKETS_US
            .iter()
            .position(|&bound| us <= bound)
            .unwrap_or(BUCKETS_US.len());
        if let Some(slot) = row.buckets.get(b) {
            slot.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Figures of every primitive seen at least once, in the order of
    /// `PrimitiveKind::ALL`.
    pub fn snapshot(&self) -> Vec<PrimitiveFigures> {
        PrimitiveKind::ALL
            .iter()
            .zip(&self.rows)
            .filter(|(_, r)| r.count.load(Ordering::Relaxed) > 0)
            .map(|(k, r)| PrimitiveFigures {
                kind: *k,
                count: r.count.load(Ordering::Relaxed),
                failed: r.failed.load(Ordering::Relaxed),
                sum_us: r.sum_us.load(Ordering::Relaxed),
                buckets: r
                    .buckets
                    .iter()
                    .map(|b| b.load(Ordering::Relaxed))
                    .collect(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_row() {
        for (i, k) in PrimitiveKind::ALL.iter().enumerate() {
            assert_eq!(index(*k), Some(i), "{k:?}");
        }
    }

    #[test]
    fn records_count_failures_and_buckets() {
        let s = TransactionStats::default();
        let k = PrimitiveKind::SendMessageRequest;
        s.record(k, Duration::from_micros(100), Some(200));
        s.record(k, Duration::from_micros(3_000), Some(402));
        s.record(k, Duration::from_secs(9), None);
        s.record(PrimitiveKind::LoginRequest, Duration::ZERO, Some(200));
        let snap = s.snapshot();
        assert_eq!(snap.len(), 2);
        let f = snap.iter().find(|f| f.kind == k).expect("row");
        assert_eq!((f.count, f.failed), (3, 1));
        assert_eq!(f.sum_us, 100 + 3_000 + 9_000_000);
        assert_eq!(f.buckets[0], 1, "100 us is in the first bucket");
        assert_eq!(f.buckets[4], 1, "3 ms is under 5 ms");
        assert_eq!(f.buckets[BUCKETS_US.len()], 1, "9 s is above every bound");
    }
}
