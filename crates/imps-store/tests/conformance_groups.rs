//! The groups area's conformance checks, on the reference MemStore and on
//! SQLite.

use imps_core::MemStore;
use imps_store::{SqliteOptions, SqliteStore, conformance_groups};

#[tokio::test]
async fn mem_store_passes_groups_conformance() {
    conformance_groups::run_all(&MemStore::default()).await;
}

#[tokio::test]
async fn sqlite_store_passes_groups_conformance() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(&dir.path().join("impsd.db"), SqliteOptions::default())?;
    conformance_groups::run_all(&store).await;
    store.close().await?;
    Ok(())
}
