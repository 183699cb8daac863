//! Presence across domains (issue 17, third step).
//!
//! The owner's home server decides everything: a watcher of a peer domain
//! (held as `user@domain`) is one more watcher in the owner's state and
//! in the store, so the same grants, blocks and reactive questions apply
//! to them as to a local one, and what they may see leaves as an SSP
//! `PresenceNotification` in the 1.3 form. On the watcher's side, a
//! subscription to a remote owner is stored like any other (it is what
//! lets a notification from the peer through) and the request goes to the
//! owner's server; a notification that arrives is shaped for each of the
//! watcher's sessions. GetPresence of a remote user waits for the peer's
//! answer up to `federation.answer_timeout_ms` (504 for that user after).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use imps_wire::ssp::{SspStatus, domain_of};
use imps_wire::ssp_presence::{
    GetPresenceRequest, GetPresenceResponse, PresenceNotification, PresenceValue, SubscribeRequest,
    UnsubscribeRequest,
};
use imps_wire::{Element, Version};
use parking_lot::Mutex;
use tokio::sync::oneshot;

use super::PresenceService;
use super::attributes::{AttrSet, for_version, render};
use super::notify::{RenderCache, notification, presence_elem};
use super::targets::Failure;
use crate::CoreError;
use crate::federation::{check_actor, status_of};
use crate::store::SubscriptionRecord;
use crate::users::wire_user;

/// What the presence area keeps for federation: the GetPresence answers
/// waited for.
#[derive(Default)]
pub(crate) struct RemotePresence {
    /// TransactionID of our GetPresenceRequest → (peer, who waits).
    waiting: Mutex<HashMap<String, (String, oneshot::Sender<GetPresenceResponse>)>>,
}

/// A user of a peer domain, `user@domain`, as the wire writes them.
fn wire(id: &str) -> String {
    format!("wv:{id}")
}

/// `wv:user@domain` → `user@domain`, lower case: the core's form of a
/// user of another domain.
fn core_form(id: &str) -> String {
    id.strip_prefix("wv:").unwrap_or(id).to_ascii_lowercase()
}

/// Remote users grouped by their domain.
fn by_peer(users: &[String]) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for u in users {
        if let Some((_, d)) = u.rsplit_once('@') {
            m.entry(d.to_string()).or_default().push(u.clone());
        }
    }
    m
}

fn failure(e: &CoreError, id: &str) -> Failure {
    Failure {
        code: e.status_code(),
        description: e.description(),
        kind: "UserID",
        id: wire(id),
    }
}

impl PresenceService {
    /// The PresenceNotification telling `watcher` (of a peer domain)
    /// `list`, what they may see of our `owner`.
    pub(crate) fn remote_notification(&self, watcher: &str, owner: &str, list: Element) -> Element {
        PresenceNotification {
            meta: self.base.ssp_meta(None),
            watchers: vec![wire(watcher)],
            values: vec![PresenceValue {
                user_id: wire_user(owner, &self.base.cfg.domain),
                list,
            }],
        }
        .to_element()
    }

    /// Queues the notifications a fan-out made for watchers of peer
    /// domains, in order, before the change that caused them is answered.
    /// One that cannot be queued (the peer's queue is full, the store
    /// failed) is logged and dropped: the next change sends the whole
    /// picture again.
    pub(crate) async fn flush_remote(&self, cache: &mut RenderCache) {
        for (peer, n) in cache.remote.drain(..) {
            if let Err(e) = self.base.queue_ssp(&peer, None, &n).await {
                tracing::warn!(peer = %peer, error = %e, "presence notification for another domain not queued");
            }
        }
    }

