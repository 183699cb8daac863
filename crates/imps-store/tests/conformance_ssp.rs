//! The SSP queue's conformance checks (issue 17), on the reference
//! MemStore and on SQLite, and that what waits survives a reopen.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use imps_core::MemStore;
use imps_core::store::{NewSspItem, SspStore};
use imps_store::{SqliteOptions, SqliteStore, conformance_ssp};

#[tokio::test]
async fn mem_store_passes_ssp_conformance() {
    conformance_ssp::run_all(&MemStore::default()).await;
}

#[tokio::test]
async fn sqlite_store_passes_ssp_conformance() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("impsd.db");
    let store = SqliteStore::open(&path, SqliteOptions::default())?;
    conformance_ssp::run_all(&store).await;
    conformance_ssp::a_failing_inbound_batch_writes_nothing(&store).await;
    store
        .put_ssp(
            NewSspItem {
                peer: "b.example".into(),
                response: false,
                transaction_id: None,
                body: b"<x/>".to_vec(),
                created_ms: 1,
            },
            5,
        )
        .await?;
    store.close().await?;
    let store = SqliteStore::open(&path, SqliteOptions::default())?;
    assert_eq!(store.ssp_counts().await?, vec![("b.example".into(), 1)]);
    store.close().await?;
    Ok(())
}
