//! Federation over SSP (issue 17): the core's side of traffic with other
//! IMPS domains, independent of how it travels.
//!
//! The core never speaks HTTP. What goes to another domain is an SSP
//! primitive queued durably in the store ([`crate::store::SspStore`]):
//! putting it there is what lets the core answer its own client 200. The
//! binary's [`Federation`] port is told that something waits and carries
//! it (association, HTTP POST, retries); what arrives from a peer is
//! handed to [`crate::Service::ssp_inbound`] after the binary checked the
//! association it came through.
//!
//! Who may act: every user a peer names as acting (the MetaInfo user, a
//! message's sender) must be of the peer's domain (901 otherwise), and
//! every recipient must be ours (516: no relaying to a third domain).

use std::fmt::Debug;

use imps_wire::Element;
use imps_wire::ssp::{MetaInfo, Mode, SspStatus, SspTransaction, SspUser, service_id};
use imps_wire::ssp_groups::{
    GroupChangeNotice, GroupMessage, GroupOp, GroupRequest, LeaveGroupIndication,
};
use imps_wire::ssp_im::{DeliveryStatusReport, SendMessageRequest, SendMessageResponse, refusal};
use imps_wire::ssp_presence::{
    CancelInviteRequest, GetPresenceRequest, GetPresenceResponse, InviteAnswer, InviteRequest,
    PresenceNotification, SubscribeRequest, UnsubscribeRequest,
};
use imps_wire::ssp_search::{SspSearchRequest, SspSearchResponse};

use crate::CoreError;
use crate::base::Base;
use crate::im::PreparedMessage;
use crate::store::{InboundSsp, InboundTaken, NewSspItem, SspPut};

/// What the binary gives the core to reach other domains.
pub trait Federation: Send + Sync + Debug + 'static {
    /// Whether `domain` (lower case) is a peer we route to.
    fn is_peer(&self, domain: &str) -> bool;
    /// Most transactions waiting for one peer; past it a send is refused
    /// (an answer to the peer's request may take as many again).
    fn queue_max(&self) -> u64;
    /// Something was queued for `domain`: send it soon. Must not block.
    fn queued(&self, domain: &str);
    /// How long a client request that needs a peer's answer (GetPresence
    /// of a remote user) waits for it, in milliseconds.
    fn answer_wait_ms(&self) -> u64 {
        10_000
    }
    /// The peers a search goes to (SRC-UC): those whose association is
    /// up or may be made, not one that failed just now.
    fn search_peers(&self) -> Vec<String>;
    /// Finds out which of `domains` (lower case, none of them ours) are
    /// peers before a request naming them is carried out: a port that
    /// discovers peers (DNS SRV) looks them up here, so that
    /// [`Federation::is_peer`], which must answer at once, knows them.
    /// Returns within the port's lookup timeout.
    fn discover<'a>(&'a self, domains: &'a [String]) -> PeerLookup<'a> {
        let _ = domains;
        Box::pin(std::future::ready(()))
    }
}

/// What [`Federation::discover`] returns.
pub type PeerLookup<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>>;

/// Most foreign domains one request has looked up (a request naming more
/// is carried out with those it names first).
const MAX_LOOKUPS: usize = 8;

/// The domains other than `own` that the user and group IDs of a
/// request's body name (lower case, each once, at most [`MAX_LOOKUPS`]).
pub(crate) fn foreign_domains(body: &Element, own: &str) -> Vec<String> {
    fn walk(e: &Element, own: &str, out: &mut Vec<String>) {
        if out.len() >= MAX_LOOKUPS {
            return;
        }
        if matches!(e.name.as_str(), "UserID" | "GroupID")
            && let Some((_, d)) = e.text.trim().rsplit_once('@')
        {
            let d = d.to_ascii_lowercase();
            if !d.is_empty() && d != own && !out.contains(&d) {
                out.push(d);
            }
        }
        for c in &e.children {
            walk(c, own, out);
        }
    }
    let mut out = Vec::new();
    walk(body, &own.to_ascii_lowercase(), &mut out);
    out
}

