//! Several impsd processes sharing one PostgreSQL schema and one NATS
//! server (issue 18, `[cluster]`): users on different nodes chat, see each
//! other's presence, a request for a session held by another node is
//! answered through it, and a node killed with SIGKILL loses nothing its
//! node acknowledged. Runs against `IMPSD_TEST_PG_URL` and
//! `IMPSD_TEST_NATS_URL`; without them each test says it skipped.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use imps_wire::{
    Element, Encoding as WireEncoding, Message, Transaction, TransactionMode, Version,
};
use impsd::config::StoreKind;

use crate::smsc_common::TestSmsc;
use imps_core::config::{NotifyBearer, OfflineNotify};
use imps_smpp::pdu::CommandId;

use crate::common::{RealServer, TestDb, code_of, get_text, impsd_bin, post_raw, wait_until};
use crate::groups_common::{create_req, expect_code, expect_named, gid, group_message, join_req};
use crate::presence_common::{attr, grant, subscribe, update, value_of};

const PG_VAR: &str = "IMPSD_TEST_PG_URL";
const NATS_VAR: &str = "IMPSD_TEST_NATS_URL";
pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// What the nodes of one test share: the database schema, the NATS
/// server, the subject prefix (so tests on one NATS do not hear each
/// other).
pub(crate) struct Shared {
    pg: String,
    nats: String,
    prefix: String,
    schema: TestDb,
}

impl Shared {
    /// The PostgreSQL database the nodes share.
    pub(crate) fn pg_url(&self) -> &str {
        &self.pg
    }
}

/// The shared services, or `None` after a SKIPPED line.
pub(crate) fn shared(test: &str) -> Option<Shared> {
    let (Ok(pg), Ok(nats)) = (std::env::var(PG_VAR), std::env::var(NATS_VAR)) else {
        let line = format!(
            "SKIPPED {test}: {PG_VAR} and {NATS_VAR} must both be set \
             (a PostgreSQL database and a NATS server for the nodes to share)\n"
        );
        let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
        return None;
    };
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() % 1_000_000_000_000)
        .unwrap_or(0);
    let tag = format!("{}_{nanos}", std::process::id());
    Some(Shared {
        schema: TestDb::at(pg.clone()),
        pg,
        nats,
        prefix: format!("t{tag}"),
    })
}

/// One node: a process of the real binary, started after the previous
/// one (the first runs the migrations).
fn node(s: &Shared, id: &str) -> RealServer {
    node_with(s, id, |_| {})
}

/// [`node`], with more settings changed.
pub(crate) fn node_with(
    s: &Shared,
    id: &str,
    more: impl FnOnce(&mut impsd::config::Config) + 'static,
) -> RealServer {
    let (pg, schema, nats, prefix, id) = (
        s.pg.clone(),
        s.schema.schema().to_string(),
        s.nats.clone(),
        s.prefix.clone(),
        id.to_string(),
    );
    RealServer::builder(impsd_bin!())
        .config(move |c| {
            c.log = "info".into();
            c.store.kind = StoreKind::Postgres;
            c.store.url = pg;
            c.store.schema = schema;
            c.store.max_connections = 4;
            c.cluster.nats_url = Some(nats);
            c.cluster.node_id = Some(id);
            c.cluster.subject_prefix = prefix;
            c.cluster.heartbeat_ms = 200;
            c.cluster.node_ttl_ms = 1000;
            c.cluster.change_scan_ms = 20;
            c.cluster.forward_timeout_ms = 3000;
        })
        .config(more)
        .start()
}

