//! SendMessage and ForwardMessage: who a message goes to, whether each
//! recipient can get it, storing it durably before saying yes, and handing
//! it to the online recipients' sessions.
//!
//! Per recipient, in this order: the ID is ours and registered (else 531);
//! the recipient does not block the sender (else 531 too, word for word,
//! so a blocked sender cannot tell "blocks me" from "does not exist");
//! a message aimed at one client needs that client online (else 533),
//! unless the sender may not see the recipient's OnlineStatus: then it is
//! checked as if aimed at the user and waits for that client (PRI-1);
//! with offline storage off, the user needs a session (else 533); and a
//! recipient whose every session is too small for the message, or refuses
//! its type, refuses it (GEN-7, GEN-10: 402 / 415). One recipient: its
//! error is the answer. Several: 200 when all got it, 201 with a
//! DetailedResult per refused recipient when some did, and when none did,
//! their common code (or 900) with the details.

use super::ImService;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use imps_wire::ssp::domain_of;
use imps_wire::{Element, Transaction, Version};

use super::deliver::Early;
use super::message::{self, RecipientSpec};
use super::order::{SendOrder, Turn};
use super::policy::{check_content, fits_body};
use super::state::PathCounts;
use crate::CoreError;
use crate::reply::result;
use crate::service::Outcome;
use crate::session::Session;
use crate::store::{
    MessageBody, NewSspItem, NewStoredMessage, PutOutcome, RecipientQuota, StoredMessage,
};
use crate::users::{canonical_user, wire_user};

/// A message on its way in.
pub(crate) struct Outgoing {
    pub sender: String,
    pub body: MessageBody,
    pub delivery_report: bool,
    pub client_ref: Option<String>,
    pub validity_secs: Option<u64>,
    /// The MessageID to store it under: a message from another domain
    /// keeps the one its sender's server gave it. `None`: a new one.
    pub fixed_id: Option<String>,
}

/// A recipient that did not get the message.
pub(crate) struct Refusal {
    pub wire: String,
    pub err: CoreError,
}

/// What happened to a send. `id` is `None` when no recipient took it.
pub(crate) struct Sent {
    pub id: Option<String>,
    pub refused: Vec<Refusal>,
    pub charged: bool,
}

impl ImService {
    pub(crate) async fn send_message(
        &self,
        s: &Arc<Session>,
        tx: &Transaction,
        order: Option<&SendOrder>,
    ) -> Result<Outcome, CoreError> {
        let req = &tx.body;
        message::check_sender(req, &s.user, &self.base.cfg.domain)?;
        let body = message::body_of(req)?;
        let _slot = self.admit_send()?;
        self.base.charge_send(&s.user)?;
        // Its place among the connection's sends, taken before anything
        // here waits (see `order.rs`).
        let mut turn = match order {
            Some(o) => Some(o.turn().await),
            None => None,
        };
        let info = req.child("MessageInfo");
        let out = Outgoing {
            sender: s.user.clone(),
            body,
            delivery_report: req.child_bool("DeliveryReport").unwrap_or(false),
            client_ref: info
                .and_then(|i| i.child_text("MessageID"))
                .filter(|r| !r.is_empty())
                .map(str::to_string),
            validity_secs: info.and_then(|i| i.child_u64("Validity")),
            fixed_id: None,
        };
        let rcpt = info
            .and_then(|i| i.child("Recipient"))
            .ok_or_else(|| CoreError::BadRequest("MessageInfo without Recipient".into()))?;
        let sent = self.deliver_new(out, rcpt, &mut turn).await?;
        Ok(Outcome::Reply(
            Element::new("SendMessage-Response")
                .with(sent_result(&sent))
                .with_opt(sent.id.map(|id| Element::text("MessageID", id))),
        ))
    }

