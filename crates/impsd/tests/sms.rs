//! SMS through an SMSC over SMPP 3.4 (issue 20): SMS CIR (SSMS, WAPSMS)
//! and offline-message notifications by SMS or WAP Push (IMR-10, SYM-18),
//! against a test SMSC started by each test (`smsc_common`), which checks
//! the PDUs byte for byte. Also: wake-ups coalesced per session, an SMSC
//! outage that delays notifications without losing one or blocking
//! message delivery, the reconnect, and throttling honoured.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use crate::common;
use crate::smsc_common::TestSmsc;

use std::sync::atomic::Ordering;

use common::TestServer;
use imps_client::primitives::UdpCirOffer;
use imps_client::{UdpCir, agreed_cir_methods};
use imps_core::config::{NotifyBearer, OfflineNotify};
use imps_smpp::pdu::{Bind, Body, CommandId, INTERFACE_VERSION_34, Pdu, SubmitSm};
use imps_wire::Version;
use imps_wire::cir::CirLine;

const BOB_MSISDN: &str = "+46700000002";

async fn sms_server(smsc: &TestSmsc, f: impl FnOnce(&mut impsd::Config)) -> TestServer {
    let addr = smsc.addr().to_string();
    let srv = TestServer::builder()
        .config(move |c| {
            c.sms.enabled = true;
            c.sms.smsc = addr;
            c.sms.cir_min_interval_secs = 1;
            c.sms.retry_ms = 200;
            c.sms.reconnect_min_ms = 50;
            c.sms.reconnect_max_ms = 400;
            c.sms.enquire_link_secs = 1;
            c.im.send_rate_per_sec = 0;
            f(c);
        })
        .user("alice", "pw")
        .start()
        .await;
    srv.add_user_full("bob", Some("pw"), Some(BOB_MSISDN)).await;
    srv
}

/// What impsd sends for a wake-up or notice: our sender, the user's
/// number (international, E.164, without the `+`), no receipt asked for
/// (`sms.delivery_receipts` is off by default).
fn expected(short_message: Vec<u8>, udh: bool, binary: bool) -> SubmitSm {
    SubmitSm {
        source_addr_ton: 5,
        source_addr: "IMPS".into(),
        dest_addr_ton: 1,
        dest_addr_npi: 1,
        destination_addr: BOB_MSISDN.trim_start_matches('+').into(),
        esm_class: if udh { 0x40 } else { 0 },
        registered_delivery: 0,
        data_coding: if binary { 4 } else { 0 },
        short_message,
        ..SubmitSm::default()
    }
}

/// The received submit_sm is exactly these bytes.
fn assert_bytes(r: &crate::smsc_common::Received, want: SubmitSm) {
    let want = Pdu::request(r.pdu.sequence, Body::SubmitSm(Box::new(want))).encode();
    assert_eq!(r.raw, want, "submit_sm bytes");
}

#[tokio::test]
async fn base_ses_ssms_wakes_by_sms_coalesced_per_session() {
    let smsc = TestSmsc::start().await;
    let srv = sms_server(&smsc, |_| {}).await;
    // The bind, byte for byte.
    smsc.wait("bind_transmitter", |s| {
        !s.of(CommandId::BIND_TRANSMITTER).is_empty()
    })
    .await;
    let bind = &smsc.of(CommandId::BIND_TRANSMITTER)[0];
    let want = Pdu::request(
        bind.pdu.sequence,
        Body::BindTransmitter(Bind {
            system_id: "impsd".into(),
            interface_version: INTERFACE_VERSION_34,
            ..Bind::default()
        }),
    );
    assert_eq!(bind.raw, want.encode());
    // enquire_link keeps the link alive.
    smsc.wait("enquire_link", |s| {
        !s.of(CommandId::ENQUIRE_LINK).is_empty()
    })
    .await;

    let alice = srv.login("alice").await;
    let bob = srv.login("bob").version(Version::V1_2).await;
    let agreed = bob
        .client_capability(&["SSMS", "SHTTP"], None)
        .await
        .unwrap();
    assert_eq!(agreed_cir_methods(&agreed), ["SSMS", "SHTTP"]);

    // A burst of five messages: one SMS.
    for i in 0..5 {
        alice.send_text("bob", &format!("m{i}")).await;
    }
    let got = smsc.wait_submits(1).await;
    let mut sm = vec![0x06, 0x05, 0x04, 0x0E, 0x84, 0x0E, 0x84];
    sm.extend_from_slice(format!("WVCI 1.2 {}", bob.session_cookie()).as_bytes());
    assert_bytes(&got[0], expected(sm.clone(), true, false));
    for i in 0..5 {
        assert_eq!(bob.receive_text().await, format!("m{i}"));
    }
    // News after the burst was collected: one more SMS (after the
    // session's interval), never one per message.
    alice.send_text("bob", "late").await;
    let got = smsc.wait_submits(2).await;
    assert_bytes(&got[1], expected(sm, true, false));
    assert_eq!(bob.receive_text().await, "late");
    assert_eq!(smsc.submits().len(), 2, "six messages, two wake-ups");
}

