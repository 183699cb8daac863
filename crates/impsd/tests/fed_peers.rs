//! Federation peers beyond the static table (issue 17), end to end: two
//! real `impsd` processes (a.test, b.test) with no `[[federation.peers]]`
//! entry for each other. They find each other through DNS SRV records
//! (`_imps-server._tcp.DOMAIN`) served by a small DNS server on loopback
//! that the test runs, or are told of each other at run time with
//! `impsd peer add|remove`.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::common;
use crate::fed::{WAIT, free_port};

use common::{Inbox, RealServer, TestUser, code_of, impsd_bin, post_raw, wait_until};
use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::SRV;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use imps_wire::csp;
use imps_wire::ssp::{Mode, SSP_CONTENT_TYPE, SetupStep, SetupTransaction, SspMessage};
use impsd::federation::PeerSettings;
use parking_lot::Mutex;

/// A DNS server on loopback (UDP) answering SRV questions from a table:
/// name → (port, target, ttl). Any other name is NXDOMAIN. Counts the
/// questions it answered; `stop` ends it (later questions go unanswered).
/// SRV owner name → (port, target, ttl).
type Records = Arc<Mutex<BTreeMap<String, (u16, String, u32)>>>;

struct TestDns {
    addr: SocketAddr,
    records: Records,
    asked: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl TestDns {
    async fn start() -> TestDns {
        let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = sock.local_addr().unwrap();
        let records: Records = Arc::default();
        let asked = Arc::new(AtomicU64::new(0));
        let (r, n) = (Arc::clone(&records), Arc::clone(&asked));
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((len, from)) = sock.recv_from(&mut buf).await else {
                    return;
                };
                let Ok(q) = Message::from_vec(&buf[..len]) else {
                    continue;
                };
                let mut a = Message::new(q.metadata.id, MessageType::Response, OpCode::Query);
                a.metadata.authoritative = true;
                a.metadata.recursion_desired = q.metadata.recursion_desired;
                a.metadata.recursion_available = true;
                a.add_queries(q.queries.iter().cloned());
                let mut found = false;
                if let Some(question) = q.queries.first() {
                    let name = question.name().to_ascii().to_ascii_lowercase();
                    if question.query_type() == RecordType::SRV
                        && let Some((port, target, ttl)) = r.lock().get(&name).cloned()
                    {
                        found = true;
                        a.add_answer(Record::from_rdata(
                            question.name().clone(),
                            ttl,
                            RData::SRV(SRV::new(10, 5, port, Name::from_ascii(&target).unwrap())),
                        ));
                    }
                }
                if !found {
                    a.metadata.response_code = ResponseCode::NXDomain;
                }
                n.fetch_add(1, Ordering::Relaxed);
                let _ = sock.send_to(&a.to_vec().unwrap(), from).await;
            }
        });
        TestDns {
            addr,
            records,
            asked,
            task,
        }
    }

    /// Publishes `_imps-server._tcp.DOMAIN` → `localhost:port`.
    fn publish(&self, domain: &str, port: u16, ttl: u32) {
        self.records.lock().insert(
            format!("_imps-server._tcp.{domain}."),
            (port, "localhost.".into(), ttl),
        );
    }

    fn asked(&self) -> u64 {
        self.asked.load(Ordering::Relaxed)
    }

    fn stop(&self) {
        self.task.abort();
    }
}

/// A server for `domain` on `port` with federation on and no peer entry;
/// discovery through `dns` when given.
fn server(domain: &str, port: u16, dns: Option<SocketAddr>) -> RealServer {
    let domain = domain.to_string();
    RealServer::builder(impsd_bin!())
        .config(move |c| {
            c.domain = domain;
            c.listen = format!("127.0.0.1:{port}").parse().unwrap();
            c.log = "info".into();
            c.federation.enabled = true;
            c.federation.retry_min_ms = 100;
            c.federation.retry_max_ms = 400;
            c.federation.handshake_timeout_ms = 5_000;
            c.federation.request_timeout_ms = 2_000;
            if let Some(dns) = dns {
                c.federation.discovery = true;
                c.federation.discovery_name_servers = vec![dns.to_string()];
                c.federation.discovery_scheme = "http".into();
                c.federation.discovery_timeout_ms = 1_000;
                c.federation.discovery_negative_secs = 1;
            }
        })
        .start()
}

/// Sends `text` from `from` to `to_id`; the status code of the answer.
async fn send<T: Inbox>(from: &TestUser<T>, from_id: &str, to_id: &str, text: &str) -> u16 {
    let mut req = from.text_message(&[], text);
    req.message_info.recipient = Some(csp::Recipient {
        users: vec![csp::User::new(to_id)],
        ..Default::default()
    });
    req.message_info.sender = Some(csp::Sender::user(from_id));
    let resp = from.request(req.to_element(from.version())).await.unwrap();
    code_of(&resp).unwrap_or(0)
}

