//! Contact lists, block and grant lists (BASE-LIST, ADC-*).

use async_trait::async_trait;

use super::MemStore;

#[async_trait]
pub trait ListStore: Send + Sync + 'static {}

/// The in-memory tables of this area.
#[derive(Default)]
pub(crate) struct MemLists {}

#[async_trait]
impl ListStore for MemStore {}
