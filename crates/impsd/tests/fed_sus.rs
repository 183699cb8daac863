//! User sessions in another domain (SUS-1..3), end to end: two real
//! `impsd` processes, a.test (the access server: it holds the client's
//! HTTP link) and b.test (the home server of carol and bob). carol's
//! client talks CSP to a.test only; a.test relays her session to b.test
//! over SSP inside the server association.
#![allow(clippy::unwrap_used)]

use crate::common;
use crate::fed::{WAIT, free_port, metric};

use common::{RealServer, code_of, impsd_bin, wait_for, wait_until};
use imps_client::{Client, ClientConfig, ClientError, Element, Encoding, HttpClient, Version};
use imps_wire::csp;
use impsd::federation::PeerSettings;

const DIGEST: &[&str] = &["SHA", "MD5"];

/// A server for `domain` with `peer` in its table, the SUS agreement as
/// `sus` says.
fn server(domain: &str, port: u16, peer: &str, peer_port: u16, sus: bool) -> RealServer {
    let (domain, peer) = (domain.to_string(), peer.to_string());
    RealServer::builder(impsd_bin!())
        .config(move |c| {
            c.sp_info.name = format!("SP of {domain}");
            // The home server's keep-alive bounds differ from the access
            // server's: what the client is granted shows whose they are.
            if domain == "b.test" {
                c.session.keepalive_max_secs = 120;
                c.session.keepalive_default_secs = 100;
            }
            c.domain = domain;
            c.listen = format!("127.0.0.1:{port}").parse().unwrap();
            c.log = "info".into();
            c.federation.enabled = true;
            c.federation.retry_min_ms = 100;
            c.federation.retry_max_ms = 400;
            c.federation.handshake_timeout_ms = 5_000;
            c.federation.request_timeout_ms = 5_000;
            c.federation.peers = vec![PeerSettings {
                domain: peer,
                url: format!("http://127.0.0.1:{peer_port}/imps"),
                sus,
                require_client_cert: false,
            }];
        })
        .start()
}

/// a.test (agreement as `a_sus`) and b.test (agreement on), b.test with
/// carol and bob.
fn pair(a_sus: bool) -> (RealServer, RealServer) {
    let (pa, pb) = (free_port(), free_port());
    let a = server("a.test", pa, "b.test", pb, a_sus);
    let b = server("b.test", pb, "a.test", pa, true);
    b.add_user("carol", "pw");
    b.add_user("bob", "pw");
    (a, b)
}

/// A CSP 1.3 XML client of `srv`.
fn client(srv: &RealServer, client_id: &str) -> HttpClient {
    Client::new(
        ClientConfig::new(srv.url(), Version::V1_3, Encoding::Xml).with_client_id(client_id),
    )
    .unwrap()
}

/// carol logs in at a.test with a digest (4-way, the challenge from
/// b.test) and makes her session ready; she polls.
async fn carol_at_a(a: &RealServer) -> HttpClient {
    let c = client(a, "wv:carol-phone@b.test");
    let info = c
        .login_digest("wv:carol@b.test", "pw", DIGEST)
        .await
        .unwrap();
    assert!(info.session_id.starts_with("sus-"), "{info:?}");
    c
}

/// B's own SessionID of carol's session (from `impsd session list`).
fn home_session(b: &RealServer) -> Option<String> {
    b.cli(&["session", "list"])
        .lines()
        .find(|l| l.split('\t').nth(1) == Some("carol"))
        .map(|l| l.split('\t').next().unwrap().to_string())
}

async fn sessions(a: &RealServer, b: &RealServer) -> (u64, u64) {
    (
        metric(a, "impsd_sus_relayed_sessions", "b.test").await,
        metric(b, "impsd_sus_served_sessions", "a.test").await,
    )
}

