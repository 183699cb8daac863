//! GEN-17..20, REG-UC, ALG-UC: login by the MSISDN an operator gateway
//! asserts in an HTTP header, believed only from trusted addresses.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use crate::common;

use common::TestServer;
use imps_client::{Client, ClientConfig, Encoding, Version};

fn msisdn_client(
    srv: &TestServer,
    v: Version,
    e: Encoding,
    client_id: &str,
    msisdn: &str,
) -> imps_client::HttpClient {
    Client::new(
        ClientConfig::new(srv.url(), v, e)
            .with_client_id(client_id)
            .with_header("X-MSISDN", msisdn),
    )
    .unwrap()
}

async fn trusted_server() -> TestServer {
    TestServer::start_with(|c| c.msisdn.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]).await
}

#[tokio::test]
async fn gen_17_18_reg_uc_unknown_msisdn_is_registered_and_told_its_user_id() {
    let srv = trusted_server().await;
    for (i, (v, e)) in common::combos().into_iter().enumerate() {
        let number = format!("+35840123456{i}");
        let c = msisdn_client(&srv, v, e, "phone", &number);
        // The phone knows no user ID yet; it sends whatever it has.
        let info = c
            .login_password("new-phone", "")
            .await
            .unwrap_or_else(|err| panic!("{v} {e:?}: {err}"));
        let told = info
            .user_id
            .clone()
            .expect("GEN-18: the server tells the client its new UserID");
        assert!(
            told.starts_with("wv:u") && told.ends_with("@localhost"),
            "{told}"
        );
        let id = told
            .trim_start_matches("wv:")
            .trim_end_matches("@localhost")
            .to_string();
        let store = srv.store();
        let u = store
            .user(&id)
            .await
            .unwrap()
            .expect("GEN-17: the user is now registered");
        assert_eq!(u.msisdn.as_deref(), Some(number.as_str()));
        assert_eq!(
            u.friendly_name.as_deref(),
            Some(id.as_str()),
            "REG-UC: friendly name defaults to the User ID"
        );
        c.logout().await.unwrap();
        // Next time the same number logs in to the same account.
        let again = msisdn_client(&srv, v, e, "phone", &number);
        let info2 = again.login_password(&told, "").await.unwrap();
        assert!(info2.user_id.is_none() || info2.user_id.as_deref() == Some(told.as_str()));
        assert_eq!(srv.running().service.sessions().of_user(&id).len(), 1);
        again.logout().await.unwrap();
    }
}

#[tokio::test]
async fn gen_19_alg_uc_known_msisdn_logs_in_without_password_and_corrects_user_id() {
    let srv = trusted_server().await;
    srv.add_user_full("alice", Some("secret"), Some("+358409999999"))
        .await;
    for (v, e) in common::combos() {
        let c = msisdn_client(&srv, v, e, "phone", "+358 40 999 9999");
        let info = c
            .login_password("wv:someone-else@localhost", "wrong")
            .await
            .unwrap_or_else(|err| panic!("{v} {e:?}: {err}"));
        assert_eq!(
            info.user_id.as_deref(),
            Some("wv:alice@localhost"),
            "the wrong UserID is corrected"
        );
        assert_eq!(srv.running().service.sessions().of_user("alice").len(), 1);
        c.logout().await.unwrap();
    }
}

#[tokio::test]
async fn gen_20_manual_login_can_be_forced() {
    let srv = TestServer::start_with(|c| {
        c.msisdn.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        c.msisdn.force_manual_login = true;
    })
    .await;
    srv.add_user_full("bob", Some("pw"), Some("+358401111111"))
        .await;
    let c = msisdn_client(
        &srv,
        Version::V1_3,
        Encoding::Wbxml,
        "phone",
        "+358401111111",
    );
    let err = c.login_password("bob", "wrong").await.unwrap_err();
    assert_eq!(
        err.status_code(),
        Some(409),
        "the header does not log anyone in"
    );
    let err = c.login_password("", "").await.unwrap_err();
    assert_eq!(
        err.status_code(),
        Some(402),
        "no UserID, no auto-registration"
    );
    c.login_password("bob", "pw").await.unwrap();
}

#[tokio::test]
async fn msisdn_header_from_an_untrusted_address_is_ignored() {
    // 127.0.0.1 is not in the trusted list here.
    let srv =
        TestServer::start_with(|c| c.msisdn.trusted_proxies = vec!["192.0.2.10".parse().unwrap()])
            .await;
    srv.add_user_full("carol", Some("pw"), Some("+358402222222"))
        .await;
    let c = msisdn_client(&srv, Version::V1_2, Encoding::Xml, "phone", "+358402222222");
    let err = c.login_password("carol", "wrong").await.unwrap_err();
    assert_eq!(err.status_code(), Some(409));
    let err = c.login_password("nobody", "").await.unwrap_err();
    assert_eq!(
        err.status_code(),
        Some(531),
        "no auto-registration from an untrusted address"
    );
    let store = srv.store();
    assert_eq!(store.list_users().await.unwrap().len(), 1);
}