/// What became of a transaction from a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SspOutcome {
    /// Taken (and its response, if any, queued).
    Done,
    /// Refused with this status (the refusal is queued for the peer).
    Refused(u16),
}

impl Base {
    /// Has the federation port look up the foreign domains `body` names
    /// (peer discovery) before the request is carried out.
    pub(crate) async fn discover_peers(&self, body: &Element) {
        if let Some(f) = self.cfg.federation.as_ref() {
            let domains = foreign_domains(body, &self.cfg.domain);
            if !domains.is_empty() {
                f.discover(&domains).await;
            }
        }
    }

    /// Whether `domain` is served by a configured peer.
    pub(crate) fn is_peer_domain(&self, domain: &str) -> bool {
        self.cfg
            .federation
            .as_ref()
            .is_some_and(|f| f.is_peer(&domain.to_ascii_lowercase()))
    }

    /// Our own MetaInfo: the server acts (`user` None) or one of our
    /// users does.
    pub(crate) fn ssp_meta(&self, user: Option<&str>) -> MetaInfo {
        MetaInfo {
            client_originated: user.is_some(),
            service_id: service_id(&self.cfg.domain),
            user: user.map(|u| SspUser {
                user_id: crate::users::wire_user(u, &self.cfg.domain),
                friendly_name: None,
                client_id: None,
            }),
        }
    }

    /// The canonical ID of a wire UserID: the bare local ID for one of
    /// ours, `user@domain` (lower case) for a user of a peer domain; any
    /// other domain is refused (516).
    pub(crate) fn canonical_party(&self, wire: &str) -> Result<String, CoreError> {
        match crate::users::canonical_user(wire, &self.cfg.domain) {
            Err(CoreError::DomainNotSupported(d)) if self.is_peer_domain(&d) => {
                let id = imps_wire::ssp::normalize_id(wire)
                    .ok_or_else(|| CoreError::BadParameter(format!("invalid user ID {wire:?}")))?;
                let bare = id.strip_prefix("wv:").unwrap_or(&id).to_ascii_lowercase();
                let user = bare.rsplit_once('@').map_or("", |(u, _)| u);
                crate::users::validate_user_part(user)?;
                Ok(bare)
            }
            other => other,
        }
    }

    /// The TransactionID our request with queue ID `id` goes out under.
    pub(crate) fn ssp_tid(id: u64) -> String {
        format!("{id:010}")
    }

    /// `primitive` as a transaction for `peer`, to be queued: a request
    /// (`tid` None) or the response to the peer's transaction `tid`.
    /// Without federation, 516.
    pub(crate) fn ssp_item(
        &self,
        peer: &str,
        tid: Option<&str>,
        primitive: &Element,
    ) -> Result<NewSspItem, CoreError> {
        let peer = peer.to_ascii_lowercase();
        if self.cfg.federation.is_none() {
            return Err(CoreError::DomainNotSupported(peer));
        }
        Ok(NewSspItem {
            peer,
            response: tid.is_some(),
            transaction_id: tid.map(str::to_string),
            body: imps_wire::xml::encode(primitive),
            created_ms: self.now_ms(),
        })
    }

    /// Most of our requests that may wait for one peer (0 without
    /// federation: nothing may).
    pub(crate) fn ssp_queue_max(&self) -> u64 {
        self.cfg.federation.as_ref().map_or(0, |f| f.queue_max())
    }

    /// Wakes the sender for `peer`, whose queue was added to by a store
    /// step of its own (a message stored with its remote transactions).
    pub(crate) fn ssp_queued(&self, peer: &str) {
        if let Some(f) = self.cfg.federation.as_ref() {
            f.queued(peer);
        }
    }

