//! User sessions in another domain (SUS-1..3): the access side relays a
//! client's CSP session to the user's home server over SSP, the home side
//! runs it as one of its own sessions.
//!
//! Access side (this server holds the client's HTTP link): a Login-Request
//! or an out-of-band GetSPInfo-Request naming a user (or ClientID) of a
//! peer with the `sus` agreement is sent to that peer inside the server
//! association, and the answer goes back to the client; a login that
//! succeeds gets a SessionID of ours, mapped to (peer, the home
//! SessionID), and every later transaction of that session is relayed
//! the same way. The digest challenge passes through untouched (we never
//! see a password), and a plaintext Password is relayed only over an
//! https:// association (else Login-Response 403). CIR is ours to offer
//! and we offer none: the relayed client polls.
//!
//! Home side: a relayed primitive is run through the ordinary CSP handler
//! as a request of the session the peer holds for the user; its answer
//! goes back in the HTTP body of the POST (the client waits for it). A
//! session of ours that ends without the peer asking (kicked, expired)
//! is told to the peer as a Disconnect.
//!
//! The wire form is [`imps_wire::ssp_sus`]; see docs/protocol.md.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use imps_core::{RequestCtx, Service};
use imps_wire::ssp::{
    MetaInfo, Mode, SSP_CONTENT_TYPE, SspMessage, SspSession, SspTransaction, SspUser, domain_of,
    normalize_id, service_id,
};
use imps_wire::ssp_sus::SusPrimitive;
use imps_wire::{Element, Message, SessionType, Transaction, TransactionMode};
use parking_lot::Mutex;

use super::{FedError, Federation, now_ms};
use crate::http::{empty_ok, plain};

/// The most of a relayed answer we read (a NewMessage with its content).
const MAX_ANSWER: usize = 4 * 1024 * 1024;
/// How long a session the home server ended waits for its client to
/// collect the Disconnect here.
const PARTING_MS: u64 = 10 * 60 * 1000;
/// Tries to tell the access server that a session ended.
const DISCONNECT_TRIES: u32 = 5;

/// CapabilityList entries about CIR: the access server's to answer.
const CIR_ELEMENTS: [&str; 8] = [
    "SupportedCIRMethod",
    "TCPAddress",
    "TCPPort",
    "UDPAddress",
    "UDPPort",
    "CIRHTTPAddress",
    "CIRURL",
    "CIRSMSAddress",
];

/// A session we relay for a client of ours.
#[derive(Debug, Clone)]
struct Relayed {
    peer: String,
    /// The home server's SessionID.
    remote: String,
    /// `wv:user@peer`, and the client's ClientID.
    user: String,
    client: Option<String>,
    /// The home server ended it: the Disconnect to hand the client, and
    /// since when it waits.
    parting: Option<(Element, u64)>,
}

/// Relayed sessions (access side) and served ones (home side).
#[derive(Debug, Default)]
pub(crate) struct Sus {
    relayed: Mutex<HashMap<String, Relayed>>,
    /// Our SessionID → the peer that relays it.
    served: Mutex<HashMap<String, String>>,
    next_tid: AtomicU64,
}

impl Sus {
    fn tid(&self) -> String {
        format!("sus-{}", self.next_tid.fetch_add(1, Ordering::Relaxed))
    }

    /// `/metrics` lines: sessions relayed to and served for each peer.
    pub(crate) fn render_metrics<'a>(&self, peers: impl Iterator<Item = &'a String>) -> String {
        let mut relayed: HashMap<&str, usize> = HashMap::new();
        let mut served: HashMap<&str, usize> = HashMap::new();
        let r = self.relayed.lock();
        for v in r.values().filter(|v| v.parting.is_none()) {
            *relayed.entry(v.peer.as_str()).or_default() += 1;
        }
        let s = self.served.lock();
        for p in s.values() {
            *served.entry(p.as_str()).or_default() += 1;
        }
        let peers: Vec<&String> = peers.collect();
        let mut out = String::new();
        for (name, help, counts) in [
            (
                "impsd_sus_relayed_sessions",
                "user sessions of the peer's users relayed from clients here",
                &relayed,
            ),
            (
                "impsd_sus_served_sessions",
                "sessions of our users that the peer relays",
                &served,
            ),
        ] {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
            for p in &peers {
                let n = counts.get(p.as_str()).copied().unwrap_or(0);
                out.push_str(&format!("{name}{{peer=\"{p}\"}} {n}\n"));
            }
        }
        out
    }
}

