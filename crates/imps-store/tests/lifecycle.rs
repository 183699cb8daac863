//! Opening, reopening and sharing one database file: the server restarts
//! without losing data or re-running migrations, the admin CLI writes
//! while the server runs, and an old impsd refuses a newer database.

use imps_core::AccountStore;
use std::path::Path;

use imps_core::{NewUser, SessionRecord, StoreError};
use imps_store::{SqliteOptions, SqliteStore, latest_schema_version};
use rusqlite::Connection;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn user(id: &str) -> NewUser {
    NewUser {
        id: id.into(),
        password_hash: Some(format!("$argon2id${id}")),
        digest_secret: Some(b"secret".to_vec()),
        msisdn: None,
        friendly_name: Some(id.to_uppercase()),
        created_ms: 1_700_000_000_000,
    }
}

fn open(path: &Path) -> Result<SqliteStore, StoreError> {
    SqliteStore::open(path, SqliteOptions::default())
}

/// (version, applied_ms) rows, read behind the store's back.
fn migration_rows(path: &Path) -> rusqlite::Result<Vec<(i64, i64)>> {
    let conn = Connection::open(path)?;
    let mut stmt =
        conn.prepare("SELECT version, applied_ms FROM schema_migrations ORDER BY version")?;
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}

#[tokio::test]
async fn reopen_keeps_data_and_does_not_rerun_migrations() -> TestResult {
    let dir = tempfile::tempdir()?;
    // A nested path: open must create the directory.
    let db = dir.path().join("var/lib/impsd/impsd.db");

    let store = open(&db)?;
    assert_eq!(store.schema_version().await?, latest_schema_version());
    store.create_user(user("alice")).await?;
    store
        .put_session(SessionRecord {
            id: "s1".into(),
            user_id: "alice".into(),
            client_id: "wv:alice-phone".into(),
            version: "1.2".into(),
            cookie: "c".into(),
            ttl_secs: 600,
            created_ms: 5,
            delivery_method: None,
            bare_ids: false,
            android_engine: false,
            withheld: Vec::new(),
            cir_target: None,
            node: None,
        })
        .await?;
    store.close().await?;
    let applied = migration_rows(&db)?;
    assert_eq!(applied.len(), latest_schema_version() as usize);

    let store = open(&db)?;
    assert_eq!(
        store.user("alice").await?.map(|u| u.friendly_name),
        Some(Some("ALICE".into()))
    );
    assert_eq!(store.sessions().await?.len(), 1);
    // Plain drop, no close: the next open must still work.
    drop(store);
    let store = open(&db)?;
    assert!(store.user("alice").await?.is_some());
    store.close().await?;

    assert_eq!(
        migration_rows(&db)?,
        applied,
        "reopening must not re-apply migrations"
    );
    Ok(())
}

#[tokio::test]
async fn newer_schema_is_refused() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("impsd.db");
    open(&db)?.close().await?;
    let future = i64::from(latest_schema_version()) + 1;
    Connection::open(&db)?.execute(
        "INSERT INTO schema_migrations (version, applied_ms) VALUES (?1, 0)",
        [future],
    )?;

    match open(&db) {
        Err(StoreError::Backend(msg)) => {
            assert!(msg.contains("newer"), "message should say why: {msg}");
            assert!(
                msg.contains(&future.to_string()),
                "message should name the version: {msg}"
            );
        }
        Err(other) => panic!("expected Backend, got {other:?}"),
        Ok(_) => panic!("a database from a newer impsd must be refused"),
    }
    // Refusing must not have touched the file.
    assert_eq!(migration_rows(&db)?.last().map(|r| r.0), Some(future));
    Ok(())
}

/// The server and the admin CLI are two processes with their own
/// connections to one file; each must see the other's committed writes.
#[tokio::test]
async fn two_instances_see_each_others_writes() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("impsd.db");
    let server = open(&db)?;
    let admin = open(&db)?;

    admin.create_user(user("alice")).await?;
    assert!(
        server.user("alice").await?.is_some(),
        "server must see the admin's user"
    );
    server.create_user(user("bob")).await?;
    assert!(
        admin.user("bob").await?.is_some(),
        "admin must see the server's user"
    );
    assert!(admin.set_password("alice", None, None).await?);
    let alice = server.user("alice").await?;
    assert_eq!(
        alice.map(|u| u.password_hash),
        Some(None),
        "server must see the new password"
    );

    // The same id from the other instance is a conflict, not a lost write.
    assert!(matches!(
        server.create_user(user("alice")).await,
        Err(StoreError::Conflict(_))
    ));
    Ok(())
}

/// Concurrent writers in both instances: busy_timeout makes them wait for
/// the file lock instead of failing with SQLITE_BUSY.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_write_concurrently_without_busy_errors() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("impsd.db");
    let a = std::sync::Arc::new(open(&db)?);
    let b = std::sync::Arc::new(open(&db)?);

    let mut tasks = Vec::new();
    for i in 0..200 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            store.create_user(user(&format!("u{i:03}"))).await
        }));
    }
    for t in tasks {
        t.await??;
    }
    assert_eq!(a.list_users().await?.len(), 200);
    assert_eq!(b.list_users().await?.len(), 200);
    Ok(())
}
