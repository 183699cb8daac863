//! The server in this process: `impsd::start_full` on loopback ports the
//! OS picks, with a temporary data dir.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use imps_client::{Client, ClientConfig, Encoding, HttpClient, Version};
use imps_core::{Clock, FakeClock, NewUser, Service, Store, SystemClock};
use impsd::config::StoreKind;
use impsd::logging::LogControl;
use impsd::{Config, Running};

use crate::store::TestDb;
use crate::user::Login;

/// A fixed key so tests can enable digest login.
pub const TEST_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// The settings every test server starts from: every listener on
/// `127.0.0.1:0`, data in `dir/data`, digest login on with [`TEST_KEY`],
/// log level `warn`.
#[allow(clippy::field_reassign_with_default)] // one setting a line reads best here
pub fn test_config(dir: &Path) -> Config {
    let mut cfg = Config::default();
    cfg.listen = "127.0.0.1:0".parse().expect("a socket address");
    cfg.admin.listen = "127.0.0.1:0".parse().expect("a socket address");
    cfg.cir.tcp_listen = "127.0.0.1:0".into();
    cfg.data_dir = dir.join("data");
    cfg.login.digest = true;
    cfg.login.secret_key = Some(TEST_KEY.into());
    cfg.log = "warn".into();
    cfg
}

/// A server running in this process. Dropping it leaves its tasks to the
/// test's runtime, which ends with the test; [`TestServer::stop`] stops
/// it properly (listeners closed, background work ended).
pub struct TestServer {
    /// `None` after [`TestServer::stop`]; a test may put a new one here.
    pub running: Option<Running>,
    pub cfg: Config,
    /// Holds the data dir; removed when the server is dropped.
    pub dir: tempfile::TempDir,
    /// On PostgreSQL: the second store handle [`TestServer::store`] gives
    /// (a pool, opened once the server runs).
    pg_store: Option<Arc<dyn Store>>,
    /// On PostgreSQL (`IMPSD_TEST_STORE=postgres`): the server's schema,
    /// dropped with the server; `None` on SQLite.
    pub db: Option<TestDb>,
}

/// A change to the settings; may borrow from the test (`'a`).
type ConfigFn<'a> = Box<dyn FnOnce(&mut Config) + 'a>;

/// Settings for [`TestServer::builder`].
#[must_use = "nothing starts until .start().await"]
pub struct TestServerBuilder<'a> {
    config: Vec<ConfigFn<'a>>,
    clock: Option<Arc<dyn Clock>>,
    log: Option<Arc<dyn LogControl>>,
    users: Vec<(String, String)>,
}

impl<'a> TestServerBuilder<'a> {
    /// Changes the settings from [`test_config`]. May be called more than
    /// once; the changes apply in order.
    pub fn config(mut self, f: impl FnOnce(&mut Config) + 'a) -> Self {
        self.config.push(Box::new(f));
        self
    }

    /// Runs the server on this clock instead of the system's.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Runs the server on a clock the test moves: keep a clone of `clock`
    /// and call `advance_ms` on it.
    pub fn fake_clock(self, clock: FakeClock) -> Self {
        self.clock(Arc::new(clock))
    }

    /// Lets the admin endpoint read and change the log filter through
    /// `log` (without it the endpoint says logging is not reloadable).
    pub fn log_control(mut self, log: Arc<dyn LogControl>) -> Self {
        self.log = Some(log);
        self
    }

    /// A user to create once the server runs (see [`TestServer::add_user`]).
    pub fn user(mut self, id: &str, password: &str) -> Self {
        self.users.push((id.into(), password.into()));
        self
    }

    /// Starts the server and creates the users; panics when it cannot.
    pub async fn start(self) -> TestServer {
        let dir = tempfile::tempdir().expect("a temporary dir");
        let mut cfg = test_config(dir.path());
        let db = TestDb::from_env();
        if let Some(db) = &db {
            db.apply(&mut cfg);
        }
        for f in self.config {
            f(&mut cfg);
        }
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let running = impsd::start_full(cfg.clone(), clock, self.log)
            .await
            .expect("server starts");
        // The server made and migrated the schema: a second pool on it.
        let pg_store = match cfg.store.kind {
            StoreKind::Postgres => Some(
                impsd::connect_store(&cfg)
                    .await
                    .expect("a second handle on the PostgreSQL store"),
            ),
            StoreKind::Sqlite => None,
        };
        let srv = TestServer {
            running: Some(running),
            cfg,
            dir,
            pg_store,
            db,
        };
        for (id, password) in &self.users {
            srv.add_user(id, password).await;
        }
        srv
    }
}

