//! Migrations: applied once, in one transaction, under an advisory lock,
//! so reopening and concurrent openers (other nodes, the admin CLI) leave
//! one set of tables at the latest version; a newer database is refused.

use imps_core::{AccountStore, NewUser, StoreError};
use imps_store_pg::{PgStore, latest_schema_version};

use crate::common::{admin, drop_schema, options, unique_schema, url_or_skip};

async fn versions(url: &str, schema: &str) -> Vec<i64> {
    admin(url)
        .await
        .query(
            &format!("SELECT version FROM {schema}.schema_version ORDER BY version"),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test]
async fn pg_reopen_keeps_schema_and_rows() {
    let Some(url) = url_or_skip("pg_reopen_keeps_schema_and_rows") else {
        return;
    };
    let schema = unique_schema("reopen");
    let store = PgStore::open(options(&url, &schema)).await.unwrap();
    assert_eq!(store.schema_version().await, Ok(latest_schema_version()));
    store
        .create_user(NewUser {
            id: "kept".into(),
            password_hash: None,
            digest_secret: None,
            msisdn: None,
            friendly_name: None,
            created_ms: 1,
        })
        .await
        .unwrap();
    store.close().await.unwrap();
    let store = PgStore::open(options(&url, &schema)).await.unwrap();
    assert_eq!(store.schema_version().await, Ok(latest_schema_version()));
    assert!(store.user("kept").await.unwrap().is_some(), "rows survive");
    store.close().await.unwrap();
    let want: Vec<i64> = (1..=i64::from(latest_schema_version())).collect();
    assert_eq!(versions(&url, &schema).await, want, "each step once");
    drop_schema(&url, &schema).await;
}

/// Several processes opening one new schema at the same moment: each
/// open succeeds, the steps are applied once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_concurrent_opens_apply_each_step_once() {
    let Some(url) = url_or_skip("pg_concurrent_opens_apply_each_step_once") else {
        return;
    };
    let schema = unique_schema("concurrent");
    let opens: Vec<_> = (0..4)
        .map(|_| tokio::spawn(PgStore::open(options(&url, &schema))))
        .collect();
    let mut stores = Vec::new();
    for o in opens {
        stores.push(o.await.unwrap().unwrap());
    }
    for s in stores {
        assert_eq!(s.schema_version().await, Ok(latest_schema_version()));
        s.close().await.unwrap();
    }
    let want: Vec<i64> = (1..=i64::from(latest_schema_version())).collect();
    assert_eq!(versions(&url, &schema).await, want);
    drop_schema(&url, &schema).await;
}

/// A schema written by a newer impsd is refused, not guessed at.
#[tokio::test]
async fn pg_newer_schema_is_refused() {
    let Some(url) = url_or_skip("pg_newer_schema_is_refused") else {
        return;
    };
    let schema = unique_schema("newer");
    PgStore::open(options(&url, &schema))
        .await
        .unwrap()
        .close()
        .await
        .unwrap();
    admin(&url)
        .await
        .batch_execute(&format!(
            "INSERT INTO {schema}.schema_version (version, applied_ms) VALUES (9999, 0)"
        ))
        .await
        .unwrap();
    match PgStore::open(options(&url, &schema)).await {
        Err(StoreError::Backend(m)) => assert!(m.contains("newer"), "{m}"),
        other => panic!("a newer schema gave {other:?}"),
    }
    drop_schema(&url, &schema).await;
}
