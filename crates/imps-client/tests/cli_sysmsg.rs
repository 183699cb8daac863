//! Issue 15 in the `imps` client: CSP 1.3 system messages (SYM-*) shown
//! live in `imps chat` with their options and answered with one key;
//! listed and answered with `imps sysmsg`; and the operator's terms,
//! asked in a held 1.3 login, answered by `imps login --accept-terms`.
//! Each answer is checked where it matters: in what the server recorded.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use crate::cli_common::{self, Person, Server};

use std::sync::Arc;
use std::time::Duration;

use imps_client::cli::session::Ctx;
use imps_client::tui::{self, AppEvent};
use imps_core::{Audience, NewSystemMessage, Service, TermsConfig, TermsOption};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn service(srv: &Server) -> Arc<Service> {
    srv.running.as_ref().unwrap().service.clone()
}

/// The operator sends a system message to one user, as
/// `impsd sysmsg send --to USER --text T --option A ...` does.
async fn send(
    srv: &Server,
    user: &str,
    text: &str,
    options: &[&str],
    requires_response: bool,
) -> String {
    service(srv)
        .send_system_message(NewSystemMessage {
            text: text.into(),
            options: options.iter().map(|o| o.to_string()).collect(),
            requires_response,
            to: Audience::Users(vec![user.to_string()]),
        })
        .await
        .unwrap()
        .id
}

/// What the server recorded for the user's copy: (answered, chosen).
async fn recorded(srv: &Server, id: &str) -> (bool, Option<u64>) {
    let s = service(srv).system_message(id).await.unwrap();
    assert_eq!(s.deliveries.len(), 1, "{s:?}");
    (
        s.deliveries[0].answered_ms.is_some(),
        s.deliveries[0].chosen,
    )
}

fn screen(t: &Terminal<TestBackend>) -> String {
    let buf = t.backend().buffer();
    let mut s = String::new();
    for y in 0..buf.area.height {
        let mut line = String::new();
        for x in 0..buf.area.width {
            line.push_str(buf[(x, y)].symbol());
        }
        s.push_str(line.trim_end());
        s.push('\n');
    }
    s
}

fn key(code: crossterm::event::KeyCode) -> AppEvent {
    AppEvent::Key(crossterm::event::KeyEvent::from(code))
}

