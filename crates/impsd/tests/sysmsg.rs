//! Issue 15: system messages (SYM-*). Online messages are pushed as
//! SystemMessage-Request to CSP 1.3 sessions and answered with
//! SystemMessage-User; the operator's terms are asked in the Login-Response
//! and answered in the next Login-Request, and the answer decides the level
//! of service; unsupported clients are told why they are refused.
#![allow(clippy::unwrap_used)]

use crate::{common, im_common};

use common::{TestServer, code_of};
use im_common::{PW, add_user, caps, expect, expect_none, next_request, online, online_with};
use imps_client::{Element, Encoding, HttpClient, LoginAuth, Version};
use imps_core::{Audience, FakeClock, NewSystemMessage, TermsConfig, TermsOption};

const BOTH: [Encoding; 2] = [Encoding::Xml, Encoding::Wbxml];

fn message(
    to: Audience,
    text: &str,
    options: &[&str],
    requires_response: bool,
) -> NewSystemMessage {
    NewSystemMessage {
        text: text.into(),
        options: options.iter().map(|o| o.to_string()).collect(),
        requires_response,
        to,
    }
}

fn to(user: &str) -> Audience {
    Audience::Users(vec![user.to_string()])
}

/// The one `SystemMessage` of a pushed SystemMessage-Request.
fn the_message(req: &Element) -> &Element {
    assert_eq!(req.name, "SystemMessage-Request", "{req:?}");
    let list = req.child("SystemMessageList").expect("SystemMessageList");
    assert_eq!(list.children.len(), 1, "{req:?}");
    list.child("SystemMessage").expect("SystemMessage")
}

