//! Federation from several nodes and to several peers (issues 17 and 18):
//! the SSP queue, shared by the nodes of a cluster, goes out once per
//! transaction whichever node takes it, a peer reached through a load
//! balancer in front of the nodes can associate and send to any of them,
//! and a peer that hangs delays nobody else's traffic.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::cluster::{WAIT, node_with, shared};
use crate::common::{RealServer, TestDb, impsd_bin, wait_until};
use crate::fed::{free_port, metric, send};
use impsd::federation::PeerSettings;

/// Sets `c` up as a server of `domain` on `port` federating with `peers`
/// (domain, URL).
fn federate(c: &mut impsd::config::Config, domain: &str, port: u16, peers: &[(String, String)]) {
    c.domain = domain.to_string();
    c.listen = format!("127.0.0.1:{port}").parse().unwrap();
    c.log = "info".into();
    c.federation.enabled = true;
    c.federation.retry_min_ms = 100;
    c.federation.retry_max_ms = 400;
    c.federation.handshake_timeout_ms = 8_000;
    c.federation.request_timeout_ms = 8_000;
    c.federation.peers = peers
        .iter()
        .map(|(d, url)| PeerSettings {
            domain: d.clone(),
            url: url.clone(),
            sus: false,
            require_client_cert: false,
        })
        .collect();
}

fn url(port: u16) -> String {
    format!("http://127.0.0.1:{port}/imps")
}

/// A single server (SQLite) of `domain` on `port`.
fn server(domain: &str, port: u16, peers: Vec<(String, String)>) -> RealServer {
    let domain = domain.to_string();
    RealServer::builder(impsd_bin!())
        .config(move |c| federate(c, &domain, port, &peers))
        .start()
}

/// A peer that accepts TCP connections and never answers on them.
async fn hanging_peer() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    port
}

/// A peer that hangs (b.hang, first in the peer table's order) does not
/// hold back what goes to another peer (c.test): each peer is sent to by
/// a task of its own.
#[tokio::test]
async fn fed_a_hanging_peer_does_not_delay_another_peer() {
    let hang = hanging_peer().await;
    let (pa, pc) = (free_port(), free_port());
    let a = server(
        "a.test",
        pa,
        vec![("b.hang".into(), url(hang)), ("c.test".into(), url(pc))],
    );
    let c = server("c.test", pc, vec![("a.test".into(), url(pa))]);
    a.add_user("alice", "pw");
    c.add_user("carol", "pw");
    let alice = a.login("alice").ws().await;
    // Well below the hanging peer's handshake and request timeouts (8 s).
    let carol = c.login("carol").timeout(Duration::from_secs(4)).ws().await;

    // Something for the hanging peer first: its sender is stuck with it.
    send(
        &alice,
        "wv:alice@a.test",
        "wv:xavier@b.hang",
        "into the void",
    )
    .await;
    for i in 0..3 {
        let text = format!("hello carol {i}");
        let id = send(&alice, "wv:alice@a.test", "wv:carol@c.test", &text).await;
        let m = carol.receive().await;
        assert_eq!(m.message_info.message_id.as_deref(), Some(id.as_str()));
        assert_eq!(m.content_data.as_deref(), Some(text.as_str()));
    }
    // The hanging peer's transaction still waits.
    wait_until(
        "the hanging peer's transaction is counted",
        WAIT,
        || async { metric(&a, "impsd_ssp_queue_depth", "b.hang").await == 1 },
    )
    .await;
}

/// An HTTP load balancer that picks the next of `backends` for every
/// request: it adds `connection: close` to each answer (so the client
/// opens a new connection for its next request) and sends each new
/// connection to the next backend.
async fn balancer(backends: Vec<u16>) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let next = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((inbound, _)) = l.accept().await {
            let to = backends[next.fetch_add(1, Ordering::Relaxed) % backends.len()];
            tokio::spawn(async move {
                let Ok(out) = tokio::net::TcpStream::connect(("127.0.0.1", to)).await else {
                    return;
                };
                let (mut ri, mut wi) = inbound.into_split();
                let (mut ro, mut wo) = out.into_split();
                let up = tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut ri, &mut wo).await;
                    let _ = wo.shutdown().await;
                });
                let mut buf = vec![0u8; 64 * 1024];
                if let Ok(n) = ro.read(&mut buf).await
                    && n > 0
                {
                    let first = &buf[..n];
                    let chunk = match first.windows(2).position(|w| w == b"\r\n") {
                        Some(i) => {
                            [&first[..i + 2], b"connection: close\r\n", &first[i + 2..]].concat()
                        }
                        None => first.to_vec(),
                    };
                    if wi.write_all(&chunk).await.is_ok() {
                        let _ = tokio::io::copy(&mut ro, &mut wi).await;
                    }
                }
                let _ = wi.shutdown().await;
                up.abort();
            });
        }
    });
    port
}

