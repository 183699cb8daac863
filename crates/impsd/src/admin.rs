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
use subtle_eq::ct_eq;

use crate::logging::LogControl;

pub struct AdminState {
    pub service: Arc<Service>,
    pub token: String,
    /// Changes the log filter; `None` when the embedding program installed
    /// its own logging (tests).
    pub log: Option<Arc<dyn LogControl>>,
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

pub fn router(state: Arc<AdminState>) -> Router {
    Router::new()
        .route("/admin/sessions", get(list))
        .route("/admin/sessions/{id}/kick", post(kick))
        .route("/admin/users/{user}/end-sessions", post(end_user_sessions))
        .route("/admin/groups/expel", post(expel))
        .route("/admin/log", get(log_show).post(log_set))
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
    let n = st.service.kick_user(&user, "Password changed").await;
    (StatusCode::OK, n.to_string()).into_response()
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
