//! The browser chat client (issue 21): static files embedded in the
//! binary and served under `/web/` on the CSP listener, so the page and
//! its WebSocket share one origin. The page speaks CSP 1.3 XML over the
//! WebSocket binding (`ws.rs`) like any other client; nothing here knows
//! a session.
//!
//! Every answer carries a strict Content-Security-Policy (scripts, styles
//! and connections from this origin only, no inline code, no framing),
//! and the files hold no secrets: the SessionID lives in the page's
//! memory, never in a URL or a cookie.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

/// The policy of every `/web/` answer. `connect-src 'self'` covers the
/// WebSocket to the same host and port (CSP level 3).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// One embedded file: its name under `/web/`, content type and bytes.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const INDEX: &str = include_str!("../web/index.html");

const ASSETS: &[Asset] = &[
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../web/app.css"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../web/app.js"),
    },
    Asset {
        name: "csp.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../web/csp.js"),
    },
    Asset {
        name: "primitives.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../web/primitives.js"),
    },
    Asset {
        name: "ui.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../web/ui.js"),
    },
];

/// The routes of the chat client. `ws_path` is where the page opens its
/// WebSocket (the `ws_path` setting); the page reads it from a meta tag.
pub fn router<S: Clone + Send + Sync + 'static>(ws_path: &str) -> Router<S> {
    let index = INDEX.replace("{{WS_PATH}}", &attr_escape(ws_path));
    Router::new()
        .route("/web", get(|| async { Redirect::permanent("/web/") }))
        .route(
            "/web/",
            get(move || {
                let index = index.clone();
                async move { with_headers("text/html; charset=utf-8", index.into_bytes()) }
            }),
        )
        .route("/web/{file}", get(asset))
}

async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.name == file) {
        Some(a) => with_headers(a.content_type, a.body.to_vec()),
        None => (StatusCode::NOT_FOUND, "not found\n").into_response(),
    }
}

fn with_headers(content_type: &'static str, body: Vec<u8>) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

fn attr_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Gives an HTTP/2 request the Host header its `:authority` stands for.
/// hyper puts `:authority` in the URI and no Host in the headers, so
/// [`same_origin`] refused every browser action on the operator page over
/// HTTPS (browsers speak HTTP/2 there once ALPN offers it). A request
/// that has a Host keeps it.
pub async fn host_from_authority(mut req: axum::extract::Request) -> axum::extract::Request {
    if !req.headers().contains_key(header::HOST)
        && let Some(v) = req
            .uri()
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    {
        req.headers_mut().insert(header::HOST, v);
    }
    req
}

/// Whether a WebSocket upgrade may go on: a browser names the page's
/// origin, which must be this server's own (the Host it asked for), so a
/// page on another site cannot drive a session through a visitor's
/// browser. Clients that are not browsers send no Origin and pass.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let (Ok(origin), Some(Ok(host))) = (
        origin.to_str(),
        headers.get(header::HOST).map(|h| h.to_str()),
    ) else {
        return false;
    };
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|o| o.eq_ignore_ascii_case(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                k.clone(),
                HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static("")),
            );
        }
        h
    }

    #[test]
    fn only_the_servers_own_origin_may_open_a_websocket() {
        let host = (header::HOST, "127.0.0.1:8080");
        assert!(same_origin(&headers(std::slice::from_ref(&host))));
        assert!(same_origin(&headers(&[
            host.clone(),
            (header::ORIGIN, "http://127.0.0.1:8080")
        ])));
        assert!(!same_origin(&headers(&[
            host.clone(),
            (header::ORIGIN, "http://evil.example")
        ])));
        assert!(!same_origin(&headers(&[(
            header::ORIGIN,
            "http://127.0.0.1:8080"
        )])));
        assert!(!same_origin(&headers(&[host, (header::ORIGIN, "null")])));
    }

    #[test]
    fn every_asset_is_named_in_the_page_or_by_another_asset() {
        for a in ASSETS {
            let named = INDEX.contains(a.name)
                || ASSETS
                    .iter()
                    .any(|b| std::str::from_utf8(b.body).is_ok_and(|t| t.contains(a.name)));
            assert!(named, "{} is served but nothing loads it", a.name);
        }
    }
}
