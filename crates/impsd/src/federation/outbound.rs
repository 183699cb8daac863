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
use hyper_util::rt::TokioExecutor;
use imps_core::Store;
use imps_core::store::SspItem;
use imps_wire::ssp::{Mode, SSP_CONTENT_TYPE, SspMessage, SspSession, SspTransaction};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::{FedError, Federation, now_ms};

/// The HTTP client of SSP POSTs: http:// and https:// peers; over TLS
/// the peer's certificate must chain to our anchors and name the URL's
/// host, and we present our `[tls]` certificate when we have one.
pub(crate) struct Client {
    http: HyperClient<crate::tls::HttpsConnector, Full<Bytes>>,
    timeout: Duration,
}

/// The most of a peer's answer body we read (it is empty or a refusal).
const MAX_ANSWER: usize = 64 * 1024;

impl Client {
    /// `tls` `None`: no trust anchors, https:// URLs fail.
    pub(crate) fn new(timeout: Duration, tls: Option<Arc<rustls::ClientConfig>>) -> Client {
        let conn = crate::tls::HttpsConnector::new(timeout, tls);
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
                .map_err(|e| fail(with_causes(&e)))?;
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
            (code, body) => {
                // A refused setup step says why in its Status (a client
                // certificate missing or not naming us, a domain not in
                // the peer's table): worth the operator's eye.
                if let Ok(SspMessage::Setup(st)) =
                    SspMessage::decode(&body, &imps_wire::Limits::default())
                    && let imps_wire::ssp::SetupStep::LoginResponse { status, .. } = st.step
                {
                    tracing::warn!(
                        url,
                        code = status.code,
                        why = status.description.as_deref().unwrap_or(""),
                        "the peer refused our SSP setup step"
                    );
                }
                Err(FedError::Status {
                    url: url.to_string(),
                    code,
                })
            }
        }
    }
}

/// An error with its causes (hyper's own says only "client error
/// (Connect)"; the cause says which certificate check failed).
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// The worker: waits for the core's "queued" (or the retry tick), then
/// claims the queues of the peers that are due (`SspStore::claim_ssp`:
/// one sender per peer at a time, whichever node of a cluster it runs
/// on) and sends each peer's in a task of its own, at most
/// `send_parallel` at once, so a peer that hangs holds up only itself.
pub(crate) async fn run(
    fed: Arc<Federation>,
    store: Arc<dyn Store>,
    mut shutdown: watch::Receiver<bool>,
) {
    let tick = Duration::from_millis(fed.cfg.retry_min_ms.clamp(100, 1000));
    let mut tasks: JoinSet<()> = JoinSet::new();
    if fed.bus.lock().is_none()
        && let Err(e) = unclaim(&*store).await
    {
        tracing::warn!(error = %e, "SSP claims of the previous run not released");
    }
    count(&fed, &*store).await;
    let mut last_forget = std::time::Instant::now();
    loop {
        tokio::select! {
            _ = fed.wake.notified() => {}
            _ = tokio::time::sleep(tick) => {}
            Some(done) = tasks.join_next(), if !tasks.is_empty() => reaped(done),
            _ = shutdown.wait_for(|s| *s) => break,
        }
        while let Some(done) = tasks.try_join_next() {
            reaped(done);
        }
        let free = fed.cfg.send_parallel.max(1).saturating_sub(tasks.len());
        if free > 0 {
            match claim(&fed, &*store, free).await {
                Ok((until, by_peer)) => {
                    for (peer, items) in by_peer {
                        let (fed, store) = (Arc::clone(&fed), Arc::clone(&store));
                        tasks.spawn(async move {
                            if let Err(e) = send_peer(&fed, &*store, &peer, items, until).await {
                                tracing::warn!(peer = %peer, error = %e, "SSP send to a peer failed");
                            }
                        });
                    }
                }
                Err(e) => tracing::warn!(error = %e, "SSP queue not claimed"),
            }
        }
        count(&fed, &*store).await;
        if last_forget.elapsed() >= FORGET_EVERY {
            last_forget = std::time::Instant::now();
            forget_handled(&fed, &*store).await;
        }
        for peer in fed.due_for_renewal() {
            // In a task too: a peer that hangs during its renewal holds
            // up nobody else.
            let fed = Arc::clone(&fed);
            tasks.spawn(async move {
                if let Err(e) = fed.live_session(&peer).await {
                    tracing::info!(peer = %peer, error = %e, "SSP association not renewed");
                }
            });
        }
    }
    // What a task had in hand goes back to the queue when its claim ends
    // (`claim_lease_ms`), to this node at its next start or to another.
    tasks.shutdown().await;
}

