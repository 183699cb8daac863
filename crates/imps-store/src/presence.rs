//! SQLite tables of one service area; see `imps_core::PresenceStore`.

use async_trait::async_trait;
use imps_core::PresenceStore;

use crate::SqliteStore;

#[async_trait]
impl PresenceStore for SqliteStore {}