/// `to` receives `text` from `sender`.
async fn receive<T: Inbox>(to: &TestUser<T>, sender: &str, text: &str) {
    let m = to.receive().await;
    assert_eq!(m.content_data.as_deref(), Some(text), "{m:?}");
    match m.message_info.sender.map(|s| s.party) {
        Some(csp::Party::User(u)) => assert_eq!(u.user_id, sender),
        other => panic!("sender {other:?}"),
    }
}

/// The line of `peer list` for `domain`, split at tabs.
fn listed(srv: &RealServer, domain: &str) -> Option<Vec<String>> {
    srv.cli(&["peer", "list"])
        .lines()
        .find(|l| l.starts_with(&format!("{domain}\t")))
        .map(|l| l.split('\t').map(str::to_string).collect())
}

#[tokio::test]
async fn peers_found_by_dns_srv_chat_both_ways_and_a_domain_without_a_record_is_516() {
    let dns = TestDns::start().await;
    let (pa, pb) = (free_port(), free_port());
    dns.publish("a.test", pa, 300);
    dns.publish("b.test", pb, 300);
    let a = server("a.test", pa, Some(dns.addr));
    let b = server("b.test", pb, Some(dns.addr));
    a.add_user("alice", "pw");
    b.add_user("bob", "pw");
    let alice = a.login("alice").ws().await;
    let bob = b.login("bob").ws().await;

    // a.test finds b.test by its SRV record; b.test checks a.test's claim
    // against a.test's own record (its secret goes there).
    let code = send(&alice, "wv:alice@a.test", "wv:bob@b.test", "hi bob").await;
    assert_eq!(code, 200);
    receive(&bob, "wv:alice@a.test", "hi bob").await;
    let code = send(&bob, "wv:bob@b.test", "wv:alice@a.test", "hi alice").await;
    assert_eq!(code, 200);
    receive(&alice, "wv:bob@b.test", "hi alice").await;

    let row = listed(&a, "b.test").expect("b.test listed at a.test");
    assert_eq!(
        row.last().map(String::as_str),
        Some("discovered"),
        "{row:?}"
    );
    assert_eq!(row[8], format!("http://localhost:{pb}/imps"), "{row:?}");
    let row = listed(&b, "a.test").expect("a.test listed at b.test");
    assert_eq!(
        row.last().map(String::as_str),
        Some("discovered"),
        "{row:?}"
    );

    // A domain that publishes nothing is no peer: 516, at once.
    let started = Instant::now();
    let code = send(&alice, "wv:alice@a.test", "wv:carol@c.test", "x").await;
    assert_eq!(code, 516);
    assert!(started.elapsed() < Duration::from_secs(3));

    // A server claiming c.test (no record) cannot start an association:
    // refused with 516 in the HTTP 403 body.
    let step1 = SspMessage::Setup(SetupTransaction {
        mode: Mode::Request,
        transaction_id: "t1".into(),
        step: SetupStep::SendSecretToken {
            service_id: "wv:@c.test".into(),
            protocol: "WV-SSP".into(),
            protocol_version: "1.3".into(),
            secret: "s3cret".into(),
        },
    });
    let (status, _, body) = post_raw(&b.url(), SSP_CONTENT_TYPE, step1.encode()).await;
    assert_eq!(status, 403);
    assert!(String::from_utf8_lossy(&body).contains("516"));
}

#[tokio::test]
async fn peers_discovered_are_kept_for_the_record_ttl_when_dns_stops_then_fail_cleanly() {
    let dns = TestDns::start().await;
    let (pa, pb) = (free_port(), free_port());
    dns.publish("a.test", pa, 6);
    dns.publish("b.test", pb, 6);
    let a = server("a.test", pa, Some(dns.addr));
    let b = server("b.test", pb, Some(dns.addr));
    a.add_user("alice", "pw");
    b.add_user("bob", "pw");
    let alice = a.login("alice").ws().await;
    let bob = b.login("bob").ws().await;
    // Before the first lookup: no answer can run out earlier than 6 s on.
    let published = Instant::now();
    assert_eq!(
        send(&alice, "wv:alice@a.test", "wv:bob@b.test", "one").await,
        200
    );
    receive(&bob, "wv:alice@a.test", "one").await;

    // The DNS server goes away: the answers are still good for their TTL.
    dns.stop();
    let asked = dns.asked();
    assert_eq!(
        send(&alice, "wv:alice@a.test", "wv:bob@b.test", "two").await,
        200
    );
    receive(&bob, "wv:alice@a.test", "two").await;
    assert!(published.elapsed() < Duration::from_secs(6));
    assert_eq!(dns.asked(), asked, "the cached answer was used");

    // Past the TTL no answer can be had: the domain is no peer any more,
    // and saying so takes no longer than the lookup timeout.
    wait_until("b.test no longer a peer at a.test", WAIT, || async {
        let started = Instant::now();
        let code = send(&alice, "wv:alice@a.test", "wv:bob@b.test", "three?").await;
        assert!(started.elapsed() < Duration::from_secs(4), "no hang");
        code == 516
    })
    .await;
    assert!(
        published.elapsed() >= Duration::from_secs(6),
        "not before the TTL"
    );
}