/// SYM-4, SYM-5, SYM-10, SYM-15 in the chat UI: a message with options
/// pushed to a running `imps chat` pops up at once with its text and
/// numbered options; one key sends the choice, and the server records
/// it. A message without options is an OK prompt whose Enter acknowledges
/// it (an answer without ChosenOptionID); one put off with Esc stays for
/// `imps sysmsg list`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_sysmsg_sym_10_sym_15_a_pushed_message_is_a_live_prompt_answered_from_the_chat_ui() {
    use crossterm::event::KeyCode;
    let srv = Server::start().await;
    srv.add_user("alice", "wonderland").await;
    let alice = srv.person("alice");
    alice
        .login("wonderland", &["--csp", "1.3", "--wbxml"])
        .await;

    let ctx = Ctx::open(alice.profile.clone()).unwrap();
    let (mut app, mut events, ev_tx, actions) = tui::start(ctx, false).await.unwrap();
    let mut term = Terminal::new(TestBackend::new(80, 16)).unwrap();
    tui::event_loop(&mut term, &mut app, &mut events, &actions, |_, _| true)
        .await
        .unwrap();
    assert!(app.prompts.is_empty());

    let id = send(
        &srv,
        "alice",
        "Keep your location private?",
        &["Yes", "No"],
        true,
    )
    .await;
    let shown = tokio::time::timeout(
        Duration::from_secs(2),
        tui::event_loop(&mut term, &mut app, &mut events, &actions, |_, t| {
            let s = screen(t);
            s.contains("Keep your location private?") && s.contains("[2] No")
        }),
    )
    .await;
    assert!(shown.is_ok(), "no prompt on screen:\n{}", screen(&term));
    let s = screen(&term);
    assert!(s.contains("[1] Yes"), "{s}");
    assert!(s.contains("an answer is required"), "{s}");
    assert_eq!(recorded(&srv, &id).await, (false, None));

    ev_tx.send(key(KeyCode::Char('2'))).await.unwrap();
    tokio::time::timeout(
        Duration::from_secs(5),
        tui::event_loop(&mut term, &mut app, &mut events, &actions, |a, _| {
            a.status.contains("answered")
        }),
    )
    .await
    .unwrap_or_else(|_| panic!("no answer:\n{}", screen(&term)))
    .unwrap();
    assert!(
        app.status.contains(&format!("{id} with option 2")),
        "{}",
        app.status
    );
    assert_eq!(recorded(&srv, &id).await, (true, Some(2)));
    assert!(!screen(&term).contains("[2] No"), "{}", screen(&term));

    // No options: an OK prompt; Enter acknowledges it.
    let note = send(&srv, "alice", "Maintenance at 2am", &[], false).await;
    let shown = tokio::time::timeout(
        Duration::from_secs(2),
        tui::event_loop(&mut term, &mut app, &mut events, &actions, |_, t| {
            let s = screen(t);
            s.contains("Maintenance at 2am") && s.contains("[Enter] OK")
        }),
    )
    .await;
    assert!(shown.is_ok(), "no prompt on screen:\n{}", screen(&term));
    ev_tx.send(key(KeyCode::Enter)).await.unwrap();
    tokio::time::timeout(
        Duration::from_secs(5),
        tui::event_loop(&mut term, &mut app, &mut events, &actions, |a, _| {
            a.status.contains("acknowledged")
        }),
    )
    .await
    .unwrap_or_else(|_| panic!("no acknowledgement:\n{}", screen(&term)))
    .unwrap();
    assert_eq!(recorded(&srv, &note).await, (true, None));

    // Put off with Esc: still waiting, and listed by the CLI.
    let later = send(&srv, "alice", "Rate us?", &["Good", "Bad"], false).await;
    tokio::time::timeout(
        Duration::from_secs(2),
        tui::event_loop(&mut term, &mut app, &mut events, &actions, |_, t| {
            screen(t).contains("Rate us?")
        }),
    )
    .await
    .unwrap_or_else(|_| panic!("no prompt:\n{}", screen(&term)))
    .unwrap();
    ev_tx.send(key(KeyCode::Esc)).await.unwrap();
    tokio::time::timeout(
        Duration::from_secs(2),
        tui::event_loop(&mut term, &mut app, &mut events, &actions, |a, _| {
            a.prompts.is_empty()
        }),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(recorded(&srv, &later).await, (false, None));
    // The UI kept it in the profile (its worker writes it in order).
    let kept = |p: &std::path::Path| {
        imps_client::cli::profile::load(p)
            .unwrap()
            .is_some_and(|p| p.system_messages.iter().any(|m| m.id == later))
    };
    for _ in 0..50 {
        if kept(&alice.profile) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let listed = alice.json(&["sysmsg", "list"]).await;
    assert_eq!(
        listed["system_messages"][0]["id"],
        later.as_str(),
        "{listed}"
    );
    assert_eq!(
        listed["system_messages"].as_array().unwrap().len(),
        1,
        "the answered ones are gone: {listed}"
    );
}

/// SYM-4, SYM-10, SYM-15 over the CLI: `imps sysmsg list` fetches what
/// was sent and shows ID, text and options; `imps sysmsg answer ID N`
/// sends the choice and `answer ID` acknowledges one without options; a
/// choice not offered, or none where one is needed, is refused before
/// anything is sent; another user's message is refused by the server
/// (404); before 1.3 there are no system messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_sysmsg_sym_4_sym_10_sym_15_list_and_answer_over_the_cli() {
    let srv = Server::start().await;
    srv.add_user("alice", "wonderland").await;
    srv.add_user("bob", "builder").await;
    let (alice, bob) = (srv.person("alice"), srv.person("bob"));
    for wire in [vec!["--csp", "1.3"], vec!["--csp", "1.3", "--wbxml"]] {
        alice.login("wonderland", &wire).await;
        let empty = alice.json(&["sysmsg", "list"]).await;
        assert_eq!(empty["system_messages"], serde_json::json!([]), "{empty}");

        let id = send(
            &srv,
            "alice",
            "Keep your location private?",
            &["Yes", "No"],
            true,
        )
        .await;
        let note = send(&srv, "alice", "Welcome to the service", &[], false).await;
        let listed = alice.json(&["sysmsg", "list"]).await;
        let msgs = listed["system_messages"].as_array().unwrap();
        assert_eq!(msgs.len(), 2, "{listed}");
        assert_eq!(msgs[0]["id"], id.as_str());
        assert_eq!(msgs[0]["text"], "Keep your location private?");
        assert_eq!(msgs[0]["requires_response"], true);
        assert_eq!(
            msgs[0]["options"],
            serde_json::json!([{"id": 1, "text": "Yes"}, {"id": 2, "text": "No"}]),
            "{listed}"
        );
        assert_eq!(msgs[1]["id"], note.as_str());
        assert_eq!(msgs[1]["options"], serde_json::json!([]));
        // The same list for people.
        let human = alice.imps(&["sysmsg", "list"], None).await.ok();
        assert!(
            human.stdout.contains("Keep your location private?"),
            "{human:?}"
        );
        assert!(human.stdout.contains("[2] No"), "{human:?}");
        assert!(
            human.stdout.contains(&format!("imps sysmsg answer {note}")),
            "{human:?}"
        );

        // Refused here, nothing sent.
        for (args, why) in [
            (vec!["sysmsg", "answer", &id], "needs a choice"),
            (vec!["sysmsg", "answer", &id, "3"], "offers no option 3"),
        ] {
            let r = alice.imps(&args, None).await;
            assert_eq!(r.code, 1, "{r:?}");
            assert!(r.stderr.contains(why), "{r:?}");
        }
        assert_eq!(recorded(&srv, &id).await, (false, None));

        let r = alice.json(&["sysmsg", "answer", &id, "2"]).await;
        assert_eq!(r["option"], 2, "{r}");
        assert_eq!(recorded(&srv, &id).await, (true, Some(2)));
        let r = alice.json(&["sysmsg", "answer", &note]).await;
        assert_eq!(r["option"], serde_json::Value::Null, "{r}");
        assert_eq!(recorded(&srv, &note).await, (true, None));
        let after = alice.json(&["sysmsg", "list"]).await;
        assert_eq!(after["system_messages"], serde_json::json!([]), "{after}");

        // Not hers: the server says 404 and records nothing.
        bob.login("builder", &["--csp", "1.3"]).await;
        let bobs = send(&srv, "bob", "For bob", &["OK"], true).await;
        let r = alice.imps(&["sysmsg", "answer", &bobs, "1"], None).await;
        assert_eq!(r.code, 4, "{r:?}");
        assert!(r.stderr.contains("404"), "{r:?}");
        // The older `imps answer` is the same command.
        bob.json(&["answer", &bobs, "1"]).await;
        assert_eq!(recorded(&srv, &bobs).await, (true, Some(1)));
        alice.json(&["logout"]).await;
        bob.json(&["logout"]).await;
    }
    alice.login("wonderland", &["--csp", "1.2"]).await;
    let r = alice.imps(&["sysmsg", "answer", "x", "1"], None).await;
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("needs CSP 1.3"), "{r:?}");
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
                text: "Decline".into(),
                deny: true,
                ..Default::default()
            },
        ],
        timeout_secs: 60,
        ..Default::default()
    }
}

