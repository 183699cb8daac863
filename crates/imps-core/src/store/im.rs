//! Messages waiting for delivery, offline storage (BASE-IM, IMR-*).

use async_trait::async_trait;

use super::MemStore;

#[async_trait]
pub trait MessageStore: Send + Sync + 'static {}

/// The in-memory tables of this area.
#[derive(Default)]
pub(crate) struct MemMessages {}

#[async_trait]
impl MessageStore for MemStore {}
