//! Helpers shared by the instant-messaging end-to-end tests (im*.rs):
//! users, sessions made ready the way a phone does it, the IM primitives
//! as clients send them, and readers for what the server pushes.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use imps_client::{Client, Element, Encoding, HttpClient, Transport, Version, WsClient};
use imps_core::{NewUser, Store};

pub use crate::common::uid;
use crate::common::{Backoff, TestServer, code_of, get_text};

pub const PW: &str = "pw";

/// The value of the `/metrics` line that starts with `series` (name and
/// labels, e.g. `impsd_im_messages_total{way="stored"}`).
pub async fn metric(srv: &TestServer, series: &str) -> u64 {
    let (status, text) = get_text(&format!("http://{}/metrics", srv.http_addr())).await;
    assert_eq!(status, 200);
    let key = format!("{series} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&key))
        .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
        .parse()
        .unwrap()
}

pub fn store(srv: &TestServer) -> Arc<dyn Store> {
    srv.store()
}

/// A user with password `pw`, optionally a friendly name and an MSISDN.
pub async fn add_user(srv: &TestServer, id: &str, friendly: Option<&str>, msisdn: Option<&str>) {
    add_user_hashed(
        srv,
        id,
        &imps_core::auth::hash_password(PW).unwrap(),
        friendly,
        msisdn,
    )
    .await;
}

/// Like [`add_user`] with a precomputed argon2 hash (argon2 is slow on
/// purpose: tests with many users hash once).
pub async fn add_user_hashed(
    srv: &TestServer,
    id: &str,
    hash: &str,
    friendly: Option<&str>,
    msisdn: Option<&str>,
) {
    store(srv)
        .create_user(NewUser {
            id: id.into(),
            password_hash: Some(hash.to_string()),
            digest_secret: None,
            msisdn: msisdn.map(str::to_string),
            friendly_name: friendly.map(str::to_string),
            created_ms: 0,
        })
        .await
        .unwrap();
}

/// A CapabilityList like a phone's, taking pushed messages (`P`) or
/// notifications (`N`).
pub fn caps(method: &str) -> Element {
    Element::new("CapabilityList")
        .with_text("ClientType", "MOBILE_PHONE")
        .with_text("InitialDeliveryMethod", method)
        .with_text("MultiTrans", "1")
        .with_text("SupportedBearer", "HTTP")
}

/// Logs in and negotiates like Android (ClientCapability, then Service),
/// which makes the session ready: waiting messages flow from here on.
pub async fn online_with<T: Transport>(c: &Client<T>, user: &str, caps: Element) -> Element {
    c.login_password(user, PW).await.unwrap();
    let agreed = c
        .request(Element::new("ClientCapability-Request").with(caps))
        .await
        .unwrap();
    assert_eq!(agreed.name, "ClientCapability-Response", "{agreed:?}");
    c.service_request_all().await.unwrap();
    agreed
}

pub async fn online(
    srv: &TestServer,
    v: Version,
    e: Encoding,
    user: &str,
    client: &str,
) -> HttpClient {
    let c = srv.client(v, e, client);
    online_with(&c, user, caps("P")).await;
    c
}

pub async fn online_ws(srv: &TestServer, v: Version, e: Encoding, user: &str) -> WsClient {
    let c = WsClient::connect(&srv.ws_url(), v, e).await.unwrap();
    online_with(&c, user, caps("P")).await;
    c
}

/// `Recipient{User{UserID}*}`.
pub fn to_users(users: &[&str]) -> Element {
    users.iter().fold(Element::new("Recipient"), |r, u| {
        r.with(Element::new("User").with_text("UserID", uid(u)))
    })
}

/// A SendMessage-Request as Android writes it (text/plain, ContentSize in
/// characters, no DateTime), with a Sender and the given Recipient.
pub fn send_request(from: &str, recipient: Element, text: &str, report: bool) -> Element {
    Element::new("SendMessage-Request")
        .with_text("DeliveryReport", if report { "T" } else { "F" })
        .with(
            Element::new("MessageInfo")
                .with_text("ContentType", "text/plain")
                .with_text("ContentSize", text.encode_utf16().count().to_string())
                .with(recipient)
                .with(
                    Element::new("Sender")
                        .with(Element::new("User").with_text("UserID", uid(from))),
                ),
        )
        .with_text("ContentData", text)
}

pub fn text_to(from: &str, to: &[&str], text: &str) -> Element {
    send_request(from, to_users(to), text, false)
}

/// Adds children to the MessageInfo of a SendMessage-Request.
pub fn with_info(mut req: Element, extra: Vec<Element>) -> Element {
    if let Some(info) = req.child_mut("MessageInfo") {
        info.children.extend(extra);
    }
    req
}

/// Sends and expects 200; returns the server's MessageID.
pub async fn send_ok<T: Transport>(c: &Client<T>, req: Element) -> String {
    let resp = c.request(req).await.unwrap();
    assert_eq!(resp.name, "SendMessage-Response", "{resp:?}");
    assert_eq!(code_of(&resp), Some(200), "{resp:?}");
    resp.child_text("MessageID")
        .expect("a MessageID")
        .to_string()
}

/// The next server-originated request over HTTP (polling with a short
/// growing pause), waiting up to `secs` for one to appear.
pub async fn next_request(c: &HttpClient, secs: u64) -> Option<(String, Element)> {
    let mut backoff = Backoff::new(Duration::from_secs(secs));
    loop {
        if let Some(m) = c.poll().await.unwrap() {
            let t = m.transactions.into_iter().next().unwrap();
            return Some((t.id.expect("server requests carry an ID"), t.body));
        }
        if !backoff.wait().await {
            return None;
        }
    }
}

/// Polls until a primitive named `name` arrives (others are answered
/// with Status and skipped, e.g. presence notices).
pub async fn expect(c: &HttpClient, name: &str) -> (String, Element) {
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        let left = end
            .saturating_duration_since(Instant::now())
            .as_secs()
            .max(1);
        let Some((tid, body)) = next_request(c, left).await else {
            break;
        };
        if body.name == name {
            return (tid, body);
        }
        c.answer_status(&tid).await.unwrap();
    }
    panic!("no {name} arrived");
}

