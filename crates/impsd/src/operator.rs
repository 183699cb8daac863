//! The operator's page (issue 21) on the admin listener, under
//! `/admin/page/`: live sessions (kick), users (add, disable, new
//! password), groups and their members, system messages (send, see the
//! answers), SSP peers with their queues, and graphs of the last hour.
//!
//! The operator signs in with the admin token once; the page then holds a
//! cookie (HttpOnly, SameSite=Strict; Secure when the listener serves TLS) that names a page
//! session, and every action also carries that session's CSRF token in a
//! header, which a page of another site can neither read nor send. Actions
//! take JSON bodies (never form posts) and are refused from another
//! Origin. SessionIDs travel in bodies, never in URLs.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use imps_core::{Service, Store};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::Config;
use crate::admin::SessionRow;
use crate::history::History;

const COOKIE: &str = "impsd_admin";
const CSRF_HEADER: &str = "x-csrf-token";

/// What the page reads and acts on.
pub struct Parts {
    pub service: Arc<Service>,
    /// The accounts (the same store the server runs on).
    pub store: Arc<dyn Store>,
    /// For new passwords (hash cost, digest key) and the domain.
    pub cfg: Arc<Config>,
    pub federation: Option<Arc<crate::federation::Federation>>,
    pub history: Arc<History>,
}

/// What the page's routes share.
pub struct OperatorState {
    pub service: Arc<Service>,
    store: Arc<dyn Store>,
    cfg: Arc<Config>,
    federation: Option<Arc<crate::federation::Federation>>,
    history: Arc<History>,
    pub token: String,
    /// Most page sessions at once (`admin.page_sessions`); past it the
    /// oldest is forgotten.
    pub max_sessions: usize,
    /// How long a page session lasts (`admin.page_session_secs`).
    pub lifetime: Duration,
    /// Whether the cookie is marked Secure (the admin listener serves TLS).
    pub secure: bool,
    sessions: Mutex<VecDeque<PageSession>>,
}

struct PageSession {
    cookie: String,
    csrf: String,
    expires: Instant,
}

impl OperatorState {
    pub fn new(
        parts: Parts,
        token: String,
        max_sessions: usize,
        lifetime: Duration,
        secure: bool,
    ) -> Self {
        OperatorState {
            service: parts.service,
            store: parts.store,
            cfg: parts.cfg,
            federation: parts.federation,
            history: parts.history,
            token,
            max_sessions: max_sessions.max(1),
            lifetime,
            secure,
            sessions: Mutex::new(VecDeque::new()),
        }
    }

    /// The CSRF token of the live page session the request's cookie names.
    fn csrf_of(&self, headers: &HeaderMap) -> Option<String> {
        let cookie = cookie_value(headers)?;
        let now = Instant::now();
        let mut s = self.sessions.lock();
        s.retain(|p| p.expires > now);
        s.iter()
            .find(|p| crate::admin::ct_eq(&p.cookie, &cookie))
            .map(|p| p.csrf.clone())
    }

    /// Whether an action may go ahead: a live page session, its CSRF
    /// token in the header, and no other Origin. The refusal otherwise.
    fn check_action(&self, headers: &HeaderMap) -> Result<(), StatusCode> {
        let Some(csrf) = self.csrf_of(headers) else {
            return Err(StatusCode::UNAUTHORIZED);
        };
        let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        if !crate::web::same_origin(headers) || !sent.is_some_and(|t| crate::admin::ct_eq(t, &csrf))
        {
            return Err(StatusCode::FORBIDDEN);
        }
        Ok(())
    }

    /// Whether a read may go ahead: a live page session.
    fn check_read(&self, headers: &HeaderMap) -> Result<(), StatusCode> {
        match self.csrf_of(headers) {
            Some(_) => Ok(()),
            None => Err(StatusCode::UNAUTHORIZED),
        }
    }
}

const PAGE: &str = include_str!("../web/admin/index.html");
const SCRIPT: &str = include_str!("../web/admin/admin.js");
const STYLE: &str = include_str!("../web/app.css");

