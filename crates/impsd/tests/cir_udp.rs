//! Datagram CIR (BASE-SES): SUDP and WAPUDP wake a client that holds no
//! connection, with one datagram per burst, at most one per
//! `cir.udp_min_interval_ms`. Against a running server over the real
//! protocol: a client negotiates datagram CIR in ClientCapability, another
//! user sends it messages, and its UDP socket gets the wake-up.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use crate::common;

use std::time::Duration;

use common::{TestServer, TestUser};
use imps_client::primitives::UdpCirOffer;
use imps_client::{UdpCir, Version, agreed_cir_methods, udp_cir_target};
use imps_wire::cir::{CirLine, WapPush};
use impsd::config::Config;
use tokio::net::UdpSocket;
use tokio::time::Instant;

/// Time allowed for a datagram that must come.
const ARRIVES: Duration = Duration::from_secs(10);

async fn udp_server(min_interval_ms: u64) -> TestServer {
    udp_server_with(min_interval_ms, |_| {}).await
}

/// As [`udp_server`], with more settings.
async fn udp_server_with(min_interval_ms: u64, more: impl FnOnce(&mut Config)) -> TestServer {
    TestServer::builder()
        .config(move |c| {
            c.cir.udp = true;
            c.cir.wap_udp = true;
            c.cir.udp_bind = "127.0.0.1:0".into();
            c.cir.udp_min_interval_ms = min_interval_ms;
            c.im.send_rate_per_sec = 0;
            more(c);
        })
        .user("alice", "pw")
        .user("bob", "pw")
        .start()
        .await
}

fn offer(port: u16, address: Option<&str>) -> UdpCirOffer {
    UdpCirOffer {
        address: address.map(str::to_string),
        port,
    }
}

#[tokio::test]
async fn base_ses_sudp_wakes_the_client() {
    let srv = udp_server(200).await;
    let alice = srv.login("alice").await;
    // 1.2 names only a UDPPort; 1.3 also a UDPAddress.
    for (v, address) in [(Version::V1_2, None), (Version::V1_3, Some("127.0.0.1"))] {
        let bob = srv.login("bob").version(v).await;
        let mut cir = UdpCir::bind("127.0.0.1:0").await.unwrap();
        let port = cir.port().unwrap();
        let agreed = bob
            .client_capability_udp(&["SUDP"], None, &offer(port, address))
            .await
            .unwrap();
        assert_eq!(agreed_cir_methods(&agreed), ["SUDP"], "{v}: {agreed:?}");
        let (addr, agreed_port) = udp_cir_target(&agreed);
        assert_eq!(agreed_port, Some(port));
        // The address only in 1.3, which has the element.
        let want = (v == Version::V1_3).then(|| "127.0.0.1".to_string());
        assert_eq!(addr, want, "{v}");
        assert!(
            cir.next_wakeup(Duration::from_millis(100))
                .await
                .unwrap()
                .is_none(),
            "nothing waits yet"
        );

        alice.send_text("bob", &format!("hello {v}")).await;
        let line = cir.next_wakeup(ARRIVES).await.unwrap().expect("a wake-up");
        assert_eq!(line, CirLine::new(v, bob.session_cookie()));
        assert_eq!(bob.receive_text().await, format!("hello {v}"));
        bob.logout().await;
    }
}

#[tokio::test]
async fn base_ses_sudp_wakeups_are_coalesced_and_rate_limited() {
    const INTERVAL: Duration = Duration::from_millis(1500);
    let srv = udp_server(INTERVAL.as_millis() as u64).await;
    let (alice, bob, mut cir) = bob_on_sudp(&srv).await;

    // A burst of messages: one datagram. It goes out after `first`.
    let first = Instant::now();
    for i in 0..20 {
        alice.send_text("bob", &format!("m{i}")).await;
    }
    cir.next_wakeup(ARRIVES).await.unwrap().expect("a wake-up");
    // The woken client collects everything (polling until Poll=F).
    for i in 0..20 {
        assert_eq!(bob.receive_text().await, format!("m{i}"));
    }

    // One more message after the burst was collected: one more datagram,
    // not before the interval since the first has passed.
    alice.send_text("bob", "late").await;
    cir.next_wakeup(ARRIVES).await.unwrap().expect("a wake-up");
    assert!(
        first.elapsed() >= INTERVAL,
        "second datagram after {:?}, inside the interval",
        first.elapsed()
    );
    assert_eq!(bob.receive_text().await, "late");
    // 21 messages, two wake-ups (the server counts what it sent).
    let sent = srv
        .running()
        .metrics
        .cir_udp_wakeups
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(sent, 2);
}

