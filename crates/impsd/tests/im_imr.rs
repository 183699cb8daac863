//! IMR-1..9: formatting carried unchanged, multimedia with its original
//! file name, the sender's identity, offline storage and delivery at the
//! next login in order. (IMR-10/11 are in im_offline.rs.)
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use crate::common;
use crate::im_common;

use common::TestServer;
use im_common::*;
use imps_client::{Element, Encoding, HttpClient, Version};

/// Every reader: 1.3 and 1.2, XML and WBXML.
fn readers() -> Vec<(Version, Encoding)> {
    vec![
        (Version::V1_3, Encoding::Xml),
        (Version::V1_3, Encoding::Wbxml),
        (Version::V1_2, Encoding::Xml),
        (Version::V1_2, Encoding::Wbxml),
    ]
}

fn font(size: &str, styles: &[&str], color: &str) -> Element {
    let f = Element::new("Font").with_text("Size", size);
    styles
        .iter()
        .fold(f, |f, s| f.with_text("Style", *s))
        .with_text("Color", color)
}

/// A 1.3 sender's formatted text reaches 1.3 readers with its Font as
/// sent and older readers as the same text without it.
async fn formatted_round_trip(f: Element) {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    for sender_enc in [Encoding::Xml, Encoding::Wbxml] {
        let alice = online(&srv, Version::V1_3, sender_enc, "alice", "phone").await;
        for (v, e) in readers() {
            let bob = online(&srv, v, e, "bob", "phone").await;
            let text = "*Big* news, in colour";
            let req = with_info(text_to("alice", &["bob"], text), vec![f.clone()]);
            send_ok(&alice, req).await;
            let m = receive(&bob).await;
            assert_eq!(content(&m), text, "{v} {e:?}: the text is unchanged");
            assert_eq!(info(&m).child_text("ContentType"), Some("text/plain"));
            if v >= Version::V1_3 {
                assert_eq!(info(&m).child("Font"), Some(&f), "{e:?}: Font as sent");
            } else {
                assert!(info(&m).child("Font").is_none(), "no 1.3 Font for {v}");
            }
            bob.logout().await.unwrap();
        }
        alice.logout().await.unwrap();
    }
}

#[tokio::test]
async fn imr_1_formatted_message_is_text_plain_with_formatting() {
    formatted_round_trip(font("medium", &["B"], "black")).await;
}

#[tokio::test]
async fn imr_2_font_sizes() {
    for size in ["small", "large", "24"] {
        formatted_round_trip(font(size, &[], "black")).await;
    }
}

#[tokio::test]
async fn imr_3_colours() {
    for color in ["red", "#00FF7F"] {
        formatted_round_trip(font("medium", &[], color)).await;
    }
}

#[tokio::test]
async fn imr_4_bold_italic_underline() {
    formatted_round_trip(font("medium", &["B", "I", "U"], "blue")).await;
}

/// Binary content in BASE64 with its type and original file name.
fn picture(to: &str) -> (Element, String) {
    let bytes: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    let b64 = base64_encode(&bytes);
    let req = Element::new("SendMessage-Request")
        .with_text("DeliveryReport", "F")
        .with(
            Element::new("MessageInfo")
                .with_text("ContentType", "image/jpeg")
                .with_text("ContentEncoding", "BASE64")
                .with_text("ContentSize", bytes.len().to_string())
                .with_text("ContentName", "holiday photo.jpg")
                .with(to_users(&[to]))
                .with(
                    Element::new("Sender")
                        .with(Element::new("User").with_text("UserID", uid("alice"))),
                ),
        )
        .with_text("ContentData", b64.clone());
    (req, b64)
}

fn base64_encode(b: &[u8]) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn check_picture(m: &Element, b64: &str, v: Version) {
    let i = info(m);
    assert_eq!(i.child_text("ContentType"), Some("image/jpeg"));
    assert_eq!(i.child_text("ContentEncoding"), Some("BASE64"));
    assert_eq!(i.child_text("ContentSize"), Some("3000"));
    assert_eq!(content(m), b64, "content unchanged");
    if v >= Version::V1_3 {
        assert_eq!(i.child_text("ContentName"), Some("holiday photo.jpg"));
    } else {
        assert!(i.child("ContentName").is_none(), "ContentName is 1.3 only");
    }
}

#[tokio::test]
async fn imr_5_sender_attaches_the_original_file_name() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    for e in [Encoding::Xml, Encoding::Wbxml] {
        let alice = online(&srv, Version::V1_3, e, "alice", "phone").await;
        let bob = online(&srv, Version::V1_3, e, "bob", "phone").await;
        let (req, b64) = picture("bob");
        send_ok(&alice, req).await;
        check_picture(&receive(&bob).await, &b64, Version::V1_3);
        alice.logout().await.unwrap();
        bob.logout().await.unwrap();
    }
}

