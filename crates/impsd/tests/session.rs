//! BASE-SES end to end: login (password and digest), keep-alive, expiry,
//! logout, negotiation, GetSPInfo, over XML and WBXML, CSP 1.1-1.3.

use crate::common;

use common::{TestServer, code_of, combos};
use imps_client::{ClientError, Element, Encoding, Version, agreed_cir_methods};
use imps_core::FakeClock;

#[tokio::test]
async fn base_ses_password_login_keepalive_logout_every_version_and_encoding() {
    let srv = TestServer::start().await;
    srv.add_user("alice", "wonderland").await;
    for (v, e) in combos() {
        let c = srv.client(v, e, &format!("phone-{v}-{e:?}"));
        let info = c
            .login_password("wv:alice@localhost", "wonderland")
            .await
            .unwrap_or_else(|err| panic!("{v} {e:?}: {err}"));
        assert_eq!(info.session_id.len(), 32, "128-bit session id as hex");
        assert!(info.keepalive_secs > 0);
        let agreed = c
            .client_capability(&["STCP", "SHTTP"], Some(65536))
            .await
            .unwrap();
        assert!(
            agreed_cir_methods(&agreed).contains(&"STCP".to_string()),
            "{v} {e:?}: {agreed:?}"
        );
        let svc = c.service_request_all().await.unwrap();
        assert!(
            svc.path(&["AllFunctions", "WVCSPFeat"]).is_some(),
            "AllFunctions always present: {svc:?}"
        );
        assert_eq!(c.keep_alive(Some(120)).await.unwrap(), Some(120));
        c.logout().await.unwrap();
        // The session is gone: 604.
        let r = c.keep_alive(None).await;
        assert_eq!(
            r.err().and_then(|e| e.status_code()),
            Some(604),
            "{v} {e:?}"
        );
    }
}

#[tokio::test]
async fn base_ses_digest_login_four_way_sha_and_md5() {
    let srv = TestServer::start().await;
    srv.add_user("bob", "builder").await;
    for (v, e) in combos() {
        for schemas in [&["SHA"][..], &["MD5"][..], &["MD4", "MD5", "SHA"][..]] {
            let c = srv.client(v, e, &format!("d-{v}-{e:?}-{}", schemas.join("")));
            let info = c
                .login_digest("bob", "builder", schemas)
                .await
                .unwrap_or_else(|err| panic!("{v} {e:?} {schemas:?}: {err}"));
            assert!(!info.session_id.is_empty());
            c.logout().await.unwrap();
        }
    }
    // Wrong password under digest.
    let c = srv.client(Version::V1_2, Encoding::Xml, "d-wrong");
    let err = c.login_digest("bob", "not-it", &["SHA"]).await.unwrap_err();
    assert_eq!(err.status_code(), Some(409));
    // Only schemas we do not know: 543.
    let c = srv.client(Version::V1_2, Encoding::Xml, "d-none");
    let err = c
        .login_digest("bob", "builder", &["MD4"])
        .await
        .unwrap_err();
    assert_eq!(err.status_code(), Some(543));
}

#[tokio::test]
async fn base_ses_digest_not_offered_without_an_encrypted_secret() {
    let srv = TestServer::start_with(|c| c.login.digest = false).await;
    srv.add_user("carol", "pw").await;
    let c = srv.client(Version::V1_3, Encoding::Wbxml, "x");
    let err = c
        .login_digest("carol", "pw", &["SHA", "MD5"])
        .await
        .unwrap_err();
    assert_eq!(err.status_code(), Some(543));
    // Password login still works.
    c.login_password("carol", "pw").await.unwrap();
}

