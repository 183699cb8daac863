//! Server-originated transactions: the Poll flag, TCP CIR, HTTP CIR,
//! WebSocket push, and the server-initiated Disconnect.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use crate::common;

use std::time::Duration;

use common::{TestServer, code_of};
use imps_client::{Element, Encoding, TcpCir, Version, WsClient, http_cir_url, tcp_cir_addr};

/// Something for the server to push: a Status-shaped notice stands in for
/// the NewMessage/PresenceNotification traffic of later features.
fn notice(n: u32) -> Element {
    Element::new("SystemMessage-Request").with(
        Element::new("SystemMessageList").with(
            Element::new("SystemMessage")
                .with_text("SystemMessageID", n.to_string())
                .with_text("SystemMessageText", format!("hello {n}")),
        ),
    )
}

#[tokio::test]
async fn base_ses_poll_flag_and_polling_request() {
    let srv = TestServer::start().await;
    srv.add_user("alice", "pw").await;
    for (v, e) in common::combos() {
        let c = srv.client(v, e, "p");
        c.login_password("alice", "pw").await.unwrap();
        c.keep_alive(None).await.unwrap();
        assert_eq!(c.last_poll(), Some(false), "{v} {e:?}: nothing waits yet");
        assert!(
            c.poll().await.unwrap().is_none(),
            "empty poll is an empty body"
        );
        srv.running().service.push_to_user("alice", notice(1));
        srv.running().service.push_to_user("alice", notice(2));
        c.keep_alive(None).await.unwrap();
        assert_eq!(
            c.last_poll(),
            Some(true),
            "{v} {e:?}: Poll=T when something waits"
        );
        let m1 = c.poll().await.unwrap().expect("first server request");
        assert_eq!(m1.poll, Some(true), "one more waits");
        let t1 = &m1.transactions[0];
        assert_eq!(t1.mode, imps_client::TransactionMode::Request);
        assert!(
            t1.id.is_some(),
            "server requests always carry a TransactionID"
        );
        assert_eq!(
            t1.body
                .path(&["SystemMessageList", "SystemMessage"])
                .and_then(|m| m.child_text("SystemMessageID")),
            Some("1")
        );
        let m2 = c.poll().await.unwrap().expect("second server request");
        assert_eq!(m2.poll, Some(false));
        assert_ne!(m2.transactions[0].id, t1.id);
        // The client's Status answer is an acknowledgement: empty body.
        assert!(
            c.answer_status(t1.id.as_deref().unwrap())
                .await
                .unwrap()
                .is_none()
        );
        c.logout().await.unwrap();
    }
}

#[tokio::test]
async fn base_ses_tcp_cir_wakes_the_client() {
    let srv = TestServer::start().await;
    srv.add_user("bob", "pw").await;
    for (v, e) in [
        (Version::V1_2, Encoding::Wbxml),
        (Version::V1_3, Encoding::Xml),
    ] {
        let c = srv.client(v, e, "p");
        let info = c.login_password("bob", "pw").await.unwrap();
        let agreed = c.client_capability(&["STCP"], None).await.unwrap();
        let addr = tcp_cir_addr(&agreed).expect("TCPAddress/TCPPort agreed");
        let mut cir = TcpCir::connect(addr.as_str(), &info.session_id)
            .await
            .unwrap();
        cir.ping().await.unwrap();
        assert!(
            cir.next_wakeup(Duration::from_millis(200))
                .await
                .unwrap()
                .is_none()
        );
        srv.running().service.push_to_user("bob", notice(7));
        let line = cir
            .next_wakeup(Duration::from_secs(5))
            .await
            .unwrap()
            .expect("a WVCI line");
        assert_eq!(
            line.trim(),
            format!("WVCI {} {}", v.as_str(), c.session_cookie())
        );
        let m = c.poll().await.unwrap().expect("the pushed request");
        assert_eq!(m.transactions[0].body.name, "SystemMessage-Request");
        c.logout().await.unwrap();
        // The CIR socket closes with the session.
        let end = cir.next_wakeup(Duration::from_secs(5)).await;
        assert!(
            matches!(end, Err(imps_client::ClientError::Closed) | Ok(None)),
            "{end:?}"
        );
    }
    // HELO for an unknown session: closed at once.
    let addr = srv.running().cir_addr.unwrap();
    let r = TcpCir::connect(addr, "not-a-session").await;
    assert!(r.is_err());
}

