//! A fresh schema per test on the server named by `IMPSD_TEST_PG_URL`.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use imps_store_pg::{PgOptions, PgStore};

pub const URL_VAR: &str = "IMPSD_TEST_PG_URL";

/// The server's URL, or `None` after saying clearly that `test` skipped.
pub fn url_or_skip(test: &str) -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ => {
            // Straight to the stderr handle, not through eprintln!, which
            // the test harness captures: the skip shows in every run.
            let line = format!(
                "SKIPPED {test}: {URL_VAR} is not set, so there is no PostgreSQL server to test \
                 against (set it to e.g. postgres://postgres@127.0.0.1:5432/test)\n"
            );
            let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
            None
        }
    }
}

/// A schema name no other run or test uses.
pub fn unique_schema(test: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() % 1_000_000_000_000)
        .unwrap_or(0);
    let tag: String = test
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(20)
        .collect::<String>()
        .to_ascii_lowercase();
    format!(
        "t_{tag}_{}_{nanos}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn options(url: &str, schema: &str) -> PgOptions {
    PgOptions {
        url: url.to_string(),
        schema: Some(schema.to_string()),
        max_connections: 4,
        ..PgOptions::default()
    }
}

/// A plain connection for what the store does not do (dropping schemas,
/// reading bookkeeping).
pub async fn admin(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

pub async fn drop_schema(url: &str, schema: &str) {
    let c = admin(url).await;
    c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await
        .unwrap();
}

/// Runs `f` on a store in a fresh schema, then drops the schema, also
/// when `f` panicked (the panic is raised again afterwards).
pub async fn with_store<F, Fut>(test: &str, f: F)
where
    F: FnOnce(Arc<PgStore>, String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(url) = url_or_skip(test) else {
        return;
    };
    let schema = unique_schema(test);
    let store = Arc::new(PgStore::open(options(&url, &schema)).await.unwrap());
    let res = tokio::spawn(f(Arc::clone(&store), schema.clone())).await;
    if let Ok(store) = Arc::try_unwrap(store) {
        store.close().await.unwrap();
    }
    drop_schema(&url, &schema).await;
    if let Err(e) = res {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
        panic!("{test}: {e}");
    }
}