    /// Queues `primitive` for `peer` durably: a request (`tid` None) or
    /// the response to the peer's transaction `tid`. Returns its queue ID
    /// (a request goes out under [`Base::ssp_tid`] of it).
    pub(crate) async fn queue_ssp(
        &self,
        peer: &str,
        tid: Option<&str>,
        primitive: &Element,
    ) -> Result<u64, CoreError> {
        let item = self.ssp_item(peer, tid, primitive)?;
        let peer = item.peer.clone();
        let Some(f) = self.cfg.federation.as_ref() else {
            return Err(CoreError::DomainNotSupported(peer));
        };
        // An answer to the peer's request has a room as large again on
        // top of the bound of our own requests: the peer's requests are
        // never refused because ours (or earlier answers) filled the
        // queue. The binary refuses a POST whose answers would not fit
        // before anything in it is done.
        let max = if tid.is_some() {
            f.queue_max().saturating_mul(2)
        } else {
            f.queue_max()
        };
        match self.store.put_ssp(item, max).await? {
            SspPut::Queued(id) => {
                f.queued(&peer);
                Ok(id)
            }
            SspPut::Full => {
                tracing::warn!(peer = %peer, "SSP queue for the peer is full; refused");
                Err(CoreError::ImQueueFull(format!("wv:@{peer}")))
            }
        }
    }
}

/// A transaction of a peer's POST, with what it is remembered under once
/// carried out (`None`: not remembered, as for an answer).
#[derive(Debug)]
pub struct InboundTx<'a> {
    pub tx: &'a SspTransaction,
    pub key: Option<String>,
}

/// What became of the transactions of a POST
/// ([`crate::Service::ssp_inbound_post`]).
#[derive(Debug, Default)]
pub struct PostOutcome {
    /// Of each transaction carried out, what became of it (in the order
    /// they were finished, which may differ from the POST's).
    pub outcomes: Vec<SspOutcome>,
    /// Why the transactions after those were not carried out (the store
    /// failed): the peer must send the POST again.
    pub failed: Option<CoreError>,
}

/// A message of a POST checked and waiting for the store with the
/// others gathered since the POST's last other request.
struct Gathered<'a> {
    tx: &'a SspTransaction,
    key: Option<String>,
    prepared: PreparedMessage,
}