/// The lower-case domain of a UserID or ClientID URL (`wv:x@d`, `x@d`).
fn home_of(id: &str) -> Option<String> {
    let id = normalize_id(id.trim())?;
    domain_of(&id).map(str::to_ascii_lowercase)
}

/// A refusal in the form the client expects for `request`.
fn refusal(request: &str, code: u16, description: &str) -> Element {
    if request == "Login-Request" {
        Element::new("Login-Response").with(imps_core::reply::result(code, description))
    } else {
        imps_core::reply::status(code, description)
    }
}

/// The CSP answer to the client: `bodies` in its session.
fn answer_message(msg: &Message, answers: Vec<Transaction>, poll: Option<bool>) -> Message {
    Message {
        version: msg.version,
        session_type: msg.session_type,
        session_id: msg.session_id.clone(),
        transactions: answers,
        poll,
        cir: None,
        session_extra: Vec::new(),
    }
}

fn strip_cir(list: &mut Element) {
    list.children
        .retain(|c| !CIR_ELEMENTS.contains(&c.name.as_str()));
}

/// Access side: what to do with a CSP message from a client of ours.
/// `None`: not a relayed session, the core handles it. `Some(answer)`:
/// relayed (an empty answer is an empty HTTP 200).
pub async fn relay(fed: &Arc<Federation>, msg: &Message) -> Option<Option<Message>> {
    let sid = msg.session_id.as_deref().filter(|s| !s.trim().is_empty());
    if let Some(sid) = sid {
        let r = fed.sus.relayed.lock().get(sid).cloned();
        if let Some(r) = r {
            return Some(relay_in_session(fed, msg, sid, r).await);
        }
    }
    let tx = msg.transactions.first()?;
    let name = tx.body.name.as_str();
    let domain = match name {
        "Login-Request" => tx.body.child_text("UserID").and_then(home_of)?,
        // Out of band (SUS-3): the home domain from a UserID, else from
        // the ClientID's URL.
        "GetSPInfo-Request" if sid.is_none() => {
            tx.body.child_text("UserID").and_then(home_of).or_else(|| {
                tx.body
                    .path(&["ClientID", "URL"])
                    .and_then(|u| home_of(&u.text))
            })?
        }
        _ => return None,
    };
    if domain == fed.domain || !fed.peers.is_sus(&domain) {
        // Not ours to relay: the core answers as for any other domain.
        return None;
    }
    let refuse = |code: u16, why: &str| {
        let t = Transaction::response(tx.id.clone(), refusal(name, code, why));
        Some(Some(answer_message(msg, vec![t], None)))
    };
    let user = tx
        .body
        .child_text("UserID")
        .and_then(|u| normalize_id(u.trim()));
    let client = tx
        .body
        .path(&["ClientID", "URL"])
        .map(|u| u.text.trim().to_string());
    if name == "Login-Request" {
        let https = fed
            .peers
            .url(&domain)
            .is_some_and(|u| u.to_ascii_lowercase().starts_with("https://"));
        if tx.body.child("Password").is_some() && !https {
            tracing::info!(peer = %domain, "plaintext password not relayed over plain HTTP");
            return refuse(
                403,
                "A password is not relayed to the home domain over plain HTTP; log in with a digest",
            );
        }
        let live = fed
            .sus
            .relayed
            .lock()
            .values()
            .filter(|r| r.parting.is_none())
            .count();
        if live >= fed.cfg.sus_max_sessions {
            return refuse(503, "Too many relayed sessions; try again later");
        }
    }
    let p = SusPrimitive {
        version: msg.version,
        user_session_id: None,
        meta: Some(meta(fed, user.as_deref(), client.as_deref())),
        csp_mode: tx.mode,
        csp_transaction_id: tx.id.clone(),
        poll: None,
        body: tx.body.clone(),
    };
    let answers = match exchange(fed, &domain, p).await {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(peer = %domain, error = %e, "relay to the home domain failed");
            return refuse(503, &format!("The home domain {domain} cannot be reached"));
        }
    };
    let mut out = Vec::new();
    for a in answers {
        let mut body = a.body;
        if body.name == "Login-Response"
            && let Some(remote) = body.child_text("SessionID").map(str::to_string)
        {
            let Ok(token) = imps_core::ids::random_token() else {
                return refuse(500, "No session ID could be made");
            };
            let ours = format!("sus-{token}");
            if let Some(s) = body.child_mut("SessionID") {
                s.text = ours.clone();
            }
            let now = now_ms();
            let mut r = fed.sus.relayed.lock();
            r.retain(|_, v| {
                v.parting
                    .as_ref()
                    .is_none_or(|(_, at)| now.saturating_sub(*at) < PARTING_MS)
            });
            r.insert(
                ours,
                Relayed {
                    peer: domain.clone(),
                    remote,
                    user: user.clone().unwrap_or_default(),
                    client: client.clone(),
                    parting: None,
                },
            );
        }
        out.push(Transaction {
            mode: a.csp_mode,
            id: a.csp_transaction_id.or_else(|| tx.id.clone()),
            segment_info: None,
            body,
            ext: Vec::new(),
        });
    }
    if out.is_empty() {
        return Some(None);
    }
    Some(Some(answer_message(msg, out, None)))
}

