//! The directory area's conformance checks, on the reference
//! MemStore and on SQLite (with and without a reader pool: a search
//! must see the keys written with the profile or group, whichever
//! connection serves it).

use imps_core::MemStore;
use imps_store::{SqliteOptions, SqliteStore, conformance_directory};

#[tokio::test]
async fn mem_store_passes_directory_conformance() {
    conformance_directory::run_all(&MemStore::default()).await;
}

#[tokio::test]
async fn sqlite_store_passes_directory_conformance() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(&dir.path().join("impsd.db"), SqliteOptions::default())?;
    conformance_directory::run_all(&store).await;
    store.close().await?;
    Ok(())
}

#[tokio::test]
async fn sqlite_store_without_readers_passes_directory_conformance()
-> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let opts = SqliteOptions {
        read_connections: 0,
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open(&dir.path().join("impsd.db"), opts)?;
    conformance_directory::run_all(&store).await;
    store.close().await?;
    Ok(())
}