/// A process alone, at its start: what its previous run had claimed
/// (and, alike, what waited for a retry) is due now rather than when
/// that run's lease ends, as no other sender can hold it. Each such
/// transaction counts one try more. Nodes of a cluster leave this to the
/// leases: the claims may be another node's.
async fn unclaim(store: &dyn Store) -> Result<(), FedError> {
    /// A bound on what is read at once; more waits for its lease.
    const MAX: usize = 10_000;
    let now = now_ms();
    for item in store.due_ssp(u64::MAX, MAX).await? {
        if item.next_ms > now {
            store.ssp_retry(item.id, now).await?;
        }
    }
    Ok(())
}

/// How often the peers' requests handled longer ago than
/// `handled_keep_secs` are forgotten.
const FORGET_EVERY: Duration = Duration::from_secs(60);

/// Forgets the peers' requests handled longer ago than
/// `handled_keep_secs` (a bounded amount each time).
async fn forget_handled(fed: &Federation, store: &dyn Store) {
    /// A bound on one pass; what is left goes at the next.
    const MAX: usize = 100_000;
    let before = now_ms().saturating_sub(fed.cfg.handled_keep_secs.saturating_mul(1000));
    match store.ssp_forget_handled(before, MAX).await {
        Ok(0) => {}
        Ok(n) => tracing::debug!(n, "handled SSP transactions forgotten"),
        Err(e) => tracing::warn!(error = %e, "handled SSP transactions not forgotten"),
    }
}

fn reaped(done: Result<(), tokio::task::JoinError>) {
    if let Err(e) = done
        && e.is_panic()
    {
        tracing::error!(error = %e, "an SSP send task panicked");
    }
}

