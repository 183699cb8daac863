//! The peer entries' conformance checks (issue 17), on the reference
//! MemStore and on SQLite, and that an entry survives a reopen.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use imps_core::MemStore;
use imps_core::store::{PeerStore, StoredPeer};
use imps_store::{SqliteOptions, SqliteStore, conformance_peers};

#[tokio::test]
async fn mem_store_passes_peers_conformance() {
    conformance_peers::run_all(&MemStore::default()).await;
}

#[tokio::test]
async fn sqlite_store_passes_peers_conformance() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("impsd.db");
    let store = SqliteStore::open(&path, SqliteOptions::default())?;
    conformance_peers::run_all(&store).await;
    let c = StoredPeer {
        domain: "c.example".into(),
        url: String::new(),
        sus: false,
        removed: true,
        require_client_cert: false,
    };
    let d = StoredPeer {
        domain: "d.example".into(),
        url: "https://d.example/imps".into(),
        sus: false,
        removed: false,
        require_client_cert: true,
    };
    store.put_peer(d.clone()).await?;
    store.put_peer(c.clone()).await?;
    let before = store.stored_peers().await?;
    store.close().await?;
    let store = SqliteStore::open(&path, SqliteOptions::default())?;
    assert_eq!(store.stored_peers().await?, before);
    assert!(before.contains(&c));
    assert!(before.contains(&d), "the requirement survives a reopen");
    store.close().await?;
    Ok(())
}