#[tokio::test]
async fn base_ses_http_cir_says_when_something_waits() {
    let srv = TestServer::start().await;
    srv.add_user("carol", "pw").await;
    for v in [Version::V1_2, Version::V1_3] {
        let c = srv.client(v, Encoding::Xml, "p");
        c.login_password("carol", "pw").await.unwrap();
        let agreed = c.client_capability(&["SHTTP"], None).await.unwrap();
        let name = if v == Version::V1_3 {
            "CIRHTTPAddress"
        } else {
            "CIRURL"
        };
        assert!(agreed.child(name).is_some(), "{v}: {agreed:?}");
        let url = http_cir_url(&agreed).unwrap();
        assert!(
            !url.contains(&c.session_id().unwrap()),
            "the CIR URL does not leak the SessionID"
        );
        assert!(!c.http_cir_check(&url).await.unwrap());
        srv.running().service.push_to_user("carol", notice(1));
        assert!(c.http_cir_check(&url).await.unwrap());
        c.poll().await.unwrap().unwrap();
        assert!(!c.http_cir_check(&url).await.unwrap());
        c.logout().await.unwrap();
    }
}

#[tokio::test]
async fn base_ses_websocket_carries_requests_and_pushes() {
    let srv = TestServer::start().await;
    srv.add_user("dave", "pw").await;
    for (v, e) in [
        (Version::V1_3, Encoding::Xml),
        (Version::V1_2, Encoding::Wbxml),
        (Version::V1_3, Encoding::Wbxml),
    ] {
        let ws = WsClient::connect(&srv.ws_url(), v, e).await.unwrap();
        ws.login_password("dave", "pw").await.unwrap();
        ws.keep_alive(None).await.unwrap();
        srv.running().service.push_to_user("dave", notice(3));
        let m = ws
            .next_push(Duration::from_secs(5))
            .await
            .expect("pushed without polling");
        assert_eq!(m.transactions[0].body.name, "SystemMessage-Request");
        assert_eq!(m.session_id, ws.session_id());
        ws.logout().await.unwrap();
    }
}

#[tokio::test]
async fn base_ses_server_initiated_disconnect() {
    let srv = TestServer::start().await;
    srv.add_user("erin", "pw").await;
    // Over HTTP: the Disconnect waits for the next poll; other requests get 601.
    let c = srv.client(Version::V1_2, Encoding::Xml, "p");
    let info = c.login_password("erin", "pw").await.unwrap();
    assert!(
        srv.running()
            .service
            .kick(&info.session_id, "maintenance")
            .await
    );
    let r = c.request(Element::new("KeepAlive-Request")).await.unwrap();
    assert_eq!(code_of(&r), Some(601));
    let m = c.poll().await.unwrap().expect("Disconnect");
    assert_eq!(m.transactions[0].body.name, "Disconnect");
    assert_eq!(code_of(&m.transactions[0].body), Some(601));
    let r = c.request(Element::new("KeepAlive-Request")).await.unwrap();
    assert_eq!(
        code_of(&r),
        Some(604),
        "gone after the Disconnect was delivered"
    );
    // Over WebSocket: pushed at once.
    let ws = WsClient::connect(&srv.ws_url(), Version::V1_3, Encoding::Wbxml)
        .await
        .unwrap();
    let info = ws.login_password("erin", "pw").await.unwrap();
    srv.running().service.kick(&info.session_id, "bye").await;
    let m = ws
        .next_push(Duration::from_secs(5))
        .await
        .expect("Disconnect pushed");
    assert_eq!(m.transactions[0].body.name, "Disconnect");
}

#[tokio::test]
async fn base_ses_outbox_is_bounded() {
    let srv = TestServer::start_with(|c| c.session.max_outbox = 3).await;
    srv.add_user("fay", "pw").await;
    let c = srv.client(Version::V1_3, Encoding::Xml, "p");
    c.login_password("fay", "pw").await.unwrap();
    for n in 0..10 {
        srv.running().service.push_to_user("fay", notice(n));
    }
    let mut got = Vec::new();
    while let Some(m) = c.poll().await.unwrap() {
        let id = m.transactions[0]
            .body
            .path(&["SystemMessageList", "SystemMessage"])
            .and_then(|s| s.child_text("SystemMessageID"))
            .unwrap()
            .to_string();
        got.push(id);
    }
    assert_eq!(
        got,
        vec!["7", "8", "9"],
        "the oldest are dropped, the newest kept"
    );
}