/// Who acts in a relayed request: our domain, for this user and client.
fn meta(fed: &Federation, user: Option<&str>, client: Option<&str>) -> MetaInfo {
    MetaInfo {
        client_originated: user.is_some(),
        service_id: service_id(&fed.domain),
        user: user.map(|u| SspUser {
            user_id: u.to_string(),
            friendly_name: None,
            client_id: client.map(str::to_string),
        }),
    }
}

async fn relay_in_session(
    fed: &Arc<Federation>,
    msg: &Message,
    sid: &str,
    r: Relayed,
) -> Option<Message> {
    let first = msg.transactions.first()?;
    if let Some((disconnect, _)) = r.parting {
        // The home server ended the session: its Disconnect goes to the
        // client with the next poll, and then the session is gone here;
        // until then other requests get the Disconnect's code (as a
        // kicked session of our own answers).
        let t = if first.body.name == "Polling-Request" {
            fed.sus.relayed.lock().remove(sid);
            Transaction::request("s1", disconnect)
        } else {
            let code = disconnect
                .path(&["Result", "Code"])
                .and_then(|c| c.text.trim().parse::<u16>().ok())
                .unwrap_or(604);
            Transaction::response(
                first.id.clone(),
                imps_core::reply::status(code, "Session ended by its home domain"),
            )
        };
        return Some(answer_message(msg, vec![t], None));
    }
    let mut out = Vec::new();
    let mut poll = None;
    let mut gone = false;
    for tx in &msg.transactions {
        let mut body = tx.body.clone();
        if body.name == "ClientCapability-Request"
            && let Some(list) = body.child_mut("CapabilityList")
        {
            strip_cir(list);
        }
        let p = SusPrimitive {
            version: msg.version,
            user_session_id: Some(r.remote.clone()),
            meta: Some(meta(fed, Some(&r.user), r.client.as_deref())),
            csp_mode: tx.mode,
            csp_transaction_id: tx.id.clone(),
            poll: None,
            body,
        };
        let answers = match exchange(fed, &r.peer, p).await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(peer = %r.peer, error = %e, "relay to the home domain failed");
                out.push(Transaction::response(
                    tx.id.clone(),
                    imps_core::reply::status(
                        503,
                        &format!("The home domain {} cannot be reached", r.peer),
                    ),
                ));
                continue;
            }
        };
        if tx.body.name == "Logout-Request" {
            gone = true;
        }
        for a in answers {
            let mut body = a.body;
            if body.name == "ClientCapability-Response"
                && let Some(list) = body.children.first_mut()
            {
                // CIR is ours to offer, and a relayed client polls.
                strip_cir(list);
            }
            let code = body
                .path(&["Result", "Code"])
                .and_then(|c| c.text.trim().parse::<u16>().ok());
            if body.name == "Disconnect" || matches!(code, Some(600 | 604)) {
                gone = true;
            }
            poll = poll.or(a.poll);
            out.push(Transaction {
                mode: a.csp_mode,
                id: a.csp_transaction_id.or_else(|| tx.id.clone()),
                segment_info: None,
                body,
                ext: Vec::new(),
            });
        }
    }
    if gone {
        fed.sus.relayed.lock().remove(sid);
    }
    if out.is_empty() {
        return None;
    }
    Some(answer_message(msg, out, poll))
}

