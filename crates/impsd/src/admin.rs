//! The local admin endpoint used by `impsd session list|kick`. It listens
//! on loopback only and wants the bearer token written to
//! DATA_DIR/admin.json.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use imps_core::Service;
use serde::{Deserialize, Serialize};
pub(crate) use subtle_eq::ct_eq;

use crate::logging::LogControl;

pub struct AdminState {
    pub service: Arc<Service>,
    pub token: String,
    /// Changes the log filter; `None` when the embedding program installed
    /// its own logging (tests).
    pub log: Option<Arc<dyn LogControl>>,
    /// The SSP peers, when `[federation]` is on (`impsd peer list`).
    pub federation: Option<Arc<crate::federation::Federation>>,
    /// Told when the operator asks the process to drain and stop.
    pub stop: Arc<tokio::sync::Notify>,
    /// `cluster.drain_timeout_ms`, for the answer to a drain.
    pub drain_ms: u64,
    /// Whether this process is a cluster node (it drains before it stops).
    pub clustered: bool,
}

/// What the server writes to DATA_DIR/admin.json for the admin commands.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdminInfo {
    /// The admin endpoint.
    pub addr: String,
    pub token: String,
    /// Where the HTTP binding listens (useful when it was bound to port 0).
    #[serde(default)]
    pub http: String,
    /// Whether the admin endpoint serves HTTPS (`admin.tls`): the admin
    /// commands then trust only the certificate of `tls.cert_file`.
    #[serde(default)]
    pub tls: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRow {
    pub id: String,
    pub user: String,
    pub client: String,
    pub version: String,
    pub created_ms: u64,
    pub last_seen_ms: u64,
}

impl From<imps_core::session::SessionSummary> for SessionRow {
    fn from(s: imps_core::session::SessionSummary) -> SessionRow {
        SessionRow {
            id: s.id,
            user: s.user,
            client: s.client,
            version: s.version,
            created_ms: s.created_ms,
            last_seen_ms: s.last_seen_ms,
        }
    }
}

pub fn router(state: Arc<AdminState>) -> Router {
    Router::new()
        .route("/admin/sessions", get(list))
        .route("/admin/peers", get(peers))
        .route("/admin/peers/{domain}/test", post(peer_test))
        .route(
            "/admin/peers/{domain}",
            axum::routing::put(peer_add).delete(peer_remove),
        )
        .route("/admin/sessions/{id}/kick", post(kick))
        .route("/admin/node/drain", post(drain))
        .route("/admin/sessions/{id}/cut-transport", post(cut_transport))
        .route("/admin/users/{user}/end-sessions", post(end_user_sessions))
        .route("/admin/groups/expel", post(expel))
        .route("/admin/log", get(log_show).post(log_set))
        .route("/admin/sysmsg", get(sysmsg_list).post(sysmsg_send))
        .route("/admin/sysmsg/{id}", get(sysmsg_show))
        .route("/admin/sysmsg/{id}/resend", post(sysmsg_resend))
        .with_state(state)
}

fn authorized(st: &AdminState, headers: &HeaderMap) -> bool {
    let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    v.strip_prefix("Bearer ")
        .is_some_and(|t| ct_eq(t.trim(), &st.token))
}

