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

use std::sync::atomic::{AtomicUsize, Ordering};

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

impl ImService {
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
        if cfg.max_sends_in_flight > 0 && in_flight >= cfg.max_sends_in_flight {
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
        if cfg.max_sends_in_flight > 0 && now > cfg.max_sends_in_flight {
            return Err(CoreError::Overloaded {
                what: format!("{} sends are being stored", now - 1),
                retry_after_secs,
            });
        }
        Ok(slot)
    }
}