pub fn router(state: Arc<OperatorState>) -> Router {
    Router::new()
        .route(
            "/admin/page/",
            get(|| async { page("text/html; charset=utf-8", PAGE) }),
        )
        .route(
            "/admin/page/admin.js",
            get(|| async { page("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/admin/page/app.css",
            get(|| async { page("text/css; charset=utf-8", STYLE) }),
        )
        .route("/admin/page/login", post(sign_in))
        .route("/admin/page/sessions", get(sessions))
        .route("/admin/page/kick", post(kick))
        .route("/admin/page/users", get(users))
        .route("/admin/page/user-add", post(user_add))
        .route("/admin/page/user-disable", post(user_disable))
        .route("/admin/page/user-password", post(user_password))
        .route("/admin/page/groups", get(groups))
        .route("/admin/page/sysmsgs", get(sysmsgs))
        .route("/admin/page/sysmsg-send", post(sysmsg_send))
        .route("/admin/page/peers", get(peers))
        .route("/admin/page/graphs", get(graphs))
        .with_state(state)
}

fn page(content_type: &'static str, body: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(crate::web::CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

#[derive(Deserialize)]
struct SignIn {
    token: String,
}

async fn sign_in(
    State(st): State<Arc<OperatorState>>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<SignIn>,
) -> Response {
    if !crate::web::same_origin(&headers) {
        return StatusCode::FORBIDDEN.into_response();
    }
    if !crate::admin::ct_eq(body.token.trim(), &st.token) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let (Ok(cookie), Ok(csrf)) = (
        imps_core::ids::random_token(),
        imps_core::ids::random_token(),
    ) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    {
        let mut s = st.sessions.lock();
        while s.len() >= st.max_sessions {
            s.pop_front();
        }
        s.push_back(PageSession {
            cookie: cookie.clone(),
            csrf: csrf.clone(),
            expires: Instant::now() + st.lifetime,
        });
    }
    let secure = if st.secure { "; Secure" } else { "" };
    let set = format!(
        "{COOKIE}={cookie}; Path=/admin/page/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        st.lifetime.as_secs()
    );
    let mut r = axum::Json(serde_json::json!({ "csrf": csrf })).into_response();
    if let Ok(v) = HeaderValue::from_str(&set) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

async fn sessions(State(st): State<Arc<OperatorState>>, headers: HeaderMap) -> Response {
    if let Err(r) = st.check_read(&headers) {
        return r.into_response();
    }
    let rows: Vec<SessionRow> = st
        .service
        .session_summaries()
        .into_iter()
        .map(SessionRow::from)
        .collect();
    axum::Json(rows).into_response()
}

#[derive(Deserialize)]
struct Kick {
    id: String,
}

async fn kick(
    State(st): State<Arc<OperatorState>>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Kick>,
) -> Response {
    if let Err(r) = st.check_action(&headers) {
        return r.into_response();
    }
    if st
        .service
        .kick(&body.id, "Disconnected by the administrator")
        .await
    {
        StatusCode::NO_CONTENT.into_response()
    } else {
        StatusCode::NOT_FOUND.into_response()
    }
}

#[derive(Deserialize)]
struct UsersQuery {
    #[serde(default)]
    offset: usize,
}

#[derive(Serialize)]
struct UserRow {
    id: String,
    friendly_name: Option<String>,
    msisdn: Option<String>,
    /// Has a password (or can log in by MSISDN): not disabled.
    enabled: bool,
    sessions: usize,
}

#[derive(Serialize)]
struct UserPage {
    total: usize,
    offset: usize,
    limit: usize,
    rows: Vec<UserRow>,
}

/// One page of users (`admin.page_users` of them), in ID order.
async fn users(
    State(st): State<Arc<OperatorState>>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<UsersQuery>,
) -> Response {
    if let Err(r) = st.check_read(&headers) {
        return r.into_response();
    }
    let mut all = match st.store.list_users().await {
        Ok(v) => v,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    all.sort_by(|a, b| a.id.cmp(&b.id));
    let limit = st.cfg.admin.page_users.max(1);
    let total = all.len();
    let offset = q.offset.min(total);
    let live = st.service.session_summaries();
    let rows = all
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|u| UserRow {
            sessions: live.iter().filter(|s| s.user == u.id).count(),
            enabled: u.password_hash.is_some() || u.msisdn.is_some(),
            id: u.id,
            friendly_name: u.friendly_name,
            msisdn: u.msisdn,
        })
        .collect();
    axum::Json(UserPage {
        total,
        offset,
        limit,
        rows,
    })
    .into_response()
}

#[derive(Deserialize)]
struct UserPassword {
    user: String,
    #[serde(default)]
    password: String,
}

/// The canonical ID of `user`, or 400.
fn canonical(st: &OperatorState, user: &str) -> Result<String, (StatusCode, String)> {
    imps_core::users::canonical_user(user.trim(), &st.cfg.domain)
        .map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))
}

/// What `impsd user add|passwd` store for a password, made off the
/// runtime (Argon2 is slow on purpose).
async fn credentials(
    st: &OperatorState,
    password: String,
) -> Result<(String, Option<Vec<u8>>), Response> {
    if password.is_empty() {
        return Err((StatusCode::BAD_REQUEST, "a password is needed").into_response());
    }
    let cfg = st.cfg.clone();
    match tokio::task::spawn_blocking(move || crate::credentials(&cfg, &password)).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err((StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()),
        Err(_) => Err(StatusCode::INTERNAL_SERVER_ERROR.into_response()),
    }
}

/// Adds a user with a password, as `impsd user add` does: 201, 409 when
/// the ID is taken.
async fn user_add(
    State(st): State<Arc<OperatorState>>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<UserPassword>,
) -> Response {
    if let Err(r) = st.check_action(&headers) {
        return r.into_response();
    }
    let id = match canonical(&st, &body.user) {
        Ok(id) => id,
        Err(r) => return r.into_response(),
    };
    let (hash, secret) = match credentials(&st, body.password).await {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let created_ms = crate::federation::now_ms();
    match st
        .store
        .create_user(imps_core::NewUser {
            id: id.clone(),
            password_hash: Some(hash),
            digest_secret: secret,
            msisdn: None,
            friendly_name: None,
            created_ms,
        })
        .await
    {
        Ok(()) => (StatusCode::CREATED, id).into_response(),
        Err(imps_core::StoreError::Conflict(why)) => (StatusCode::CONFLICT, why).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Sets a new password, as `impsd user passwd` does (which also enables
/// a disabled user): the user's sessions end. 200 with how many.
async fn user_password(
    State(st): State<Arc<OperatorState>>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<UserPassword>,
) -> Response {
    if let Err(r) = st.check_action(&headers) {
        return r.into_response();
    }
    let id = match canonical(&st, &body.user) {
        Ok(id) => id,
        Err(r) => return r.into_response(),
    };
    let (hash, secret) = match credentials(&st, body.password).await {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    set_credentials(&st, &id, Some(hash), secret, "Password changed").await
}

#[derive(Deserialize)]
struct UserOnly {
    user: String,
}

/// Disables a user: the password (and digest secret) are removed, so no
/// password login succeeds, and the user's sessions end. A new password
/// enables the user again. 200 with how many sessions ended.
async fn user_disable(
    State(st): State<Arc<OperatorState>>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<UserOnly>,
) -> Response {
    if let Err(r) = st.check_action(&headers) {
        return r.into_response();
    }
    let id = match canonical(&st, &body.user) {
        Ok(id) => id,
        Err(r) => return r.into_response(),
    };
    set_credentials(
        &st,
        &id,
        None,
        None,
        "Account disabled by the administrator",
    )
    .await
}

async fn set_credentials(
    st: &OperatorState,
    id: &str,
    hash: Option<String>,
    secret: Option<Vec<u8>>,
    why: &str,
) -> Response {
    match st.store.set_password(id, hash, secret).await {
        Ok(true) => {
            let n = crate::admin::password_changed(&st.service, id, why).await;
            (StatusCode::OK, n.to_string()).into_response()
        }
        Ok(false) => (StatusCode::NOT_FOUND, format!("no user {id}")).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[derive(Serialize)]
struct GroupRow {
    id: String,
    name: Option<String>,
    owner: String,
    private: bool,
    /// (user, access level)
    members: Vec<(String, &'static str)>,
    /// Users joined now.
    joined: Vec<String>,
}

/// Most groups the page lists (the rest are counted, not shown).
const PAGE_GROUPS: usize = 200;

#[derive(Serialize)]
struct GroupPage {
    total: usize,
    rows: Vec<GroupRow>,
}

/// Groups with their members and who is joined.
async fn groups(State(st): State<Arc<OperatorState>>, headers: HeaderMap) -> Response {
    if let Err(r) = st.check_read(&headers) {
        return r.into_response();
    }
    let mut all = match st.store.groups().await {
        Ok(v) => v,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    all.sort_by(|a, b| a.id.cmp(&b.id));
    let total = all.len();
    let mut rows = Vec::new();
    for g in all.into_iter().take(PAGE_GROUPS) {
        let members = match st.store.members(&g.id).await {
            Ok(m) => m.into_iter().map(|(u, a)| (u, a.as_str())).collect(),
            Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        };
        let joined = match st.store.joined(&g.id).await {
            Ok(j) => j.into_iter().map(|j| j.user).collect(),
            Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        };
        rows.push(GroupRow {
            name: g.prop("Name").map(str::to_string),
            id: g.id,
            owner: g.owner,
            private: g.private,
            members,
            joined,
        });
    }
    axum::Json(GroupPage { total, rows }).into_response()
}

async fn sysmsgs(State(st): State<Arc<OperatorState>>, headers: HeaderMap) -> Response {
    if let Err(r) = st.check_read(&headers) {
        return r.into_response();
    }
    crate::admin::list_sysmsgs(&st.service).await
}

/// Sends a system message (the body of `POST /admin/sysmsg`).
async fn sysmsg_send(
    State(st): State<Arc<OperatorState>>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<crate::admin::SysmsgSend>,
) -> Response {
    if let Err(r) = st.check_action(&headers) {
        return r.into_response();
    }
    crate::admin::send_sysmsg(&st.service, body).await
}

/// The SSP peers as `impsd peer list` shows them; empty without
/// federation.
async fn peers(State(st): State<Arc<OperatorState>>, headers: HeaderMap) -> Response {
    if let Err(r) = st.check_read(&headers) {
        return r.into_response();
    }
    let rows = st
        .federation
        .as_ref()
        .map(|f| f.peer_views())
        .unwrap_or_default();
    axum::Json(rows).into_response()
}

#[derive(Serialize)]
struct Graphs {
    sample_secs: u64,
    samples: Vec<crate::history::Sample>,
}

async fn graphs(State(st): State<Arc<OperatorState>>, headers: HeaderMap) -> Response {
    if let Err(r) = st.check_read(&headers) {
        return r.into_response();
    }
    axum::Json(Graphs {
        sample_secs: st.history.sample_secs,
        samples: st.history.samples(),
    })
    .into_response()
}
