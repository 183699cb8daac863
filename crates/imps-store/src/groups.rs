//! SQLite tables of one service area; see `imps_core::GroupStore`.

use async_trait::async_trait;
use imps_core::GroupStore;

use crate::SqliteStore;

#[async_trait]
impl GroupStore for SqliteStore {}
