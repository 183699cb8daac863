//! The durable queue of short messages waiting for the SMSC (issue 20):
//! SMS CIR wake-ups and offline-message notifications. An SMSC outage
//! leaves them here; they go out, each once, when it returns.
//!
//! The queue is bounded (`max` at each put) and coalescing: a job with a
//! key (a session's CIR wake-up) is not queued again while one with the
//! same key waits.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::{MemStore, StoreError};

/// A short message to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSms {
    /// While a job with this key waits, another is not queued.
    pub key: Option<String>,
    /// The destination number.
    pub destination: String,
    /// The payload starts with a user data header (port addressing).
    pub udh: bool,
    /// 8-bit binary data rather than text in the SMSC's default alphabet.
    pub binary: bool,
    pub payload: Vec<u8>,
    pub created_ms: u64,
}

/// A queued short message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsJob {
    /// Queue order.
    pub id: u64,
    pub sms: NewSms,
    /// Sends tried so far.
    pub attempts: u32,
    /// Not before this time.
    pub next_ms: u64,
}

/// What a put did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsPut {
    Queued(u64),
    /// A job with the same key already waits.
    Coalesced,
    /// The queue holds `max` jobs: not queued.
    Full,
}

#[async_trait]
pub trait SmsStore: Send + Sync + 'static {
    /// Queues `sms` unless `max` jobs wait or one with its key does.
    async fn put_sms(&self, sms: NewSms, max: u64) -> Result<SmsPut, StoreError>;
    /// Jobs due at `now_ms`, oldest first, at most `limit`.
    async fn due_sms(&self, now_ms: u64, limit: usize) -> Result<Vec<SmsJob>, StoreError>;
    /// Takes the jobs due at `now_ms`, oldest first, at most `limit`: in
    /// the same step their `next_ms` moves to `until_ms`, so no other
    /// dispatcher sharing the queue (another cluster node) takes them
    /// while this one sends them. The job as it was due is returned. A
    /// dispatcher that dies with jobs in hand leaves them to the others
    /// once `until_ms` passes.
    async fn claim_sms(
        &self,
        now_ms: u64,
        limit: usize,
        until_ms: u64,
    ) -> Result<Vec<SmsJob>, StoreError>;
    /// The job went out: removed.
    async fn sms_sent(&self, id: u64) -> Result<(), StoreError>;
    /// The job failed and is tried again at `next_ms`; attempts + 1.
    async fn sms_retry(&self, id: u64, next_ms: u64) -> Result<(), StoreError>;
    /// Jobs waiting.
    async fn sms_count(&self) -> Result<u64, StoreError>;
}

#[derive(Default)]
pub(crate) struct MemSms {
    next: u64,
    jobs: BTreeMap<u64, SmsJob>,
}

#[async_trait]
impl SmsStore for MemStore {
    async fn put_sms(&self, sms: NewSms, max: u64) -> Result<SmsPut, StoreError> {
        let mut g = self.sms.lock();
        if sms.key.is_some() && g.jobs.values().any(|j| j.sms.key == sms.key) {
            return Ok(SmsPut::Coalesced);
        }
        if g.jobs.len() as u64 >= max {
            return Ok(SmsPut::Full);
        }
        g.next += 1;
        let id = g.next;
        let next_ms = sms.created_ms;
        g.jobs.insert(
            id,
            SmsJob {
                id,
                sms,
                attempts: 0,
                next_ms,
            },
        );
        Ok(SmsPut::Queued(id))
    }

    async fn due_sms(&self, now_ms: u64, limit: usize) -> Result<Vec<SmsJob>, StoreError> {
        Ok(self
            .sms
            .lock()
            .jobs
            .values()
            .filter(|j| j.next_ms <= now_ms)
            .take(limit)
            .cloned()
            .collect())
    }

    async fn claim_sms(
        &self,
        now_ms: u64,
        limit: usize,
        until_ms: u64,
    ) -> Result<Vec<SmsJob>, StoreError> {
        let mut g = self.sms.lock();
        let mut taken = Vec::new();
        for j in g
            .jobs
            .values_mut()
            .filter(|j| j.next_ms <= now_ms)
            .take(limit)
        {
            taken.push(j.clone());
            j.next_ms = until_ms;
        }
        Ok(taken)
    }

    async fn sms_sent(&self, id: u64) -> Result<(), StoreError> {
        self.sms.lock().jobs.remove(&id);
        Ok(())
    }

    async fn sms_retry(&self, id: u64, next_ms: u64) -> Result<(), StoreError> {
        if let Some(j) = self.sms.lock().jobs.get_mut(&id) {
            j.attempts += 1;
            j.next_ms = next_ms;
        }
        Ok(())
    }

    async fn sms_count(&self) -> Result<u64, StoreError> {
        Ok(self.sms.lock().jobs.len() as u64)
    }
}
