//! `imps chat` on ratatui's TestBackend: a screen with contacts, presence,
//! unread counts, a formatted conversation and a prompt matches the
//! reviewed snapshots in tests/snapshots/, and a message another client
//! sends appears in the open conversation within a second, pushed over
//! the WebSocket into the app's own event loop.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use crate::cli_common;

use std::time::Duration;

use imps_client::cli::build::Font;
use imps_client::cli::profile::{PendingInvite, PendingSystemMessage};
use imps_client::cli::read::{Incoming, PresenceView};
use imps_client::cli::session::Ctx;
use imps_client::tui::app::{App, Prompt};
use imps_client::tui::{self, ui};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::{Color, Modifier};

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

/// Compares with the checked-in snapshot. UPDATE_SNAPSHOTS=1 rewrites it
/// (then review the diff like code); a missing snapshot is written but
/// fails the run, so a lost file cannot make the test pass unseen.
fn assert_snapshot(name: &str, actual: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    if !path.exists() {
        std::fs::write(&path, actual).unwrap();
        panic!(
            "no snapshot {} yet: written now; review it and run again",
            path.display()
        );
    }
    let expected = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        actual,
        expected,
        "screen differs from {} (UPDATE_SNAPSHOTS=1 rewrites it)",
        path.display()
    );
}

fn presence(user: &str, online: bool, availability: &str, text: Option<&str>) -> PresenceView {
    PresenceView {
        user: user.into(),
        online: Some(online),
        availability: Some(availability.into()),
        status_text: text.map(str::to_string),
        ..PresenceView::default()
    }
}

fn message(from: &str, group: Option<&str>, text: &str, font: Option<Font>) -> Incoming {
    Incoming {
        message_id: "m".into(),
        from: from.into(),
        group: group.map(str::to_string),
        text: text.into(),
        font: font.map(|f| imps_client::cli::read::FontView {
            size: f.size,
            styles: f.styles,
            color: f.color,
        }),
        ..Incoming::default()
    }
}

/// alice's screen: bob online with a status, carol offline, a room with
/// two unread messages, the conversation with bob open.
fn sample_app() -> App {
    let mut app = App::new("wv:alice@localhost");
    app.add_contact("wv:bob@localhost", Some("Bob".into()));
    app.add_contact("wv:carol@localhost", None);
    app.add_room("wv:alice/kitchen@localhost");
    app.set_presence(&presence(
        "wv:bob@localhost",
        true,
        "AVAILABLE",
        Some("at lunch"),
    ));
    app.set_presence(&presence("wv:carol@localhost", false, "AVAILABLE", None));
    app.open_conversation("bob");
    app.receive(&message("wv:bob@localhost", None, "hi alice", None));
    let red_bold = Font {
        styles: vec!["Bold".into()],
        color: Some("Red".into()),
        size: None,
    };
    app.receive(&message(
        "wv:bob@localhost",
        None,
        "tea at five?",
        Some(red_bold),
    ));
    app.receive(&message(
        "wv:bob@localhost",
        Some("wv:alice/kitchen@localhost"),
        "kettle on",
        None,
    ));
    app.receive(&message(
        "wv:carol@localhost",
        Some("wv:alice/kitchen@localhost"),
        "biscuits!",
        None,
    ));
    app
}

#[test]
fn cli_tui_screen_snapshot_with_presence_unread_and_formatting() {
    let app = sample_app();
    let mut t = Terminal::new(TestBackend::new(80, 16)).unwrap();
    t.draw(|f| ui::draw(f, &app)).unwrap();
    let text = screen(&t);
    assert!(text.contains("● Bob at lunch"), "{text}");
    assert!(text.contains("○ carol"), "{text}");
    assert!(text.contains("# alice/kitchen (2)"), "unread count: {text}");
    assert!(text.contains("bob: tea at five?"), "{text}");
    assert_snapshot("chat_screen.txt", &text);

    // IMR-3/IMR-4: Red Bold is drawn as a red, bold run.
    let buf = t.backend().buffer();
    let (x, y) = (0..buf.area.height)
        .flat_map(|y| (0..buf.area.width - 3).map(move |x| (x, y)))
        .find(|&(x, y)| (0..3).map(|i| buf[(x + i, y)].symbol()).collect::<String>() == "tea")
        .expect("the formatted message is on screen");
    let cell = &buf[(x, y)];
    assert_eq!(cell.fg, Color::LightRed);
    assert!(cell.modifier.contains(Modifier::BOLD));
    let plain = (0..buf.area.width - 1)
        .find(|&x| buf[(x, y - 1)].symbol() == "h" && buf[(x + 1, y - 1)].symbol() == "i")
        .map(|x| &buf[(x, y - 1)])
        .expect("the plain message is on screen");
    assert_eq!(plain.fg, Color::Reset);
}

