//! Federation throughput (issue 17): several SSP transactions per POST.
//! A burst of messages from alice@a.test to bob@b.test goes over in far
//! fewer POSTs than messages, each message arriving once and in order;
//! a batch whose HTTP answer is lost on the way back (a TCP relay between
//! the two servers forwards the POST and drops the answer) is sent again
//! and b.test, which remembers what it handled, delivers nothing twice;
//! a POST mixing messages b.test stores, ones it refuses before storing
//! (an unknown user) and ones over a recipient's quota gets each its
//! answer, and what was stored arrives in order.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common::{Inbox, RealServer, TestUser, wait_until};
use crate::fed::{WAIT, free_port, metric, send, server, server_builder};

/// What the relay does with a connection.
const PASS: u8 = 0;
/// Drops every connection (the peer looks down).
const CLOSED: u8 = 1;

/// A TCP relay from a.test to b.test's listener: passes bytes both ways,
/// or refuses everything (`CLOSED`), and can drop the next N answers
/// coming back from b.test (the request was carried out, its answer is
/// lost: the connection is closed instead).
struct Relay {
    port: u16,
    mode: Arc<AtomicU8>,
    drop_answers: Arc<AtomicUsize>,
    dropped: Arc<AtomicUsize>,
}

impl Relay {
    async fn start(to: u16) -> Relay {
        let port = free_port();
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let mode = Arc::new(AtomicU8::new(PASS));
        let drop_answers = Arc::new(AtomicUsize::new(0));
        let dropped = Arc::new(AtomicUsize::new(0));
        let (m, d, n) = (mode.clone(), drop_answers.clone(), dropped.clone());
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                if m.load(Ordering::SeqCst) == CLOSED {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", to)).await else {
                    continue;
                };
                tokio::spawn(pipe(client, server, m.clone(), d.clone(), n.clone()));
            }
        });
        Relay {
            port,
            mode,
            drop_answers,
            dropped,
        }
    }
}

async fn pipe(
    client: TcpStream,
    server: TcpStream,
    mode: Arc<AtomicU8>,
    drop_answers: Arc<AtomicUsize>,
    dropped: Arc<AtomicUsize>,
) {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let up = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match cr.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if mode.load(Ordering::SeqCst) == CLOSED {
                return;
            }
            if sw.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    let down = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match sr.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let drop_it = drop_answers
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |k| k.checked_sub(1))
                .is_ok();
            if drop_it {
                dropped.fetch_add(1, Ordering::SeqCst);
                return;
            }
            if cw.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    // Either side ending ends both (the client sees its connection closed).
    tokio::select! {
        () = up => {}
        () = down => {}
    }
}

/// a.test reaching b.test through a relay; b.test reaching a.test
/// directly. alice on a.test, bob on b.test.
async fn relayed_pair() -> (RealServer, RealServer, Relay) {
    let (pa, pb) = (free_port(), free_port());
    let relay = Relay::start(pb).await;
    let a = server("a.test", pa, "b.test", relay.port, 86_400);
    let b = server("b.test", pb, "a.test", pa, 86_400);
    a.add_user("alice", "pw");
    b.add_user("bob", "pw");
    (a, b, relay)
}

/// Makes the association with one message through, then closes the
/// relay and sends `n` messages m0.. from alice to bob; returns their
/// MessageIDs once all wait in a.test's queue.
async fn held_back<T: Inbox, U: Inbox>(
    a: &RealServer,
    alice: &TestUser<T>,
    bob: &TestUser<U>,
    relay: &Relay,
    n: u64,
) -> Vec<String> {
    let first = send(alice, "wv:alice@a.test", "wv:bob@b.test", "first").await;
    let m = bob.receive().await;
    assert_eq!(m.message_info.message_id.as_deref(), Some(first.as_str()));
    relay.mode.store(CLOSED, Ordering::SeqCst);
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(send(alice, "wv:alice@a.test", "wv:bob@b.test", &format!("m{i}")).await);
    }
    wait_until("the messages wait in a.test's queue", WAIT, || async {
        metric(a, "impsd_ssp_queue_depth", "b.test").await >= n
    })
    .await;
    ids
}

