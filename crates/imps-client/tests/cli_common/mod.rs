//! Shared by the `imps` CLI tests: a real impsd started in this process
//! on loopback ports the OS picks, with a temporary data dir, and a way
//! to run the `imps` binary as one user (its own profile and config dir).
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;

use imps_core::{NewUser, Store};
use serde_json::Value;
use tokio::io::AsyncWriteExt;

pub const BIN: &str = env!("CARGO_BIN_EXE_imps");

/// A fixed key so the server can keep digest secrets.
const TEST_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

pub struct Server {
    pub running: Option<impsd::Running>,
    pub cfg: impsd::Config,
    pub dir: tempfile::TempDir,
}

impl Server {
    pub async fn start() -> Server {
        Self::start_with(|_| {}).await
    }

    #[allow(clippy::field_reassign_with_default)] // one setting a line reads best here
    pub async fn start_with(f: impl FnOnce(&mut impsd::Config)) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = impsd::Config::default();
        cfg.listen = "127.0.0.1:0".parse().unwrap();
        cfg.admin.listen = "127.0.0.1:0".parse().unwrap();
        cfg.cir.tcp_listen = "127.0.0.1:0".into();
        cfg.data_dir = dir.path().join("data");
        cfg.login.digest = true;
        cfg.login.secret_key = Some(TEST_KEY.into());
        cfg.log = "warn".into();
        f(&mut cfg);
        let running = impsd::start(cfg.clone()).await.expect("server starts");
        Server {
            running: Some(running),
            cfg,
            dir,
        }
    }

    pub fn url(&self) -> String {
        format!(
            "http://{}/imps",
            self.running.as_ref().expect("running").http_addr
        )
    }

    /// Adds an account the way `impsd user add` does.
    pub async fn add_user(&self, id: &str, password: &str) {
        self.add_user_named(id, password, None).await;
    }

    /// Adds an account with a friendly name (what searches by name find).
    pub async fn add_user_named(&self, id: &str, password: &str, friendly: Option<&str>) {
        let store: Arc<dyn Store> = impsd::open_store(&self.cfg).unwrap();
        let key = self.cfg.secret_key().unwrap().unwrap();
        store
            .create_user(NewUser {
                id: id.into(),
                password_hash: Some(imps_core::auth::hash_password(password).unwrap()),
                digest_secret: Some(imps_core::auth::seal_secret(&key, password).unwrap()),
                msisdn: None,
                friendly_name: friendly.map(str::to_string),
                created_ms: 0,
            })
            .await
            .unwrap();
    }

    /// A CLI user with its own profile file and config dir.
    pub fn person(&self, name: &str) -> Person {
        let home = self.dir.path().join(format!("home-{name}"));
        std::fs::create_dir_all(&home).unwrap();
        Person {
            name: name.to_string(),
            profile: home.join("profile.json"),
            home,
            url: self.url(),
        }
    }
}

/// What one run of `imps` did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The `--json` document on stdout.
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }

    /// Panics with the whole run when the command failed.
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "imps failed: {self:#?}");
        self
    }
}

pub struct Person {
    pub name: String,
    pub profile: PathBuf,
    pub home: PathBuf,
    pub url: String,
}

impl Person {
    /// Runs `imps --profile <mine> ARGS`, feeding `stdin`.
    pub async fn imps(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.arg("--profile")
            .arg(&self.profile)
            .args(args)
            .env("XDG_CONFIG_HOME", &self.home)
            .env("HOME", &self.home)
            .env_remove("IMPS_PROFILE")
            .env_remove("IMPS_PASSWORD")
            .env_remove("IMPS_SERVER")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("imps runs");
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).await.unwrap();
        }
        drop(input);
        let out =
            tokio::time::timeout(std::time::Duration::from_secs(60), child.wait_with_output())
                .await
                .expect("imps finishes within a minute")
                .unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `imps --json ARGS`, which must succeed; its JSON.
    pub async fn json(&self, args: &[&str]) -> Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        self.imps(&a, None).await.ok().json()
    }

    /// Logs in with a password on stdin.
    pub async fn login(&self, password: &str, extra: &[&str]) -> Value {
        let mut a = vec![
            "--json",
            "login",
            "--server",
            &self.url,
            "--user",
            &self.name,
            "--password-stdin",
        ];
        a.extend_from_slice(extra);
        self.imps(&a, Some(&format!("{password}\n")))
            .await
            .ok()
            .json()
    }
}

/// The (version, encoding) flags the CLI tests run under.
pub fn combos() -> Vec<Vec<&'static str>> {
    vec![vec!["--csp", "1.2"], vec!["--csp", "1.3", "--wbxml"]]
}