/// A metric without labels at `srv`.
async fn metric(srv: &RealServer, name: &str) -> u64 {
    let (_, text) = get_text(&srv.metrics_url()).await;
    let key = format!("{name} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&key))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Waits until `srv`'s directory holds at least `n` sessions of other nodes.
async fn sees_remote(srv: &RealServer, n: u64) {
    wait_until(
        "the node's directory has the other nodes' sessions",
        WAIT,
        || async { metric(srv, "impsd_cluster_remote_sessions").await >= n },
    )
    .await;
}

/// A CSP 1.3 request in XML for session `sid`, POSTed to `srv`; the
/// answer's primitive.
async fn post_in_session(srv: &RealServer, sid: &str, body: Element) -> Element {
    let tx = Transaction {
        mode: TransactionMode::Request,
        id: Some("fwd-1".into()),
        segment_info: None,
        body,
        ext: Vec::new(),
    };
    let m = Message::single(Version::V1_3, Some(sid.to_string()), tx);
    let bytes = imps_wire::encode(&m, WireEncoding::Xml).unwrap();
    let (code, _, answer) = post_raw(&srv.url(), "application/vnd.wv.csp.xml", bytes).await;
    assert_eq!(code, 200);
    let m = imps_wire::decode(&answer, WireEncoding::Xml, &Default::default()).unwrap();
    m.transactions[0].body.clone()
}

/// The text of the next group message `u` gets (other requests are
/// answered and skipped).
async fn group_text<T: crate::common::Inbox>(u: &crate::common::TestUser<T>) -> String {
    let (_, m) = u.expect("NewMessage").await;
    m.child_text("ContentData").unwrap().to_string()
}

#[tokio::test]
async fn cluster_users_on_two_nodes_chat_see_presence_talk_in_a_group_and_any_node_answers() {
    let Some(s) =
        shared("cluster_users_on_two_nodes_chat_see_presence_talk_in_a_group_and_any_node_answers")
    else {
        return;
    };
    let n1 = node(&s, "node-1");
    let n2 = node(&s, "node-2");
    n1.add_user("alice", "pw");
    n1.add_user("bob", "pw");
    let alice = n1.login("alice").ws().await;
    let bob = n2.login("bob").ws().await;
    sees_remote(&n1, 1).await;
    sees_remote(&n2, 1).await;

    // Chat both ways, with delivery reports crossing back.
    let mut req = bob.text_message(&["alice"], "hello alice, from node 2");
    req.delivery_report = Some(true);
    let resp = bob.send(&req).await;
    assert_eq!(resp.result.code, 200, "{resp:?}");
    let id = resp.message_id.unwrap();
    let (tid, m) = alice.expect("NewMessage").await;
    assert_eq!(
        m.path(&["MessageInfo", "MessageID"])
            .map(|e| e.text.as_str()),
        Some(id.as_str())
    );
    assert_eq!(
        m.child_text("ContentData"),
        Some("hello alice, from node 2")
    );
    alice.ack(&tid, &id).await;
    let (_, r) = bob.expect("DeliveryReport-Request").await;
    assert_eq!(
        r.path(&["MessageInfo", "MessageID"])
            .map(|e| e.text.as_str()),
        Some(id.as_str())
    );
    let back = alice.send_text("bob", "hi bob ✓ <&>").await;
    let (tid, m) = bob.expect("NewMessage").await;
    assert_eq!(m.child_text("ContentData"), Some("hi bob ✓ <&>"));
    bob.ack(&tid, &back).await;

    // Presence: alice (node 1) lets bob see her status text; bob (node 2)
    // subscribes, is told she is online (her session is on node 1), and
    // hears of her change.
    let v = Version::V1_3;
    assert_eq!(
        grant(&alice, v, &["bob"], &["StatusText", "OnlineStatus"]).await,
        200
    );
    assert_eq!(
        subscribe(&bob, v, &["alice"], Some(&["StatusText", "OnlineStatus"])).await,
        200
    );
    let (_, first) = bob.expect("PresenceNotification-Request").await;
    let list = first.path(&["Presence", "PresenceSubList"]).unwrap();
    assert_eq!(value_of(list, "OnlineStatus"), Some("T"), "{first:?}");
    // The subscription reaches node 1 over the bus: alice changes her
    // text until bob hears of it (each change is a new value).
    let mut heard = false;
    for i in 0..20 {
        let text = format!("on node 1, change {i}");
        assert_eq!(update(&alice, vec![attr("StatusText", &text)]).await, 200);
        while let Some((tid, n)) = bob.next_request_within(Duration::from_millis(500)).await {
            bob.client.answer_status(&tid).await.unwrap();
            if n.name == "PresenceNotification-Request"
                && n.path(&["Presence", "PresenceSubList", "StatusText", "PresenceValue"])
                    .is_some_and(|e| e.text == text)
            {
                heard = true;
            }
        }
        if heard {
            break;
        }
    }
    assert!(heard, "bob on node 2 heard of alice's change on node 1");

    // A group made on node 1, joined from node 2: each hears the other.
    let g = gid("alice", "club");
    let create = create_req(
        &g,
        &[("Name", "Club"), ("AccessType", "Open")],
        Some("Alice"),
    );
    expect_code(&alice, create, 200, "create on node 1").await;
    expect_named(
        &bob,
        join_req(&g, Some("Bob"), false),
        "JoinGroup-Response",
        "join on node 2",
    )
    .await;
    expect_code(
        &alice,
        group_message(&g, "club news from node 1"),
        200,
        "group send",
    )
    .await;
    assert_eq!(group_text(&bob).await, "club news from node 1");
    expect_code(&bob, group_message(&g, "read on node 2"), 200, "group send").await;
    let mut texts = Vec::new();
    while texts.last().map(String::as_str) != Some("read on node 2") {
        texts.push(group_text(&alice).await);
    }

    // A request for alice's session that reaches node 2 is answered by
    // node 1, which holds it; an unknown session is still unknown.
    let sid = alice.info.session_id.clone();
    let answer = post_in_session(&n2, &sid, Element::new("KeepAlive-Request")).await;
    assert_eq!(answer.name, "KeepAlive-Response", "{answer:?}");
    assert_eq!(code_of(&answer), Some(200), "{answer:?}");
    assert!(metric(&n2, "impsd_cluster_forwarded_total").await >= 1);
    assert!(metric(&n1, "impsd_cluster_forwarded_in_total").await >= 1);
    let unknown = post_in_session(&n2, "no-such-session", Element::new("KeepAlive-Request")).await;
    assert_eq!(code_of(&unknown), Some(604), "{unknown:?}");
    assert_eq!(metric(&n1, "impsd_cluster_dropped_total").await, 0);
    assert_eq!(metric(&n2, "impsd_cluster_dropped_total").await, 0);
}

#[tokio::test]
async fn cluster_node_killed_under_load_loses_and_duplicates_nothing_acknowledged() {
    let Some(s) =
        shared("cluster_node_killed_under_load_loses_and_duplicates_nothing_acknowledged")
    else {
        return;
    };
    let mut n1 = node(&s, "node-1");
    let n2 = node(&s, "node-2");
    let n3 = node(&s, "node-3");
    n1.add_user("alice", "pw");
    n1.add_user("bob", "pw");
    let alice = n1.login("alice").ws().await;
    let bob = n2.login("bob").ws().await;
    sees_remote(&n2, 1).await;

    // bob sends while node 1, which holds alice's session, dies.
    let sender = tokio::spawn(async move {
        let mut ok = Vec::new();
        for i in 0..40 {
            let resp = bob
                .send(&bob.text_message(&["alice"], &format!("m{i}")))
                .await;
            if resp.result.code == 200 {
                ok.push(resp.message_id.unwrap());
            }
        }
        (bob, ok)
    });
    // alice sees some of them on node 1 and acknowledges none.
    let (_, _) = alice.expect("NewMessage").await;
    n1.kill();
    let (_bob, acknowledged) = sender.await.unwrap();
    assert_eq!(acknowledged.len(), 40, "node 2 stored every message");
    // Node 1's sessions leave the directories; alice's ClientID is free.
    wait_until("nodes 2 and 3 dropped node 1", WAIT, || async {
        metric(&n2, "impsd_cluster_nodes").await == 1
            && metric(&n2, "impsd_cluster_remote_sessions").await == 0
            && metric(&n3, "impsd_cluster_nodes").await == 1
    })
    .await;

    // alice logs in again on node 3 with the same client, and gets every
    // message node 2 acknowledged, each once.
    let alice = n3.login("alice").ws().await;
    let mut got = Vec::new();
    while let Some((tid, m)) = alice.next_request_within(Duration::from_secs(3)).await {
        if m.name != "NewMessage" {
            alice.client.answer_status(&tid).await.unwrap();
            continue;
        }
        let id = m
            .path(&["MessageInfo", "MessageID"])
            .map(|e| e.text.clone())
            .unwrap();
        alice.ack(&tid, &id).await;
        got.push(id);
    }
    let unique: BTreeSet<_> = got.iter().cloned().collect();
    assert_eq!(unique.len(), got.len(), "no message came twice: {got:?}");
    let sent: BTreeSet<_> = acknowledged.into_iter().collect();
    assert_eq!(unique, sent, "every acknowledged message arrived");
}

/// A TCP relay between a node and the NATS server that the test can cut:
/// when it stops, its listener and every connection through it close.
struct Relay {
    addr: std::net::SocketAddr,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Relay {
    /// Listens on `at` (port 0: any) and relays to the NATS server at `nats`.
    async fn start(at: std::net::SocketAddr, nats: &str) -> Relay {
        let to = nats
            .trim_start_matches("nats://")
            .trim_end_matches('/')
            .to_string();
        let listener = tokio::net::TcpListener::bind(at).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, rx) = tokio::sync::watch::channel(false);
        let mut accept_stop = rx.clone();
        tokio::spawn(async move {
            loop {
                let (mut inbound, _) = tokio::select! {
                    r = listener.accept() => r.unwrap(),
                    _ = accept_stop.wait_for(|s| *s) => return,
                };
                let to = to.clone();
                let mut conn_stop = rx.clone();
                tokio::spawn(async move {
                    let Ok(mut out) = tokio::net::TcpStream::connect(&to).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut out) => {}
                        _ = conn_stop.wait_for(|s| *s) => {}
                    }
                });
            }
        });
        Relay { addr, stop }
    }

    fn url(&self) -> String {
        format!("nats://{}", self.addr)
    }

    fn cut(self) {
        let _ = self.stop.send(true);
    }
}