#[tokio::test]
async fn ssp_burst_goes_in_few_posts_each_message_once_in_order() {
    let (a, b, relay) = relayed_pair().await;
    let alice = a.login("alice").ws().await;
    let bob = b.login("bob").ws().await;
    // b.test out of reach: 60 messages wait at a.test.
    let n = 60;
    let ids = held_back(&a, &alice, &bob, &relay, n).await;
    let posts_before = metric(&a, "impsd_ssp_posts_total", "b.test").await;
    let sent_before = metric(&a, "impsd_ssp_sent_total", "b.test").await;
    let back_posts_before = metric(&b, "impsd_ssp_posts_total", "a.test").await;
    let back_before = metric(&b, "impsd_ssp_sent_total", "a.test").await;
    relay.mode.store(PASS, Ordering::SeqCst);

    // b.test's answers (a SendMessage-Response each) travel batched too:
    // those gathered while the sender waits go in one POST (how many
    // gather depends on how fast b.test carries out the requests; its
    // sender also wakes every 100 ms here). bob has not acknowledged
    // anything yet, so no delivery report mixes in.
    wait_until("b.test's answers reached a.test", WAIT, || async {
        metric(&b, "impsd_ssp_sent_total", "a.test").await >= back_before + n
    })
    .await;
    let back_posts = metric(&b, "impsd_ssp_posts_total", "a.test").await - back_posts_before;
    let back_sent = metric(&b, "impsd_ssp_sent_total", "a.test").await - back_before;
    assert!(
        back_posts * 3 <= back_sent * 2,
        "{back_sent} answers in {back_posts} POSTs: not batched"
    );

    // Each once, in order.
    for (i, id) in ids.iter().enumerate() {
        let m = bob.receive().await;
        assert_eq!(m.content_data.as_deref(), Some(format!("m{i}").as_str()));
        assert_eq!(m.message_info.message_id.as_deref(), Some(id.as_str()));
    }
    let last = send(&alice, "wv:alice@a.test", "wv:bob@b.test", "last").await;
    let m = bob.receive().await;
    assert_eq!(m.message_info.message_id.as_deref(), Some(last.as_str()));

    wait_until("a.test saw b.test take the burst", WAIT, || async {
        metric(&a, "impsd_ssp_sent_total", "b.test").await > sent_before + n
    })
    .await;
    let posts = metric(&a, "impsd_ssp_posts_total", "b.test").await - posts_before;
    let sent = metric(&a, "impsd_ssp_sent_total", "b.test").await - sent_before;
    assert!(
        posts * 5 <= sent,
        "{sent} transactions in {posts} POSTs: not batched"
    );
}

#[tokio::test]
async fn ssp_batch_whose_answer_was_lost_is_resent_and_delivered_once() {
    let (a, b, relay) = relayed_pair().await;
    let alice = a.login("alice").ws().await;
    let bob = b.login("bob").ws().await;
    // Ten wait; then b.test gets them but a.test never hears its answer.
    let n = 10;
    let ids = held_back(&a, &alice, &bob, &relay, n).await;
    relay.drop_answers.store(1, Ordering::SeqCst);
    relay.mode.store(PASS, Ordering::SeqCst);

    for (i, id) in ids.iter().enumerate() {
        let m = bob.receive().await;
        assert_eq!(m.content_data.as_deref(), Some(format!("m{i}").as_str()));
        assert_eq!(m.message_info.message_id.as_deref(), Some(id.as_str()));
    }
    // Nothing twice: the next message bob gets is the one sent after.
    let last = send(&alice, "wv:alice@a.test", "wv:bob@b.test", "last").await;
    let m = bob.receive().await;
    assert_eq!(
        m.message_info.message_id.as_deref(),
        Some(last.as_str()),
        "{:?}",
        m.content_data
    );
    assert_eq!(
        relay.dropped.load(Ordering::SeqCst),
        1,
        "an answer was lost"
    );
    // b.test carried out each of a.test's requests (the messages) once;
    // the ones sent again were counted as duplicates, not redone.
    wait_until("b.test counted the last request", WAIT, || async {
        metric(&b, "impsd_ssp_received_total", "a.test").await >= n + 2
    })
    .await;
    wait_until("a.test's queue is empty", WAIT, || async {
        metric(&a, "impsd_ssp_queue_depth", "b.test").await == 0
    })
    .await;
    assert_eq!(
        metric(&b, "impsd_ssp_received_total", "a.test").await,
        n + 2,
        "requests carried out"
    );
    assert!(metric(&b, "impsd_ssp_duplicates_total", "a.test").await >= 1);
    wait_until("a.test's queue is empty", WAIT, || async {
        metric(&a, "impsd_ssp_queue_depth", "b.test").await == 0
    })
    .await;
}

