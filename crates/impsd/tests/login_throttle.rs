//! Login throttling (issue 14, item 4): failed logins are counted per user
//! ID and per source address, a locked login is refused with 503 (and, in
//! 1.3, TryAgainTimeout) before any password is checked, a success clears
//! the user's count, and an unknown user costs and looks like a wrong
//! password. The clock is a fake one: lockouts end when the test says.

use crate::common;

use std::net::SocketAddr;

use common::*;
use imps_client::{Element, Encoding, HttpClient, Message, Transaction, Version};
use imps_core::{FakeClock, RequestCtx};

/// A Login-Request with a password, as a phone writes it.
fn login_body(user: &str, client: &str, password: &str) -> Element {
    Element::new("Login-Request")
        .with_text("UserID", user)
        .with(Element::new("ClientID").with_text("URL", client))
        .with_text("Password", password)
        .with_text("TimeToLive", "600")
        .with_text("SessionCookie", "cookie")
}

/// One password login over HTTP (from 127.0.0.1); the Login-Response.
async fn login(c: &HttpClient, user: &str, password: &str) -> Element {
    let client = c.config().client_id.clone();
    c.request(login_body(user, &client, password))
        .await
        .expect("an answer")
}

/// One password login handed to the core as if it came from `peer`; the
/// Login-Response.
async fn login_from(srv: &TestServer, peer: &str, user: &str, password: &str) -> Element {
    let ctx = RequestCtx {
        peer: Some(peer.parse::<SocketAddr>().expect("an address")),
        msisdn: None,
        send_order: None,
    };
    let msg = Message::single(
        Version::V1_3,
        None,
        Transaction::request("1", login_body(user, "elsewhere", password)),
    );
    let mut answer = srv.service().handle(&ctx, msg).await.expect("an answer");
    answer.transactions.remove(0).body
}

fn try_again(resp: &Element) -> Option<u64> {
    resp.path(&["Result", "TryAgainTimeout"])
        .and_then(|e| e.text.trim().parse().ok())
}

async fn server(clock: &FakeClock, f: impl FnOnce(&mut impsd::Config)) -> TestServer {
    let srv = TestServer::builder()
        .fake_clock(clock.clone())
        .config(|c| {
            c.login_throttle.user_free_failures = 5;
            c.login_throttle.address_free_failures = 1_000;
            c.login_throttle.base_lockout_ms = 2_000;
            c.login_throttle.max_lockout_secs = 60;
        })
        .config(f)
        .start()
        .await;
    srv.add_user("alice", "right").await;
    srv
}

#[tokio::test]
async fn limits_brute_force_loop_is_refused_with_503_then_lets_the_user_in_later() {
    let clock = FakeClock::new(1_000_000_000);
    let srv = server(&clock, |_| {}).await;
    let c = srv.client(Version::V1_3, Encoding::Xml, "guesser");
    let mut codes = Vec::new();
    for i in 0..20 {
        let r = login(&c, "alice", &format!("guess{i}")).await;
        codes.push(code_of(&r));
        if code_of(&r) == Some(503) {
            // 1.3: when to try again, within the lockout.
            let t = try_again(&r).expect("TryAgainTimeout");
            assert!((1..=2).contains(&t), "{t}");
            assert!(r.child("SessionID").is_none());
        }
    }
    // Five wrong guesses are answered 409; every later one is refused
    // without being checked.
    assert_eq!(codes[..5], [Some(409); 5], "{codes:?}");
    assert!(codes[5..].iter().all(|c| *c == Some(503)), "{codes:?}");
    // The lockout is per user: the right password is refused too, and so
    // is any address's.
    let r = login(&c, "alice", "right").await;
    assert_eq!(code_of(&r), Some(503));
    let r = login_from(&srv, "10.9.8.7:4000", "alice", "right").await;
    assert_eq!(code_of(&r), Some(503));
    // 1.2 has no TryAgainTimeout: the code alone.
    let old = srv.client(Version::V1_2, Encoding::Xml, "old");
    let r = login(&old, "alice", "right").await;
    assert_eq!(code_of(&r), Some(503));
    assert_eq!(try_again(&r), None);
    // Once the lockout is over, the right password gets in.
    clock.advance_ms(2_001);
    let r = login(&c, "alice", "right").await;
    assert_eq!(code_of(&r), Some(200), "{r:?}");
}

#[tokio::test]
async fn limits_lockouts_double_with_each_further_failure() {
    let clock = FakeClock::new(1_000_000_000);
    let srv = server(&clock, |_| {}).await;
    let c = srv.client(Version::V1_3, Encoding::Wbxml, "guesser");
    for i in 0..5 {
        assert_eq!(
            code_of(&login(&c, "alice", &format!("g{i}")).await),
            Some(409)
        );
    }
    let mut waits = Vec::new();
    for i in 0..4 {
        let r = login(&c, "alice", "again").await;
        let t = try_again(&r).expect("locked");
        waits.push(t);
        clock.advance_ms(t * 1000);
        assert_eq!(
            code_of(&login(&c, "alice", &format!("h{i}")).await),
            Some(409)
        );
    }
    assert_eq!(waits, [2, 4, 8, 16]);
}

