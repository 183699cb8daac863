//! Instant messaging (BASE-IM, IMR-*): send, push or notify/get delivery,
//! offline storage, delivery reports, content policies.

use std::sync::Arc;

use imps_wire::{PrimitiveKind, Transaction};

use crate::CoreError;
use crate::service::{Outcome, Service};
use crate::session::Session;

impl Service {
    /// Handles the primitives of this area; `None` when `kind` is not one.
    pub(crate) async fn dispatch_im(
        &self,
        _s: &Arc<Session>,
        _kind: PrimitiveKind,
        _tx: &Transaction,
    ) -> Result<Option<Outcome>, CoreError> {
        Ok(None)
    }

    /// Response-mode primitives of this area from the client (the
    /// MessageDelivered answer to a NewMessage).
    pub(crate) async fn client_response_im(
        &self,
        _s: &Arc<Session>,
        _kind: PrimitiveKind,
        _tx: &Transaction,
    ) -> Result<Option<Outcome>, CoreError> {
        Ok(None)
    }

    /// A session is ready: deliver what waits for its user.
    pub(crate) async fn im_session_ready(&self, _s: &Arc<Session>) {}

    /// A session ended.
    pub(crate) async fn im_session_ended(&self, _s: &Arc<Session>) {}
}