/// Claims the due peers' queues, at most `max_peers`: the lease's end
/// and each peer's transactions in queue order.
async fn claim(
    fed: &Federation,
    store: &dyn Store,
    max_peers: usize,
) -> Result<(u64, BTreeMap<String, Vec<SspItem>>), FedError> {
    let now = now_ms();
    let until = now.saturating_add(fed.cfg.claim_lease_ms);
    let items = store
        .claim_ssp(now, max_peers, fed.cfg.send_batch.max(1), until)
        .await?;
    let mut by_peer: BTreeMap<String, Vec<SspItem>> = BTreeMap::new();
    for item in items {
        by_peer
            .entry(item.item.peer.clone())
            .or_default()
            .push(item);
    }
    Ok((until, by_peer))
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

/// Whether a step that may take `ms` ends before the claim (held until
/// `until`) does, with a second to spare: past it another node may take
/// the peer's queue, and a send in flight then could go out twice.
fn fits(until: u64, ms: u64) -> bool {
    now_ms().saturating_add(ms).saturating_add(1000) < until
}

async fn send_peer(
    fed: &Arc<Federation>,
    store: &dyn Store,
    peer: &str,
    items: Vec<SspItem>,
    until: u64,
) -> Result<(), FedError> {
    let now = now_ms();
    let expire_ms = fed.cfg.expire_secs.saturating_mul(1000);
    let (expired, live): (Vec<SspItem>, Vec<SspItem>) = items
        .into_iter()
        .partition(|i| now.saturating_sub(i.item.created_ms) > expire_ms);
    for item in &expired {
        tracing::warn!(
            peer,
            id = item.id,
            attempts = item.attempts,
            "SSP transaction expired unsent; dropped"
        );
    }
    if !expired.is_empty() {
        if let Some(s) = fed.stats(peer) {
            s.expired.fetch_add(expired.len() as u64, Ordering::Relaxed);
        }
        store
            .ssp_sent_many(&expired.iter().map(|i| i.id).collect::<Vec<_>>())
            .await?;
    }
    if live.is_empty() {
        return Ok(());
    }
    let Some(url) = fed.peer_url(peer).await else {
        // A peer taken out of the table: its traffic waits (or expires)
        // in case it comes back.
        let ids: Vec<u64> = live.iter().map(|i| i.id).collect();
        store
            .ssp_retry_many(&ids, now + fed.cfg.retry_max_ms)
            .await?;
        return Ok(());
    };
    let (handshake, request) = (fed.cfg.handshake_timeout_ms, fed.cfg.request_timeout_ms);
    if !fits(until, handshake.saturating_add(request)) {
        return Ok(());
    }
    let session = match fed.live_session(peer).await {
        Ok(s) => s,
        Err(e) => {
            tracing::info!(peer, error = %e, "no SSP association; sends wait");
            put_back(fed, store, peer, &live).await?;
            return Ok(());
        }
    };
    let mut at = 0;
    while at < live.len() {
        if !fits(until, request) {
            // The rest stays claimed until the lease ends, then is taken
            // again in order.
            tracing::info!(
                peer,
                left = live.len() - at,
                "SSP claim ending; the rest waits for the next one"
            );
            return Ok(());
        }
        // The next transactions in queue order, several per POST (one
        // Session holding several Transactions).
        let batch = &live[at..live.len().min(at + fed.batch_for(peer))];
        let mut transactions = Vec::with_capacity(batch.len());
        let mut ids = Vec::with_capacity(batch.len());
        let mut unreadable = Vec::new();
        for item in batch {
            match imps_wire::xml::decode(&item.item.body, &imps_wire::Limits::default()) {
                Ok(primitive) => {
                    transactions.push(SspTransaction {
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
                    });
                    ids.push(item.id);
                }
                Err(e) => {
                    // Our own bytes; nothing a retry would mend.
                    tracing::error!(peer, id = item.id, error = %e, "unreadable SSP transaction in the queue; dropped");
                    unreadable.push(item.id);
                }
            }
        }
        store.ssp_sent_many(&unreadable).await?;
        if transactions.is_empty() {
            at += batch.len();
            continue;
        }
        let n = transactions.len();
        let msg = SspMessage::Session(SspSession {
            session_id: session.clone(),
            transactions,
        });
        let started = std::time::Instant::now();
        match fed.client.post(&url, &msg).await {
            Ok(_) => {
                // The peer took them all: acknowledged in one store
                // transaction.
                store.ssp_sent_many(&ids).await?;
                if let Some(s) = fed.stats(peer) {
                    s.failed_at_ms.store(0, Ordering::Relaxed);
                    s.sent.fetch_add(n as u64, Ordering::Relaxed);
                    s.posts.fetch_add(1, Ordering::Relaxed);
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
                if n > 1
                    && matches!(
                        e,
                        FedError::Status {
                            code: 400 | 413,
                            ..
                        }
                    )
                {
                    // A server that takes one transaction per POST only
                    // (or not this many bytes): one each from now on.
                    tracing::warn!(peer, error = %e, "peer refused a POST of {n} SSP transactions; sending it one per POST");
                    fed.single_posts.lock().insert(peer.to_string());
                }
                tracing::info!(peer, transactions = n, error = %e, "SSP send failed; will retry");
                // Keep the order: what follows waits as long.
                put_back(fed, store, peer, &live[at..]).await?;
                return Ok(());
            }
        }
        at += batch.len();
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
    let ids: Vec<u64> = items.iter().map(|i| i.id).collect();
    store.ssp_retry_many(&ids, now + wait).await?;
    Ok(())
}
