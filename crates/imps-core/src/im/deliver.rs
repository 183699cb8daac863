//! Getting stored messages to sessions: offering them (NewMessage in push
//! mode, MessageNotification in notify/get mode) within each session's
//! window, reading more from the store as they are acknowledged, offering
//! again what stays unacknowledged (it may have fallen out of a full
//! outbox), and the end of a message's life (delivered, rejected,
//! forwarded, expired) with its delivery report.

use super::ImService;
use std::sync::Arc;

use super::message::{new_message, notification};
use super::policy::fits;
use super::state::{ImState, SessionQ, UserQ};
use crate::CoreError;
use crate::router::Router;
use crate::session::Session;
use crate::store::{RemovedMessage, StoredMessage};

/// Why a message stopped waiting, as told to a sender who asked for
/// delivery reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    Delivered,
    Rejected,
    Forwarded,
    Expired,
}

impl Fate {
    fn result(self) -> (u16, &'static str) {
        match self {
            Fate::Delivered => (200, "Message delivered"),
            Fate::Rejected => (538, "Message has been rejected"),
            Fate::Forwarded => (541, "Message has been forwarded"),
            Fate::Expired => (542, "Message has expired"),
        }
    }
}

/// What `acknowledge` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ack {
    /// Delivered now.
    Done,
    /// Delivered before (its delete is still running).
    Already,
    /// Not in memory; the store knows.
    NotHeld,
}

/// Whether a message is for this session: not aimed at a client, or aimed
/// at this one (IMR-UC).
pub(crate) fn targets(m: &StoredMessage, s: &Session) -> bool {
    m.target_client.as_deref().is_none_or(|c| c == s.client_key)
}

impl ImService {
    /// This service's IM memory.
    pub(crate) fn im(&self) -> Arc<ImState> {
        Arc::clone(&self.state)
    }

    /// Offers waiting messages to each session of a user's queue, in seq
    /// order, until its window is full. Sessions whose limits a message
    /// exceeds are passed over for that message (GEN-7, GEN-10).
    pub(crate) fn pump(&self, st: &ImState, q: &mut UserQ) {
        let now = self.base.now_ms();
        // Never more than half the outbox: IM alone must not push its own
        // messages out of a session's outbox (order would suffer).
        let window = self
            .base
            .cfg
            .im
            .push_window
            .min(self.base.cfg.max_outbox / 2)
            .max(1);
        let domain = &self.base.cfg.domain;
        let UserQ { msgs, sessions, .. } = q;
        for sq in sessions.iter_mut() {
            if sq.offered.len() >= window {
                continue;
            }
            let content = st.client_content(&sq.session.id);
            for (seq, m) in msgs.range(sq.cursor..) {
                if sq.offered.len() >= window {
                    break;
                }
                sq.cursor = seq + 1;
                if sq.offered.contains_key(seq)
                    || !targets(m, &sq.session)
                    || fits(&sq.session, content.as_deref(), m).is_err()
                {
                    continue;
                }
                offer(self.base.router.as_ref(), sq, m, domain);
                sq.offered.insert(*seq, now);
            }
        }
    }

