//! Issue 19, overload: past what it can deliver the server refuses new
//! sends early, with 503 and (1.3) TryAgainTimeout, instead of taking
//! messages it cannot get out; nothing it acknowledged is lost.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use crate::common;
use crate::im_common;

use std::time::{Duration, Instant};

use common::{TestServer, code_of, wait_until};
use im_common::*;
use imps_client::{Encoding, HttpClient, Version};

/// A server that refuses sends past 5 messages waiting in memory
/// (TryAgainTimeout 3 s, no per-sender rate), with alice and bob online
/// over HTTP in CSP 1.3 XML.
async fn alice_and_bob() -> (TestServer, HttpClient, HttpClient) {
    let srv = TestServer::start_with(|c| {
        c.im.max_waiting_in_memory = 5;
        c.im.overload_retry_secs = 3;
        c.im.send_rate_per_sec = 0;
    })
    .await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    let (v, e) = (Version::V1_3, Encoding::Xml);
    let alice = online(&srv, v, e, "alice", "phone").await;
    let bob = online(&srv, v, e, "bob", "phone").await;
    (srv, alice, bob)
}

/// Bob is online but does not take his messages: once
/// `im.max_waiting_in_memory` of them wait for him, Alice's next send is
/// refused (503, TryAgainTimeout) and nothing of it is stored. Bob then
/// gets every message that was answered 200, and sends are taken again.
#[tokio::test]
async fn overload_refuses_sends_past_the_delivery_backlog() {
    let (srv, alice, bob) = alice_and_bob().await;

    // Send until refused.
    let mut accepted: Vec<String> = Vec::new();
    let end = Instant::now() + Duration::from_secs(10);
    let refused = loop {
        assert!(
            Instant::now() < end,
            "no refusal after {} sends",
            accepted.len()
        );
        let text = format!("m{}", accepted.len());
        let r = alice
            .request(text_to("alice", &["bob"], &text))
            .await
            .unwrap();
        match code_of(&r) {
            Some(200) => accepted.push(text),
            Some(503) => break r,
            other => panic!("unexpected {other:?}: {r:?}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(accepted.len() >= 5, "{accepted:?}");
    assert_eq!(
        refused
            .path(&["Result", "TryAgainTimeout"])
            .map(|t| t.text.as_str()),
        Some("3"),
        "{refused:?}"
    );
    assert_eq!(
        srv.store().pending_count("bob").await.unwrap(),
        accepted.len() as u64,
        "nothing of the refused message is stored"
    );

    // Every acknowledged message reaches Bob, in order.
    let mut got = Vec::new();
    for _ in 0..accepted.len() {
        got.push(content(&receive(&bob).await));
    }
    assert_eq!(got, accepted);

    // With the backlog gone, sends are taken again.
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(Instant::now() < end, "still refused after the backlog went");
        let r = alice
            .request(text_to("alice", &["bob"], "again"))
            .await
            .unwrap();
        if code_of(&r) == Some(200) {
            break;
        }
        assert_eq!(code_of(&r), Some(503), "{r:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(content(&receive(&bob).await), "again");
}

/// The backlog gauge follows each message as it comes and goes, not
/// only the once-a-second count: sends back to back, faster than that
/// count, are refused from the first one past `im.max_waiting_in_memory`.
/// (Counted once a second only, a burst was taken whole before the count
/// saw it: at 20,000 offered per second that was thousands of messages
/// past the bound.)
#[tokio::test]
async fn overload_gauge_counts_a_burst_at_once() {
    let (srv, alice, bob) = alice_and_bob().await;

    let mut codes = Vec::new();
    for i in 0..8 {
        let r = alice
            .request(text_to("alice", &["bob"], &format!("b{i}")))
            .await
            .unwrap();
        codes.push(code_of(&r));
    }
    assert_eq!(
        codes,
        [200, 200, 200, 200, 200, 503, 503, 503].map(Some),
        "the sixth send waits for a count that has not run yet"
    );
    assert_eq!(metric(&srv, "impsd_im_overload_refusals_total").await, 3);
    assert_eq!(metric(&srv, "impsd_im_waiting_in_memory").await, 5);
    // Bob takes (and acknowledges) one message: a place is free again.
    assert_eq!(content(&receive(&bob).await), "b0");
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        let r = alice
            .request(text_to("alice", &["bob"], "after"))
            .await
            .unwrap();
        if code_of(&r) == Some(200) {
            break;
        }
        assert!(Instant::now() < end, "still refused after an ack: {r:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Over WebSocket a client's requests are taken in order, one at a time;
/// a send that comes while the server refuses sends is answered 503 at
/// once, without waiting for the request in hand, and without being
/// handled. Here that request is Alice's first send, pushed to Carol
/// before it is stored and waiting (holding the one place of
/// `im.max_sends_in_flight`) for an acknowledgement Carol never sends.
/// Held behind it, the second send would be answered only when the first
/// is, seconds later, and then taken: its client would have gone on
/// sending meanwhile, and the acknowledgements on the same socket would
/// have waited behind it.
#[tokio::test]
async fn overload_refusal_on_a_websocket_is_not_queued_behind_the_request_in_hand() {
    refusal_not_queued_behind_the_request_in_hand(Encoding::Xml).await;
}

/// The same in WBXML, where the refused send's envelope alone is read
/// (`imps_wire::wbxml::envelope`), not the whole request: the answer is
/// the same, under its TransactionID.
#[tokio::test]
async fn overload_refusal_on_a_websocket_is_not_queued_behind_the_request_in_hand_in_wbxml() {
    refusal_not_queued_behind_the_request_in_hand(Encoding::Wbxml).await;
}

async fn refusal_not_queued_behind_the_request_in_hand(e: Encoding) {
    let srv = TestServer::start_with(|c| {
        c.im.max_sends_in_flight = 1;
        // The most there is (`im.ack_window_ms`): held behind the first,
        // the second's answer would take about this long.
        c.im.ack_window_ms = 1_000;
        c.im.overload_retry_secs = 3;
        c.im.send_rate_per_sec = 0;
    })
    .await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "carol", None, None).await;
    let v = Version::V1_3;
    let alice = online_ws(&srv, v, e, "alice").await;
    let carol = online_ws(&srv, v, e, "carol").await;

    let a = alice.clone();
    let first = tokio::spawn(async move {
        let r = a
            .request(text_to("alice", &["carol"], "first"))
            .await
            .unwrap();
        code_of(&r)
    });
    // Carol has it, unacknowledged: the first send is in hand.
    let (_, m) = expect_ws(&carol, "NewMessage").await;
    assert_eq!(content(&m), "first");

    let asked = Instant::now();
    let r = alice
        .request(text_to("alice", &["carol"], "second"))
        .await
        .unwrap();
    let took = asked.elapsed();
    assert_eq!(code_of(&r), Some(503), "{r:?}");
    assert_eq!(
        r.path(&["Result", "TryAgainTimeout"])
            .map(|t| t.text.as_str()),
        Some("3"),
        "{r:?}"
    );
    assert!(
        took < Duration::from_millis(800),
        "the refusal waited {took:?} for the request in hand"
    );
    assert!(!first.is_finished(), "the first send is still in hand");
    assert_eq!(
        metric(&srv, "impsd_im_overload_refusals_total").await,
        1,
        "one refusal, counted once"
    );

    // The first send ends as always: stored once its window closed.
    assert_eq!(first.await.unwrap(), Some(200));
    assert_eq!(
        srv.store().pending_count("carol").await.unwrap(),
        1,
        "the refused message was not stored"
    );
}

/// A WebSocket that holds as many requests read ahead as it may answers
/// the next ones 503 at once, unhandled, and keeps reading: an answer to
/// a push that comes behind them is still taken at once. Here Alice's
/// first send waits (in hand) for Carol's acknowledgement, 64 more wait
/// behind it, and 5 past those are refused. Bob's message to Alice, pushed
/// meanwhile, is acknowledged by her and delivered while her first send
/// is still in hand, never written. (A socket that stopped reading when
/// full left that acknowledgement unread behind the held sends until
/// they were all handled: Bob's send waited for them and out its window.)
#[tokio::test]
async fn overload_a_full_websocket_refuses_more_requests_and_still_takes_answers() {
    full_websocket_refuses_and_takes_answers(Encoding::Xml).await;
}

/// The same in WBXML: the sends past what the socket may hold are refused
/// from their envelopes alone.
#[tokio::test]
async fn overload_a_full_websocket_refuses_more_requests_and_still_takes_answers_in_wbxml() {
    full_websocket_refuses_and_takes_answers(Encoding::Wbxml).await;
}

async fn full_websocket_refuses_and_takes_answers(e: Encoding) {
    let srv = TestServer::start_with(|c| {
        // The most there is: the first send is in hand this long.
        c.im.ack_window_ms = 1_000;
        c.im.overload_retry_secs = 3;
        c.im.send_rate_per_sec = 0;
        // One request at a time: the sends behind the first are held, not
        // started beside it (tests/im_early.rs has them started).
        c.limits.ws_concurrent_sends = 1;
    })
    .await;
    for u in ["alice", "bob", "carol", "dave"] {
        add_user(&srv, u, None, None).await;
    }
    let v = Version::V1_3;
    let alice = online_ws(&srv, v, e, "alice").await;
    let bob = online_ws(&srv, v, e, "bob").await;
    let carol = online_ws(&srv, v, e, "carol").await;

    let a = alice.clone();
    let first = tokio::spawn(async move {
        code_of(
            &a.request(text_to("alice", &["carol"], "first"))
                .await
                .unwrap(),
        )
    });
    let (_, m) = expect_ws(&carol, "NewMessage").await;
    assert_eq!(content(&m), "first", "in hand until Carol answers");

    // Dave is offline: each of these is quick once its turn comes.
    const HELD: usize = 64;
    const MORE: usize = 5;
    let mut rest = Vec::new();
    for i in 0..HELD + MORE {
        let a = alice.clone();
        rest.push(tokio::spawn(async move {
            let r = a
                .request(text_to("alice", &["dave"], &format!("m{i}")))
                .await
                .unwrap();
            let wait = r
                .path(&["Result", "TryAgainTimeout"])
                .map(|t| t.text.clone());
            (code_of(&r), wait)
        }));
    }
    // The refusals come at once, while the first send is still in hand.
    wait_until("the refusals", Duration::from_secs(1), || {
        let done = rest.iter().filter(|t| t.is_finished()).count();
        async move { done == MORE }
    })
    .await;
    assert!(!first.is_finished(), "the first send is still in hand");

    let b = bob.clone();
    let bobs = tokio::spawn(async move {
        code_of(&b.request(text_to("bob", &["alice"], "hi")).await.unwrap())
    });
    let (tid, m) = expect_ws(&alice, "NewMessage").await;
    ack(&alice, &tid, &msg_id(&m)).await;
    assert_eq!(bobs.await.unwrap(), Some(200));
    assert!(
        !first.is_finished(),
        "Bob's send was answered only after Alice's requests in hand"
    );
    assert_eq!(
        metric(&srv, "impsd_im_messages_total{way=\"unwritten\"}").await,
        1,
        "Alice's acknowledgement came within the window"
    );

    assert_eq!(first.await.unwrap(), Some(200));
    let mut codes = Vec::new();
    for t in rest {
        codes.push(t.await.unwrap());
    }
    let refused: Vec<_> = codes.iter().filter(|c| c.0 == Some(503)).collect();
    assert_eq!(refused.len(), MORE, "{codes:?}");
    assert!(
        refused.iter().all(|c| c.1.as_deref() == Some("3")),
        "{codes:?}"
    );
    assert_eq!(
        codes.iter().filter(|c| c.0 == Some(200)).count(),
        HELD,
        "{codes:?}"
    );
    assert_eq!(
        srv.store().pending_count("dave").await.unwrap(),
        HELD as u64
    );
    assert_eq!(
        metric(&srv, "impsd_ws_busy_refusals_total").await,
        MORE as u64
    );
}

/// The bound on sends in flight follows the runtime (`im.overload_lag_ms`):
/// while a task that yields waits past the setting to run again, the bound
/// falls a quarter at a time towards an eighth of `im.max_sends_in_flight`,
/// and a send past it is refused (503, TryAgainTimeout) although far fewer
/// than the setting are in flight. Once the runtime keeps up again and
/// the bound is in use, it rises. Here a task on the server's runtime
/// blocks it 50 ms at a time (a CPU that cannot keep up) while Alice keeps
/// 8 sends going; the setting is 32, so without the lag the 8 are never
/// refused.
#[tokio::test]
async fn overload_bound_on_sends_in_flight_falls_while_the_runtime_lags() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    let srv = TestServer::start_with(|c| {
        c.im.max_sends_in_flight = 32;
        c.im.overload_lag_ms = 20;
        c.im.overload_retry_secs = 3;
        c.im.send_rate_per_sec = 0;
        c.im.offline_quota_messages = 0;
    })
    .await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "carol", None, None).await;
    let (v, e) = (Version::V1_3, Encoding::Wbxml);
    let alice = online_ws(&srv, v, e, "alice").await;
    let _carol = online_ws(&srv, v, e, "carol").await;
    assert_eq!(metric(&srv, "impsd_im_send_limit").await, 32);

    let stop = Arc::new(AtomicBool::new(false));
    let refused = Arc::new(AtomicU64::new(0));
    let accepted = Arc::new(AtomicU64::new(0));
    let mut lanes = Vec::new();
    for lane in 0..8 {
        let (a, stop) = (alice.clone(), Arc::clone(&stop));
        let (refused, accepted) = (Arc::clone(&refused), Arc::clone(&accepted));
        lanes.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let text = format!("lane {lane} message {n}");
                let r = a
                    .request(text_to("alice", &["carol"], &text))
                    .await
                    .unwrap();
                match code_of(&r) {
                    Some(200) => accepted.fetch_add(1, Ordering::Relaxed),
                    Some(503) => {
                        let again = r
                            .path(&["Result", "TryAgainTimeout"])
                            .map(|t| t.text.clone());
                        assert_eq!(again.as_deref(), Some("3"), "{r:?}");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        refused.fetch_add(1, Ordering::Relaxed)
                    }
                    other => panic!("unexpected {other:?}: {r:?}"),
                };
            }
        }));
    }
    // Sends go through, none refused, while the runtime keeps up.
    wait_until("sends are taken", Duration::from_secs(20), || {
        let n = accepted.load(Ordering::Relaxed);
        async move { n >= 16 }
    })
    .await;
    assert_eq!(
        refused.load(Ordering::Relaxed),
        0,
        "refused below the setting"
    );

    // The runtime falls behind.
    let hog_stop = Arc::new(AtomicBool::new(false));
    let hog = {
        let hog_stop = Arc::clone(&hog_stop);
        tokio::spawn(async move {
            while !hog_stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
                tokio::task::yield_now().await;
            }
        })
    };
    wait_until(
        "the bound falls to its floor",
        Duration::from_secs(30),
        || async { metric(&srv, "impsd_im_send_limit").await == 4 },
    )
    .await;
    let before = refused.load(Ordering::Relaxed);
    wait_until(
        "sends past the lowered bound are refused",
        Duration::from_secs(30),
        || {
            let n = refused.load(Ordering::Relaxed);
            async move { n > before }
        },
    )
    .await;

    // It keeps up again: the bound, in use, rises.
    hog_stop.store(true, Ordering::Relaxed);
    hog.await.unwrap();
    wait_until("the bound rises again", Duration::from_secs(30), || async {
        metric(&srv, "impsd_im_send_limit").await > 4
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for l in lanes {
        l.await.unwrap();
    }
}
