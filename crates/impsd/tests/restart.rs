//! The real binary: admin commands while it runs, SIGKILL and restart.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use imps_client::{Client, ClientConfig, Encoding, Version};

const BIN: &str = env!("CARGO_BIN_EXE_impsd");

fn write_config(dir: &Path) -> std::path::PathBuf {
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
        key = common::TEST_KEY
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Starts impsd and waits for admin.json, which it writes once bound.
fn spawn(cfg: &Path, data: &Path) -> (Child, String) {
    let _ = std::fs::remove_file(data.join("admin.json"));
    let child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
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

fn admin(cfg: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN)
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

#[tokio::test]
async fn base_ses_users_credentials_and_sessions_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path());
    let data = dir.path().join("data");
    let (mut child, url) = spawn(&cfg, &data);

    // Admin commands against the running server's data dir.
    admin(
        &cfg,
        &[
            "user",
            "add",
            "alice",
            "--password",
            "s3cret",
            "--msisdn",
            "+358401234567",
        ],
    );
    admin(&cfg, &["user", "add", "bob", "--password", "old"]);
    admin(&cfg, &["user", "passwd", "bob", "--password", "new"]);
    let users = admin(&cfg, &["user", "list"]);
    assert!(
        users.contains("alice\t+358401234567") && users.contains("bob"),
        "{users}"
    );

    let alice = Client::new(
        ClientConfig::new(url.clone(), Version::V1_2, Encoding::Wbxml).with_client_id("phone"),
    )
    .unwrap();
    let info = alice
        .login_digest("alice", "s3cret", &["SHA"])
        .await
        .unwrap();
    let listed = admin(&cfg, &["session", "list"]);
    assert!(
        listed.contains(&info.session_id) && listed.contains("alice"),
        "{listed}"
    );

    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let (mut child, url2) = spawn(&cfg, &data);
    // Credentials intact: password and digest both still work.
    let bob = Client::new(ClientConfig::new(
        url2.clone(),
        Version::V1_3,
        Encoding::Xml,
    ))
    .unwrap();
    bob.login_password("bob", "new").await.unwrap();
    let again = Client::new(
        ClientConfig::new(url2.clone(), Version::V1_2, Encoding::Xml).with_client_id("laptop"),
    )
    .unwrap();
    again
        .login_digest("alice", "s3cret", &["MD5"])
        .await
        .unwrap();
    // The session from before the crash is still live.
    let resumed = Client::new(
        ClientConfig::new(url2.clone(), Version::V1_2, Encoding::Wbxml).with_client_id("phone"),
    )
    .unwrap();
    resumed.set_session_id(Some(info.session_id.clone()));
    resumed.keep_alive(None).await.unwrap();
    // And it can be kicked through the admin endpoint.
    let out = admin(&cfg, &["session", "kick", &info.session_id]);
    assert!(out.contains("kicked"), "{out}");
    let m = resumed
        .poll()
        .await
        .unwrap()
        .expect("Disconnect after kick");
    assert_eq!(m.transactions[0].body.name, "Disconnect");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn base_ses_help_and_default_config() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("serve") && text.contains("user") && text.contains("session"));
    let out = Command::new(BIN)
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in ["--listen", "--data-dir", "--domain", "--config"] {
        assert!(text.contains(flag), "serve --help lacks {flag}");
    }
    let out = Command::new(BIN)
        .args(["config", "print-default"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let parsed: impsd::Config = toml::from_str(&text).expect("the printed defaults parse back");
    assert_eq!(parsed.listen.to_string(), "127.0.0.1:8080");
    // A bad config stops the start with a message, not a panic.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "listen = 5\n").unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad config"));
}