#[tokio::test]
async fn base_ses_wapsms_wakes_by_wap_push_over_sms() {
    let smsc = TestSmsc::start().await;
    let srv = sms_server(&smsc, |_| {}).await;
    let alice = srv.login("alice").await;
    let bob = srv.login("bob").await;
    let agreed = bob.client_capability(&["WAPSMS"], None).await.unwrap();
    assert_eq!(agreed_cir_methods(&agreed), ["WAPSMS"]);
    alice.send_text("bob", "hi").await;
    let got = smsc.wait_submits(1).await;
    let sm = &got[0].submit().short_message;
    // UDH to WDP port 2948 from 9200, then the WSP push of the WVCI line.
    let mut want = vec![0x06, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0];
    want.extend_from_slice(&[sm[7], 0x06, 0x03, 0xC6, 0xAF, 0x8A]);
    want.extend_from_slice(format!("WVCI 1.3 {}", bob.session_cookie()).as_bytes());
    assert_bytes(&got[0], expected(want, true, true));
    assert_eq!(bob.receive_text().await, "hi");
}

#[tokio::test]
async fn base_ses_sms_cir_only_to_the_registered_number() {
    let smsc = TestSmsc::start().await;
    let srv = sms_server(&smsc, |_| {}).await;
    // alice has no number: SSMS is not agreed.
    let alice = srv.login("alice").await;
    let agreed = alice
        .client_capability(&["SSMS", "SHTTP"], None)
        .await
        .unwrap();
    assert_eq!(agreed_cir_methods(&agreed), ["SHTTP"]);
    // Off without [sms].
    let plain = TestServer::builder().start().await;
    plain
        .add_user_full("bob", Some("pw"), Some(BOB_MSISDN))
        .await;
    let bob = plain.login("bob").await;
    let agreed = bob
        .client_capability(&["SSMS", "WAPSMS"], None)
        .await
        .unwrap();
    assert!(agreed_cir_methods(&agreed).is_empty());
}

fn notice_server_cfg(bearer: NotifyBearer) -> impl FnOnce(&mut impsd::Config) {
    move |c| {
        c.im.offline_notify = OfflineNotify::Sms;
        c.im.offline_notify_bearer = bearer;
    }
}

#[tokio::test]
async fn imr_10_offline_notification_by_sms_and_wap_push_through_the_smsc() {
    for bearer in [NotifyBearer::Sms, NotifyBearer::WapPush] {
        let smsc = TestSmsc::start().await;
        let srv = sms_server(&smsc, notice_server_cfg(bearer)).await;
        let alice = srv.login("alice").await;
        alice.send_text("bob", "are you there?").await;
        let got = smsc.wait_submits(1).await;
        let text = b"You have 1 new message(s) waiting. Log in to read them.".to_vec();
        match bearer {
            NotifyBearer::Sms => assert_bytes(&got[0], expected(text, false, false)),
            NotifyBearer::WapPush => {
                let sm = &got[0].submit().short_message;
                // Port 2948 from 9200; push of text/plain (0x83) for wv.ua.
                let mut want = vec![0x06, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0];
                want.extend_from_slice(&[sm[7], 0x06, 0x03, 0x83, 0xAF, 0x8A]);
                want.extend_from_slice(&text);
                assert_bytes(&got[0], expected(want, true, true));
            }
        }
    }
}

