//! Getting stored messages to sessions: offering them (NewMessage in push
//! mode, MessageNotification in notify/get mode) within each session's
//! window, reading more from the store as they are acknowledged, offering
//! again what stays unacknowledged (it may have fallen out of a full
//! outbox), and the end of a message's life (delivered, rejected,
//! forwarded, expired) with its delivery report.

use super::ImService;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::message::{new_message, notification};
use super::policy::fits;
use super::state::{ImState, NOT_QUEUED, Offer, PathCounts, SessionQ, Unstored, UserQ};
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

/// What became of a message `push_early` offered before storing it.
pub(crate) enum Early {
    /// Not pushed: it is stored first, as always.
    NotPushed,
    /// A session acknowledged it within the window: it is delivered, and
    /// nothing is written.
    Acked,
    /// Pushed and not acknowledged in time: the sender stores it, then
    /// hands it to `stored_early`. The flag is set when an
    /// acknowledgement comes while it is written.
    Unacked(Arc<AtomicBool>),
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
    m.target_client
        .as_deref()
        .is_none_or(|c| c == s.client_key())
}

impl ImService {
    /// This service's IM memory.
    pub(crate) fn im(&self) -> Arc<ImState> {
        Arc::clone(&self.state)
    }

    /// Most messages offered to one session and not acknowledged. Never
    /// more than half the outbox: IM alone must not push its own messages
    /// out of a session's outbox (order would suffer).
    pub(crate) fn push_window(&self) -> usize {
        self.base
            .cfg
            .im
            .push_window
            .min(self.base.cfg.max_outbox / 2)
            .max(1)
    }

