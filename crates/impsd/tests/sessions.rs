//! GEN-11..16: several sessions per user, each with its own ClientID.

use crate::common;

use common::TestServer;
use imps_client::{Encoding, Version};

#[tokio::test]
async fn gen_11_12_14_15_one_user_many_sessions_with_distinct_client_ids() {
    let srv = TestServer::start().await;
    srv.add_user("alice", "pw").await;
    let phone = srv.client(Version::V1_2, Encoding::Wbxml, "wv:phone");
    let laptop = srv.client(Version::V1_3, Encoding::Xml, "wv:laptop");
    let app = srv.client(Version::V1_3, Encoding::Wbxml, "wv:third-party-app");
    let a = phone.login_password("alice", "pw").await.unwrap();
    let b = laptop.login_password("alice", "pw").await.unwrap();
    let c = app.login_password("alice", "pw").await.unwrap();
    assert!(a.session_id != b.session_id && b.session_id != c.session_id);
    // GEN-15: the earlier sessions still work.
    phone.keep_alive(None).await.unwrap();
    laptop.keep_alive(None).await.unwrap();
    app.keep_alive(None).await.unwrap();
    assert_eq!(srv.running().service.sessions().of_user("alice").len(), 3);
    // Ending one leaves the others.
    laptop.logout().await.unwrap();
    phone.keep_alive(None).await.unwrap();
    app.keep_alive(None).await.unwrap();
}

#[tokio::test]
async fn gen_13_second_session_with_a_client_id_in_use_is_refused() {
    let srv = TestServer::start().await;
    srv.add_user("bob", "pw").await;
    let first = srv.client(Version::V1_2, Encoding::Xml, "wv:same-phone");
    first.login_password("bob", "pw").await.unwrap();
    let second = srv.client(Version::V1_3, Encoding::Wbxml, "wv:same-phone");
    let err = second.login_password("bob", "pw").await.unwrap_err();
    assert_eq!(err.status_code(), Some(603), "{err}");
    // The first session was not disturbed (GEN-15).
    first.keep_alive(None).await.unwrap();
    // Another user may use the same ClientID string.
    srv.add_user("carol", "pw").await;
    let carol = srv.client(Version::V1_2, Encoding::Xml, "wv:same-phone");
    carol.login_password("carol", "pw").await.unwrap();
    // After logout the ClientID is free again.
    first.logout().await.unwrap();
    second.login_password("bob", "pw").await.unwrap();
}

#[tokio::test]
async fn gen_16_session_cap_per_user() {
    let srv = TestServer::start_with(|c| c.session.max_per_user = 2).await;
    srv.add_user("dave", "pw").await;
    let c1 = srv.client(Version::V1_2, Encoding::Xml, "c1");
    let c2 = srv.client(Version::V1_2, Encoding::Xml, "c2");
    let c3 = srv.client(Version::V1_2, Encoding::Xml, "c3");
    c1.login_password("dave", "pw").await.unwrap();
    c2.login_password("dave", "pw").await.unwrap();
    let err = c3.login_password("dave", "pw").await.unwrap_err();
    assert_eq!(err.status_code(), Some(603), "{err}");
    c1.keep_alive(None).await.unwrap();
    c2.keep_alive(None).await.unwrap();
    c1.logout().await.unwrap();
    c3.login_password("dave", "pw").await.unwrap();
}
