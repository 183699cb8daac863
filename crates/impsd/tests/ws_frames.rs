//! Issue 19: the server's own WebSocket (`impsd::websocket`, which keeps
//! no buffer while a connection is idle) against a client library and
//! against raw bytes: the handshake, fragments, control frames, a frame
//! sent in the same packet as the upgrade request, protocol errors.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use crate::common;

use std::time::Duration;

use common::TestServer;
use futures_util::{SinkExt, StreamExt};
use imps_client::{Element, Encoding, Message, Transaction, Version};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMsg;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{CloseFrame, Frame};

/// Longest a test waits for something that must happen.
const GUARD: Duration = Duration::from_secs(10);

/// The key of RFC 6455's example, and the accept key it gives.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

fn ws_path(srv: &TestServer) -> String {
    let url = srv.ws_url();
    let after_host = url.splitn(4, '/').nth(3).unwrap_or_default();
    format!("/{after_host}")
}

fn upgrade_request(srv: &TestServer, extra: &str) -> String {
    format!(
        "GET {} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n{extra}\r\n",
        ws_path(srv)
    )
}

fn good_headers() -> String {
    format!("Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {KEY}\r\n")
}

/// A client's frame, masked (payload under 126 bytes).
fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [9u8, 8, 7, 6];
    let mut f = vec![first, 0x80 | payload.len() as u8];
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

/// Reads the HTTP head of the answer; what came after it is returned too.
async fn read_head(c: &mut TcpStream) -> (String, Vec<u8>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = got.split_off(end + 4);
            return (String::from_utf8_lossy(&got).into_owned(), rest);
        }
        let n = tokio::time::timeout(GUARD, c.read(&mut buf))
            .await
            .expect("an answer in time")
            .unwrap();
        assert!(n > 0, "closed before the head: {got:?}");
        got.extend_from_slice(&buf[..n]);
    }
}

/// Reads one whole server frame (payload under 126 bytes): its first
/// byte and payload.
async fn read_frame(c: &mut TcpStream, mut have: Vec<u8>) -> (u8, Vec<u8>) {
    let mut buf = [0u8; 256];
    loop {
        if have.len() >= 2 && have.len() >= 2 + (have[1] & 0x7F) as usize {
            assert_eq!(have[1] & 0x80, 0, "a server frame is not masked");
            let n = (have[1] & 0x7F) as usize;
            return (have[0], have[2..2 + n].to_vec());
        }
        let n = tokio::time::timeout(GUARD, c.read(&mut buf))
            .await
            .expect("a frame in time")
            .unwrap();
        assert!(n > 0, "closed before a whole frame: {have:?}");
        have.extend_from_slice(&buf[..n]);
    }
}

/// A frame that arrives in the same packet as the upgrade request (the
/// HTTP server read it with the request's head) is read first.
#[tokio::test]
async fn ws_frames_a_ping_sent_with_the_upgrade_request_is_answered() {
    let srv = TestServer::start().await;
    let mut c = TcpStream::connect(srv.http_addr()).await.unwrap();
    let mut first = upgrade_request(&srv, &good_headers()).into_bytes();
    first.extend(masked(0x89, b"abc"));
    c.write_all(&first).await.unwrap();
    let (head, rest) = read_head(&mut c).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains(&format!(
            "sec-websocket-accept: {}",
            ACCEPT.to_ascii_lowercase()
        )),
        "{head}"
    );
    let (b0, payload) = read_frame(&mut c, rest).await;
    assert_eq!(b0, 0x8A, "a final pong");
    assert_eq!(payload, b"abc");
}

