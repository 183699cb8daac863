//! SQLite tables of one service area; see `imps_core::MessageStore`.

use async_trait::async_trait;
use imps_core::MessageStore;

use crate::SqliteStore;

#[async_trait]
impl MessageStore for SqliteStore {}
