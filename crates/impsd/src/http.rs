//! The CSP HTTP binding: POST a CSP message, get one back. Also HTTP CIR,
//! the WebSocket upgrade, /healthz and /metrics. All HTTP layers are built
//! here, in one place.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use imps_core::{RequestCtx, Service};
use imps_wire::{
    Encoding, Limits, Message, SessionType, Transaction, TransactionMode, Version, WireError,
};

use crate::codec::{encoding_of, reply_content_type, sniff_version};
use crate::metrics::Metrics;

/// What every HTTP handler shares.
pub struct AppState {
    pub service: Arc<Service>,
    pub limits: Limits,
    pub metrics: Arc<Metrics>,
    pub msisdn_header: String,
    pub trusted_proxies: Vec<IpAddr>,
    /// How long a WebSocket write may wait for its client.
    pub ws_write_timeout: std::time::Duration,
    /// `limits.ws_read_ahead`.
    pub ws_read_ahead: usize,
    /// `limits.ws_concurrent_sends`.
    pub ws_concurrent_sends: usize,
    /// WebSocket read buffer and write threshold, in bytes.
    pub ws_buffers: (usize, usize),
    /// How long a request body may take to arrive.
    pub body_time: BodyTime,
    /// How long a WebSocket not bound to a session may stay silent.
    pub idle_timeout: std::time::Duration,
    /// SSP with other domains, when `[federation]` is on.
    pub federation: Option<Arc<crate::federation::Federation>>,
    /// The other nodes, when `[cluster]` is on.
    pub cluster: Option<Arc<crate::cluster::Cluster>>,
    /// Lets the admin endpoint cut a session's WebSockets (the session
    /// stays; its client reconnects and resumes).
    pub ws_carrying: Arc<crate::ws::Carrying>,
    /// The store, for /healthz's ping.
    pub store: Arc<dyn imps_core::Store>,
    /// How long /healthz waits for the store (`store.health_timeout_ms`).
    pub health_timeout: Duration,
}

/// How long a request body may take: `base`, plus one second for every
/// `rate` bytes received (none when `rate` is 0). A body trickling in
/// below the rate runs out of time; a large one on a slow but steady link
/// does not.
#[derive(Debug, Clone, Copy)]
pub struct BodyTime {
    pub base: Duration,
    pub rate: u64,
}

impl BodyTime {
    pub fn from_limits(l: &crate::config::LimitsConfig) -> BodyTime {
        BodyTime {
            base: Duration::from_millis(l.body_timeout_ms.max(1)),
            rate: l.min_body_rate,
        }
    }

    /// The time allowed once `received` bytes are in.
    fn allowed(&self, received: usize) -> Duration {
        match self.rate {
            0 => self.base,
            r => self.base + Duration::from_secs_f64(received as f64 / r as f64),
        }
    }
}

/// Why a request body was not read whole.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("request body over {0} bytes")]
    TooLarge(usize),
    #[error("request body too slow")]
    TooSlow,
    #[error("request body unreadable: {0}")]
    Broken(Box<dyn std::error::Error + Send + Sync>),
}

/// Reads a request body of at most `max` bytes within `time`. A body that
/// came in one piece (a phone's request, nearly always) is returned as
/// that piece, uncopied.
pub async fn read_body<B>(body: B, max: usize, time: BodyTime) -> Result<Bytes, BodyError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    use http_body_util::BodyExt;
    let started = tokio::time::Instant::now();
    let mut body = std::pin::pin!(body);
    let mut first: Option<Bytes> = None;
    let mut more: Option<bytes::BytesMut> = None;
    loop {
        let received = first.as_ref().map_or(0, Bytes::len) + more.as_ref().map_or(0, |m| m.len());
        let deadline = started + time.allowed(received);
        let frame = match tokio::time::timeout_at(deadline, body.as_mut().frame()).await {
            Err(_) => return Err(BodyError::TooSlow),
            Ok(None) => break,
            Ok(Some(Err(e))) => return Err(BodyError::Broken(e.into())),
            Ok(Some(Ok(frame))) => frame,
        };
        // Trailers carry nothing a CSP request needs.
        let Ok(chunk) = frame.into_data() else {
            continue;
        };
        if received + chunk.len() > max {
            return Err(BodyError::TooLarge(max));
        }
        match (&mut first, &mut more) {
            (None, None) => first = Some(chunk),
            (Some(_), None) => {
                let head = first.take().unwrap_or_default();
                let mut buf = bytes::BytesMut::with_capacity(head.len() + chunk.len());
                buf.extend_from_slice(&head);
                buf.extend_from_slice(&chunk);
                more = Some(buf);
            }
            (_, Some(buf)) => buf.extend_from_slice(&chunk),
        }
    }
    Ok(match more {
        Some(buf) => buf.freeze(),
        None => first.unwrap_or_default(),
    })
}