/// Sends one relayed primitive to `peer` inside the association and
/// reads the answers from the HTTP body. A peer that no longer knows our
/// association (403) gets a new one and the request once more.
async fn exchange(
    fed: &Arc<Federation>,
    peer: &str,
    p: SusPrimitive,
) -> Result<Vec<SusPrimitive>, FedError> {
    let url = fed
        .peers
        .url(peer)
        .ok_or_else(|| FedError::NotPeer(peer.to_string()))?;
    let tid = fed.sus.tid();
    let primitive = p.to_element();
    let mut tries = 0;
    let body = loop {
        tries += 1;
        let session = fed.live_session(peer).await?;
        let doc = SspMessage::Session(SspSession {
            session_id: session,
            transactions: vec![SspTransaction {
                mode: Mode::Request,
                transaction_id: tid.clone(),
                primitive: primitive.clone(),
            }],
        });
        match fed.client.post_reading(&url, &doc, MAX_ANSWER).await {
            Ok(b) => break b,
            Err(FedError::Status { code: 403, .. }) if tries < 2 => fed.invalidate(peer),
            Err(e) => return Err(e),
        }
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let unreadable = |why: String| FedError::Http {
        url: url.clone(),
        why: format!("unreadable answer: {why}"),
    };
    let limits = imps_wire::Limits {
        max_size: MAX_ANSWER,
        ..imps_wire::Limits::default()
    };
    let SspMessage::Session(s) =
        SspMessage::decode(&body, &limits).map_err(|e| unreadable(e.to_string()))?
    else {
        return Err(unreadable("not a Session".into()));
    };
    s.transactions
        .iter()
        .filter(|t| t.mode == Mode::Response && t.transaction_id == tid)
        .map(|t| SusPrimitive::from_element(&t.primitive).map_err(|e| unreadable(e.to_string())))
        .collect()
}

/// Whether a Session from a peer carries relayed CSP primitives.
pub(crate) fn is_sus_session(s: &SspSession) -> bool {
    s.transactions
        .iter()
        .any(|t| SusPrimitive::is_sus(&t.primitive))
}

/// A Session of relayed primitives from `peer` (whose association the
/// caller checked): requests for our users' sessions (home side), or a
/// Disconnect of a session we relay (access side). Answers go back in
/// the HTTP body.
pub(crate) async fn serve(fed: &Arc<Federation>, peer: &str, s: SspSession) -> Response {
    let Some(service) = fed.service() else {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "starting\n");
    };
    let mut answers = Vec::new();
    for tx in &s.transactions {
        if tx.mode == Mode::Response || !SusPrimitive::is_sus(&tx.primitive) {
            tracing::info!(peer, "SSP transaction beside relayed ones ignored");
            continue;
        }
        let p = match SusPrimitive::from_element(&tx.primitive) {
            Ok(p) => p,
            Err(e) => {
                tracing::info!(peer, error = %e, "unreadable relayed primitive");
                answers.push(answer(
                    tx,
                    imps_wire::Version::V1_3,
                    imps_core::reply::status(400, "Bad request"),
                ));
                continue;
            }
        };
        if !fed.peers.is_sus(peer) {
            tracing::info!(
                peer,
                "relayed session from a peer without the sus agreement; refused"
            );
            answers.push(answer(
                tx,
                p.version,
                imps_core::reply::status(405, "Sessions are not relayed with this domain"),
            ));
            continue;
        }
        // Whoever acts must be the peer's server (901 otherwise).
        if p.meta
            .as_ref()
            .is_none_or(|m| domain_of(&m.service_id) != Some(peer))
        {
            answers.push(answer(
                tx,
                p.version,
                imps_core::reply::status(901, "MetaInfo names another domain"),
            ));
            continue;
        }
        if p.body.name == "Disconnect" {
            on_disconnect(fed, peer, p);
            continue;
        }
        for a in serve_one(fed, &service, peer, p, &tx.transaction_id).await {
            answers.push(SspTransaction {
                mode: Mode::Response,
                transaction_id: tx.transaction_id.clone(),
                primitive: a.to_element(),
            });
        }
    }
    if answers.is_empty() {
        return empty_ok();
    }
    let doc = SspMessage::Session(SspSession {
        session_id: s.session_id,
        transactions: answers,
    });
    let mut r = (StatusCode::OK, doc.encode()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(SSP_CONTENT_TYPE),
    );
    r
}

