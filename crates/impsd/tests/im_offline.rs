//! IMR-10, IMR-11, SYM-18: the offline-message notification. The server
//! is configured with the webhook notifier pointing at a tiny HTTP server
//! in the test, which records what it is sent.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use crate::common;
use crate::im_common;

use std::time::Duration;

use common::TestServer;
use im_common::*;
use imps_client::{Encoding, Version};
use imps_core::config::{NotifyBearer, OfflineNotify};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// An HTTP/1.1 server that answers 200 to every request and hands each
/// request body to the test.
async fn gateway() -> (String, mpsc::UnboundedReceiver<serde_json::Value>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/notify", l.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = l.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    // One request: headers, then Content-Length bytes.
                    let head_end = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        let mut chunk = [0u8; 4096];
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    while buf.len() < head_end + len {
                        let mut chunk = [0u8; 4096];
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let body: Vec<u8> = buf.drain(..head_end + len).skip(head_end).collect();
                    let _ =
                        tx.send(serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null));
                    if sock
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (url, rx)
}

async fn next_notice(
    rx: &mut mpsc::UnboundedReceiver<serde_json::Value>,
    secs: u64,
) -> Option<serde_json::Value> {
    tokio::time::timeout(Duration::from_secs(secs), rx.recv())
        .await
        .ok()
        .flatten()
}

async fn server_with_webhook(url: String, bearer: &str, interval: u64) -> TestServer {
    let bearer = match bearer {
        "SMS" => NotifyBearer::Sms,
        _ => NotifyBearer::WapPush,
    };
    TestServer::start_with(move |c| {
        c.im.offline_notify = OfflineNotify::Webhook;
        c.im.webhook_url = Some(url);
        c.im.offline_notify_bearer = bearer;
        c.im.offline_notify_interval_secs = interval;
    })
    .await
}

/// IMR-10: the notification says what it is (an offline-message
/// notification) and which bearer the operator should use for it, SMS or
/// WAP Push.
#[tokio::test]
async fn imr_10_offline_notification_type_for_sms_and_wap_push() {
    for bearer in ["SMS", "WAPPUSH"] {
        let (url, mut rx) = gateway().await;
        let srv = server_with_webhook(url, bearer, 300).await;
        add_user(&srv, "alice", None, None).await;
        add_user(&srv, "bob", None, None).await;
        let alice = online(&srv, Version::V1_3, Encoding::Wbxml, "alice", "phone").await;
        send_ok(&alice, text_to("alice", &["bob"], "are you there?")).await;
        let n = next_notice(&mut rx, 5).await.expect("a notification");
        assert_eq!(n["type"], "imps-offline-message");
        assert_eq!(n["bearer"], bearer);
        assert_eq!(n["waiting"], 1);
        // One per interval, not one per message.
        send_ok(&alice, text_to("alice", &["bob"], "hello?")).await;
        assert!(next_notice(&mut rx, 1).await.is_none());
        // An online recipient needs none.
        let bob = online(&srv, Version::V1_2, Encoding::Xml, "bob", "phone").await;
        send_ok(&alice, text_to("alice", &["bob"], "ah, there you are")).await;
        assert!(next_notice(&mut rx, 1).await.is_none());
        for _ in 0..3 {
            receive(&bob).await;
        }
    }
}

/// IMR-11: this server, the recipient's home domain, sends the
/// notification, and the operator can switch it off.
#[tokio::test]
async fn imr_11_home_domain_notifies_and_the_operator_can_switch_it_off() {
    let (url, mut rx) = gateway().await;
    let srv = TestServer::start_with(move |c| {
        c.im.offline_notify = OfflineNotify::Off;
        c.im.webhook_url = Some(url);
    })
    .await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    let alice = online(&srv, Version::V1_3, Encoding::Xml, "alice", "phone").await;
    send_ok(&alice, text_to("alice", &["bob"], "quietly")).await;
    assert!(next_notice(&mut rx, 1).await.is_none(), "switched off");
    // Switched on, the same server notifies.
    let (url, mut rx) = gateway().await;
    let srv = server_with_webhook(url, "SMS", 300).await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    let alice = online(&srv, Version::V1_3, Encoding::Xml, "alice", "phone").await;
    send_ok(&alice, text_to("alice", &["bob"], "loudly")).await;
    assert!(next_notice(&mut rx, 5).await.is_some());
}

