//! CSP over WebSocket against a fake server built on tokio-tungstenite's
//! own accept: responses find their request, pushes queue up, a full queue
//! drops and counts, a closed socket fails fast.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use imps_client::{
    ClientConfig, ClientError, Element, Encoding, Limits, Message, Transaction, TransactionMode,
    Version, WsClient,
};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message as Frame;

fn result(code: u16) -> Element {
    Element::new("Result").with_text("Code", code.to_string())
}

fn frame(msg: &Message, encoding: Encoding) -> Frame {
    let bytes = imps_wire::encode(msg, encoding).expect("encode");
    match encoding {
        Encoding::Xml => Frame::text(String::from_utf8(bytes).expect("utf8")),
        Encoding::Wbxml => Frame::binary(bytes),
    }
}

fn push(version: Version, n: usize) -> Message {
    let body = Element::new("NewMessage").with_text("MessageID", n.to_string());
    Message::single(
        version,
        Some("sess-w".into()),
        Transaction::request(format!("s{n}"), body),
    )
}

/// Serves one socket: before answering each request it pushes `pushes`
/// server requests; Response-mode frames are swallowed; a Logout closes.
async fn fake_ws(pushes: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let Ok((sock, _)) = listener.accept().await else {
            return;
        };
        let Ok(mut ws) = tokio_tungstenite::accept_async(sock).await else {
            return;
        };
        let mut n = 0;
        while let Some(Ok(f)) = ws.next().await {
            let (bytes, enc) = match &f {
                Frame::Text(t) => (t.as_bytes().to_vec(), Encoding::Xml),
                Frame::Binary(b) => (b.to_vec(), Encoding::Wbxml),
                _ => continue,
            };
            let Ok(req) = imps_wire::decode(&bytes, enc, &Limits::default()) else {
                return;
            };
            let tx = &req.transactions[0];
            if tx.mode == TransactionMode::Response {
                continue;
            }
            if tx.body.name == "Logout-Request" {
                let _ = ws.close(None).await;
                return;
            }
            for _ in 0..pushes {
                n += 1;
                let _ = ws.send(frame(&push(req.version, n), enc)).await;
            }
            let body = match tx.body.name.as_str() {
                "Login-Request" => Element::new("Login-Response")
                    .with(result(200))
                    .with_text("SessionID", "sess-w")
                    .with_text("KeepAliveTime", "120"),
                _ => Element::new("KeepAlive-Response").with(result(200)),
            };
            let answer = Message::single(
                req.version,
                req.session_id.clone(),
                Transaction::response(tx.id.clone(), body),
            );
            let _ = ws.send(frame(&answer, enc)).await;
        }
    });
    format!("ws://{addr}/imps/ws")
}

#[tokio::test]
async fn responses_reach_their_request_and_pushes_queue_up() -> Result<(), ClientError> {
    for encoding in [Encoding::Xml, Encoding::Wbxml] {
        let url = fake_ws(1).await;
        let alice = WsClient::connect(&url, Version::V1_3, encoding).await?;
        let info = alice.login_password("alice", "secret").await?;
        assert_eq!(info.session_id, "sess-w");
        assert_eq!(info.keepalive_secs, 120);
        alice.keep_alive(None).await?;
        let first = alice
            .next_push(Duration::from_secs(5))
            .await
            .expect("first push");
        assert_eq!(first.transactions[0].id.as_deref(), Some("s1"));
        assert_eq!(first.transactions[0].body.name, "NewMessage");
        assert!(alice.next_push(Duration::from_secs(5)).await.is_some());
        assert!(
            alice.answer_status("s1").await?.is_none(),
            "no frame answers a Response"
        );
        assert!(alice.next_push(Duration::from_millis(50)).await.is_none());
        assert_eq!(alice.dropped_pushes(), 0);
    }
    Ok(())
}

#[tokio::test]
async fn a_full_push_queue_drops_and_counts_but_responses_still_arrive() -> Result<(), ClientError>
{
    let url = fake_ws(3).await;
    let mut cfg = ClientConfig::new(url, Version::V1_2, Encoding::Xml);
    cfg.push_queue = 1;
    let bob = WsClient::connect_with(cfg).await?;
    bob.login_password("bob", "secret").await?;
    assert_eq!(bob.dropped_pushes(), 2);
    let kept = bob
        .next_push(Duration::from_secs(1))
        .await
        .expect("one push kept");
    assert_eq!(kept.transactions[0].id.as_deref(), Some("s1"));
    Ok(())
}

#[tokio::test]
async fn a_closed_socket_fails_fast() -> Result<(), ClientError> {
    let url = fake_ws(0).await;
    let carol = WsClient::connect(&url, Version::V1_2, Encoding::Xml).await?;
    carol.login_password("carol", "secret").await?;
    let logout = carol.logout().await;
    assert!(matches!(logout, Err(ClientError::Closed)), "{logout:?}");
    assert!(carol.is_closed());
    assert!(matches!(
        carol.keep_alive(None).await,
        Err(ClientError::Closed)
    ));
    assert!(carol.next_push(Duration::from_millis(50)).await.is_none());
    Ok(())
}
