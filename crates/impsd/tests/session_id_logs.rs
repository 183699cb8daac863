//! Issue 14 (9): a SessionID is a bearer token, so it never appears whole
//! in the log; a short tag (a hash prefix) lets an operator follow one
//! session through the log instead.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use crate::common;

use std::time::Duration;

use common::{Backoff, RealServer, impsd_bin};
use imps_core::ids::log_tag;

#[tokio::test]
async fn limits_session_ids_are_logged_only_as_tags() {
    let srv = RealServer::builder(impsd_bin!())
        // Debug for the server's own crates: whatever an operator may
        // turn on while a problem is happening.
        .config(|c| c.log = "info,imps_core=debug,impsd=debug".into())
        .start();
    srv.add_user("alice", "pw");
    srv.add_user("bob", "pw");

    let bob = srv.login("bob").password("pw").ws().await;
    let alice = srv.login("alice").password("pw").http().await;
    let alice_sid = alice.info.session_id.clone();
    let bob_sid = bob.info.session_id.clone();
    alice.send_text("bob", "hello").await;
    assert_eq!(bob.receive_text().await, "hello");
    alice.logout().await;
    // The ended session used again: refused, and logged as refused.
    alice.set_session_id(Some(alice_sid.clone()));
    assert!(alice.keep_alive(None).await.is_err());
    bob.logout().await;

    // Every line is written when logged; wait for both logouts.
    let log_path = srv.log_path();
    let read = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let mut backoff = Backoff::new(Duration::from_secs(10));
    while read().matches("logged out").count() < 2 {
        assert!(backoff.wait().await, "no logout lines:\n{}", read());
    }
    let log = read();
    for sid in [&alice_sid, &bob_sid] {
        assert!(sid.len() >= 16, "{sid}");
        assert!(
            !log.contains(sid.as_str()),
            "SessionID {sid} logged whole:\n{log}"
        );
        // Nor its first half (a prefix would let a guesser narrow it).
        assert!(!log.contains(&sid[..sid.len() / 2]), "{sid}:\n{log}");
    }
    for sid in [&alice_sid, &bob_sid] {
        let tag = log_tag(sid).to_string();
        assert!(
            log.lines()
                .any(|l| l.contains("logged out") && l.contains(&tag)),
            "no logout line with the session's tag {tag}:\n{log}"
        );
    }
}

/// Issue 19: a line written while a transaction is handled names it (the
/// primitive, its TransactionID, the session's tag and the user), at the
/// default level, without a tracing span per transaction; a line written
/// outside one does not.
#[tokio::test]
async fn limits_a_line_names_the_transaction_it_was_written_under() {
    let srv = RealServer::builder(impsd_bin!())
        .config(|c| c.log = "info".into())
        .start();
    srv.add_user("alice", "pw");
    let alice = srv.login("alice").password("pw").http().await;
    let tag = log_tag(&alice.info.session_id).to_string();
    alice.logout().await;

    let log_path = srv.log_path();
    let read = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let mut backoff = Backoff::new(Duration::from_secs(10));
    while !read().contains("logged out") {
        assert!(backoff.wait().await, "no logout line:\n{}", read());
    }
    let log = read();
    let line = log
        .lines()
        .find(|l| l.contains("logged out"))
        .unwrap_or_default();
    let (head, tail) = line
        .split_once("tx{primitive=Logout-Request tid=")
        .unwrap_or_else(|| panic!("the logout line names no transaction: {line}"));
    assert!(head.contains("INFO"), "time and level come first: {line}");
    let (tid, rest) = tail.split_once(' ').unwrap_or_default();
    assert!(!tid.is_empty(), "{line}");
    assert!(
        rest.starts_with(&format!("session={tag} user=alice}}: logged out")),
        "{line}"
    );
    let login = log
        .lines()
        .find(|l| l.contains(" logged in"))
        .unwrap_or_default();
    assert!(
        login.contains("tx{primitive=Login-Request tid="),
        "the login's line names its transaction: {login}"
    );
    // Lines from outside any transaction (the start) name none.
    let outside = log.lines().filter(|l| !l.contains("tx{")).count();
    assert!(outside > 0, "every line named a transaction:\n{log}");
}