    /// SubscribePresence of our `watcher` to users of peer domains: stored
    /// (so the peer's notifications are let through), then one
    /// SubscribeRequest per peer. True when one was queued; what could
    /// not be queued is added to `failures`.
    pub(crate) async fn subscribe_remote(
        &self,
        watcher: &str,
        owners: &[String],
        asked: Option<&Element>,
        failures: &mut Vec<Failure>,
    ) -> Result<bool, CoreError> {
        if owners.is_empty() {
            return Ok(false);
        }
        let attrs = AttrSet::from_request(asked)?;
        let now = self.base.now_ms();
        let mut any = false;
        for (peer, users) in by_peer(owners) {
            let req = SubscribeRequest {
                meta: self.base.ssp_meta(Some(watcher)),
                users: users.iter().map(|u| wire(u)).collect(),
                attributes: asked.cloned(),
            };
            match self.base.queue_ssp(&peer, None, &req.to_element()).await {
                Ok(_) => {
                    let recs = users
                        .iter()
                        .map(|owner| SubscriptionRecord {
                            owner: owner.clone(),
                            watcher: watcher.to_string(),
                            attrs: attrs.map(AttrSet::names),
                            active: true,
                            updated_ms: now,
                        })
                        .collect();
                    self.base.store.put_subscriptions(recs).await?;
                    any = true;
                }
                Err(CoreError::Store(e)) => return Err(CoreError::Store(e)),
                Err(e) => failures.extend(users.iter().map(|u| failure(&e, u))),
            }
        }
        Ok(any)
    }

    /// UnsubscribePresence of our `watcher` from users of peer domains:
    /// no notification is let through any more, and the owners' servers
    /// are told.
    pub(crate) async fn unsubscribe_remote(
        &self,
        watcher: &str,
        owners: &[String],
        failures: &mut Vec<Failure>,
    ) -> Result<bool, CoreError> {
        if owners.is_empty() {
            return Ok(false);
        }
        let now = self.base.now_ms();
        let recs = owners
            .iter()
            .map(|owner| SubscriptionRecord {
                owner: owner.clone(),
                watcher: watcher.to_string(),
                attrs: None,
                active: false,
                updated_ms: now,
            })
            .collect();
        // Locally first: whatever the peer does, nothing more reaches the
        // watcher.
        self.base.store.put_subscriptions(recs).await?;
        let mut any = false;
        for (peer, users) in by_peer(owners) {
            let req = UnsubscribeRequest {
                meta: self.base.ssp_meta(Some(watcher)),
                users: users.iter().map(|u| wire(u)).collect(),
            };
            match self.base.queue_ssp(&peer, None, &req.to_element()).await {
                Ok(_) => any = true,
                Err(CoreError::Store(e)) => return Err(CoreError::Store(e)),
                Err(e) => failures.extend(users.iter().map(|u| failure(&e, u))),
            }
        }
        Ok(any)
    }

    /// GetPresence of users of peer domains for our `asker`: one request
    /// per peer, all waited for together up to the answer timeout. The
    /// `Presence` elements are shaped for `version`; users not answered
    /// for become failures (504 when the peer was silent).
    pub(crate) async fn get_presence_remote(
        &self,
        asker: &str,
        version: Version,
        owners: &[String],
        asked: Option<&Element>,
        failures: &mut Vec<Failure>,
    ) -> Result<Vec<Element>, CoreError> {
        if owners.is_empty() {
            return Ok(Vec::new());
        }
        let Some(f) = self.base.cfg.federation.as_ref() else {
            return Ok(Vec::new());
        };
        let wait = Duration::from_millis(f.answer_wait_ms().max(1));
        let cap = usize::try_from(f.queue_max()).unwrap_or(usize::MAX);
        let mut asked_of: Vec<(String, Vec<String>, oneshot::Receiver<GetPresenceResponse>)> =
            Vec::new();
        for (peer, users) in by_peer(owners) {
            if self.remote.waiting.lock().len() >= cap {
                let e = CoreError::Busy("too many answers from other domains awaited".into());
                failures.extend(users.iter().map(|u| failure(&e, u)));
                continue;
            }
            let req = GetPresenceRequest {
                meta: self.base.ssp_meta(Some(asker)),
                users: users.iter().map(|u| wire(u)).collect(),
                attributes: asked.cloned(),
            };
            match self.base.queue_ssp(&peer, None, &req.to_element()).await {
                Ok(id) => {
                    let (tx, rx) = oneshot::channel();
                    self.remote
                        .waiting
                        .lock()
                        .insert(crate::base::Base::ssp_tid(id), (peer.clone(), tx));
                    asked_of.push((peer, users, rx));
                }
                Err(CoreError::Store(e)) => return Err(CoreError::Store(e)),
                Err(e) => failures.extend(users.iter().map(|u| failure(&e, u))),
            }
        }
        let deadline = tokio::time::Instant::now() + wait;
        let mut out = Vec::new();
        for (peer, users, rx) in asked_of {
            let answer = tokio::time::timeout_at(deadline, rx).await;
            let resp = match answer {
                Ok(Ok(r)) => r,
                _ => {
                    // Forget the question; a late answer is dropped.
                    self.remote
                        .waiting
                        .lock()
                        .retain(|_, (p, tx)| !(p == &peer && tx.is_closed()));
                    let e = CoreError::PeerNoAnswer(peer.clone());
                    failures.extend(users.iter().map(|u| failure(&e, u)));
                    continue;
                }
            };
            if resp.status.code >= 300 && resp.values.is_empty() {
                // The peer's refusal, as it gave it.
                failures.extend(users.iter().map(|u| Failure {
                    code: resp.status.code,
                    description: resp.status.description.clone().unwrap_or_default(),
                    kind: "UserID",
                    id: wire(u),
                }));
                continue;
            }
            let mut seen = HashSet::new();
            for v in resp.values {
                let owner = core_form(&v.user_id);
                // Only what we asked of that peer.
                if !users.contains(&owner) || !seen.insert(owner.clone()) {
                    continue;
                }
                out.push(presence_elem(&wire(&owner), for_version(&v.list, version)));
            }
            for u in users.iter().filter(|u| !seen.contains(*u)) {
                failures.push(failure(&CoreError::UnknownUser(wire(u)), u));
            }
        }
        Ok(out)
    }

