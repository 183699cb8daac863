//! The loop every load benchmark shares: C workers, each doing one
//! operation after another until the deadline or the operation budget is
//! reached, with latencies of successful operations in an HDR histogram.
//!
//! A subcommand only says what one operation is (a [`Worker`]); the
//! runner owns timing, bounds and error counting, so new benchmarks
//! (messaging rate, presence fan-out) get the same report for free.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Latencies are kept in microseconds, from 1 µs to this bound; slower
/// operations saturate at the bound instead of being lost.
const MAX_LATENCY_US: u64 = 120_000_000;

/// How long the runner goes on, and how hard.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub duration: Duration,
    /// Hard cap on operations started, so a run stops even if the clock
    /// misbehaves or the server is unexpectedly fast.
    pub max_ops: u64,
    /// One operation slower than this counts as an error; it keeps a hung
    /// server from holding the run open past its deadline for long.
    pub op_timeout: Duration,
}

/// One benchmark's unit of work, done repeatedly by one task.
pub trait Worker: Send + 'static {
    /// Does operation number `seq` (unique across workers).
    fn op(&mut self, seq: u64) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// What a run measured.
pub struct RunStats {
    pub ok: u64,
    pub errors: u64,
    pub elapsed: Duration,
    /// Latency of successful operations, in microseconds.
    pub latency_us: Histogram<u64>,
    /// The first failure, so a broken setup explains itself.
    pub first_error: Option<String>,
}

impl RunStats {
    /// Successful operations per second of wall time.
    pub fn rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ok as f64 / secs
        } else {
            0.0
        }
    }
}

struct TaskResult<W> {
    worker: W,
    ok: u64,
    errors: u64,
    hist: Histogram<u64>,
    first_error: Option<String>,
}

fn new_histogram() -> anyhow::Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)?)
}

/// Runs `workers` concurrently (one task each) until `spec.duration` has
/// passed or `spec.max_ops` operations were started, and hands the
/// workers back so the caller can clean up (log sessions out).
pub async fn run<W: Worker>(spec: &RunSpec, workers: Vec<W>) -> anyhow::Result<(RunStats, Vec<W>)> {
    let started = Instant::now();
    let deadline = started + spec.duration;
    let next_seq = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(workers.len());
    for worker in workers {
        let next_seq = next_seq.clone();
        let (max_ops, op_timeout) = (spec.max_ops, spec.op_timeout);
        let hist = new_histogram()?;
        tasks.push(tokio::spawn(async move {
            let mut r = TaskResult {
                worker,
                ok: 0,
                errors: 0,
                hist,
                first_error: None,
            };
            while Instant::now() < deadline {
                let seq = next_seq.fetch_add(1, Ordering::Relaxed);
                if seq >= max_ops {
                    break;
                }
                let t0 = Instant::now();
                let outcome = tokio::time::timeout(op_timeout, r.worker.op(seq)).await;
                let us = u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX);
                match outcome {
                    Ok(Ok(())) => {
                        r.ok += 1;
                        r.hist.saturating_record(us.max(1));
                    }
                    Ok(Err(e)) => r.fail(format!("{e:#}")),
                    Err(_) => r.fail(format!("operation timed out after {op_timeout:?}")),
                }
            }
            r
        }));
    }

    let mut stats = RunStats {
        ok: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latency_us: new_histogram()?,
        first_error: None,
    };
    let mut back = Vec::with_capacity(tasks.len());
    for t in tasks {
        let r = t.await?;
        stats.ok += r.ok;
        stats.errors += r.errors;
        stats.latency_us.add(&r.hist)?;
        if stats.first_error.is_none() {
            stats.first_error = r.first_error;
        }
        back.push(r.worker);
    }
    // Wall time until the last worker finished: operations in flight at
    // the deadline count, and so does the time they took.
    stats.elapsed = started.elapsed();
    Ok((stats, back))
}

impl<W> TaskResult<W> {
    fn fail(&mut self, msg: String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(msg);
        }
    }
}

/// A cheap per-worker PRNG (xorshift64*) for picking users: the choice
/// only needs to be spread out, not unpredictable, and the workspace has
/// no RNG crate to pull in for this.
pub struct Picker(u64);

impl Picker {
    pub fn new(seed: u64) -> Picker {
        let mut os = [0u8; 8];
        // The OS seed only decorrelates runs; a fixed one is fine too.
        let _ = getrandom::fill(&mut os);
        Picker((u64::from_le_bytes(os) ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1) as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Sleepy(u64);

    impl Worker for Sleepy {
        async fn op(&mut self, seq: u64) -> anyhow::Result<()> {
            self.0 += 1;
            tokio::time::sleep(Duration::from_millis(1)).await;
            if seq % 10 == 9 {
                anyhow::bail!("every tenth fails")
            } else {
                Ok(())
            }
        }
    }

    #[tokio::test]
    async fn stops_at_the_operation_budget_and_counts_errors() {
        let spec = RunSpec {
            duration: Duration::from_secs(30),
            max_ops: 100,
            op_timeout: Duration::from_secs(5),
        };
        let workers = (0..4).map(|_| Sleepy(0)).collect();
        let (stats, back) = run(&spec, workers).await.expect("run");
        assert_eq!(stats.ok + stats.errors, 100);
        assert_eq!(stats.errors, 10);
        assert_eq!(back.iter().map(|w| w.0).sum::<u64>(), 100);
        assert!(stats.latency_us.value_at_quantile(0.5) >= 1000);
        assert!(stats.first_error.is_some());
    }

    #[tokio::test]
    async fn stops_at_the_deadline() {
        let spec = RunSpec {
            duration: Duration::from_millis(50),
            max_ops: u64::MAX,
            op_timeout: Duration::from_secs(5),
        };
        let (stats, _) = run(&spec, vec![Sleepy(0), Sleepy(0)]).await.expect("run");
        assert!(stats.elapsed < Duration::from_secs(2));
        assert!(stats.ok > 0);
    }

    #[test]
    fn picker_stays_in_range() {
        let mut p = Picker::new(7);
        assert!((0..1000).all(|_| p.below(13) < 13));
    }
}
