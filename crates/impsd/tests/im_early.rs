//! `im.ack_window_ms` (issue 19, CPU per message): a one-to-one message
//! for an online, caught-up recipient is pushed before it is stored, and
//! its sender's answer waits for the recipient's MessageDelivered up to
//! the window. Acknowledged in time, the message is never written;
//! otherwise it is stored before the sender hears 200. Either way a 200
//! means delivered or on disk.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use crate::common;
use crate::im_common;

use std::time::Duration;

use common::{TestServer, wait_until};
use im_common::*;
use imps_client::{Encoding, Version};

/// `/metrics`'s count of messages that went `way`.
async fn went(srv: &TestServer, way: &str) -> u64 {
    metric(srv, &format!("impsd_im_messages_total{{way=\"{way}\"}}")).await
}

/// The store seq of the one message waiting for `user`.
async fn only_seq(srv: &TestServer, user: &str) -> u64 {
    let waiting = store(srv).pending_messages(user, 0, 10).await.unwrap();
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    waiting[0].seq
}

/// Messages bob acknowledges within the window take no store entry at
/// all: the seq the store gives the next stored message (seqs only grow,
/// never reused) moves by one across them. Stored and deleted, as before
/// the window, each would have taken a seq.
#[tokio::test]
async fn base_im_message_acknowledged_within_the_window_is_never_written() {
    // A long window: this test is about what is written, not timing.
    let srv = TestServer::start_with(|c| c.im.ack_window_ms = 1_000).await;
    for u in ["alice", "bob", "carol", "dave"] {
        add_user(&srv, u, None, None).await;
    }
    let (v, e) = (Version::V1_3, Encoding::Wbxml);
    let alice = online_ws(&srv, v, e, "alice").await;
    let bob = online_ws(&srv, v, e, "bob").await;
    // carol and dave are offline: their messages are stored.
    send_ok(&alice, text_to("alice", &["carol"], "before")).await;
    let before = only_seq(&srv, "carol").await;
    const N: usize = 5;
    let reader = tokio::spawn(async move {
        let mut ids = Vec::new();
        for _ in 0..N {
            let (tid, m) = expect_ws(&bob, "NewMessage").await;
            ack(&bob, &tid, &msg_id(&m)).await;
            ids.push((msg_id(&m), content(&m)));
        }
        ids
    });
    let mut sent = Vec::new();
    for i in 0..N {
        let text = format!("early {i}");
        sent.push((
            send_ok(&alice, text_to("alice", &["bob"], &text)).await,
            text,
        ));
    }
    assert_eq!(reader.await.unwrap(), sent, "delivered once each, in order");
    send_ok(&alice, text_to("alice", &["dave"], "after")).await;
    let after = only_seq(&srv, "dave").await;
    assert_eq!(
        after,
        before + 1,
        "the {N} messages bob acknowledged in the window were never stored"
    );
    // What an operator sees: the way each message went.
    assert_eq!(went(&srv, "unwritten").await, N as u64);
    assert_eq!(went(&srv, "written_late").await, 0);
    assert_eq!(went(&srv, "stored").await, 2, "carol's and dave's");
}

/// A message the recipient does not acknowledge within the window is on
/// disk when its sender hears 200, is offered (once), and an
/// acknowledgement ends it as any stored message's does.
#[tokio::test]
async fn base_im_message_not_acknowledged_in_the_window_is_stored_before_the_answer() {
    let srv = TestServer::start_with(|c| c.im.ack_window_ms = 50).await;
    for u in ["alice", "bob"] {
        add_user(&srv, u, None, None).await;
    }
    let (v, e) = (Version::V1_3, Encoding::Xml);
    let alice = online(&srv, v, e, "alice", "phone").await;
    // bob polls over HTTP: the push waits in his outbox, unacknowledged,
    // while alice's send waits for the window to close.
    let bob = online(&srv, v, e, "bob", "phone").await;
    let id = send_ok(&alice, text_to("alice", &["bob"], "stored")).await;
    let on_disk = store(&srv).pending_message("bob", &id).await.unwrap();
    assert!(on_disk.is_some(), "answered 200, so it is stored");
    assert_eq!(went(&srv, "written_late").await, 1);
    assert_eq!(went(&srv, "stored").await, 1);
    assert_eq!(went(&srv, "unwritten").await, 0);
    let (tid, m) = expect(&bob, "NewMessage").await;
    assert_eq!(msg_id(&m), id);
    assert_eq!(content(&m), "stored");
    ack(&bob, &tid, &id).await;
    expect_none(&bob, "NewMessage").await;
    // Acknowledged: not offered again, not even to a new session.
    bob.logout().await.unwrap();
    let bob = online(&srv, v, e, "bob", "phone").await;
    expect_none(&bob, "NewMessage").await;
}

