//! The HTTP binding: one POST per CSP message, and the HTTP CIR check.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use imps_wire::{Encoding, Limits, Message};
use tokio::sync::Semaphore;

use crate::client::Client;
use crate::config::{ClientConfig, content_type, encoding_of_content_type};
use crate::transport::Transport;
use crate::{ClientError, Result};

/// How much of a non-200 body we keep in `ClientError::Http`: enough for
/// the server's explanation, not a whole page.
const ERROR_TEXT_MAX: usize = 4096;

type Pool = HyperClient<HttpConnector, Full<Bytes>>;

/// POSTs CSP documents to one URL over a keep-alive connection pool.
#[derive(Clone)]
pub struct HttpTransport {
    pool: Pool,
    uri: Uri,
    content_type: &'static str,
    encoding: Encoding,
    limits: Limits,
    headers: HeaderMap,
    timeout: Duration,
    /// With [`HttpTransport::with_max_connections`]: one permit per
    /// request in flight, which holds the pool near that many
    /// connections.
    gate: Option<Arc<Semaphore>>,
}

impl HttpTransport {
    pub fn new(config: &ClientConfig) -> Result<HttpTransport> {
        Ok(HttpTransport {
            pool: new_pool(),
            uri: parse_uri(&config.url)?,
            content_type: content_type(config.version, config.encoding),
            encoding: config.encoding,
            limits: config.limits.clone(),
            headers: header_map(&config.extra_headers)?,
            timeout: config.timeout,
            gate: None,
        })
    }

    /// At most `n` requests in flight on this transport and its clones,
    /// and at most `n` idle connections kept: a load tool that shares one
    /// pool between many users stays within its file descriptors. The
    /// connection count is held near `n`, not exactly: the pool takes a
    /// finished connection back a moment after its request returns, and
    /// a request in that moment may open one more (closed again as idle
    /// over `n`). A request over the limit waits for a free permit within
    /// the request timeout. `http_cir_check` has its own pool, uncapped.
    pub fn with_max_connections(mut self, n: usize) -> HttpTransport {
        let n = n.max(1);
        self.pool = HyperClient::builder(TokioExecutor::new())
            .pool_max_idle_per_host(n)
            .build_http();
        self.gate = Some(Arc::new(Semaphore::new(n)));
        self
    }
}

impl Transport for HttpTransport {
    async fn send(&self, msg: &Message) -> Result<Option<Message>> {
        let body = imps_wire::encode(msg, self.encoding)?;
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(self.uri.clone())
            .header(CONTENT_TYPE, self.content_type)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| ClientError::Transport(format!("building request: {e}")))?;
        req.headers_mut().extend(self.headers.clone());
        let started = tokio::time::Instant::now();
        let _permit = match &self.gate {
            Some(gate) => Some(
                tokio::time::timeout(self.timeout, Arc::clone(gate).acquire_owned())
                    .await
                    .map_err(|_| ClientError::Timeout)?
                    .map_err(|_| ClientError::Closed)?,
            ),
            None => None,
        };
        let left = self.timeout.saturating_sub(started.elapsed());
        let reply = fetch(&self.pool, req, self.limits.max_size, left).await?;
        if reply.status != StatusCode::OK {
            return Err(http_error(&reply));
        }
        if reply.body.is_empty() {
            return Ok(None);
        }
        // The server must answer in the encoding we spoke; decoding a
        // mislabelled body would hide that bug, so say it plainly.
        if let Some(enc) = reply
            .content_type
            .as_deref()
            .and_then(encoding_of_content_type)
            && enc != self.encoding
        {
            return Err(ClientError::Protocol(format!(
                "asked in {:?}, answered with Content-Type {:?}",
                self.encoding, reply.content_type
            )));
        }
        Ok(Some(imps_wire::decode(
            &reply.body,
            self.encoding,
            &self.limits,
        )?))
    }
}

/// An HTTP client session: `Client::new(config)` then `login_password`...
pub type HttpClient = Client<HttpTransport>;

impl Client<HttpTransport> {
    pub fn new(config: ClientConfig) -> Result<Client<HttpTransport>> {
        let transport = HttpTransport::new(&config)?;
        Ok(Client::with_transport(transport, config))
    }

    /// HTTP CIR over this client's connection pool; see [`http_cir_check`].
    pub async fn http_cir_check(&self, url: &str) -> Result<bool> {
        let t = self.transport();
        cir_get(&t.pool, url, &t.headers, t.timeout).await
    }
}

/// HTTP CIR: GET the CIR URL. `true` (200) means something waits and a
/// Polling-Request is due; `false` (204) means nothing; anything else
/// (404 for an unknown session) is `ClientError::Http`.
pub async fn http_cir_check(url: &str, timeout: Duration) -> Result<bool> {
    cir_get(&new_pool(), url, &HeaderMap::new(), timeout).await
}

async fn cir_get(pool: &Pool, url: &str, headers: &HeaderMap, timeout: Duration) -> Result<bool> {
    let mut req = Request::builder()
        .method(Method::GET)
        .uri(parse_uri(url)?)
        .body(Full::new(Bytes::new()))
        .map_err(|e| ClientError::Transport(format!("building request: {e}")))?;
    req.headers_mut().extend(headers.clone());
    let reply = fetch(pool, req, ERROR_TEXT_MAX, timeout).await?;
    match reply.status {
        StatusCode::OK => Ok(true),
        StatusCode::NO_CONTENT => Ok(false),
        _ => Err(http_error(&reply)),
    }
}

struct Reply {
    status: StatusCode,
    content_type: Option<String>,
    body: Bytes,
}

/// One exchange, the whole body read under a size cap, all within
/// `timeout` (a server that trickles bytes must not hang a test).
async fn fetch(
    pool: &Pool,
    req: Request<Full<Bytes>>,
    cap: usize,
    timeout: Duration,
) -> Result<Reply> {
    let exchange = async {
        let resp = pool
            .request(req)
            .await
            .map_err(|e| ClientError::Transport(error_chain(&e)))?;
        let status = resp.status();
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = Limited::new(resp.into_body(), cap)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    ClientError::Protocol(format!("answer body over the limit of {cap} bytes"))
                } else {
                    ClientError::Transport(format!("reading body: {e}"))
                }
            })?
            .to_bytes();
        Ok(Reply {
            status,
            content_type,
            body,
        })
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| ClientError::Timeout)?
}

fn http_error(reply: &Reply) -> ClientError {
    let cut = reply.body.len().min(ERROR_TEXT_MAX);
    let text = String::from_utf8_lossy(&reply.body[..cut]).into_owned();
    ClientError::Http(reply.status.as_u16(), text)
}

fn new_pool() -> Pool {
    HyperClient::builder(TokioExecutor::new()).build_http()
}

fn parse_uri(url: &str) -> Result<Uri> {
    url.parse()
        .map_err(|e| ClientError::Transport(format!("invalid URL {url:?}: {e}")))
}

pub(crate) fn header_map(pairs: &[(String, String)]) -> Result<HeaderMap> {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        let n = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| ClientError::Transport(format!("invalid header name {name:?}: {e}")))?;
        let v = HeaderValue::from_str(value)
            .map_err(|e| ClientError::Transport(format!("invalid value for header {name}: {e}")))?;
        map.append(n, v);
    }
    Ok(map)
}

/// hyper-util's errors say "client error (Connect)" and keep the cause in
/// the source chain; a test log needs the cause.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