fn options_of(m: &Element) -> Vec<(String, String)> {
    m.child("AnswerOptions")
        .map(|o| {
            o.children_named("AnswerOption")
                .map(|a| {
                    (
                        a.child_text("AnswerOptionID").unwrap().to_string(),
                        a.child_text("AnswerOptionText").unwrap().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `SystemMessage-User` answering `id`, with an option or none.
fn answer(id: &str, chosen: Option<u64>) -> Element {
    let mut r = Element::new("SystemMessageResponse").with_text("SystemMessageID", id);
    if let Some(c) = chosen {
        r = r.with_text("ChosenOptionID", c.to_string());
    }
    Element::new("SystemMessage-User").with(Element::new("SystemMessageResponseList").with(r))
}

async fn answer_ok(c: &HttpClient, id: &str, chosen: Option<u64>) {
    let r = c.request(answer(id, chosen)).await.unwrap();
    assert_eq!(code_of(&r), Some(200), "{r:?}");
}

/// The pushed message's ID, after acknowledging the push with a Status.
async fn receive(c: &HttpClient) -> (String, Element) {
    let (tid, req) = expect(c, "SystemMessage-Request").await;
    c.answer_status(&tid).await.unwrap();
    let m = the_message(&req).clone();
    (m.child_text("SystemMessageID").unwrap().to_string(), m)
}

#[tokio::test]
async fn sym_1_sym_4_sym_5_sym_10_sym_15_a_message_with_options_is_pushed_and_its_answer_recorded()
{
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    for e in BOTH {
        let alice = online(&srv, Version::V1_3, e, "alice", "phone").await;
        // SYM-4: zero options.
        let sent = srv
            .service()
            .send_system_message(message(to("alice"), "Welcome to the service", &[], false))
            .await
            .unwrap();
        assert_eq!(sent.pushed_now, 1);
        let (id, m) = receive(&alice).await;
        assert_eq!(id, sent.id);
        assert_eq!(
            m.child_text("SystemMessageText"),
            Some("Welcome to the service")
        );
        assert_eq!(m.child_text("RequiresResponse"), Some("F"), "{m:?}");
        assert!(options_of(&m).is_empty(), "{m:?}");
        answer_ok(&alice, &id, None).await;

        // SYM-4, SYM-5, SYM-10: two options, an answer required.
        let sent = srv
            .service()
            .send_system_message(message(
                to("wv:alice@localhost"),
                "Keep your location private?",
                &["Yes", "No"],
                true,
            ))
            .await
            .unwrap();
        let (id, m) = receive(&alice).await;
        assert_eq!(id, sent.id);
        assert_eq!(m.child_text("RequiresResponse"), Some("T"), "{m:?}");
        assert_eq!(
            options_of(&m),
            vec![("1".into(), "Yes".into()), ("2".into(), "No".into())],
            "{e:?}"
        );
        answer_ok(&alice, &id, Some(2)).await;
        // SYM-15: the server knows she read it and what she chose.
        let s = srv.service().system_message(&id).await.unwrap();
        assert_eq!(s.deliveries.len(), 1);
        let d = &s.deliveries[0];
        assert_eq!((d.user.as_str(), d.sent_count), ("alice", 1));
        assert!(d.answered_ms.is_some());
        assert_eq!(d.chosen, Some(2));
        alice.logout().await.unwrap();
    }
}

#[tokio::test]
async fn sym_8_sym_9_texts_of_512_characters_pass_and_longer_ones_are_refused() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    for e in BOTH {
        let alice = online(&srv, Version::V1_3, e, "alice", "phone").await;
        for len in [128, 512] {
            let text: String = "Ünï☺".chars().cycle().take(len).collect();
            let option: String = "ö".repeat(len);
            srv.service()
                .send_system_message(message(to("alice"), &text, &[&option], false))
                .await
                .unwrap();
            let (_, m) = receive(&alice).await;
            assert_eq!(
                m.child_text("SystemMessageText"),
                Some(text.as_str()),
                "{e:?}"
            );
            assert_eq!(options_of(&m)[0].1, option);
        }
        alice.logout().await.unwrap();
    }
    let long: String = "x".repeat(513);
    let err = srv
        .service()
        .send_system_message(message(to("alice"), &long, &[], false))
        .await
        .unwrap_err();
    assert_eq!(err.status_code(), 402, "{err}");
    let err = srv
        .service()
        .send_system_message(message(to("nobody"), "hi", &[], false))
        .await
        .unwrap_err();
    assert_eq!(err.status_code(), 531, "{err}");
}

#[tokio::test]
async fn sym_12_a_message_needing_an_answer_comes_again_until_answered() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    // Sent while she is offline: it waits for her next 1.3 session.
    let needs = srv
        .service()
        .send_system_message(message(to("alice"), "Agree?", &["Agree"], true))
        .await
        .unwrap();
    let once = srv
        .service()
        .send_system_message(message(to("alice"), "Just so you know", &[], false))
        .await
        .unwrap();
    assert_eq!((needs.pushed_now, once.pushed_now), (0, 0));

    let alice = online(&srv, Version::V1_3, Encoding::Wbxml, "alice", "phone").await;
    // Both come; their order is by creation time, and two messages made
    // in the same millisecond are ordered by their (random) IDs.
    let mut got = [receive(&alice).await.0, receive(&alice).await.0];
    got.sort();
    let mut sent = [needs.id.clone(), once.id.clone()];
    sent.sort();
    assert_eq!(got, sent);
    // The operator sends it again while she is online (SYM-12).
    assert_eq!(
        srv.service()
            .resend_system_message(&needs.id)
            .await
            .unwrap(),
        1
    );
    let (again, _) = receive(&alice).await;
    assert_eq!(again, needs.id);
    alice.logout().await.unwrap();

    // A new session: the unanswered one comes again, the other does not.
    let alice = online(&srv, Version::V1_3, Encoding::Xml, "alice", "phone").await;
    let (again, _) = receive(&alice).await;
    assert_eq!(again, needs.id);
    expect_none(&alice, "SystemMessage-Request").await;
    answer_ok(&alice, &needs.id, Some(1)).await;
    alice.logout().await.unwrap();

    let alice = online(&srv, Version::V1_3, Encoding::Xml, "alice", "phone").await;
    expect_none(&alice, "SystemMessage-Request").await;
    let s = srv.service().system_message(&needs.id).await.unwrap();
    assert_eq!(s.deliveries[0].sent_count, 3, "{s:?}");
    // Answered: a resend finds nobody left to ask.
    assert_eq!(
        srv.service()
            .resend_system_message(&needs.id)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn sym_answers_to_unknown_messages_and_options_are_refused_one_by_one() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    let alice = online(&srv, Version::V1_3, Encoding::Xml, "alice", "phone").await;
    let sent = srv
        .service()
        .send_system_message(message(to("alice"), "Pick one", &["A", "B"], true))
        .await
        .unwrap();
    let (id, _) = receive(&alice).await;
    // Not hers: bob cannot answer alice's message.
    let bob = online(&srv, Version::V1_3, Encoding::Xml, "bob", "phone").await;
    for chosen in [Some(1), Some(99), None] {
        let r = bob.request(answer(&id, chosen)).await.unwrap();
        assert_eq!(code_of(&r), Some(404), "nothing is told about it: {r:?}");
    }
    for (chosen, code) in [(Some(3), 402), (None, 402)] {
        let r = alice.request(answer(&id, chosen)).await.unwrap();
        assert_eq!(code_of(&r), Some(code), "{chosen:?}: {r:?}");
    }
    // One good answer beside a bad one: 201, the bad one detailed.
    let both = Element::new("SystemMessage-User").with(
        Element::new("SystemMessageResponseList")
            .with(
                Element::new("SystemMessageResponse")
                    .with_text("SystemMessageID", "sm-none")
                    .with_text("ChosenOptionID", "1"),
            )
            .with(
                Element::new("SystemMessageResponse")
                    .with_text("SystemMessageID", sent.id.clone())
                    .with_text("ChosenOptionID", "1"),
            ),
    );
    let r = alice.request(both).await.unwrap();
    assert_eq!(code_of(&r), Some(201), "{r:?}");
    let detail = r.path(&["Result", "DetailedResult", "Code"]).unwrap();
    assert_eq!(detail.text, "404");
    let s = srv.service().system_message(&sent.id).await.unwrap();
    assert_eq!(s.deliveries[0].chosen, Some(1));
}

#[tokio::test]
async fn sym_1_older_versions_wait_for_a_1_3_session_and_everyone_means_later_users_too() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", None, None).await;
    let old = online(&srv, Version::V1_2, Encoding::Xml, "alice", "old-phone").await;
    let sent = srv
        .service()
        .send_system_message(message(
            Audience::Everyone,
            "Maintenance at 2am",
            &[],
            false,
        ))
        .await
        .unwrap();
    assert_eq!(sent.pushed_now, 0, "1.2 has no system messages");
    assert!(next_request(&old, 0).await.is_none());
    let alice = online(&srv, Version::V1_3, Encoding::Xml, "alice", "phone").await;
    let (id, _) = receive(&alice).await;
    assert_eq!(id, sent.id);
    // A user created after the message gets it at their first login.
    add_user(&srv, "carol", None, None).await;
    let carol = online(&srv, Version::V1_3, Encoding::Wbxml, "carol", "phone").await;
    let (id, _) = receive(&carol).await;
    assert_eq!(id, sent.id);
}

fn terms() -> TermsConfig {
    TermsConfig {
        version: "v1".into(),
        text: "Each message costs 0.01. Do you agree?".into(),
        options: vec![
            TermsOption {
                text: "Agree".into(),
                ..Default::default()
            },
            TermsOption {
                text: "Presence only".into(),
                withhold: vec!["IMFeat".into(), "GroupFeat".into()],
                deny: false,
            },
            TermsOption {
                text: "Decline".into(),
                deny: true,
                ..Default::default()
            },
        ],
        timeout_secs: 60,
        ..Default::default()
    }
}

/// A password Login-Request, with answers to system messages when given.
fn login_req(c: &HttpClient, user: &str, answers: &[(&str, u64)]) -> Element {
    let mut body = imps_client::primitives::login_request(
        user,
        &c.config().client_id,
        LoginAuth::Password(PW),
        600,
        c.session_cookie(),
    );
    if !answers.is_empty() {
        let mut list = Element::new("SystemMessageResponseList");
        for (id, chosen) in answers {
            list = list.with(
                Element::new("SystemMessageResponse")
                    .with_text("SystemMessageID", *id)
                    .with_text("ChosenOptionID", chosen.to_string()),
            );
        }
        body = body.with(list);
    }
    body
}

/// The terms message of a Login-Response that holds the login.
fn asked(resp: &Element) -> &Element {
    assert_eq!(resp.name, "Login-Response", "{resp:?}");
    assert_eq!(code_of(resp), Some(403), "{resp:?}");
    assert!(
        resp.child("SessionID").is_none(),
        "no session yet: {resp:?}"
    );
    let m = resp
        .path(&["Result", "SystemMessageList", "SystemMessage"])
        .unwrap_or_else(|| panic!("terms in the Result: {resp:?}"));
    assert_eq!(m.child_text("RequiresResponse"), Some("T"));
    m
}

#[tokio::test]
async fn sym_7_sym_6_sym_17_terms_are_asked_before_login_and_only_until_agreed() {
    let srv = TestServer::start_with(|c| c.sysmsg.terms = Some(terms())).await;
    add_user(&srv, "alice", None, None).await;
    for e in BOTH {
        // A user per round: the server remembers who agreed.
        let alice = &format!("alice-{e:?}").to_lowercase();
        add_user(&srv, alice, None, None).await;
        let c = srv.client(Version::V1_3, e, &format!("phone-{e:?}"));
        let first = c.request(login_req(&c, alice, &[])).await.unwrap();
        let m = asked(&first);
        assert_eq!(m.child_text("SystemMessageID"), Some("terms-v1"));
        assert_eq!(options_of(m).len(), 3);
        // SYM-6: no session, so nothing else can be done.
        assert!(srv.service().sessions().of_user(alice).is_empty());
        // A login with the wrong ID answered: asked again.
        let r = c
            .request(login_req(&c, alice, &[("terms-old", 1)]))
            .await
            .unwrap();
        asked(&r);
        // An answer without a valid option: 402, the question stays open.
        let r = c
            .request(login_req(&c, alice, &[("terms-v1", 7)]))
            .await
            .unwrap();
        assert_eq!(code_of(&r), Some(402), "{r:?}");
        // The answer from another client is not taken: that client is
        // asked instead, and the first one's question is gone.
        let other = srv.client(Version::V1_3, e, "someone-else");
        asked(
            &other
                .request(login_req(&other, alice, &[("terms-v1", 1)]))
                .await
                .unwrap(),
        );
        asked(
            &c.request(login_req(&c, alice, &[("terms-v1", 1)]))
                .await
                .unwrap(),
        );
        let ok = c
            .request(login_req(&c, alice, &[("terms-v1", 1)]))
            .await
            .unwrap();
        assert_eq!(code_of(&ok), Some(200), "{e:?}: {ok:?}");
        assert!(ok.child("SessionID").is_some());
        c.logout().await.unwrap();
        // SYM-17: agreed once, not asked again.
        let again = srv.client(Version::V1_3, e, "another-phone");
        again.login_password(alice, PW).await.unwrap();
        again.logout().await.unwrap();
    }
    // Declining refuses the login (and it is asked again next time).
    let c = srv.client(Version::V1_3, Encoding::Xml, "phone");
    asked(&c.request(login_req(&c, "alice", &[])).await.unwrap());
    let r = c
        .request(login_req(&c, "alice", &[("terms-v1", 3)]))
        .await
        .unwrap();
    assert_eq!(code_of(&r), Some(403), "{r:?}");
    assert!(r.child("SessionID").is_none());
    asked(&c.request(login_req(&c, "alice", &[])).await.unwrap());
    // A wrong password with the answer records nothing.
    let mut bad = login_req(&c, "alice", &[("terms-v1", 1)]);
    bad.child_mut("Password").unwrap().text = "wrong".into();
    let r = c.request(bad).await.unwrap();
    assert_eq!(code_of(&r), Some(409), "{r:?}");
    let a = srv.store().terms_agreement("alice").await.unwrap().unwrap();
    assert_eq!(a.option, 3, "the decline is what was last recorded");
}

#[tokio::test]
async fn sym_14_no_answer_within_the_timeout_denies_access() {
    let clock = FakeClock::new(1_000_000);
    let srv = TestServer::builder()
        .config(|c| c.sysmsg.terms = Some(terms()))
        .fake_clock(clock.clone())
        .start()
        .await;
    add_user(&srv, "alice", None, None).await;
    for e in BOTH {
        // A user per round: the server remembers who agreed.
        let alice = &format!("alice-{e:?}").to_lowercase();
        add_user(&srv, alice, None, None).await;
        let c = srv.client(Version::V1_3, e, "phone");
        asked(&c.request(login_req(&c, alice, &[])).await.unwrap());
        clock.advance_ms(61_000);
        let late = c
            .request(login_req(&c, alice, &[("terms-v1", 1)]))
            .await
            .unwrap();
        assert_eq!(code_of(&late), Some(408), "{e:?}: {late:?}");
        assert!(late.child("SessionID").is_none());
        let recorded = srv.store().terms_agreement(alice).await.unwrap();
        assert!(
            recorded.as_ref().is_none_or(|a| a.version != "v1"),
            "a late answer records nothing: {recorded:?}"
        );
        // The next login starts over, and an answer in time is taken.
        asked(&c.request(login_req(&c, alice, &[])).await.unwrap());
        clock.advance_ms(59_000);
        let ok = c
            .request(login_req(&c, alice, &[("terms-v1", 1)]))
            .await
            .unwrap();
        assert_eq!(code_of(&ok), Some(200), "{e:?}: {ok:?}");
        c.logout().await.unwrap();
    }
}

#[tokio::test]
async fn sym_11_sym_13_a_presence_only_answer_leaves_im_and_groups_out() {
    let srv = TestServer::start_with(|c| c.sysmsg.terms = Some(terms())).await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    for e in BOTH {
        // A user per round: the server remembers who agreed.
        let alice = &format!("alice-{e:?}").to_lowercase();
        add_user(&srv, alice, None, None).await;
        let c = srv.client(Version::V1_3, e, "phone");
        asked(&c.request(login_req(&c, alice, &[])).await.unwrap());
        // SYM-13: not online while the level is unsettled.
        assert!(srv.service().sessions().of_user(alice).is_empty());
        let ok = c
            .request(login_req(&c, alice, &[("terms-v1", 2)]))
            .await
            .unwrap();
        assert_eq!(code_of(&ok), Some(200), "{ok:?}");
        c.set_session_id(ok.child_text("SessionID").map(str::to_string));
        c.request(Element::new("ClientCapability-Request").with(caps("P")))
            .await
            .unwrap();
        let negotiated = c.service_request_all().await.unwrap();
        let all = negotiated.child("AllFunctions").expect("AllFunctions");
        let feats: Vec<&str> = all
            .child("WVCSPFeat")
            .unwrap()
            .children
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        assert!(feats.contains(&"PresenceFeat"), "{feats:?}");
        assert!(
            !feats.contains(&"IMFeat") && !feats.contains(&"GroupFeat"),
            "{feats:?}"
        );
        // IM is refused as beyond the level of service; presence works.
        let r = c
            .request(im_common::text_to(alice, &["bob"], "hi"))
            .await
            .unwrap();
        assert_eq!(code_of(&r), Some(903), "{r:?}");
        let r = c
            .request(
                Element::new("GetPresence-Request")
                    .with(Element::new("User").with_text("UserID", common::uid("bob"))),
            )
            .await
            .unwrap();
        assert_eq!(r.name, "GetPresence-Response", "{r:?}");
        c.logout().await.unwrap();
        // The next login keeps the level without asking.
        let again = srv.client(Version::V1_3, e, "phone");
        online_with(&again, alice, caps("P")).await;
        let r = again
            .request(im_common::text_to(alice, &["bob"], "hi"))
            .await
            .unwrap();
        assert_eq!(code_of(&r), Some(903), "{r:?}");
        again.logout().await.unwrap();
    }
}

#[tokio::test]
async fn sym_7_clients_before_1_3_cannot_see_the_terms_and_are_refused_or_admitted() {
    let srv = TestServer::start_with(|c| c.sysmsg.terms = Some(terms())).await;
    add_user(&srv, "alice", None, None).await;
    for v in [Version::V1_1, Version::V1_2] {
        let c = srv.client(v, Encoding::Xml, "old");
        let r = c.request(login_req(&c, "alice", &[])).await.unwrap();
        assert_eq!(code_of(&r), Some(403), "{v}: {r:?}");
        assert!(r.path(&["Result", "SystemMessageList"]).is_none());
    }
    let mut t = terms();
    t.older_clients = imps_core::OlderClients::Admit;
    let srv = TestServer::start_with(|c| c.sysmsg.terms = Some(t)).await;
    add_user(&srv, "alice", None, None).await;
    let c = srv.client(Version::V1_2, Encoding::Xml, "old");
    c.login_password("alice", PW).await.unwrap();
    // Admitted at the first option's level; but a user who declined this
    // version is not let in by an older client.
    let r = c
        .request(im_common::text_to("alice", &["alice"], "hi"))
        .await
        .unwrap();
    assert_ne!(code_of(&r), Some(903), "{r:?}");
    c.logout().await.unwrap();
    let new = srv.client(Version::V1_3, Encoding::Xml, "new");
    asked(&new.request(login_req(&new, "alice", &[])).await.unwrap());
    let r = new
        .request(login_req(&new, "alice", &[("terms-v1", 3)]))
        .await
        .unwrap();
    assert_eq!(code_of(&r), Some(403), "{r:?}");
    let r = c.request(login_req(&c, "alice", &[])).await.unwrap();
    assert_eq!(
        code_of(&r),
        Some(403),
        "declined, then an old client: {r:?}"
    );
}

#[tokio::test]
async fn sym_2_sym_3_unsupported_clients_are_told_why() {
    let srv = TestServer::start_with(|c| {
        c.sysmsg.refuse_versions = vec!["1.1".into()];
        c.sysmsg.refuse_clients = vec!["OldPhone".into()];
        c.sysmsg.refusal_text = "Please update your messenger.".into();
    })
    .await;
    add_user(&srv, "alice", None, None).await;
    // SYM-3: by protocol version, before any password check (a wrong
    // password is not even looked at).
    let checks = srv.service().dummy_password_checks();
    let c = srv.client(Version::V1_1, Encoding::Xml, "phone");
    let mut wrong = login_req(&c, "nobody", &[]);
    wrong.child_mut("Password").unwrap().text = "wrong".into();
    let r = c.request(wrong).await.unwrap();
    assert_eq!(code_of(&r), Some(505), "{r:?}");
    assert_eq!(srv.service().dummy_password_checks(), checks);
    // SYM-2: by client release; 1.3 gets the reason as a system message.
    for (v, e) in [
        (Version::V1_3, Encoding::Xml),
        (Version::V1_3, Encoding::Wbxml),
        (Version::V1_2, Encoding::Wbxml),
    ] {
        let c = srv.client(v, e, "wv:OLDPHONE-2.0@vendor");
        let mut wrong = login_req(&c, "alice", &[]);
        wrong.child_mut("Password").unwrap().text = "wrong".into();
        let r = c.request(wrong).await.unwrap();
        assert_eq!(code_of(&r), Some(403), "{v} {e:?}: {r:?}");
        assert!(r.child("SessionID").is_none());
        let m = r.path(&["Result", "SystemMessageList", "SystemMessage"]);
        if v >= Version::V1_3 {
            let m = m.unwrap_or_else(|| panic!("{r:?}"));
            assert_eq!(
                m.child_text("SystemMessageText"),
                Some("Please update your messenger.")
            );
            assert_eq!(m.child_text("RequiresResponse"), Some("F"));
        } else {
            assert!(m.is_none());
            let d = r.path(&["Result", "Description"]).unwrap();
            assert!(d.text.contains("Please update"), "{r:?}");
        }
    }
    // Other clients log in as before.
    srv.client(Version::V1_3, Encoding::Xml, "phone")
        .login_password("alice", PW)
        .await
        .unwrap();
}

#[tokio::test]
async fn sym_uc_a_welcome_comes_at_the_first_session_only() {
    let srv = TestServer::start_with(|c| c.sysmsg.welcome = true).await;
    add_user(&srv, "alice", None, None).await;
    // 1.2 cannot show it: it waits.
    let old = online(&srv, Version::V1_2, Encoding::Xml, "alice", "old").await;
    assert!(next_request(&old, 0).await.is_none());
    old.logout().await.unwrap();
    for (e, first) in [(Encoding::Wbxml, true), (Encoding::Xml, false)] {
        let alice = online(&srv, Version::V1_3, e, "alice", "phone").await;
        if first {
            let (id, m) = receive(&alice).await;
            assert_eq!(id, "welcome");
            assert!(
                m.child_text("SystemMessageText")
                    .unwrap()
                    .starts_with("Welcome"),
                "{m:?}"
            );
        } else {
            expect_none(&alice, "SystemMessage-Request").await;
        }
        alice.logout().await.unwrap();
    }
}

/// Caps with a DefaultLanguage.
fn caps_in(language: &str) -> Element {
    caps("P").with_text("DefaultLanguage", language)
}

#[tokio::test]
async fn sym_uc_adc_uc_you_were_added_with_an_offer_to_add_back_in_your_language() {
    let srv = TestServer::start_with(|c| {
        c.sysmsg.added_notice = true;
        c.sysmsg.texts.insert(
            "de".into(),
            imps_core::SysmsgTexts {
                added: "{user} hat dich als Kontakt gespeichert.".into(),
                add_back: "{user} auch speichern".into(),
                ignore: "Nein, danke".into(),
                ..Default::default()
            },
        );
    })
    .await;
    for u in ["alice", "bob", "carol", "dave"] {
        add_user(&srv, u, None, None).await;
    }
    let alice = online(&srv, Version::V1_3, Encoding::Xml, "alice", "phone").await;
    let bob = srv.client(Version::V1_3, Encoding::Wbxml, "phone");
    online_with(&bob, "bob", caps_in("de-DE")).await;
    let carol = online(&srv, Version::V1_3, Encoding::Xml, "carol", "phone").await;
    let list = crate::lists_common::list_id("alice", "friends");
    let r = crate::lists_common::create_list(
        &alice,
        &list,
        vec![
            crate::lists_common::nick(None, "bob"),
            crate::lists_common::nick(None, "carol"),
            crate::lists_common::nick(None, "dave"),
        ],
        &[],
    )
    .await;
    assert_eq!(code_of(&r), Some(200), "{r:?}");

    // Bob reads German (ADC-UC), and takes the offer: alice is added.
    let (id, m) = receive(&bob).await;
    assert_eq!(
        m.child_text("SystemMessageText"),
        Some("wv:alice@localhost hat dich als Kontakt gespeichert.")
    );
    assert_eq!(
        options_of(&m),
        vec![
            ("1".into(), "wv:alice@localhost auch speichern".into()),
            ("2".into(), "Nein, danke".into())
        ]
    );
    assert!(!srv.store().is_contact("bob", "alice").await.unwrap());
    answer_ok(&bob, &id, Some(1)).await;
    assert!(srv.store().is_contact("bob", "alice").await.unwrap());
    // Alice has bob already: she gets no offer back.
    expect_none(&alice, "SystemMessage-Request").await;

    // Carol, in English, declines: nothing changes.
    let (id, m) = receive(&carol).await;
    assert_eq!(
        m.child_text("SystemMessageText"),
        Some("wv:alice@localhost added you to their contact list.")
    );
    answer_ok(&carol, &id, Some(2)).await;
    assert!(!srv.store().is_contact("carol", "alice").await.unwrap());

    // Dave was offline: it waits for his next session.
    let dave = online(&srv, Version::V1_3, Encoding::Xml, "dave", "phone").await;
    let (id, _) = receive(&dave).await;
    answer_ok(&dave, &id, Some(1)).await;
    assert!(srv.store().is_contact("dave", "alice").await.unwrap());
}

/// A request that is refused: deleting a list that does not exist (700).
async fn refused(c: &HttpClient) {
    let r = c
        .request(
            Element::new("DeleteList-Request")
                .with_text("ContactList", crate::lists_common::list_id("alice", "none")),
        )
        .await
        .unwrap();
    assert_eq!(code_of(&r), Some(700), "{r:?}");
}

#[tokio::test]
async fn sym_uc_help_after_repeated_errors_with_a_preference_to_turn_it_off_and_on() {
    let srv = TestServer::start_with(|c| c.sysmsg.help_after_errors = 2).await;
    add_user(&srv, "alice", None, None).await;
    for e in BOTH {
        let alice = online(&srv, Version::V1_3, e, "alice", "phone").await;
        refused(&alice).await;
        // A success in between starts the count again.
        alice.service_request_all().await.unwrap();
        let r = alice
            .request(Element::new("GetList-Request"))
            .await
            .unwrap();
        assert_eq!(r.name, "GetList-Response", "{r:?}");
        refused(&alice).await;
        expect_none(&alice, "SystemMessage-Request").await;
        refused(&alice).await;
        let (id, m) = receive(&alice).await;
        assert_eq!(id, "help");
        assert_eq!(options_of(&m)[1].1, "Don't show help again");
        // Once per session.
        refused(&alice).await;
        refused(&alice).await;
        expect_none(&alice, "SystemMessage-Request").await;
        // Turned off: the next session gets no help.
        answer_ok(&alice, "help", Some(2)).await;
        alice.logout().await.unwrap();
        let alice = online(&srv, Version::V1_3, e, "alice", "phone").await;
        for _ in 0..3 {
            refused(&alice).await;
        }
        expect_none(&alice, "SystemMessage-Request").await;
        // The user can see the preference at any time: answering `help`
        // without an option shows it, and records nothing.
        answer_ok(&alice, "help", None).await;
        let (id, m) = receive(&alice).await;
        assert_eq!(id, "help");
        let text = m.child_text("SystemMessageText").unwrap();
        assert!(text.ends_with("Help is off: you chose not to be shown it. Choose the first option to turn it on again."), "{text}");
        assert_eq!(options_of(&m).len(), 2, "{m:?}");
        alice.logout().await.unwrap();
        let alice = online(&srv, Version::V1_3, e, "alice", "phone").await;
        for _ in 0..3 {
            refused(&alice).await;
        }
        expect_none(&alice, "SystemMessage-Request").await;
        // Turned on again by answering the help message's first option.
        answer_ok(&alice, "help", Some(1)).await;
        answer_ok(&alice, "help", None).await;
        let (_, m) = receive(&alice).await;
        let text = m.child_text("SystemMessageText").unwrap();
        assert!(
            text.ends_with("Help is on: it is offered after several refused requests."),
            "{text}"
        );
        alice.logout().await.unwrap();
        let alice = online(&srv, Version::V1_3, e, "alice", "phone").await;
        refused(&alice).await;
        refused(&alice).await;
        let (id, _) = receive(&alice).await;
        assert_eq!(id, "help");
        alice.logout().await.unwrap();
    }
}

/// CreateAttributeList-Request granting `attrs` to everyone (DefaultList).
fn share_with_everyone(attrs: &[&str]) -> Element {
    Element::new("CreateAttributeList-Request")
        .with(crate::presence_common::names(attrs))
        .with_text("DefaultList", "T")
}

#[tokio::test]
async fn sym_uc_privacy_advice_when_presence_is_shared_with_everyone() {
    let srv = TestServer::start_with(|c| c.sysmsg.privacy_advice = true).await;
    add_user(&srv, "alice", None, None).await;
    add_user(&srv, "bob", None, None).await;
    for e in BOTH {
        let alice = online(&srv, Version::V1_3, e, "alice", "phone").await;
        // To one user only: no advice.
        let code =
            crate::presence_common::grant(&alice, Version::V1_3, &["bob"], &["StatusText"]).await;
        assert_eq!(code, 200);
        expect_none(&alice, "SystemMessage-Request").await;
        let r = alice
            .request(share_with_everyone(&["OnlineStatus", "StatusText"]))
            .await
            .unwrap();
        assert_eq!(code_of(&r), Some(200), "{r:?}");
        let (id, m) = receive(&alice).await;
        assert_eq!(id, "privacy");
        assert!(
            m.child_text("SystemMessageText")
                .unwrap()
                .starts_with("Everyone who knows"),
            "{m:?}"
        );
        // Once per session.
        let r = alice
            .request(share_with_everyone(&["StatusText"]))
            .await
            .unwrap();
        assert_eq!(code_of(&r), Some(200), "{r:?}");
        expect_none(&alice, "SystemMessage-Request").await;
        alice.logout().await.unwrap();
    }
}

#[tokio::test]
async fn sym_uc_privacy_advice_when_a_location_reaches_users_authorized_earlier() {
    use crate::presence_common::{attr, grant, update};
    let srv = TestServer::start_with(|c| c.sysmsg.privacy_advice = true).await;
    for u in ["alice", "bob", "carol"] {
        add_user(&srv, u, None, None).await;
    }
    for e in BOTH {
        // Carol lets bob see her status text but not where she is.
        let carol = online(&srv, Version::V1_3, e, "carol", "phone").await;
        let code = grant(&carol, Version::V1_3, &["bob"], &["StatusText"]).await;
        assert_eq!(code, 200);
        assert_eq!(
            update(&carol, vec![attr("FreeTextLocation", "at home")]).await,
            200
        );
        expect_none(&carol, "SystemMessage-Request").await;
        carol.logout().await.unwrap();

        // Alice allowed bob to see her location before publishing any.
        let alice = online(&srv, Version::V1_3, e, "alice", "phone").await;
        let code = grant(&alice, Version::V1_3, &["bob"], &["FreeTextLocation"]).await;
        assert_eq!(code, 200);
        expect_none(&alice, "SystemMessage-Request").await;
        // Something else than a location: no advice.
        assert_eq!(update(&alice, vec![attr("StatusText", "busy")]).await, 200);
        expect_none(&alice, "SystemMessage-Request").await;
        assert_eq!(
            update(&alice, vec![attr("FreeTextLocation", "at the office")]).await,
            200
        );
        let (id, m) = receive(&alice).await;
        assert_eq!(id, "privacy-location");
        assert!(
            m.child_text("SystemMessageText")
                .unwrap()
                .starts_with("Your location is now visible"),
            "{m:?}"
        );
        answer_ok(&alice, &id, Some(1)).await;
        // Once per session.
        assert_eq!(
            update(&alice, vec![attr("FreeTextLocation", "on the train")]).await,
            200
        );
        expect_none(&alice, "SystemMessage-Request").await;
        alice.logout().await.unwrap();
        // The advice was alice's alone: bob's next session is not sent it.
        let bob = online(&srv, Version::V1_3, e, "bob", "phone").await;
        expect_none(&bob, "SystemMessage-Request").await;
        bob.logout().await.unwrap();
    }
}
