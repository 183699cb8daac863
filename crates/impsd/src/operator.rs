//! The operator's page (issue 21) on the admin listener, under
//! `/admin/page/`: live sessions, and kicking one.
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
use imps_core::Service;
use parking_lot::Mutex;
use serde::Deserialize;

use crate::admin::SessionRow;

const COOKIE: &str = "impsd_admin";
const CSRF_HEADER: &str = "x-csrf-token";

/// What the page's routes share.
pub struct OperatorState {
    pub service: Arc<Service>,
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
        service: Arc<Service>,
        token: String,
        max_sessions: usize,
        lifetime: Duration,
        secure: bool,
    ) -> Self {
        OperatorState {
            service,
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
    if st.csrf_of(&headers).is_none() {
        return StatusCode::UNAUTHORIZED.into_response();
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
    let Some(csrf) = st.csrf_of(&headers) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    if !crate::web::same_origin(&headers) || !sent.is_some_and(|t| crate::admin::ct_eq(t, &csrf)) {
        return StatusCode::FORBIDDEN.into_response();
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