/// A message offered and not yet acknowledged does not send the next one
/// the written way: the new one goes out behind it, and acknowledged
/// within the window it is never written. (Before, any message in memory
/// for the recipient made every new one be stored first: under load a
/// recipient with one in flight kept its senders on the costly path.)
#[tokio::test]
async fn base_im_message_behind_one_unacknowledged_is_still_pushed_first() {
    let srv = TestServer::start_with(|c| c.im.ack_window_ms = 1_000).await;
    for u in ["alice", "bob"] {
        add_user(&srv, u, None, None).await;
    }
    let (v, e) = (Version::V1_3, Encoding::Wbxml);
    let alice = online_ws(&srv, v, e, "alice").await;
    // Bob is away: stored.
    send_ok(&alice, text_to("alice", &["bob"], "while away")).await;
    let bob = online_ws(&srv, v, e, "bob").await;
    let (_, first) = expect_ws(&bob, "NewMessage").await;
    assert_eq!(content(&first), "while away", "offered, never acknowledged");

    let b = bob.clone();
    let reader = tokio::spawn(async move {
        let (tid, m) = expect_ws(&b, "NewMessage").await;
        ack(&b, &tid, &msg_id(&m)).await;
        content(&m)
    });
    send_ok(&alice, text_to("alice", &["bob"], "now")).await;
    assert_eq!(reader.await.unwrap(), "now");
    assert_eq!(
        went(&srv, "unwritten").await,
        1,
        "pushed before it was stored"
    );
    assert_eq!(went(&srv, "stored").await, 1, "only the first was written");
    let waiting = store(&srv).pending_messages("bob", 0, 10).await.unwrap();
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert_eq!(waiting[0].id, msg_id(&first));
}

/// A recipient that let a message go past the window has the next ones
/// stored first only while it leaves one waiting: once it has
/// acknowledged what was late, the next message is pushed first again.
/// (Before, one late acknowledgement meant five seconds of storing first,
/// long after a briefly busy client had caught up.)
#[tokio::test]
async fn base_im_recipient_caught_up_after_a_late_ack_is_pushed_first_again() {
    let srv = TestServer::start_with(|c| c.im.ack_window_ms = 200).await;
    for u in ["alice", "bob"] {
        add_user(&srv, u, None, None).await;
    }
    let (v, e) = (Version::V1_3, Encoding::Wbxml);
    let alice = online_ws(&srv, v, e, "alice").await;
    let bob = online_ws(&srv, v, e, "bob").await;

    // Bob holds the first past the window: it is written.
    send_ok(&alice, text_to("alice", &["bob"], "late")).await;
    let (t1, m1) = expect_ws(&bob, "NewMessage").await;
    assert_eq!(went(&srv, "written_late").await, 1);
    // While it waits, the next is stored first (its sender does not wait).
    send_ok(&alice, text_to("alice", &["bob"], "meanwhile")).await;
    assert_eq!(went(&srv, "stored").await, 2);
    let (t2, m2) = expect_ws(&bob, "NewMessage").await;
    assert_eq!(content(&m2), "meanwhile");
    ack(&bob, &t1, &msg_id(&m1)).await;
    ack(&bob, &t2, &msg_id(&m2)).await;
    wait_until("bob's acknowledgements", Duration::from_secs(5), || {
        let s = store(&srv);
        async move { s.pending_count("bob").await.unwrap() == 0 }
    })
    .await;

    // Caught up: pushed first again, and never written.
    let b = bob.clone();
    let reader = tokio::spawn(async move {
        let (tid, m) = expect_ws(&b, "NewMessage").await;
        ack(&b, &tid, &msg_id(&m)).await;
        content(&m)
    });
    send_ok(&alice, text_to("alice", &["bob"], "again")).await;
    assert_eq!(reader.await.unwrap(), "again");
    assert_eq!(went(&srv, "unwritten").await, 1);
    assert_eq!(went(&srv, "stored").await, 2);
}

/// Issue 19: sends a client pipelines on one WebSocket are handled
/// together (`limits.ws_concurrent_sends`), so a recipient who answers
/// only once it has seen the second message acknowledges both within the
/// window, and neither is written; they arrive in the order sent. One at
/// a time (the setting at 1, as before), the second send waited for the
/// first's window to close, so the first was written late.
#[tokio::test]
async fn base_im_pipelined_sends_on_one_websocket_wait_for_their_acknowledgements_together() {
    for concurrent in [16, 1] {
        let srv = TestServer::start_with(|c| {
            c.im.ack_window_ms = 1_000;
            c.limits.ws_concurrent_sends = concurrent;
        })
        .await;
        for u in ["alice", "bob"] {
            add_user(&srv, u, None, None).await;
        }
        let (v, e) = (Version::V1_3, Encoding::Wbxml);
        let alice = online_ws(&srv, v, e, "alice").await;
        let bob = online_ws(&srv, v, e, "bob").await;
        let b = bob.clone();
        let reader = tokio::spawn(async move {
            let (t1, m1) = expect_ws(&b, "NewMessage").await;
            let (t2, m2) = expect_ws(&b, "NewMessage").await;
            ack(&b, &t1, &msg_id(&m1)).await;
            ack(&b, &t2, &msg_id(&m2)).await;
            vec![content(&m1), content(&m2)]
        });
        // Both requests written before either is answered.
        let (one, two) = tokio::join!(
            send_ok(&alice, text_to("alice", &["bob"], "one")),
            send_ok(&alice, text_to("alice", &["bob"], "two"))
        );
        assert_ne!(one, two);
        assert_eq!(reader.await.unwrap(), ["one", "two"], "in the order sent");
        let (unwritten, late) = (
            went(&srv, "unwritten").await,
            went(&srv, "written_late").await,
        );
        if concurrent > 1 {
            assert_eq!((unwritten, late), (2, 0), "both acknowledged in the window");
            assert_eq!(went(&srv, "stored").await, 0);
        } else {
            assert_eq!(late, 1, "one at a time, the first waited out its window");
        }
    }
}