/// `imps login` with a password on stdin (so not on a terminal).
async fn login(p: &Person, password: &str, extra: &[&str]) -> cli_common::Run {
    let mut a = vec![
        "--json",
        "login",
        "--server",
        &p.url,
        "--user",
        &p.name,
        "--password-stdin",
    ];
    a.extend_from_slice(extra);
    p.imps(&a, Some(&format!("{password}\n"))).await
}

/// SYM-6, SYM-7, SYM-17 with the CLI: a 1.3 login the operator holds
/// for the terms (403, the terms in the Result) stops, not on a terminal,
/// and shows the terms and how to answer; `--accept-terms N` logs in
/// again with the answer and the session is made; an option not offered
/// is refused before anything is sent; declining leaves no session; and
/// once agreed the terms are not asked again. Password and digest logins,
/// XML and WBXML.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_sysmsg_sym_6_sym_7_sym_17_login_answers_the_terms() {
    let srv = Server::start_with(|c| c.sysmsg.terms = Some(terms())).await;
    let sessions = |u: &str| service(&srv).sessions().of_user(u).len();
    for (user, wire) in [
        ("alice", vec!["--csp", "1.3"]),
        ("bob", vec!["--csp", "1.3", "--wbxml", "--digest"]),
    ] {
        srv.add_user(user, "pw").await;
        let p = srv.person(user);
        let r = login(&p, "pw", &wire).await;
        assert_eq!(r.code, 4, "{r:?}");
        assert!(r.stderr.contains("Each message costs 0.01"), "{r:?}");
        assert!(
            r.stderr.contains("[1] Agree") && r.stderr.contains("[2] Decline"),
            "{r:?}"
        );
        assert!(r.stderr.contains("--accept-terms"), "{r:?}");
        assert_eq!(sessions(user), 0, "SYM-6: no session before the answer");

        let mut bad = wire.clone();
        bad.extend(["--accept-terms", "9"]);
        let r = login(&p, "pw", &bad).await;
        assert_eq!(r.code, 1, "{r:?}");
        assert!(r.stderr.contains("no option 9"), "{r:?}");
        assert_eq!(sessions(user), 0);

        let mut agree = wire.clone();
        agree.extend(["--accept-terms", "1"]);
        let r = login(&p, "pw", &agree).await.ok().json();
        assert_eq!(r["terms"][0]["id"], "terms-v1", "{r}");
        assert_eq!(r["terms"][0]["option"], 1, "{r}");
        assert_eq!(sessions(user), 1, "the session is made");
        p.json(&["inbox"]).await;
        p.json(&["logout"]).await;

        // SYM-17: agreed once, not asked again.
        let r = login(&p, "pw", &wire).await.ok().json();
        assert!(r.get("terms").is_none(), "{r}");
        p.json(&["logout"]).await;
    }
    // Declining: refused, no session.
    srv.add_user("carol", "pw").await;
    let carol = srv.person("carol");
    let r = login(&carol, "pw", &["--csp", "1.3", "--accept-terms", "2"]).await;
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.stderr.contains("403"), "{r:?}");
    assert_eq!(sessions("carol"), 0);
}

