//! Every backend passes the same suite; MemStore is the reference that
//! proves the suite itself encodes the intended behaviour.

use imps_core::MemStore;
use imps_store::{SqliteOptions, SqliteStore, conformance};

#[tokio::test]
async fn mem_store_passes_conformance() {
    conformance::run_all(&MemStore::default()).await;
}

#[tokio::test]
async fn sqlite_store_passes_conformance() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(&dir.path().join("impsd.db"), SqliteOptions::default())?;
    conformance::run_all(&store).await;
    store.close().await?;
    Ok(())
}

/// Without a reader pool every read goes through the writer thread; the
/// behaviour must not change.
#[tokio::test]
async fn sqlite_store_without_readers_passes_conformance() -> Result<(), Box<dyn std::error::Error>>
{
    let dir = tempfile::tempdir()?;
    let opts = SqliteOptions {
        read_connections: 0,
        queue_capacity: 1,
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open(&dir.path().join("impsd.db"), opts)?;
    conformance::run_all(&store).await;
    store.close().await?;
    Ok(())
}
