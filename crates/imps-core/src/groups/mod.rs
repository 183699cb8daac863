//! Groups (BASE-GRP), invitations (BASE-INV) and private group
//! conversations (PGC-*), including messages to a group.

use std::sync::Arc;

use imps_wire::{PrimitiveKind, Transaction};

use crate::CoreError;
use crate::service::{Outcome, Service};
use crate::session::Session;

impl Service {
    /// Handles the primitives of this area; `None` when `kind` is not one.
    /// Runs before IM, so a SendMessage-Request addressed to a group is
    /// handled here and one addressed to users falls through to IM.
    pub(crate) async fn dispatch_groups(
        &self,
        _s: &Arc<Session>,
        _kind: PrimitiveKind,
        _tx: &Transaction,
    ) -> Result<Option<Outcome>, CoreError> {
        Ok(None)
    }

    /// A session ended without a logout or a LeaveGroup (expiry, lost
    /// network): its joined groups treat the user as dropped (PGC-16).
    pub(crate) async fn groups_session_ended(&self, _s: &Arc<Session>, _expired: bool) {}
}
