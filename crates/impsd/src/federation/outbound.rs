//! Carrying the core's durable SSP queue to the peers. A transaction
//! leaves the queue only when its peer answered 2xx (the peer stores
//! before it answers); a failure puts it back with a doubling wait
//! (`retry_min_ms` to `retry_max_ms`), and a peer that refuses our
//! session (403: it restarted and forgot the association) gets a new
//! association first. What waits longer than `expire_secs` is dropped
//! and logged.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use imps_core::Store;
use imps_core::store::SspItem;
use imps_wire::ssp::{Mode, SSP_CONTENT_TYPE, SspMessage, SspSession, SspTransaction};
use tokio::sync::watch;

use super::{FedError, Federation, now_ms};

/// The HTTP client of SSP POSTs (plain HTTP; TLS to peers is not built
/// yet).
pub(crate) struct Client {
    http: HyperClient<HttpConnector, Full<Bytes>>,
    timeout: Duration,
}

/// The most of a peer's answer body we read (it is empty or a refusal).
const MAX_ANSWER: usize = 64 * 1024;

impl Client {
    pub(crate) fn new(timeout: Duration) -> Client {
        let mut conn = HttpConnector::new();
        conn.set_nodelay(true);
        conn.set_connect_timeout(Some(timeout));
        Client {
            http: HyperClient::builder(TokioExecutor::new()).build(conn),
            timeout,
        }
    }

    /// POSTs one SSP document; `Ok` with the body on 2xx.
    pub(crate) async fn post(&self, url: &str, msg: &SspMessage) -> Result<Bytes, FedError> {
        self.post_reading(url, msg, MAX_ANSWER).await
    }

    /// As [`Client::post`], reading up to `max` bytes of the answer (a
    /// relayed user session's answers come in the body).
    pub(crate) async fn post_reading(
        &self,
        url: &str,
        msg: &SspMessage,
        max: usize,
    ) -> Result<Bytes, FedError> {
        let fail = |why: String| FedError::Http {
            url: url.to_string(),
            why,
        };
        let req = hyper::Request::post(url)
            .header(hyper::header::CONTENT_TYPE, SSP_CONTENT_TYPE)
            .body(Full::new(Bytes::from(msg.encode())))
            .map_err(|e| fail(e.to_string()))?;
        let answer = tokio::time::timeout(self.timeout, async {
            let resp = self
                .http
                .request(req)
                .await
                .map_err(|e| fail(e.to_string()))?;
            let code = resp.status().as_u16();
            let body = http_body_util::Limited::new(resp.into_body(), max)
                .collect()
                .await
                .map_err(|e| fail(e.to_string()))?
                .to_bytes();
            Ok::<_, FedError>((code, body))
        })
        .await
        .map_err(|_| fail("timed out".into()))??;
        match answer {
            (200..=299, body) => Ok(body),
            (code, _) => Err(FedError::Status {
                url: url.to_string(),
                code,
            }),
        }
    }
}

