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
    /// A server started as a child process, and its data dir.
    child: Option<(std::process::Child, tempfile::TempDir)>,
}

/// The config both self-started kinds of server use: loopback, a temporary
/// data dir, digest login with a fixed key, no TCP CIR listener.
fn bench_config(dir: &tempfile::TempDir) -> anyhow::Result<impsd::Config> {
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
    Ok(cfg)
}

/// A loopback port free now (the child binds it a moment later).
fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
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
            child: None,
        }
    }

    /// Starts impsd in this process and creates `count` users.
    pub async fn in_process(
        prefix: &str,
        count: usize,
        password: String,
    ) -> anyhow::Result<Target> {
        Target::in_process_with(prefix, count, password, |_| {}).await
    }

    /// Like [`Target::in_process`], with the config adjusted by `tweak`.
    pub async fn in_process_with(
        prefix: &str,
        count: usize,
        password: String,
        tweak: impl FnOnce(&mut impsd::Config),
    ) -> anyhow::Result<Target> {
        let dir = tempfile::tempdir().context("creating a temp data dir")?;
        let mut cfg = bench_config(&dir)?;
        tweak(&mut cfg);
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
            child: None,
        })
    }

    /// Starts the impsd binary `bin` as a child process (so server and
    /// load do not share a process, only the machine), with its users made
    /// in its store before it starts.
    pub async fn child_process(
        bin: &std::path::Path,
        prefix: &str,
        count: usize,
        password: String,
        tweak: impl FnOnce(&mut impsd::Config),
    ) -> anyhow::Result<Target> {
        let dir = tempfile::tempdir().context("creating a temp data dir")?;
        let mut cfg = bench_config(&dir)?;
        cfg.listen = format!("127.0.0.1:{}", free_port()?).parse()?;
        cfg.admin.listen = format!("127.0.0.1:{}", free_port()?).parse()?;
        tweak(&mut cfg);
        let users = create_users(&cfg, prefix, count, &password).await?;
        let cfg_path = dir.path().join("impsd.toml");
        std::fs::write(&cfg_path, cfg.to_toml()).context("writing the child's config")?;
        let mut child = std::process::Command::new(bin)
            .arg("serve")
            .arg("--config")
            .arg(&cfg_path)
            .stdin(std::process::Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        // Ready when it accepts connections; give up after 20 s.
        let t0 = Instant::now();
        loop {
            if tokio::net::TcpStream::connect(cfg.listen).await.is_ok() {
                break;
            }
            if let Some(st) = child.try_wait()? {
                anyhow::bail!("{} exited at start: {st}", bin.display());
            }
            if t0.elapsed().as_secs() > 20 {
                let _ = child.kill();
                anyhow::bail!(
                    "{} did not listen on {} within 20 s",
                    bin.display(),
                    cfg.listen
                );
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Ok(Target {
            url: format!("http://{}{}", cfg.listen, cfg.path),
            users: Arc::new(users),
            password,
            server: None,
            child: Some((child, dir)),
        })
    }

    /// The WebSocket endpoint beside the HTTP binding (`ws_path` of the
    /// default config, on the same host and port).
    pub fn ws_url(&self) -> String {
        let base = self
            .url
            .replacen("https://", "wss://", 1)
            .replacen("http://", "ws://", 1);
        format!("{}/ws", base.trim_end_matches('/'))
    }

    pub fn in_process_server(&self) -> bool {
        self.server.is_some()
    }

    /// Whether the server was started by this run (in process or as a
    /// child), so its figures include nothing but this run's load.
    pub fn own_server(&self) -> bool {
        self.server.is_some() || self.child.is_some()
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
        if let Some((mut child, dir)) = self.child {
            // A benchmark's data is thrown away: no need for a clean stop.
            let _ = child.kill();
            let _ = child.wait();
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