async fn healthz(srv: &RealServer) -> (u16, String) {
    get_text(&format!("http://{}/healthz", srv.http_addr())).await
}

/// `/healthz` of a cluster node has a line for its NATS link: `nats: ok`
/// while the link serves; 503 with `nats: unreachable (why)` once the
/// connection to NATS is lost (the relay between them is cut), so a load
/// balancer stops sending it clients; 200 again once it reconnects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_healthz_reports_the_nats_link() {
    let Some(s) = shared("cluster_healthz_reports_the_nats_link") else {
        return;
    };
    let relay = Relay::start(([127, 0, 0, 1], 0).into(), &s.nats).await;
    let (addr, url) = (relay.addr, relay.url());
    let n1 = node_with(&s, "node-1", move |c| c.cluster.nats_url = Some(url));
    assert_eq!(
        healthz(&n1).await,
        (200, "ok\nstore: ok\nnats: ok\n".to_string())
    );
    relay.cut();
    wait_until("the node reports NATS unreachable", WAIT, || async {
        let (code, text) = healthz(&n1).await;
        code == 503 && text.starts_with("unhealthy\nstore: ok\nnats: unreachable (")
    })
    .await;
    let _relay = Relay::start(addr, &s.nats).await;
    wait_until("the node reconnects to NATS", WAIT, || async {
        healthz(&n1).await == (200, "ok\nstore: ok\nnats: ok\n".to_string())
    })
    .await;
}