#[tokio::test]
async fn base_ses_wrong_password_and_unknown_user() {
    let srv = TestServer::start().await;
    srv.add_user("alice", "right").await;
    for (v, e) in combos() {
        let c = srv.client(v, e, "p");
        let err = c.login_password("alice", "wrong").await.unwrap_err();
        assert_eq!(err.status_code(), Some(409), "{v} {e:?}: {err}");
        let err = c.login_password("nobody", "x").await.unwrap_err();
        assert_eq!(err.status_code(), Some(531), "{v} {e:?}: {err}");
        let err = c
            .login_password("alice@other.example", "right")
            .await
            .unwrap_err();
        assert_eq!(err.status_code(), Some(516), "{v} {e:?}: {err}");
    }
}

#[tokio::test]
async fn base_ses_request_without_session_gets_604() {
    let srv = TestServer::start().await;
    let c = srv.client(Version::V1_2, Encoding::Xml, "p");
    c.set_session_id(Some("0123456789abcdef0123456789abcdef".into()));
    let r = c.request(Element::new("KeepAlive-Request")).await.unwrap();
    assert_eq!(code_of(&r), Some(604));
}

#[tokio::test]
async fn base_ses_expired_session_gets_600_after_keepalive_time() {
    let clock = FakeClock::new(1_000_000);
    let srv = TestServer::builder()
        .config(|c| {
            c.session.keepalive_min_secs = 10;
            c.session.keepalive_max_secs = 30;
        })
        .fake_clock(clock.clone())
        .user("dave", "pw")
        .start()
        .await;
    let c = srv.client(Version::V1_3, Encoding::Xml, "p");
    let info = c.login_password("dave", "pw").await.unwrap();
    assert_eq!(
        info.keepalive_secs, 30,
        "the client asked for 600 s; the server caps it at 30"
    );
    // Activity inside the window keeps it alive.
    clock.advance_ms(25_000);
    assert_eq!(srv.running().service.expire_idle().await, 0);
    c.keep_alive(None).await.unwrap();
    clock.advance_ms(25_000);
    assert_eq!(srv.running().service.expire_idle().await, 0);
    // Silence past the keep-alive time ends it.
    clock.advance_ms(31_000);
    assert_eq!(srv.running().service.expire_idle().await, 1);
    let err = c.keep_alive(None).await.unwrap_err();
    assert_eq!(err.status_code(), Some(600), "{err}");
}

#[tokio::test]
async fn base_ses_get_sp_info_without_session() {
    let srv = TestServer::start_with(|c| c.sp_info.name = "Test Operator".into()).await;
    for (v, e) in combos() {
        let c = srv.client(v, e, "p");
        let info = c.get_sp_info().await.unwrap();
        assert_eq!(info.child_text("Name"), Some("Test Operator"), "{v} {e:?}");
    }
}

#[tokio::test]
async fn base_ses_service_negotiation_narrowed_by_policy() {
    let srv = TestServer::start_with(|c| c.services.disabled = vec!["ServiceFunc".into()]).await;
    srv.add_user("erin", "pw").await;
    let c = srv.client(Version::V1_2, Encoding::Wbxml, "p");
    c.login_password("erin", "pw").await.unwrap();
    let resp = c.service_request_all().await.unwrap();
    let all = resp
        .path(&["AllFunctions", "WVCSPFeat"])
        .expect("AllFunctions present even when empty");
    assert!(
        all.path(&["FundamentalFeat", "ServiceFunc", "GETSPI"])
            .is_none(),
        "policy removed GETSPI: {all:?}"
    );
    let missing = resp
        .path(&["Functions", "WVCSPFeat"])
        .expect("Functions lists what is not available");
    assert!(
        missing
            .path(&["FundamentalFeat", "ServiceFunc", "GETSPI"])
            .is_some(),
        "{missing:?}"
    );
}

#[tokio::test]
async fn base_ses_unimplemented_primitive_gets_501_and_unknown_gets_400() {
    let srv = TestServer::start().await;
    srv.add_user("fay", "pw").await;
    let c = srv.client(Version::V1_3, Encoding::Xml, "p");
    c.login_password("fay", "pw").await.unwrap();
    let r = c
        .request(Element::new("VerifyID-Request").with_text("UserID", "wv:fay@localhost"))
        .await
        .unwrap();
    assert_eq!(code_of(&r), Some(501));
    let r = c.request(Element::new("Frobnicate-Request")).await.unwrap();
    assert_eq!(code_of(&r), Some(400));
}

