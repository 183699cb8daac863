//! Bad bodies get an error answer (a CSP Status when the version can be
//! told, else plain HTTP) and the server keeps serving.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use crate::common;

use common::{TestServer, post_raw};
use imps_client::{Element, Encoding, Message, Transaction, Version};

fn login_doc(v: Version, e: Encoding) -> Vec<u8> {
    let body = Element::new("Login-Request")
        .with_text("UserID", "alice")
        .with(Element::new("ClientID").with_text("URL", "x"))
        .with_text("Password", "pw")
        .with_text("TimeToLive", "600")
        .with_text("SessionCookie", "c");
    imps_wire::encode(
        &Message::single(v, None, Transaction::request("1", body)),
        e,
    )
    .unwrap()
}

fn status_code_in(body: &[u8], e: Encoding) -> Option<u16> {
    let m = imps_wire::decode(body, e, &imps_wire::Limits::default()).ok()?;
    imps_client::status_of(&m.transactions[0].body).map(|(c, _)| c)
}

#[tokio::test]
async fn base_ses_hostile_bodies_get_errors_and_the_server_keeps_serving() {
    let srv = TestServer::start_with(|c| c.limits.max_body_bytes = 64 * 1024).await;
    srv.add_user("alice", "pw").await;
    let url = srv.url();
    let xml_ct = "application/vnd.wv.csp.xml";
    let wbxml_ct = "application/vnd.wv.csp.wbxml";

    // Truncated XML that still names its version: a CSP Status 400.
    let full = login_doc(Version::V1_2, Encoding::Xml);
    for cut in [full.len() / 3, full.len() / 2, full.len() - 5] {
        let (st, ct, body) = post_raw(&url, xml_ct, full[..cut].to_vec()).await;
        assert_eq!(st, 200, "cut at {cut}");
        assert_eq!(ct.as_deref(), Some(xml_ct));
        assert_eq!(
            status_code_in(&body, Encoding::Xml),
            Some(400),
            "cut at {cut}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    // Truncated WBXML: the public id tells the version.
    let full = login_doc(Version::V1_3, Encoding::Wbxml);
    for cut in [4, full.len() / 2, full.len() - 1] {
        let (st, _, body) =
            post_raw(&url, "application/vnd.wv.csp+wbxml", full[..cut].to_vec()).await;
        assert_eq!(st, 200, "cut at {cut}");
        assert_eq!(
            status_code_in(&body, Encoding::Wbxml),
            Some(400),
            "cut at {cut}"
        );
    }
    // Deep nesting inside a real envelope.
    let mut deep = String::from(
        r#"<WV-CSP-Message xmlns="http://www.openmobilealliance.org/DTD/WV-CSP1.2"><Session>"#,
    );
    deep.push_str(&"<a>".repeat(5000));
    deep.push_str(&"</a>".repeat(5000));
    deep.push_str("</Session></WV-CSP-Message>");
    let (st, _, body) = post_raw(&url, xml_ct, deep.into_bytes()).await;
    assert_eq!((st, status_code_in(&body, Encoding::Xml)), (200, Some(400)));
    // An entity bomb.
    let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><WV-CSP-Message xmlns="http://www.openmobilealliance.org/DTD/WV-CSP1.2">&lol2;</WV-CSP-Message>"#;
    let (st, _, body) = post_raw(&url, xml_ct, bomb.as_bytes().to_vec()).await;
    assert_eq!((st, status_code_in(&body, Encoding::Xml)), (200, Some(400)));
    // Oversized: refused before reading it all.
    let (st, _, _) = post_raw(&url, xml_ct, vec![b'<'; 200 * 1024]).await;
    assert_eq!(st, 413);
    // Not CSP at all.
    let (st, _, _) = post_raw(&url, xml_ct, b"<html><body>hi</body></html>".to_vec()).await;
    assert_eq!(st, 400);
    let (st, _, _) = post_raw(&url, "text/plain", b"hello".to_vec()).await;
    assert_eq!(st, 415);
    let (st, _, _) = post_raw(&url, wbxml_ct, vec![0x03, 0x7f, 0x6a, 0x00, 0xff, 0xff]).await;
    assert_eq!(st, 400);
    let (st, _, _) = post_raw(&url, xml_ct, Vec::new()).await;
    assert_eq!(st, 400);
    // A valid envelope with no transaction is a CSP error too.
    let empty = r#"<WV-CSP-Message xmlns="http://www.openmobilealliance.org/DTD/IMPS-CSP1.3"><Session><SessionDescriptor><SessionType>Outband</SessionType></SessionDescriptor></Session></WV-CSP-Message>"#;
    let (st, _, body) = post_raw(
        &url,
        "application/vnd.wv.csp+xml",
        empty.as_bytes().to_vec(),
    )
    .await;
    assert_eq!((st, status_code_in(&body, Encoding::Xml)), (200, Some(400)));
    // Random bytes, many times, in both encodings.
    let mut x: u32 = 12345;
    for i in 0..200 {
        let len = (i * 7) % 300 + 1;
        let junk: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x & 0xff) as u8
            })
            .collect();
        let ct = if i % 2 == 0 { xml_ct } else { wbxml_ct };
        let (st, _, _) = post_raw(&url, ct, junk).await;
        assert!(st == 200 || st == 400, "status {st}");
    }
    // Still serving.
    let c = srv.client(Version::V1_2, Encoding::Xml, "after");
    c.login_password("alice", "pw").await.unwrap();
}

/// Fuzz regression: a UserID with a multi-byte character across byte 3
/// (`wvÞlice`) panicked in the ID parser, so HTTP answered 500 and a
/// WebSocket connection died. It is an invalid ID: a CSP error, and the
/// server goes on.
#[tokio::test]
async fn base_ses_multibyte_user_id_is_an_error_not_a_crash() {
    let srv = TestServer::start().await;
    srv.add_user("alice", "pw").await;
    for (v, e) in common::combos() {
        let c = srv.client(v, e, "odd");
        let err = c.login_password("wvÞlice", "pw").await.unwrap_err();
        let code = err.status_code();
        assert!(
            matches!(code, Some(400..=999)),
            "{v} {e:?}: a CSP status, not a transport failure: {err}"
        );
        let ws = imps_client::WsClient::connect(&srv.ws_url(), v, e)
            .await
            .unwrap();
        assert!(ws.login_password("wvÞlice@examcom", "pw").await.is_err());
        // The same connection still serves a good login.
        ws.login_password("alice", "pw").await.unwrap();
        ws.logout().await.unwrap();
    }
}