/// The worker: waits for the core's "queued" (or the retry tick), then
/// sends what is due, peer by peer.
pub(crate) async fn run(
    fed: Arc<Federation>,
    store: Arc<dyn Store>,
    mut shutdown: watch::Receiver<bool>,
) {
    let tick = Duration::from_millis(fed.cfg.retry_min_ms.clamp(100, 1000));
    count(&fed, &*store).await;
    loop {
        tokio::select! {
            _ = fed.wake.notified() => {}
            _ = tokio::time::sleep(tick) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        if let Err(e) = pass(&fed, &*store).await {
            tracing::warn!(error = %e, "SSP queue pass failed");
        }
        for peer in fed.due_for_renewal() {
            if let Err(e) = fed.live_session(&peer).await {
                tracing::info!(peer = %peer, error = %e, "SSP association not renewed");
            }
        }
    }
}

async fn count(fed: &Federation, store: &dyn Store) {
    match store.ssp_counts().await {
        Ok(counts) => {
            for s in fed.stats.values() {
                s.queue_depth.store(0, Ordering::Relaxed);
            }
            for (peer, n) in counts {
                if let Some(s) = fed.stats(&peer) {
                    s.queue_depth.store(n, Ordering::Relaxed);
                }
            }
        }
        Err(e) => tracing::debug!(error = %e, "SSP queue not counted"),
    }
}

/// The wait before try `attempts + 1`.
fn backoff(fed: &Federation, attempts: u32) -> u64 {
    let min = fed.cfg.retry_min_ms.max(1);
    min.saturating_mul(1u64 << attempts.min(20))
        .min(fed.cfg.retry_max_ms.max(min))
}

async fn pass(fed: &Arc<Federation>, store: &dyn Store) -> Result<(), FedError> {
    let now = now_ms();
    let due = store.due_ssp(now, fed.cfg.send_batch.max(1)).await?;
    if due.is_empty() {
        return Ok(());
    }
    let mut by_peer: BTreeMap<String, Vec<SspItem>> = BTreeMap::new();
    for item in due {
        by_peer
            .entry(item.item.peer.clone())
            .or_default()
            .push(item);
    }
    for (peer, items) in by_peer {
        send_peer(fed, store, &peer, items).await?;
    }
    count(fed, store).await;
    Ok(())
}

async fn send_peer(
    fed: &Arc<Federation>,
    store: &dyn Store,
    peer: &str,
    items: Vec<SspItem>,
) -> Result<(), FedError> {
    let now = now_ms();
    let expire_ms = fed.cfg.expire_secs.saturating_mul(1000);
    let mut live = Vec::with_capacity(items.len());
    for item in items {
        if now.saturating_sub(item.item.created_ms) > expire_ms {
            tracing::warn!(
                peer,
                id = item.id,
                attempts = item.attempts,
                "SSP transaction expired unsent; dropped"
            );
            if let Some(s) = fed.stats(peer) {
                s.expired.fetch_add(1, Ordering::Relaxed);
            }
            store.ssp_sent(item.id).await?;
        } else {
            live.push(item);
        }
    }
    let Some(url) = fed.peer_url(peer).await else {
        // A peer taken out of the table: its traffic waits (or expires)
        // in case it comes back.
        for item in &live {
            store.ssp_retry(item.id, now + fed.cfg.retry_max_ms).await?;
        }
        return Ok(());
    };
    let session = match fed.live_session(peer).await {
        Ok(s) => s,
        Err(e) => {
            tracing::info!(peer, error = %e, "no SSP association; sends wait");
            put_back(fed, store, peer, &live).await?;
            return Ok(());
        }
    };
    for (i, item) in live.iter().enumerate() {
        let primitive = match imps_wire::xml::decode(&item.item.body, &imps_wire::Limits::default())
        {
            Ok(p) => p,
            Err(e) => {
                // Our own bytes; nothing a retry would mend.
                tracing::error!(peer, id = item.id, error = %e, "unreadable SSP transaction in the queue; dropped");
                store.ssp_sent(item.id).await?;
                continue;
            }
        };
        let msg = SspMessage::Session(SspSession {
            session_id: session.clone(),
            transactions: vec![SspTransaction {
                mode: if item.item.response {
                    Mode::Response
                } else {
                    Mode::Request
                },
                transaction_id: item
                    .item
                    .transaction_id
                    .clone()
                    .unwrap_or_else(|| format!("{:010}", item.id)),
                primitive,
            }],
        });
        let started = std::time::Instant::now();
        match fed.client.post(&url, &msg).await {
            Ok(_) => {
                store.ssp_sent(item.id).await?;
                if let Some(s) = fed.stats(peer) {
                    s.failed_at_ms.store(0, Ordering::Relaxed);
                    s.sent.fetch_add(1, Ordering::Relaxed);
                    let us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                    s.latency_us.fetch_add(us, Ordering::Relaxed);
                    s.latency_n.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(e) => {
                if matches!(e, FedError::Status { code: 403, .. }) {
                    // The peer does not know our session (it restarted):
                    // associate again before the next try.
                    fed.invalidate(peer);
                }
                tracing::info!(peer, id = item.id, error = %e, "SSP send failed; will retry");
                // Keep the order: what follows waits as long.
                put_back(fed, store, peer, &live[i..]).await?;
                return Ok(());
            }
        }
    }
    Ok(())
}

async fn put_back(
    fed: &Federation,
    store: &dyn Store,
    peer: &str,
    items: &[SspItem],
) -> Result<(), FedError> {
    let now = now_ms();
    if let Some(s) = fed.stats(peer) {
        s.failures.fetch_add(1, Ordering::Relaxed);
        s.failed_at_ms.store(now.max(1), Ordering::Relaxed);
    }
    let wait = items.first().map_or(0, |i| backoff(fed, i.attempts));
    for item in items {
        store.ssp_retry(item.id, now + wait).await?;
    }
    Ok(())
}