impl TestServer {
    /// A server to configure, then start: port 0 for every listener, a
    /// temporary data dir, the system clock unless told otherwise.
    ///
    /// ```no_run
    /// # async fn example() {
    /// # use imps_testkit::TestServer;
    /// let clock = imps_core::FakeClock::new(1_000_000);
    /// let srv = TestServer::builder()
    ///     .config(|c| c.session.keepalive_max_secs = 30)
    ///     .fake_clock(clock.clone())
    ///     .start()
    ///     .await;
    /// clock.advance_ms(31_000);
    /// # }
    /// ```
    pub fn builder<'a>() -> TestServerBuilder<'a> {
        TestServerBuilder {
            config: Vec::new(),
            clock: None,
            log: None,
            users: Vec::new(),
        }
    }

    /// A server with the [`test_config`] settings.
    pub async fn start() -> TestServer {
        TestServer::builder().start().await
    }

    /// A server with the [`test_config`] settings changed by `f`.
    pub async fn start_with(f: impl FnOnce(&mut Config)) -> TestServer {
        TestServer::builder().config(f).start().await
    }

    pub fn running(&self) -> &Running {
        self.running.as_ref().expect("server running")
    }

    /// The core service, for what a test checks or triggers from inside
    /// (`expire_idle`, `push_to_user`, `kick`).
    pub fn service(&self) -> &Arc<Service> {
        &self.running().service
    }

    pub fn url(&self) -> String {
        format!("http://{}/imps", self.running().http_addr)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/imps/ws", self.running().http_addr)
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.running().http_addr
    }

    pub fn data_dir(&self) -> PathBuf {
        self.cfg.data_dir.clone()
    }

    /// A second handle on the server's store, the way the admin commands
    /// open it while the server runs: the SQLite file opened again, or on
    /// PostgreSQL a pool on the server's schema.
    pub fn store(&self) -> Arc<dyn Store> {
        match &self.pg_store {
            Some(s) => s.clone(),
            None => impsd::open_store(&self.cfg).expect("the store opens"),
        }
    }

    /// Whether this server runs on PostgreSQL.
    pub fn on_postgres(&self) -> bool {
        self.cfg.store.kind == StoreKind::Postgres
    }

    /// Adds a user through a second store handle on the same data, the
    /// way `impsd user add` does while the server runs.
    pub async fn add_user(&self, id: &str, password: &str) {
        self.add_user_full(id, Some(password), None).await;
    }

    /// Adds users that share one password (hashed once: argon2 is slow on
    /// purpose).
    pub async fn add_users(&self, ids: &[&str], password: &str) {
        let hash = imps_core::auth::hash_password(password).expect("password hashes");
        let store = self.store();
        for id in ids {
            store
                .create_user(self.new_user(id, Some((&hash, password)), None))
                .await
                .expect("user created");
        }
    }

    pub async fn add_user_full(&self, id: &str, password: Option<&str>, msisdn: Option<&str>) {
        let hash = password.map(|pw| imps_core::auth::hash_password(pw).expect("password hashes"));
        let pw = hash.as_deref().zip(password);
        self.store()
            .create_user(self.new_user(id, pw, msisdn))
            .await
            .expect("user created");
    }

    /// A user row: the password's argon2 hash, and its digest secret
    /// sealed with the configured key when there is one.
    fn new_user(&self, id: &str, password: Option<(&str, &str)>, msisdn: Option<&str>) -> NewUser {
        let key = self.cfg.digest_key().expect("the digest key is readable");
        let (hash, secret) = match password {
            Some((hash, pw)) => (
                Some(hash.to_string()),
                key.map(|k| imps_core::auth::seal_secret(&k, pw).expect("secret seals")),
            ),
            None => (None, None),
        };
        NewUser {
            id: id.into(),
            password_hash: hash,
            digest_secret: secret,
            msisdn: msisdn.map(str::to_string),
            friendly_name: None,
            created_ms: 0,
        }
    }

    /// An HTTP client for this server with its own ClientID.
    pub fn client(&self, v: Version, e: Encoding, client_id: &str) -> HttpClient {
        Client::new(ClientConfig::new(self.url(), v, e).with_client_id(client_id))
            .expect("client config is valid")
    }

    /// Logs `user` in and makes the session ready; see [`Login`].
    pub fn login(&self, user: &str) -> Login {
        Login::new(self.http_addr(), user)
    }

    /// Stops the server (listeners closed, background work ended).
    pub async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }

    /// Stops the server and starts it again on the same data dir and
    /// settings, as after a clean restart (new ports). The system clock.
    pub async fn restart(&mut self) {
        self.restart_with_clock(Arc::new(SystemClock)).await;
    }

    /// [`TestServer::restart`] on the given clock.
    pub async fn restart_with_clock(&mut self, clock: Arc<dyn Clock>) {
        self.stop().await;
        let running = impsd::start_full(self.cfg.clone(), clock, None)
            .await
            .expect("server restarts");
        self.running = Some(running);
    }
}
