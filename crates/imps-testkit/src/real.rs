//! The real `impsd` binary in a child process, for tests that run the
//! admin commands, read what an operator sees, or SIGKILL and restart it.
//!
//! The binary's path is known only to the tests of the `impsd` package
//! (Cargo sets `CARGO_BIN_EXE_impsd` when it compiles them), so the
//! caller passes it: [`impsd_bin!`](crate::impsd_bin) expands to it there.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use impsd::Config;

use crate::server::{TEST_KEY, test_config};
use crate::store::TestDb;
use crate::user::Login;
use crate::wait::Backoff;

/// How long the binary may take to bind its listeners.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The path of the `impsd` binary, for tests of the `impsd` package.
#[macro_export]
macro_rules! impsd_bin {
    () => {
        env!("CARGO_BIN_EXE_impsd")
    };
}

/// Writes a config for the real binary under `dir`: every port chosen by
/// the OS, data in `dir/data`, digest login on with [`TEST_KEY`]. The
/// store is SQLite; [`real_config_db`] for the run's store.
pub fn real_config(dir: &Path) -> PathBuf {
    real_config_db(dir, None)
}

/// [`real_config`] on the store of the run: SQLite when `db` is `None`,
/// else its PostgreSQL schema (`TestDb::from_env()`, which the caller
/// keeps until the server is gone).
pub fn real_config_db(dir: &Path, db: Option<&TestDb>) -> PathBuf {
    let path = dir.join("impsd.toml");
    let text = format!(
        r#"listen = "127.0.0.1:0"
data_dir = "{data}"
log = "warn"
[login]
digest = true
secret_key = "{key}"
[cir]
tcp_listen = "127.0.0.1:0"
[admin]
listen = "127.0.0.1:0"
"#,
        data = dir.join("data").display(),
        key = TEST_KEY
    );
    let text = format!("{text}{}", crate::store::store_toml(db));
    std::fs::write(&path, text).expect("config written");
    path
}

/// Where a started binary listens, from the `admin.json` it writes to
/// its data dir once bound.
struct Bound {
    http: SocketAddr,
    admin: SocketAddr,
}

/// Waits until the binary whose data dir is `data` has written
/// `admin.json` (the caller removed any old one first). Fails the test
/// when the child exits or [`START_TIMEOUT`] passes; `log` is where its
/// standard error went, quoted then.
fn wait_bound(child: &mut Child, data: &Path, log: Option<&Path>) -> Bound {
    let why = |what: String| -> String {
        let tail = log
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default();
        format!("impsd did not start: {what}\n{tail}")
    };
    let mut backoff = Backoff::new(START_TIMEOUT);
    loop {
        // Written to a temporary file and renamed: whole when it exists.
        if let Ok(text) = std::fs::read_to_string(data.join("admin.json")) {
            let info: impsd::admin::AdminInfo =
                serde_json::from_str(&text).expect("admin.json parses");
            return Bound {
                http: info.http.parse().expect("admin.json: http address"),
                admin: info.addr.parse().expect("admin.json: admin address"),
            };
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{}", why(format!("exited with {status}")));
        }
        if !backoff.wait_blocking() {
            panic!("{}", why(format!("no admin.json after {START_TIMEOUT:?}")));
        }
    }
}