/// Frames that come a byte at a time, then many in one write: each is
/// read whole and answered. (The server's reader stops at a read that did
/// not fill its buffer and waits for the socket again: a byte that comes
/// after such a read must still wake it.)
#[tokio::test]
async fn ws_frames_frames_a_byte_at_a_time_and_many_at_once_are_all_read() {
    let srv = TestServer::start().await;
    let mut c = TcpStream::connect(srv.http_addr()).await.unwrap();
    c.set_nodelay(true).unwrap();
    c.write_all(upgrade_request(&srv, &good_headers()).as_bytes())
        .await
        .unwrap();
    let (head, mut rest) = read_head(&mut c).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    for round in 0..3u8 {
        let ping = masked(0x89, &[b'p', round]);
        for b in &ping {
            c.write_all(&[*b]).await.unwrap();
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        let (b0, payload) = read_frame(&mut c, std::mem::take(&mut rest)).await;
        assert_eq!((b0, payload), (0x8A, vec![b'p', round]), "round {round}");
    }
    let many: Vec<u8> = (0..200u8).flat_map(|i| masked(0x89, &[b'm', i])).collect();
    c.write_all(&many).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    // Each pong is 4 bytes: 0x8A, length 2, 'm', i.
    while got.len() < 200 * 4 {
        let n = tokio::time::timeout(GUARD, c.read(&mut buf))
            .await
            .expect("every pong in time")
            .unwrap();
        assert!(n > 0, "closed after {} bytes of pongs", got.len());
        got.extend_from_slice(&buf[..n]);
    }
    let want: Vec<u8> = (0..200u8).flat_map(|i| [0x8A, 2, b'm', i]).collect();
    assert_eq!(got, want, "200 pongs, in order");
}

/// Upgrade requests RFC 6455 does not allow are refused with 400, and
/// the server goes on serving.
#[tokio::test]
async fn ws_frames_bad_handshakes_are_refused() {
    let srv = TestServer::start().await;
    let cases = [
        ("no key", "Sec-WebSocket-Version: 13\r\n".to_string()),
        (
            "version 8",
            format!("Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: {KEY}\r\n"),
        ),
    ];
    for (what, extra) in cases {
        let mut c = TcpStream::connect(srv.http_addr()).await.unwrap();
        c.write_all(upgrade_request(&srv, &extra).as_bytes())
            .await
            .unwrap();
        let (head, _) = read_head(&mut c).await;
        assert!(head.starts_with("HTTP/1.1 400"), "{what}: {head}");
    }
    // Without `Connection: Upgrade`.
    let mut c = TcpStream::connect(srv.http_addr()).await.unwrap();
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nUpgrade: websocket\r\n{}\r\n",
        ws_path(&srv),
        good_headers()
    );
    c.write_all(req.as_bytes()).await.unwrap();
    let (head, _) = read_head(&mut c).await;
    assert!(
        head.starts_with("HTTP/1.1 400"),
        "no Connection: Upgrade: {head}"
    );
    // A good one still works.
    let (mut ws, _) = tokio_tungstenite::connect_async(srv.ws_url())
        .await
        .unwrap();
    ws.send(WsMsg::Ping(b"p".to_vec().into())).await.unwrap();
    let got = tokio::time::timeout(GUARD, ws.next()).await.unwrap();
    assert!(matches!(got, Some(Ok(WsMsg::Pong(p))) if &p[..] == b"p"));
}

/// A client frame without a mask breaks the protocol: the server closes
/// with 1002 and ends the connection.
#[tokio::test]
async fn ws_frames_an_unmasked_frame_is_closed_with_1002() {
    let srv = TestServer::start().await;
    let mut c = TcpStream::connect(srv.http_addr()).await.unwrap();
    c.write_all(upgrade_request(&srv, &good_headers()).as_bytes())
        .await
        .unwrap();
    let (head, rest) = read_head(&mut c).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    c.write_all(&[0x81, 2, b'h', b'i']).await.unwrap();
    let (b0, payload) = read_frame(&mut c, rest).await;
    assert_eq!(b0, 0x88, "a close frame");
    assert_eq!(payload, 1002u16.to_be_bytes());
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(GUARD, c.read(&mut buf))
        .await
        .expect("the connection ends")
        .unwrap_or(0);
    assert_eq!(n, 0, "nothing after the close");
}

fn login_doc() -> Vec<u8> {
    let body = Element::new("Login-Request")
        .with_text("UserID", "alice")
        .with(Element::new("ClientID").with_text("URL", "x"))
        .with_text("Password", common::DEFAULT_PASSWORD)
        .with_text("TimeToLive", "600")
        .with_text("SessionCookie", "c");
    imps_wire::encode(
        &Message::single(Version::V1_3, None, Transaction::request("f1", body)),
        Encoding::Xml,
    )
    .unwrap()
}

