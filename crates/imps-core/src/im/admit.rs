//! Refusing work past what the server can deliver (issue 19).
//!
//! Past its peak a server that takes every message only grows a backlog:
//! in the load model's overload runs impsd acknowledged about four times
//! what it delivered, and its memory grew with what waited. So a send is
//! admitted only while two gauges are under their settings, and refused
//! otherwise with 503 and, in 1.3, TryAgainTimeout (`CoreError::Overloaded`),
//! before anything is checked, charged or stored:
//!
//! - sends being stored now (`im.max_sends_in_flight`): they pile up when
//!   the store writer or the CPU falls behind;
//! - messages waiting in memory for online recipients
//!   (`im.max_waiting_in_memory`), counted by the once-a-second pass that
//!   also offers again what was not acknowledged, and followed between
//!   passes as messages are queued and acknowledged: they pile up when the
//!   recipients' sessions do not take them as fast as they come.
//!
//! A refused message was never acknowledged, so the client still has it
//! and sends it again later; nothing acknowledged is dropped.
//!
//! The bound on sends in flight also follows the runtime (`im.overload_lag_ms`).
//! A send in flight holds work still to do (its push to write, the
//! recipient's MessageDelivered to read, its answer to write), and once
//! the CPU falls behind that work waits in queues: the acknowledgements
//! then come after `im.ack_window_ms`, the messages go the written way,
//! which costs about twice the CPU, and the server delivers less the more
//! it is offered (docs/benchmarks.md section 50: on one core, 8,000
//! messages a second delivered in full, but 5,300 when offered 13,000 with
//! 1,024 sends in flight). How long a task that
//! yields waits to run again (the lag) is that queue, seen from inside, and
//! unlike a send's time in flight it does not grow when recipients on
//! slow networks acknowledge late. So a probe
//! ([`ImService::probe_runtime_lag`]) measures it every
//! [`PROBE_EVERY`] while sends are in flight, and every [`PROBES`] probes
//! the bound moves ([`next_send_limit`]): down by a quarter when the
//! quickest of them waited more than the setting, up by an eighth when it
//! waited less than half of it and the bound is in use, never under an
//! eighth of `im.max_sends_in_flight` nor over it. It starts at the
//! setting, and a bound nobody comes near is not raised, so after one
//! overload the next stall meets the lower bound at once. Below the floor
//! nothing is refused for lag: a quiet server on a busy machine refuses
//! no one.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::ImService;
use super::state::PathCounts;
use crate::CoreError;

/// One admitted send; its place is given back when it is dropped.
pub(crate) struct SendSlot<'a>(&'a AtomicUsize);

impl Drop for SendSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// How often the runtime's lag is probed while sends are in flight.
pub(crate) const PROBE_EVERY: Duration = Duration::from_millis(10);
/// Probes per decision: the quickest of them is the lag decided on, so
/// one long poll of some task does not lower the bound alone.
pub(crate) const PROBES: usize = 4;

/// The adaptive bound after a decision on `lag_us`, given the most sends
/// seen in flight over the probes (`busiest`): a quarter (at least one)
/// down when the
/// lag is over `threshold_us`; an eighth (at least one) up when it is
/// under half of it and the bound was in use (`busiest` at least half of
/// it: a bound nobody comes near is not raised, so a stall after a quiet
/// spell meets the bound the last overload left); else kept. Always
/// within `floor..=ceiling`.
pub(crate) fn next_send_limit(
    limit: usize,
    busiest: usize,
    lag_us: u64,
    threshold_us: u64,
    floor: usize,
    ceiling: usize,
) -> usize {
    let next = if lag_us > threshold_us {
        limit.saturating_sub((limit / 4).max(1))
    } else if lag_us < threshold_us / 2 && busiest >= limit / 2 {
        limit.saturating_add((limit / 8).max(1))
    } else {
        limit
    };
    next.clamp(floor.min(ceiling), ceiling)
}

impl ImService {
    /// The bound on sends in flight now: `im.max_sends_in_flight`, or the
    /// lower one the lag probe set (0: no bound).
    pub(crate) fn send_bound(&self) -> usize {
        let max = self.base.cfg.im.max_sends_in_flight;
        if max == 0 {
            return 0;
        }
        max.min(self.state.send_limit().load(Ordering::Relaxed))
    }

    /// The floor of the adaptive bound: an eighth of the setting.
    fn send_floor(&self) -> usize {
        (self.base.cfg.im.max_sends_in_flight / 8).max(1)
    }