/// SYM-UC in the CLI: `imps sysmsg help-setting` shows whether help after
/// refused requests is on; answering the help message sets it, and the
/// next look shows the change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_sysmsg_sym_uc_the_help_preference_is_seen_and_reset() {
    let srv = Server::start().await;
    srv.add_user("alice", "wonderland").await;
    let alice = srv.person("alice");
    alice.login("wonderland", &["--csp", "1.3"]).await;
    let shown = alice.json(&["sysmsg", "help-setting"]).await;
    assert_eq!(shown["id"], "help", "{shown}");
    let text = shown["text"].as_str().unwrap();
    assert!(
        text.ends_with("Help is on: it is offered after several refused requests."),
        "{shown}"
    );
    assert_eq!(shown["options"].as_array().unwrap().len(), 2, "{shown}");
    alice.json(&["sysmsg", "answer", "help", "2"]).await;
    let human = alice.imps(&["sysmsg", "help-setting"], None).await.ok();
    assert!(human.stdout.contains("Help is off"), "{human:?}");
    assert!(human.stdout.contains("[1]"), "{human:?}");
    alice.json(&["sysmsg", "answer", "help", "1"]).await;
    let shown = alice.json(&["sysmsg", "help-setting"]).await;
    assert!(
        shown["text"].as_str().unwrap().contains("Help is on"),
        "{shown}"
    );
    alice.json(&["logout"]).await;
}
