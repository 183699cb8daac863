//! What a load benchmark talks to: a server given by `--url`, whose users
//! were created beforehand, or an impsd started in this process on
//! loopback ports with a temporary data dir and users made for the run.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use imps_client::{ClientConfig, Encoding, HttpTransport, Version};
use imps_core::{NewUser, Store};

/// The digest-secret key of the in-process server. Fixed because the data
/// dir is thrown away after the run; a real server has its own.
const BENCH_SECRET_KEY: &str = "6262626262626262626262626262626262626262626262626262626262626262";

/// Users are `PREFIX0000`, `PREFIX0001`, ...
pub fn user_name(prefix: &str, i: usize) -> String {
    format!("{prefix}{i:04}")
}

/// Where the benchmark sends its requests, and the users it may log in as.
pub struct Target {
    pub url: String,
    pub users: Arc<Vec<String>>,
    pub password: String,
    /// Kept so the in-process server and its data live for the whole run.
    server: Option<(impsd::Running, tempfile::TempDir)>,
}

impl Target {
    /// Uses a running server. Its users must exist already, named as
    /// [`user_name`] makes them, all with `password` (e.g. made with
    /// `impsd user add`).
    pub fn external(url: String, prefix: &str, count: usize, password: String) -> Target {
        let users = (0..count).map(|i| user_name(prefix, i)).collect();
        Target {
            url,
            users: Arc::new(users),
            password,
            server: None,
        }
    }

    /// Starts impsd in this process and creates `count` users.
    pub async fn in_process(
        prefix: &str,
        count: usize,
        password: String,
    ) -> anyhow::Result<Target> {
        let dir = tempfile::tempdir().context("creating a temp data dir")?;
        let mut cfg = impsd::Config {
            listen: "127.0.0.1:0".parse()?,
            data_dir: dir.path().join("data"),
            log: "warn".into(),
            ..impsd::Config::default()
        };
        cfg.admin.listen = "127.0.0.1:0".parse()?;
        // No client here uses TCP CIR; one listener less.
        cfg.cir.tcp_listen = String::new();
        cfg.login.digest = true;
        cfg.login.secret_key = Some(BENCH_SECRET_KEY.into());
        let running = impsd::start(cfg.clone())
            .await
            .context("starting impsd in-process")?;
        let users = create_users(&cfg, prefix, count, &password).await?;
        let url = format!("http://{}{}", running.http_addr, cfg.path);
        Ok(Target {
            url,
            users: Arc::new(users),
            password,
            server: Some((running, dir)),
        })
    }

    pub fn in_process_server(&self) -> bool {
        self.server.is_some()
    }

    /// A client config for this target; `client_id` is set per session.
    pub fn client_config(&self, v: Version, e: Encoding) -> ClientConfig {
        ClientConfig::new(self.url.clone(), v, e)
    }

    /// One HTTP connection pool, to be shared by the sessions of one
    /// worker: a phone keeps its connection, so the benchmark measures the
    /// server's work, not TCP handshakes.
    pub fn transport(&self, v: Version, e: Encoding) -> anyhow::Result<HttpTransport> {
        Ok(HttpTransport::new(&self.client_config(v, e))?)
    }

    /// Stops the in-process server, if any, and removes its data.
    pub async fn close(self) {
        if let Some((running, dir)) = self.server {
            running.shutdown().await;
            drop(dir);
        }
    }
}

/// Creates the users through a second store handle, as `impsd user add`
/// does. Argon2 is slow on purpose, so the password is hashed (and its
/// digest secret sealed) once and the same strings are stored for all.
async fn create_users(
    cfg: &impsd::Config,
    prefix: &str,
    count: usize,
    password: &str,
) -> anyhow::Result<Vec<String>> {
    let t0 = Instant::now();
    let store: Arc<dyn Store> = impsd::open_store(cfg)?;
    let key = cfg
        .secret_key()?
        .context("the bench config has a secret key")?;
    let hash = imps_core::auth::hash_password(password)?;
    let secret = imps_core::auth::seal_secret(&key, password)?;
    let mut users = Vec::with_capacity(count);
    for i in 0..count {
        let id = user_name(prefix, i);
        store
            .create_user(NewUser {
                id: id.clone(),
                password_hash: Some(hash.clone()),
                digest_secret: Some(secret.clone()),
                msisdn: None,
                friendly_name: None,
                created_ms: 0,
            })
            .await
            .with_context(|| format!("creating user {id}"))?;
        users.push(id);
    }
    eprintln!(
        "created {count} users in {:.2} s",
        t0.elapsed().as_secs_f64()
    );
    Ok(users)
}