#[tokio::test]
async fn peer_add_and_remove_from_the_cli_apply_at_once_and_survive_a_restart() {
    let (pa, pb) = (free_port(), free_port());
    let mut a = {
        let domain = "a.test".to_string();
        RealServer::builder(impsd_bin!())
            .config(move |c| {
                c.domain = domain;
                c.listen = format!("127.0.0.1:{pa}").parse().unwrap();
                c.federation.enabled = true;
                c.federation.retry_min_ms = 100;
                c.federation.retry_max_ms = 400;
                c.federation.request_timeout_ms = 2_000;
                // A configured peer that the operator takes out later.
                c.federation.peers = vec![PeerSettings {
                    domain: "c.test".into(),
                    url: "http://127.0.0.1:9/imps".into(),
                    sus: false,
                    require_client_cert: false,
                }];
            })
            .start()
    };
    let b = server("b.test", pb, None);
    a.add_user("alice", "pw");
    b.add_user("bob", "pw");
    let alice = a.login("alice").ws().await;
    let bob = b.login("bob").ws().await;

    // Neither knows the other: 516.
    assert_eq!(
        send(&alice, "wv:alice@a.test", "wv:bob@b.test", "x").await,
        516
    );
    let row = listed(&a, "c.test").expect("c.test listed");
    assert_eq!(row.last().map(String::as_str), Some("config"), "{row:?}");

    // Added at run time, on both sides: they chat, no restart.
    let said = a.cli(&[
        "peer",
        "add",
        "b.test",
        &format!("http://127.0.0.1:{pb}/imps"),
    ]);
    assert!(said.contains("b.test added"), "{said}");
    b.cli(&[
        "peer",
        "add",
        "a.test",
        &format!("http://127.0.0.1:{pa}/imps"),
    ]);
    assert!(
        !a.cli_output(&["peer", "add", "d.test", "ftp://x"])
            .status
            .success()
    );
    assert_eq!(
        send(&alice, "wv:alice@a.test", "wv:bob@b.test", "added").await,
        200
    );
    receive(&bob, "wv:alice@a.test", "added").await;
    let row = listed(&a, "b.test").expect("b.test listed");
    assert_eq!(row.last().map(String::as_str), Some("added"), "{row:?}");
    assert_eq!(row[1], "live", "{row:?}");

    // The configured c.test is taken out; b.test stays after a restart.
    a.cli(&["peer", "remove", "c.test"]);
    assert!(listed(&a, "c.test").is_none());
    drop(alice);
    a.restart();
    // Sessions outlive a restart: she comes back from another client.
    let alice = a.login("alice").client_id("alice-2").ws().await;
    assert!(listed(&a, "c.test").is_none(), "removal survives a restart");
    let row = listed(&a, "b.test").expect("b.test still listed");
    assert_eq!(row.last().map(String::as_str), Some("added"), "{row:?}");
    assert_eq!(
        send(&alice, "wv:alice@a.test", "wv:bob@b.test", "after restart").await,
        200
    );
    receive(&bob, "wv:alice@a.test", "after restart").await;

    // Removed: its association ends, new traffic to it gets 516, and so
    // after a restart.
    let said = a.cli(&["peer", "remove", "b.test"]);
    assert!(said.contains("b.test removed"), "{said}");
    assert!(listed(&a, "b.test").is_none());
    assert_eq!(
        send(&alice, "wv:alice@a.test", "wv:bob@b.test", "gone").await,
        516
    );
    assert!(
        !a.cli_output(&["peer", "remove", "b.test"]).status.success(),
        "not in the table any more"
    );
    drop(alice);
    a.restart();
    let alice = a.login("alice").client_id("alice-3").ws().await;
    assert!(listed(&a, "b.test").is_none());
    assert_eq!(
        send(&alice, "wv:alice@a.test", "wv:bob@b.test", "still gone").await,
        516
    );
}