/// The server keeps the name while it stores the message (the recipient
/// is offline, and the server restarts in between).
#[tokio::test]
async fn imr_6_server_keeps_the_original_file_name() {
    let mut srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    let alice = online(&srv, Version::V1_3, Encoding::Wbxml, "alice", "phone").await;
    let (req, b64) = picture("bob");
    send_ok(&alice, req).await;
    srv.stop().await;
    srv.running = Some(impsd::start(srv.cfg.clone()).await.unwrap());
    let bob = online(&srv, Version::V1_3, Encoding::Xml, "bob", "phone").await;
    check_picture(&receive(&bob).await, &b64, Version::V1_3);
}

#[tokio::test]
async fn imr_7_recipient_receives_the_original_file_name() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    let alice = online(&srv, Version::V1_3, Encoding::Xml, "alice", "phone").await;
    for (v, e) in readers() {
        let bob = online(&srv, v, e, "bob", "phone").await;
        let (req, b64) = picture("bob");
        send_ok(&alice, req).await;
        check_picture(&receive(&bob).await, &b64, v);
        bob.logout().await.unwrap();
    }
}

/// IMR-8 (and IMR-UC, use case 5.5): recipients see the sender's User ID
/// and, in 1.3, Friendly Name; the User ID alone when there is none.
/// Whether the sender is in the recipient's contact list changes nothing
/// on the wire: the client shows its own nickname for a contact and the
/// Friendly Name for anyone else.
#[tokio::test]
async fn imr_8_sender_identified_by_user_id_and_friendly_name() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", Some("Alice Liddell"), None).await;
    add_user(&srv, "dave", None, None).await;
    add_user(&srv, "bob", None, None).await;
    let alice = online(&srv, Version::V1_3, Encoding::Xml, "alice", "phone").await;
    let dave = online(&srv, Version::V1_2, Encoding::Wbxml, "dave", "phone").await;
    for (n, (v, e)) in readers().into_iter().enumerate() {
        let bob = online(&srv, v, e, "bob", "phone").await;
        if n == 2 {
            // From here on alice is one of bob's contacts.
            let create = Element::new("CreateList-Request")
                .with_text("ContactList", "wv:bob/friends@localhost")
                .with(
                    Element::new("NickList").with(
                        Element::new("NickName")
                            .with_text("Name", "Al")
                            .with_text("UserID", uid("alice")),
                    ),
                );
            assert_eq!(
                common::code_of(&bob.request(create).await.unwrap()),
                Some(200)
            );
        }
        send_ok(&alice, text_to("alice", &["bob"], "from alice")).await;
        let m = receive(&bob).await;
        let user = info(&m).path(&["Sender", "User"]).unwrap();
        assert_eq!(user.child_text("UserID"), Some(uid("alice").as_str()));
        if v >= Version::V1_3 {
            assert_eq!(
                user.child_text("FriendlyName"),
                Some("Alice Liddell"),
                "{v} {e:?}"
            );
        } else {
            assert!(
                user.child("FriendlyName").is_none(),
                "no 1.3 element for {v}"
            );
        }
        send_ok(&dave, text_to("dave", &["bob"], "from dave")).await;
        let m = receive(&bob).await;
        let user = info(&m).path(&["Sender", "User"]).unwrap();
        assert_eq!(user.child_text("UserID"), Some(uid("dave").as_str()));
        assert!(
            user.child("FriendlyName").is_none(),
            "User ID alone without a name"
        );
        bob.logout().await.unwrap();
    }
}

async fn login_and_collect(bob: &HttpClient, n: usize) -> Vec<(String, String)> {
    let mut got = Vec::new();
    for _ in 0..n {
        let m = receive(bob).await;
        got.push((sender_id(&m), content(&m)));
    }
    expect_none(bob, "NewMessage").await;
    got
}

#[tokio::test]
async fn imr_9_offline_messages_delivered_at_next_login_in_order() {
    let srv = TestServer::start().await;
    for u in ["alice", "bob", "carol"] {
        add_user(&srv, u, None, None).await;
    }
    for (v, e) in common::combos() {
        let alice = online(&srv, v, e, "alice", "phone").await;
        let carol = online(&srv, v, e, "carol", "phone").await;
        let mut expected = Vec::new();
        for i in 0..6 {
            let (c, who) = if i % 3 == 2 {
                (&carol, "carol")
            } else {
                (&alice, "alice")
            };
            let text = format!("{who} {i}");
            send_ok(c, text_to(who, &["bob"], &text)).await;
            expected.push((uid(who), text));
        }
        // Logged in but not yet negotiated: nothing is offered before
        // the session is ready.
        let bob = srv.client(v, e, "phone");
        bob.login_password("bob", PW).await.unwrap();
        assert!(next_request(&bob, 0).await.is_none());
        bob.request(Element::new("ClientCapability-Request").with(caps("P")))
            .await
            .unwrap();
        bob.service_request_all().await.unwrap();
        assert_eq!(login_and_collect(&bob, 6).await, expected, "{v} {e:?}");
        bob.logout().await.unwrap();
        alice.logout().await.unwrap();
        carol.logout().await.unwrap();
    }
}