/// SYM-18: the notification carries no names, numbers or text: only an
/// opaque reference (stable per recipient, different between
/// recipients), a count, and the type.
#[tokio::test]
async fn sym_18_offline_notification_carries_no_sensitive_data() {
    let (url, mut rx) = gateway().await;
    let srv = server_with_webhook(url, "SMS", 0).await;
    add_user(&srv, "alice", Some("Alice Liddell"), Some("+358401111111")).await;
    add_user(&srv, "bob", Some("Bobby Tables"), Some("+358402222222")).await;
    add_user(
        &srv,
        "+447700900123",
        Some("Carol Number"),
        Some("+447700900123"),
    )
    .await;
    let alice = online(&srv, Version::V1_3, Encoding::Xml, "alice", "phone").await;
    let mut refs = Vec::new();
    for (to, text) in [
        ("bob", "secret plans"),
        ("bob", "more secrets"),
        ("+447700900123", "top secret"),
    ] {
        send_ok(&alice, text_to("alice", &[to], text)).await;
        let n = next_notice(&mut rx, 5).await.expect("a notification");
        // The reference is checked on its own below: hex digits could
        // spell "358" by chance.
        let mut rest = n.clone();
        rest.as_object_mut().unwrap().remove("recipient");
        let raw = rest.to_string().to_ascii_lowercase();
        for secret in [
            "alice",
            "liddell",
            "bob",
            "tables",
            "carol",
            "358",
            "447700900123",
            "secret",
            "plans",
            "localhost",
        ] {
            assert!(!raw.contains(secret), "{secret:?} leaked in {raw}");
        }
        let keys: Vec<&String> = n.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["bearer", "recipient", "type", "waiting"],
            "nothing else"
        );
        let r = n["recipient"].as_str().unwrap().to_string();
        assert!(
            r.len() == 40 && r.bytes().all(|b| b.is_ascii_hexdigit()),
            "{r}"
        );
        refs.push(r);
    }
    assert_eq!(refs[0], refs[1], "stable for one recipient");
    assert_ne!(refs[0], refs[2], "different for another");
}

