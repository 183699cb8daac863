//! The SMS queue's conformance checks (issue 20), on the reference
//! MemStore and on SQLite.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use imps_core::MemStore;
use imps_store::{SqliteOptions, SqliteStore, conformance_sms};

#[tokio::test]
async fn mem_store_passes_sms_conformance() {
    conformance_sms::run_all(&MemStore::default()).await;
}

#[tokio::test]
async fn sqlite_store_passes_sms_conformance() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(&dir.path().join("impsd.db"), SqliteOptions::default())?;
    conformance_sms::run_all(&store).await;
    store.close().await?;
    // Durable: what waits survives a reopen.
    let store = SqliteStore::open(&dir.path().join("impsd.db"), SqliteOptions::default())?;
    use imps_core::store::{NewSms, SmsStore};
    store
        .put_sms(
            NewSms {
                key: None,
                destination: "+46700".into(),
                udh: false,
                binary: false,
                payload: b"x".to_vec(),
                created_ms: 1,
            },
            5,
        )
        .await?;
    store.close().await?;
    let store = SqliteStore::open(&dir.path().join("impsd.db"), SqliteOptions::default())?;
    assert_eq!(store.sms_count().await?, 1);
    store.close().await?;
    Ok(())
}
