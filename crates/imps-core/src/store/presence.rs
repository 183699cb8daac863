//! Presence attributes, authorizations and watchers (BASE-PRES, PRR-*).

use async_trait::async_trait;

use super::MemStore;

#[async_trait]
pub trait PresenceStore: Send + Sync + 'static {}

/// The in-memory tables of this area.
#[derive(Default)]
pub(crate) struct MemPresence {}

#[async_trait]
impl PresenceStore for MemStore {}