fn answer(tx: &SspTransaction, version: imps_wire::Version, body: Element) -> SspTransaction {
    SspTransaction {
        mode: Mode::Response,
        transaction_id: tx.transaction_id.clone(),
        primitive: SusPrimitive {
            version,
            user_session_id: None,
            meta: None,
            csp_mode: TransactionMode::Response,
            csp_transaction_id: None,
            poll: None,
            body,
        }
        .to_element(),
    }
}

/// Access side: the home server ended a session we relay.
fn on_disconnect(fed: &Federation, peer: &str, p: SusPrimitive) {
    let Some(remote) = p.user_session_id else {
        return;
    };
    let mut r = fed.sus.relayed.lock();
    match r
        .values_mut()
        .find(|v| v.peer == peer && v.remote == remote && v.parting.is_none())
    {
        Some(v) => {
            tracing::info!(peer, user = %v.user, "relayed session ended by its home domain");
            v.parting = Some((p.body, now_ms()));
        }
        None => tracing::debug!(peer, "Disconnect of a session not relayed here"),
    }
}

/// Home side: one relayed request run as a request of the user's session.
async fn serve_one(
    fed: &Arc<Federation>,
    service: &Arc<Service>,
    peer: &str,
    p: SusPrimitive,
    ssp_tid: &str,
) -> Vec<SusPrimitive> {
    let version = p.version;
    let refuse = |code: u16, why: &str| {
        vec![SusPrimitive {
            version,
            user_session_id: p.user_session_id.clone(),
            meta: None,
            csp_mode: TransactionMode::Response,
            csp_transaction_id: p.csp_transaction_id.clone(),
            poll: None,
            body: refusal(p.body.name.as_str(), code, why),
        }]
    };
    if let Some(sid) = &p.user_session_id {
        // Only the peer that made a session may use it.
        let mut served = fed.sus.served.lock();
        if served.get(sid).map(String::as_str) != Some(peer) {
            drop(served);
            return refuse(604, "Invalid session");
        }
        if p.body.name == "Logout-Request" {
            // Asked for: no Disconnect goes back when it ends.
            served.remove(sid);
        }
    }
    let login = p.body.name == "Login-Request";
    let msg = Message {
        version,
        session_type: if p.user_session_id.is_some() {
            SessionType::Inband
        } else {
            SessionType::Outband
        },
        session_id: p.user_session_id.clone(),
        transactions: vec![Transaction {
            mode: p.csp_mode,
            id: Some(
                p.csp_transaction_id
                    .clone()
                    .unwrap_or_else(|| ssp_tid.to_string()),
            ),
            segment_info: None,
            body: p.body.clone(),
            ext: Vec::new(),
        }],
        poll: None,
        cir: None,
        session_extra: Vec::new(),
    };
    let ctx = RequestCtx {
        peer: None,
        msisdn: None,
        send_order: None,
    };
    let reply = match crate::http::handle_to_end(service, &ctx, msg).await {
        Ok(Some(r)) => r,
        Ok(None) => return Vec::new(),
        Err(_) => return refuse(500, "The request failed inside the server"),
    };
    let mut out = Vec::new();
    for t in reply.transactions {
        if login
            && t.body.name == "Login-Response"
            && let Some(sid) = t.body.child_text("SessionID")
        {
            let sid = sid.trim().to_string();
            fed.sus.served.lock().insert(sid.clone(), peer.to_string());
            tracing::info!(peer, "user session relayed by the peer made");
            watch(fed, service, peer, &sid, version);
        }
        out.push(SusPrimitive {
            version,
            user_session_id: reply.session_id.clone(),
            meta: None,
            csp_mode: t.mode,
            csp_transaction_id: t.id,
            poll: reply.poll,
            body: t.body,
        });
    }
    out
}