/// The sum of a metric over some nodes.
async fn metric_sum(nodes: &[&RealServer], name: &str) -> u64 {
    let mut n = 0;
    for srv in nodes {
        n += metric(srv, name).await;
    }
    n
}

/// A node dies (SIGKILL) holding alice's session. Within the node TTL a
/// surviving node takes that node's sessions from the store and ends
/// them for everybody, exactly one node doing it: bob, who watches alice
/// from another node, is told she went offline; her ClientID, refused on
/// another node while her session lived (GEN-13 across nodes), is free:
/// she logs in with it on a third node and gets what bob sent meanwhile.
#[tokio::test]
async fn cluster_a_dead_nodes_sessions_end_watchers_hear_and_client_ids_are_freed() {
    let Some(s) =
        shared("cluster_a_dead_nodes_sessions_end_watchers_hear_and_client_ids_are_freed")
    else {
        return;
    };
    let mut n1 = node(&s, "node-1");
    let n2 = node(&s, "node-2");
    let n3 = node(&s, "node-3");
    n1.add_user("alice", "pw");
    n1.add_user("bob", "pw");
    let alice = n1.login("alice").ws().await;
    let bob = n2.login("bob").ws().await;
    sees_remote(&n2, 1).await;
    sees_remote(&n3, 2).await;

    let v = Version::V1_3;
    assert_eq!(grant(&alice, v, &["bob"], &["OnlineStatus"]).await, 200);
    assert_eq!(
        subscribe(&bob, v, &["alice"], Some(&["OnlineStatus"])).await,
        200
    );
    let (tid, first) = bob.expect("PresenceNotification-Request").await;
    bob.client.answer_status(&tid).await.unwrap();
    let list = first.path(&["Presence", "PresenceSubList"]).unwrap();
    assert_eq!(value_of(list, "OnlineStatus"), Some("T"), "{first:?}");

    // Her ClientID is in use on node 1: node 3 refuses a second login with it.
    let twin = imps_client::Client::new(
        imps_client::ClientConfig::new(n3.url(), v, imps_client::Encoding::Xml)
            .with_client_id("alice-phone"),
    )
    .unwrap();
    let err = twin.login_password("alice", "pw").await.unwrap_err();
    assert_eq!(err.status_code(), Some(603), "{err}");

    n1.kill();
    let killed = std::time::Instant::now();
    let (tid, gone) = bob.expect("PresenceNotification-Request").await;
    bob.client.answer_status(&tid).await.unwrap();
    let list = gone.path(&["Presence", "PresenceSubList"]).unwrap();
    assert_eq!(value_of(list, "OnlineStatus"), Some("F"), "{gone:?}");
    // TTL 1 s, heartbeats every 200 ms: told within a few seconds.
    assert!(
        killed.elapsed() < Duration::from_secs(5),
        "{:?}",
        killed.elapsed()
    );
    wait_until("one surviving node ended alice's session", WAIT, || async {
        metric_sum(&[&n2, &n3], "impsd_cluster_dead_sessions_ended_total").await == 1
    })
    .await;

    let id = bob.send_text("alice", "while your node was down").await;
    wait_until("node 3 dropped node 1", WAIT, || async {
        metric(&n3, "impsd_cluster_remote_sessions").await == 1
    })
    .await;
    let alice = n3.login("alice").ws().await;
    let m = alice.receive().await;
    assert_eq!(m.message_info.message_id.as_deref(), Some(id.as_str()));
    assert_eq!(m.content_data.as_deref(), Some("while your node was down"));
    assert_eq!(
        metric_sum(&[&n2, &n3], "impsd_cluster_dead_sessions_ended_total").await,
        1,
        "the session was ended once"
    );
}

