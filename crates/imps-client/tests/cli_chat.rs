//! The `imps` command end to end against a live impsd: two people log in,
//! add each other, see each other's presence, exchange messages and meet
//! in a group, using only the CLI, with its `--json` output checked. Each
//! feature also has its own test so a failure names the feature.

use crate::cli_common;

use cli_common::{Server, combos};

async fn two_users(srv: &Server, flags: &[&str]) -> (cli_common::Person, cli_common::Person) {
    srv.add_user("alice", "wonderland").await;
    srv.add_user("bob", "builder").await;
    let (alice, bob) = (srv.person("alice"), srv.person("bob"));
    let a = alice.login("wonderland", flags).await;
    assert_eq!(a["ok"], true);
    assert!(
        a["session_id"].as_str().is_some_and(|s| !s.is_empty()),
        "{a}"
    );
    bob.login("builder", flags).await;
    (alice, bob)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_login_keeps_a_private_profile_and_logout_ends_it() {
    let srv = Server::start().await;
    srv.add_user("alice", "wonderland").await;
    let alice = srv.person("alice");
    let j = alice
        .login("wonderland", &["--csp", "1.3", "--wbxml"])
        .await;
    assert_eq!(j["version"], "1.3");
    assert_eq!(j["encoding"], "wbxml");
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&alice.profile).unwrap()).unwrap();
    assert_eq!(saved["session_id"], j["session_id"]);
    assert_eq!(saved["server"].as_str(), Some(srv.url().as_str()));
    assert!(saved["next_transaction_id"].as_u64().unwrap() > 1);
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&alice.profile)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the profile holds a live session");
    }
    let out = alice.json(&["logout"]).await;
    assert_eq!(out["ok"], true);
    let r = alice.imps(&["send", "bob", "hi"], None).await;
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("not logged in"), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_digest_login_and_wrong_password() {
    let srv = Server::start().await;
    srv.add_user("alice", "wonderland").await;
    let alice = srv.person("alice");
    alice.login("wonderland", &["--digest"]).await;
    let r = alice
        .imps(
            &[
                "--json",
                "login",
                "--server",
                &srv.url(),
                "--user",
                "alice",
                "--password-stdin",
            ],
            Some("wrong\n"),
        )
        .await;
    assert_eq!(r.code, 4, "{r:?}");
    assert_eq!(r.json()["code"], 409);
    assert!(r.stderr.contains("409 (wrong password)"), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_a_session_the_server_forgot_says_log_in_again() {
    let srv = Server::start().await;
    srv.add_user("alice", "wonderland").await;
    let alice = srv.person("alice");
    alice.login("wonderland", &[]).await;
    let mut p: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&alice.profile).unwrap()).unwrap();
    p["session_id"] = "no-such-session".into();
    std::fs::write(&alice.profile, p.to_string()).unwrap();
    let r = alice.imps(&["--json", "inbox"], None).await;
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("session expired; log in again"), "{r:?}");
    assert_eq!(r.json()["error"], "session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_send_and_inbox_acknowledge_each_message_once() {
    for flags in combos() {
        let srv = Server::start().await;
        let (alice, bob) = two_users(&srv, &flags).await;
        let sent = alice.json(&["send", "bob", "hello bob"]).await;
        assert!(sent["to"].as_str().unwrap().contains("bob"), "{sent}");
        let inbox = bob.json(&["inbox", "--wait", "5"]).await;
        let msgs = inbox["messages"].as_array().unwrap();
        assert_eq!(msgs.len(), 1, "{flags:?}: {inbox}");
        assert_eq!(msgs[0]["text"], "hello bob");
        assert!(msgs[0]["from"].as_str().unwrap().contains("alice"));
        // MessageDelivered went back: nothing is delivered twice.
        let again = bob.json(&["inbox"]).await;
        assert_eq!(again["messages"].as_array().unwrap().len(), 0, "{again}");
        // The human form names the sender.
        alice.imps(&["send", "bob", "second"], None).await.ok();
        let r = bob.imps(&["inbox", "--wait", "5"], None).await.ok();
        assert!(r.stdout.contains("alice: second"), "{r:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_refusals_name_the_status_code() {
    let srv = Server::start().await;
    let (alice, _bob) = two_users(&srv, &[]).await;
    let r = alice.imps(&["--json", "send", "nobody", "hi"], None).await;
    assert_eq!(r.code, 4, "{r:?}");
    let j = r.json();
    assert_eq!(j["code"], 531, "{j}");
    assert_eq!(j["meaning"], "no such user");
    assert!(r.stderr.contains("531 (no such user)"), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_contacts_add_list_remove() {
    for flags in combos() {
        let srv = Server::start().await;
        let (alice, _bob) = two_users(&srv, &flags).await;
        let added = alice
            .json(&["contacts", "add", "bob", "--nick", "Bobby"])
            .await;
        assert!(added["list"].as_str().is_some(), "{added}");
        let list = alice.json(&["contacts"]).await;
        let contacts = &list["lists"][0]["contacts"];
        assert_eq!(
            contacts.as_array().map(Vec::len),
            Some(1),
            "{flags:?}: {list}"
        );
        assert!(contacts[0]["user"].as_str().unwrap().contains("bob"));
        assert_eq!(contacts[0]["nick"], "Bobby");
        alice.json(&["contacts", "remove", "bob"]).await;
        let list = alice.json(&["contacts"]).await;
        assert_eq!(
            list["lists"][0]["contacts"].as_array().map(Vec::len),
            Some(0),
            "{list}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_presence_set_get_and_watch() {
    for flags in combos() {
        let srv = Server::start().await;
        let (alice, bob) = two_users(&srv, &flags).await;
        alice.json(&["contacts", "add", "bob"]).await;
        bob.json(&["contacts", "add", "alice"]).await;
        bob.json(&["presence", "set", "--status", "away", "--text", "at lunch"])
            .await;
        let got = alice.json(&["presence", "get", "bob"]).await;
        let p = &got["presence"][0];
        assert_eq!(p["summary"], "away", "{flags:?}: {got}");
        assert_eq!(p["status_text"], "at lunch");
        // Watch while bob comes back.
        let watcher = {
            let a = srv.person("alice");
            tokio::spawn(async move {
                a.imps(
                    &["--json", "presence", "watch", "bob", "--timeout", "5"],
                    None,
                )
                .await
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        bob.json(&["presence", "set", "--status", "online", "--text", "back"])
            .await;
        let r = watcher.await.unwrap().ok();
        let seen: Vec<serde_json::Value> = r
            .stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        // The server may first tell the state at subscription time; the
        // change must follow.
        assert!(
            seen.iter()
                .any(|e| e["event"] == "presence" && e["presence"][0]["status_text"] == "back"),
            "{flags:?}: no presence update with the new text in {r:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_block_add_list_remove() {
    for flags in combos() {
        let srv = Server::start().await;
        let (alice, _bob) = two_users(&srv, &flags).await;
        alice.json(&["block", "add", "bob"]).await;
        let b = alice.json(&["block"]).await;
        let blocked: Vec<&str> = b["blocked"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|x| x.as_str())
            .collect();
        assert!(blocked.iter().any(|x| x.contains("bob")), "{flags:?}: {b}");
        alice.json(&["block", "remove", "bob"]).await;
        let b = alice.json(&["block", "list"]).await;
        assert_eq!(b["blocked"].as_array().map(Vec::len), Some(0), "{b}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_group_create_join_send_members_leave() {
    for flags in combos() {
        let srv = Server::start().await;
        let (alice, bob) = two_users(&srv, &flags).await;
        let g = alice
            .json(&["group", "create", "room", "--topic", "tea"])
            .await;
        let gid = g["group"].as_str().unwrap().to_string();
        assert!(gid.starts_with("wv:alice/room"), "{g}");
        bob.json(&["group", "join", "alice/room"]).await;
        let m = alice.json(&["group", "members", "alice/room"]).await;
        let names = m["members"].to_string();
        assert!(names.contains("bob"), "{flags:?}: {m}");
        // Drop join notices so the next inbox shows the message.
        alice.json(&["inbox"]).await;
        bob.json(&["group", "send", "alice/room", "hi all"]).await;
        let inbox = alice.json(&["inbox", "--wait", "5"]).await;
        let msg = inbox["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["text"] == "hi all")
            .unwrap_or_else(|| panic!("{flags:?}: {inbox}"));
        assert!(
            msg["group"].as_str().unwrap().contains("alice/room"),
            "{msg}"
        );
        bob.json(&["group", "leave", "alice/room"]).await;
        let m = alice.json(&["group", "members", "alice/room"]).await;
        assert!(!m["members"].to_string().contains("bob"), "{m}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_invite_to_a_group_and_accept() {
    for flags in combos() {
        let srv = Server::start().await;
        let (alice, bob) = two_users(&srv, &flags).await;
        alice.json(&["group", "create", "den"]).await;
        let inv = alice
            .json(&[
                "invite",
                "send",
                "bob",
                "--group",
                "alice/den",
                "--note",
                "come in",
            ])
            .await;
        let id = inv["invite_id"].as_str().unwrap().to_string();
        let list = bob.json(&["invite", "list"]).await;
        let mine = &list["invitations"][0];
        assert_eq!(
            mine["invite_id"].as_str(),
            Some(id.as_str()),
            "{flags:?}: {list}"
        );
        assert!(mine["from"].as_str().unwrap().contains("alice"));
        let acc = bob.json(&["invite", "accept", &id]).await;
        assert_eq!(acc["accepted"], true);
        let m = alice.json(&["group", "members", "alice/den"]).await;
        assert!(m["members"].to_string().contains("bob"), "{m}");
        assert_eq!(
            bob.json(&["invite", "list"]).await["invitations"]
                .as_array()
                .map(Vec::len),
            Some(0)
        );
    }
}

/// The whole story in one go, the way a newcomer would use it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_two_users_befriend_chat_and_meet_in_a_group() {
    let srv = Server::start().await;
    let (alice, bob) = two_users(&srv, &["--csp", "1.3"]).await;
    alice.json(&["contacts", "add", "bob"]).await;
    bob.json(&["contacts", "add", "alice"]).await;
    bob.json(&["presence", "set", "--status", "online", "--text", "hi"])
        .await;
    let c = alice.json(&["contacts"]).await;
    assert_eq!(
        c["lists"][0]["contacts"][0]["presence"]["summary"], "online",
        "{c}"
    );
    alice
        .json(&["send", "bob", "tea?", "--bold", "--color", "Red"])
        .await;
    let got = bob.json(&["inbox", "--wait", "5"]).await;
    let m = &got["messages"][0];
    assert_eq!(m["text"], "tea?", "{got}");
    assert_eq!(m["font"]["color"], "Red", "IMR-3 formatting arrives: {got}");
    bob.json(&["send", "alice", "yes"]).await;
    let got = alice.json(&["inbox", "--wait", "5"]).await;
    assert!(got["messages"].to_string().contains("yes"), "{got}");
    alice.json(&["group", "create", "kitchen"]).await;
    bob.json(&["group", "join", "alice/kitchen"]).await;
    bob.json(&["group", "send", "alice/kitchen", "kettle on"])
        .await;
    let got = alice.json(&["inbox", "--wait", "5"]).await;
    assert!(got["messages"].to_string().contains("kettle on"), "{got}");
    alice.json(&["logout"]).await;
    bob.json(&["logout"]).await;
}

/// `imps inbox --udp-cir`: the CLI takes datagram CIR (SUDP) and polls
/// only when the server's datagram wakes it (issue 20).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_inbox_wakes_on_udp_cir() {
    let srv = Server::start_with(|c| {
        c.cir.udp = true;
        c.cir.udp_bind = "127.0.0.1:0".into();
    })
    .await;
    let (alice, bob) = two_users(&srv, &[]).await;
    let service = srv.running.as_ref().unwrap().service.clone();
    let waiting = tokio::spawn(async move {
        bob.json(&["inbox", "--wait", "30", "--udp-cir", "127.0.0.1:0"])
            .await
    });
    // Once bob's session has agreed SUDP, alice writes (checked with a
    // bounded backoff, as the test kit's waits do).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut pause = std::time::Duration::from_millis(2);
    while !service
        .sessions()
        .of_user("bob")
        .iter()
        .any(|s| s.cir_target().is_some())
    {
        assert!(
            std::time::Instant::now() < deadline,
            "bob's inbox negotiated SUDP"
        );
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(std::time::Duration::from_millis(100));
    }
    let started = std::time::Instant::now();
    alice.json(&["send", "bob", "wake up"]).await;
    let inbox = waiting.await.unwrap();
    let msgs = inbox["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 1, "{inbox}");
    assert_eq!(msgs[0]["text"], "wake up");
    assert!(started.elapsed() < std::time::Duration::from_secs(25));
}