/// Starts the binary at `bin` with config `cfg` and waits for admin.json
/// in `data`, which it writes once bound; returns the child and the CSP
/// URL. The caller owns the child and kills it.
#[allow(clippy::zombie_processes)] // the caller owns the child and kills it
pub fn spawn_real(bin: &Path, cfg: &Path, data: &Path) -> (Child, String) {
    let _ = std::fs::remove_file(data.join("admin.json"));
    let mut child = Command::new(bin)
        .args(["serve", "--config"])
        .arg(cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("impsd spawns");
    let bound = wait_bound(&mut child, data, None);
    (child, format!("http://{}/imps", bound.http))
}

/// Runs `bin <args> --config <cfg>`, whatever its outcome.
pub fn impsd_cli_output(bin: &Path, cfg: &Path, args: &[&str]) -> Output {
    Command::new(bin)
        .args(args)
        .arg("--config")
        .arg(cfg)
        .output()
        .expect("impsd runs")
}

/// Runs an impsd command (`user add ...`, `session kick ...`) against the
/// config, asserting success; returns its standard output.
pub fn impsd_cli(bin: &Path, cfg: &Path, args: &[&str]) -> String {
    let out = impsd_cli_output(bin, cfg, args);
    assert!(
        out.status.success(),
        "impsd {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A change to the settings; may borrow from the test (`'a`).
type ConfigFn<'a> = Box<dyn FnOnce(&mut Config) + 'a>;

/// Settings for [`RealServer::builder`].
#[must_use = "nothing starts until .start()"]
pub struct RealServerBuilder<'a> {
    bin: PathBuf,
    config: Vec<ConfigFn<'a>>,
}

impl<'a> RealServerBuilder<'a> {
    /// Changes the settings from [`test_config`] (the same starting point
    /// as the in-process server). May be called more than once.
    pub fn config(mut self, f: impl FnOnce(&mut Config) + 'a) -> Self {
        self.config.push(Box::new(f));
        self
    }

    /// Writes the config, starts the binary and waits until it listens.
    /// Blocks the thread meanwhile (fine in a test's runtime: the server
    /// is another process).
    pub fn start(self) -> RealServer {
        let dir = tempfile::tempdir().expect("a temporary dir");
        let mut cfg = test_config(dir.path());
        let db = TestDb::from_env();
        if let Some(db) = &db {
            db.apply(&mut cfg);
        }
        for f in self.config {
            f(&mut cfg);
        }
        let config_path = dir.path().join("impsd.toml");
        let text = toml::to_string(&cfg).expect("config serializes");
        std::fs::write(&config_path, text).expect("config written");
        let mut srv = RealServer {
            bin: self.bin,
            config_path,
            cfg,
            child: None,
            http_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            admin_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            db,
            dir,
        };
        srv.spawn();
        srv
    }
}

/// The real binary serving a temporary data dir. Dropping it kills the
/// process.
pub struct RealServer {
    bin: PathBuf,
    config_path: PathBuf,
    cfg: Config,
    child: Option<Child>,
    http_addr: SocketAddr,
    admin_addr: SocketAddr,
    /// On PostgreSQL, the server's schema (dropped after the process is
    /// killed: fields drop after [`Drop::drop`]).
    db: Option<TestDb>,
    /// Last, so the process is gone before its dir is removed.
    dir: tempfile::TempDir,
}

impl RealServer {
    /// A server to configure, then start, from the binary at `bin`
    /// (`RealServer::builder(impsd_bin!())`).
    pub fn builder<'a>(bin: impl Into<PathBuf>) -> RealServerBuilder<'a> {
        RealServerBuilder {
            bin: bin.into(),
            config: Vec::new(),
        }
    }

    fn spawn(&mut self) {
        let data = self.cfg.data_dir.clone();
        let _ = std::fs::remove_file(data.join("admin.json"));
        let log = self.log_path();
        let stderr = std::fs::File::create(&log).expect("log file created");
        let mut child = Command::new(&self.bin)
            .args(["serve", "--config"])
            .arg(&self.config_path)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("impsd spawns");
        let bound = wait_bound(&mut child, &data, Some(&log));
        self.http_addr = bound.http;
        self.admin_addr = bound.admin;
        self.child = Some(child);
    }

    /// Kills the process (SIGKILL: nothing flushed, nothing said goodbye)
    /// and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the process if it runs and starts it again on the same data
    /// dir and config; the ports change.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// The process, for a test that signals it itself.
    pub fn child(&mut self) -> Option<&mut Child> {
        self.child.as_mut()
    }

    pub fn url(&self) -> String {
        format!("http://{}/imps", self.http_addr)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/imps/ws", self.http_addr)
    }

    pub fn metrics_url(&self) -> String {
        format!("http://{}/metrics", self.http_addr)
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// The settings it runs with.
    pub fn cfg(&self) -> &Config {
        &self.cfg
    }

    /// The config file it was started with (and the admin commands read).
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    pub fn data_dir(&self) -> &Path {
        &self.cfg.data_dir
    }

    /// The PostgreSQL schema it runs on (`IMPSD_TEST_STORE=postgres`).
    pub fn db(&self) -> Option<&TestDb> {
        self.db.as_ref()
    }

    /// The binary it runs.
    /// Where the binary's standard error (its log) goes.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("impsd.stderr")
    }

    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// Runs an admin command against this server's config, asserting
    /// success; its standard output.
    pub fn cli(&self, args: &[&str]) -> String {
        impsd_cli(&self.bin, &self.config_path, args)
    }

    /// Runs an admin command, whatever its outcome.
    pub fn cli_output(&self, args: &[&str]) -> Output {
        impsd_cli_output(&self.bin, &self.config_path, args)
    }

    /// `impsd user add <id> --password <password>`.
    pub fn add_user(&self, id: &str, password: &str) {
        self.cli(&["user", "add", id, "--password", password]);
    }

    /// Logs `user` in and makes the session ready; see [`Login`].
    pub fn login(&self, user: &str) -> Login {
        Login::new(self.http_addr, user)
    }
}

impl Drop for RealServer {
    fn drop(&mut self) {
        self.kill();
    }
}
