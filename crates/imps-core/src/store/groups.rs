//! Groups, members, access rights, invitations (BASE-GRP, BASE-INV, PGC-*).

use async_trait::async_trait;

use super::MemStore;

#[async_trait]
pub trait GroupStore: Send + Sync + 'static {}

/// The in-memory tables of this area.
#[derive(Default)]
pub(crate) struct MemGroups {}

#[async_trait]
impl GroupStore for MemStore {}
