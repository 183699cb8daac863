//! Contact lists, block and grant lists (BASE-LIST), add-contact in one
//! transaction (ADC-*), and long lists in parts (GEN-1..4, see `chunking`).

use std::sync::Arc;

use imps_wire::{PrimitiveKind, Transaction};

use crate::CoreError;
use crate::service::{Outcome, Service};
use crate::session::Session;

impl Service {
    /// Handles the primitives of this area; `None` when `kind` is not one.
    pub(crate) async fn dispatch_lists(
        &self,
        _s: &Arc<Session>,
        _kind: PrimitiveKind,
        _tx: &Transaction,
    ) -> Result<Option<Outcome>, CoreError> {
        Ok(None)
    }

    /// Whether `owner` refuses contact from `other`: `other` is on the
    /// owner's block list while it is in use, or the owner's grant list is
    /// in use and `other` is not on it. IM and invitations ask this.
    pub(crate) async fn blocks(&self, _owner: &str, _other: &str) -> Result<bool, CoreError> {
        Ok(false)
    }

    /// Whether `other` is in any of `owner`'s contact lists.
    pub(crate) async fn has_contact(&self, _owner: &str, _other: &str) -> Result<bool, CoreError> {
        Ok(false)
    }

    /// The user IDs in one of `owner`'s contact lists (wire list ID as sent
    /// by the client); `None` when the list does not exist.
    pub(crate) async fn list_members(&self, _owner: &str, _list_id: &str) -> Result<Option<Vec<String>>, CoreError> {
        Ok(None)
    }
}
