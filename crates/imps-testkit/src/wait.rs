//! Waiting for something to happen, bounded: a condition checked again
//! after a short pause that grows, until it holds or a deadline passes.
//! A test never sleeps a fixed time hoping the server got there.

use std::future::Future;
use std::time::{Duration, Instant};

/// How long a kit helper waits for an event before the test fails. Long
/// enough for a loaded CI machine; a passing test never waits it out,
/// since every wait ends as soon as the event is there.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Pauses between checks: 2 ms, doubling up to 100 ms, never past the
/// deadline.
#[derive(Debug, Clone)]
pub struct Backoff {
    deadline: Instant,
    next: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(2);
    const MAX: Duration = Duration::from_millis(100);

    /// A backoff that gives up `timeout` from now.
    pub fn new(timeout: Duration) -> Backoff {
        Backoff::until(Instant::now() + timeout)
    }

    /// A backoff that gives up at `deadline`.
    pub fn until(deadline: Instant) -> Backoff {
        Backoff {
            deadline,
            next: Backoff::FIRST,
        }
    }

    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Time left before the deadline (zero once it passed).
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Waits before the next check. Returns false, without waiting, once
    /// the deadline has passed: the caller checks one last time and gives
    /// up.
    pub async fn wait(&mut self) -> bool {
        let left = self.remaining();
        if left.is_zero() {
            return false;
        }
        tokio::time::sleep(self.next.min(left)).await;
        self.next = (self.next * 2).min(Backoff::MAX);
        true
    }

    /// Like [`Backoff::wait`] for code that is not async (the real binary
    /// starting up): blocks the thread.
    pub fn wait_blocking(&mut self) -> bool {
        let left = self.remaining();
        if left.is_zero() {
            return false;
        }
        std::thread::sleep(self.next.min(left));
        self.next = (self.next * 2).min(Backoff::MAX);
        true
    }
}

/// Checks `probe` until it returns `Some`, pausing with a [`Backoff`];
/// `None` when `timeout` passed first. The probe runs at least once, and
/// once more at the deadline.
pub async fn poll_for<T, F, Fut>(timeout: Duration, mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let mut backoff = Backoff::new(timeout);
    loop {
        if let Some(v) = probe().await {
            return Some(v);
        }
        if !backoff.wait().await {
            return probe().await;
        }
    }
}

/// Like [`poll_for`], failing the test with `what` when `timeout` passes.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    match poll_for(timeout, probe).await {
        Some(v) => v,
        None => panic!("timed out after {timeout:?} waiting for {what}"),
    }
}

/// Waits until `check` holds, failing the test with `what` when
/// `timeout` passes.
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    wait_for(what, timeout, || {
        let fut = check();
        async move { fut.await.then_some(()) }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn returns_as_soon_as_the_probe_answers() {
        let calls = AtomicU32::new(0);
        let started = Instant::now();
        let v = wait_for("the third call", Duration::from_secs(5), || {
            let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
            async move { (n == 3).then_some(n) }
        })
        .await;
        assert_eq!(v, 3);
        // 2 ms + 4 ms of pauses, far from the timeout.
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn gives_up_at_the_deadline_after_a_last_check() {
        let calls = AtomicU32::new(0);
        let got = poll_for(Duration::from_millis(30), || {
            calls.fetch_add(1, Ordering::SeqCst);
            async { None::<()> }
        })
        .await;
        assert!(got.is_none());
        // 2+4+8+16 ms fit before 30 ms: a handful of checks, not a spin.
        let n = calls.load(Ordering::SeqCst);
        assert!((2..=8).contains(&n), "{n} checks");
    }

    #[tokio::test]
    #[should_panic(expected = "waiting for the impossible")]
    async fn wait_until_fails_the_test_with_what_it_waited_for() {
        wait_until("the impossible", Duration::from_millis(10), || async {
            false
        })
        .await;
    }
}
