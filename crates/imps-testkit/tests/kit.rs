//! The kit against a server in this process: what its helpers promise.

use imps_client::{Encoding, Version};
use imps_testkit::{DEFAULT_PASSWORD, TestServer, code_of, wait_until};
use std::time::Duration;

#[tokio::test]
async fn a_message_goes_from_an_http_user_to_a_websocket_user_and_back() {
    let srv = TestServer::start().await;
    srv.add_users(&["alice", "bob"], DEFAULT_PASSWORD).await;
    let alice = srv.login("alice").await;
    let bob = srv
        .login("bob")
        .combo((Version::V1_2, Encoding::Wbxml))
        .ws()
        .await;

    let id = alice.send_text("bob", "hello").await;
    let m = bob.receive().await;
    assert_eq!(m.content_data.as_deref(), Some("hello"));
    assert_eq!(m.message_info.message_id.as_deref(), Some(id.as_str()));

    bob.send_text("alice", "hello yourself").await;
    assert_eq!(alice.receive_text().await, "hello yourself");
    // Both acknowledged: nothing is left for either.
    assert!(alice.drain().await.is_empty());
    assert!(bob.drain().await.is_empty());
}

#[tokio::test]
async fn builder_settings_and_users_apply_and_survive_a_restart() {
    let mut srv = TestServer::builder()
        .config(|c| c.sp_info.name = "Kit Operator".into())
        .config(|c| c.session.keepalive_max_secs = 60)
        .user("carol", "secret")
        .start()
        .await;
    let carol = srv.login("carol").password("secret").await;
    assert_eq!(carol.info.keepalive_secs, 60);
    let info = carol.get_sp_info().await.unwrap();
    assert_eq!(info.child_text("Name"), Some("Kit Operator"));

    srv.restart().await;
    let again = srv
        .login("carol")
        .password("secret")
        .client_id("tablet")
        .not_ready()
        .await;
    let r = again
        .request(imps_client::Element::new("KeepAlive-Request"))
        .await
        .unwrap();
    assert_eq!(code_of(&r), Some(200));
}

#[tokio::test]
async fn a_fake_clock_ends_idle_sessions_when_the_test_moves_it() {
    let clock = imps_core::FakeClock::new(1_000_000);
    let srv = TestServer::builder()
        .config(|c| {
            c.session.keepalive_min_secs = 10;
            c.session.keepalive_max_secs = 30;
        })
        .fake_clock(clock.clone())
        .user("dave", "pw")
        .start()
        .await;
    let dave = srv.login("dave").not_ready().await;
    assert_eq!(srv.service().expire_idle().await, 0);
    clock.advance_ms(31_000);
    assert_eq!(srv.service().expire_idle().await, 1);
    assert!(dave.keep_alive(None).await.is_err());
}

#[tokio::test]
async fn wait_until_sees_a_session_appear() {
    let srv = TestServer::builder().user("erin", "pw").start().await;
    let service = srv.service().clone();
    let login = tokio::spawn(srv.login("erin").into_future());
    wait_until("erin's session", Duration::from_secs(10), || {
        let service = service.clone();
        async move { !service.sessions().of_user("erin").is_empty() }
    })
    .await;
    login.await.unwrap().logout().await;
}