/// SYM-UC, the offline user message (5.14.3): with `sysmsg.offline_prompt`
/// the notification carries a system message for the phone to show, with
/// "log in" and "ignore", and still nothing about the sender or the
/// messages (SYM-18).
#[tokio::test]
async fn sym_uc_offline_user_message_offers_log_in_or_ignore() {
    let (url, mut rx) = gateway().await;
    let srv = TestServer::start_with(move |c| {
        c.im.offline_notify = OfflineNotify::Webhook;
        c.im.webhook_url = Some(url);
        c.im.offline_notify_interval_secs = 0;
        c.sysmsg.offline_prompt = true;
    })
    .await;
    add_user(&srv, "alice", Some("Alice Liddell"), None).await;
    add_user(&srv, "bob", None, None).await;
    let alice = online(&srv, Version::V1_3, Encoding::Wbxml, "alice", "phone").await;
    send_ok(&alice, text_to("alice", &["bob"], "secret plans")).await;
    let n = next_notice(&mut rx, 5).await.expect("a notification");
    let m = &n["system_message"];
    assert_eq!(m["text"], "New messages are waiting for you.", "{n}");
    let options: Vec<(u64, &str)> = m["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["id"].as_u64().unwrap(), o["text"].as_str().unwrap()))
        .collect();
    assert_eq!(options, [(1, "Log in"), (2, "Ignore")]);
    let raw = n.to_string().to_ascii_lowercase();
    for secret in ["alice", "liddell", "secret", "plans", "localhost"] {
        assert!(!raw.contains(secret), "{secret:?} leaked in {raw}");
    }
}

/// Runs the real impsd binary with `offline_notify = mode` and logging at
/// info, sends one message to a logged-out user, and returns the lines
/// the server logged about offline notifications.
async fn log_notifier_lines(mode: &str) -> Vec<String> {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    const BIN: &str = env!("CARGO_BIN_EXE_impsd");
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let data = dir.path().join("data");
    let cfg_path = dir.path().join("impsd.toml");
    let db = crate::common::TestDb::from_env();
    std::fs::write(
        &cfg_path,
        format!(
            "listen = \"127.0.0.1:{port}\"\ndata_dir = \"{}\"\nlog = \"info\"\n\
             [cir]\ntcp_listen = \"\"\n[admin]\nlisten = \"127.0.0.1:0\"\n\
             [im]\noffline_notify = \"{mode}\"\noffline_notify_interval_secs = 0\n{}",
            data.display(),
            crate::common::store_toml(db.as_ref())
        ),
    )
    .unwrap();
    let cfg = impsd::Config::from_file(&cfg_path).unwrap();
    {
        let store = impsd::connect_store(&cfg).await.unwrap();
        let hash = imps_core::auth::hash_password(PW).unwrap();
        for (id, name, msisdn) in [
            ("alice", "Alice Liddell", "+358401111111"),
            ("bob", "Bobby Tables", "+358402222222"),
        ] {
            store
                .create_user(imps_core::NewUser {
                    id: id.into(),
                    password_hash: Some(hash.clone()),
                    digest_secret: None,
                    msisdn: Some(msisdn.into()),
                    friendly_name: Some(name.into()),
                    created_ms: 0,
                })
                .await
                .unwrap();
        }
    }
    let mut child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&cfg_path)
        .env_remove("IMPSD_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let start = std::time::Instant::now();
    while !data.join("admin.json").exists() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "impsd did not start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let alice = imps_client::Client::new(
        imps_client::ClientConfig::new(
            format!("http://127.0.0.1:{port}/imps"),
            Version::V1_3,
            Encoding::Wbxml,
        )
        .with_client_id("phone"),
    )
    .unwrap();
    online_with(&alice, "alice", caps("P")).await;
    send_ok(&alice, text_to("alice", &["bob"], "secret plans")).await;
    let mut found = Vec::new();
    let until = std::time::Instant::now() + Duration::from_secs(3);
    while std::time::Instant::now() < until && found.is_empty() {
        while let Ok(line) = rx.try_recv() {
            if line.contains("offline message notification") {
                found.push(line);
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    found
}

/// IMR-11 and SYM-18 with the log notifier (the default, for operators
/// without a gateway): one line per notice, with the type, the bearer,
/// the opaque reference and the count, and nothing naming anyone; with
/// `off` there is no such line.
#[tokio::test]
async fn imr_11_log_notifier_writes_an_anonymous_line_and_can_be_switched_off() {
    let lines = log_notifier_lines("log").await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = lines[0].to_ascii_lowercase();
    assert!(line.contains("imps-offline-message"), "{line}");
    assert!(line.contains("waiting=1"), "{line}");
    let reference = line
        .split("recipient_ref=")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or("");
    assert!(
        reference.len() == 40 && reference.bytes().all(|b| b.is_ascii_hexdigit()),
        "{line}"
    );
    // The fields after the message (the timestamp before it could hold
    // any digits).
    let rest = line
        .split("offline message notification")
        .nth(1)
        .unwrap_or("")
        .replace(reference, "");
    for secret in [
        "alice", "liddell", "bob", "tables", "358", "secret", "plans",
    ] {
        assert!(!rest.contains(secret), "{secret:?} leaked in {line}");
    }
    assert!(log_notifier_lines("off").await.is_empty());
}