    /// A session is ready: it joins its user's queue, which is read from
    /// the store when it is the user's first.
    pub(crate) async fn im_ready(&self, s: &Arc<Session>) {
        let st = self.im();
        st.forget_notified(&s.user);
        let notify = s
            .with_state(|x| x.caps.as_ref().and_then(|c| c.delivery_method.clone()))
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("N"));
        let cap = self.base.cfg.im.memory_per_user.max(1);
        let refill = st.with_user_or_new(&s.user, |q| {
            if q.session_mut(&s.id).is_none() {
                // Room for this one only: a first push would make room
                // for four, kept for the session's whole life (issue 19).
                q.sessions.reserve_exact(1);
                q.sessions.push(SessionQ {
                    session: Arc::clone(s),
                    notify,
                    offered: Default::default(),
                    cursor: 0,
                    fetched: Default::default(),
                });
            }
            self.pump(&st, q);
            q.wants_refill(cap)
        });
        if refill {
            self.refill(&st, &s.user).await;
        }
    }

    /// Tops a user's queue up from the store (see the invariant in
    /// `state`), offering what it reads.
    pub(crate) async fn refill(&self, st: &ImState, user: &str) {
        let cap = self.base.cfg.im.memory_per_user.max(1);
        loop {
            let start = st
                .with_user(user, |q| {
                    if !q.wants_refill(cap) {
                        return None;
                    }
                    q.refilling = true;
                    q.skipped = false;
                    q.removed_while_refilling.clear();
                    Some((q.horizon.unwrap_or(0), cap - q.msgs.len().min(cap)))
                })
                .flatten();
            let Some((after, room)) = start else { return };
            let room = room.max(1);
            let rows = self.base.store.pending_messages(user, after, room).await;
            let again = st
                .with_user(user, |q| {
                    q.refilling = false;
                    let rows = match rows {
                        Ok(r) => r,
                        Err(e) => {
                            tracing::warn!(user, error = %e, "cannot read waiting messages");
                            return false;
                        }
                    };
                    let n = rows.len();
                    let mut top = after;
                    for r in rows {
                        top = top.max(r.seq);
                        if !q.removed_while_refilling.contains(&r.id)
                            && !q.deleting.contains(&r.id)
                            && !q.msgs.contains_key(&r.seq)
                        {
                            q.insert(Arc::new(r));
                        }
                    }
                    q.removed_while_refilling.clear();
                    q.horizon = if n < room && !q.skipped {
                        None
                    } else {
                        Some(top)
                    };
                    self.pump(st, q);
                    (n > 0 || q.skipped) && q.wants_refill(cap)
                })
                .unwrap_or(false);
            if !again {
                return;
            }
        }
    }

    /// Hands newly stored entries to their users' queues (online users)
    /// and offers them.
    pub(crate) async fn enqueue(&self, entries: Vec<StoredMessage>) {
        let st = self.im();
        let cap = self.base.cfg.im.memory_per_user.max(1);
        for m in entries {
            let user = m.recipient.clone();
            let id = m.id.clone();
            let refill = st.with_user(&user, |q| {
                q.accept_new(Arc::new(m), cap);
                self.pump(&st, q);
                q.wants_refill(cap)
            });
            if refill.is_some() {
                st.note_arrived();
            }
            match refill {
                Some(true) => self.refill(&st, &user).await,
                Some(false) => {}
                None => {
                    if !self.base.router.is_online(&user) {
                        self.notify_offline(&user);
                    }
                }
            }
            self.tell_other_nodes(&user, &id);
        }
    }

    /// Cluster: the nodes holding sessions of `user` read the message
    /// from the store and offer it (their delivery state is their own).
    fn tell_other_nodes(&self, user: &str, id: &str) {
        let Some(c) = &self.base.cfg.cluster else {
            return;
        };
        let mut nodes: Vec<String> = c.sessions_of(user).iter().map(|r| r.node.clone()).collect();
        nodes.sort();
        nodes.dedup();
        for n in nodes {
            c.message_stored(&n, user, id);
        }
    }

    /// Cluster: another node stored message `id` for `user`. When the
    /// user has a ready session here, the message is read from the store
    /// (the truth) and joins their queue.
    pub(crate) async fn accept_from_peer(&self, user: &str, id: &str) {
        let st = self.im();
        if st.with_user(user, |_| ()).is_none() {
            return;
        }
        let m = match self.base.store.pending_message(user, id).await {
            Ok(Some(m)) => m,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(user, error = %e, "cannot read a message another node stored");
                return;
            }
        };
        let cap = self.base.cfg.im.memory_per_user.max(1);
        let refill = st.with_user(user, |q| {
            if q.by_id.contains_key(&m.id) || q.deleting.contains(&m.id) {
                return false;
            }
            q.accept_new(Arc::new(m), cap);
            self.pump(&st, q);
            q.wants_refill(cap)
        });
        if refill == Some(true) {
            self.refill(&st, user).await;
        }
    }

    /// Ends a user's entry for a message: removed from the store (the
    /// truth) first, then from memory; the sender gets a report when they
    /// asked for one. `None` when no such entry was waiting.
    pub(crate) async fn finish_message(
        &self,
        user: &str,
        id: &str,
        fate: Fate,
    ) -> Result<Option<RemovedMessage>, CoreError> {
        let removed = self.base.store.remove_message(user, id).await?;
        let st = self.im();
        let cap = self.base.cfg.im.memory_per_user.max(1);
        let refill = st
            .with_user(user, |q| {
                q.remove(id);
                self.pump(&st, q);
                q.wants_refill(cap)
            })
            .unwrap_or(false);
        if refill {
            self.refill(&st, user).await;
        }
        if let Some(r) = removed.as_ref().filter(|r| r.delivery_report) {
            let (code, text) = fate.result();
            // Reports go to the sender's live sessions (not stored), or
            // to the sender's domain.
            self.report_to_sender(&r.sender, code, text, &r.id, &r.recipient)
                .await;
        }
        Ok(removed)
    }

    /// The acknowledgement of a message held in memory, without waiting
    /// for the disk: memory and the delivery report now, the store delete
    /// in the background (a crash before it commits means the message is
    /// offered again, under the same MessageID, never lost). `NotHeld`
    /// when the message is not in memory: the caller asks the store.
    pub(crate) async fn acknowledge(&self, user: &str, id: &str) -> Ack {
        let st = self.im();
        let cap = self.base.cfg.im.memory_per_user.max(1);
        let hit = st
            .with_user(user, |q| {
                if q.deleting.contains(id) {
                    // Acknowledged already (by another session, or twice).
                    return Some((None, false));
                }
                let m = q.remove(id)?;
                q.deleting.insert(id.to_string());
                self.pump(&st, q);
                Some((Some(m), q.wants_refill(cap)))
            })
            .flatten();
        let Some((m, refill)) = hit else {
            return Ack::NotHeld;
        };
        let outcome = if m.is_some() { Ack::Done } else { Ack::Already };
        if let Some(m) = m {
            st.note_acked();
            // The store delete joins the others waiting; the first one
            // into an empty queue starts a task that removes them all in
            // one store call (one commit for a whole burst of acks).
            st.delete_started();
            if st.queue_delete(user, id) {
                let reaper = reap(Arc::clone(&self.base.store), Arc::clone(&st));
                match tokio::runtime::Handle::try_current() {
                    Ok(h) => {
                        h.spawn(reaper);
                    }
                    Err(_) => reaper.await,
                }
            }
            if m.delivery_report {
                let (code, text) = Fate::Delivered.result();
                self.report_to_sender(&m.sender, code, text, &m.id, &m.recipient)
                    .await;
            }
        }
        if refill {
            self.refill(&st, user).await;
        }
        outcome
    }

    /// Once a second (from the server): offer again what was offered long
    /// ago and not acknowledged; now and then drop expired messages and
    /// forget old send references.
    pub(crate) async fn im_tick(&self) {
        let st = self.im();
        let now = self.base.now_ms();
        let after = self.base.cfg.im.redeliver_secs.max(1) * 1000;
        let mut waiting = 0usize;
        for user in st.users() {
            st.with_user(&user, |q| {
                let UserQ { msgs, sessions, .. } = q;
                waiting += msgs.len();
                // Notify/get sessions too: GetMessage does not end a
                // message, so one whose GetMessage-Response was lost is
                // announced again, and it does not hold a place in the
                // session's window for ever.
                for sq in sessions.iter_mut() {
                    let stale: Vec<u64> = sq
                        .offered
                        .iter()
                        .filter(|(_, at)| now.saturating_sub(**at) >= after)
                        .map(|(seq, _)| *seq)
                        .collect();
                    for seq in stale {
                        match msgs.get(&seq) {
                            Some(m) => {
                                offer(self.base.router.as_ref(), sq, m, &self.base.cfg.domain);
                                sq.offered.insert(seq, now);
                            }
                            None => {
                                sq.offered.remove(&seq);
                            }
                        }
                    }
                }
            });
        }
        st.set_waiting_in_memory(waiting);
        if st
            .tick()
            .is_multiple_of(self.base.cfg.im.expiry_sweep_passes.max(1))
        {
            self.sweep(now).await;
        }
    }

    async fn sweep(&self, now: u64) {
        match self
            .base
            .store
            .expired_messages(now, self.base.cfg.im.expiry_batch.max(1))
            .await
        {
            Ok(list) => {
                for m in list {
                    if let Err(e) = self
                        .finish_message(&m.recipient, &m.id, Fate::Expired)
                        .await
                    {
                        tracing::warn!(id = %m.id, error = %e, "cannot drop expired message");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot list expired messages"),
        }
        let before = now.saturating_sub(self.base.cfg.im.dedupe_window_secs * 1000);
        if let Err(e) = self.base.store.prune_message_refs(before).await {
            tracing::warn!(error = %e, "cannot prune send references");
        }
    }
}

/// Most acknowledged messages removed in one store call.
const REAP_BATCH: usize = 1024;

/// Removes acknowledged messages from the store until none wait, a batch
/// at a time. A failed batch is only logged: its messages stay stored and
/// are offered again after a restart, under the same MessageIDs.
async fn reap(store: Arc<dyn crate::store::Store>, st: Arc<ImState>) {
    loop {
        let batch = st.take_deletes(REAP_BATCH);
        if batch.is_empty() {
            return;
        }
        if let Err(e) = store.remove_delivered(&batch).await {
            tracing::warn!(count = batch.len(), error = %e, "cannot remove delivered messages; they will be offered again");
        }
        for (u, i) in &batch {
            st.delete_done(u, i);
            st.delete_finished();
        }
        st.batch_finished();
    }
}

/// Queues one message for a session in its delivery mode.
fn offer(router: &dyn Router, sq: &SessionQ, m: &StoredMessage, domain: &str) {
    let v = sq.session.version;
    let body = if sq.notify {
        notification(m, domain).to_element(v)
    } else {
        new_message(m, domain).to_element(v)
    };
    router.to_session(&sq.session.id, body);
}

impl ImService {
    /// Waits for the store deletes of acknowledged messages still running
    /// in the background, so a clean stop does not offer them again after
    /// the next start. (A crash still may: they are repeats under the same
    /// MessageID, which clients drop.)
    pub(crate) async fn settle(&self) {
        self.im().deletes_settled().await;
    }
}