/// Two nodes of a.test (shared PostgreSQL and NATS) both run
/// `[federation]`; b.test reaches a.test through a load balancer in front
/// of both that picks a node per request, so the setup steps of one
/// handshake and the Sessions of one association land on either node. Users on both nodes send many messages to bob@b.test: each
/// reaches him once, and the peer took each transaction once (no node
/// sends what another one sends). Replies from b.test (delivery reports)
/// reach the senders whichever node the balancer picks.
#[tokio::test]
async fn cluster_two_federating_nodes_send_each_transaction_once() {
    let Some(s) = shared("cluster_two_federating_nodes_send_each_transaction_once") else {
        return;
    };
    const EACH: usize = 15;
    let (p1, p2, pb) = (free_port(), free_port(), free_port());
    let lb = balancer(vec![p1, p2]).await;
    let to_b = vec![("b.test".to_string(), url(pb))];
    let peers = to_b.clone();
    let n1 = node_with(&s, "node-1", move |c| federate(c, "a.test", p1, &peers));
    let peers = to_b.clone();
    let n2 = node_with(&s, "node-2", move |c| federate(c, "a.test", p2, &peers));
    // b.test on the same PostgreSQL server as a.test's nodes, in a
    // schema of its own (a POST to it once hung there: advisory locks are
    // per database, not per schema).
    let b_db = TestDb::at(s.pg_url().to_string());
    let b_schema = b_db.schema().to_string();
    let b_url = s.pg_url().to_string();
    let b = RealServer::builder(impsd_bin!())
        .config(move |c| {
            federate(c, "b.test", pb, &[("a.test".into(), url(lb))]);
            c.store.kind = impsd::config::StoreKind::Postgres;
            c.store.url = b_url;
            c.store.schema = b_schema;
            c.store.max_connections = 4;
        })
        .start();
    n1.add_user("alice", "pw");
    n1.add_user("carol", "pw");
    b.add_user("bob", "pw");
    let alice = n1.login("alice").ws().await;
    let carol = n2.login("carol").ws().await;
    let bob = b.login("bob").ws().await;

    let mut sent = BTreeSet::new();
    for i in 0..EACH {
        for (u, id) in [(&alice, "wv:alice@a.test"), (&carol, "wv:carol@a.test")] {
            sent.insert(send(u, id, "wv:bob@b.test", &format!("{id} {i}")).await);
        }
    }
    let mut got = Vec::new();
    while got.len() < 2 * EACH {
        got.push(bob.receive().await.message_info.message_id.unwrap());
    }
    let distinct: BTreeSet<String> = got.iter().cloned().collect();
    assert_eq!(distinct.len(), got.len(), "each message once: {got:?}");
    assert_eq!(distinct, sent);
    // Both queues drain: b.test's answers (one per request) reach a.test
    // through the balancer, whichever node they land on.
    let want = (2 * EACH) as u64;
    wait_until("both SSP queues are empty", WAIT, || async {
        metric(&n1, "impsd_ssp_queue_depth", "b.test").await == 0
            && metric(&n2, "impsd_ssp_queue_depth", "b.test").await == 0
            && metric(&b, "impsd_ssp_queue_depth", "a.test").await == 0
            && metric(&n1, "impsd_ssp_received_total", "b.test").await
                + metric(&n2, "impsd_ssp_received_total", "b.test").await
                >= want
    })
    .await;
    // The peer took each transaction once: one POST per message, from
    // one node or the other, never both.
    let posted = metric(&n1, "impsd_ssp_sent_total", "b.test").await
        + metric(&n2, "impsd_ssp_sent_total", "b.test").await;
    assert_eq!(posted, want, "each transaction sent once");
    assert_eq!(
        metric(&b, "impsd_ssp_received_total", "a.test").await,
        want,
        "b.test took each transaction once"
    );
}