async fn list(State(st): State<Arc<AdminState>>, headers: HeaderMap) -> Response {
    if !authorized(&st, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let rows: Vec<SessionRow> = st
        .service
        .session_summaries()
        .into_iter()
        .map(|s| SessionRow {
            id: s.id,
            user: s.user,
            client: s.client,
            version: s.version,
            created_ms: s.created_ms,
            last_seen_ms: s.last_seen_ms,
        })
        .collect();
    axum::Json(rows).into_response()
}

/// The SSP peers with their associations and counters; empty when
/// federation is off.
async fn peers(State(st): State<Arc<AdminState>>, headers: HeaderMap) -> Response {
    if !authorized(&st, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let rows = st
        .federation
        .as_ref()
        .map(|f| f.peer_views())
        .unwrap_or_default();
    axum::Json(rows).into_response()
}

/// Makes a new association with one peer now: 200 with the time it
/// took in ms, 404 for a domain not in the table, 502 with why it failed.
async fn peer_test(
    State(st): State<Arc<AdminState>>,
    headers: HeaderMap,
    Path(domain): Path<String>,
) -> Response {
    if !authorized(&st, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let domain = domain.to_ascii_lowercase();
    let Some(f) = st
        .federation
        .as_ref()
        .filter(|f| f.peers.contains_key(&domain))
    else {
        return (StatusCode::NOT_FOUND, "not in the peer table\n").into_response();
    };
    let started = std::time::Instant::now();
    match f.test_peer(&domain).await {
        Ok(()) => (StatusCode::OK, started.elapsed().as_millis().to_string()).into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

/// What `impsd peer add` sends.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeerAdd {
    pub url: String,
    #[serde(default)]
    pub sus: bool,
    #[serde(default)]
    pub require_client_cert: bool,
}

/// Adds (or replaces) an operator's peer entry, kept in the store: 204;
/// 400 with why for a bad domain or URL; 404 when federation is off.
async fn peer_add(
    State(st): State<Arc<AdminState>>,
    headers: HeaderMap,
    Path(domain): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    if !authorized(&st, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let Some(f) = st.federation.as_ref() else {
        return (StatusCode::NOT_FOUND, "federation is off\n").into_response();
    };
    let Ok(req) = serde_json::from_slice::<PeerAdd>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            "want {\"url\": ..., \"sus\": ..., \"require_client_cert\": ...}\n",
        )
            .into_response();
    };
    peer_change(
        f.add_peer(&domain, &req.url, req.sus, req.require_client_cert)
            .await,
    )
}

/// Takes a peer out (and keeps that in the store): 204; 404 for a
/// domain that is no peer.
async fn peer_remove(
    State(st): State<Arc<AdminState>>,
    headers: HeaderMap,
    Path(domain): Path<String>,
) -> Response {
    if !authorized(&st, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let Some(f) = st.federation.as_ref() else {
        return (StatusCode::NOT_FOUND, "federation is off\n").into_response();
    };
    peer_change(f.remove_peer(&domain).await)
}

fn peer_change(r: Result<(), crate::federation::PeerChangeError>) -> Response {
    use crate::federation::PeerChangeError as E;
    match r {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e @ E::Invalid(_)) => (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
        Err(e @ E::NotPeer(_)) => (StatusCode::NOT_FOUND, format!("{e}\n")).into_response(),
        Err(e @ E::Store(_)) => {
            tracing::error!(error = %e, "peer entry not stored");
            (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response()
        }
    }
}

async fn kick(
    State(st): State<Arc<AdminState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if !authorized(&st, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if st
        .service
        .kick(&id, "Disconnected by the administrator")
        .await
    {
        StatusCode::NO_CONTENT.into_response()
    } else {
        StatusCode::NOT_FOUND.into_response()
    }
}

/// Asks the process to stop as SIGTERM does: a cluster node drains first
/// (its clients are sent to other nodes, within `cluster.drain_timeout_ms`),
/// a lone process stops at once and restores its sessions at its next
/// start. 202 with the longest the drain may take, in ms (0 alone); the
/// answer comes before the drain starts.
async fn drain(State(st): State<Arc<AdminState>>, headers: HeaderMap) -> Response {
    if !authorized(&st, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    tracing::info!(
        clustered = st.clustered,
        "the operator asked this node to drain and stop"
    );
    st.stop.notify_one();
    let within = if st.clustered { st.drain_ms } else { 0 };
    (StatusCode::ACCEPTED, within.to_string()).into_response()
}

/// Closes a session's WebSockets as a network drop would, leaving the
/// session: its client reconnects and resumes it (the browser client's
/// test, and an operator checking a client's reconnect). 200, or 404 when
/// no WebSocket carries that session.
async fn cut_transport(
    State(st): State<Arc<AdminState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if !authorized(&st, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if st
        .service
        .sessions()
        .get(&id)
        .is_some_and(|s| s.cut_connections())
    {
        StatusCode::OK.into_response()
    } else {
        StatusCode::NOT_FOUND.into_response()
    }
}

/// Ends every live session of a user (canonical ID), as `impsd user
/// passwd` asks: 200 with how many were ended.
async fn end_user_sessions(
    State(st): State<Arc<AdminState>>,
    headers: HeaderMap,
    Path(user): Path<String>,
) -> Response {
    if !authorized(&st, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let n = password_changed(&st.service, &user, "Password changed").await;
    (StatusCode::OK, n.to_string()).into_response()
}

/// After a user's password changed (or was removed): its remembered
/// verifier goes, and so do the user's sessions; how many ended.
pub(crate) async fn password_changed(service: &Service, user: &str, why: &str) -> usize {
    service.forget_password(user);
    service.kick_user(user, why).await
}

/// `?group=GROUPID&user=USERID` of `impsd group expel`.
#[derive(Debug, Deserialize)]
pub struct ExpelQuery {
    pub group: String,
    pub user: String,
}

/// Expels a user from a group (PGC-12): 200, 404 for an unknown group or
/// user, 400 for a malformed ID.
async fn expel(
    State(st): State<Arc<AdminState>>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<ExpelQuery>,
) -> Response {
    if !authorized(&st, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    match st.service.admin_expel(&q.group, &q.user).await {
        Ok(was_joined) => (
            StatusCode::OK,
            if was_joined {
                "expelled"
            } else {
                "not joined; rejected"
            },
        )
            .into_response(),
        Err(e) => {
            let status = match e.status_code() {
                800 | 531 => StatusCode::NOT_FOUND,
                500 => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::BAD_REQUEST,
            };
            (status, e.description()).into_response()
        }
    }
}

/// What `impsd sysmsg send` posts: exactly one audience.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SysmsgSend {
    /// These users.
    #[serde(default)]
    pub to: Vec<String>,
    /// Every user online now.
    #[serde(default)]
    pub online: bool,
    /// Every user, each at their next login.
    #[serde(default)]
    pub all: bool,
    pub text: String,
    #[serde(default)]
    pub options: Vec<String>,
    #[serde(default)]
    pub requires_response: bool,
}

/// What sending did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SysmsgSent {
    pub id: String,
    pub users: usize,
    pub pushed_now: usize,
}

/// One user's copy of a message.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SysmsgDeliveryRow {
    pub user: String,
    pub sent_count: u32,
    pub last_sent_ms: Option<u64>,
    pub answered_ms: Option<u64>,
    pub chosen: Option<u64>,
    /// The chosen option's text.
    pub chosen_text: Option<String>,
}

/// A message and how far it got.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SysmsgRow {
    pub id: String,
    pub text: String,
    pub options: Vec<(u64, String)>,
    pub requires_response: bool,
    pub everyone: bool,
    pub origin: String,
    pub created_ms: u64,
    pub deliveries: Vec<SysmsgDeliveryRow>,
}

impl From<imps_core::SystemMessageSummary> for SysmsgRow {
    fn from(s: imps_core::SystemMessageSummary) -> SysmsgRow {
        let m = s.message;
        let text_of = |c: Option<u64>| {
            c.and_then(|c| m.options.iter().find(|o| o.id == c))
                .map(|o| o.text.clone())
        };
        let deliveries = s
            .deliveries
            .into_iter()
            .map(|d| SysmsgDeliveryRow {
                chosen_text: text_of(d.chosen),
                user: d.user,
                sent_count: d.sent_count,
                last_sent_ms: d.last_sent_ms,
                answered_ms: d.answered_ms,
                chosen: d.chosen,
            })
            .collect();
        SysmsgRow {
            options: m.options.iter().map(|o| (o.id, o.text.clone())).collect(),
            id: m.id,
            text: m.text,
            requires_response: m.requires_response,
            everyone: m.everyone,
            origin: m.origin,
            created_ms: m.created_ms,
            deliveries,
        }
    }
}

/// The HTTP status for a core error on the admin endpoint.
fn admin_error(e: &imps_core::CoreError) -> Response {
    let status = match e.status_code() {
        404 | 531 => StatusCode::NOT_FOUND,
        500 => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    (status, e.description()).into_response()
}

/// Sends a system message (SYM-1): 200 with its ID, 400 for a bad text,
/// options or audience, 404 for an unknown user.
async fn sysmsg_send(
    State(st): State<Arc<AdminState>>,
    headers: HeaderMap,
    axum::Json(req): axum::Json<SysmsgSend>,
) -> Response {
    if !authorized(&st, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    send_sysmsg(&st.service, req).await
}

/// Sends a system message as `POST /admin/sysmsg` asks: shared with the
/// operator's page.
pub(crate) async fn send_sysmsg(service: &Service, req: SysmsgSend) -> Response {
    let to = match (req.to.is_empty(), req.online, req.all) {
        (false, false, false) => imps_core::Audience::Users(req.to),
        (true, true, false) => imps_core::Audience::Online,
        (true, false, true) => imps_core::Audience::Everyone,
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                "name exactly one audience: users, online or all",
            )
                .into_response();
        }
    };
    let m = imps_core::NewSystemMessage {
        text: req.text,
        options: req.options,
        requires_response: req.requires_response,
        to,
    };
    match service.send_system_message(m).await {
        Ok(s) => axum::Json(SysmsgSent {
            id: s.id,
            users: s.users,
            pushed_now: s.pushed_now,
        })
        .into_response(),
        Err(e) => admin_error(&e),
    }
}

/// Every system message with its deliveries and answers: shared with the
/// operator's page.
pub(crate) async fn list_sysmsgs(service: &Service) -> Response {
    match service.system_messages().await {
        Ok(v) => axum::Json(v.into_iter().map(SysmsgRow::from).collect::<Vec<_>>()).into_response(),
        Err(e) => admin_error(&e),
    }
}

async fn sysmsg_list(State(st): State<Arc<AdminState>>, headers: HeaderMap) -> Response {
    if !authorized(&st, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    list_sysmsgs(&st.service).await
}

/// One message with who was sent it and who answered what (SYM-15).
async fn sysmsg_show(
    State(st): State<Arc<AdminState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if !authorized(&st, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    match st.service.system_message(&id).await {
        Ok(s) => axum::Json(SysmsgRow::from(s)).into_response(),
        Err(e) => admin_error(&e),
    }
}

/// Sends a message again to its online users who have not answered it
/// (SYM-12): 200 with how many got it.
async fn sysmsg_resend(
    State(st): State<Arc<AdminState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if !authorized(&st, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    match st.service.resend_system_message(&id).await {
        Ok(n) => (StatusCode::OK, n.to_string()).into_response(),
        Err(e) => admin_error(&e),
    }
}

/// `?filter=...` of `impsd log`.
#[derive(Debug, Deserialize)]
pub struct LogQuery {
    pub filter: String,
}

/// The log filter in force: 200 with the filter, 501 when this process's
/// logging cannot be changed from here.
async fn log_show(State(st): State<Arc<AdminState>>, headers: HeaderMap) -> Response {
    if !authorized(&st, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    match &st.log {
        Some(l) => (StatusCode::OK, l.current()).into_response(),
        None => StatusCode::NOT_IMPLEMENTED.into_response(),
    }
}

/// Replaces the log filter: 200 with the new filter, 400 (and the parse
/// error) for a filter that does not parse, 501 as for `log_show`.
async fn log_set(
    State(st): State<Arc<AdminState>>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<LogQuery>,
) -> Response {
    if !authorized(&st, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let Some(l) = &st.log else {
        return StatusCode::NOT_IMPLEMENTED.into_response();
    };
    match l.set(&q.filter) {
        Ok(()) => {
            let now = l.current();
            tracing::warn!(filter = %now, "log filter changed by the administrator");
            (StatusCode::OK, now).into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, e).into_response(),
    }
}

/// Percent-encodes a query value (everything but unreserved characters).
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Constant-time string comparison for the token.
mod subtle_eq {
    pub fn ct_eq(a: &str, b: &str) -> bool {
        let (a, b) = (a.as_bytes(), b.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}