#[tokio::test]
async fn sym_18_sms_notification_names_no_one() {
    let smsc = TestSmsc::start().await;
    let srv = sms_server(&smsc, notice_server_cfg(NotifyBearer::Sms)).await;
    let alice = srv.login("alice").await;
    alice.send_text("bob", "secret plans").await;
    let got = smsc.wait_submits(1).await;
    let text = String::from_utf8_lossy(&got[0].submit().short_message).to_lowercase();
    for secret in ["alice", "bob", "secret", "plans", "4670", "localhost"] {
        assert!(!text.contains(secret), "{secret:?} in {text:?}");
    }
}

#[tokio::test]
async fn imr_10_smsc_outage_delays_notifications_and_loses_none() {
    let mut smsc = TestSmsc::start().await;
    let srv = sms_server(&smsc, notice_server_cfg(NotifyBearer::Sms)).await;
    let users: Vec<(String, String)> = (0..6)
        .map(|i| (format!("u{i}"), format!("+4671000000{i}")))
        .collect();
    for (u, m) in &users {
        srv.add_user_full(u, Some("pw"), Some(m)).await;
    }
    let alice = srv.login("alice").await;
    // Throttled once: tried again, delivered once.
    smsc.wait("bind_transmitter", |s| {
        !s.of(CommandId::BIND_TRANSMITTER).is_empty()
    })
    .await;
    smsc.throttle_next(1);
    for (u, _) in &users[..2] {
        alice.send_text(u, "hi").await;
    }
    smsc.wait_submits(2).await;

    // The SMSC goes away mid-traffic. Messages are still delivered (the
    // sends answer at once); the notices wait in the queue.
    smsc.stop();
    for (u, _) in &users[2..] {
        alice.send_text(u, "hi").await;
    }
    let queued = &srv.running().metrics.sms_queued;
    common::wait_until("four notices queued", common::DEFAULT_TIMEOUT, || async {
        queued.load(Ordering::Relaxed) >= 6
    })
    .await;
    assert!(!srv.running().sms.as_ref().unwrap().is_bound());
    assert_eq!(smsc.submits().len(), 2);

    // Back: the client binds again and sends every notice, each once.
    smsc.restart().await;
    let got = smsc.wait_submits(6).await;
    assert_eq!(
        smsc.of(CommandId::BIND_TRANSMITTER).len(),
        2,
        "one reconnect"
    );
    let mut to: Vec<String> = got
        .iter()
        .map(|r| r.submit().destination_addr.clone())
        .collect();
    to.sort();
    let want: Vec<String> = users
        .iter()
        .map(|(_, m)| m.trim_start_matches('+').to_string())
        .collect();
    assert_eq!(to, want, "every notice once");
    let throttled = smsc
        .of(CommandId::SUBMIT_SM)
        .iter()
        .filter(|r| r.pdu.status == 0)
        .count();
    assert_eq!(throttled, 1, "the throttled submit was tried again");
}

/// BASE-SES: a session brought back by a restart keeps where it is woken.
/// A phone that agreed SSMS or SUDP holds no connection, so without its
/// stored target nothing would reach it until it negotiated again.
#[tokio::test]
async fn base_ses_sms_and_udp_wake_ups_resume_after_a_restart() {
    let smsc = TestSmsc::start().await;
    let mut srv = sms_server(&smsc, |c| {
        c.cir.udp = true;
        c.cir.udp_bind = "127.0.0.1:0".into();
        c.cir.udp_min_interval_ms = 200;
    })
    .await;
    srv.add_user_full("carol", Some("pw"), None).await;
    let bob = srv.login("bob").version(Version::V1_2).await;
    let agreed = bob.client_capability(&["SSMS"], None).await.unwrap();
    assert_eq!(agreed_cir_methods(&agreed), ["SSMS"]);
    let carol = srv.login("carol").version(Version::V1_3).await;
    let mut cir = UdpCir::bind("127.0.0.1:0").await.unwrap();
    let offer = UdpCirOffer {
        address: None,
        port: cir.port().unwrap(),
    };
    let agreed = carol
        .client_capability_udp(&["SUDP"], None, &offer)
        .await
        .unwrap();
    assert_eq!(agreed_cir_methods(&agreed), ["SUDP"]);

    // The same port after the restart, so both clients reach their
    // sessions where they were.
    srv.cfg.listen = srv.http_addr();
    srv.restart().await;
    let alice = srv.login("alice").await;
    alice.send_text("bob", "for bob").await;
    alice.send_text("carol", "for carol").await;

    let got = smsc.wait_submits(1).await;
    let mut sm = vec![0x06, 0x05, 0x04, 0x0E, 0x84, 0x0E, 0x84];
    sm.extend_from_slice(format!("WVCI 1.2 {}", bob.session_cookie()).as_bytes());
    assert_bytes(&got[0], expected(sm, true, false));
    let line = cir
        .next_wakeup(common::DEFAULT_TIMEOUT)
        .await
        .unwrap()
        .expect("a UDP wake-up after the restart");
    assert_eq!(line, CirLine::new(Version::V1_3, carol.session_cookie()));
    assert_eq!(bob.receive_text().await, "for bob");
    assert_eq!(carol.receive_text().await, "for carol");
}