    /// A GetPresenceResponse from `peer` to our transaction `tid`.
    pub(crate) fn ssp_get_presence_answer(&self, peer: &str, tid: &str, r: GetPresenceResponse) {
        let mut w = self.remote.waiting.lock();
        match w.remove(tid) {
            Some((p, tx)) if p == peer => {
                let _ = tx.send(r);
            }
            Some(other) => {
                tracing::warn!(
                    peer,
                    tid,
                    "GetPresenceResponse from a peer not asked; dropped"
                );
                w.insert(tid.to_string(), other);
            }
            None => tracing::debug!(peer, tid, "late or unexpected GetPresenceResponse dropped"),
        }
    }

    /// The acting user of a request from `peer`, in the core's form, after
    /// the 901 check.
    fn remote_actor(peer: &str, meta: &imps_wire::ssp::MetaInfo) -> Result<String, CoreError> {
        check_actor(peer, meta, &[])?;
        meta.user
            .as_ref()
            .map(|u| core_form(&u.user_id))
            .ok_or_else(|| CoreError::BadRequest("no acting user".into()))
    }

    /// The owners a request from a peer names: ours only (516 otherwise),
    /// existing (531 otherwise).
    async fn local_owners(
        &self,
        users: &[String],
    ) -> Result<(Vec<String>, Option<SspStatus>), CoreError> {
        let domain = &self.base.cfg.domain;
        let mut ok = Vec::new();
        let mut first_err = None;
        for u in users {
            if domain_of(u) != Some(domain.as_str()) {
                first_err.get_or_insert(status_of(&CoreError::DomainNotSupported(
                    domain_of(u).unwrap_or_default().to_string(),
                )));
                continue;
            }
            match crate::users::canonical_user(u, domain) {
                Ok(id) if self.base.user_exists(&id).await? => {
                    if !ok.contains(&id) {
                        ok.push(id);
                    }
                }
                Ok(_) => {
                    first_err.get_or_insert(status_of(&CoreError::UnknownUser(u.clone())));
                }
                Err(e) => {
                    first_err.get_or_insert(status_of(&e));
                }
            }
        }
        Ok((ok, first_err))
    }

    /// SubscribeRequest from `peer`: its user watches our users, under
    /// the same authorization as a local watcher.
    pub(crate) async fn ssp_subscribe(
        &self,
        peer: &str,
        r: SubscribeRequest,
    ) -> Result<SspStatus, CoreError> {
        let watcher = match Self::remote_actor(peer, &r.meta) {
            Ok(w) => w,
            Err(e) => return Ok(status_of(&e)),
        };
        let asked = match AttrSet::from_request(r.attributes.as_ref()) {
            Ok(a) => a,
            Err(e) => return Ok(status_of(&e)),
        };
        let (owners, err) = self.local_owners(&r.users).await?;
        self.subscribe_users(&watcher, &owners, asked).await?;
        Ok(outcome(!owners.is_empty(), err))
    }

