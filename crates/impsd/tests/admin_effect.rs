//! Admin commands take effect (issue 14, item 7): `impsd session kick`
//! ends the session at once (gone from the list, its ClientID free, its
//! client told by a Disconnect), and `impsd user passwd` ends the user's
//! sessions, on the running server and across a restart, unless
//! `--keep-sessions` is given. The real binary, driven as an operator
//! drives it.

use crate::common;

use std::time::Duration;

use common::*;
use imps_client::{Client, ClientConfig, Element, Encoding, HttpClient, Version, WsClient};

fn client(srv: &RealServer, client_id: &str) -> HttpClient {
    Client::new(
        ClientConfig::new(srv.url(), Version::V1_3, Encoding::Xml).with_client_id(client_id),
    )
    .expect("client config")
}

/// A client that reuses `session_id` (its own session from before).
fn resumed(srv: &RealServer, session_id: &str) -> HttpClient {
    let c = client(srv, "phone");
    c.set_session_id(Some(session_id.to_string()));
    c
}

async fn keep_alive_code(c: &HttpClient) -> Option<u16> {
    let r = c
        .request(Element::new("KeepAlive-Request"))
        .await
        .expect("an answer");
    code_of(&r)
}

/// The Disconnect waiting for a client at its next poll.
async fn polled_disconnect(c: &HttpClient) -> Element {
    let m = c.poll().await.expect("poll").expect("something waits");
    let body = m.transactions[0].body.clone();
    assert_eq!(body.name, "Disconnect");
    assert_eq!(code_of(&body), Some(601));
    body
}

#[tokio::test]
async fn admin_kick_ends_the_session_and_frees_its_client_id() {
    let srv = RealServer::builder(impsd_bin!()).start();
    srv.add_user("alice", "pw");
    let old = client(&srv, "phone");
    let info = old.login_password("alice", "pw").await.expect("login");
    assert!(srv.cli(&["session", "list"]).contains(&info.session_id));

    let out = srv.cli(&["session", "kick", &info.session_id]);
    assert!(out.contains("kicked"), "{out}");
    // Gone at once, before its client has heard of it.
    let listed = srv.cli(&["session", "list"]);
    assert!(!listed.contains(&info.session_id), "{listed}");
    // Its ClientID is free: a new login with it is no 603.
    let again = client(&srv, "phone");
    let new = again
        .login_password("alice", "pw")
        .await
        .expect("login again");
    assert_ne!(new.session_id, info.session_id);
    // The kicked client is told at its next poll; until then its session
    // answers 601, afterwards it is unknown (604).
    assert_eq!(keep_alive_code(&old).await, Some(601));
    polled_disconnect(&old).await;
    assert_eq!(keep_alive_code(&old).await, Some(604));
    assert_eq!(keep_alive_code(&again).await, Some(200));

    // Over WebSocket the Disconnect is pushed, and the ClientID is free
    // as well.
    let ws = WsClient::connect_with(
        ClientConfig::new(srv.ws_url(), Version::V1_3, Encoding::Wbxml).with_client_id("tablet"),
    )
    .await
    .expect("WebSocket connects");
    let info = ws.login_password("alice", "pw").await.expect("ws login");
    srv.cli(&["session", "kick", &info.session_id]);
    let m = ws
        .next_push(Duration::from_secs(10))
        .await
        .expect("Disconnect pushed");
    assert_eq!(m.transactions[0].body.name, "Disconnect");
    let tablet = client(&srv, "tablet");
    tablet
        .login_password("alice", "pw")
        .await
        .expect("the ClientID is free");
}