/// One side of `base_im_websocket_pipelined_sends_keep_order_both_ways`:
/// fires `n` SendMessages at once on `ws` to `to`, and takes what is
/// pushed, acknowledging each NewMessage; returns the texts received.
async fn pipelined_side(ws: WsClient, to: &str, tag: &str, n: usize) -> Vec<String> {
    let sends = (0..n).map(|i| {
        let body = Element::new("SendMessage-Request")
            .with_text("DeliveryReport", "F")
            .with(
                Element::new("MessageInfo")
                    .with_text("ContentType", "text/plain")
                    .with(Element::new("Recipient").with(
                        Element::new("User").with_text("UserID", format!("wv:{to}@localhost")),
                    )),
            )
            .with_text("ContentData", format!("{tag} {i}"));
        let ws = &ws;
        async move { ws.request(body).await }
    });
    let receive = async {
        let mut got = Vec::new();
        while got.len() < n {
            let Some(m) = ws.next_push(Duration::from_secs(10)).await else {
                break;
            };
            let t = &m.transactions[0];
            let tid = t.id.clone().unwrap_or_default();
            if t.body.name != "NewMessage" {
                let _ = ws.answer_status(&tid).await;
                continue;
            }
            got.push(
                t.body
                    .child_text("ContentData")
                    .unwrap_or_default()
                    .to_string(),
            );
            let id = t
                .body
                .path(&["MessageInfo", "MessageID"])
                .map(|e| e.text.clone())
                .unwrap_or_default();
            ws.answer(
                &tid,
                Element::new("MessageDelivered").with_text("MessageID", id),
            )
            .await
            .unwrap();
        }
        got
    };
    let (replies, got) = tokio::join!(futures_util::future::join_all(sends), receive);
    for r in replies {
        assert_eq!(code_of(&r.unwrap()), Some(200));
    }
    got
}

/// Many sends in flight on one WebSocket, both ways at once: the server
/// handles a client's requests in order (so its messages arrive in the
/// order sent) while taking its answers to pushes in between.
#[tokio::test]
async fn base_im_websocket_pipelined_sends_keep_order_both_ways() {
    // 300 sends at once per user: far past the default sender rate and
    // the requests a socket holds before it answers 503, which are not
    // what this test is about (tests/im_limits.rs and
    // tests/im_overload.rs are).
    let srv = TestServer::start_with(|c| {
        c.im.send_rate_per_sec = 0;
        c.limits.ws_read_ahead = 300;
    })
    .await;
    srv.add_user("pipe-a", "pw").await;
    srv.add_user("pipe-b", "pw").await;
    let connect = |user: &'static str| {
        let url = srv.ws_url();
        async move {
            let ws = WsClient::connect(&url, Version::V1_3, Encoding::Wbxml)
                .await
                .unwrap();
            ws.login_password(user, "pw").await.unwrap();
            ws
        }
    };
    let (a, b) = (connect("pipe-a").await, connect("pipe-b").await);
    const N: usize = 300;
    let (at_a, at_b) = tokio::join!(
        pipelined_side(a, "pipe-b", "a", N),
        pipelined_side(b, "pipe-a", "b", N)
    );
    let expect = |tag: &str| (0..N).map(|i| format!("{tag} {i}")).collect::<Vec<_>>();
    assert_eq!(at_b, expect("a"), "a's messages at b, in order");
    assert_eq!(at_a, expect("b"), "b's messages at a, in order");
}

/// Issue 19: the TCP CIR connection keeps no buffer while idle, reading
/// into a small stack buffer. A line that arrives in pieces is still one
/// line; one longer than 512 bytes ends the connection.
#[tokio::test]
async fn tcp_cir_lines_in_pieces_and_overlong_lines() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let srv = TestServer::start().await;
    srv.add_user("bob", "pw").await;
    let c = srv.client(Version::V1_3, Encoding::Xml, "p");
    let info = c.login_password("bob", "pw").await.unwrap();
    let agreed = c.client_capability(&["STCP"], None).await.unwrap();
    let addr = tcp_cir_addr(&agreed).expect("TCP CIR agreed");
    let mut s = tokio::net::TcpStream::connect(addr.as_str()).await.unwrap();
    let guard = Duration::from_secs(10);
    // HELO split in three writes, the CR LF apart.
    for part in ["HE", &format!("LO {}", info.session_id), "\r", "\n"] {
        s.write_all(part.as_bytes()).await.unwrap();
        s.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(guard, s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf[..n], b"OK\r\n");
    // Two PINGs in one write: two OKs.
    s.write_all(b"PING \r\nPING\r\n").await.unwrap();
    let mut got = Vec::new();
    while got.len() < 8 {
        let n = tokio::time::timeout(guard, s.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed after two PINGs");
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, b"OK\r\nOK\r\n");
    // A wake-up still comes.
    srv.running().service.push_to_user("bob", notice(1));
    let n = tokio::time::timeout(guard, s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(buf[..n].starts_with(b"WVCI "), "{:?}", &buf[..n]);
    // An overlong line: closed.
    s.write_all(&[b'x'; 2000]).await.unwrap();
    let end = tokio::time::timeout(guard, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(
        end.is_ok(),
        "an overlong CIR line leaves the connection open"
    );
}
