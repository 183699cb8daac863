//! Shared pieces of the end-to-end tests: a real impsd on loopback ports
//! chosen by the OS, with a temporary data dir.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use imps_core::{NewUser, Store};
use impsd::{Config, Running};

/// A fixed key so tests can enable digest login.
pub const TEST_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

pub struct TestServer {
    pub running: Option<Running>,
    pub cfg: Config,
    pub dir: tempfile::TempDir,
}

#[allow(clippy::field_reassign_with_default)] // one setting a line reads best here
pub fn test_config(dir: &std::path::Path) -> Config {
    let mut cfg = Config::default();
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.admin.listen = "127.0.0.1:0".parse().unwrap();
    cfg.cir.tcp_listen = "127.0.0.1:0".into();
    cfg.data_dir = dir.join("data");
    cfg.login.digest = true;
    cfg.login.secret_key = Some(TEST_KEY.into());
    cfg.log = "warn".into();
    cfg
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(f: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = test_config(dir.path());
        f(&mut cfg);
        let running = impsd::start(cfg.clone()).await.expect("server starts");
        TestServer {
            running: Some(running),
            cfg,
            dir,
        }
    }

    pub fn running(&self) -> &Running {
        self.running.as_ref().expect("server running")
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

    /// Adds a user through a second store handle on the same file, the
    /// way `impsd user add` does while the server runs.
    pub async fn add_user(&self, id: &str, password: &str) {
        self.add_user_full(id, Some(password), None).await;
    }

    pub async fn add_user_full(&self, id: &str, password: Option<&str>, msisdn: Option<&str>) {
        let store: Arc<dyn Store> = impsd::open_store(&self.cfg).unwrap();
        let key = self.cfg.secret_key().unwrap().unwrap();
        let (hash, secret) = match password {
            Some(pw) => (
                Some(imps_core::auth::hash_password(pw).unwrap()),
                Some(imps_core::auth::seal_secret(&key, pw).unwrap()),
            ),
            None => (None, None),
        };
        store
            .create_user(NewUser {
                id: id.into(),
                password_hash: hash,
                digest_secret: secret,
                msisdn: msisdn.map(str::to_string),
                friendly_name: None,
                created_ms: 0,
            })
            .await
            .unwrap();
    }

    pub async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }
}

/// A raw POST, for bodies no well-behaved client would send.
pub async fn post_raw(
    url: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, Option<String>, Vec<u8>) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<bytes::Bytes>>();
    let req = hyper::Request::builder()
        .method("POST")
        .uri(url)
        .header("content-type", content_type)
        .body(Full::new(bytes::Bytes::from(body)))
        .unwrap();
    let resp = client.request(req).await.expect("server answers");
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, ct, body)
}

use imps_client::{Client, ClientConfig, Encoding, HttpClient, Version};

/// The version/encoding pairs the end-to-end tests run in.
pub fn combos() -> Vec<(Version, Encoding)> {
    vec![
        (Version::V1_2, Encoding::Xml),
        (Version::V1_2, Encoding::Wbxml),
        (Version::V1_3, Encoding::Xml),
        (Version::V1_3, Encoding::Wbxml),
        (Version::V1_1, Encoding::Xml),
    ]
}

impl TestServer {
    /// An HTTP client for this server with its own ClientID.
    pub fn client(&self, v: Version, e: Encoding, client_id: &str) -> HttpClient {
        Client::new(ClientConfig::new(self.url(), v, e).with_client_id(client_id)).unwrap()
    }
}

/// The Result/Code of a response element (Result directly, or in Status).
pub fn code_of(e: &imps_client::Element) -> Option<u16> {
    imps_client::status_of(e).map(|(c, _)| c)
}

/// The real impsd binary, for tests that SIGKILL and restart it.
pub const IMPSD_BIN: &str = env!("CARGO_BIN_EXE_impsd");

/// Writes a config for the real binary under `dir`: every port chosen by
/// the OS, data in `dir/data`, digest login on with `TEST_KEY`.
pub fn real_config(dir: &std::path::Path) -> PathBuf {
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
    std::fs::write(&path, text).unwrap();
    path
}

/// Starts the real binary and waits for admin.json, which it writes once
/// bound; returns the child and the CSP URL.
#[allow(clippy::zombie_processes)] // the caller owns the child and kills it
pub fn spawn_real(cfg: &std::path::Path, data: &std::path::Path) -> (std::process::Child, String) {
    use std::time::{Duration, Instant};
    let _ = std::fs::remove_file(data.join("admin.json"));
    let child = std::process::Command::new(IMPSD_BIN)
        .args(["serve", "--config"])
        .arg(cfg)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(data.join("admin.json")) {
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            return (
                child,
                format!("http://{}/imps", v["http"].as_str().unwrap()),
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "impsd did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs an impsd command (`user add ...`, `session kick ...`) against the
/// config, asserting success; returns its standard output.
pub fn impsd_cli(cfg: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new(IMPSD_BIN)
        .args(args)
        .arg("--config")
        .arg(cfg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "impsd {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