#[tokio::test]
async fn limits_a_successful_login_resets_the_count() {
    let clock = FakeClock::new(1_000_000_000);
    let srv = server(&clock, |_| {}).await;
    let c = srv.client(Version::V1_3, Encoding::Xml, "phone");
    for round in 0..3 {
        for i in 0..4 {
            let r = login(&c, "alice", &format!("typo{i}")).await;
            assert_eq!(code_of(&r), Some(409), "round {round}");
        }
        let r = login(&c, "alice", "right").await;
        assert_eq!(code_of(&r), Some(200), "round {round}: {r:?}");
        c.logout().await.expect("logout");
    }
}

#[tokio::test]
async fn limits_an_address_is_locked_out_across_user_ids() {
    let clock = FakeClock::new(1_000_000_000);
    let srv = server(&clock, |c| {
        c.login_throttle.user_free_failures = 1_000;
        c.login_throttle.address_free_failures = 4;
    })
    .await;
    let c = srv.client(Version::V1_3, Encoding::Xml, "sprayer");
    // Password spraying: one guess each at many IDs, real or not.
    for user in ["alice", "bob", "carol", "dave"] {
        let r = login(&c, user, "Summer2026").await;
        assert!(matches!(code_of(&r), Some(409 | 531)), "{r:?}");
    }
    // The address (127.0.0.1, as the HTTP layer saw it) is locked now:
    // even alice's right password is refused from it...
    let r = login(&c, "alice", "right").await;
    assert_eq!(code_of(&r), Some(503));
    assert!(try_again(&r).is_some());
    // ...but not from another address.
    let r = login_from(&srv, "192.0.2.10:5555", "alice", "right").await;
    assert_eq!(code_of(&r), Some(200), "{r:?}");
}

#[tokio::test]
async fn limits_unknown_user_costs_and_looks_like_a_wrong_password() {
    let clock = FakeClock::new(1_000_000_000);
    let srv = server(&clock, |_| {}).await;
    let c = srv.client(Version::V1_3, Encoding::Xml, "p");
    let before = srv.service().dummy_password_checks();
    let wrong = login(&c, "alice", "nope").await;
    assert_eq!(srv.service().dummy_password_checks(), before);
    let unknown = login(&c, "nobody", "nope").await;
    // The unknown ID's password went through argon2 too, against the
    // dummy hash: the same work as a wrong password.
    assert_eq!(srv.service().dummy_password_checks(), before + 1);
    assert_eq!(code_of(&wrong), Some(409));
    assert_eq!(code_of(&unknown), Some(531));
    // The same shape: a Login-Response with a Result and nothing else.
    let names =
        |e: &Element| -> Vec<String> { e.children.iter().map(|c| c.name.to_string()).collect() };
    assert_eq!(unknown.name, wrong.name);
    assert_eq!(names(&unknown), names(&wrong));
    // Unknown IDs are locked out as real ones are, so a lockout says
    // nothing about which exist.
    for i in 0..4 {
        login(&c, "nobody", &format!("n{i}")).await;
    }
    let r = login(&c, "nobody", "n5").await;
    assert_eq!(code_of(&r), Some(503));
}

#[tokio::test]
async fn limits_hidden_unknown_users_get_exactly_the_wrong_password_answer() {
    let clock = FakeClock::new(1_000_000_000);
    let srv = server(&clock, |c| c.login.hide_unknown_users = true).await;
    let c = srv.client(Version::V1_3, Encoding::Xml, "p");
    let wrong = login(&c, "alice", "nope").await;
    let unknown = login(&c, "nobody", "nope").await;
    assert_eq!(code_of(&unknown), Some(409));
    assert_eq!(unknown, wrong, "byte for byte the same answer");
    // Digest too: an unknown ID is challenged like a real one, and its
    // answer fails as a wrong password does.
    let d = srv.client(Version::V1_2, Encoding::Xml, "d");
    let err = d
        .login_digest("nobody", "nope", &["SHA"])
        .await
        .expect_err("refused");
    assert_eq!(err.status_code(), Some(409));
    let err = d
        .login_digest("alice", "nope", &["SHA"])
        .await
        .expect_err("refused");
    assert_eq!(err.status_code(), Some(409));
}

#[tokio::test]
async fn limits_throttle_table_is_bounded() {
    let clock = FakeClock::new(1_000_000_000);
    let srv = server(&clock, |c| {
        c.login_throttle.max_tracked = 8;
        c.login_throttle.address_free_failures = 1_000;
    })
    .await;
    let c = srv.client(Version::V1_3, Encoding::Xml, "sprayer");
    // First legs of digest logins for made-up IDs: each is a failure
    // (unknown user) without a password check, so the spray is quick.
    for i in 0..50 {
        let r = c
            .request(
                Element::new("Login-Request")
                    .with_text("UserID", format!("made-up-{i}"))
                    .with(Element::new("ClientID").with_text("URL", "sprayer"))
                    .with_text("DigestSchema", "SHA")
                    .with_text("TimeToLive", "600")
                    .with_text("SessionCookie", "c"),
            )
            .await
            .expect("an answer");
        assert_eq!(code_of(&r), Some(531));
        assert!(srv.service().login_throttle_tracked() <= 8);
    }
    assert_eq!(srv.service().login_throttle_tracked(), 8);
}