    /// ForwardMessage: a message waiting for the requester goes to other
    /// recipients instead, under the requester's name; the original entry
    /// ends (the original sender's report says 541). 1.3 answers
    /// ForwardMessage-Response with the new MessageID, older versions
    /// Status.
    pub(crate) async fn forward_message(
        &self,
        s: &Arc<Session>,
        tx: &Transaction,
    ) -> Result<Outcome, CoreError> {
        let req = &tx.body;
        let id = req
            .child_text("MessageID")
            .filter(|i| !i.is_empty())
            .ok_or_else(|| {
                CoreError::BadRequest("ForwardMessage-Request without MessageID".into())
            })?;
        let rcpt = req.child("Recipient").ok_or_else(|| {
            CoreError::BadRequest("ForwardMessage-Request without Recipient".into())
        })?;
        let original = self
            .base
            .store
            .pending_message(&s.user, id)
            .await?
            .filter(|m| super::deliver::targets(m, s))
            .ok_or_else(|| CoreError::ImUnknownMessage(id.to_string()))?;
        let _slot = self.admit_send()?;
        self.base.charge_send(&s.user)?;
        let out = Outgoing {
            sender: s.user.clone(),
            body: (*original.body).clone(),
            delivery_report: false,
            client_ref: None,
            validity_secs: None,
            fixed_id: None,
        };
        let sent = self.deliver_new(out, rcpt, &mut None).await?;
        if sent.id.is_some() {
            // The copy is out (durably); only now does the original end, so
            // a crash in between repeats the message rather than losing it.
            self.finish_message(&s.user, id, super::deliver::Fate::Forwarded)
                .await?;
        }
        let res = sent_result(&sent);
        Ok(Outcome::Reply(if s.version >= Version::V1_3 {
            Element::new("ForwardMessage-Response")
                .with(res)
                .with_opt(sent.id.map(|id| Element::text("MessageID", id)))
        } else {
            crate::reply::status_with(res)
        }))
    }

