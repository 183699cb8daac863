//! The server association (issue 17): the six-step secret exchange that
//! lets two servers trust each other's traffic, its lifetime, and the
//! peer session IDs we accept.
//!
//! A starts (A = the side with something to send): (1) A sends its secret
//! to B; (2) B answers with its own, POSTed to the URL our table gives for
//! A's claimed domain, so only the real A gets it; (3) A proves it got
//! B's secret with its digest; (4) B proves the same of A's; (5) A names
//! its session; (6) B names its own. Every step travels as a new POST;
//! the HTTP answer is empty (or, for a refusal, HTTP 403 with a
//! LoginResponse whose Status says why: 516 for a domain not in the
//! table, 409 for a wrong digest). Either side may start; an association
//! made by either serves both directions.
//!
//! Lifetime: the shorter of both sides' `timeToLive`. We log in again at
//! 80 % of it, or at once when the peer refuses a Session as unknown (it
//! restarted); a peer session is accepted until its own lifetime ends.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use imps_wire::ssp::{
    Mode, SetupStep, SetupTransaction, SspMessage, SspStatus, domain_of, secret_digest, service_id,
};
use serde::Serialize;

use super::{FedError, Federation, PeerStats, now_ms};

/// Our side's handshake under way.
struct Outgoing {
    tid: String,
    secret: String,
    peer_secret: Option<String>,
    verified: bool,
    peer_ttl: Option<u64>,
}

/// The other side's handshake under way.
struct Incoming {
    peer_tid: String,
    peer_secret: String,
    tid: String,
    secret: String,
    verified: bool,
    peer_ttl: Option<u64>,
}

/// A working association.
#[derive(Debug, Clone)]
pub(crate) struct Live {
    /// The ID we label our Sessions with (`tid@our.domain`).
    pub own_session: String,
    /// The ID the peer labels its Sessions with.
    pub peer_session: String,
    pub established_ms: u64,
    pub ttl_ms: u64,
}

#[derive(Default)]
struct PeerAssoc {
    out: Option<Outgoing>,
    inc: Option<Incoming>,
    live: Option<Live>,
    /// Peer session IDs we accept, each until it expires.
    accepted: Vec<(String, u64)>,
    last_error: Option<String>,
}

#[derive(Default)]
pub(crate) struct Associations {
    peers: HashMap<String, PeerAssoc>,
}

/// A peer as `impsd peer list` shows it.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct PeerView {
    pub domain: String,
    pub url: String,
    /// Where the entry came from: `config`, `added` or `discovered`.
    #[serde(default = "config_source")]
    pub source: super::PeerSource,
    /// `live`, `associating` or `none`.
    pub state: String,
    pub own_session: Option<String>,
    pub peer_session: Option<String>,
    pub expires_in_secs: Option<u64>,
    pub queue_depth: u64,
    pub sent: u64,
    pub failures: u64,
    pub associations: u64,
    pub last_error: Option<String>,
    /// Its SSP POSTs are taken only with a client certificate naming it.
    #[serde(default)]
    pub require_client_cert: bool,
}

impl Associations {
    pub(crate) fn view(
        &self,
        domain: &str,
        url: &str,
        source: super::PeerSource,
        now: u64,
        stats: Option<&PeerStats>,
    ) -> PeerView {
        let p = self.peers.get(domain);
        let live = p.and_then(|p| p.live.as_ref());
        let state = match (live, p.is_some_and(|p| p.out.is_some() || p.inc.is_some())) {
            (Some(_), _) => "live",
            (None, true) => "associating",
            (None, false) => "none",
        };
        let get = |f: fn(&PeerStats) -> &std::sync::atomic::AtomicU64| {
            stats.map_or(0, |s| f(s).load(Ordering::Relaxed))
        };
        PeerView {
            domain: domain.to_string(),
            url: url.to_string(),
            source,
            state: state.to_string(),
            own_session: live.map(|l| l.own_session.clone()),
            peer_session: live.map(|l| l.peer_session.clone()),
            expires_in_secs: live.map(|l| (l.established_ms + l.ttl_ms).saturating_sub(now) / 1000),
            queue_depth: get(|s| &s.queue_depth),
            sent: get(|s| &s.sent),
            failures: get(|s| &s.failures),
            associations: get(|s| &s.associations),
            last_error: p.and_then(|p| p.last_error.clone()),
            require_client_cert: false,
        }
    }
}