/// A node stopped with SIGTERM drains (`cluster.drain_timeout_ms`):
/// alice, connected to it, gets what was queued for her and a Disconnect
/// (601); while the drain lasts (carol's Disconnect waits for a poll that
/// never comes) its /healthz says `draining` with 503 and it refuses new
/// logins (503); alice logs in again with the same ClientID on the other
/// node and gets what bob sent meanwhile; what alice sent just before the
/// stop reaches bob; the process exits within the drain timeout.
#[tokio::test]
async fn cluster_a_drained_node_sends_its_clients_elsewhere_and_loses_nothing() {
    let Some(s) = shared("cluster_a_drained_node_sends_its_clients_elsewhere_and_loses_nothing")
    else {
        return;
    };
    let mut n1 = node_with(&s, "node-1", |c| c.cluster.drain_timeout_ms = 4000);
    let n2 = node(&s, "node-2");
    for u in ["alice", "bob", "carol"] {
        n1.add_user(u, "pw");
    }
    let alice = n1.login("alice").ws().await;
    let _carol = n1.login("carol").http().await;
    let bob = n2.login("bob").ws().await;
    sees_remote(&n2, 2).await;
    sees_remote(&n1, 1).await;
    let before = bob.send_text("alice", "before the drain").await;
    let m = alice.receive().await;
    assert_eq!(m.message_info.message_id.as_deref(), Some(before.as_str()));
    let to_bob = alice.send_text("bob", "leaving soon").await;

    let pid = n1.child().unwrap().id();
    let stopped = std::time::Instant::now();
    let term = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(term.success());

    let (_, bye) = alice.expect("Disconnect").await;
    assert_eq!(code_of(&bye), Some(601), "{bye:?}");
    let (code, text) = healthz(&n1).await;
    assert_eq!(code, 503, "{text}");
    assert!(text.starts_with("draining\n"), "{text}");
    let late = imps_client::Client::new(
        imps_client::ClientConfig::new(n1.url(), Version::V1_3, imps_client::Encoding::Xml)
            .with_client_id("alice-laptop"),
    )
    .unwrap();
    let err = late.login_password("alice", "pw").await.unwrap_err();
    assert_eq!(err.status_code(), Some(503), "{err}");

    let during = bob.send_text("alice", "during the drain").await;
    let m = bob.receive().await;
    assert_eq!(m.message_info.message_id.as_deref(), Some(to_bob.as_str()));
    // Node 1's directory is empty at once: her ClientID is free on node 2.
    wait_until("node 2 sees no session on node 1", WAIT, || async {
        metric(&n2, "impsd_cluster_remote_sessions").await == 0
    })
    .await;
    let alice = n2.login("alice").ws().await;
    let m = alice.receive().await;
    assert_eq!(m.message_info.message_id.as_deref(), Some(during.as_str()));
    assert!(
        alice
            .next_request_within(Duration::from_millis(500))
            .await
            .is_none(),
        "the message acknowledged before the drain is not offered again"
    );
    exits_within(&mut n1, stopped, Duration::from_secs(4 + 5)).await;
}