    /// Checks a message and its recipients, stores it, and offers it. An
    /// error means nothing was stored. `turn`, the send's place in its
    /// connection's order, is given up as soon as the message is offered
    /// or stored (the wait for its acknowledgement is not in the order).
    pub(crate) async fn deliver_new(
        &self,
        out: Outgoing,
        rcpt: &Element,
        turn: &mut Option<Turn<'_>>,
    ) -> Result<Sent, CoreError> {
        let cfg = &self.base.cfg.im;
        let charged = check_content(cfg, &out.body)?;
        let (accepted, mut refused, remote) = self.resolve_recipients(&out, rcpt).await?;
        if accepted.is_empty() && remote.is_empty() {
            return nobody_took(refused, charged);
        }
        let now = self.base.now_ms();
        let validity = match (out.validity_secs, cfg.max_validity_secs) {
            (Some(v), 0) => Some(v),
            (Some(v), max) => Some(v.min(max)),
            (None, 0) => None,
            (None, max) => Some(max),
        };
        let id = match &out.fixed_id {
            Some(id) => id.clone(),
            None => self.message_ids.next(self.base.now_ms()),
        };
        // Recipients of other domains: one SSP transaction per peer
        // domain naming all of its recipients (the peer stores the
        // message once, under its MessageID, for them all; one per
        // recipient would carry the same text once for each), queued
        // durably in the same store step as the
        // message and its client reference, before the sender hears
        // "sent" (issue 17): a retry recognised by the reference queues
        // none of them twice.
        let had_remote = !remote.is_empty();
        let mut by_peer: Vec<(String, Vec<String>)> = Vec::new();
        for r in remote {
            let Some(peer) = domain_of(&r).map(str::to_ascii_lowercase) else {
                refused.push(Refusal {
                    err: CoreError::BadParameter(r.clone()),
                    wire: r,
                });
                continue;
            };
            match by_peer.iter_mut().find(|(p, _)| *p == peer) {
                Some((_, rs)) => rs.push(r),
                None => by_peer.push((peer, vec![r])),
            }
        }
        let mut remote_items: Vec<(Vec<String>, NewSspItem)> = Vec::with_capacity(by_peer.len());
        for (_, rs) in by_peer {
            match self.remote_item(&out, &id, now, &rs) {
                Ok(item) => remote_items.push((rs, item)),
                Err(err) => {
                    let why = err.to_string();
                    let mut rs = rs.into_iter();
                    if let Some(first) = rs.next() {
                        refused.push(Refusal { wire: first, err });
                    }
                    for wire in rs {
                        refused.push(Refusal {
                            wire,
                            err: CoreError::BadParameter(why.clone()),
                        });
                    }
                }
            }
        }
        if accepted.is_empty() && remote_items.is_empty() {
            return nobody_took(refused, charged);
        }
        let sender_name = self.sender_name(&out.sender).await?;
        let quota = (cfg.offline_quota_messages > 0 || cfg.offline_quota_bytes > 0).then_some(
            RecipientQuota {
                max_messages: cfg.offline_quota_messages,
                max_bytes: cfg.offline_quota_bytes,
            },
        );
        let since = now.saturating_sub(cfg.dedupe_window_secs * 1000);
        let expires_ms = validity.map(|v| now.saturating_add(v.saturating_mul(1000)));
        let body = Arc::new(out.body);
        // One local recipient, online and caught up: pushed first, and
        // acknowledged within `im.ack_window_ms` it is never written. Not
        // for a message that must be found again later: a client
        // MessageID (a retry is recognised by its stored reference), a
        // delivery report (it names a stored entry), or one from another
        // domain (its server's retry is recognised by its MessageID).
        let mut early: Option<(StoredMessage, Arc<AtomicBool>)> = None;
        if let [(recipient, target_client)] = accepted.as_slice()
            && !had_remote
            && out.client_ref.is_none()
            && !out.delivery_report
            && out.fixed_id.is_none()
        {
            let m = StoredMessage {
                seq: 0,
                id: id.clone(),
                recipient: recipient.clone(),
                target_client: target_client.clone(),
                sender: out.sender.clone(),
                sender_name: sender_name.clone(),
                delivery_report: false,
                created_ms: now,
                expires_ms,
                body: Arc::clone(&body),
            };
            match self.push_early(&m, turn).await {
                Early::Acked => {
                    return Ok(Sent {
                        id: Some(id),
                        refused,
                        charged,
                    });
                }
                Early::Unacked(late) => early = Some((m, late)),
                Early::NotPushed => {}
            }
        }
        let mut recipients = accepted;
        // A recipient whose queue is full is refused (507) and the put is
        // tried again without them: the store takes a message whole or
        // not at all.
        let seqs = loop {
            let msg = NewStoredMessage {
                id: id.clone(),
                sender: out.sender.clone(),
                sender_name: sender_name.clone(),
                delivery_report: out.delivery_report,
                created_ms: now,
                expires_ms,
                body: (*body).clone(),
                recipients: recipients.clone(),
                client_ref: out.client_ref.clone(),
                quota,
                remote: remote_items.iter().map(|(_, i)| i.clone()).collect(),
                remote_max: self.base.ssp_queue_max(),
            };
            let put = match self.base.store.put_message(msg, since).await {
                Ok(p) => p,
                Err(e) => {
                    if let Some((m, _)) = &early {
                        self.drop_early(&m.recipient, &m.id);
                    }
                    return Err(e.into());
                }
            };
            match put {
                PutOutcome::Duplicate(existing) => {
                    tracing::debug!(sender = %out.sender, id = %existing, "retried send recognised");
                    return Ok(Sent {
                        id: Some(existing),
                        refused,
                        charged,
                    });
                }
                PutOutcome::OverQuota(full) => {
                    tracing::info!(sender = %out.sender, recipients = ?full, "message refused: recipient queue full");
                    if let Some((m, late)) = early.take() {
                        // Pushed early and not stored: acknowledged while
                        // the write was tried, it was delivered.
                        self.drop_early(&m.recipient, &m.id);
                        if late.load(Ordering::SeqCst) {
                            return Ok(Sent {
                                id: Some(id),
                                refused,
                                charged,
                            });
                        }
                    }
                    recipients.retain(|(u, _)| !full.contains(u));
                    for u in full {
                        let wire = wire_user(&u, &self.base.cfg.domain);
                        refused.push(Refusal {
                            err: CoreError::ImQueueFull(wire.clone()),
                            wire,
                        });
                    }
                    if recipients.is_empty() && remote_items.is_empty() {
                        return nobody_took(refused, charged);
                    }
                }
                PutOutcome::PeerFull(peers) => {
                    tracing::warn!(sender = %out.sender, peers = ?peers, "message refused for peer domains: SSP queue full");
                    remote_items.retain(|(wires, item)| {
                        if !peers.contains(&item.peer) {
                            return true;
                        }
                        for wire in wires {
                            refused.push(Refusal {
                                wire: wire.clone(),
                                err: CoreError::ImQueueFull(format!("wv:@{}", item.peer)),
                            });
                        }
                        false
                    });
                    if recipients.is_empty() && remote_items.is_empty() {
                        return nobody_took(refused, charged);
                    }
                }
                PutOutcome::Stored(seqs) => {
                    let written = seqs.iter().filter(|s| **s != 0).count();
                    PathCounts::add(&self.state.counts.stored, written as u64);
                    break seqs;
                }
            }
        };
        let mut woken: Vec<&str> = Vec::new();
        for (_, item) in &remote_items {
            if !woken.contains(&item.peer.as_str()) {
                woken.push(&item.peer);
                self.base.ssp_queued(&item.peer);
            }
        }
        if let Some((mut m, late)) = early {
            m.seq = seqs.first().copied().unwrap_or_default();
            self.stored_early(m, &late).await;
            return Ok(Sent {
                id: Some(id),
                refused,
                charged,
            });
        }
        let entries = recipients
            .into_iter()
            .zip(seqs)
            // 0: a peer's message that waited for them already
            // (`PutOutcome::Stored`).
            .filter(|(_, seq)| *seq != 0)
            .map(|((recipient, target_client), seq)| StoredMessage {
                seq,
                id: id.clone(),
                recipient,
                target_client,
                sender: out.sender.clone(),
                sender_name: sender_name.clone(),
                delivery_report: out.delivery_report,
                created_ms: now,
                expires_ms,
                body: Arc::clone(&body),
            })
            .collect();
        self.enqueue(entries).await;
        Ok(Sent {
            id: Some(id),
            refused,
            charged,
        })
    }

