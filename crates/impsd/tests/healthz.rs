//! `/healthz` (issue 18): 200 with `store: ok` while the store answers,
//! 503 with `store: unreachable (why)` when it does not, whichever store
//! the run uses (`IMPSD_TEST_STORE`).
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use crate::common::{self, TestServer, get_text};

async fn healthz(srv: &TestServer) -> (u16, String) {
    get_text(&format!("http://{}/healthz", srv.http_addr())).await
}

#[tokio::test]
async fn healthz_reports_the_store_reachable() {
    let srv = TestServer::start().await;
    let (code, text) = healthz(&srv).await;
    assert_eq!(code, 200, "{text}");
    assert_eq!(text, "ok\nstore: ok\n");
}

/// The store is taken away behind the running server's back: on
/// PostgreSQL its schema is dropped, on SQLite the bookkeeping table is
/// dropped from the file by another connection. The server still runs
/// and answers, but the health check says the store does not serve.
#[tokio::test]
async fn healthz_is_503_when_the_store_is_broken() {
    let srv = TestServer::start().await;
    assert_eq!(healthz(&srv).await.0, 200);
    match &srv.db {
        Some(db) => db
            .execute(&format!("DROP SCHEMA {} CASCADE", db.schema()))
            .unwrap(),
        None => {
            let path = srv.data_dir().join("impsd.sqlite");
            tokio::task::spawn_blocking(move || {
                let c = rusqlite::Connection::open(path).unwrap();
                c.execute_batch("DROP TABLE schema_migrations").unwrap();
            })
            .await
            .unwrap();
        }
    }
    let (code, text) = healthz(&srv).await;
    assert_eq!(code, 503, "{text}");
    assert!(
        text.starts_with("unhealthy\nstore: unreachable ("),
        "{text}"
    );
    assert!(text.contains("schema_") && text.ends_with(")\n"), "{text}");
}

/// A store that does not answer in `store.health_timeout_ms` is reported
/// unreachable then, not when it finally answers. PostgreSQL: another
/// connection holds an exclusive lock on the table the ping reads. (The
/// SQLite file has no cheap equivalent: its readers are not blocked by
/// another connection's write lock.)
#[tokio::test]
async fn healthz_is_503_when_the_store_does_not_answer_in_time() {
    let srv = TestServer::start_with(|c| c.store.health_timeout_ms = 300).await;
    let Some(db) = &srv.db else {
        common::skipped(
            "healthz_is_503_when_the_store_does_not_answer_in_time",
            "needs PostgreSQL (IMPSD_TEST_STORE=postgres) to hold a lock that stalls the ping",
        );
        return;
    };
    let (c, conn) = tokio_postgres::connect(db.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    let conn = tokio::spawn(conn);
    c.batch_execute(&format!(
        "BEGIN; LOCK TABLE {}.schema_version IN ACCESS EXCLUSIVE MODE",
        db.schema()
    ))
    .await
    .unwrap();
    let started = std::time::Instant::now();
    let (code, text) = healthz(&srv).await;
    assert_eq!(code, 503, "{text}");
    assert_eq!(
        text, "unhealthy\nstore: unreachable (no answer within 300 ms)\n",
        "{text}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // Once the lock is gone the store answers again.
    c.batch_execute("ROLLBACK").await.unwrap();
    common::wait_until(
        "the store answers again",
        common::DEFAULT_TIMEOUT,
        || async { healthz(&srv).await.0 == 200 },
    )
    .await;
    drop(c);
    let _ = conn.await;
}