/// Waits for `node`'s process to exit, which must happen within `limit`
/// of `since`.
async fn exits_within(node: &mut RealServer, since: std::time::Instant, limit: Duration) {
    wait_until("the node exits", WAIT, || {
        let running = node.is_running();
        async move { !running }
    })
    .await;
    assert!(since.elapsed() < limit, "{:?}", since.elapsed());
}

/// `impsd node drain` (the operator's command, through the admin
/// endpoint) drains a cluster node as SIGTERM does: its client is told to
/// log in again (Disconnect 601), the process exits within the drain
/// timeout, and she logs in on the other node.
#[tokio::test]
async fn cluster_impsd_node_drain_sends_clients_elsewhere_and_stops_the_node() {
    let Some(s) = shared("cluster_impsd_node_drain_sends_clients_elsewhere_and_stops_the_node")
    else {
        return;
    };
    let mut n1 = node_with(&s, "node-1", |c| c.cluster.drain_timeout_ms = 4000);
    let n2 = node(&s, "node-2");
    n1.add_user("alice", "pw");
    let alice = n1.login("alice").ws().await;
    sees_remote(&n2, 1).await;

    let stopped = std::time::Instant::now();
    // Run without blocking the test's runtime, which must go on reading
    // alice's WebSocket while the node drains.
    let out = tokio::process::Command::new(n1.bin())
        .args(["node", "drain", "--config"])
        .arg(n1.config_path())
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("draining; the server stops within 4000 ms"),
        "{said}"
    );
    let (_, bye) = alice.expect("Disconnect").await;
    assert_eq!(code_of(&bye), Some(601), "{bye:?}");
    exits_within(&mut n1, stopped, Duration::from_secs(4 + 5)).await;
    let status = n1.child().unwrap().try_wait().unwrap();
    assert_eq!(status.map(|s| s.success()), Some(true), "a clean exit");
    wait_until("node 2 sees no session on node 1", WAIT, || async {
        metric(&n2, "impsd_cluster_remote_sessions").await == 0
    })
    .await;
    // Her ClientID is free: she is back, on node 2.
    let _alice = n2.login("alice").ws().await;
}

/// `[sms]` on, through the SMSC at `smsc`, with offline notices by SMS.
fn sms_on(smsc: String) -> impl FnOnce(&mut impsd::config::Config) + 'static {
    move |c| {
        c.sms.enabled = true;
        c.sms.smsc = smsc;
        c.sms.retry_ms = 100;
        c.sms.reconnect_min_ms = 50;
        c.sms.reconnect_max_ms = 400;
        c.im.offline_notify = OfflineNotify::Sms;
        c.im.offline_notify_bearer = NotifyBearer::Sms;
        c.im.send_rate_per_sec = 0;
    }
}

