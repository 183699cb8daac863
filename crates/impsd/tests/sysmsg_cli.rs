//! Issue 15, the operator's side: `impsd sysmsg send|list|answers|resend`
//! against the running binary, and the level of service a user chose
//! surviving a restart.
#![allow(clippy::unwrap_used)]

use crate::{common, im_common};

use common::*;
use im_common::{caps, expect, online_with};
use imps_client::{Client, ClientConfig, Element, Encoding, HttpClient, LoginAuth, Version};

fn client(srv: &RealServer, client_id: &str) -> HttpClient {
    Client::new(
        ClientConfig::new(srv.url(), Version::V1_3, Encoding::Wbxml).with_client_id(client_id),
    )
    .unwrap()
}

/// The ID `impsd sysmsg send` printed.
fn sent_id(out: &str) -> String {
    out.strip_prefix("sent ")
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("{out}"))
        .to_string()
}

/// Waits for the pushed message, acknowledges it, and returns its ID.
async fn received(c: &HttpClient) -> String {
    let (tid, req) = expect(c, "SystemMessage-Request").await;
    c.answer_status(&tid).await.unwrap();
    req.path(&["SystemMessageList", "SystemMessage", "SystemMessageID"])
        .unwrap()
        .text
        .clone()
}

fn answer(id: &str, chosen: u64) -> Element {
    Element::new("SystemMessage-User").with(
        Element::new("SystemMessageResponseList").with(
            Element::new("SystemMessageResponse")
                .with_text("SystemMessageID", id)
                .with_text("ChosenOptionID", chosen.to_string()),
        ),
    )
}

#[tokio::test]
async fn sym_1_sym_12_sym_15_the_operator_sends_resends_and_reads_answers_with_the_cli() {
    let srv = RealServer::builder(impsd_bin!()).start();
    srv.add_user("alice", "pw");
    srv.add_user("bob", "pw");
    let alice = client(&srv, "phone");
    online_with(&alice, "alice", caps("P")).await;

    let out = srv.cli(&[
        "sysmsg",
        "send",
        "--to",
        "alice",
        "--text",
        "How is the service?",
        "--option",
        "Good",
        "--option",
        "Bad",
        "--requires-response",
    ]);
    let id = sent_id(&out);
    assert!(out.contains("pushed now to 1"), "{out}");
    assert_eq!(received(&alice).await, id);
    // Not answered yet: resend reaches her again.
    assert!(srv.cli(&["sysmsg", "resend", &id]).contains("to 1 users"));
    assert_eq!(received(&alice).await, id);
    let unanswered = srv.cli(&["sysmsg", "answers", &id]);
    assert!(
        unanswered.contains("alice\tsent 2\tnot answered"),
        "{unanswered}"
    );
    let r = alice.request(answer(&id, 1)).await.unwrap();
    assert_eq!(code_of(&r), Some(200), "{r:?}");
    let answers = srv.cli(&["sysmsg", "answers", &id]);
    assert!(answers.contains("option 2: Bad"), "{answers}");
    assert!(
        answers.contains("alice\tsent 2\tanswered 1 (Good)"),
        "{answers}"
    );

    // To everyone online, and to everyone at their next login.
    let bob = client(&srv, "phone");
    online_with(&bob, "bob", caps("P")).await;
    let online = sent_id(&srv.cli(&["sysmsg", "send", "--online", "--text", "Restart at 2am"]));
    assert_eq!(received(&alice).await, online);
    assert_eq!(received(&bob).await, online);
    let all = sent_id(&srv.cli(&["sysmsg", "send", "--all", "--text", "New terms soon"]));
    assert_eq!(received(&bob).await, all);
    let list = srv.cli(&["sysmsg", "list"]);
    for line in [
        format!("{id}\toperator\tto users\tsent 1\tanswered 1\tHow is the service?"),
        format!("{all}\toperator\tto everyone\tsent 2\tanswered 0\tNew terms soon"),
    ] {
        assert!(list.contains(&line), "{line:?} in\n{list}");
    }

    // Refusals say why.
    for (args, needle) in [
        (vec!["--to", "nobody", "--text", "x"], "404"),
        (vec!["--to", "alice", "--text", ""], "400"),
        (vec!["--text", "to whom?"], "say who gets it"),
    ] {
        let mut all_args = vec!["sysmsg", "send"];
        all_args.extend(args);
        let out = srv.cli_output(&all_args);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{needle:?} in {err}");
    }
    let out = srv.cli_output(&["sysmsg", "answers", "sm-none"]);
    assert!(!out.status.success());
}

#[tokio::test]
async fn sym_11_sym_17_the_level_survives_a_restart_and_new_terms_are_asked_again() {
    let mut srv = RealServer::builder(impsd_bin!())
        .config(|c| {
            c.sysmsg.terms = Some(imps_core::TermsConfig {
                version: "2026".into(),
                text: "Terms".into(),
                options: vec![imps_core::TermsOption {
                    text: "Presence only".into(),
                    withhold: vec!["IMFeat".into()],
                    deny: false,
                }],
                ..Default::default()
            })
        })
        .start();
    srv.add_user("alice", "pw");
    srv.add_user("bob", "pw");
    let c = client(&srv, "phone");
    let login = |answers: bool| {
        let mut body = imps_client::primitives::login_request(
            "alice",
            "phone",
            LoginAuth::Password("pw"),
            600,
            c.session_cookie(),
        );
        if answers {
            body = body.with(
                Element::new("SystemMessageResponseList").with(
                    Element::new("SystemMessageResponse")
                        .with_text("SystemMessageID", "terms-2026")
                        .with_text("ChosenOptionID", "1"),
                ),
            );
        }
        body
    };
    let r = c.request(login(false)).await.unwrap();
    assert_eq!(code_of(&r), Some(403), "{r:?}");
    let r = c.request(login(true)).await.unwrap();
    assert_eq!(code_of(&r), Some(200), "{r:?}");
    let session = r.child_text("SessionID").unwrap().to_string();
    c.set_session_id(Some(session.clone()));
    c.service_request_all().await.unwrap();
    let send = im_common::text_to("alice", &["bob"], "hi");
    let r = c.request(send.clone()).await.unwrap();
    assert_eq!(code_of(&r), Some(903), "{r:?}");

    srv.restart();
    // A new connection, the same session.
    let c = client(&srv, "phone");
    c.set_session_id(Some(session));
    let r = c.request(send).await.unwrap();
    assert_eq!(
        code_of(&r),
        Some(903),
        "the same session after the restart: {r:?}"
    );

    // SYM-17: the same terms are not asked again after a restart; the
    // operator's new version is.
    let again = client(&srv, "tablet");
    again.login_password("alice", "pw").await.unwrap();
    let mut cfg = srv.cfg().clone();
    if let Some(t) = cfg.sysmsg.terms.as_mut() {
        t.version = "2027".into();
    }
    std::fs::write(srv.config_path(), toml::to_string(&cfg).unwrap()).unwrap();
    srv.restart();
    let c = client(&srv, "desk");
    let r = c
        .request(imps_client::primitives::login_request(
            "alice",
            "desk",
            LoginAuth::Password("pw"),
            600,
            c.session_cookie(),
        ))
        .await
        .unwrap();
    assert_eq!(code_of(&r), Some(403), "{r:?}");
    assert_eq!(
        r.path(&[
            "Result",
            "SystemMessageList",
            "SystemMessage",
            "SystemMessageID"
        ])
        .map(|i| i.text.as_str()),
        Some("terms-2027")
    );
}
