//! One presence change reaching 1,000 subscribers over the real protocol
//! (BASE-PRES fan-out): 1,000 clients log in over HTTP, subscribe, and
//! each finds the notification at its next poll.

use crate::common;
use crate::presence_common;

use std::time::Instant;

use common::{TestServer, code_of};
use futures_util::StreamExt;
use imps_client::{Element, Encoding, HttpClient, Version};
use presence_common::*;

const WATCHERS: usize = 1_000;
/// Logins in flight at once: argon2 verification is CPU-bound.
const CONCURRENCY: usize = 32;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn base_pres_fan_out_to_1000_subscribers() {
    let srv = TestServer::start_with(|c| {
        c.session.max_outbox = 64;
        // Every watcher keeps a connection, all from 127.0.0.1.
        c.limits.max_connections_per_address = 0;
    })
    .await;
    let mut ids: Vec<String> = (0..WATCHERS).map(|i| format!("w{i:04}")).collect();
    ids.push("alice".into());
    seed_users(&srv, &ids).await;
    let alice = online(&srv, Version::V1_2, Encoding::Xml, "alice", "phone").await;
    let everyone = Element::new("CreateAttributeList-Request")
        .with(names(&["OnlineStatus", "StatusText"]))
        .with_text("DefaultList", "T");
    assert_eq!(code_of(&alice.request(everyone).await.unwrap()), Some(200));

    let started = Instant::now();
    let srv_ref = &srv;
    let watchers: Vec<HttpClient> = futures_util::stream::iter(ids[..WATCHERS].iter().enumerate())
        .map(|(i, id)| async move {
            let (v, e) = if i % 2 == 0 {
                (Version::V1_2, Encoding::Wbxml)
            } else {
                (Version::V1_3, Encoding::Xml)
            };
            let c = login_only(srv_ref, v, e, id, "phone").await;
            assert_eq!(subscribe(&c, v, &["alice"], None).await, 200);
            let init = drain(&c).await;
            assert_eq!(notifications(&init).len(), 1, "{id}: initial notification");
            c
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    eprintln!(
        "{WATCHERS} logged in and subscribed in {:?}",
        started.elapsed()
    );

    let t = Instant::now();
    assert_eq!(
        update(&alice, vec![attr("StatusText", "to everyone")]).await,
        200
    );
    eprintln!(
        "UpdatePresence answered in {:?} with {WATCHERS} watchers",
        t.elapsed()
    );

    let got: Vec<bool> = futures_util::stream::iter(watchers.iter())
        .map(|c| async move {
            let n = drain(c).await;
            last_notified(&n, "alice", "StatusText").and_then(|s| s.child_text("PresenceValue"))
                == Some("to everyone")
                && notified_attrs(&n, "alice").contains(&"OnlineStatus".to_string())
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    assert_eq!(
        got.iter().filter(|ok| **ok).count(),
        WATCHERS,
        "every subscriber got the change with the rest of what they may see"
    );
    eprintln!("all {WATCHERS} notified, checked in {:?}", t.elapsed());
}