/// IMR-10: a notification the SMSC keeps refusing for now is tried
/// `sms.max_attempts` times, backing off, then dropped and counted; it
/// does not hold the queue forever, and the next one still goes out.
#[tokio::test]
async fn imr_10_a_notification_refused_too_often_is_dropped_after_max_attempts() {
    let smsc = TestSmsc::start().await;
    let srv = sms_server(&smsc, |c| {
        notice_server_cfg(NotifyBearer::Sms)(c);
        c.sms.max_attempts = 3;
        c.sms.retry_ms = 20;
        c.sms.throttle_pause_ms = 10;
    })
    .await;
    smsc.wait("bind_transmitter", |s| {
        !s.of(CommandId::BIND_TRANSMITTER).is_empty()
    })
    .await;
    smsc.throttle_next(3);
    let alice = srv.login("alice").await;
    alice.send_text("bob", "one").await;
    let expired = &srv.running().metrics.sms_expired;
    common::wait_until("the notice dropped", common::DEFAULT_TIMEOUT, || async {
        expired.load(Ordering::Relaxed) >= 1
    })
    .await;
    let tried = smsc.of(CommandId::SUBMIT_SM).len();
    assert_eq!(tried, 3, "three tries, then no more");
    assert!(smsc.submits().is_empty(), "none accepted");

    // bob reads his message and gets another: that notice goes out.
    let bob = srv.login("bob").await;
    assert_eq!(bob.receive_text().await, "one");
    bob.logout().await;
    alice.send_text("bob", "two").await;
    smsc.wait_submits(1).await;
    assert_eq!(expired.load(Ordering::Relaxed), 1);
}

/// IMR-10: with `sms.delivery_receipts` the notice asks for a receipt,
/// the link is a transceiver (receipts come back as deliver_sm), and each
/// receipt is answered and counted by what it says.
#[tokio::test]
async fn imr_10_delivery_receipts_are_asked_for_answered_and_counted() {
    let smsc = TestSmsc::start().await;
    let srv = sms_server(&smsc, |c| {
        notice_server_cfg(NotifyBearer::Sms)(c);
        c.sms.delivery_receipts = true;
    })
    .await;
    smsc.wait("bind_transceiver", |s| {
        !s.of(CommandId::BIND_TRANSCEIVER).is_empty()
    })
    .await;
    assert!(smsc.of(CommandId::BIND_TRANSMITTER).is_empty());
    let alice = srv.login("alice").await;
    alice.send_text("bob", "are you there?").await;
    let got = smsc.wait_submits(1).await;
    assert_eq!(
        got[0].submit().registered_delivery,
        1,
        "a receipt asked for"
    );

    let m = &srv.running().metrics;
    smsc.send_receipt(900, "m1", "DELIVRD");
    smsc.send_receipt(901, "m1", "UNDELIV");
    smsc.wait("two deliver_sm_resp", |s| {
        s.of(CommandId::DELIVER_SM_RESP).len() == 2
    })
    .await;
    let answers: Vec<(u32, u32)> = smsc
        .of(CommandId::DELIVER_SM_RESP)
        .iter()
        .map(|r| (r.pdu.sequence, r.pdu.status))
        .collect();
    assert_eq!(answers, [(900, 0), (901, 0)]);
    common::wait_until("both receipts counted", common::DEFAULT_TIMEOUT, || async {
        m.sms_receipts_delivered.load(Ordering::Relaxed) == 1
            && m.sms_receipts_failed.load(Ordering::Relaxed) == 1
    })
    .await;
}