/// Home side: watches a served session; when it ends without the peer's
/// Logout (an operator kick, expiry), the peer is sent its Disconnect.
fn watch(
    fed: &Arc<Federation>,
    service: &Arc<Service>,
    peer: &str,
    sid: &str,
    version: imps_wire::Version,
) {
    let Some(session) = service.sessions().get(sid) else {
        return;
    };
    let (fed, service, peer, sid) = (
        Arc::clone(fed),
        Arc::clone(service),
        peer.to_string(),
        sid.to_string(),
    );
    tokio::spawn(async move {
        let mut rx = session.subscribe();
        loop {
            if session.is_closing() {
                // Kicked: its Disconnect waits in the outbox; taking it
                // ends the session here.
                let mut disconnect = None;
                while let Some(m) = service.next_push(&session).await {
                    if let Some(t) = m
                        .transactions
                        .into_iter()
                        .find(|t| t.body.name == "Disconnect")
                    {
                        disconnect = Some(t.body);
                        break;
                    }
                }
                ended(&fed, &peer, &sid, disconnect, version).await;
                return;
            }
            if session.is_ended() {
                ended(&fed, &peer, &sid, None, version).await;
                return;
            }
            rx.changed().await;
        }
    });
}

/// Tells the access server that a served session ended, unless it asked.
async fn ended(
    fed: &Arc<Federation>,
    peer: &str,
    sid: &str,
    disconnect: Option<Element>,
    version: imps_wire::Version,
) {
    if fed.sus.served.lock().remove(sid).is_none() {
        return;
    }
    let body = disconnect.unwrap_or_else(|| {
        Element::new("Disconnect").with(imps_core::reply::result(600, "Session expired"))
    });
    let p = SusPrimitive {
        version,
        user_session_id: Some(sid.to_string()),
        meta: Some(meta(fed, None, None)),
        csp_mode: TransactionMode::Request,
        csp_transaction_id: None,
        poll: None,
        body,
    };
    let mut wait = Duration::from_millis(fed.cfg.retry_min_ms.max(1));
    for _ in 0..DISCONNECT_TRIES {
        match exchange(fed, peer, p.clone()).await {
            Ok(_) => {
                tracing::info!(peer, "served session ended; the peer was told");
                return;
            }
            Err(e) => {
                tracing::info!(peer, error = %e, "Disconnect not taken by the peer; will retry");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_millis(fed.cfg.retry_max_ms.max(1)));
            }
        }
    }
    tracing::warn!(peer, "the peer was not told that a relayed session ended");
}