    /// Expands contact lists and applies the per-recipient checks (see
    /// the module doc). Returns (user, aimed-at client) pairs, refusals,
    /// and the recipients of peer domains (`wv:user@domain`), whose own
    /// servers check them.
    pub(super) async fn resolve_recipients(
        &self,
        out: &Outgoing,
        rcpt: &Element,
    ) -> Result<Resolved, CoreError> {
        let domain = &self.base.cfg.domain;
        let mut wanted: Vec<(String, Option<String>)> = Vec::new();
        let mut refused = Vec::new();
        for spec in message::recipients(rcpt) {
            match spec {
                RecipientSpec::User { wire, client } => wanted.push((wire, client)),
                RecipientSpec::ContactList(list) => {
                    match self.lists.list_members(&out.sender, &list).await? {
                        Some(members) => wanted.extend(members.into_iter().map(|m| (m, None))),
                        None => refused.push(Refusal {
                            wire: list.clone(),
                            err: CoreError::ListNotFound(list),
                        }),
                    }
                }
                // A SendMessage to groups never comes here (dispatch sends
                // it to the groups area); a ForwardMessage to a group does.
                RecipientSpec::Group(_) => {
                    return Err(CoreError::NotImplemented("forwarding to a group".into()));
                }
            }
        }
        if wanted.is_empty() && refused.is_empty() {
            return Err(CoreError::BadRequest("no recipient".into()));
        }
        let mut accepted: Vec<(String, Option<String>)> = Vec::new();
        let mut remote: Vec<String> = Vec::new();
        for (wire, client) in wanted {
            let user = match canonical_user(&wire, domain) {
                Ok(u) => u,
                Err(CoreError::DomainNotSupported(d)) if self.base.is_peer_domain(&d) => {
                    match imps_wire::ssp::normalize_id(&wire) {
                        Some(id) if !remote.contains(&id) => remote.push(id),
                        Some(_) => {}
                        None => refused.push(Refusal {
                            err: CoreError::BadParameter(format!("invalid user ID {wire:?}")),
                            wire,
                        }),
                    }
                    continue;
                }
                Err(err) => {
                    refused.push(Refusal { wire, err });
                    continue;
                }
            };
            if accepted.iter().any(|(u, _)| *u == user) {
                continue;
            }
            if accepted.len() >= self.base.cfg.im.max_recipients {
                return Err(CoreError::BadParameter(format!(
                    "more than {} recipients",
                    self.base.cfg.im.max_recipients
                )));
            }
            match self.check_recipient(out, &user, client.as_deref()).await? {
                Ok(()) => accepted.push((user, client)),
                Err(err) => refused.push(Refusal {
                    wire: wire_user(&user, domain),
                    err,
                }),
            }
        }
        if accepted.len() + remote.len() > self.base.cfg.im.max_recipients {
            return Err(CoreError::BadParameter(format!(
                "more than {} recipients",
                self.base.cfg.im.max_recipients
            )));
        }
        Ok((accepted, refused, remote))
    }

