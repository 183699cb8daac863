//! Federation over SSP (issue 17), end to end: two real `impsd` processes
//! on loopback serving a.test and b.test, each with the other in its
//! static peer table. The server association (six-step secret exchange,
//! renewal), 1:1 messages both ways in XML and WBXML with delivery
//! reports keeping the original MessageID, durability across a SIGKILL
//! of either side, and forged peers refused.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use crate::common;

use common::{
    Inbox, RealServer, RealServerBuilder, TestUser, code_of, get_text, impsd_bin, post_raw,
    wait_until,
};
use imps_client::Encoding;
use imps_wire::csp;
use imps_wire::ssp::{
    MetaInfo, Mode, SSP_CONTENT_TYPE, SetupStep, SetupTransaction, SspMessage, SspSession,
    SspTransaction, SspUser, secret_digest,
};
use imps_wire::ssp_im::{SendMessageRequest, SspMessageInfo};
use impsd::federation::PeerSettings;

pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// A port for a server whose peer must know its address before it starts.
/// A port from `bind(0)` comes from the kernel's ephemeral range and, once
/// freed, may be handed to another test's socket before this server binds
/// it (tests run in parallel). These come from below that range (20000 to
/// 31999), from one counter per test process (offset by the process ID,
/// should two test processes run at once), each checked free.
pub(crate) fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let offset = (std::process::id() % 600) * 20;
    for _ in 0..12_000 {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = 20_000 + (offset + n) % 12_000;
        let port = u16::try_from(port).unwrap();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between 20000 and 31999")
}

/// A server for `domain` on `port` whose peer table names `peer` on
/// `peer_port`; `ttl` is its association lifetime.
pub(crate) fn server(domain: &str, port: u16, peer: &str, peer_port: u16, ttl: u64) -> RealServer {
    server_builder(domain, port, peer, peer_port, ttl).start()
}

/// [`server`]'s settings, for a test that changes more of them.
pub(crate) fn server_builder(
    domain: &str,
    port: u16,
    peer: &str,
    peer_port: u16,
    ttl: u64,
) -> RealServerBuilder<'static> {
    let (domain, peer) = (domain.to_string(), peer.to_string());
    RealServer::builder(impsd_bin!()).config(move |c| {
        c.domain = domain;
        c.listen = format!("127.0.0.1:{port}").parse().unwrap();
        c.log = "info".into();
        c.federation.enabled = true;
        c.federation.association_ttl_secs = ttl;
        c.federation.retry_min_ms = 100;
        c.federation.retry_max_ms = 400;
        c.federation.handshake_timeout_ms = 5_000;
        c.federation.request_timeout_ms = 2_000;
        c.federation.peers = vec![PeerSettings {
            domain: peer,
            url: format!("http://127.0.0.1:{peer_port}/imps"),
            sus: false,
            require_client_cert: false,
        }];
    })
}

/// a.test and b.test, each with alice / bob.
pub(crate) fn pair(ttl: u64) -> (RealServer, RealServer) {
    let (pa, pb) = (free_port(), free_port());
    let a = server("a.test", pa, "b.test", pb, ttl);
    let b = server("b.test", pb, "a.test", pa, ttl);
    a.add_user("alice", "pw");
    b.add_user("bob", "pw");
    (a, b)
}

/// Sends `text` from `from` (`wv:` ID `from_id`) to `to_id`, with a
/// delivery report; expects 200 and returns the MessageID.
pub(crate) async fn send<T: Inbox>(
    from: &TestUser<T>,
    from_id: &str,
    to_id: &str,
    text: &str,
) -> String {
    let mut req = from.text_message(&[], text);
    req.delivery_report = Some(true);
    req.message_info.recipient = Some(csp::Recipient {
        users: vec![csp::User::new(to_id)],
        ..Default::default()
    });
    req.message_info.sender = Some(csp::Sender::user(from_id));
    let resp = from.send(&req).await;
    assert_eq!(resp.result.code, 200, "{resp:?}");
    resp.message_id.expect("a MessageID")
}