fn config_source() -> super::PeerSource {
    super::PeerSource::Config
}

/// A setup step refused: the HTTP 403 body's Status.
#[derive(Debug, Clone)]
pub struct SetupRefusal {
    pub code: u16,
    pub why: String,
}

fn refuse(code: u16, why: impl Into<String>) -> SetupRefusal {
    SetupRefusal {
        code,
        why: why.into(),
    }
}

/// 128 random bits as hex: secrets and transaction IDs.
fn random_hex() -> String {
    let mut b = [0u8; 16];
    if let Err(e) = getrandom::fill(&mut b) {
        // Without the OS RNG no secret can be made; a fixed one would be
        // guessable, so the handshake is left to fail on its digest.
        tracing::error!(error = %e, "no OS randomness for an SSP secret");
    }
    hex::encode(b)
}

impl Federation {
    fn ttl_secs(&self) -> u64 {
        self.cfg.association_ttl_secs.max(1)
    }

    /// The session label of a live association with `peer`, making one
    /// (or renewing one past 80 % of its life) first.
    pub(crate) async fn live_session(self: &Arc<Self>, peer: &str) -> Result<String, FedError> {
        {
            let a = self.assoc.lock();
            if let Some(l) = a.peers.get(peer).and_then(|p| p.live.as_ref())
                && now_ms() < l.established_ms + l.ttl_ms / 5 * 4
            {
                return Ok(l.own_session.clone());
            }
        }
        self.handshake(peer).await
    }

    /// Peers whose live association is past 80 % of its life, with no
    /// new one under way: renewed before it ends, so traffic never waits
    /// for a handshake.
    pub(crate) fn due_for_renewal(&self) -> Vec<String> {
        let now = now_ms();
        self.assoc
            .lock()
            .peers
            .iter()
            .filter(|(_, p)| {
                p.out.is_none()
                    && p.live
                        .as_ref()
                        .is_some_and(|l| now >= l.established_ms + l.ttl_ms / 5 * 4)
            })
            .map(|(d, _)| d.clone())
            .collect()
    }

    /// Makes a new association with `peer` now, whatever it has
    /// (`impsd peer test`): the whole exchange, end to end.
    pub(crate) async fn test_peer(self: &Arc<Self>, peer: &str) -> Result<(), FedError> {
        self.handshake(peer).await.map(|_| ())
    }

    /// Ends everything of the association with `peer` (the operator
    /// changed or removed its entry): the live one, one under way, and
    /// the peer sessions we accepted.
    pub(crate) fn forget_association(&self, peer: &str) {
        self.assoc.lock().peers.remove(peer);
        self.changed.notify_waiters();
    }

    /// Forgets the live association with `peer` (it refused our session).
    pub(crate) fn invalidate(&self, peer: &str) {
        if let Some(p) = self.assoc.lock().peers.get_mut(peer) {
            p.live = None;
        }
    }

    /// Whether a Session labelled `session_id` from `peer` is accepted.
    pub(crate) fn accepts(&self, peer: &str, session_id: &str) -> bool {
        let now = now_ms();
        let mut a = self.assoc.lock();
        let Some(p) = a.peers.get_mut(peer) else {
            return false;
        };
        p.accepted.retain(|(_, until)| *until > now);
        p.accepted.iter().any(|(s, _)| s == session_id)
    }