    /// UnsubscribeRequest from `peer`.
    pub(crate) async fn ssp_unsubscribe(
        &self,
        peer: &str,
        r: UnsubscribeRequest,
    ) -> Result<SspStatus, CoreError> {
        let watcher = match Self::remote_actor(peer, &r.meta) {
            Ok(w) => w,
            Err(e) => return Ok(status_of(&e)),
        };
        let (owners, err) = self.local_owners(&r.users).await?;
        self.unsubscribe_users(&watcher, &owners).await?;
        Ok(outcome(!owners.is_empty(), err))
    }

    /// GetPresenceRequest from `peer`: what its user may see of ours.
    pub(crate) async fn ssp_get_presence(
        &self,
        peer: &str,
        r: GetPresenceRequest,
    ) -> Result<GetPresenceResponse, CoreError> {
        let refused = |e: &CoreError| GetPresenceResponse {
            status: status_of(e),
            values: Vec::new(),
        };
        let asker = match Self::remote_actor(peer, &r.meta) {
            Ok(w) => w,
            Err(e) => return Ok(refused(&e)),
        };
        let wanted = match AttrSet::from_request(r.attributes.as_ref()) {
            Ok(a) => a.unwrap_or_else(AttrSet::all),
            Err(e) => return Ok(refused(&e)),
        };
        let (owners, err) = self.local_owners(&r.users).await?;
        let mut values = Vec::with_capacity(owners.len());
        for owner in &owners {
            let cell = self.owner_cell(owner).await?;
            let mut st = cell.lock().await;
            let view = self.list_view(owner, &st.grants).await;
            let mask = Self::visible_to(owner, &st, &asker, &view).intersect(wanted);
            let online = self.online_view(owner, st.invisible);
            values.push(PresenceValue {
                user_id: wire_user(owner, &self.base.cfg.domain),
                list: render(&st.doc, &online, Version::V1_3, mask, AttrSet::EMPTY),
            });
            let subscribed = st.watchers.get(&asker).is_some_and(|w| w.active);
            if !subscribed && st.rare.accessed.len() < self.base.cfg.presence.max_access_memory {
                st.rare.accessed.insert(asker.clone());
            }
        }
        Ok(GetPresenceResponse {
            status: outcome(!owners.is_empty(), err),
            values,
        })
    }

    /// PresenceNotification from `peer`: its users' presence for our
    /// watchers, let through only to a watcher subscribed to that owner
    /// and shaped for each of their sessions.
    pub(crate) async fn ssp_presence_notification(
        &self,
        peer: &str,
        n: PresenceNotification,
    ) -> Result<(), CoreError> {
        let owners: Vec<&str> = n.values.iter().map(|v| v.user_id.as_str()).collect();
        if !n.meta.acts_for(peer) || owners.iter().any(|o| domain_of(o) != Some(peer)) {
            return Err(CoreError::ForeignActor(peer.to_string()));
        }
        let domain = &self.base.cfg.domain;
        for w in &n.watchers {
            if domain_of(w) != Some(domain.as_str()) {
                return Err(CoreError::DomainNotSupported(
                    domain_of(w).unwrap_or_default().to_string(),
                ));
            }
        }
        for w in &n.watchers {
            let Ok(watcher) = crate::users::canonical_user(w, domain) else {
                continue;
            };
            let subscribed: HashSet<String> = self
                .base
                .store
                .subscriptions_of(&watcher)
                .await?
                .into_iter()
                .filter(|s| s.active)
                .map(|s| s.owner)
                .collect();
            for v in &n.values {
                let owner = core_form(&v.user_id);
                if !subscribed.contains(&owner) {
                    tracing::debug!(peer, watcher = %watcher, owner = %owner, "presence of a user not subscribed to; dropped");
                    continue;
                }
                let owner_wire = wire(&owner);
                self.base.router.to_user_shaped(&watcher, &mut |s| {
                    vec![notification(
                        s.version,
                        &owner_wire,
                        for_version(&v.list, s.version),
                    )]
                });
            }
        }
        Ok(())
    }
}

/// 200 when every owner was served, 201 when some were, else the first
/// refusal.
fn outcome(any_ok: bool, err: Option<SspStatus>) -> SspStatus {
    match (any_ok, err) {
        (_, None) => SspStatus::ok(),
        (true, Some(_)) => SspStatus {
            code: 201,
            description: Some("Partially successful".into()),
            details: Vec::new(),
        },
        (false, Some(e)) => e,
    }
}
