//! The durable queue of server-to-server traffic (issue 17): SSP
//! transactions waiting for another domain's server. A transaction put
//! here has been acknowledged to its sender (a message's sender was told
//! "sent"); it leaves only when the peer's server took it (HTTP 2xx), so
//! a peer that is down or restarting loses nothing.
//!
//! The queue is bounded per peer (`max` at each put): one dead peer cannot
//! fill the store.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::{MemStore, MessageStore, NewStoredMessage, PutOutcome, StoreError};

/// An SSP transaction to queue for a peer domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSspItem {
    /// The peer's domain, lower case.
    pub peer: String,
    /// A Response-mode transaction (answering the peer's request);
    /// otherwise a Request.
    pub response: bool,
    /// The TransactionID to send: a response echoes the request's; a
    /// request has none here and is sent under its queue ID.
    pub transaction_id: Option<String>,
    /// The primitive, as SSP XML.
    pub body: Vec<u8>,
    pub created_ms: u64,
}

/// A queued SSP transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SspItem {
    /// Queue order.
    pub id: u64,
    pub item: NewSspItem,
    /// Sends tried so far.
    pub attempts: u32,
    /// Not before this time.
    pub next_ms: u64,
}

/// What a put did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SspPut {
    Queued(u64),
    /// `max` transactions already wait for that peer: not queued.
    Full,
}

/// One request of a peer's POST, written with the others of its batch in
/// one store transaction ([`SspStore::ssp_take_inbound`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundSsp {
    /// The message it brings our users; `None` for a request whose
    /// answer is all there is to write (refused before storing anything).
    pub message: Option<NewStoredMessage>,
    /// Its answer for the peer (a Response-mode transaction).
    pub answer: NewSspItem,
    /// What the request is remembered under once carried out (as by
    /// [`SspStore::ssp_mark_handled`]).
    pub key: Option<String>,
}

/// What [`SspStore::ssp_take_inbound`] did with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboundTaken {
    /// Its message stored (each recipient's seq, in `recipients` order,
    /// 0 for one it waited for already, as `PutOutcome::Stored`; none
    /// without a message), its answer queued, its key remembered.
    Stored(Vec<u64>),
    /// Its message was stored before under this MessageID for these
    /// recipients (its send reference seen, or every recipient's entry
    /// waiting still): nothing stored again; its answer queued and its
    /// key remembered.
    Duplicate(String),
    /// Nothing written for it: these recipients' queues are full.
    OverQuota(Vec<String>),
    /// Nothing written for it: another message is stored under its
    /// MessageID (see [`id_taken_by`]).
    IdTaken(String),
    /// Nothing written for it: `answer_max` answers would wait for the
    /// peer before its own.
    NoRoom,
}

/// Whether a peer's message finds its MessageID taken by another message
/// stored under it (`stored`: that message's sender and data): IDs of two
/// senders colliding, or a sender reusing an ID for new text. Such a
/// message is refused rather than read as a duplicate, so that no new
/// message is answered as delivered and then dropped. The same message
/// stored before (the same sender and data) is not taken: a resend of it
/// is a duplicate, and the same message for more of our users adds them
/// (see [`super::MessageStore::put_message`]).
pub fn id_taken_by(m: &NewStoredMessage, stored: Option<(&str, &str)>) -> bool {
    stored.is_some_and(|(sender, data)| !m.is_stored_as(sender, data))
}