    /// The per-recipient checks. The outer error is a failure of ours;
    /// the inner one this recipient's refusal.
    async fn check_recipient(
        &self,
        out: &Outgoing,
        user: &str,
        client: Option<&str>,
    ) -> Result<Result<(), CoreError>, CoreError> {
        let st = self.im();
        let unknown = || CoreError::UnknownUser(wire_user(user, &self.base.cfg.domain));
        if !st.is_known_user(user) {
            if !self.base.user_exists(user).await? {
                return Ok(Err(unknown()));
            }
            st.remember_user(user);
        }
        if user != out.sender && self.lists.blocks(user, &out.sender).await? {
            return Ok(Err(unknown()));
        }
        // PRI-1: a sender who may not know whether the recipient is online
        // must not learn it from a message aimed at one client. Such a
        // message is answered like one aimed at the user, and waits for
        // that client (or its expiry) in the store.
        let client = match client {
            Some(_) if !self.presence.may_see_online(user, &out.sender).await? => {
                tracing::debug!(
                    recipient = user,
                    "client-aimed message answered as user-aimed (sender may not see OnlineStatus)"
                );
                None
            }
            other => other,
        };
        let sessions: Vec<Arc<Session>> = self
            .base
            .sessions
            .of_user(user)
            .into_iter()
            .filter(|s| client.is_none_or(|c| s.client_key() == c))
            .collect();
        if sessions.is_empty() && (client.is_some() || !self.base.cfg.im.offline_storage) {
            let who = match client {
                Some(c) => format!("{} (client {c})", wire_user(user, &self.base.cfg.domain)),
                None => wire_user(user, &self.base.cfg.domain),
            };
            return Ok(Err(CoreError::ImRecipientNotLoggedIn(who)));
        }
        // GEN-7, GEN-10: online, and no session of theirs can take it.
        let mut first_err = None;
        for s in &sessions {
            match fits_body(s, st.client_content(&s.id).as_deref(), &out.body) {
                Ok(()) => return Ok(Ok(())),
                Err(e) => first_err = first_err.or(Some(e)),
            }
        }
        Ok(first_err.map_or(Ok(()), Err))
    }
}

/// Local recipients with the client aimed at, refusals, and recipients
/// of peer domains.
type Resolved = (Vec<(String, Option<String>)>, Vec<Refusal>, Vec<String>);

/// How long a sender's friendly name is reused without reading it again:
/// a renamed user shows the new name within this time.
const NAME_CACHE_MS: u64 = 5_000;

impl ImService {
    /// The sender's friendly name (IMR-8), from a short-lived cache.
    pub(super) async fn sender_name(&self, user: &str) -> Result<Option<String>, CoreError> {
        let st = self.im();
        let now = self.base.now_ms();
        if let Some(n) = st.cached_name(user, now, NAME_CACHE_MS) {
            return Ok(n);
        }
        let n = self.base.friendly_name(user).await?;
        st.cache_name(user, n.clone(), now);
        Ok(n)
    }
}