/// Two nodes with `[sms]` on share the SMS queue in PostgreSQL and one
/// SMSC, which is slow to answer: while node 1 waits for the answers to
/// the notices it took, node 2 looks at the queue every 100 ms. Each
/// notice reaches the SMSC once (`sms.claim_lease_ms`: a job taken by one
/// dispatcher is out of the others' reach while it is sent).
#[tokio::test]
async fn cluster_two_sms_dispatchers_send_each_short_message_once() {
    let Some(s) = shared("cluster_two_sms_dispatchers_send_each_short_message_once") else {
        return;
    };
    let smsc = TestSmsc::start().await;
    smsc.slow_submits(Duration::from_millis(250));
    let n1 = node_with(&s, "node-1", sms_on(smsc.addr().to_string()));
    let n2 = node_with(&s, "node-2", sms_on(smsc.addr().to_string()));
    n1.add_user("alice", "pw");
    let numbers: Vec<String> = (0..8).map(|i| format!("+4672000000{i}")).collect();
    for (i, m) in numbers.iter().enumerate() {
        n1.cli(&[
            "user",
            "add",
            &format!("u{i}"),
            "--password",
            "pw",
            "--msisdn",
            m,
        ]);
    }
    smsc.wait("both nodes bound", |s| {
        s.of(CommandId::BIND_TRANSMITTER).len() >= 2
    })
    .await;
    let alice = n1.login("alice").ws().await;
    for i in 0..numbers.len() {
        alice.send_text(&format!("u{i}"), "hi").await;
    }
    smsc.wait_submits(numbers.len()).await;
    // Done when every submit the SMSC saw has been answered and counted by
    // one of the nodes: a second copy would be a submit more.
    wait_until("every submit answered and counted", WAIT, || async {
        let sent = metric_sum(&[&n1, &n2], "impsd_sms_sent_total").await;
        sent >= numbers.len() as u64 && sent == smsc.submits().len() as u64
    })
    .await;
    let mut to: Vec<String> = smsc
        .submits()
        .iter()
        .map(|r| r.submit().destination_addr.clone())
        .collect();
    to.sort();
    let want: Vec<String> = numbers
        .iter()
        .map(|m| m.trim_start_matches('+').to_string())
        .collect();
    assert_eq!(to, want, "each notice once");
}

/// Joins racing on two nodes for the last places of a group: the
/// capacity check (MaxActiveUsers) is one atomic step in the store, so
/// however the joins from both nodes interleave, exactly as many get in
/// as there are places and the others get 817.
#[tokio::test]
async fn cluster_group_joins_racing_on_two_nodes_never_pass_the_limit() {
    let Some(s) = shared("cluster_group_joins_racing_on_two_nodes_never_pass_the_limit") else {
        return;
    };
    const PLACES: usize = 4;
    const JOINERS: usize = 12;
    let n1 = node(&s, "node-1");
    let n2 = node(&s, "node-2");
    n1.add_user("alice", "pw");
    for i in 0..JOINERS {
        n1.add_user(&format!("j{i}"), "pw");
    }
    let alice = n1.login("alice").ws().await;
    let g = gid("alice", "small");
    let max = (PLACES + 1).to_string();
    let create = create_req(
        &g,
        &[("AccessType", "Open"), ("MaxActiveUsers", max.as_str())],
        Some("Alice"),
    );
    expect_code(&alice, create, 200, "create with alice joined").await;
    let mut users = Vec::new();
    for i in 0..JOINERS {
        let srv = if i % 2 == 0 { &n1 } else { &n2 };
        users.push(srv.login(&format!("j{i}")).ws().await);
    }
    let joins = users.iter().enumerate().map(|(i, u)| {
        let g = g.clone();
        async move {
            u.request(join_req(&g, Some(&format!("J{i}")), false))
                .await
                .unwrap()
        }
    });
    let answers = futures_util::future::join_all(joins).await;
    let mut joined = 0;
    for a in &answers {
        if a.name == "JoinGroup-Response" {
            joined += 1;
        } else {
            assert_eq!(code_of(a), Some(817), "group full: {a:?}");
        }
    }
    assert_eq!(joined, PLACES, "{answers:?}");
}