#[async_trait]
pub trait SspStore: Send + Sync + 'static {
    /// Queues `item` unless `max` wait for its peer already.
    async fn put_ssp(&self, item: NewSspItem, max: u64) -> Result<SspPut, StoreError>;
    /// Transactions due at `now_ms`, oldest first, at most `limit`.
    async fn due_ssp(&self, now_ms: u64, limit: usize) -> Result<Vec<SspItem>, StoreError>;
    /// Takes the queues of peers that are due for a sender sharing the
    /// queue with others (the nodes of a cluster). A peer is due when the
    /// oldest transaction waiting for it is due at `now_ms`; of at most
    /// `max_peers` such peers (the longest waiting first), the first
    /// `per_peer` transactions (queue order) are returned as they were,
    /// and in the same step their `next_ms` moves to `until_ms`. The
    /// peer's oldest transaction is then not due before `until_ms`, so no
    /// other sender takes any of that peer's queue meanwhile: one sender
    /// per peer at a time, in order. A sender that dies with a peer's
    /// queue in hand leaves it to the others once `until_ms` passes.
    /// Returned oldest first.
    async fn claim_ssp(
        &self,
        now_ms: u64,
        max_peers: usize,
        per_peer: usize,
        until_ms: u64,
    ) -> Result<Vec<SspItem>, StoreError>;
    /// The peer took it: removed.
    async fn ssp_sent(&self, id: u64) -> Result<(), StoreError>;
    /// The send failed; tried again at `next_ms`, attempts + 1.
    async fn ssp_retry(&self, id: u64, next_ms: u64) -> Result<(), StoreError>;
    /// How many wait, per peer (peers with none are left out), by peer.
    async fn ssp_counts(&self) -> Result<Vec<(String, u64)>, StoreError>;
    /// The peer took all of these (one POST): removed, in one store
    /// transaction.
    async fn ssp_sent_many(&self, ids: &[u64]) -> Result<(), StoreError>;
    /// The send of all of these failed: each tried again at `next_ms`,
    /// attempts + 1, in one store transaction.
    async fn ssp_retry_many(&self, ids: &[u64], next_ms: u64) -> Result<(), StoreError>;
    /// How many wait for `peer`, read without going through the queue.
    async fn ssp_depth(&self, peer: &str) -> Result<u64, StoreError>;
    /// Of the Request transactions `tids` of `peer`, those already
    /// handled (marked by [`SspStore::ssp_mark_handled`] and not yet
    /// forgotten), in any order.
    async fn ssp_handled(&self, peer: &str, tids: &[String]) -> Result<Vec<String>, StoreError>;
    /// Remembers the Request transactions `tids` of `peer` as handled at
    /// `now_ms`, in one store transaction (a tid marked again keeps its
    /// first time).
    async fn ssp_mark_handled(
        &self,
        peer: &str,
        tids: &[String],
        now_ms: u64,
    ) -> Result<(), StoreError>;
    /// Forgets at most `limit` handled transactions marked before
    /// `before_ms`; returns how many.
    async fn ssp_forget_handled(&self, before_ms: u64, limit: usize) -> Result<u64, StoreError>;
    /// The requests of one POST from `peer`, in order, in **one** store
    /// transaction: each item's message as [`MessageStore::put_message`]
    /// with `dedupe_since_ms` would store it (one put seeing those before
    /// it), then, when it was stored or found stored before, its answer
    /// (queued for `peer`) and its key (remembered at `now_ms`). An item
    /// over a recipient's quota writes nothing. Of the items, as many as
    /// `answer_max` less the answers and requests already waiting for
    /// `peer` are tried, counted from the first; the rest are
    /// [`InboundTaken::NoRoom`] and write nothing. One answer per item,
    /// in order. On `Err` nothing of it is written.
    async fn ssp_take_inbound(
        &self,
        peer: &str,
        items: Vec<InboundSsp>,
        dedupe_since_ms: u64,
        answer_max: u64,
        now_ms: u64,
    ) -> Result<Vec<InboundTaken>, StoreError>;
}

#[derive(Default, Clone)]
pub(crate) struct MemSsp {
    next: u64,
    items: BTreeMap<u64, SspItem>,
    /// (peer, transaction ID) of handled requests → when.
    handled: BTreeMap<(String, String), u64>,
}

impl MemSsp {
    /// Transactions waiting for `peer`.
    pub(crate) fn depth(&self, peer: &str) -> u64 {
        self.items.values().filter(|i| i.item.peer == peer).count() as u64
    }

    /// Queues `item`; returns its queue ID.
    pub(crate) fn push(&mut self, item: NewSspItem) -> u64 {
        self.next += 1;
        let id = self.next;
        let next_ms = item.created_ms;
        self.items.insert(
            id,
            SspItem {
                id,
                item,
                attempts: 0,
                next_ms,
            },
        );
        id
    }
}

#[async_trait]
impl SspStore for MemStore {
    async fn put_ssp(&self, item: NewSspItem, max: u64) -> Result<SspPut, StoreError> {
        let mut g = self.ssp.lock();
        if g.depth(&item.peer) >= max {
            return Ok(SspPut::Full);
        }
        Ok(SspPut::Queued(g.push(item)))
    }

    async fn due_ssp(&self, now_ms: u64, limit: usize) -> Result<Vec<SspItem>, StoreError> {
        Ok(self
            .ssp
            .lock()
            .items
            .values()
            .filter(|i| i.next_ms <= now_ms)
            .take(limit)
            .cloned()
            .collect())
    }

    async fn claim_ssp(
        &self,
        now_ms: u64,
        max_peers: usize,
        per_peer: usize,
        until_ms: u64,
    ) -> Result<Vec<SspItem>, StoreError> {
        let mut g = self.ssp.lock();
        // Each peer's oldest transaction, in queue order.
        let mut heads: Vec<(String, bool)> = Vec::new();
        for i in g.items.values() {
            if !heads.iter().any(|(p, _)| *p == i.item.peer) {
                heads.push((i.item.peer.clone(), i.next_ms <= now_ms));
            }
        }
        let due: Vec<String> = heads
            .into_iter()
            .filter(|(_, due)| *due)
            .map(|(p, _)| p)
            .take(max_peers)
            .collect();
        let mut taken = Vec::new();
        for peer in &due {
            for i in g
                .items
                .values_mut()
                .filter(|i| i.item.peer == *peer)
                .take(per_peer)
            {
                taken.push(i.clone());
                i.next_ms = until_ms;
            }
        }
        taken.sort_by_key(|i| i.id);
        Ok(taken)
    }

    async fn ssp_sent(&self, id: u64) -> Result<(), StoreError> {
        self.ssp.lock().items.remove(&id);
        Ok(())
    }