#[test]
fn cli_tui_invitations_and_system_messages_are_prompts_with_their_options() {
    let mut app = sample_app();
    app.prompts.push_back(Prompt::Invite(PendingInvite {
        invite_id: "inv1".into(),
        from: "wv:carol@localhost".into(),
        invite_type: "GR".into(),
        group: Some("wv:carol/garden@localhost".into()),
        note: Some("come see the roses".into()),
    }));
    app.prompts.push_back(Prompt::System(PendingSystemMessage {
        id: "s1".into(),
        text: "New terms of service".into(),
        options: vec![
            ("1".into(), "I agree".into()),
            ("2".into(), "Log me out".into()),
        ],
        ..PendingSystemMessage::default()
    }));
    let mut t = Terminal::new(TestBackend::new(80, 16)).unwrap();
    t.draw(|f| ui::draw(f, &app)).unwrap();
    let text = screen(&t);
    assert!(
        text.contains("carol invites you to join # carol/garden"),
        "{text}"
    );
    assert!(text.contains("[a] accept   [r] reject"), "{text}");
    assert_snapshot("chat_prompt.txt", &text);

    // Accepting answers the invitation and shows the next prompt.
    let key = |c| {
        imps_client::tui::AppEvent::Key(crossterm::event::KeyEvent::from(
            crossterm::event::KeyCode::Char(c),
        ))
    };
    let actions = app.on_event(key('a'));
    assert!(matches!(
        &actions[..],
        [imps_client::tui::Action::AnswerInvite { accept: true, .. }]
    ));
    assert!(app.rooms.iter().any(|r| r.contains("carol/garden")));
    t.draw(|f| ui::draw(f, &app)).unwrap();
    let text = screen(&t);
    assert!(
        text.contains("[1] I agree") && text.contains("[2] Log me out"),
        "{text}"
    );
    let actions = app.on_event(key('2'));
    assert_eq!(
        actions,
        vec![imps_client::tui::Action::AnswerSystem {
            id: "s1".into(),
            option: Some(2)
        }]
    );
    assert!(app.prompts.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_tui_a_pushed_message_appears_in_the_open_conversation_within_a_second() {
    let srv = cli_common::Server::start().await;
    srv.add_user("alice", "wonderland").await;
    srv.add_user("bob", "builder").await;
    let (alice, bob) = (srv.person("alice"), srv.person("bob"));
    alice.login("wonderland", &["--csp", "1.3"]).await;
    bob.login("builder", &[]).await;

    let ctx = Ctx::open(alice.profile.clone()).unwrap();
    let (mut app, mut events, _keep_events_open, actions) = tui::start(ctx, false).await.unwrap();
    app.open_conversation("bob");
    let mut term = Terminal::new(TestBackend::new(80, 16)).unwrap();
    tui::event_loop(&mut term, &mut app, &mut events, &actions, |_, _| true)
        .await
        .unwrap();
    assert!(!screen(&term).contains("from bob"));

    bob.imps(&["send", "alice", "hello from bob"], None)
        .await
        .ok();
    let shown = tokio::time::timeout(
        Duration::from_secs(1),
        tui::event_loop(&mut term, &mut app, &mut events, &actions, |_, t| {
            screen(t).contains("hello from bob")
        }),
    )
    .await;
    assert!(
        shown.is_ok(),
        "not on screen within a second:\n{}",
        screen(&term)
    );
    assert!(
        screen(&term).contains("bob: hello from bob"),
        "{}",
        screen(&term)
    );
    // The live screen, as reviewed.
    assert_snapshot("chat_live.txt", &screen(&term));

    // The UI acknowledged it: it is not delivered again by polling.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let again = alice.json(&["inbox"]).await;
    assert!(
        !again["messages"].to_string().contains("hello from bob"),
        "{again}"
    );
}

fn key(c: char) -> imps_client::tui::AppEvent {
    imps_client::tui::AppEvent::Key(crossterm::event::KeyEvent::from(
        crossterm::event::KeyCode::Char(c),
    ))
}

fn enter() -> imps_client::tui::AppEvent {
    imps_client::tui::AppEvent::Key(crossterm::event::KeyEvent::from(
        crossterm::event::KeyCode::Enter,
    ))
}

fn type_line(app: &mut App, text: &str) -> Vec<imps_client::tui::Action> {
    for c in text.chars() {
        assert!(app.on_event(key(c)).is_empty());
    }
    app.on_event(enter())
}

/// The cell where `word` starts on screen.
fn find_word(t: &Terminal<TestBackend>, word: &str) -> Option<(u16, u16)> {
    let buf = t.backend().buffer();
    let n = word.chars().count() as u16;
    (0..buf.area.height)
        .flat_map(|y| (0..buf.area.width.saturating_sub(n)).map(move |x| (x, y)))
        .find(|&(x, y)| (0..n).map(|i| buf[(x + i, y)].symbol()).collect::<String>() == word)
}

#[test]
fn cli_tui_style_command_sends_formatted_text() {
    let mut app = sample_app();
    assert!(type_line(&mut app, "/style bold italic Blue size=big").is_empty());
    assert!(
        app.status.contains("Bold Italic Blue Big"),
        "{}",
        app.status
    );
    let actions = type_line(&mut app, "formatted hello");
    let want = Font {
        size: Some("Big".into()),
        styles: vec!["Bold".into(), "Italic".into()],
        color: Some("Blue".into()),
    };
    assert_eq!(
        actions,
        vec![imps_client::tui::Action::Send {
            to: imps_client::cli::build::Target::User("wv:bob".into()),
            text: "formatted hello".into(),
            font: want,
        }]
    );
    // Our own line is drawn with the same formatting.
    let mut t = Terminal::new(TestBackend::new(80, 16)).unwrap();
    t.draw(|f| ui::draw(f, &app)).unwrap();
    let (x, y) = find_word(&t, "formatted").unwrap_or_else(|| panic!("{}", screen(&t)));
    let cell = &t.backend().buffer()[(x, y)];
    assert_eq!(cell.fg, Color::LightBlue);
    assert!(cell.modifier.contains(Modifier::ITALIC));

    // A bad style changes nothing; /style off goes back to plain.
    type_line(&mut app, "/style sparkly");
    assert!(app.status.contains("unknown style"), "{}", app.status);
    assert!(!app.style.is_empty());
    type_line(&mut app, "/style off");
    let actions = type_line(&mut app, "plain");
    assert!(
        matches!(&actions[..], [imps_client::tui::Action::Send { font, .. }] if font.is_empty()),
        "{actions:?}"
    );
}

#[test]
fn cli_tui_presence_request_is_a_prompt_with_allow_and_deny() {
    let mut app = sample_app();
    app.apply(imps_client::cli::events::Event::PresenceAuth {
        user: "wv:dave@localhost".into(),
    });
    // Asked twice, prompted once.
    app.apply(imps_client::cli::events::Event::PresenceAuth {
        user: "wv:dave@localhost".into(),
    });
    assert_eq!(app.prompts.len(), 1);
    let mut t = Terminal::new(TestBackend::new(80, 16)).unwrap();
    t.draw(|f| ui::draw(f, &app)).unwrap();
    let text = screen(&t);
    assert!(text.contains("dave asks to see your presence"), "{text}");
    assert!(text.contains("[a] allow   [d] deny"), "{text}");
    assert!(app.on_event(key('x')).is_empty(), "other keys do nothing");
    assert_eq!(
        app.on_event(key('d')),
        vec![imps_client::tui::Action::AnswerPresenceAuth {
            user: "wv:dave@localhost".into(),
            accept: false,
        }]
    );
    assert!(app.prompts.is_empty());
}

/// alice chats in the UI with formatting on; bob, on the CLI, gets the
/// formatting. Then bob asks to watch alice: the question pops up in
/// alice's UI, she allows it with one key, and bob sees her presence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_tui_live_formatted_send_and_presence_request_prompt() {
    let srv = cli_common::Server::start().await;
    srv.add_user("alice", "wonderland").await;
    srv.add_user("bob", "builder").await;
    let (alice, bob) = (srv.person("alice"), srv.person("bob"));
    alice
        .login("wonderland", &["--csp", "1.3", "--wbxml"])
        .await;
    bob.login("builder", &["--csp", "1.3"]).await;
    alice
        .json(&[
            "presence",
            "set",
            "--status",
            "online",
            "--text",
            "in the UI",
        ])
        .await;

    let ctx = Ctx::open(alice.profile.clone()).unwrap();
    let (mut app, mut events, ev_tx, actions) = tui::start(ctx, false).await.unwrap();
    let mut term = Terminal::new(TestBackend::new(80, 16)).unwrap();
    for line in ["/msg bob", "/style bold Red", "tea?"] {
        for c in line.chars() {
            ev_tx.send(key(c)).await.unwrap();
        }
        ev_tx.send(enter()).await.unwrap();
    }
    tokio::time::timeout(
        Duration::from_secs(5),
        tui::event_loop(&mut term, &mut app, &mut events, &actions, |a, _| {
            a.convs
                .iter()
                .any(|c| c.lines.iter().any(|l| l.text == "tea?"))
        }),
    )
    .await
    .expect("the line is sent")
    .unwrap();
    let got = bob.json(&["inbox", "--wait", "5"]).await;
    let m = &got["messages"][0];
    assert_eq!(m["text"], "tea?", "{got}");
    assert_eq!(m["font"]["color"], "Red", "{got}");
    assert_eq!(m["font"]["styles"][0], "Bold", "{got}");

    // bob subscribes to alice, who has not let him see anything yet.
    bob.imps(&["presence", "watch", "alice", "--timeout", "1"], None)
        .await
        .ok();
    let shown = tokio::time::timeout(
        Duration::from_secs(2),
        tui::event_loop(&mut term, &mut app, &mut events, &actions, |_, t| {
            screen(t).contains("bob asks to see your presence")
        }),
    )
    .await;
    assert!(shown.is_ok(), "no prompt:\n{}", screen(&term));
    let before = bob.json(&["presence", "get", "alice"]).await;
    assert!(!before.to_string().contains("in the UI"), "{before}");
    ev_tx.send(key('a')).await.unwrap();
    tokio::time::timeout(
        Duration::from_secs(5),
        tui::event_loop(&mut term, &mut app, &mut events, &actions, |a, _| {
            a.status.contains("allowed")
        }),
    )
    .await
    .unwrap_or_else(|_| panic!("no answer:\n{}", screen(&term)))
    .unwrap();
    let after = bob.json(&["presence", "get", "alice"]).await;
    assert_eq!(after["presence"][0]["status_text"], "in the UI", "{after}");
}

/// alice's UI with bob as a contact and a room: bob's presence change
/// redraws his row, and a message in the room (not open) raises its
/// unread count; opening the room with the keys shows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_tui_live_presence_and_group_room_unread() {
    let srv = cli_common::Server::start().await;
    srv.add_user("alice", "wonderland").await;
    srv.add_user("bob", "builder").await;
    let (alice, bob) = (srv.person("alice"), srv.person("bob"));
    alice.login("wonderland", &[]).await;
    bob.login("builder", &[]).await;
    alice.json(&["contacts", "add", "bob"]).await;
    bob.json(&["contacts", "add", "alice"]).await;
    bob.json(&["presence", "set", "--status", "online"]).await;
    alice.json(&["group", "create", "porch"]).await;
    bob.json(&["group", "join", "alice/porch"]).await;

    let ctx = Ctx::open(alice.profile.clone()).unwrap();
    let (mut app, mut events, ev_tx, actions) = tui::start(ctx, false).await.unwrap();
    let mut term = Terminal::new(TestBackend::new(80, 16)).unwrap();
    tui::event_loop(&mut term, &mut app, &mut events, &actions, |_, _| true)
        .await
        .unwrap();
    let first = screen(&term);
    assert!(first.contains("● bob"), "bob online at start:\n{first}");
    assert!(first.contains("# alice/porch"), "{first}");

    bob.json(&["presence", "set", "--status", "away", "--text", "gardening"])
        .await;
    let shown = tokio::time::timeout(
        Duration::from_secs(2),
        tui::event_loop(&mut term, &mut app, &mut events, &actions, |_, t| {
            screen(t).contains("◐ bob gardening")
        }),
    )
    .await;
    assert!(shown.is_ok(), "presence not redrawn:\n{}", screen(&term));

    bob.json(&["group", "send", "alice/porch", "lemonade"])
        .await;
    let shown = tokio::time::timeout(
        Duration::from_secs(2),
        tui::event_loop(&mut term, &mut app, &mut events, &actions, |_, t| {
            screen(t).contains("# alice/porch (1)")
        }),
    )
    .await;
    assert!(shown.is_ok(), "no unread count:\n{}", screen(&term));
    // Tab opens the next unread conversation: the room.
    ev_tx
        .send(imps_client::tui::AppEvent::Key(
            crossterm::event::KeyEvent::from(crossterm::event::KeyCode::Tab),
        ))
        .await
        .unwrap();
    let shown = tokio::time::timeout(
        Duration::from_secs(2),
        tui::event_loop(&mut term, &mut app, &mut events, &actions, |_, t| {
            let s = screen(t);
            s.contains("bob: lemonade") && !s.contains("(1)")
        }),
    )
    .await;
    assert!(shown.is_ok(), "room not opened:\n{}", screen(&term));
}
