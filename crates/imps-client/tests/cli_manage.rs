//! The `imps` commands that undo or answer things, end to end against a
//! live impsd with `--json` output checked: withdrawing an invitation,
//! deleting a contact list and a group, answering a presence
//! authorization request, and listing waiting messages without taking
//! them (GetMessageList).

use crate::cli_common;

use cli_common::{Server, combos};

async fn two_users(srv: &Server, flags: &[&str]) -> (cli_common::Person, cli_common::Person) {
    srv.add_user("alice", "wonderland").await;
    srv.add_user("bob", "builder").await;
    let (alice, bob) = (srv.person("alice"), srv.person("bob"));
    alice.login("wonderland", flags).await;
    bob.login("builder", flags).await;
    (alice, bob)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_invite_cancel_withdraws_a_waiting_invitation() {
    for flags in combos() {
        let srv = Server::start().await;
        let (alice, bob) = two_users(&srv, &flags).await;
        alice.json(&["group", "create", "den"]).await;
        let inv = alice
            .json(&["invite", "send", "bob", "--group", "alice/den"])
            .await;
        let id = inv["invite_id"].as_str().unwrap().to_string();
        let before = bob.json(&["invite", "list"]).await;
        assert_eq!(
            before["invitations"].as_array().map(Vec::len),
            Some(1),
            "{flags:?}: {before}"
        );
        let c = alice
            .json(&["invite", "cancel", &id, "--user", "bob", "--note", "sorry"])
            .await;
        assert_eq!(c["invite_id"].as_str(), Some(id.as_str()), "{c}");
        let after = bob.json(&["invite", "list"]).await;
        assert_eq!(
            after["invitations"].as_array().map(Vec::len),
            Some(0),
            "{flags:?}: the withdrawn invitation is gone: {after}"
        );
        // Accepting it now is refused locally, and cancelling it again is
        // refused by the server with its status code.
        let r = bob.imps(&["invite", "accept", &id], None).await;
        assert_ne!(r.code, 0, "{r:?}");
        let r = alice.imps(&["--json", "invite", "cancel", &id], None).await;
        assert_eq!(r.code, 4, "{flags:?}: {r:?}");
        assert_eq!(r.json()["code"], 423, "{r:?}");
        assert!(r.stderr.contains("423 (no such invitation)"), "{r:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_contacts_delete_list_and_group_delete() {
    for flags in combos() {
        let srv = Server::start().await;
        let (alice, bob) = two_users(&srv, &flags).await;
        let added = alice.json(&["contacts", "add", "bob"]).await;
        let list = added["list"].as_str().unwrap().to_string();
        let lists = alice.json(&["contacts"]).await;
        assert_eq!(lists["lists"].as_array().map(Vec::len), Some(1), "{lists}");
        let d = alice.json(&["contacts", "delete-list", &list]).await;
        assert_eq!(d["list"].as_str(), Some(list.as_str()));
        let lists = alice.json(&["contacts"]).await;
        assert_eq!(
            lists["lists"].as_array().map(Vec::len),
            Some(0),
            "{flags:?}: {lists}"
        );
        let r = alice
            .imps(&["--json", "contacts", "delete-list", &list], None)
            .await;
        assert_eq!(r.code, 4, "{r:?}");
        assert_eq!(r.json()["code"], 700, "{r:?}");

        alice.json(&["group", "create", "attic"]).await;
        bob.json(&["group", "join", "alice/attic"]).await;
        // Only an admin may delete it.
        let r = bob
            .imps(&["--json", "group", "delete", "alice/attic"], None)
            .await;
        assert_eq!(r.code, 4, "{flags:?}: {r:?}");
        assert_eq!(r.json()["code"], 816, "{r:?}");
        alice.json(&["group", "delete", "alice/attic"]).await;
        let r = alice
            .imps(&["--json", "group", "members", "alice/attic"], None)
            .await;
        assert_eq!(r.code, 4, "{r:?}");
        assert_eq!(r.json()["code"], 800, "{r:?}");
        assert!(r.stderr.contains("800 (no such group)"), "{r:?}");
        // bob is told he is out.
        let inbox = bob.json(&["inbox", "--wait", "3"]).await;
        assert!(
            inbox["events"].to_string().contains("group_left"),
            "{flags:?}: {inbox}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_presence_authorize_answers_a_request_to_watch() {
    for flags in combos() {
        let srv = Server::start().await;
        let (alice, bob) = two_users(&srv, &flags).await;
        bob.json(&["presence", "set", "--status", "online", "--text", "here"])
            .await;
        // alice subscribes without bob having said anything: bob is asked.
        alice
            .imps(&["presence", "watch", "bob", "--timeout", "1"], None)
            .await
            .ok();
        let before = alice.json(&["presence", "get", "bob"]).await;
        assert!(
            !before.to_string().contains("here"),
            "{flags:?}: nothing before bob answers: {before}"
        );
        let inbox = bob.json(&["inbox", "--wait", "5"]).await;
        let asks: Vec<_> = inbox["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["event"] == "presence_auth")
            .collect();
        assert_eq!(asks.len(), 1, "{flags:?}: {inbox}");
        assert!(asks[0]["user"].as_str().unwrap().contains("alice"));
        let saved: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&bob.profile).unwrap()).unwrap();
        assert_eq!(saved["auth_requests"].as_array().map(Vec::len), Some(1));

        let a = bob.json(&["presence", "authorize", "alice"]).await;
        assert_eq!(a["accepted"], true, "{a}");
        let after = alice.json(&["presence", "get", "bob"]).await;
        assert_eq!(
            after["presence"][0]["status_text"], "here",
            "{flags:?}: {after}"
        );
        let saved: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&bob.profile).unwrap()).unwrap();
        assert_eq!(saved["auth_requests"].as_array().map(Vec::len), Some(0));

        // Denying takes it back.
        bob.json(&["presence", "authorize", "alice", "--deny"])
            .await;
        let denied = alice.json(&["presence", "get", "bob"]).await;
        assert!(!denied.to_string().contains("here"), "{flags:?}: {denied}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_inbox_list_shows_waiting_messages_without_taking_them() {
    for flags in combos() {
        let srv = Server::start().await;
        let (alice, bob) = two_users(&srv, &flags).await;
        for t in ["one", "two", "three"] {
            alice.json(&["send", "bob", t]).await;
        }
        let l = bob.json(&["inbox", "--list", "--count", "2"]).await;
        let waiting = l["waiting"].as_array().unwrap();
        assert_eq!(waiting.len(), 2, "{flags:?}: {l}");
        assert!(waiting[0]["from"].as_str().unwrap().contains("alice"));
        assert!(!waiting[0]["message_id"].as_str().unwrap().is_empty());
        if flags.contains(&"1.3") {
            assert_eq!(l["total"], 3, "1.3 tells the total: {l}");
        }
        let all = bob.json(&["inbox", "--list"]).await;
        assert_eq!(all["waiting"].as_array().map(Vec::len), Some(3), "{all}");
        // Listing took nothing: the inbox still gets all three, once.
        let got = bob.json(&["inbox", "--wait", "5"]).await;
        let texts: Vec<&str> = got["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["text"].as_str())
            .collect();
        assert_eq!(texts, ["one", "two", "three"], "{flags:?}: {got}");
        // The acknowledgements end the entries; the server may finish
        // that just after answering, so give it a moment.
        let mut l = serde_json::Value::Null;
        for _ in 0..20 {
            l = bob.json(&["inbox", "--list"]).await;
            if l["waiting"].as_array().is_some_and(Vec::is_empty) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(l["waiting"].as_array().map(Vec::len), Some(0), "{l}");
    }
}