#[tokio::test]
async fn reg_uc_a_new_user_is_asked_for_a_friendly_name_and_sets_it_in_the_profile() {
    let srv = trusted_server().await;
    srv.add_user("seeker", crate::im_common::PW).await;
    for (i, e) in [Encoding::Xml, Encoding::Wbxml].into_iter().enumerate() {
        let v = Version::V1_3;
        let c = msisdn_client(&srv, v, e, "phone", &format!("+35850765432{i}"));
        let told = c
            .login_password("new-phone", "")
            .await
            .unwrap()
            .user_id
            .unwrap();
        let me = told
            .trim_start_matches("wv:")
            .trim_end_matches("@localhost")
            .to_string();
        c.request(
            imps_client::Element::new("ClientCapability-Request").with(crate::im_common::caps("P")),
        )
        .await
        .unwrap();
        c.service_request_all().await.unwrap();
        let (tid, req) = crate::im_common::expect(&c, "SystemMessage-Request").await;
        c.answer_status(&tid).await.unwrap();
        let m = req.path(&["SystemMessageList", "SystemMessage"]).unwrap();
        let text = m.child_text("SystemMessageText").unwrap();
        assert!(
            text.contains(&format!("wv:{me}@localhost")),
            "{e:?}: {text}"
        );
        assert!(text.contains("friendly name"), "{text}");
        // The user answers by choosing a name in the public profile.
        let name = format!("Mika {e:?}");
        let set = imps_client::Element::new("UpdatePublicProfile-Request").with(
            imps_client::Element::new("PublicProfile").with(
                imps_client::Element::new("Property")
                    .with_text("Name", "PP_FRIENDLY_NAME")
                    .with_text("Value", &name),
            ),
        );
        assert_eq!(common::code_of(&c.request(set).await.unwrap()), Some(200));
        let s = srv.client(v, e, "s");
        crate::im_common::online_with(&s, "seeker", crate::im_common::caps("P")).await;
        let find = imps_client::Element::new("Search-Request").with(
            imps_client::Element::new("SearchPairList").with(
                imps_client::Element::new("SearchPair")
                    .with_text("SearchElement", "USER_FRIENDLY_NAME")
                    .with_text("SearchString", &name)
                    .with_text("PairID", "1"),
            ),
        );
        let r = s.request(find).await.unwrap();
        let found = r
            .path(&["SearchResult", "UserList", "User", "UserID"])
            .map(|x| x.text.clone());
        assert_eq!(found, Some(format!("wv:{me}@localhost")), "{r:?}");
        c.logout().await.unwrap();
        s.logout().await.unwrap();
    }
}

/// REG-UC with ADC-UC: the prompt is stored before the new user's client
/// says its language, and is sent in the language of the session that
/// takes it.
#[tokio::test]
async fn reg_uc_the_friendly_name_prompt_is_in_the_language_of_the_session() {
    let srv = TestServer::start_with(|c| {
        c.msisdn.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        c.sysmsg.texts.insert(
            "fi".into(),
            imps_core::SysmsgTexts {
                register: "Tervetuloa! Tunnuksesi on {user}.".into(),
                register_ok: "Selvä".into(),
                ..Default::default()
            },
        );
    })
    .await;
    let c = msisdn_client(
        &srv,
        Version::V1_3,
        Encoding::Wbxml,
        "phone",
        "+358401112223",
    );
    let told = c
        .login_password("new-phone", "")
        .await
        .unwrap()
        .user_id
        .unwrap();
    c.request(
        imps_client::Element::new("ClientCapability-Request")
            .with(crate::im_common::caps("P").with_text("DefaultLanguage", "fi-FI")),
    )
    .await
    .unwrap();
    c.service_request_all().await.unwrap();
    let (tid, req) = crate::im_common::expect(&c, "SystemMessage-Request").await;
    c.answer_status(&tid).await.unwrap();
    let m = req.path(&["SystemMessageList", "SystemMessage"]).unwrap();
    assert_eq!(
        m.child_text("SystemMessageText"),
        Some(format!("Tervetuloa! Tunnuksesi on {told}.").as_str()),
        "{m:?}"
    );
    let option = m.path(&["AnswerOptions", "AnswerOption", "AnswerOptionText"]);
    assert_eq!(option.map(|o| o.text.as_str()), Some("Selvä"), "{m:?}");
    c.logout().await.unwrap();
}