/// The CSP endpoint, answered straight from each connection's service
/// (see `conn.rs`) rather than through the router: on the phone path a
/// message is three POSTs, and the router's cloning, boxing, extension
/// map and middleware were a tenth of the server's CPU (issue 19,
/// docs/benchmarks.md section 51). Everything else still goes through
/// [`router`], which also answers the CSP path itself (so other methods
/// get 405).
pub struct CspEndpoint {
    state: Arc<AppState>,
    path: String,
}

impl CspEndpoint {
    pub fn new(state: Arc<AppState>, path: &str) -> Arc<CspEndpoint> {
        Arc::new(CspEndpoint {
            state,
            path: path.to_string(),
        })
    }

    /// A POST to the CSP path.
    pub fn takes<B>(&self, req: &hyper::Request<B>) -> bool {
        req.method() == axum::http::Method::POST && req.uri().path() == self.path
    }

    pub async fn answer<B>(
        &self,
        peer: SocketAddr,
        certs: Option<&crate::tls::PeerCerts>,
        req: hyper::Request<B>,
    ) -> Response
    where
        B: hyper::body::Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (parts, body) = req.into_parts();
        if let Some(refused) = announced_oversize(&parts.headers, self.state.limits.max_size) {
            return refused;
        }
        csp_answer(&self.state, peer, certs, &parts.headers, body).await
    }
}

pub fn router(state: Arc<AppState>, path: &str, ws_path: &str, max_body: usize) -> Router {
    Router::new()
        .route(path, post(csp_post))
        .route(ws_path, get(crate::ws::upgrade))
        .route("/cir/{token}", get(http_cir))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .merge(crate::web::router(ws_path))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                refuse_announced_oversize(req, next, max_body)
            },
        ))
        .with_state(state)
}

/// `/healthz`: a first line `ok` (200) or `unhealthy` (503), then one
/// line per dependency, `store: ok` or `store: unreachable (why)`, and
/// with `[cluster]` on, `nats: ok` or `nats: unreachable (why)`. The
/// store is pinged through the `Store` trait, the NATS link is flushed;
/// each wait is bounded by `store.health_timeout_ms`.
async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    let mut checks: Vec<(&str, Result<(), String>)> = Vec::new();
    let store = match tokio::time::timeout(state.health_timeout, state.store.ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "no answer within {} ms",
            state.health_timeout.as_millis()
        )),
    };
    checks.push(("store", store));
    if let Some(c) = &state.cluster {
        checks.push(("nats", c.nats_health(state.health_timeout).await));
    }
    // A draining node answers 503 whatever its links say: the load
    // balancer sends new clients elsewhere.
    let draining = state.service.is_draining();
    let healthy = !draining && checks.iter().all(|(_, r)| r.is_ok());
    let mut text = String::from(if draining {
        "draining\n"
    } else if healthy {
        "ok\n"
    } else {
        "unhealthy\n"
    });
    for (name, r) in &checks {
        match r {
            Ok(()) => text.push_str(&format!("{name}: ok\n")),
            // One line each: a reason never breaks the format.
            Err(why) => text.push_str(&format!(
                "{name}: unreachable ({})\n",
                why.replace(['\r', '\n'], " ")
            )),
        }
    }
    if !healthy && !draining {
        tracing::warn!(report = %text.replace('\n', "; "), "health check failed");
    }
    let code = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    plain(code, &text)
}

/// A request whose Content-Length is over `max_body` gets 413 from its
/// headers alone, before any of the body is read (the body limit above
/// would read up to the limit first, at the client's pace), and the
/// connection is closed.
async fn refuse_announced_oversize(
    req: axum::extract::Request,
    next: axum::middleware::Next,
    max_body: usize,
) -> Response {
    match announced_oversize(req.headers(), max_body) {
        Some(refused) => refused,
        None => next.run(req).await,
    }
}

