//! The presence part of the conformance suite on every backend; MemStore
//! is the reference.

use imps_core::MemStore;
use imps_store::{SqliteOptions, SqliteStore, conformance_presence};

#[tokio::test]
async fn mem_store_passes_presence_conformance() {
    conformance_presence::run_all(&MemStore::default()).await;
}

#[tokio::test]
async fn sqlite_store_passes_presence_conformance() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(&dir.path().join("impsd.db"), SqliteOptions::default())?;
    conformance_presence::run_all(&store).await;
    store.close().await?;
    Ok(())
}
