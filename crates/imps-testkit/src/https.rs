//! The HTTP binding over HTTPS, for a server whose CSP listener serves
//! TLS (`[tls]`): a client transport that trusts the CAs of one PEM file
//! (with the connector impsd uses towards its peers), and a GET for
//! `/metrics` over it.

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Uri;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use imps_client::{Client, ClientError, Encoding, Message, Transport, Version};
use impsd::tls::HttpsConnector;

use crate::user::Inbox;
use crate::wait::Backoff;

type Pool = HyperClient<HttpsConnector, Full<Bytes>>;

const TIMEOUT: Duration = Duration::from_secs(30);

fn pool(ca_file: &Path) -> Pool {
    let conn = HttpsConnector::trusting(ca_file, TIMEOUT).expect("the CA file reads");
    HyperClient::builder(TokioExecutor::new()).build(conn)
}

/// POSTs CSP documents to one https:// URL.
pub struct HttpsTransport {
    pool: Pool,
    uri: Uri,
    version: Version,
    encoding: Encoding,
}

impl HttpsTransport {
    pub fn new(url: &str, ca_file: &Path, version: Version, encoding: Encoding) -> HttpsTransport {
        HttpsTransport {
            pool: pool(ca_file),
            uri: url.parse().expect("a valid URL"),
            version,
            encoding,
        }
    }
}

impl Transport for HttpsTransport {
    async fn send(&self, msg: &Message) -> imps_client::Result<Option<Message>> {
        let body = imps_wire::encode(msg, self.encoding)?;
        let req = hyper::Request::post(self.uri.clone())
            .header(
                hyper::header::CONTENT_TYPE,
                imps_client::content_type(self.version, self.encoding),
            )
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        let resp = tokio::time::timeout(TIMEOUT, self.pool.request(req))
            .await
            .map_err(|_| ClientError::Transport("timed out".into()))?
            .map_err(|e| ClientError::Transport(format!("{e:?}")))?;
        let status = resp.status();
        let reply = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?
            .to_bytes();
        if status != hyper::StatusCode::OK {
            return Err(ClientError::Transport(format!("HTTP {status}")));
        }
        if reply.is_empty() {
            return Ok(None);
        }
        Ok(Some(imps_wire::decode(
            &reply,
            self.encoding,
            &imps_wire::Limits::default(),
        )?))
    }
}

impl Inbox for HttpsTransport {
    async fn try_next(client: &Client<Self>) -> Option<Message> {
        client.poll().await.expect("Polling-Request answered")
    }

    async fn next_until(client: &Client<Self>, deadline: Instant) -> Option<Message> {
        let mut backoff = Backoff::until(deadline);
        loop {
            if let Some(m) = Self::try_next(client).await {
                return Some(m);
            }
            if !backoff.wait().await {
                return Self::try_next(client).await;
            }
        }
    }
}

/// A GET over HTTPS trusting the CAs of `ca_file`: status and body.
pub async fn https_get_text(url: &str, ca_file: &Path) -> (u16, String) {
    let req = hyper::Request::get(url)
        .body(Full::new(Bytes::new()))
        .expect("request is valid");
    let resp = pool(ca_file).request(req).await.expect("server answers");
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .expect("whole body read")
        .to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}