#[tokio::test]
async fn sus_1_a_relayed_user_chats_with_a_user_of_her_home_domain_through_the_access_server() {
    let (a, b) = pair(true);
    let carol = carol_at_a(&a).await;
    assert_eq!(sessions(&a, &b).await, (1, 1));
    assert!(home_session(&b).is_some(), "the session is b.test's");

    // Service negotiation: the functions are b.test's; CIR is a.test's to
    // offer, and it offers none (the relayed client polls).
    let caps = Element::new("CapabilityList")
        .with_text("ClientType", "MOBILE_PHONE")
        .with_text("InitialDeliveryMethod", "P")
        .with_text("SupportedBearer", "HTTP")
        .with_text("SupportedCIRMethod", "SHTTP")
        .with_text("SupportedCIRMethod", "STCP");
    let agreed = carol
        .request(
            Element::new("ClientCapability-Request")
                .with(Element::new("ClientID").with_text("URL", "wv:carol-phone@b.test"))
                .with(caps),
        )
        .await
        .unwrap();
    assert_eq!(agreed.name, "ClientCapability-Response", "{agreed:?}");
    let list = agreed.children.first().unwrap();
    assert_eq!(
        list.child_text("InitialDeliveryMethod"),
        Some("P"),
        "{agreed:?}"
    );
    assert!(list.child("SupportedCIRMethod").is_none(), "{agreed:?}");
    assert!(list.child("CIRHTTPAddress").is_none(), "{agreed:?}");
    let service = carol.service_request_all().await.unwrap();
    assert!(service.child("AllFunctions").is_some() || service.child("Functions").is_some());

    // bob is on b.test directly.
    let bob = b.login("bob").ws().await;

    // carol → bob, through a.test.
    let req = csp::SendMessageRequest {
        delivery_report: Some(false),
        message_info: csp::MessageInfo {
            content_type: Some("text/plain".into()),
            content_size: Some(9),
            recipient: Some(csp::Recipient {
                users: vec![csp::User::new("wv:bob@b.test")],
                ..Default::default()
            }),
            sender: Some(csp::Sender::user("wv:carol@b.test")),
            ..Default::default()
        },
        content_data: Some("hello bob".into()),
        other: Vec::new(),
    };
    let resp = carol.request(req.to_element(Version::V1_3)).await.unwrap();
    let resp = csp::SendMessageResponse::from_element(&resp, Version::V1_3).unwrap();
    assert_eq!(resp.result.code, 200, "{resp:?}");
    let m = bob.receive().await;
    assert_eq!(m.content_data.as_deref(), Some("hello bob"));
    match m.message_info.sender.map(|s| s.party) {
        Some(csp::Party::User(u)) => assert_eq!(u.user_id, "wv:carol@b.test"),
        other => panic!("sender {other:?}"),
    }

    // bob → carol: b.test queues it in her session; she polls a.test,
    // which relays the poll, and acknowledges it with MessageDelivered.
    let mut back = bob.text_message(&[], "hi carol");
    back.message_info.recipient = Some(csp::Recipient {
        users: vec![csp::User::new("wv:carol@b.test")],
        ..Default::default()
    });
    back.message_info.sender = Some(csp::Sender::user("wv:bob@b.test"));
    let sent = bob.send(&back).await;
    assert_eq!(sent.result.code, 200, "{sent:?}");
    let id = sent.message_id.unwrap();
    let polled = wait_for("carol polls bob's message through a.test", WAIT, || async {
        carol.poll().await.unwrap()
    })
    .await;
    let t = &polled.transactions[0];
    assert_eq!(t.body.name, "NewMessage", "{polled:?}");
    let nm = csp::NewMessage::from_element(&t.body, Version::V1_3).unwrap();
    assert_eq!(nm.content_data.as_deref(), Some("hi carol"));
    assert_eq!(nm.message_info.message_id.as_deref(), Some(id.as_str()));
    let delivered = csp::MessageDelivered {
        message_id: id.clone(),
        other: Vec::new(),
    };
    carol
        .answer(
            t.id.as_deref().unwrap(),
            delivered.to_element(Version::V1_3),
        )
        .await
        .unwrap();
    // Acknowledged at b.test: nothing is offered again.
    assert!(carol.poll().await.unwrap().is_none());
    drop(bob);
}

#[tokio::test]
async fn sus_1_no_open_relay_without_the_agreement_or_for_another_domain() {
    // a.test lists b.test without `sus`: carol's login there is the
    // ordinary CSP refusal of a user of another domain, and b.test never
    // hears of it.
    let (a, b) = pair(false);
    let c = client(&a, "wv:carol-phone@b.test");
    let err = c
        .login_digest("wv:carol@b.test", "pw", DIGEST)
        .await
        .unwrap_err();
    assert!(err.status_code().is_some_and(|c| c != 200), "{err:?}");
    let other = client(&a, "x-phone");
    let err = other
        .login_digest("wv:x@c.test", "pw", DIGEST)
        .await
        .unwrap_err();
    assert!(err.status_code().is_some_and(|c| c != 200), "{err:?}");
    assert_eq!(sessions(&a, &b).await, (0, 0));
    assert!(home_session(&b).is_none());
}