    /// Steps 1 (sent here) to 6 (awaited) from our side.
    async fn handshake(self: &Arc<Self>, peer: &str) -> Result<String, FedError> {
        let url = self
            .peers
            .url(peer)
            .ok_or_else(|| FedError::NotPeer(peer.to_string()))?;
        let tid = random_hex();
        let secret = random_hex();
        {
            let mut a = self.assoc.lock();
            let p = a.peers.entry(peer.to_string()).or_default();
            p.out = Some(Outgoing {
                tid: tid.clone(),
                secret: secret.clone(),
                peer_secret: None,
                verified: false,
                peer_ttl: None,
            });
        }
        let step1 = SspMessage::Setup(SetupTransaction {
            mode: Mode::Request,
            transaction_id: tid.clone(),
            step: SetupStep::SendSecretToken {
                service_id: service_id(&self.domain),
                protocol: "WV-SSP".into(),
                protocol_version: "1.3".into(),
                secret,
            },
        });
        let own = format!("{tid}@{}", self.domain);
        let deadline = tokio::time::Instant::now()
            + Duration::from_millis(self.cfg.handshake_timeout_ms.max(1));
        let sent = tokio::time::timeout_at(deadline, self.client.post(&url, &step1)).await;
        let failed = match sent {
            Ok(Ok(_)) => None,
            Ok(Err(e)) => Some(e),
            Err(_) => Some(FedError::HandshakeTimeout(peer.to_string())),
        };
        if let Some(e) = failed {
            self.end_out(peer, &tid, Some(e.to_string()));
            return Err(e);
        }
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let a = self.assoc.lock();
                let p = a.peers.get(peer);
                let ours_pending = p.and_then(|p| p.out.as_ref()).is_some_and(|o| o.tid == tid);
                if !ours_pending {
                    if let Some(l) = p.and_then(|p| p.live.as_ref())
                        && l.own_session == own
                    {
                        return Ok(own);
                    }
                    return Err(FedError::Refused {
                        peer: peer.to_string(),
                        why: p
                            .and_then(|p| p.last_error.clone())
                            .unwrap_or_else(|| "handshake ended".into()),
                    });
                }
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                self.end_out(peer, &tid, Some("timed out".into()));
                return Err(FedError::HandshakeTimeout(peer.to_string()));
            }
        }
    }

    fn end_out(&self, peer: &str, tid: &str, error: Option<String>) {
        let mut a = self.assoc.lock();
        if let Some(p) = a.peers.get_mut(peer)
            && p.out.as_ref().is_some_and(|o| o.tid == tid)
        {
            p.out = None;
            if error.is_some() {
                p.last_error = error;
            }
        }
        drop(a);
        self.changed.notify_waiters();
    }

    fn go_live(
        &self,
        p: &mut PeerAssoc,
        peer: &str,
        own: String,
        theirs: String,
        peer_ttl: Option<u64>,
    ) {
        let ttl = peer_ttl.unwrap_or(u64::MAX).min(self.ttl_secs()).max(1);
        let now = now_ms();
        let ttl_ms = ttl.saturating_mul(1000);
        p.accepted.retain(|(s, until)| *until > now && *s != theirs);
        p.accepted
            .push((theirs.clone(), now.saturating_add(ttl_ms)));
        // A bounded list: a peer that logs in again and again does not
        // grow it past a few.
        if p.accepted.len() > 4 {
            p.accepted.remove(0);
        }
        self.share_live(peer, &own, &theirs, now, ttl_ms);
        p.live = Some(Live {
            own_session: own,
            peer_session: theirs,
            established_ms: now,
            ttl_ms,
        });
        p.last_error = None;
        if let Some(s) = self.stats(peer) {
            s.associations.fetch_add(1, Ordering::Relaxed);
        }
        tracing::info!(peer, ttl_secs = ttl, "SSP association live");
    }

    /// POSTs a setup step to `peer`'s table URL, in the background.
    fn post_step(self: &Arc<Self>, peer: &str, step: SetupTransaction) {
        let Some(url) = self.peers.url(peer) else {
            return;
        };
        let fed = Arc::clone(self);
        let peer = peer.to_string();
        tokio::spawn(async move {
            if let Err(e) = fed.client.post(&url, &SspMessage::Setup(step)).await {
                tracing::warn!(peer = %peer, error = %e, "SSP setup step not delivered");
                let mut a = fed.assoc.lock();
                if let Some(p) = a.peers.get_mut(&peer) {
                    p.last_error = Some(e.to_string());
                }
            }
        });
    }

    /// An association another node of the cluster made with `peer`
    /// (`shared.rs`): used here as well, unless ours is newer.
    pub(crate) fn adopt(
        &self,
        peer: &str,
        own: String,
        theirs: String,
        established_ms: u64,
        ttl_ms: u64,
    ) {
        if !self.peers.contains_key(peer) {
            return;
        }
        let now = now_ms();
        let until = established_ms.saturating_add(ttl_ms);
        if until <= now {
            return;
        }
        let mut a = self.assoc.lock();
        let p = a.peers.entry(peer.to_string()).or_default();
        p.accepted.retain(|(s, u)| *u > now && *s != theirs);
        p.accepted.push((theirs.clone(), until));
        if p.accepted.len() > 4 {
            p.accepted.remove(0);
        }
        if p.live
            .as_ref()
            .is_none_or(|l| l.established_ms < established_ms)
        {
            p.live = Some(Live {
                own_session: own,
                peer_session: theirs,
                established_ms,
                ttl_ms,
            });
            p.last_error = None;
        }
        drop(a);
        tracing::info!(peer, "SSP association of another node adopted");
    }

    /// One setup step from a peer, its domain looked up first when it is
    /// not in the table (discovery): the steps we answer go to the
    /// endpoint its SRV record names, so a forger never sees our secret.
    /// `Err` is the refusal (HTTP 403). `forwarded`: another node of the
    /// cluster passed it on, having no handshake it belongs to; a refusal
    /// here is then expected.
    pub(crate) fn on_setup(
        self: &Arc<Self>,
        st: SetupTransaction,
        forwarded: bool,
    ) -> Result<(), SetupRefusal> {
        let claimed = claimed_peer(&st);
        let Some(peer) = claimed.filter(|d| self.peers.get(d).is_some()) else {
            tracing::warn!(step = ?step_name(&st.step), "SSP setup from a domain not in the peer table refused");
            return Err(refuse(516, "domain not in the peer table"));
        };
        let peer = peer.as_str();
        let own_sid = service_id(&self.domain);
        let ttl = self.ttl_secs();
        let mut a = self.assoc.lock();
        let p = a.peers.entry(peer.to_string()).or_default();
        let result = match (st.mode, st.step) {
            // (1) at the responder: keep their secret, send ours (2).
            (Mode::Request, SetupStep::SendSecretToken { secret, .. }) => {
                let inc = Incoming {
                    peer_tid: st.transaction_id,
                    peer_secret: secret,
                    tid: random_hex(),
                    secret: random_hex(),
                    verified: false,
                    peer_ttl: None,
                };
                let step2 = SetupTransaction {
                    mode: Mode::Response,
                    transaction_id: inc.tid.clone(),
                    step: SetupStep::SendSecretToken {
                        service_id: own_sid,
                        protocol: "WV-SSP".into(),
                        protocol_version: "1.3".into(),
                        secret: inc.secret.clone(),
                    },
                };
                p.inc = Some(inc);
                Ok(Some(step2))
            }
            // (2) at the starter: prove we got their secret (3).
            (Mode::Response, SetupStep::SendSecretToken { secret, .. }) => match p.out.as_mut() {
                Some(o) if o.peer_secret.is_none() => {
                    let digest = secret_digest(&secret);
                    o.peer_secret = Some(secret);
                    Ok(Some(SetupTransaction {
                        mode: Mode::Request,
                        transaction_id: o.tid.clone(),
                        step: SetupStep::LoginRequest {
                            service_id: own_sid,
                            time_to_live: Some(ttl),
                            digest,
                        },
                    }))
                }
                _ => Err(refuse(400, "no association under way")),
            },
            // (3) at the responder: check, prove ours (4).
            (
                Mode::Request,
                SetupStep::LoginRequest {
                    digest,
                    time_to_live,
                    ..
                },
            ) => match p.inc.as_mut() {
                Some(i) if i.peer_tid == st.transaction_id && !i.verified => {
                    if digest.trim() == secret_digest(&i.secret) {
                        i.verified = true;
                        i.peer_ttl = time_to_live;
                        Ok(Some(SetupTransaction {
                            mode: Mode::Response,
                            transaction_id: st.transaction_id,
                            step: SetupStep::LoginRequest {
                                service_id: own_sid,
                                time_to_live: Some(ttl),
                                digest: secret_digest(&i.peer_secret),
                            },
                        }))
                    } else {
                        p.inc = None;
                        Err(refuse(409, "wrong secret digest"))
                    }
                }
                _ => Err(refuse(400, "no association under way")),
            },
            // (4) at the starter: check, name our session (5).
            (
                Mode::Response,
                SetupStep::LoginRequest {
                    digest,
                    time_to_live,
                    ..
                },
            ) => match p.out.as_mut() {
                Some(o) if o.tid == st.transaction_id && o.peer_secret.is_some() && !o.verified => {
                    if digest.trim() == secret_digest(&o.secret) {
                        o.verified = true;
                        o.peer_ttl = time_to_live;
                        Ok(Some(SetupTransaction {
                            mode: Mode::Request,
                            transaction_id: o.tid.clone(),
                            step: SetupStep::LoginResponse {
                                session_id: format!("{}@{}", o.tid, self.domain),
                                time_to_live: Some(ttl),
                                status: SspStatus::ok(),
                            },
                        }))
                    } else {
                        p.out = None;
                        p.last_error = Some("peer proved a wrong secret".into());
                        Err(refuse(409, "wrong secret digest"))
                    }
                }
                _ => Err(refuse(400, "no association under way")),
            },
            // (5) at the responder: live; name ours (6).
            (
                Mode::Request,
                SetupStep::LoginResponse {
                    session_id, status, ..
                },
            ) => match p.inc.take() {
                Some(i) if i.verified && i.peer_tid == st.transaction_id => {
                    if status.code != 200 {
                        Ok(None)
                    } else {
                        let own = format!("{}@{}", i.tid, self.domain);
                        self.go_live(p, peer, own.clone(), session_id, i.peer_ttl);
                        Ok(Some(SetupTransaction {
                            mode: Mode::Response,
                            transaction_id: st.transaction_id,
                            step: SetupStep::LoginResponse {
                                session_id: own,
                                time_to_live: Some(ttl),
                                status: SspStatus::ok(),
                            },
                        }))
                    }
                }
                other => {
                    p.inc = other;
                    Err(refuse(400, "no association under way"))
                }
            },
            // (6) at the starter: live.
            (
                Mode::Response,
                SetupStep::LoginResponse {
                    session_id, status, ..
                },
            ) => match p.out.take() {
                Some(o) if o.verified && o.tid == st.transaction_id => {
                    if status.code == 200 {
                        let own = format!("{}@{}", o.tid, self.domain);
                        self.go_live(p, peer, own, session_id, o.peer_ttl);
                    } else {
                        p.last_error = Some(format!("peer refused the login: {}", status.code));
                    }
                    Ok(None)
                }
                other => {
                    p.out = other;
                    Err(refuse(400, "no association under way"))
                }
            },
        };
        drop(a);
        self.changed.notify_waiters();
        match result {
            Ok(Some(next)) => {
                self.post_step(peer, next);
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(r) => {
                if forwarded {
                    tracing::debug!(peer, code = r.code, why = %r.why, "forwarded SSP setup step not ours");
                } else {
                    tracing::warn!(peer, code = r.code, why = %r.why, "SSP setup step refused");
                }
                Err(r)
            }
        }
    }
}

/// The domain a setup step says it comes from (lower case).
pub(crate) fn claimed_peer(st: &SetupTransaction) -> Option<String> {
    match &st.step {
        SetupStep::SendSecretToken { service_id, .. }
        | SetupStep::LoginRequest { service_id, .. } => {
            domain_of(service_id).map(|d| d.to_ascii_lowercase())
        }
        SetupStep::LoginResponse { session_id, .. } => session_id
            .rsplit_once('@')
            .map(|(_, d)| d.to_ascii_lowercase()),
    }
}

fn step_name(s: &SetupStep) -> &'static str {
    match s {
        SetupStep::SendSecretToken { .. } => "SendSecretToken",
        SetupStep::LoginRequest { .. } => "LoginRequest",
        SetupStep::LoginResponse { .. } => "LoginResponse",
    }
}
