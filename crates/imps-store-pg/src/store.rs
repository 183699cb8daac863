//! The PostgreSQL backend: a pool of connections (deadpool-postgres over
//! tokio-postgres), its schema brought up to date at open.
//!
//! Every method is async on the caller's runtime: the driver does its I/O
//! on tokio, nothing blocks a worker thread. A statement is prepared once
//! per connection (the pool's statement cache) and then only bound and
//! executed.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use imps_core::StoreError;
use tokio_postgres::NoTls;

use crate::batch::{BatchSettings, Batchers};
use crate::migrations;
use crate::rows::pool_error;

/// How to reach the database. impsd reads the URL from `[store] url` (or
/// `IMPSD_STORE_URL`); the rest have safe defaults.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PgOptions {
    /// A libpq-style URL or key=value string:
    /// `postgres://user@host:5432/database`.
    pub url: String,
    /// The schema holding impsd's tables, created at open when missing;
    /// `None` uses the connection's default (normally `public`). Lower-case
    /// letters, digits and `_`, starting with a letter or `_`.
    pub schema: Option<String>,
    /// Most connections the pool holds open at once.
    pub max_connections: usize,
    /// How long a request waits for a free connection, and a new
    /// connection for the server, before it fails with a backend error.
    pub wait_timeout_ms: u64,
    pub connect_timeout_ms: u64,
    /// Group commit of the IM hot path: how long, in microseconds, a
    /// message put or an acknowledged delete waits for others to share
    /// its transaction and round trips. 0 = no wait (only what is already
    /// waiting while earlier batches commit goes together).
    pub batch_window_us: u64,
    /// Most calls in one batch; 1 = no batching (each call its own
    /// transaction, as before).
    pub batch_max: usize,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            url: String::new(),
            schema: None,
            max_connections: 16,
            wait_timeout_ms: 10_000,
            connect_timeout_ms: 5_000,
            // No added wait: what queues while earlier batches commit goes
            // together. A 200 µs window (about 1 ms with tokio's timers)
            // measured no better and maybe worse (docs/benchmarks.md 21).
            batch_window_us: 0,
            batch_max: 64,
        }
    }
}

/// An `imps_core::Store` on a PostgreSQL database. Cheap to share behind
/// an `Arc`.
pub struct PgStore {
    pub(crate) pool: Pool,
    schema: Option<String>,
    /// The group commit of the IM hot path; `None` with `batch_max` 1.
    pub(crate) batch: Option<Batchers>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("schema", &self.schema)
            .field("status", &self.pool.status())
            .finish_non_exhaustive()
    }
}

/// Whether `s` may be spliced into SQL as a schema name unquoted.
fn valid_schema(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && s.len() <= 63
}

impl PgStore {
    /// Connects, creates the schema if asked and missing, and brings the
    /// tables up to date (under an advisory lock, so several impsd
    /// processes starting at once apply each step once).
    pub async fn open(opts: PgOptions) -> Result<PgStore, StoreError> {
        let mut cfg: tokio_postgres::Config = opts.url.parse().map_err(|e| {
            StoreError::Backend(format!(
                "postgres: store URL is not valid: {}",
                crate::rows::describe(&e)
            ))
        })?;
        if let Some(schema) = &opts.schema {
            if !valid_schema(schema) {
                return Err(StoreError::Backend(format!(
                    "postgres: schema name {schema:?} is not valid (lower-case letters, digits, _)"
                )));
            }
            // Every connection of the pool starts with the schema first
            // in its path, whatever options the URL had.
            let mut options = cfg.get_options().unwrap_or_default().to_string();
            if !options.is_empty() {
                options.push(' ');
            }
            options.push_str(&format!("-c search_path={schema}"));
            cfg.options(options);
        }
        if cfg.get_application_name().is_none() {
            cfg.application_name("impsd");
        }
        cfg.connect_timeout(Duration::from_millis(opts.connect_timeout_ms));
        let manager = Manager::from_config(
            cfg,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let wait = Some(Duration::from_millis(opts.wait_timeout_ms));
        let pool = Pool::builder(manager)
            .max_size(opts.max_connections.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(wait)
            .create_timeout(Some(Duration::from_millis(opts.connect_timeout_ms)))
            .build()
            .map_err(|e| StoreError::Backend(format!("postgres: building the pool: {e}")))?;
        let report = {
            let mut c = pool.get().await.map_err(|e| pool_error(&e))?;
            migrations::migrate(&mut c, opts.schema.as_deref()).await?
        };
        tracing::info!(
            schema = opts.schema.as_deref().unwrap_or("(default)"),
            schema_from = report.from,
            schema_to = report.to,
            max_connections = opts.max_connections,
            "postgres store open"
        );
        let batch = (opts.batch_max > 1).then(|| {
            let settings = BatchSettings {
                window: Duration::from_micros(opts.batch_window_us),
                max: opts.batch_max,
                // Half the pool at most for writes in batches: reads and
                // the other writes keep connections.
                slots: (opts.max_connections / 2).max(1),
            };
            let (p1, p2) = (pool.clone(), pool.clone());
            Batchers::start(
                settings,
                move |jobs| crate::im::run_puts(p1.clone(), jobs),
                move |jobs| crate::im::run_removes(p2.clone(), jobs),
            )
        });
        Ok(PgStore {
            pool,
            schema: opts.schema,
            batch,
        })
    }

    /// A connection from the pool.
    pub(crate) async fn conn(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(|e| pool_error(&e))
    }

    /// The schema version recorded in the database.
    pub async fn schema_version(&self) -> Result<u32, StoreError> {
        let c = self.conn().await?;
        migrations::current_version(&c).await
    }

    /// Closes the pool: connections in use close when given back.
    pub async fn close(self) -> Result<(), StoreError> {
        self.pool.close();
        Ok(())
    }
}
