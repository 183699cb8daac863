//! Offline-message notifiers the core cannot have (it does no HTTP), and
//! the choice of notifier from the `[im]` settings.
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
use imps_core::config::{ImConfig, OfflineNotify};
use imps_core::{LogNotifier, OfflineNotice, OfflineNotifier};
use tokio::sync::mpsc;

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
        let uri = webhook_uri(Some(url))?;
        let (tx, mut rx) = mpsc::channel::<OfflineNotice>(queue.max(1));
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        tokio::spawn(async move {
            while let Some(n) = rx.recv().await {
                let mut body = serde_json::json!({
                    "type": n.kind,
                    "bearer": n.bearer,
                    "recipient": n.recipient_ref,
                    "waiting": n.waiting,
                });
                if let (Some(p), Some(obj)) = (&n.prompt, body.as_object_mut()) {
                    let options: Vec<serde_json::Value> = p
                        .options
                        .iter()
                        .map(|(id, text)| serde_json::json!({ "id": id, "text": text }))
                        .collect();
                    obj.insert(
                        "system_message".into(),
                        serde_json::json!({ "text": p.text, "options": options }),
                    );
                }
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

/// `im.webhook_url`, checked: given, a URL, and http:// only.
/// [`crate::Config::validate`] calls it for `offline_notify = "webhook"`.
pub fn webhook_uri(url: Option<&str>) -> anyhow::Result<hyper::Uri> {
    let url = url
        .filter(|u| !u.is_empty())
        .context("im.offline_notify = \"webhook\" needs im.webhook_url")?;
    let uri: hyper::Uri = url
        .parse()
        .with_context(|| format!("im.webhook_url {url:?} is not a URL"))?;
    if uri.scheme_str() != Some("http") {
        anyhow::bail!("im.webhook_url must be an http:// URL");
    }
    Ok(uri)
}

/// The notifier `im.offline_notify` asks for. Starts the webhook task
/// when one is configured, so it needs a Tokio runtime.
pub fn notifier(
    im: &ImConfig,
    sms: Option<Arc<crate::sms::SmsGateway>>,
) -> anyhow::Result<Option<Arc<dyn OfflineNotifier>>> {
    Ok(match im.offline_notify {
        OfflineNotify::Sms => Some(
            sms.context("im.offline_notify = \"sms\" needs [sms] enabled = true")?
                as Arc<dyn OfflineNotifier>,
        ),
        OfflineNotify::Off => None,
        OfflineNotify::Log => Some(Arc::new(LogNotifier)),
        OfflineNotify::Webhook => Some(WebhookNotifier::start(
            im.webhook_url.as_deref().unwrap_or_default(),
            Duration::from_millis(im.webhook_timeout_ms.max(1)),
            im.webhook_queue,
        )?),
    })
}
