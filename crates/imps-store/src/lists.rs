//! SQLite tables of one service area; see `imps_core::ListStore`.

use async_trait::async_trait;
use imps_core::ListStore;

use crate::SqliteStore;

#[async_trait]
impl ListStore for SqliteStore {}