    /// Offers waiting messages to each session of a user's queue, in seq
    /// order, until its window is full. Sessions whose limits a message
    /// exceeds are passed over for that message (GEN-7, GEN-10).
    pub(crate) fn pump(&self, st: &ImState, q: &mut UserQ) {
        let now = self.base.now_ms();
        let window = self.push_window();
        let domain = &self.base.cfg.domain;
        let (msgs, sessions) = q.msgs_and_sessions();
        for sq in sessions.iter_mut() {
            if sq.in_flight() >= window {
                continue;
            }
            let content = st.client_content(&sq.session.id);
            for (seq, m) in msgs.range(sq.cursor..) {
                if sq.in_flight() >= window {
                    break;
                }
                sq.cursor = seq + 1;
                if sq.offered.contains_key(seq)
                    || !targets(m, &sq.session)
                    || fits(&sq.session, content.as_deref(), m).is_err()
                {
                    continue;
                }
                let mark = offer(self.base.router.as_ref(), sq, m, domain).unwrap_or(NOT_QUEUED);
                sq.offered.insert(*seq, Offer { at: now, mark });
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
                q.sessions.push(SessionQ::new(Arc::clone(s), notify));
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
                    q.clear_removed_while_refilling();
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
                    q.clear_removed_while_refilling();
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

    /// `im.ack_window_ms`: pushes a new one-to-one message (not stored,
    /// `seq` unused) to its recipient's sessions before it is stored, and
    /// waits up to the window for one of them to acknowledge it. Only when
    /// the recipient is caught up (everything waiting for them in memory
    /// offered already, nothing in the store beyond it, nothing of theirs
    /// being written after a window), and
    /// each of their sessions is in push mode, has room in its window,
    /// takes the message, and has nothing offered waiting past the window
    /// (`SessionQ::overdue`). Otherwise, and in
    /// a cluster, `NotPushed`: store it first as always.
    ///
    /// Pushed, the send's `turn` in its connection's order is given up
    /// before the wait for the acknowledgement.
    pub(crate) async fn push_early(
        &self,
        m: &StoredMessage,
        turn: &mut Option<super::order::Turn<'_>>,
    ) -> Early {
        let cfg = &self.base.cfg;
        if cfg.im.ack_window_ms == 0 || cfg.cluster.is_some() || m.target_client.is_some() {
            return Early::NotPushed;
        }
        let st = self.im();
        let now = self.base.now_ms();
        let window = self.push_window();
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        let late = Arc::new(AtomicBool::new(false));
        let pushed = st
            .with_user(&m.recipient, |q| {
                // Messages offered and not yet acknowledged do not stop
                // it (it goes out after them; a recipient that stays
                // within its window is not made to take the written path
                // for having one in flight: issue 19, overload); one not
                // yet offered does.
                if !q.all_offered()
                    || q.horizon.is_some()
                    || q.refilling
                    || q.sessions.is_empty()
                    || q.unstored.values().any(|u| u.acked.is_none())
                {
                    return false;
                }
                let ready = q.sessions.iter().all(|sq| {
                    !sq.notify
                        && !sq.overdue(now, cfg.im.ack_window_ms)
                        && sq.in_flight() < window
                        && targets(m, &sq.session)
                        && fits(&sq.session, st.client_content(&sq.session.id).as_deref(), m)
                            .is_ok()
                });
                if !ready {
                    return false;
                }
                let mut sessions = Vec::with_capacity(q.sessions.len());
                for sq in q.sessions.iter_mut() {
                    if let Some(mark) = offer(self.base.router.as_ref(), sq, m, &cfg.domain) {
                        sq.unstored += 1;
                        sessions.push((sq.session.id.clone(), mark));
                    }
                }
                if sessions.is_empty() {
                    return false;
                }
                q.unstored.insert(
                    m.id.clone(),
                    Unstored {
                        acked: Some(tx),
                        acked_late: Arc::clone(&late),
                        sessions,
                        at: now,
                    },
                );
                true
            })
            .unwrap_or(false);
        if !pushed {
            return Early::NotPushed;
        }
        turn.take();
        let wait = std::time::Duration::from_millis(cfg.im.ack_window_ms);
        if let Ok(Ok(())) = tokio::time::timeout(wait, &mut rx).await {
            PathCounts::add(&st.counts.unwritten, 1);
            return Early::Acked;
        }
        // The window closed (or the recipient's sessions went): from now
        // on an acknowledgement only marks it, and it is written.
        let acked = st
            .with_user(&m.recipient, |q| {
                let Some(u) = q.unstored.get_mut(&m.id) else {
                    return false;
                };
                // Taken: the sessions it went to count as slow (a
                // message of theirs waits past the window) until it is
                // stored and acknowledged.
                u.acked.take();
                false
            })
            .unwrap_or(false);
        // Acknowledged just as the window closed: the answer is waiting.
        if acked || rx.try_recv().is_ok() {
            PathCounts::add(&st.counts.unwritten, 1);
            return Early::Acked;
        }
        PathCounts::add(&st.counts.written_late, 1);
        Early::Unacked(late)
    }

    /// A session ends (rejects) a message `push_early` pushed: as an
    /// acknowledgement does, it is never written, or deleted once it is.
    /// False when `id` is no such message of `user`'s.
    pub(crate) fn end_early(&self, user: &str, id: &str) -> bool {
        let st = self.im();
        st.with_user(user, |q| {
            let hit = q.end_unstored(id);
            if hit {
                self.pump(&st, q);
            }
            hit
        })
        .unwrap_or(false)
    }

    /// A message `push_early` pushed will not be stored (the write failed
    /// or was refused): it leaves memory, and its sessions' windows get
    /// their room back. A later acknowledgement of it finds nothing.
    pub(crate) fn drop_early(&self, user: &str, id: &str) {
        let st = self.im();
        st.with_user(user, |q| {
            if q.take_unstored(id).is_some() {
                self.pump(&st, q);
            }
        });
    }

    /// A message `push_early` pushed and nobody acknowledged in the window
    /// is now stored: it joins its recipient's queue as offered to the
    /// sessions that had it (offered again after `im.redeliver_secs`),
    /// or, acknowledged while it was written, its store entry is deleted.
    pub(crate) async fn stored_early(&self, m: StoredMessage, late: &AtomicBool) {
        let st = self.im();
        let cap = self.base.cfg.im.memory_per_user.max(1);
        let user = m.recipient.clone();
        let id = m.id.clone();
        let seq = m.seq;
        let mut m = Some(m);
        let hit = st.with_user(&user, |q| {
            let u = q.take_unstored(&id);
            if late.load(Ordering::SeqCst) {
                // A refill may have read it from the store meanwhile (its
                // user went and came back during the write): acknowledged
                // already, it is not offered again.
                q.remove(&id);
                q.deleting.insert(id.clone());
                self.pump(&st, q);
                return (true, false);
            }
            let Some(u) = u else {
                // Not this queue's (its user went and came back): an
                // ordinary new message.
                return (false, false);
            };
            if let Some(m) = m.take() {
                q.accept_new(Arc::new(m), cap);
                st.note_arrived();
            }
            if q.msgs.contains_key(&seq) {
                for (sid, mark) in &u.sessions {
                    if let Some(sq) = q.session_mut(sid) {
                        sq.offered.insert(
                            seq,
                            Offer {
                                at: u.at,
                                mark: *mark,
                            },
                        );
                    }
                }
            }
            self.pump(&st, q);
            (false, q.wants_refill(cap))
        });
        match (hit, m) {
            (Some((true, _)), _) => self.delete_in_background(&st, &user, &id).await,
            (None, _) if late.load(Ordering::SeqCst) => {
                // No queue: a next session must not be offered it while
                // the delete runs.
                st.acknowledged_without_queue(&user, &id);
                self.delete_in_background(&st, &user, &id).await;
            }
            (_, Some(m)) => self.enqueue(vec![m]).await,
            (Some((false, true)), None) => self.refill(&st, &user).await,
            _ => {}
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
                if q.end_unstored(id) {
                    // Pushed before it was stored (`im.ack_window_ms`):
                    // within the window nothing is ever written; after it,
                    // the write under way ends in a delete.
                    self.pump(&st, q);
                    return Some((None, false, true));
                }
                if q.deleting.contains(id) {
                    // Acknowledged already (by another session, or twice).
                    return Some((None, false, false));
                }
                let m = q.remove(id)?;
                q.deleting.insert(id.to_string());
                self.pump(&st, q);
                Some((Some(m), q.wants_refill(cap), false))
            })
            .flatten();
        let Some((m, refill, unstored)) = hit else {
            return Ack::NotHeld;
        };
        let outcome = if m.is_some() || unstored {
            Ack::Done
        } else {
            Ack::Already
        };
        if let Some(m) = m {
            st.note_acked();
            self.delete_in_background(&st, user, id).await;
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

    /// Queues the store delete of an acknowledged message (the caller
    /// put it in its queue's `deleting`). It joins the others waiting;
    /// the first one into an empty queue starts a task that removes them
    /// all in one store call (one commit for a whole burst of acks).
    async fn delete_in_background(&self, st: &Arc<ImState>, user: &str, id: &str) {
        st.delete_started();
        if st.queue_delete(user, id) {
            let reaper = reap(Arc::clone(&self.base.store), Arc::clone(st));
            match tokio::runtime::Handle::try_current() {
                Ok(h) => {
                    h.spawn(reaper);
                }
                Err(_) => reaper.await,
            }
        }
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
                let (msgs, sessions) = q.msgs_and_sessions();
                waiting += msgs.len();
                // Notify/get sessions too: GetMessage does not end a
                // message, so one whose GetMessage-Response was lost is
                // announced again, and it does not hold a place in the
                // session's window for ever.
                for sq in sessions.iter_mut() {
                    let stale: Vec<(u64, u64)> = sq
                        .offered
                        .iter()
                        .filter(|(_, o)| now.saturating_sub(o.at) >= after)
                        .map(|(seq, o)| (*seq, o.mark))
                        .collect();
                    for (seq, mark) in stale {
                        match msgs.get(&seq) {
                            // The client has not taken the first copy yet
                            // (a phone whose wake-up was lost): a second one
                            // behind it would reach it twice in one poll.
                            // It is reminded instead.
                            Some(_) if sq.session.still_queued(mark) => {
                                self.base.router.remind(&sq.session.id);
                                sq.offered.insert(seq, Offer { at: now, mark });
                            }
                            Some(m) => {
                                let mark =
                                    offer(self.base.router.as_ref(), sq, m, &self.base.cfg.domain)
                                        .unwrap_or(NOT_QUEUED);
                                sq.offered.insert(seq, Offer { at: now, mark });
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

/// Queues `m` in its delivery mode for `sq`'s session; the session's outbox mark from just
/// before (see [`Offer`]) when it was queued.
fn offer(router: &dyn Router, sq: &SessionQ, m: &StoredMessage, domain: &str) -> Option<u64> {
    let v = sq.session.version;
    let mark = sq.session.outbox_mark();
    let body = if sq.notify {
        notification(m, domain).to_element(v)
    } else {
        new_message(m, domain).to_element(v)
    };
    router.to_session(&sq.session.id, body).then_some(mark)
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
