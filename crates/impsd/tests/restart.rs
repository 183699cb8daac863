//! The real binary: admin commands while it runs, SIGKILL and restart.

use crate::common;

use std::process::Command;

use imps_client::{Client, ClientConfig, Encoding, Version};

use common::{impsd_cli as admin, real_config_db, spawn_real as spawn};

const BIN: &str = common::IMPSD_BIN;

#[tokio::test]
async fn base_ses_users_credentials_and_sessions_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::TestDb::from_env();
    let cfg = real_config_db(dir.path(), db.as_ref());
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
