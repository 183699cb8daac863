//! Presence (BASE-PRES): attributes, Get/Update/Subscribe, notifications,
//! proactive and reactive authorization (PRR-*), watcher lists.

use std::sync::Arc;

use imps_wire::{PrimitiveKind, Transaction};

use crate::CoreError;
use crate::service::{Outcome, Service};
use crate::session::Session;

impl Service {
    /// Handles the primitives of this area; `None` when `kind` is not one.
    pub(crate) async fn dispatch_presence(
        &self,
        _s: &Arc<Session>,
        _kind: PrimitiveKind,
        _tx: &Transaction,
    ) -> Result<Option<Outcome>, CoreError> {
        Ok(None)
    }

    /// A session's level of service is settled: its user may now be shown
    /// online (SYM-13).
    pub(crate) async fn presence_session_ready(&self, _s: &Arc<Session>) {}

    /// A session ended; the user goes offline when it was the last one.
    pub(crate) async fn presence_session_ended(&self, _s: &Arc<Session>) {}

    /// Proactive authorization: `owner` lets `watcher` see these
    /// attributes (ADC-2 authorizes OnlineStatus this way).
    pub(crate) async fn authorize(&self, _owner: &str, _watcher: &str, _attrs: &[&str]) -> Result<(), CoreError> {
        Err(CoreError::NotImplemented("presence authorization".into()))
    }
}