/// 413 (and close) for a Content-Length over `max_body`.
fn announced_oversize(headers: &HeaderMap, max_body: usize) -> Option<Response> {
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())?;
    if announced <= max_body as u64 {
        return None;
    }
    tracing::info!(
        announced,
        max_body,
        "request body over the limit; refused unread"
    );
    let mut r = plain(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n");
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    Some(r)
}

async fn metrics(State(st): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        st.metrics
            .render(&crate::metrics::CoreFigures::of(&st.service))
            + &st
                .federation
                .as_ref()
                .map(|f| f.render_metrics())
                .unwrap_or_default()
            + &st
                .cluster
                .as_ref()
                .map(|c| c.render_metrics())
                .unwrap_or_default(),
    )
}

/// HTTP CIR: 200 when something waits for the session, 204 when not.
async fn http_cir(State(st): State<Arc<AppState>>, Path(token): Path<String>) -> StatusCode {
    match st.service.sessions().by_cir_token(&token) {
        Some(s) if s.has_pending() => StatusCode::OK,
        Some(_) => StatusCode::NO_CONTENT,
        None => StatusCode::NOT_FOUND,
    }
}

/// The MSISDN header counts only when the request comes from a trusted
/// operator gateway; from anyone else it is ignored (and logged).
pub fn asserted_msisdn(st: &AppState, peer: SocketAddr, headers: &HeaderMap) -> Option<String> {
    let v = headers
        .get(st.msisdn_header.as_str())?
        .to_str()
        .ok()?
        .trim()
        .to_string();
    if v.is_empty() {
        return None;
    }
    if st.trusted_proxies.contains(&peer.ip()) {
        Some(v)
    } else {
        tracing::warn!(%peer, "ignoring MSISDN header from an untrusted address");
        None
    }
}

async fn csp_post(
    State(st): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    certs: Option<axum::Extension<crate::tls::PeerCerts>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    csp_answer(&st, peer, certs.as_ref().map(|c| &c.0), &headers, body).await
}

/// One CSP POST, its body not yet read.
async fn csp_answer<B>(
    st: &AppState,
    peer: SocketAddr,
    certs: Option<&crate::tls::PeerCerts>,
    headers: &HeaderMap,
    body: B,
) -> Response
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    Metrics::inc(&st.metrics.http_requests);
    let body = match read_body(body, st.limits.max_size, st.body_time).await {
        Ok(b) => b,
        Err(e) => {
            Metrics::inc(&st.metrics.http_bad_requests);
            tracing::info!(%peer, error = %e, "request body not read; closing");
            let code = match e {
                BodyError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
                BodyError::TooSlow => StatusCode::REQUEST_TIMEOUT,
                BodyError::Broken(_) => StatusCode::BAD_REQUEST,
            };
            let mut r = plain(code, &format!("{e}\n"));
            r.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return r;
        }
    };
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    // SSP shares the CSP listener and path; its content type tells it.
    if crate::federation::inbound::is_ssp(ct) {
        return match &st.federation {
            Some(f) => {
                let certs = certs.map(|c| c.0.as_slice());
                crate::federation::inbound::handle(f, &body, &st.limits, certs).await
            }
            None => plain(StatusCode::UNSUPPORTED_MEDIA_TYPE, "federation is off\n"),
        };
    }
    let Some(enc) = encoding_of(ct, &body) else {
        Metrics::inc(&st.metrics.http_bad_requests);
        return plain(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not a CSP content type\n",
        );
    };
    let msg = match imps_wire::decode(&body, enc, &st.limits) {
        Ok(m) => m,
        Err(e) => return bad_body(st, &body, enc, ct, e),
    };
    // A user of a peer domain whose session is relayed to its home
    // server (SUS): that server answers, through us.
    if let Some(f) = &st.federation
        && let Some(answer) = crate::federation::sus::relay(f, &msg).await
    {
        return match answer {
            Some(reply) => csp_response(st, &reply, enc, ct, msg.version),
            None => empty_ok(),
        };
    }
    // A session another node holds: that node answers (a phone's POSTs
    // may reach any node behind the load balancer).
    if let Some(c) = &st.cluster
        && let Some(sid) = &msg.session_id
        && st.service.sessions().get(sid).is_none()
        && let Some(node) = c.node_of(sid)
    {
        match c.forward(&node, ct.unwrap_or(""), &body).await {
            crate::cluster::Forwarded::Answer(ct, b) if ct.is_empty() => {
                let _ = b;
                return empty_ok();
            }
            crate::cluster::Forwarded::Answer(ct, b) => {
                let mut r = (StatusCode::OK, b).into_response();
                if let Ok(v) = HeaderValue::from_str(&ct) {
                    r.headers_mut().insert(header::CONTENT_TYPE, v);
                }
                return r;
            }
            // Gone meanwhile: answered here, as for any unknown session.
            crate::cluster::Forwarded::NotThere => {}
        }
    }
    let ctx = RequestCtx {
        peer: Some(peer),
        msisdn: asserted_msisdn(st, peer, headers),
        send_order: None,
    };
    let version = msg.version;
    Metrics::inc(&st.metrics.csp_transactions);
    match handle_to_end(&st.service, &ctx, msg).await {
        Ok(Some(reply)) => csp_response(st, &reply, enc, ct, version),
        Ok(None) => {
            Metrics::inc(&st.metrics.csp_empty_responses);
            empty_ok()
        }
        Err(HandlerFailed) => plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the request failed inside the server\n",
        ),
    }
}