#[tokio::test]
async fn cfg_1_client_negotiates_its_maximum_message_size() {
    let srv = TestServer::start().await;
    srv.add_user("gus", "pw").await;
    for (v, e) in combos() {
        let c = srv.client(v, e, "p");
        c.login_password("gus", "pw").await.unwrap();
        let agreed = c.client_capability(&["SHTTP"], Some(2048)).await.unwrap();
        let named = if v == Version::V1_3 {
            "AcceptedPushLength"
        } else {
            "AcceptedContentLength"
        };
        assert_eq!(
            agreed.child_text(named),
            Some("2048"),
            "{v} {e:?}: {agreed:?}"
        );
        let s = srv
            .running()
            .service
            .sessions()
            .get(&c.session_id().unwrap())
            .unwrap();
        assert_eq!(
            s.with_state(|st| st.caps.as_ref().and_then(|c| c.max_message_size())),
            Some(2048)
        );
        c.logout().await.unwrap();
    }
}

#[tokio::test]
async fn base_ses_client_error_is_typed() {
    // A sanity check of the harness: a server that is not there is an
    // error, not a hang or a panic.
    let c = imps_client::Client::new(imps_client::ClientConfig::new(
        "http://127.0.0.1:9/imps",
        Version::V1_2,
        Encoding::Xml,
    ))
    .unwrap();
    let r = c.login_password("x", "y").await;
    assert!(
        matches!(
            r,
            Err(ClientError::Transport(_) | ClientError::Io(_) | ClientError::Timeout)
        ),
        "{r:?}"
    );
}

/// Issue 13: a Service-Request whose WVCSPFeat is empty asks for every
/// feature (an empty feature element means its whole subtree), so the
/// session may then send messages and read presence instead of getting
/// 506 for each.
#[tokio::test]
async fn quirk_empty_wvcspfeat_agrees_to_every_feature() {
    let srv = TestServer::start().await;
    srv.add_user("gil", "pw").await;
    srv.add_user("hal", "pw").await;
    for (v, e) in combos() {
        let c = srv.client(v, e, &format!("q-{v}-{e:?}"));
        c.login_password("gil", "pw").await.unwrap();
        let req = Element::new("Service-Request")
            .with(Element::new("Functions").with(Element::new("WVCSPFeat")))
            .with_text("AllFunctionsRequest", "T");
        let resp = c.request(req).await.unwrap();
        assert_eq!(resp.name, "Service-Response", "{v} {e:?}: {resp:?}");
        assert!(
            resp.path(&["AllFunctions", "WVCSPFeat", "IMFeat"])
                .is_some(),
            "{v} {e:?}: {resp:?}"
        );
        let r = c
            .request(
                Element::new("GetPresence-Request")
                    .with(Element::new("User").with_text("UserID", "wv:hal")),
            )
            .await
            .unwrap();
        assert_eq!(code_of(&r), Some(200), "{v} {e:?} GetPresence: {r:?}");
        let r = c
            .request(
                Element::new("SendMessage-Request")
                    .with_text("DeliveryReport", "F")
                    .with(
                        Element::new("MessageInfo")
                            .with_text("ContentType", "text/plain")
                            .with_text("ContentSize", "2")
                            .with(
                                Element::new("Recipient")
                                    .with(Element::new("User").with_text("UserID", "wv:hal")),
                            ),
                    )
                    .with_text("ContentData", "hi"),
            )
            .await
            .unwrap();
        assert_eq!(code_of(&r), Some(200), "{v} {e:?} SendMessage: {r:?}");
        c.logout().await.unwrap();
    }
}
