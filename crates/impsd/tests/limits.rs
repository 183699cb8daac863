//! Limits that were constants and are now settings (issue 12): what a
//! client sees when one is reached.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use crate::common;

use common::{TestServer, post_raw};
use imps_wire::csp::{ClientId, LoginRequest, LoginResponse, Status};
use imps_wire::{Encoding, Limits, Message, Transaction, Version};

/// Step one of a 4-way login: ask for a SHA challenge, nothing more.
async fn ask_challenge(srv: &TestServer, client: &str) -> Message {
    let v = Version::V1_3;
    let req = LoginRequest {
        user_id: Some("wv:bob@localhost".into()),
        client_id: ClientId {
            url: Some(client.into()),
            ..ClientId::default()
        },
        digest_schemas: vec!["SHA".into()],
        time_to_live: Some(600),
        ..LoginRequest::default()
    };
    let msg = Message::single(v, None, Transaction::request("1", req.to_element(v)));
    let body = imps_wire::encode(&msg, Encoding::Xml).unwrap();
    let (status, _, reply) = post_raw(&srv.url(), "application/vnd.wv.csp+xml", body).await;
    assert_eq!(status, 200);
    imps_wire::decode(&reply, Encoding::Xml, &Limits::default()).unwrap()
}

#[tokio::test]
async fn login_challenges_past_max_challenges_get_503() {
    let srv = TestServer::builder()
        .config(|c| c.login.max_challenges = 2)
        .user("bob", "builder")
        .start()
        .await;
    for client in ["phone", "tablet"] {
        let m = ask_challenge(&srv, client).await;
        let r = LoginResponse::from_element(&m.transactions[0].body, m.version).unwrap();
        assert_eq!(r.result.code, 401, "{client}: a challenge, {r:?}");
        assert!(r.nonce.is_some(), "{client}");
    }
    // A third client while both challenges are outstanding: refused, and
    // told to come back later rather than that something broke.
    let m = ask_challenge(&srv, "laptop").await;
    let body = &m.transactions[0].body;
    let code = LoginResponse::from_element(body, m.version)
        .map(|r| r.result.code)
        .or_else(|_| Status::from_element(body, m.version).map(|s| s.result.code))
        .unwrap();
    assert_eq!(code, 503, "{body:?}");
}