/// A CSP request another node forwarded here (`cluster`): the content
/// type and body of the answer (an empty type for an empty body), or
/// `None` when its session is not here (nor is it forwarded again).
pub async fn answer_forwarded(st: &AppState, ct: &str, body: &[u8]) -> Option<(String, Vec<u8>)> {
    let ct = (!ct.is_empty()).then_some(ct);
    let enc = encoding_of(ct, body)?;
    let msg = imps_wire::decode(body, enc, &st.limits).ok()?;
    let sid = msg.session_id.as_deref()?;
    st.service.sessions().get(sid)?;
    let version = msg.version;
    Metrics::inc(&st.metrics.csp_transactions);
    let ctx = RequestCtx {
        peer: None,
        msisdn: None,
        send_order: None,
    };
    match handle_to_end(&st.service, &ctx, msg).await {
        Ok(Some(reply)) => {
            let bytes = imps_wire::encode(&reply, enc).ok()?;
            Some((reply_content_type(ct, enc, version), bytes))
        }
        Ok(None) => Some((String::new(), Vec::new())),
        Err(HandlerFailed) => None,
    }
}

/// A handler that panicked; it has been logged.
#[derive(Debug)]
pub struct HandlerFailed;

/// Handles one CSP message to the end, whatever happens to the caller.
///
/// A transport's future is dropped when its client goes away (an HTTP
/// client that disconnects, a WebSocket whose write fails). Dropping a
/// handler half-way would leave work the store has already committed
/// without its follow-up: a stored message never queued for its online
/// recipient, a block-list change whose cache entry is never invalidated.
/// So the handler is polled in the caller's task while the caller waits
/// (no task per request: on the phone path a message takes three POSTs),
/// and handed to a task of its own only when the caller is dropped before
/// it ends ([`ToEnd`]). A handler that panics is logged and answered as a
/// failure.
pub async fn handle_to_end(
    service: &Arc<Service>,
    ctx: &RequestCtx,
    msg: Message,
) -> Result<Option<Message>, HandlerFailed> {
    use futures_util::FutureExt;
    let service = service.clone();
    let ctx = ctx.clone();
    let handler = async move { service.handle(&ctx, msg).await };
    ToEnd(Some(Box::pin(
        std::panic::AssertUnwindSafe(handler).catch_unwind(),
    )))
    .await
    .map_err(|_| {
        tracing::error!("a CSP handler panicked");
        HandlerFailed
    })
}

/// A future that is finished even when whoever awaits it goes away:
/// polled in place, and moved to a task of its own if dropped before it
/// completes.
struct ToEnd<T: Send + 'static>(Option<std::pin::Pin<Box<dyn Future<Output = T> + Send>>>);

