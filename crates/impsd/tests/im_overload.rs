//! Issue 19, overload: past what it can deliver the server refuses new
//! sends early, with 503 and (1.3) TryAgainTimeout, instead of taking
//! messages it cannot get out; nothing it acknowledged is lost.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use crate::common;
use crate::im_common;

use std::time::{Duration, Instant};

use common::{TestServer, code_of};
use im_common::*;
use imps_client::{Encoding, Version};

/// Bob is online but does not take his messages: once
/// `im.max_waiting_in_memory` of them wait for him, Alice's next send is
/// refused (503, TryAgainTimeout) and nothing of it is stored. Bob then
/// gets every message that was answered 200, and sends are taken again.
#[tokio::test]
async fn overload_refuses_sends_past_the_delivery_backlog() {
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

    // Send until refused; the backlog is counted once a second.
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
