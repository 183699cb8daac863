//! Login storms (issue 19): a returning user's password, once Argon2 has
//! passed it, is let in again from the verifier cache (seen on /metrics),
//! but never a wrong password, never a password the operator has since
//! changed or removed, and cold checks that wait too long for their turn
//! are answered 503 with TryAgainTimeout instead of hanging. The real
//! binary, driven as an operator drives it.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use crate::common;

use common::*;
use imps_client::{Client, ClientConfig, Encoding, HttpClient, Version};

fn client(srv: &RealServer, client_id: &str) -> HttpClient {
    Client::new(
        ClientConfig::new(srv.url(), Version::V1_3, Encoding::Xml).with_client_id(client_id),
    )
    .unwrap()
}

/// (let in by the cache, checked with Argon2), from /metrics.
async fn password_checks(srv: &RealServer) -> (u64, u64) {
    let (status, text) = get_text(&srv.metrics_url()).await;
    assert_eq!(status, 200);
    let read = |way: &str| {
        let prefix = format!("impsd_password_checks_total{{way=\"{way}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no {prefix} in:\n{text}"))
    };
    (read("cache"), read("argon2"))
}

/// Logs in with `password` under a fresh ClientID and out again; the
/// status code of a refusal.
async fn login_once(srv: &RealServer, user: &str, password: &str, n: usize) -> Result<(), u16> {
    let c = client(srv, &format!("phone-{n}"));
    match c.login_password(user, password).await {
        Ok(_) => {
            c.logout().await.unwrap();
            Ok(())
        }
        Err(e) => Err(e.status_code().unwrap()),
    }
}

#[tokio::test]
async fn limits_a_second_login_skips_argon2_but_a_wrong_password_still_fails() {
    let srv = RealServer::builder(impsd_bin!()).start();
    srv.add_user("alice", "right");

    login_once(&srv, "alice", "right", 1).await.unwrap();
    assert_eq!(
        password_checks(&srv).await,
        (0, 1),
        "the first login pays Argon2"
    );
    login_once(&srv, "alice", "right", 2).await.unwrap();
    assert_eq!(
        password_checks(&srv).await,
        (1, 1),
        "the second comes from the cache"
    );

    // A wrong password after a cached success: refused, through Argon2.
    assert_eq!(login_once(&srv, "alice", "wrong", 3).await, Err(409));
    assert_eq!(password_checks(&srv).await, (1, 2));
    // The right one is still remembered.
    login_once(&srv, "alice", "right", 4).await.unwrap();
    assert_eq!(password_checks(&srv).await, (2, 2));
}

#[tokio::test]
async fn limits_a_changed_password_ends_the_cached_one_at_once() {
    let srv = RealServer::builder(impsd_bin!()).start();
    srv.add_user("alice", "old");
    login_once(&srv, "alice", "old", 1).await.unwrap();
    login_once(&srv, "alice", "old", 2).await.unwrap();
    assert_eq!(
        password_checks(&srv).await,
        (1, 1),
        "the old password is cached"
    );

    // `--keep-sessions`: the running server is not even told; the stored
    // hash alone makes the remembered password miss.
    let out = srv.cli(&[
        "user",
        "passwd",
        "alice",
        "--password",
        "new",
        "--keep-sessions",
    ]);
    assert!(out.contains("password changed"), "{out}");
    assert_eq!(login_once(&srv, "alice", "old", 3).await, Err(409));
    login_once(&srv, "alice", "new", 4).await.unwrap();

    // And through the admin endpoint, which also forgets the entry.
    login_once(&srv, "alice", "new", 5).await.unwrap();
    let (cached, _) = password_checks(&srv).await;
    assert_eq!(cached, 2, "the new password is cached in its turn");
    srv.cli(&["user", "passwd", "alice", "--password", "newer"]);
    assert_eq!(login_once(&srv, "alice", "new", 6).await, Err(409));
    login_once(&srv, "alice", "newer", 7).await.unwrap();
}

#[tokio::test]
async fn limits_a_user_whose_password_is_removed_cannot_log_in_with_a_cached_one() {
    let srv = RealServer::builder(impsd_bin!()).start();
    srv.add_user("alice", "pw");
    login_once(&srv, "alice", "pw", 1).await.unwrap();
    login_once(&srv, "alice", "pw", 2).await.unwrap();
    assert_eq!(
        password_checks(&srv).await,
        (1, 1),
        "the password is cached"
    );

    // The operator disables password login for alice: no hash is stored
    // any more (a second store handle, as the admin commands use).
    let store = impsd::connect_store(srv.cfg()).await.unwrap();
    assert!(store.set_password("alice", None, None).await.unwrap());
    assert_eq!(login_once(&srv, "alice", "pw", 3).await, Err(409));
    let (cached, _) = password_checks(&srv).await;
    assert_eq!(cached, 1, "nothing more came from the cache");
}

#[tokio::test]
async fn limits_cold_checks_that_wait_too_long_get_503_with_try_again() {
    // One check at a time, and a turn must come within a millisecond.
    let srv = RealServer::builder(impsd_bin!())
        .config(|c| {
            c.login.max_password_checks = 1;
            c.password.check_wait_ms = 1;
            c.login_throttle.enabled = false;
        })
        .start();
    let users: Vec<String> = (0..12).map(|i| format!("user{i:02}")).collect();
    for u in &users {
        srv.add_user(u, "pw");
    }
    let logins = users.iter().enumerate().map(|(i, u)| {
        let c = client(&srv, &format!("phone-{i}"));
        async move { c.login_password(u, "pw").await }
    });
    let results = futures_util::future::join_all(logins).await;
    let mut busy = 0;
    for r in &results {
        if let Err(e) = r {
            assert_eq!(e.status_code(), Some(503), "{e}");
            busy += 1;
        }
    }
    assert!(
        busy > 0,
        "twelve Argon2 checks at once, one at a time, none waited 1 ms?"
    );
    assert!(busy < results.len(), "at least the first got its turn");
}
