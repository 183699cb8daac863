//! Issue 14, item 5: an offline quota per recipient (messages and bytes)
//! and a rate limit per sender (a token bucket), each refusal with its
//! status code and nothing of a refused message stored.

#![allow(clippy::unwrap_used)] // test code: a panic is a failed test
use crate::common;
use crate::im_common;

use common::{TestServer, code_of};
use im_common::*;
use imps_client::{Encoding, Version};
use imps_core::FakeClock;
use std::time::Duration;

/// The recipient's queue holds at most `offline_quota_messages`: the next
/// message is refused with 507 and not stored; with several recipients
/// the others still get it (201, a DetailedResult for the full one).
/// Once the recipient takes a message, there is room again.
#[tokio::test]
async fn limits_offline_quota_refuses_with_507_and_stores_nothing() {
    let srv = TestServer::start_with(|c| {
        c.im.offline_quota_messages = 3;
        c.im.offline_quota_bytes = 0;
    })
    .await;
    for u in ["alice", "bob", "carol"] {
        add_user(&srv, u, None, None).await;
    }
    let (v, e) = (Version::V1_3, Encoding::Wbxml);
    let alice = online(&srv, v, e, "alice", "phone").await;
    for i in 0..3 {
        send_ok(&alice, text_to("alice", &["bob"], &format!("m{i}"))).await;
    }
    let full = alice
        .request(text_to("alice", &["bob"], "one too many"))
        .await
        .unwrap();
    assert_eq!(code_of(&full), Some(507), "{full:?}");
    let part = alice
        .request(text_to("alice", &["bob", "carol"], "for both"))
        .await
        .unwrap();
    assert_eq!(code_of(&part), Some(201), "{part:?}");
    let detail = part
        .path(&["Result", "DetailedResult"])
        .expect("a DetailedResult for bob");
    assert_eq!(detail.child_text("Code"), Some("507"));
    assert_eq!(detail.child_text("UserID"), Some(uid("bob").as_str()));
    assert_eq!(srv.store().pending_count("bob").await.unwrap(), 3);
    assert_eq!(srv.store().pending_count("carol").await.unwrap(), 1);
    // Bob comes online and takes one: room for exactly one more.
    let bob = online(&srv, v, e, "bob", "phone").await;
    receive(&bob).await;
    common::wait_until(
        "the delivered entry leaves the store",
        Duration::from_secs(5),
        || async { srv.store().pending_count("bob").await.unwrap() == 2 },
    )
    .await;
    bob.logout().await.unwrap();
    send_ok(&alice, text_to("alice", &["bob"], "fits again")).await;
    let full = alice
        .request(text_to("alice", &["bob"], "full again"))
        .await
        .unwrap();
    assert_eq!(code_of(&full), Some(507), "{full:?}");
    alice.logout().await.unwrap();
}

/// The byte quota counts the content waiting for a recipient.
#[tokio::test]
async fn limits_offline_quota_in_bytes() {
    let srv = TestServer::start_with(|c| {
        c.im.offline_quota_messages = 0;
        c.im.offline_quota_bytes = 100;
    })
    .await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    let alice = online(&srv, Version::V1_2, Encoding::Xml, "alice", "phone").await;
    let forty = "x".repeat(40);
    send_ok(&alice, text_to("alice", &["bob"], &forty)).await;
    send_ok(&alice, text_to("alice", &["bob"], &forty)).await;
    // 80 held + 40 > 100.
    let full = alice
        .request(text_to("alice", &["bob"], &forty))
        .await
        .unwrap();
    assert_eq!(code_of(&full), Some(507), "{full:?}");
    // A smaller one still fits: 80 + 20 = 100.
    send_ok(&alice, text_to("alice", &["bob"], &"y".repeat(20))).await;
    assert_eq!(srv.store().pending_count("bob").await.unwrap(), 3);
    alice.logout().await.unwrap();
}

/// A sender may send `send_burst` messages at once, then
/// `send_rate_per_sec` a second: past it 503, in 1.3 with
/// TryAgainTimeout, and the refused message is not stored. Time refills
/// the bucket.
#[tokio::test]
async fn limits_sender_rate_is_a_token_bucket() {
    let clock = FakeClock::new(1_000_000);
    let srv = TestServer::builder()
        .config(|c| {
            c.im.send_rate_per_sec = 1;
            c.im.send_burst = 3;
        })
        .fake_clock(clock.clone())
        .start()
        .await;
    for u in ["alice", "bob", "carol"] {
        add_user(&srv, u, None, None).await;
    }
    for (v, e) in [
        (Version::V1_3, Encoding::Wbxml),
        (Version::V1_2, Encoding::Xml),
    ] {
        let alice = online(&srv, v, e, "alice", "phone").await;
        let carol = online(&srv, v, e, "carol", "phone").await;
        let before = srv.store().pending_count("bob").await.unwrap();
        for i in 0..3 {
            send_ok(&alice, text_to("alice", &["bob"], &format!("burst {i}"))).await;
        }
        let refused = alice
            .request(text_to("alice", &["bob"], "too fast"))
            .await
            .unwrap();
        assert_eq!(code_of(&refused), Some(503), "{v} {e:?}: {refused:?}");
        let retry = refused.path(&["Result", "TryAgainTimeout"]);
        if v >= Version::V1_3 {
            assert_eq!(retry.map(|t| t.text.as_str()), Some("1"), "{refused:?}");
        } else {
            assert!(retry.is_none(), "TryAgainTimeout is 1.3 only: {refused:?}");
        }
        assert_eq!(
            srv.store().pending_count("bob").await.unwrap(),
            before + 3,
            "nothing of the refused message is stored"
        );
        // Another sender is not held back by alice's rate.
        send_ok(&carol, text_to("carol", &["bob"], "mine")).await;
        // One second gives one message.
        clock.advance_ms(1_000);
        send_ok(&alice, text_to("alice", &["bob"], "one more")).await;
        let again = alice
            .request(text_to("alice", &["bob"], "still too fast"))
            .await
            .unwrap();
        assert_eq!(code_of(&again), Some(503));
        // A quiet spell refills the burst for the next round.
        clock.advance_ms(10_000);
        alice.logout().await.unwrap();
        carol.logout().await.unwrap();
    }
}
