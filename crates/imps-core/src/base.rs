//! What every area holds: the settings, the store, the clock, the table
//! of live sessions and the router. Built once by `Service::new` and
//! shared by the area services (`lists::ListsService`,
//! `presence::PresenceService`, ...); none of them owns these.

use std::sync::Arc;

use crate::router::Router;
use crate::session::{Session, SessionRegistry};
use crate::{Clock, CoreConfig, Store};

pub(crate) struct Base {
    /// The settings in effect (GETMAP is listed as disabled when maps are
    /// off, see `Service::new`).
    pub(crate) cfg: CoreConfig,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    /// Live sessions; areas read them, only the router queues into them.
    pub(crate) sessions: Arc<SessionRegistry>,
    /// The only way to reach another session (see `router`).
    pub(crate) router: Arc<dyn Router>,
    /// How fast each user may send, over every area that takes messages.
    pub(crate) send_rate: crate::rate::SendRate,
    /// The node is being drained (cluster, issue 18): no new logins.
    pub(crate) draining: std::sync::atomic::AtomicBool,
}

impl Base {
    pub(crate) fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// Takes one message of `sender`'s send rate; refused with the time
    /// the next one fits.
    pub(crate) fn charge_send(&self, sender: &str) -> Result<(), crate::CoreError> {
        self.send_rate
            .take(sender, self.now_ms())
            .map_err(|retry_ms| {
                tracing::info!(sender, retry_ms, "send refused: over the sender's rate");
                crate::CoreError::SendingTooFast { retry_ms }
            })
    }

    /// The durable part of a live session, with the node that holds it
    /// when several share the store.
    pub(crate) fn record_of(&self, s: &Session) -> crate::store::SessionRecord {
        let mut r = s.record();
        r.node = self.cfg.cluster.as_ref().map(|c| c.holder().to_string());
        r
    }

    /// Writes a live session's durable part again after it changed (its
    /// delivery method), so that a restart brings it back as it is now. A
    /// failure is logged: the session goes on, only a restart would miss
    /// the change. A session that ended meanwhile is deleted again, so the
    /// write cannot bring back a row its end removed.
    pub(crate) async fn resave_session(&self, s: &Session) {
        if s.is_ended() {
            return;
        }
        if let Err(e) = self.store.put_session(self.record_of(s)).await {
            tracing::warn!(session = %crate::ids::log_tag(&s.id), error = %e, "could not store the session's new settings");
        }
        if s.is_ended()
            && let Err(e) = self.store.delete_session(&s.id).await
        {
            tracing::warn!(session = %crate::ids::log_tag(&s.id), error = %e, "could not delete an ended session");
        }
    }
}
