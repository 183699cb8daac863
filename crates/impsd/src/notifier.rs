//! Offline-message notifiers the core cannot have (it does no HTTP), and
//! the translation of the `[im]` settings into the core's `ImConfig`.
//!
//! The webhook notifier POSTs each notice as JSON to an operator's gateway
//! (which turns it into an SMS or WAP Push: IMR-10). The core hands a
//! notice over without waiting; it goes into a bounded queue served by one
//! task, and is dropped (and logged) when the queue is full or the gateway
//! fails: a notification is a courtesy, the message itself is stored.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use imps_core::config::{ImConfig, OversizePolicy};
use imps_core::{LogNotifier, OfflineNotice, OfflineNotifier};
use tokio::sync::mpsc;

use crate::config::ImSettings;

/// POSTs notices to a URL from a background task.
#[derive(Debug)]
pub struct WebhookNotifier {
    tx: mpsc::Sender<OfflineNotice>,
}

impl WebhookNotifier {
    /// Starts the sending task; needs a Tokio runtime. Only `http://`
    /// URLs: the gateway is expected on the operator's own network.
    pub fn start(
        url: &str,
        timeout: Duration,
        queue: usize,
    ) -> anyhow::Result<Arc<WebhookNotifier>> {
        let uri: hyper::Uri = url
            .parse()
            .with_context(|| format!("im.webhook_url {url:?} is not a URL"))?;
        if uri.scheme_str() != Some("http") {
            anyhow::bail!("im.webhook_url must be an http:// URL");
        }
        let (tx, mut rx) = mpsc::channel::<OfflineNotice>(queue.max(1));
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        tokio::spawn(async move {
            while let Some(n) = rx.recv().await {
                let body = serde_json::json!({
                    "type": n.kind,
                    "bearer": n.bearer,
                    "recipient": n.recipient_ref,
                    "waiting": n.waiting,
                });
                let req = hyper::Request::builder()
                    .method("POST")
                    .uri(uri.clone())
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(body.to_string())));
                let req = match req {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::warn!(error = %e, "offline notification: bad request");
                        continue;
                    }
                };
                match tokio::time::timeout(timeout, client.request(req)).await {
                    Ok(Ok(resp)) if resp.status().is_success() => {}
                    Ok(Ok(resp)) => {
                        tracing::warn!(status = %resp.status(), "offline notification refused by the gateway")
                    }
                    Ok(Err(e)) => tracing::warn!(error = %e, "offline notification failed"),
                    Err(_) => tracing::warn!("offline notification timed out"),
                }
            }
        });
        Ok(Arc::new(WebhookNotifier { tx }))
    }
}

impl OfflineNotifier for WebhookNotifier {
    fn notify(&self, notice: OfflineNotice) {
        if self.tx.try_send(notice).is_err() {
            tracing::warn!("offline notification queue full; notice dropped");
        }
    }
}

/// The core's IM settings from the `[im]` section. Starts the webhook
/// task when one is configured, so it needs a Tokio runtime.
pub fn im_config(s: &ImSettings) -> anyhow::Result<ImConfig> {
    let oversize_policy = match s.oversize_policy.to_ascii_lowercase().as_str() {
        "none" => OversizePolicy::None,
        "reject" => OversizePolicy::Reject,
        "charge" => OversizePolicy::Charge,
        other => anyhow::bail!("im.oversize_policy {other:?}: use none, reject or charge"),
    };
    let (offline_notify, notifier): (bool, Option<Arc<dyn OfflineNotifier>>) =
        match s.offline_notify.to_ascii_lowercase().as_str() {
            "off" => (false, None),
            "log" => (true, Some(Arc::new(LogNotifier))),
            "webhook" => {
                let url = s
                    .webhook_url
                    .as_deref()
                    .filter(|u| !u.is_empty())
                    .context("im.offline_notify = \"webhook\" needs im.webhook_url")?;
                let n = WebhookNotifier::start(
                    url,
                    Duration::from_millis(s.webhook_timeout_ms.max(1)),
                    s.webhook_queue,
                )?;
                (true, Some(n))
            }
            other => anyhow::bail!("im.offline_notify {other:?}: use off, log or webhook"),
        };
    let bearer = s.offline_notify_bearer.to_ascii_uppercase();
    if bearer != "SMS" && bearer != "WAPPUSH" {
        anyhow::bail!("im.offline_notify_bearer {bearer:?}: use SMS or WAPPUSH");
    }
    let notify_ref_key = match s.notify_ref_key.as_deref().filter(|k| !k.is_empty()) {
        None => None,
        Some(k) => {
            let raw = hex::decode(k.trim()).context("im.notify_ref_key is not hex")?;
            let key: [u8; 32] = raw.try_into().map_err(|_| {
                anyhow::anyhow!("im.notify_ref_key must be 32 bytes (64 hex digits)")
            })?;
            Some(key)
        }
    };
    Ok(ImConfig {
        offline_storage: s.offline_storage,
        max_text_bytes: s.max_text_bytes,
        max_rich_bytes: s.max_rich_bytes,
        oversize_policy,
        charge_limit_bytes: s.charge_limit_bytes,
        content_types: s.content_types.clone(),
        max_recipients: s.max_recipients,
        push_window: s.push_window,
        redeliver_secs: s.redeliver_secs,
        memory_per_user: s.memory_per_user,
        max_list_batch: s.max_list_batch,
        dedupe_window_secs: s.dedupe_window_secs,
        max_validity_secs: s.max_validity_secs,
        offline_notify,
        offline_notify_bearer: bearer,
        offline_notify_interval_secs: s.offline_notify_interval_secs,
        notify_ref_key,
        notifier,
    })
}