/// The next push over WebSocket named `name`.
pub async fn expect_ws(c: &WsClient, name: &str) -> (String, Element) {
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        let Some(m) = c
            .next_push(end.saturating_duration_since(Instant::now()))
            .await
        else {
            break;
        };
        let t = m.transactions.into_iter().next().unwrap();
        let tid = t.id.expect("server requests carry an ID");
        if t.body.name == name {
            return (tid, t.body);
        }
        c.answer_status(&tid).await.unwrap();
    }
    panic!("no {name} pushed");
}

/// Nothing more of this name waits (other pushes are acknowledged).
pub async fn expect_none(c: &HttpClient, name: &str) {
    while let Some((tid, body)) = next_request(c, 0).await {
        assert_ne!(body.name, name, "unexpected {body:?}");
        c.answer_status(&tid).await.unwrap();
    }
}

/// Android's acknowledgement: MessageDelivered in Response mode under the
/// NewMessage's TransactionID. No answer comes back.
pub async fn ack<T: Transport>(c: &Client<T>, tid: &str, id: &str) {
    let r = c
        .answer(
            tid,
            Element::new("MessageDelivered").with_text("MessageID", id),
        )
        .await
        .unwrap();
    assert!(
        r.is_none() || r.as_ref().is_some_and(|m| m.transactions.is_empty()),
        "{r:?}"
    );
}

pub fn info(m: &Element) -> &Element {
    m.child("MessageInfo").expect("MessageInfo")
}

pub fn msg_id(m: &Element) -> String {
    info(m)
        .child_text("MessageID")
        .expect("MessageID")
        .to_string()
}

pub fn sender_id(m: &Element) -> String {
    info(m)
        .path(&["Sender", "User", "UserID"])
        .map(|e| e.text.clone())
        .expect("Sender/User/UserID")
}

pub fn content(m: &Element) -> String {
    m.child("ContentData")
        .map(|c| c.text.clone())
        .unwrap_or_default()
}

/// Receives one NewMessage (HTTP), acknowledges it, returns it.
pub async fn receive(c: &HttpClient) -> Element {
    let (tid, m) = expect(c, "NewMessage").await;
    ack(c, &tid, &msg_id(&m)).await;
    m
}

/// The (Code) of every DetailedResult of a Result.
pub fn details(resp: &Element) -> Vec<(u16, Vec<String>)> {
    let r = resp
        .child("Result")
        .or_else(|| resp.path(&["Result"]))
        .expect("Result");
    r.children_named("DetailedResult")
        .map(|d| {
            let code = d.child_u64("Code").unwrap_or(0) as u16;
            let ids = d
                .children
                .iter()
                .filter(|c| matches!(c.name.as_str(), "UserID" | "MessageID" | "ContactList"))
                .map(|c| c.text.clone())
                .collect();
            (code, ids)
        })
        .collect()
}

/// A SendMessage-Request carrying `bytes` of BASE64 content of type `ct`.
pub fn media(from: &str, to: &str, ct: &str, bytes: usize) -> Element {
    // Any base64 text will do: 4 characters per 3 bytes.
    let b64 = "QUJD".repeat(bytes / 3);
    Element::new("SendMessage-Request")
        .with_text("DeliveryReport", "F")
        .with(
            Element::new("MessageInfo")
                .with_text("ContentType", ct)
                .with_text("ContentEncoding", "BASE64")
                .with_text("ContentSize", (bytes / 3 * 3).to_string())
                .with(to_users(&[to]))
                .with(
                    Element::new("Sender")
                        .with(Element::new("User").with_text("UserID", uid(from))),
                ),
        )
        .with_text("ContentData", b64)
}