#[tokio::test]
async fn base_ses_wapudp_sends_a_wsp_push() {
    let srv = udp_server(200).await;
    let alice = srv.login("alice").await;
    let bob = srv.login("bob").await;
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = sock.local_addr().unwrap().port();
    let agreed = bob
        .client_capability_udp(&["WAPUDP", "STCP"], None, &offer(port, None))
        .await
        .unwrap();
    assert_eq!(agreed_cir_methods(&agreed), ["WAPUDP", "STCP"]);
    alice.send_text("bob", "pushed").await;
    let mut buf = [0u8; 512];
    let (n, _) = tokio::time::timeout(ARRIVES, sock.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    // TID, Push, headers length 3, content type application/vnd.wv.csp.cir
    // (0x46), X-Wap-Application-Id (0x2F) = 0x0A (wv.ua), the WVCI line.
    let mut want = vec![buf[0], 0x06, 0x03, 0xC6, 0xAF, 0x8A];
    want.extend_from_slice(format!("WVCI 1.3 {}", bob.session_cookie()).as_bytes());
    assert_eq!(&buf[..n], &want[..]);
    let push = WapPush::decode(&buf[..n]).unwrap();
    assert_eq!(
        CirLine::from_bytes(&push.body).unwrap().cookie,
        bob.session_cookie()
    );
    assert_eq!(bob.receive_text().await, "pushed");
}

#[tokio::test]
async fn base_ses_datagram_cir_address_policy_and_switch() {
    // Off by default: not agreed.
    let off = TestServer::builder().user("bob", "pw").start().await;
    let bob = off.login("bob").await;
    let agreed = bob
        .client_capability_udp(&["SUDP", "WAPUDP", "SHTTP"], None, &offer(4000, None))
        .await
        .unwrap();
    assert_eq!(agreed_cir_methods(&agreed), ["SHTTP"]);

    // By default datagrams go to the address the request came from; a
    // UDPAddress naming another host is not taken.
    let srv = udp_server(200).await;
    let bob = srv.login("bob").await;
    let agreed = bob
        .client_capability_udp(&["SUDP"], None, &offer(4000, Some("192.0.2.7")))
        .await
        .unwrap();
    assert_eq!(
        udp_cir_target(&agreed),
        (Some("127.0.0.1".into()), Some(4000))
    );
    // No UDPPort: SUDP cannot be served.
    let agreed = bob
        .client_capability(&["SUDP", "SHTTP"], None)
        .await
        .unwrap();
    assert_eq!(agreed_cir_methods(&agreed), ["SHTTP"]);

    // cir.udp_address = "client": the named address, in either form (text,
    // or the integer one server declares the element as).
    let trusting = TestServer::builder()
        .config(|c| {
            c.cir.udp = true;
            c.cir.udp_bind = "127.0.0.1:0".into();
            c.cir.udp_address = imps_core::cir::UdpAddressPolicy::Client;
        })
        .user("bob", "pw")
        .start()
        .await;
    let bob = trusting.login("bob").await;
    for named in ["192.0.2.7", "3221225991"] {
        let agreed = bob
            .client_capability_udp(&["SUDP"], None, &offer(4000, Some(named)))
            .await
            .unwrap();
        assert_eq!(
            udp_cir_target(&agreed),
            (Some("192.0.2.7".into()), Some(4000)),
            "{named}"
        );
    }
}

/// Sessions woken by datagram cost the server no task each (issue 19: a
/// task per session cost about 1 KB of every idle session): one task
/// wakes them all, and still wakes each.
#[tokio::test]
async fn datagram_cir_sessions_keep_no_task_each() {
    const SESSIONS: usize = 20;
    let srv = udp_server(200).await;
    let ids: Vec<String> = (0..SESSIONS).map(|i| format!("u{i}")).collect();
    srv.add_users(&ids.iter().map(String::as_str).collect::<Vec<_>>(), "pw")
        .await;
    let alice = srv.login("alice").await;
    let mut phones = Vec::new();
    for id in &ids {
        phones.push(srv.login(id).await);
    }
    let mut cir = UdpCir::bind("127.0.0.1:0").await.unwrap();
    let port = cir.port().unwrap();
    let tasks = || {
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
    };
    let before = tasks();
    for phone in &phones {
        phone
            .client_capability_udp(&["SUDP"], None, &offer(port, None))
            .await
            .unwrap();
    }
    let added = tasks().saturating_sub(before);
    assert!(
        added < SESSIONS / 4,
        "{added} more tasks for {SESSIONS} sessions woken by datagram"
    );
    // Each is still woken.
    for (id, phone) in ids.iter().zip(&phones) {
        alice.send_text(id, "hello").await;
        let line = cir.next_wakeup(ARRIVES).await.unwrap().expect("a wake-up");
        assert_eq!(line.cookie, phone.session_cookie());
        assert_eq!(phone.receive_text().await, "hello");
    }
}

/// How long a test listens to be sure no datagram comes.
const QUIET: Duration = Duration::from_millis(900);

/// True when no datagram comes within `wait`.
async fn no_wakeup_within(cir: &mut UdpCir, wait: Duration) -> bool {
    cir.next_wakeup(wait).await.unwrap().is_none()
}

/// Bob's phone on SUDP to a fresh socket: alice, bob and the socket.
async fn bob_on_sudp(srv: &TestServer) -> (TestUser, TestUser, UdpCir) {
    let alice = srv.login("alice").await;
    let bob = srv.login("bob").await;
    let cir = UdpCir::bind("127.0.0.1:0").await.unwrap();
    bob.client_capability_udp(&["SUDP"], None, &offer(cir.port().unwrap(), None))
        .await
        .unwrap();
    (alice, bob, cir)
}

/// Datagrams get lost. A client that has not come for what waits
/// `cir.udp_retry_ms` after its wake-up is sent it again, at most
/// `cir.udp_retries` times; one that came is not.
#[tokio::test]
async fn base_ses_sudp_a_lost_wakeup_is_sent_again() {
    let srv = udp_server_with(100, |c| {
        c.cir.udp_retry_ms = 300;
        c.cir.udp_retries = 2;
    })
    .await;
    let metric = |m: &std::sync::atomic::AtomicU64| m.load(std::sync::atomic::Ordering::Relaxed);
    let (alice, bob, mut cir) = bob_on_sudp(&srv).await;

    alice.send_text("bob", "lost").await;
    // The first datagram is "lost": the client does not poll. Two more
    // come, and no fourth.
    for _ in 0..3 {
        let line = cir.next_wakeup(ARRIVES).await.unwrap().expect("a wake-up");
        assert_eq!(line.cookie, bob.session_cookie());
    }
    assert!(
        no_wakeup_within(&mut cir, QUIET).await,
        "more than cir.udp_retries repeats"
    );
    assert_eq!(metric(&srv.running().metrics.cir_udp_retries), 2);
    assert_eq!(bob.receive_text().await, "lost");

    // A client that comes at once is not woken again.
    alice.send_text("bob", "taken").await;
    cir.next_wakeup(ARRIVES).await.unwrap().expect("a wake-up");
    assert_eq!(bob.receive_text().await, "taken");
    assert!(
        no_wakeup_within(&mut cir, QUIET).await,
        "woken again after it polled"
    );
    assert_eq!(metric(&srv.running().metrics.cir_udp_retries), 2);
}

/// A message offered again (`im.redeliver_secs`) to a client that has
/// not taken the first copy yet (its wake-up lost, and not repeated
/// here) is not queued twice: the client is woken again, and its poll
/// brings the message once.
#[tokio::test]
async fn redelivery_to_a_client_that_has_not_polled_queues_no_second_copy() {
    let srv = udp_server_with(100, |c| {
        c.cir.udp_retries = 0;
        c.im.redeliver_secs = 1;
    })
    .await;
    let (alice, bob, mut cir) = bob_on_sudp(&srv).await;

    alice.send_text("bob", "once").await;
    // Lost; the next one is redelivery's reminder.
    cir.next_wakeup(ARRIVES).await.unwrap().expect("a wake-up");
    cir.next_wakeup(ARRIVES).await.unwrap().expect("a reminder");
    assert_eq!(bob.receive_text().await, "once");
    let left = bob.drain().await;
    assert!(left.is_empty(), "a second copy: {left:?}");
}