    /// Issue 19, overload: measures the runtime's lag and moves the bound
    /// on sends in flight (module doc) until `stop` says so. With no send
    /// in flight it only looks every hundred milliseconds.
    pub(crate) async fn probe_runtime_lag(&self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let cfg = &self.base.cfg.im;
        if cfg.overload_lag_ms == 0 || cfg.max_sends_in_flight == 0 {
            return;
        }
        let threshold_us = cfg.overload_lag_ms.saturating_mul(1_000);
        let (floor, ceiling) = (self.send_floor(), cfg.max_sends_in_flight);
        let mut quickest = u64::MAX;
        let mut busiest = 0;
        let mut taken = 0;
        loop {
            let in_flight = self.state.sends_in_flight().load(Ordering::Relaxed);
            // Nothing to decide on: look again a little later.
            let idle = in_flight == 0 && taken == 0;
            let pause = if idle { PROBE_EVERY * 10 } else { PROBE_EVERY };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            if idle {
                continue;
            }
            busiest = busiest.max(in_flight);
            let t = std::time::Instant::now();
            tokio::task::yield_now().await;
            let lag_us = u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX);
            quickest = quickest.min(lag_us);
            taken += 1;
            if taken < PROBES {
                continue;
            }
            let limit = self.send_bound();
            let next = next_send_limit(limit, busiest, quickest, threshold_us, floor, ceiling);
            if next != limit {
                self.state.send_limit().store(next, Ordering::Relaxed);
                tracing::debug!(
                    lag_us = quickest,
                    from = limit,
                    to = next,
                    "bound on sends in flight moved"
                );
            }
            self.state.last_lag_us().store(quickest, Ordering::Relaxed);
            taken = 0;
            quickest = u64::MAX;
            busiest = 0;
        }
    }

    /// The refusal for too many messages waiting in memory, if so.
    fn over_waiting(&self) -> Result<(), CoreError> {
        let cfg = &self.base.cfg.im;
        let waiting = self.state.waiting_in_memory();
        if cfg.max_waiting_in_memory > 0 && waiting >= cfg.max_waiting_in_memory {
            return Err(CoreError::Overloaded {
                what: format!("{waiting} messages wait for delivery"),
                retry_after_secs: cfg.overload_retry_secs.max(1),
            });
        }
        Ok(())
    }

    /// Whether a send arriving now would be refused (either gauge at its
    /// bound), without taking a place: what a transport asks before it
    /// hands a send on, so that a refusal costs no more than this and the
    /// answer (issue 19). A send this lets through still meets
    /// [`ImService::admit_send`].
    pub(crate) fn would_refuse_send(&self) -> Result<(), CoreError> {
        self.over_waiting()?;
        let cfg = &self.base.cfg.im;
        let in_flight = self.state.sends_in_flight().load(Ordering::Acquire);
        let bound = self.send_bound();
        if bound > 0 && in_flight >= bound {
            return Err(CoreError::Overloaded {
                what: format!("{in_flight} sends are being stored"),
                retry_after_secs: cfg.overload_retry_secs.max(1),
            });
        }
        Ok(())
    }

    /// Counts a send refused as overloaded. A transport that answers
    /// from [`ImService::would_refuse_send`] counts its refusal here
    /// itself: that check alone refuses nothing (a send it would refuse
    /// may still be handled, and then meets `admit_send`).
    pub(crate) fn count_refusal(&self) {
        PathCounts::add(&self.state.counts.refused_overloaded, 1);
    }

    fn counted<T>(&self, r: Result<T, CoreError>) -> Result<T, CoreError> {
        if r.is_err() {
            self.count_refusal();
        }
        r
    }

    /// Admits one SendMessage or ForwardMessage, or refuses it (503).
    pub(crate) fn admit_send(&self) -> Result<SendSlot<'_>, CoreError> {
        self.counted(self.admit())
    }

    fn admit(&self) -> Result<SendSlot<'_>, CoreError> {
        let cfg = &self.base.cfg.im;
        let st = &self.state;
        let retry_after_secs = cfg.overload_retry_secs.max(1);
        self.over_waiting()?;
        let in_flight = st.sends_in_flight();
        let now = in_flight.fetch_add(1, Ordering::AcqRel) + 1;
        let slot = SendSlot(in_flight);
        let bound = self.send_bound();
        if bound > 0 && now > bound {
            return Err(CoreError::Overloaded {
                what: format!("{} sends are being stored", now - 1),
                retry_after_secs,
            });
        }
        Ok(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::next_send_limit;

    const T: u64 = 5_000;

    #[test]
    fn a_lagging_runtime_lowers_the_bound_by_a_quarter_down_to_the_floor() {
        assert_eq!(next_send_limit(1_024, 1_024, T + 1, T, 128, 1_024), 768);
        assert_eq!(next_send_limit(768, 0, 40_000, T, 128, 1_024), 576);
        // Never under the floor, and at least one down above it.
        assert_eq!(next_send_limit(150, 150, 40_000, T, 128, 1_024), 128);
        assert_eq!(next_send_limit(128, 128, 40_000, T, 128, 1_024), 128);
        assert_eq!(next_send_limit(3, 3, 40_000, T, 1, 8), 2);
        assert_eq!(next_send_limit(1, 1, 40_000, T, 1, 8), 1);
        // A lag of exactly the setting is not over it.
        assert_eq!(next_send_limit(512, 512, T, T, 128, 1_024), 512);
    }

    #[test]
    fn a_runtime_that_keeps_up_raises_the_bound_only_while_it_is_in_use() {
        // In use (at least half of it seen in flight): an eighth up.
        assert_eq!(next_send_limit(128, 64, 100, T, 128, 1_024), 144);
        assert_eq!(next_send_limit(4, 4, 100, T, 1, 8), 5);
        // Nobody near it: kept, so the next stall meets it.
        assert_eq!(next_send_limit(128, 63, 100, T, 128, 1_024), 128);
        // Never over the setting.
        assert_eq!(next_send_limit(1_000, 1_000, 100, T, 128, 1_024), 1_024);
        // Between half the setting and the setting: kept.
        assert_eq!(next_send_limit(300, 300, T / 2, T, 128, 1_024), 300);
        assert_eq!(next_send_limit(300, 300, T / 2 - 1, T, 128, 1_024), 337);
        // A setting under the floor's rule (a bound of 1) still holds.
        assert_eq!(next_send_limit(1, 1, 100, T, 1, 1), 1);
    }
}