/// A gathered message the batch's store transaction did not take, for
/// [`crate::Service::ssp_write_gathered`] to deal with after it.
enum Alone<'a> {
    /// Carried out alone (a recipient's queue full).
    Again(Gathered<'a>),
    /// Refused alone: another message is stored under its MessageID.
    IdTaken(Gathered<'a>),
    /// No room for its answer: neither it nor those after it now.
    NoRoom,
}

/// Whether `tx` is a peer's message to our users (not to a group).
fn is_plain_message(tx: &SspTransaction) -> bool {
    tx.mode == Mode::Request
        && tx.primitive.name == SendMessageRequest::NAME
        && !GroupMessage::is_group(&tx.primitive)
}

impl crate::Service {
    /// The transactions of one POST from the server of `peer` (whose
    /// association the binary has checked), in order, none of them sent
    /// before (the binary skips those). Its messages to our users, their
    /// answers and their keys are written in one store transaction
    /// ([`crate::store::SspStore::ssp_take_inbound`]) per run of messages
    /// between other requests (so one for a POST of messages only);
    /// every other request is carried out alone, as by
    /// [`crate::Service::ssp_inbound`], after the messages before it are
    /// written, and the keys of those are written at the end. Answers
    /// (Response mode) write nothing and do not break a run. Whatever is
    /// reported carried out is in the store when this returns, its
    /// answer queued; the messages are offered to their recipients only
    /// once written.
    pub async fn ssp_inbound_post(&self, peer: &str, txs: Vec<InboundTx<'_>>) -> PostOutcome {
        let peer = peer.to_ascii_lowercase();
        let mut done = PostOutcome::default();
        let mut gathered: Vec<Gathered<'_>> = Vec::new();
        // Keys of requests carried out alone, not yet written.
        let mut loose: Vec<String> = Vec::new();
        for InboundTx { tx, key } in txs {
            // (One that does not decode is refused alone, below.)
            if is_plain_message(tx)
                && let Ok(req) = SendMessageRequest::from_element(&tx.primitive)
            {
                match self.im.ssp_prepare_message(&peer, req).await {
                    Ok(Some(prepared)) => {
                        gathered.push(Gathered { tx, key, prepared });
                        continue;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        done.failed = Some(e);
                        break;
                    }
                }
            }
            if tx.mode == Mode::Request
                && let Err(e) = self
                    .ssp_write_gathered(&peer, &mut gathered, &mut done, &mut loose)
                    .await
            {
                done.failed = Some(e);
                break;
            }
            match self.ssp_inbound(&peer, tx).await {
                Ok(o) => {
                    done.outcomes.push(o);
                    loose.extend(key);
                }
                Err(e) => {
                    done.failed = Some(e);
                    break;
                }
            }
        }
        // What was gathered comes before any failure: written either way.
        if let Err(e) = self
            .ssp_write_gathered(&peer, &mut gathered, &mut done, &mut loose)
            .await
        {
            done.failed.get_or_insert(e);
        }
        if let Err(e) = self
            .base
            .store
            .ssp_mark_handled(&peer, &loose, self.base.now_ms())
            .await
        {
            // The work is done: answering "retry" would have the peer
            // send it again and have it done twice. Only a later resend
            // (a lost answer) is not recognised now.
            tracing::warn!(peer = %peer, error = %e, "handled SSP transactions not remembered; a resend of this POST would be carried out again");
        }
        done
    }

    /// Writes the gathered messages of a POST, their answers and keys in
    /// one store transaction, then offers the messages. One the store
    /// could not take so (a recipient's queue full, no room for its
    /// answer) is carried out alone afterwards, as by
    /// [`crate::Service::ssp_inbound`].
    async fn ssp_write_gathered(
        &self,
        peer: &str,
        gathered: &mut Vec<Gathered<'_>>,
        done: &mut PostOutcome,
        loose: &mut Vec<String>,
    ) -> Result<(), CoreError> {
        if gathered.is_empty() {
            return Ok(());
        }
        let base = &self.base;
        let Some(f) = base.cfg.federation.as_ref() else {
            return Err(CoreError::DomainNotSupported(peer.to_string()));
        };
        let now = base.now_ms();
        let mut batch = std::mem::take(gathered);
        let items: Vec<InboundSsp> = batch
            .iter_mut()
            .map(|g| InboundSsp {
                message: g.prepared.stored.take(),
                answer: NewSspItem {
                    peer: peer.to_string(),
                    response: true,
                    transaction_id: Some(g.tx.transaction_id.clone()),
                    body: imps_wire::xml::encode(
                        &SendMessageResponse {
                            message_id: g.prepared.message_id.clone(),
                            status: g.prepared.status.clone(),
                        }
                        .to_element(),
                    ),
                    created_ms: now,
                },
                key: g.key.clone(),
            })
            .collect();
        // The rows stored, to offer once written.
        let messages: Vec<Option<crate::store::NewStoredMessage>> =
            items.iter().map(|i| i.message.clone()).collect();
        let since = now.saturating_sub(base.cfg.im.dedupe_window_secs.saturating_mul(1000));
        // As in `queue_ssp`: answers have room as large again as our own
        // requests.
        let max = f.queue_max().saturating_mul(2);
        let taken = base
            .store
            .ssp_take_inbound(peer, items, since, max, now)
            .await?;
        let mut entries = Vec::new();
        let mut alone = Vec::new();
        let mut queued = false;
        for ((g, m), t) in batch.into_iter().zip(messages).zip(taken) {
            match t {
                InboundTaken::Stored(seqs) => {
                    if let Some(m) = m {
                        entries.extend(PreparedMessage::entries(m, seqs));
                    }
                }
                InboundTaken::Duplicate(_) => {}
                InboundTaken::OverQuota(_) => {
                    alone.push(Alone::Again(g));
                    continue;
                }
                InboundTaken::IdTaken(_) => {
                    alone.push(Alone::IdTaken(g));
                    continue;
                }
                InboundTaken::NoRoom => {
                    alone.push(Alone::NoRoom);
                    continue;
                }
            }
            queued = true;
            let code = g.prepared.status.code;
            done.outcomes.push(if code < 300 {
                SspOutcome::Done
            } else {
                SspOutcome::Refused(code)
            });
        }
        if queued {
            f.queued(peer);
        }
        self.im.enqueue(entries).await;
        // In order. Over a recipient's quota: refused (or stored for the
        // others) as alone. No room for the answer: neither it nor those
        // after it (which had none either) are carried out, and the peer
        // sends them again.
        for a in alone {
            let (o, key) = match a {
                Alone::NoRoom => {
                    tracing::warn!(peer = %peer, "SSP queue for the peer is full; its requests wait");
                    return Err(CoreError::ImQueueFull(format!("wv:@{peer}")));
                }
                Alone::Again(g) => (self.ssp_inbound(peer, g.tx).await?, g.key),
                Alone::IdTaken(g) => {
                    let id = g.prepared.message_id;
                    let status = crate::im::id_taken(peer, &id);
                    let code = status.code;
                    let reply = SendMessageResponse {
                        message_id: id,
                        status,
                    }
                    .to_element();
                    base.queue_ssp(peer, Some(&g.tx.transaction_id), &reply)
                        .await?;
                    (SspOutcome::Refused(code), g.key)
                }
            };
            done.outcomes.push(o);
            loose.extend(key);
        }
        Ok(())
    }

    /// One transaction from the server of `peer`, whose association the
    /// binary has checked. A request is carried out and its response (or
    /// refusal) queued for the peer; a response is taken note of. `Err`
    /// only when we could not take it at all (the store failed): the peer
    /// must send it again.
    pub async fn ssp_inbound(
        &self,
        peer: &str,
        tx: &SspTransaction,
    ) -> Result<SspOutcome, CoreError> {
        let peer = peer.to_ascii_lowercase();
        let base = &self.base;
        let p = &tx.primitive;
        if tx.mode == Mode::Response {
            if self.groups.ssp_group_answer(&peer, &tx.transaction_id, p) {
                return Ok(SspOutcome::Done);
            }
            if p.name == SspSearchResponse::NAME {
                match SspSearchResponse::from_element(p) {
                    Ok(r) => self
                        .directory
                        .ssp_search_answer(&peer, &tx.transaction_id, r),
                    Err(e) => {
                        tracing::info!(peer = %peer, error = %e, "unreadable SearchResponse")
                    }
                }
            } else if p.name == GetPresenceResponse::NAME {
                match GetPresenceResponse::from_element(p) {
                    Ok(r) => self
                        .presence
                        .ssp_get_presence_answer(&peer, &tx.transaction_id, r),
                    Err(e) => {
                        tracing::info!(peer = %peer, error = %e, "unreadable GetPresenceResponse")
                    }
                }
            } else {
                ssp_response(&peer, p);
            }
            return Ok(SspOutcome::Done);
        }
        let tid = tx.transaction_id.as_str();
        let status = match p.name.as_str() {
            // A message to a group: up to the host (ours), or down from
            // the host (the peer) to our members.
            SendMessageRequest::NAME if GroupMessage::is_group(p) => {
                match GroupMessage::from_element(p) {
                    Ok(m) => {
                        let id = m.message_id.clone();
                        let hosted_here = imps_wire::ssp::domain_of(&m.group_id)
                            == Some(base.cfg.domain.to_ascii_lowercase().as_str());
                        let status = if hosted_here {
                            self.groups.ssp_group_message_up(&peer, m).await?
                        } else {
                            match self.groups.ssp_group_message_down(&peer, m) {
                                Ok(s) => s,
                                Err(e) => status_of(&e),
                            }
                        };
                        let code = status.code;
                        let reply = SendMessageResponse {
                            message_id: id,
                            status,
                        }
                        .to_element();
                        base.queue_ssp(&peer, Some(tid), &reply).await?;
                        return Ok(if code < 300 {
                            SspOutcome::Done
                        } else {
                            SspOutcome::Refused(code)
                        });
                    }
                    Err(e) => status_of(&CoreError::BadRequest(e.to_string())),
                }
            }
            name if GroupOp::of(name).is_some() => match GroupRequest::from_element(p) {
                Ok(r) => {
                    let reply = self.groups.ssp_group_request(&peer, p, r).await?;
                    let code = reply
                        .child("Status")
                        .and_then(|s| SspStatus::from_element(s).ok())
                        .map_or(200, |s| s.code);
                    base.queue_ssp(&peer, Some(tid), &reply).await?;
                    return Ok(if code < 300 {
                        SspOutcome::Done
                    } else {
                        SspOutcome::Refused(code)
                    });
                }
                Err(e) => status_of(&CoreError::BadRequest(e.to_string())),
            },
            // Pushes from a group's host: no answer.
            GroupChangeNotice::NAME => match GroupChangeNotice::from_element(p) {
                Ok(n) => match self.groups.ssp_group_notice(&peer, n) {
                    Ok(()) => return Ok(SspOutcome::Done),
                    Err(e) => status_of(&e),
                },
                Err(e) => status_of(&CoreError::BadRequest(e.to_string())),
            },
            LeaveGroupIndication::NAME => match LeaveGroupIndication::from_element(p) {
                Ok(n) => match self.groups.ssp_leave_indication(&peer, n).await {
                    Ok(()) => return Ok(SspOutcome::Done),
                    Err(CoreError::Store(e)) => return Err(CoreError::Store(e)),
                    Err(e) => status_of(&e),
                },
                Err(e) => status_of(&CoreError::BadRequest(e.to_string())),
            },
            SendMessageRequest::NAME => match SendMessageRequest::from_element(p) {
                Ok(req) => {
                    let id = req.info.message_id.clone();
                    let status = self.im.ssp_send_message(&peer, req).await?;
                    let code = status.code;
                    let reply = SendMessageResponse {
                        message_id: id,
                        status,
                    }
                    .to_element();
                    base.queue_ssp(&peer, Some(&tx.transaction_id), &reply)
                        .await?;
                    return Ok(if code < 300 {
                        SspOutcome::Done
                    } else {
                        SspOutcome::Refused(code)
                    });
                }
                Err(e) => status_of(&CoreError::BadRequest(e.to_string())),
            },
            DeliveryStatusReport::NAME => match DeliveryStatusReport::from_element(p) {
                // A report needs no answer.
                Ok(r) => match self.im.ssp_delivery_report(&peer, r) {
                    Ok(()) => return Ok(SspOutcome::Done),
                    Err(e) => status_of(&e),
                },
                Err(e) => status_of(&CoreError::BadRequest(e.to_string())),
            },
            SubscribeRequest::NAME => match SubscribeRequest::from_element(p) {
                Ok(r) => {
                    return answer(
                        base,
                        &peer,
                        tid,
                        p,
                        self.presence.ssp_subscribe(&peer, r).await?,
                    )
                    .await;
                }
                Err(e) => status_of(&CoreError::BadRequest(e.to_string())),
            },
            UnsubscribeRequest::NAME => match UnsubscribeRequest::from_element(p) {
                Ok(r) => {
                    return answer(
                        base,
                        &peer,
                        tid,
                        p,
                        self.presence.ssp_unsubscribe(&peer, r).await?,
                    )
                    .await;
                }
                Err(e) => status_of(&CoreError::BadRequest(e.to_string())),
            },
            GetPresenceRequest::NAME => match GetPresenceRequest::from_element(p) {
                Ok(r) => {
                    let resp = self.presence.ssp_get_presence(&peer, r).await?;
                    let code = resp.status.code;
                    base.queue_ssp(&peer, Some(tid), &resp.to_element()).await?;
                    return Ok(if code < 300 {
                        SspOutcome::Done
                    } else {
                        SspOutcome::Refused(code)
                    });
                }
                Err(e) => status_of(&CoreError::BadRequest(e.to_string())),
            },
            SspSearchRequest::NAME => match SspSearchRequest::from_element(p) {
                Ok(r) => {
                    let resp = self.directory.ssp_search(&peer, r).await;
                    let code = resp.status.code;
                    base.queue_ssp(&peer, Some(tid), &resp.to_element()).await?;
                    return Ok(if code < 300 {
                        SspOutcome::Done
                    } else {
                        SspOutcome::Refused(code)
                    });
                }
                Err(e) => status_of(&CoreError::BadRequest(e.to_string())),
            },
            InviteRequest::NAME => match InviteRequest::from_element(p) {
                Ok(r) => {
                    return answer(base, &peer, tid, p, self.groups.ssp_invite(&peer, r).await?)
                        .await;
                }
                Err(e) => status_of(&CoreError::BadRequest(e.to_string())),
            },
            CancelInviteRequest::NAME => match CancelInviteRequest::from_element(p) {
                Ok(r) => {
                    return answer(
                        base,
                        &peer,
                        tid,
                        p,
                        self.groups.ssp_cancel_invite(&peer, r).await?,
                    )
                    .await;
                }
                Err(e) => status_of(&CoreError::BadRequest(e.to_string())),
            },
            // The invitee's answer, a request of its own: no answer unless
            // refused.
            InviteAnswer::NAME => match InviteAnswer::from_element(p) {
                Ok(a) => match self.groups.ssp_invite_answer(&peer, a).await? {
                    s if s.code < 300 => return Ok(SspOutcome::Done),
                    s => s,
                },
                Err(e) => status_of(&CoreError::BadRequest(e.to_string())),
            },
            // A push: no answer.
            PresenceNotification::NAME => match PresenceNotification::from_element(p) {
                Ok(n) => match self.presence.ssp_presence_notification(&peer, n).await {
                    Ok(()) => return Ok(SspOutcome::Done),
                    Err(CoreError::Store(e)) => return Err(CoreError::Store(e)),
                    Err(e) => status_of(&e),
                },
                Err(e) => status_of(&CoreError::BadRequest(e.to_string())),
            },
            other => SspStatus {
                code: 405,
                description: Some(format!("{other} is not understood here")),
                details: Vec::new(),
            },
        };
        tracing::info!(peer = %peer, primitive = %p.name.as_str(), code = status.code, "SSP request refused");
        let code = status.code;
        base.queue_ssp(&peer, Some(&tx.transaction_id), &refusal(p, status))
            .await?;
        Ok(SspOutcome::Refused(code))
    }
}

/// Queues the answer of a request that needs only a Status.
async fn answer(
    base: &Base,
    peer: &str,
    tid: &str,
    request: &Element,
    status: SspStatus,
) -> Result<SspOutcome, CoreError> {
    let code = status.code;
    base.queue_ssp(peer, Some(tid), &refusal(request, status))
        .await?;
    Ok(if code < 300 {
        SspOutcome::Done
    } else {
        SspOutcome::Refused(code)
    })
}

/// A response from a peer to something we sent. A message's success
/// needs nothing more (its sender was told "sent" when it was queued,
/// and its delivery report comes on its own); a failure is logged.
fn ssp_response(peer: &str, p: &Element) {
    match SendMessageResponse::from_element(p) {
        Ok(r) if r.status.code < 300 => {
            tracing::debug!(peer, message = %r.message_id, "peer took the message");
        }
        Ok(r) => tracing::warn!(
            peer, message = %r.message_id, code = r.status.code,
            primitive = %p.name.as_str(), description = ?r.status.description, "peer refused a request"
        ),
        Err(_) => tracing::debug!(peer, primitive = %p.name.as_str(), "SSP response noted"),
    }
}

/// The SSP Status of a core error.
pub(crate) fn status_of(e: &CoreError) -> SspStatus {
    SspStatus {
        code: e.status_code(),
        description: Some(e.description()),
        details: Vec::new(),
    }
}

/// Checks that `meta` and every other acting user named belong to
/// `peer` (901 otherwise).
pub(crate) fn check_actor(peer: &str, meta: &MetaInfo, others: &[&str]) -> Result<(), CoreError> {
    let ok = meta.acts_for(peer)
        && others
            .iter()
            .all(|u| imps_wire::ssp::domain_of(u) == Some(peer));
    if ok {
        Ok(())
    } else {
        Err(CoreError::ForeignActor(peer.to_string()))
    }
}