    async fn ssp_retry(&self, id: u64, next_ms: u64) -> Result<(), StoreError> {
        if let Some(i) = self.ssp.lock().items.get_mut(&id) {
            i.attempts += 1;
            i.next_ms = next_ms;
        }
        Ok(())
    }

    async fn ssp_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let mut by: BTreeMap<String, u64> = BTreeMap::new();
        for i in self.ssp.lock().items.values() {
            *by.entry(i.item.peer.clone()).or_default() += 1;
        }
        Ok(by.into_iter().collect())
    }

    async fn ssp_sent_many(&self, ids: &[u64]) -> Result<(), StoreError> {
        let mut g = self.ssp.lock();
        for id in ids {
            g.items.remove(id);
        }
        Ok(())
    }

    async fn ssp_retry_many(&self, ids: &[u64], next_ms: u64) -> Result<(), StoreError> {
        let mut g = self.ssp.lock();
        for id in ids {
            if let Some(i) = g.items.get_mut(id) {
                i.attempts += 1;
                i.next_ms = next_ms;
            }
        }
        Ok(())
    }

    async fn ssp_depth(&self, peer: &str) -> Result<u64, StoreError> {
        let g = self.ssp.lock();
        Ok(g.items.values().filter(|i| i.item.peer == peer).count() as u64)
    }

    async fn ssp_handled(&self, peer: &str, tids: &[String]) -> Result<Vec<String>, StoreError> {
        let g = self.ssp.lock();
        Ok(tids
            .iter()
            .filter(|t| g.handled.contains_key(&(peer.to_owned(), (*t).clone())))
            .cloned()
            .collect())
    }

    async fn ssp_mark_handled(
        &self,
        peer: &str,
        tids: &[String],
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let mut g = self.ssp.lock();
        for t in tids {
            g.handled
                .entry((peer.to_owned(), t.clone()))
                .or_insert(now_ms);
        }
        Ok(())
    }

    async fn ssp_take_inbound(
        &self,
        peer: &str,
        items: Vec<InboundSsp>,
        dedupe_since_ms: u64,
        answer_max: u64,
        now_ms: u64,
    ) -> Result<Vec<InboundTaken>, StoreError> {
        // Memory has no transaction: the same steps one by one, and on a
        // failure both areas as they were before (a test store; writers
        // of the same areas meanwhile would be undone too).
        let saved = (self.im.lock().clone(), self.ssp.lock().clone());
        let res = take_inbound_steps(self, peer, items, dedupe_since_ms, answer_max, now_ms).await;
        if res.is_err() {
            *self.im.lock() = saved.0;
            *self.ssp.lock() = saved.1;
        }
        res
    }

    async fn ssp_forget_handled(&self, before_ms: u64, limit: usize) -> Result<u64, StoreError> {
        let mut g = self.ssp.lock();
        let old: Vec<(String, String)> = g
            .handled
            .iter()
            .filter(|(_, at)| **at < before_ms)
            .take(limit)
            .map(|(k, _)| k.clone())
            .collect();
        for k in &old {
            g.handled.remove(k);
        }
        Ok(old.len() as u64)
    }
}

/// [`SspStore::ssp_take_inbound`] of the memory store, step by step.
async fn take_inbound_steps(
    store: &MemStore,
    peer: &str,
    items: Vec<InboundSsp>,
    dedupe_since_ms: u64,
    answer_max: u64,
    now_ms: u64,
) -> Result<Vec<InboundTaken>, StoreError> {
    let depth = store.ssp_depth(peer).await?;
    let room = usize::try_from(answer_max.saturating_sub(depth)).unwrap_or(usize::MAX);
    let mut out = Vec::with_capacity(items.len());
    let mut keys = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        if i >= room {
            out.push(InboundTaken::NoRoom);
            continue;
        }
        let taken = item.message.as_ref().is_some_and(|m| {
            let g = store.im.lock();
            let stored = g.messages.get(&m.id);
            id_taken_by(
                m,
                stored.map(|(s, body)| (s.sender.as_str(), body.data.as_str())),
            )
        });
        let taken = match item.message {
            Some(m) if taken => {
                out.push(InboundTaken::IdTaken(m.id));
                continue;
            }
            None => InboundTaken::Stored(Vec::new()),
            Some(m) => match store.put_message(m, dedupe_since_ms).await? {
                PutOutcome::Stored(seqs) => InboundTaken::Stored(seqs),
                PutOutcome::Duplicate(id) => InboundTaken::Duplicate(id),
                // A peer's message has no transactions for peers of its
                // own: PeerFull cannot come.
                PutOutcome::OverQuota(full) | PutOutcome::PeerFull(full) => {
                    out.push(InboundTaken::OverQuota(full));
                    continue;
                }
            },
        };
        store.put_ssp(item.answer, u64::MAX).await?;
        keys.extend(item.key);
        out.push(taken);
    }
    store.ssp_mark_handled(peer, &keys, now_ms).await?;
    Ok(out)
}
