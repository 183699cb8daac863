//! The lists area's store promises, against the reference MemStore and
//! against SQLite (with and without a reader pool).

use imps_core::MemStore;
use imps_store::{SqliteOptions, SqliteStore, conformance_lists};

#[tokio::test]
async fn mem_store_passes_list_conformance() {
    conformance_lists::run_all(&MemStore::default()).await;
}

#[tokio::test]
async fn sqlite_store_passes_list_conformance() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(&dir.path().join("impsd.db"), SqliteOptions::default())?;
    conformance_lists::run_all(&store).await;
    store.close().await?;
    Ok(())
}

#[tokio::test]
async fn sqlite_store_without_readers_passes_list_conformance()
-> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let opts = SqliteOptions {
        read_connections: 0,
        queue_capacity: 1,
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open(&dir.path().join("impsd.db"), opts)?;
    conformance_lists::run_all(&store).await;
    store.close().await?;
    Ok(())
}

/// Lists written before a close are there after reopening the file.
#[tokio::test]
async fn sqlite_lists_survive_reopen() -> Result<(), Box<dyn std::error::Error>> {
    use imps_core::ListStore;
    use imps_core::store::{ContactEntry, ContactListRecord, CreateListOutcome};
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("impsd.db");
    let store = SqliteStore::open(&path, SqliteOptions::default())?;
    let rec = ContactListRecord {
        owner: "alice".into(),
        name: "friends".into(),
        wire_id: "wv:alice/Friends@localhost".into(),
        display_name: Some("Friends".into()),
        is_default: true,
        created_ms: 1,
    };
    let members = vec![ContactEntry {
        user_id: "bob".into(),
        nickname: Some("Bob".into()),
    }];
    assert_eq!(
        store
            .create_contact_list(rec.clone(), members.clone(), 5, 5)
            .await?,
        CreateListOutcome::Created
    );
    store.set_added_notify("alice", false).await?;
    store.close().await?;
    let store = SqliteStore::open(&path, SqliteOptions::default())?;
    assert_eq!(store.contact_lists("alice").await?, vec![rec]);
    assert_eq!(store.contacts("alice", "friends").await?, Some(members));
    assert!(!store.added_notify("alice").await?);
    store.close().await?;
    Ok(())
}