impl<T: Send + 'static> Future for ToEnd<T> {
    type Output = T;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<T> {
        let Some(f) = self.0.as_mut() else {
            // Polled again after it completed: nothing more will come.
            return std::task::Poll::Pending;
        };
        match f.as_mut().poll(cx) {
            std::task::Poll::Ready(v) => {
                self.0 = None;
                std::task::Poll::Ready(v)
            }
            std::task::Poll::Pending => std::task::Poll::Pending,
        }
    }
}

impl<T: Send + 'static> Drop for ToEnd<T> {
    fn drop(&mut self) {
        let Some(f) = self.0.take() else { return };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(f);
            }
            // Only outside a runtime (never in the server): nothing can
            // run it any more.
            Err(_) => tracing::error!("a CSP handler dropped outside the runtime"),
        }
    }
}

/// An undecodable body. When it says which CSP version it is, the client
/// gets a CSP Status 400 it can read; otherwise plain HTTP 400.
fn bad_body(
    st: &AppState,
    body: &[u8],
    enc: Encoding,
    ct: Option<&str>,
    err: WireError,
) -> Response {
    Metrics::inc(&st.metrics.http_bad_requests);
    tracing::info!(error = %err, bytes = body.len(), "undecodable CSP body");
    match sniff_version(body, enc) {
        Some(v) => {
            let desc = format!("Bad request: {err}");
            let tx = Transaction {
                mode: TransactionMode::Response,
                id: None,
                segment_info: None,
                body: imps_core::reply::status(400, &desc),
                ext: Vec::new(),
            };
            let mut m = Message::single(v, None, tx);
            m.session_type = SessionType::Outband;
            csp_response(st, &m, enc, ct, v)
        }
        None => plain(
            StatusCode::BAD_REQUEST,
            &format!("not a CSP document: {err}\n"),
        ),
    }
}

fn csp_response(
    st: &AppState,
    reply: &Message,
    enc: Encoding,
    ct: Option<&str>,
    version: Version,
) -> Response {
    match imps_wire::encode(reply, enc) {
        Ok(bytes) => {
            let ctype = reply_content_type(ct, enc, version);
            let mut r = (StatusCode::OK, bytes).into_response();
            if let Ok(v) = HeaderValue::from_str(&ctype) {
                r.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            r
        }
        Err(e) => {
            let _ = st;
            tracing::error!(error = %e, "could not encode a reply");
            plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "could not encode the reply\n",
            )
        }
    }
}

/// HTTP 200 with an explicit `Content-Length: 0`: Android rejects a
/// chunked empty body.
pub(crate) fn empty_ok() -> Response {
    let mut r = StatusCode::OK.into_response();
    r.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    r
}

pub(crate) fn plain(code: StatusCode, text: &str) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text.to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use hyper::body::Frame;
    use std::convert::Infallible;

    fn chunks(parts: &[&'static str]) -> impl hyper::body::Body<Data = Bytes, Error = Infallible> {
        let frames: Vec<Result<Frame<Bytes>, Infallible>> = parts
            .iter()
            .map(|p| Ok(Frame::data(Bytes::from_static(p.as_bytes()))))
            .collect();
        http_body_util::StreamBody::new(futures_util::stream::iter(frames))
    }

    fn time() -> BodyTime {
        BodyTime {
            base: Duration::from_secs(5),
            rate: 0,
        }
    }

    #[tokio::test]
    async fn a_body_in_one_piece_is_that_piece_and_pieces_are_joined() {
        let one = read_body(chunks(&["<WV-CSP-Message/>"]), 100, time())
            .await
            .unwrap();
        assert_eq!(&one[..], b"<WV-CSP-Message/>");
        let three = read_body(chunks(&["ab", "cd", "ef"]), 100, time())
            .await
            .unwrap();
        assert_eq!(&three[..], b"abcdef");
        let none = read_body(chunks(&[]), 100, time()).await.unwrap();
        assert!(none.is_empty());
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused_whether_in_one_piece_or_many() {
        let r = read_body(chunks(&["abcdefgh"]), 7, time()).await;
        assert!(matches!(r, Err(BodyError::TooLarge(7))), "{r:?}");
        let r = read_body(chunks(&["abcd", "efgh"]), 7, time()).await;
        assert!(matches!(r, Err(BodyError::TooLarge(7))), "{r:?}");
        let r = read_body(chunks(&["abc", "defg"]), 7, time()).await;
        assert_eq!(&r.unwrap()[..], b"abcdefg");
    }
}