#[tokio::test]
async fn admin_passwd_ends_the_users_sessions_also_across_a_restart() {
    let mut srv = RealServer::builder(impsd_bin!()).start();
    srv.add_user("alice", "old");
    srv.add_user("bob", "pw");
    let alice = client(&srv, "phone");
    let info = alice.login_password("alice", "old").await.expect("login");
    let bob = client(&srv, "bob-phone");
    let bob_info = bob.login_password("bob", "pw").await.expect("login");

    let out = srv.cli(&["user", "passwd", "alice", "--password", "new"]);
    assert!(out.contains("1 sessions ended"), "{out}");
    let listed = srv.cli(&["session", "list"]);
    assert!(!listed.contains(&info.session_id), "{listed}");
    assert!(listed.contains(&bob_info.session_id), "{listed}");
    polled_disconnect(&alice).await;
    assert_eq!(keep_alive_code(&alice).await, Some(604));

    // Nothing of it comes back with a restart; bob's session does.
    srv.restart();
    assert_eq!(
        keep_alive_code(&resumed(&srv, &info.session_id)).await,
        Some(604)
    );
    let bob = client(&srv, "bob-phone");
    bob.set_session_id(Some(bob_info.session_id.clone()));
    assert_eq!(keep_alive_code(&bob).await, Some(200));
    let c = client(&srv, "phone");
    let err = c
        .login_password("alice", "old")
        .await
        .expect_err("old password");
    assert_eq!(err.status_code(), Some(409));
    c.login_password("alice", "new")
        .await
        .expect("new password");
}

#[tokio::test]
async fn admin_passwd_while_the_server_is_down_ends_sessions_at_its_start() {
    let mut srv = RealServer::builder(impsd_bin!()).start();
    srv.add_user("alice", "old");
    let alice = client(&srv, "phone");
    let info = alice.login_password("alice", "old").await.expect("login");
    srv.kill();
    let out = srv.cli(&["user", "passwd", "alice", "--password", "new"]);
    assert!(out.contains("1 sessions ended"), "{out}");
    srv.restart();
    assert_eq!(
        keep_alive_code(&resumed(&srv, &info.session_id)).await,
        Some(604)
    );
}

#[tokio::test]
async fn admin_passwd_keep_sessions_keeps_them() {
    let mut srv = RealServer::builder(impsd_bin!()).start();
    srv.add_user("alice", "old");
    let alice = client(&srv, "phone");
    let info = alice.login_password("alice", "old").await.expect("login");
    let out = srv.cli(&[
        "user",
        "passwd",
        "alice",
        "--password",
        "new",
        "--keep-sessions",
    ]);
    assert_eq!(keep_alive_code(&alice).await, Some(200));
    assert!(srv.cli(&["session", "list"]).contains(&info.session_id));
    assert!(out.contains("sessions kept"), "{out}");
    srv.restart();
    assert_eq!(
        keep_alive_code(&resumed(&srv, &info.session_id)).await,
        Some(200)
    );
}

#[tokio::test]
async fn admin_kick_wakes_a_tcp_cir_client_which_then_collects_the_disconnect() {
    let srv = RealServer::builder(impsd_bin!()).start();
    srv.add_user("alice", "pw");
    let c = client(&srv, "phone");
    let info = c.login_password("alice", "pw").await.expect("login");
    let agreed = c
        .client_capability(&["STCP"], None)
        .await
        .expect("capabilities");
    let addr = imps_client::tcp_cir_addr(&agreed).expect("TCP CIR agreed");
    let mut cir = imps_client::TcpCir::connect(addr.as_str(), &info.session_id)
        .await
        .expect("CIR connects");
    cir.ping().await.expect("CIR answers");

    srv.cli(&["session", "kick", &info.session_id]);
    // Ended already (its ClientID is free), yet the client is woken...
    client(&srv, "phone")
        .login_password("alice", "pw")
        .await
        .expect("the ClientID is free");
    let line = cir
        .next_wakeup(Duration::from_secs(10))
        .await
        .expect("CIR open")
        .expect("a WVCI line");
    assert!(line.starts_with("WVCI"), "{line}");
    // ...polls, gets the Disconnect, and then the CIR socket closes.
    polled_disconnect(&c).await;
    // (Closed, not a timeout: the server ended the connection.)
    let end = cir.next_wakeup(Duration::from_secs(30)).await;
    assert!(
        matches!(end, Err(imps_client::ClientError::Closed)),
        "{end:?}"
    );
    assert_eq!(keep_alive_code(&c).await, Some(604));
}
