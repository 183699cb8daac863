//! Offline-message notification (IMR-10, IMR-11, SYM-18, use case 5.6).
//!
//! When a message is stored for a user with no session, the recipient's
//! home server (this one: IMR-11) tells a pluggable [`OfflineNotifier`],
//! which an operator wires to an SMS or WAP Push gateway. The notice holds
//! no name, number or message text (SYM-18): only an opaque reference to
//! the recipient (a keyed hash of the user ID that the operator, who holds
//! the key, can map back), how many messages wait, and the bearer type
//! (IMR-10). The core never does the delivery itself (no HTTP here): the
//! log notifier lives here, the webhook one in impsd.

use super::ImService;
use std::fmt::Debug;
use std::sync::Arc;

use sha1::{Digest, Sha1};

use crate::config::OfflineNotify;

/// One offline notification. Deliberately nothing that identifies a
/// person to whoever sees it on the way (SYM-18).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfflineNotice {
    /// Always `imps-offline-message`: the notification type (IMR-10).
    pub kind: &'static str,
    /// The bearer the operator should use: `SMS` or `WAPPUSH` (IMR-10).
    pub bearer: String,
    /// Opaque, stable reference to the recipient: hex HMAC-SHA1 of the
    /// user ID under the operator's key.
    pub recipient_ref: String,
    /// Messages waiting for the recipient.
    pub waiting: u64,
    /// The recipient's user ID, for a notifier that finds the address
    /// itself (the SMS notifier reads the registered number). Never part
    /// of what is sent (SYM-18).
    pub user: String,
    /// The offline user message (SYM-UC, 5.14.3): text and answer options
    /// (log in / ignore) for the gateway to show, when the operator turned
    /// it on (`sysmsg.offline_prompt`). Server text only: nothing about
    /// the sender or the messages (SYM-18).
    pub prompt: Option<OfflinePrompt>,
}

/// A system message for a user who is not logged in; its options are
/// for the phone to act on (log in, or nothing), not answered to us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfflinePrompt {
    pub text: String,
    /// (option ID, text), in order.
    pub options: Vec<(u64, String)>,
}

/// Where offline notifications go. `notify` must not block: an
/// implementation that talks to the network queues the notice and sends
/// it from its own task, dropping it when that queue is full.
pub trait OfflineNotifier: Send + Sync + Debug + 'static {
    fn notify(&self, notice: OfflineNotice);
}

/// Writes notices to the log, for operators without a gateway yet.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogNotifier;

impl OfflineNotifier for LogNotifier {
    fn notify(&self, n: OfflineNotice) {
        tracing::info!(kind = n.kind, bearer = %n.bearer, recipient_ref = %n.recipient_ref, waiting = n.waiting, prompt = n.prompt.is_some(), "offline message notification");
    }
}

/// HMAC-SHA1 (RFC 2104) as lowercase hex.
pub(crate) fn hmac_sha1_hex(key: &[u8], msg: &[u8]) -> String {
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..20].copy_from_slice(&Sha1::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha1::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let mut outer = Sha1::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    hex::encode(outer.finalize())
}

impl ImService {
    /// Tells the notifier that messages wait for `user`, at most once per
    /// `offline_notify_interval_secs`. Runs off the send path: the count
    /// is read and the notifier called from a spawned task.
    pub(crate) fn notify_offline(&self, user: &str) {
        let cfg = &self.base.cfg.im;
        let Some(notifier) = cfg
            .notifier
            .clone()
            .filter(|_| cfg.offline_notify != OfflineNotify::Off)
        else {
            return;
        };
        let state = self.im();
        let now = self.base.now_ms();
        if !state.may_notify(user, now, cfg.offline_notify_interval_secs * 1000) {
            return;
        }
        let notice = OfflineNotice {
            kind: "imps-offline-message",
            bearer: cfg.offline_notify_bearer.to_string(),
            recipient_ref: hmac_sha1_hex(state.notify_key(), user.as_bytes()),
            waiting: 0,
            user: user.to_string(),
            prompt: self.base.cfg.sysmsg.offline_prompt.then(|| {
                let t = |key| self.base.cfg.sysmsg.text(key, None, "");
                OfflinePrompt {
                    text: t("offline"),
                    options: vec![(1, t("offline_login")), (2, t("offline_ignore"))],
                }
            }),
        };
        let store = Arc::clone(&self.base.store);
        let user = user.to_string();
        let send = async move {
            let waiting = match store.pending_count(&user).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "offline notification: cannot count messages");
                    1
                }
            };
            notifier.notify(OfflineNotice { waiting, ..notice });
        };
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                h.spawn(send);
            }
            Err(_) => tracing::warn!("offline notification skipped: no async runtime"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc2202_case_2() {
        assert_eq!(
            hmac_sha1_hex(b"Jefe", b"what do ya want for nothing?"),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
    }
}