/// Receives one message; checks its sender, MessageID and text.
pub(crate) async fn receive<T: Inbox>(to: &TestUser<T>, sender: &str, id: &str, text: &str) {
    let m = to.receive().await;
    assert_eq!(m.content_data.as_deref(), Some(text), "{m:?}");
    assert_eq!(
        m.message_info.message_id.as_deref(),
        Some(id),
        "original MessageID kept"
    );
    match m.message_info.sender.map(|s| s.party) {
        Some(csp::Party::User(u)) => assert_eq!(u.user_id, sender),
        other => panic!("sender {other:?}"),
    }
}

/// Waits for the delivery report of `id` naming `recipient`, code 200.
pub(crate) async fn report<T: Inbox>(to: &TestUser<T>, id: &str, recipient: &str) {
    let (_, r) = to.expect("DeliveryReport-Request").await;
    assert_eq!(
        r.path(&["MessageInfo", "MessageID"])
            .map(|e| e.text.as_str()),
        Some(id)
    );
    assert_eq!(
        r.path(&["MessageInfo", "Recipient", "User", "UserID"])
            .map(|e| e.text.as_str()),
        Some(recipient)
    );
    assert_eq!(
        r.path(&["Result", "Code"]).map(|e| e.text.as_str()),
        Some("200")
    );
}