/// One POST of ten messages (b.test takes a POST's messages in one store
/// transaction): to bob (online), to carol (offline, her queue holds at
/// most four) and to nobody (no such user). Carol gets her first four in
/// order, the two past her quota are refused (507), nobody's is refused
/// (531), bob gets his three in order, and nothing arrives twice.
#[tokio::test]
async fn ssp_batch_with_refusals_and_a_full_queue_delivers_what_fits_in_order() {
    let (pa, pb) = (free_port(), free_port());
    let relay = Relay::start(pb).await;
    let a = server("a.test", pa, "b.test", relay.port, 86_400);
    let b = server_builder("b.test", pb, "a.test", pa, 86_400)
        .config(|c| {
            c.im.offline_quota_messages = 4;
            c.im.offline_quota_bytes = 0;
        })
        .start();
    a.add_user("alice", "pw");
    b.add_user("bob", "pw");
    b.add_user("carol", "pw");
    let alice = a.login("alice").ws().await;
    let bob = b.login("bob").ws().await;
    let first = send(&alice, "wv:alice@a.test", "wv:bob@b.test", "first").await;
    let m = bob.receive().await;
    assert_eq!(m.message_info.message_id.as_deref(), Some(first.as_str()));
    wait_until("a.test saw b.test take the first", WAIT, || async {
        metric(&a, "impsd_ssp_sent_total", "b.test").await >= 1
    })
    .await;

    relay.mode.store(CLOSED, Ordering::SeqCst);
    let order = [
        "carol:c0", "bob:b0", "carol:c1", "nobody:x", "carol:c2", "carol:c3", "bob:b1", "carol:c4",
        "carol:c5", "bob:b2",
    ];
    let mut ids = std::collections::HashMap::new();
    for item in order {
        let (to, text) = item.split_once(':').unwrap();
        let id = send(&alice, "wv:alice@a.test", &format!("wv:{to}@b.test"), text).await;
        ids.insert(text, id);
    }
    wait_until("the ten wait in a.test's queue", WAIT, || async {
        metric(&a, "impsd_ssp_queue_depth", "b.test").await >= 10
    })
    .await;
    let received_before = metric(&b, "impsd_ssp_received_total", "a.test").await;
    relay.mode.store(PASS, Ordering::SeqCst);

    for text in ["b0", "b1", "b2"] {
        let m = bob.receive().await;
        assert_eq!(m.content_data.as_deref(), Some(text));
        assert_eq!(
            m.message_info.message_id.as_deref(),
            Some(ids[text].as_str())
        );
    }
    wait_until("b.test answered all ten", WAIT, || async {
        metric(&b, "impsd_ssp_received_total", "a.test").await
            + metric(&b, "impsd_ssp_refused_total", "a.test").await
            >= received_before + 10
    })
    .await;
    assert_eq!(
        metric(&b, "impsd_ssp_received_total", "a.test").await,
        received_before + 7,
        "carol's four and bob's three taken"
    );
    assert_eq!(
        metric(&b, "impsd_ssp_refused_total", "a.test").await,
        3,
        "two past carol's quota and nobody's refused"
    );
    let carol = b.login("carol").ws().await;
    for text in ["c0", "c1", "c2", "c3"] {
        let m = carol.receive().await;
        assert_eq!(m.content_data.as_deref(), Some(text));
        assert_eq!(
            m.message_info.message_id.as_deref(),
            Some(ids[text].as_str())
        );
    }
    // Nothing more was stored for bob: the next he gets is the one sent
    // now (for carol, the counts above say that the two past her quota
    // were refused).
    wait_until("a.test's queue is empty", WAIT, || async {
        metric(&a, "impsd_ssp_queue_depth", "b.test").await == 0
    })
    .await;
    let last = send(&alice, "wv:alice@a.test", "wv:bob@b.test", "last").await;
    let m = bob.receive().await;
    assert_eq!(
        m.message_info.message_id.as_deref(),
        Some(last.as_str()),
        "{:?}",
        m.content_data
    );
    drop(carol);
}