#[tokio::test]
async fn sus_2_login_keepalive_logout_and_the_home_domain_ending_the_session() {
    let (a, b) = pair(true);

    // A plaintext password is not relayed over a plain HTTP association.
    let plain = client(&a, "wv:carol-tablet@b.test");
    match plain.login_password("wv:carol@b.test", "pw").await {
        Err(ClientError::Status { code, .. }) => assert_eq!(code, 403),
        other => panic!("{other:?}"),
    }
    assert_eq!(sessions(&a, &b).await, (0, 0));
    // A wrong digest is b.test's to refuse.
    let wrong = client(&a, "wv:carol-tablet@b.test");
    let err = wrong
        .login_digest("wv:carol@b.test", "nope", DIGEST)
        .await
        .unwrap_err();
    assert_eq!(err.status_code(), Some(409), "{err:?}");

    // Login: b.test's keep-alive bounds are the ones granted.
    let carol = client(&a, "wv:carol-phone@b.test");
    let info = carol
        .login_digest("wv:carol@b.test", "pw", DIGEST)
        .await
        .unwrap();
    assert_eq!(info.keepalive_secs, 120, "{info:?}");
    assert_eq!(carol.keep_alive(Some(1000)).await.unwrap(), Some(120));
    assert_eq!(sessions(&a, &b).await, (1, 1));

    // Logout is relayed: the session ends at b.test, and a.test forgets it.
    carol.logout().await.unwrap();
    assert_eq!(sessions(&a, &b).await, (0, 0));
    assert!(home_session(&b).is_none());
    carol.set_session_id(Some(info.session_id.clone()));
    let r = carol
        .request(Element::new("KeepAlive-Request"))
        .await
        .unwrap();
    assert_eq!(code_of(&r), Some(604), "{r:?}");

    // b.test's operator kicks her: b.test tells a.test over SSP (without
    // the client asking anything), and a.test hands the client the
    // Disconnect at its next poll, then forgets the session.
    let carol = carol_at_a(&a).await;
    let home = home_session(&b).unwrap();
    assert!(b.cli(&["session", "kick", &home]).contains("kicked"));
    wait_until(
        "a.test hears that b.test ended the session",
        WAIT,
        || async { sessions(&a, &b).await == (0, 0) },
    )
    .await;
    let r = carol
        .request(Element::new("KeepAlive-Request"))
        .await
        .unwrap();
    assert_eq!(code_of(&r), Some(601), "{r:?}");
    let m = carol.poll().await.unwrap().expect("the Disconnect");
    assert_eq!(m.transactions[0].body.name, "Disconnect", "{m:?}");
    assert_eq!(code_of(&m.transactions[0].body), Some(601));
    let r = carol
        .request(Element::new("KeepAlive-Request"))
        .await
        .unwrap();
    assert_eq!(code_of(&r), Some(604), "{r:?}");
}

#[tokio::test]
async fn sus_3_get_sp_info_in_band_and_out_of_band_from_the_home_domain() {
    let (a, b) = pair(true);
    // Out of band: no session; the home domain is the ClientID's.
    let anon = client(&a, "wv:carol-phone@b.test");
    let info = anon.get_sp_info().await.unwrap();
    assert_eq!(info.child_text("Name"), Some("SP of b.test"), "{info:?}");
    // ... or the UserID's, when the request names one.
    let r = anon
        .request(
            Element::new("GetSPInfo-Request")
                .with(Element::new("ClientID").with_text("URL", "some-phone"))
                .with_text("UserID", "wv:carol@b.test"),
        )
        .await
        .unwrap();
    assert_eq!(r.child_text("Name"), Some("SP of b.test"), "{r:?}");
    // A ClientID of a.test's own: a.test answers.
    let own = client(&a, "plain-phone");
    let info = own.get_sp_info().await.unwrap();
    assert_eq!(info.child_text("Name"), Some("SP of a.test"), "{info:?}");

    // In band: inside carol's relayed session.
    let carol = carol_at_a(&a).await;
    let info = carol.get_sp_info().await.unwrap();
    assert_eq!(info.child_text("Name"), Some("SP of b.test"), "{info:?}");
    assert_eq!(sessions(&a, &b).await, (1, 1));
}