/// A request sent in three fragments with a ping between them is read
/// as one message and answered; a close from the client is answered
/// with its code.
#[tokio::test]
async fn ws_frames_a_fragmented_login_is_answered_and_a_close_is_returned() {
    let srv = TestServer::builder()
        .user("alice", common::DEFAULT_PASSWORD)
        .start()
        .await;
    let (mut ws, _) = tokio_tungstenite::connect_async(srv.ws_url())
        .await
        .unwrap();
    let doc = login_doc();
    let third = doc.len() / 3;
    let parts = [&doc[..third], &doc[third..2 * third], &doc[2 * third..]];
    for (i, p) in parts.iter().enumerate() {
        let op = if i == 0 { Data::Text } else { Data::Continue };
        let f = Frame::message(p.to_vec(), OpCode::Data(op), i == 2);
        ws.send(WsMsg::Frame(f)).await.unwrap();
        if i == 0 {
            ws.send(WsMsg::Ping(b"between".to_vec().into()))
                .await
                .unwrap();
        }
    }
    let mut pong = false;
    let answer = loop {
        match tokio::time::timeout(GUARD, ws.next()).await.unwrap() {
            Some(Ok(WsMsg::Pong(p))) => {
                assert_eq!(&p[..], b"between");
                pong = true;
            }
            Some(Ok(WsMsg::Text(t))) => break t,
            other => panic!("{other:?}"),
        }
    };
    assert!(pong, "the ping between the fragments was answered first");
    let m = imps_wire::decode(
        answer.as_bytes(),
        Encoding::Xml,
        &imps_wire::Limits::default(),
    )
    .unwrap();
    assert_eq!(m.transactions[0].id.as_deref(), Some("f1"));
    assert_eq!(m.transactions[0].body.name, "Login-Response");
    assert_eq!(
        imps_client::status_of(&m.transactions[0].body).map(|(c, _)| c),
        Some(200)
    );

    ws.close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "bye".into(),
    }))
    .await
    .unwrap();
    let end = tokio::time::timeout(GUARD, async {
        let mut code = None;
        while let Some(Ok(f)) = ws.next().await {
            if let WsMsg::Close(c) = f {
                code = c.map(|c| u16::from(c.code));
            }
        }
        code
    })
    .await
    .expect("the connection ends in time");
    assert_eq!(
        end,
        Some(1000),
        "the server answers the close with its code"
    );
}

/// Posts to the admin endpoint; the status code.
async fn admin_post(srv: &TestServer, path: &str, token: &str) -> u16 {
    let mut c = TcpStream::connect(srv.running().admin_addr).await.unwrap();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    c.write_all(req.as_bytes()).await.unwrap();
    let (head, _) = read_head(&mut c).await;
    head.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// The administrator's cut closes the WebSocket carrying a session, as a
/// network drop would, and the session stays; a session no WebSocket
/// carries (any more) is not found (404).
#[tokio::test]
async fn ws_frames_an_administrators_cut_closes_the_socket_and_keeps_the_session() {
    const TOKEN: &str = "cut-token-for-tests";
    let srv = TestServer::builder()
        .config(|c| c.admin.token = TOKEN.into())
        .user("alice", common::DEFAULT_PASSWORD)
        .start()
        .await;
    let (mut ws, _) = tokio_tungstenite::connect_async(srv.ws_url())
        .await
        .unwrap();
    let doc = login_doc();
    ws.send(WsMsg::Text(String::from_utf8(doc).unwrap().into()))
        .await
        .unwrap();
    let sid = loop {
        match tokio::time::timeout(GUARD, ws.next()).await.unwrap() {
            Some(Ok(WsMsg::Text(t))) => {
                let m =
                    imps_wire::decode(t.as_bytes(), Encoding::Xml, &imps_wire::Limits::default())
                        .unwrap();
                let body = &m.transactions[0].body;
                if body.name == "Login-Response" {
                    break body.child_text("SessionID").unwrap().to_string();
                }
            }
            Some(Ok(_)) => {}
            other => panic!("{other:?}"),
        }
    };
    let cut = format!("/admin/sessions/{sid}/cut-transport");
    assert_eq!(admin_post(&srv, &cut, TOKEN).await, 200);
    let closed = tokio::time::timeout(GUARD, async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(WsMsg::Close(_))) => break,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the cut socket stays open");
    assert!(
        srv.service().sessions().get(&sid).is_some(),
        "the session stays"
    );
    // Nothing carries it now, and an unknown session is not found either.
    let carried = tokio::time::timeout(GUARD, async {
        loop {
            match admin_post(&srv, &cut, TOKEN).await {
                404 => break,
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    })
    .await;
    assert!(
        carried.is_ok(),
        "a closed socket still counts as carrying it"
    );
    assert_eq!(
        admin_post(&srv, "/admin/sessions/nosuch/cut-transport", TOKEN).await,
        404
    );
}