/// The value of a metric line `name{peer="peer"}` at `srv`.
pub(crate) async fn metric(srv: &RealServer, name: &str, peer: &str) -> u64 {
    let (_, text) = get_text(&srv.metrics_url()).await;
    let key = format!("{name}{{peer=\"{peer}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&key))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// A send to a user of a peer domain that the client retries under its
/// own MessageID (its answer lost, say) is recognised: the same server
/// MessageID comes back and the peer gets the message once, also when
/// the message has a local recipient too.
#[tokio::test]
async fn ssp_a_retried_send_to_a_remote_user_is_queued_once() {
    let (a, b) = pair(86_400);
    a.add_user("carol", "pw");
    let alice = a.login("alice").ws().await;
    let carol = a.login("carol").ws().await;
    let bob = b.login("bob").ws().await;
    let retried = |text: &str, to: &[&str], client_ref: &str| {
        let mut req = alice.text_message(&[], text);
        req.message_info.recipient = Some(csp::Recipient {
            users: to.iter().map(|u| csp::User::new(*u)).collect(),
            ..Default::default()
        });
        req.message_info.sender = Some(csp::Sender::user("wv:alice@a.test"));
        req.message_info.message_id = Some(client_ref.to_string());
        req
    };
    let req = retried("only once", &["wv:bob@b.test"], "alice-ref-1");
    let first = alice.send(&req).await;
    assert_eq!(first.result.code, 200, "{first:?}");
    let again = alice.send(&req).await;
    assert_eq!(again.result.code, 200, "{again:?}");
    assert_eq!(
        first.message_id, again.message_id,
        "the retry was not recognised"
    );
    let id = first.message_id.expect("a MessageID");

    // To bob and carol at once, retried: each gets it once.
    let req = retried(
        "both once",
        &["wv:bob@b.test", "wv:carol@a.test"],
        "alice-ref-2",
    );
    let both = alice.send(&req).await;
    assert_eq!(both.result.code, 200, "{both:?}");
    let both_again = alice.send(&req).await;
    assert_eq!(both.message_id, both_again.message_id);
    let both_id = both.message_id.expect("a MessageID");

    // Then one more, not retried: the peer's queue is in order, so what
    // bob gets after the first two says whether a copy went between.
    let last = send(&alice, "wv:alice@a.test", "wv:bob@b.test", "the last").await;
    receive(&bob, "wv:alice@a.test", &id, "only once").await;
    receive(&bob, "wv:alice@a.test", &both_id, "both once").await;
    receive(&bob, "wv:alice@a.test", &last, "the last").await;
    receive(&carol, "wv:alice@a.test", &both_id, "both once").await;
    assert!(
        carol
            .next_request_within(Duration::from_millis(300))
            .await
            .is_none(),
        "carol got the retried message twice"
    );
}

#[tokio::test]
async fn ssp_alice_and_bob_chat_across_domains_in_xml_and_wbxml_with_delivery_reports() {
    let (a, b) = pair(86_400);
    let alice = a.login("alice").ws().await;
    let bob = b.login("bob").encoding(Encoding::Wbxml).ws().await;

    let id = send(
        &alice,
        "wv:alice@a.test",
        "wv:bob@b.test",
        "hello bob, from a",
    )
    .await;
    receive(&bob, "wv:alice@a.test", &id, "hello bob, from a").await;
    report(&alice, &id, "wv:bob@b.test").await;

    // And back, over the association a.test made (either side may use it).
    let back = send(&bob, "wv:bob@b.test", "wv:alice@a.test", "hi alice ✓ <&>").await;
    receive(&alice, "wv:bob@b.test", &back, "hi alice ✓ <&>").await;
    report(&bob, &back, "wv:alice@a.test").await;

    // One association, made by a.test; per-peer counters on both sides.
    assert_eq!(
        metric(&a, "impsd_ssp_associations_total", "b.test").await,
        1
    );
    assert_eq!(
        metric(&b, "impsd_ssp_associations_total", "a.test").await,
        1
    );
    // Counted once the peer's 2xx is in (bob may see the report first).
    wait_until("a.test counted what b.test took", WAIT, || async {
        metric(&a, "impsd_ssp_sent_total", "b.test").await >= 2
    })
    .await;
    assert!(metric(&b, "impsd_ssp_received_total", "a.test").await >= 2);
    let peers = a.cli(&["peer", "list"]);
    assert!(peers.starts_with("b.test\tlive\t"), "{peers}");
    // `peer test` makes a new association at once; one not in the table
    // is an error.
    let tested = b.cli(&["peer", "test", "a.test"]);
    assert!(
        tested.starts_with("a.test: association made in "),
        "{tested}"
    );
    assert_eq!(
        metric(&b, "impsd_ssp_associations_total", "a.test").await,
        2
    );
    assert!(!b.cli_output(&["peer", "test", "c.test"]).status.success());

    // A user of a domain that is not a peer is still refused (516).
    let mut req = alice.text_message(&[], "x");
    req.message_info.recipient = Some(csp::Recipient {
        users: vec![csp::User::new("wv:carol@c.test")],
        ..Default::default()
    });
    req.message_info.sender = Some(csp::Sender::user("wv:alice@a.test"));
    let resp = alice
        .request(req.to_element(alice.version()))
        .await
        .unwrap();
    assert_eq!(code_of(&resp), Some(516), "{resp:?}");
}

#[tokio::test]
async fn ssp_message_acknowledged_to_its_sender_survives_sigkill_of_either_server() {
    let (mut a, mut b) = pair(86_400);
    let alice = a.login("alice").ws().await;
    let bob = b.login("bob").ws().await;
    let first = send(&alice, "wv:alice@a.test", "wv:bob@b.test", "before").await;
    receive(&bob, "wv:alice@a.test", &first, "before").await;
    report(&alice, &first, "wv:bob@b.test").await;
    wait_until("a.test saw b.test take the first message", WAIT, || async {
        metric(&a, "impsd_ssp_sent_total", "b.test").await >= 1
    })
    .await;

    // b.test dies; alice is told "sent": the message waits at a.test.
    b.kill();
    let id = send(
        &alice,
        "wv:alice@a.test",
        "wv:bob@b.test",
        "while you were down",
    )
    .await;
    wait_until("the message waits in a.test's queue", WAIT, || async {
        metric(&a, "impsd_ssp_queue_depth", "b.test").await == 1
    })
    .await;
    // a.test dies too, with the message only in its store.
    a.kill();
    b.restart();
    a.restart();
    // b.test forgot the association; a.test makes a new one and delivers.
    let bob = b.login("bob").client_id("bob-tablet").ws().await;
    // b.test may offer "before" again under its MessageID (its removal
    // after bob's acknowledgement may not have reached the disk before
    // the SIGKILL): at least once, never lost.
    loop {
        let m = bob.receive().await;
        let got = m.message_info.message_id.clone();
        if got.as_deref() == Some(first.as_str()) {
            continue;
        }
        assert_eq!(got.as_deref(), Some(id.as_str()), "original MessageID kept");
        assert_eq!(m.content_data.as_deref(), Some("while you were down"));
        break;
    }
    wait_until("a.test's queue is empty", WAIT, || async {
        metric(&a, "impsd_ssp_queue_depth", "b.test").await == 0
    })
    .await;
    drop(bob);
    drop(alice);
}

#[tokio::test]
async fn ssp_association_is_renewed_before_it_expires() {
    let (a, b) = pair(2);
    let alice = a.login("alice").ws().await;
    let bob = b.login("bob").ws().await;
    let id = send(&alice, "wv:alice@a.test", "wv:bob@b.test", "one").await;
    receive(&bob, "wv:alice@a.test", &id, "one").await;
    // Renewed at 80 % of two seconds, again and again, without traffic.
    wait_until("a.test renewed its association", WAIT, || async {
        metric(&a, "impsd_ssp_associations_total", "b.test").await >= 3
    })
    .await;
    // Past the first association's lifetime, traffic still flows.
    let id = send(&alice, "wv:alice@a.test", "wv:bob@b.test", "two").await;
    receive(&bob, "wv:alice@a.test", &id, "two").await;
    let again = send(&bob, "wv:bob@b.test", "wv:alice@a.test", "three").await;
    receive(&alice, "wv:bob@b.test", &again, "three").await;
}

fn setup(mode: Mode, tid: &str, step: SetupStep) -> Vec<u8> {
    SspMessage::Setup(SetupTransaction {
        mode,
        transaction_id: tid.into(),
        step,
    })
    .encode()
}

/// The status code of a refused setup step's answer.
fn refusal_code(body: &[u8]) -> u16 {
    match SspMessage::decode(body, &imps_wire::Limits::default()).unwrap() {
        SspMessage::Setup(SetupTransaction {
            step: SetupStep::LoginResponse { status, .. },
            ..
        }) => status.code,
        other => panic!("{other:?}"),
    }
}

/// A message as a.test would send it, acting for `actor`.
fn message_from(session: &str, actor: &str, id: &str) -> Vec<u8> {
    messages_from(session, &[(actor, id, "1", "forged")])
}

/// One POST of messages to bob as a.test would send them: each
/// (acting user, MessageID, TransactionID, text).
fn messages_from(session: &str, msgs: &[(&str, &str, &str, &str)]) -> Vec<u8> {
    let transactions = msgs
        .iter()
        .map(|&(actor, id, tid, text)| SspTransaction {
            mode: Mode::Request,
            transaction_id: tid.into(),
            primitive: bob_message(actor, id, text).to_element(),
        })
        .collect();
    SspMessage::Session(SspSession {
        session_id: session.into(),
        transactions,
    })
    .encode()
}

fn bob_message(actor: &str, id: &str, text: &str) -> SendMessageRequest {
    SendMessageRequest {
        delivery_report: false,
        meta: MetaInfo {
            client_originated: true,
            service_id: "wv:@a.test".into(),
            user: Some(SspUser {
                user_id: actor.into(),
                friendly_name: None,
                client_id: None,
            }),
        },
        info: SspMessageInfo {
            message_id: id.into(),
            content_type: Some("text/plain".into()),
            content_size: None,
            recipients: vec!["wv:bob@b.test".into()],
            sender: Some(actor.into()),
            date_time: None,
        },
        content: text.as_bytes().to_vec(),
    }
}

#[tokio::test]
async fn ssp_forged_peers_are_refused() {
    let (a, b) = pair(86_400);
    let url = b.url();
    let token = |secret: &str, domain: &str| SetupStep::SendSecretToken {
        service_id: format!("wv:@{domain}"),
        protocol: "WV-SSP".into(),
        protocol_version: "1.3".into(),
        secret: secret.into(),
    };

    // A domain not in b.test's table: 403, Status 516.
    let (code, ct, body) = post_raw(
        &url,
        SSP_CONTENT_TYPE,
        setup(Mode::Request, "1", token("s3cret", "evil.test")),
    )
    .await;
    assert_eq!((code, ct.as_deref()), (403, Some(SSP_CONTENT_TYPE)));
    assert_eq!(refusal_code(&body), 516);

    // Claiming a.test: b.test sends its secret to a.test's published URL,
    // not to the forger, who can only guess the digest: 403, Status 409.
    let (code, _, _) = post_raw(
        &url,
        SSP_CONTENT_TYPE,
        setup(Mode::Request, "7", token("s3cret", "a.test")),
    )
    .await;
    assert_eq!(code, 200);
    let guess = SetupStep::LoginRequest {
        service_id: "wv:@a.test".into(),
        time_to_live: Some(60),
        digest: secret_digest("a guess"),
    };
    let (code, _, body) = post_raw(&url, SSP_CONTENT_TYPE, setup(Mode::Request, "7", guess)).await;
    assert_eq!(code, 403);
    assert_eq!(refusal_code(&body), 409);

    // Traffic in a session b.test never agreed to: 403.
    let (code, _, _) = post_raw(
        &url,
        SSP_CONTENT_TYPE,
        message_from("1234@a.test", "wv:alice@a.test", "forged-1"),
    )
    .await;
    assert_eq!(code, 403);

    // A live association: a.test's session label, as `impsd peer list`
    // shows it. Traffic in it acting for a user of a third domain is
    // refused (901) and not delivered; acting for a.test's own user, it
    // is (the control).
    let alice = a.login("alice").ws().await;
    let bob = b.login("bob").ws().await;
    let id = send(&alice, "wv:alice@a.test", "wv:bob@b.test", "real").await;
    receive(&bob, "wv:alice@a.test", &id, "real").await;
    let peers = a.cli(&["peer", "list"]);
    let session = peers.split('\t').nth(2).unwrap().to_string();
    assert!(session.ends_with("@a.test"), "{peers}");
    let refused_before = metric(&b, "impsd_ssp_refused_total", "a.test").await;
    let (code, _, _) = post_raw(
        &url,
        SSP_CONTENT_TYPE,
        message_from(&session, "wv:mallory@c.test", "forged-2"),
    )
    .await;
    assert_eq!(code, 200, "taken, and answered with a refusal");
    assert_eq!(
        metric(&b, "impsd_ssp_refused_total", "a.test").await,
        refused_before + 1
    );
    let (code, _, _) = post_raw(
        &url,
        SSP_CONTENT_TYPE,
        message_from(&session, "wv:alice@a.test", "control-3"),
    )
    .await;
    assert_eq!(code, 200);
    // The first message bob gets is the control: the forged one never came.
    let m = bob.receive().await;
    assert_eq!(m.message_info.message_id.as_deref(), Some("control-3"));
    assert_eq!(m.content_data.as_deref(), Some("forged"));
}

/// The association of a.test with b.test made by a real message from
/// alice to bob (who is offline: everything waits for him there): its
/// MessageID, and a.test's session label for raw POSTs as a.test.
async fn live_session(a: &RealServer) -> (String, String) {
    let alice = a.login("alice").ws().await;
    let first = send(&alice, "wv:alice@a.test", "wv:bob@b.test", "real").await;
    wait_until("a.test delivered to b.test", WAIT, || async {
        metric(a, "impsd_ssp_sent_total", "b.test").await > 0
    })
    .await;
    let peers = a.cli(&["peer", "list"]);
    let session = peers.split('\t').nth(2).unwrap().to_string();
    assert!(session.ends_with("@a.test"), "{peers}");
    (first, session)
}

/// A peer's message under a MessageID that names a message still waiting
/// here: the same message again (same sender and text, after the dedupe
/// window) is answered as a duplicate and stored once; another sender's
/// message under that ID is refused alone (426); the messages beside them
/// in the POST are taken and delivered in order. Neither fails the POST
/// (which the peer would send again and again).
#[tokio::test]
async fn ssp_a_message_under_a_taken_message_id_is_refused_alone() {
    let (pa, pb) = (free_port(), free_port());
    let a = server("a.test", pa, "b.test", pb, 86_400);
    // No dedupe window: a resend is only recognised by the stored
    // message itself.
    let b = server_builder("b.test", pb, "a.test", pa, 86_400)
        .config(|c| c.im.dedupe_window_secs = 0)
        .start();
    a.add_user("alice", "pw");
    b.add_user("bob", "pw");
    let (first, session) = live_session(&a).await;

    let url = b.url();
    let post = |msgs: &[(&str, &str, &str, &str)]| {
        let body = messages_from(&session, msgs);
        let url = url.clone();
        async move { post_raw(&url, SSP_CONTENT_TYPE, body).await.0 }
    };
    let code = post(&[("wv:alice@a.test", "same-1", "p1", "hello")]).await;
    assert_eq!(
        code,
        200,
        "b.test's log:\n{}",
        std::fs::read_to_string(b.log_path()).unwrap_or_default()
    );
    let refused_before = metric(&b, "impsd_ssp_refused_total", "a.test").await;
    let code = post(&[
        ("wv:alice@a.test", "same-1", "p2", "hello"),
        ("wv:carol@a.test", "same-1", "p3", "not hello"),
        ("wv:alice@a.test", "next-2", "p4", "after"),
    ])
    .await;
    assert_eq!(
        code,
        200,
        "the POST is taken; b.test's log:\n{}",
        std::fs::read_to_string(b.log_path()).unwrap_or_default()
    );
    assert_eq!(
        metric(&b, "impsd_ssp_refused_total", "a.test").await,
        refused_before + 1,
        "carol's message refused"
    );

    // In order, each once: the resend and carol's message never came.
    let bob = b.login("bob").ws().await;
    receive(&bob, "wv:alice@a.test", &first, "real").await;
    receive(&bob, "wv:alice@a.test", "same-1", "hello").await;
    receive(&bob, "wv:alice@a.test", "next-2", "after").await;
}

/// A message to two users of one peer domain reaches both, under one
/// MessageID: it goes as one transaction naming both, which the peer
/// stores once for the two (two transactions under one MessageID would
/// be one message sent again, there).
#[tokio::test]
async fn ssp_a_message_to_two_users_of_one_peer_domain_reaches_both() {
    let (a, b) = pair(86_400);
    b.add_user("carol", "pw");
    let alice = a.login("alice").ws().await;
    let bob = b.login("bob").ws().await;
    let carol = b.login("carol").ws().await;
    let mut req = alice.text_message(&[], "to you both");
    req.message_info.recipient = Some(csp::Recipient {
        users: vec![
            csp::User::new("wv:bob@b.test"),
            csp::User::new("wv:carol@b.test"),
        ],
        ..Default::default()
    });
    req.message_info.sender = Some(csp::Sender::user("wv:alice@a.test"));
    let resp = alice.send(&req).await;
    assert_eq!(resp.result.code, 200, "{resp:?}");
    let id = resp.message_id.expect("a MessageID");
    receive(&bob, "wv:alice@a.test", &id, "to you both").await;
    receive(&carol, "wv:alice@a.test", &id, "to you both").await;
}

/// A peer's message that no store could keep as it came (a ContentSize
/// past what a store holds, a NUL in its text) is taken all the same,
/// not failed for ever with the POST: the size is the text's own, and a
/// text with a NUL goes on as binary content.
#[tokio::test]
async fn ssp_a_message_with_an_impossible_size_or_a_nul_is_taken() {
    let (a, b) = pair(86_400);
    let (first, session) = live_session(&a).await;
    let mut big = bob_message("wv:alice@a.test", "big-1", "big");
    big.info.content_size = Some(u64::MAX);
    let nul = bob_message("wv:alice@a.test", "nul-2", "a\0b");
    let tx = |tid: &str, m: SendMessageRequest| SspTransaction {
        mode: Mode::Request,
        transaction_id: tid.into(),
        primitive: m.to_element(),
    };
    let body = SspMessage::Session(SspSession {
        session_id: session,
        transactions: vec![tx("q1", big), tx("q2", nul)],
    })
    .encode();
    let (code, _, _) = post_raw(&b.url(), SSP_CONTENT_TYPE, body).await;
    assert_eq!(
        code,
        200,
        "b.test's log:\n{}",
        std::fs::read_to_string(b.log_path()).unwrap_or_default()
    );
    let bob = b.login("bob").ws().await;
    receive(&bob, "wv:alice@a.test", &first, "real").await;
    receive(&bob, "wv:alice@a.test", "big-1", "big").await;
    let m = bob.receive().await;
    assert_eq!(m.message_info.message_id.as_deref(), Some("nul-2"), "{m:?}");
}

/// A message to two of our users that a peer sends as one transaction
/// per user, each in its own POST and all under the message's MessageID
/// (the reference implementation of SSP queues one row per recipient and
/// posts each alone): each user gets it once. The second transaction is
/// not a resend of the first (it names another user); a resend of one
/// (a new TransactionID, as after a lost answer) gives nobody a second
/// copy.
#[tokio::test]
async fn ssp_one_message_as_a_transaction_per_recipient_reaches_each_once() {
    let (a, b) = pair(86_400);
    b.add_user("carol", "pw");
    let (first, session) = live_session(&a).await;
    let post_to = |tid: &str, to: &str, id: &str, text: &str| {
        let mut m = bob_message("wv:alice@a.test", id, text);
        m.info.recipients = vec![to.to_string()];
        let body = SspMessage::Session(SspSession {
            session_id: session.clone(),
            transactions: vec![SspTransaction {
                mode: Mode::Request,
                transaction_id: tid.into(),
                primitive: m.to_element(),
            }],
        })
        .encode();
        let url = b.url();
        async move { post_raw(&url, SSP_CONTENT_TYPE, body).await.0 }
    };
    let each = "to each of you";
    let posted = |code: u16| {
        assert_eq!(
            code,
            200,
            "b.test's log:\n{}",
            std::fs::read_to_string(b.log_path()).unwrap_or_default()
        );
    };
    posted(post_to("0000000042-1", "wv:bob@b.test", "each-1", each).await);
    posted(post_to("0000000042-2", "wv:carol@b.test", "each-1", each).await);
    let bob = b.login("bob").ws().await;
    let carol = b.login("carol").ws().await;
    receive(&carol, "wv:alice@a.test", "each-1", each).await;
    receive(&bob, "wv:alice@a.test", &first, "real").await;
    receive(&bob, "wv:alice@a.test", "each-1", each).await;
    // Bob took it: the resend of his transaction (recognised by its
    // reference, or by his entry if his acknowledgement is not written
    // yet; the store conformance checks the first alone) gives him no
    // second copy: the next he gets is the message after.
    posted(post_to("0000000042-3", "wv:bob@b.test", "each-1", each).await);
    posted(post_to("0000000043-4", "wv:bob@b.test", "after-2", "after").await);
    receive(&bob, "wv:alice@a.test", "after-2", "after").await;
}
