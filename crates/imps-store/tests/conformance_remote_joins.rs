//! The remote group joins' conformance checks (issue 17), on the
//! reference MemStore and on SQLite, and that a join survives a reopen.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use imps_core::MemStore;
use imps_core::store::{RemoteJoin, RemoteJoinStore};
use imps_store::{SqliteOptions, SqliteStore, conformance_remote_joins};

#[tokio::test]
async fn mem_store_passes_remote_joins_conformance() {
    conformance_remote_joins::run_all(&MemStore::default()).await;
}

#[tokio::test]
async fn sqlite_store_passes_remote_joins_conformance() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("impsd.db");
    let store = SqliteStore::open(&path, SqliteOptions::default())?;
    conformance_remote_joins::run_all(&store).await;
    let j = RemoteJoin {
        session_id: "s1".into(),
        user: "bob".into(),
        group_id: "wv:alice/chess@a.example".into(),
        peer: "a.example".into(),
    };
    store.put_remote_join(j.clone()).await?;
    store.close().await?;
    let store = SqliteStore::open(&path, SqliteOptions::default())?;
    assert_eq!(store.remote_joins().await?, vec![j]);
    store.close().await?;
    Ok(())
}