/// No recipient took the message: with one recipient its refusal is the
/// answer, with several the details go into the Result.
pub(super) fn nobody_took(mut refused: Vec<Refusal>, charged: bool) -> Result<Sent, CoreError> {
    if refused.len() == 1
        && let Some(f) = refused.pop()
    {
        return Err(f.err);
    }
    Ok(Sent {
        id: None,
        refused,
        charged,
    })
}

/// The Result of a send: 200, 201 with a DetailedResult per refused
/// recipient, or (nobody took it) their common code or 900, with details.
fn sent_result(sent: &Sent) -> Element {
    if sent.id.is_none() {
        let first = sent
            .refused
            .first()
            .map(|f| f.err.status_code())
            .unwrap_or(900);
        let same = sent.refused.iter().all(|f| f.err.status_code() == first);
        let top = if same {
            result(first, "No recipient accepted the message")
        } else {
            result(900, "Multiple errors")
        };
        return sent.refused.iter().fold(top, |r, f| r.with(detail(f)));
    }
    if sent.refused.is_empty() {
        return if sent.charged {
            result(200, "Delivered with extra charge (oversize)")
        } else {
            crate::reply::ok_result()
        };
    }
    sent.refused
        .iter()
        .fold(result(201, "Partially successful"), |r, f| {
            r.with(detail(f))
        })
}

fn detail(f: &Refusal) -> Element {
    let e = Element::new("DetailedResult")
        .with_text("Code", f.err.status_code().to_string())
        .with_text("Description", f.err.description());
    match &f.err {
        CoreError::ListNotFound(l) => e.with_text("ContactList", l.clone()),
        _ => e.with_text("UserID", f.wire.clone()),
    }
}

/// Server MessageIDs: the time in milliseconds, then 48 bits that tell
/// apart the IDs of one millisecond.
/// Time first so that IDs sort in the order messages arrive, and the
/// store's index on them grows at one end: random IDs scattered every
/// commit's inserts over the whole index, writing a page per message.
/// The 48 bits are 24 drawn from the OS when the IM service is made (two
/// servers, or one restarted within the same millisecond, differ there)
/// and a 24-bit counter that starts at a random value (one server's IDs
/// differ without a system call each; it wraps after 16.7 million IDs,
/// which no server issues within one millisecond). IDs name a
/// recipient's own entries only, so being guessable in part gives nobody
/// anything; the store refuses a duplicate.
pub(crate) struct MessageIds {
    server: u32,
    counter: std::sync::atomic::AtomicU32,
}

impl MessageIds {
    pub(crate) fn new() -> MessageIds {
        let mut b = [0u8; 6];
        // Without the OS RNG the counter still tells this server's IDs
        // apart; log it and go on.
        if let Err(e) = getrandom::fill(&mut b) {
            tracing::warn!(error = %e, "no OS randomness for the MessageID's server part");
        }
        MessageIds {
            server: u32::from_be_bytes([0, b[0], b[1], b[2]]),
            counter: std::sync::atomic::AtomicU32::new(u32::from_be_bytes([0, b[3], b[4], b[5]])),
        }
    }

    pub(crate) fn next(&self, now_ms: u64) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed) & 0x00ff_ffff;
        format!("m{now_ms:011x}{:06x}{n:06x}", self.server)
    }
}

#[cfg(test)]
mod tests {
    use super::MessageIds;

    #[test]
    fn message_ids_of_one_millisecond_differ_and_keep_their_shape() {
        let ids_of = MessageIds::new();
        let ids: Vec<String> = (0..10_000).map(|_| ids_of.next(0x1_2345_6789)).collect();
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        for id in &ids {
            assert_eq!(id.len(), 24, "{id}");
            assert!(id.starts_with("m0012345678"), "{id}");
            assert!(id[1..].bytes().all(|c| c.is_ascii_hexdigit()), "{id}");
        }
        // The server's part stays; the time part sorts.
        assert_eq!(ids[0][12..18], ids[9_999][12..18]);
        let later = ids_of.next(0x1_2345_678a);
        assert!(later > ids[0], "{later} after {}", ids[0]);
    }
}
