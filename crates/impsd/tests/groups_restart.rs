//! Groups survive a crash: the real binary is SIGKILLed and started again
//! on the same data dir. Groups, members, access rights, reject lists and
//! joined users come back; a user who dropped out of a private
//! conversation before the crash may still rejoin (PGC-16), one who left
//! may not (PGC-17). And the administrator's `impsd group expel` (PGC-12).
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use crate::common;
use crate::groups_common;

use std::process::Command;

use common::code_of;
use groups_common::{
    create_private, create_req, drain_named, expect_code, expect_named, gid, group_message,
    group_req, join_req, leave_req, prop_of, texts, uid, user_ids, user_list,
};
use imps_client::{Client, ClientConfig, Element, Encoding, HttpClient, Version};

use common::{impsd_cli as admin, real_config_db, spawn_real as spawn};

const BIN: &str = common::IMPSD_BIN;

fn client(url: &str, id: &str) -> HttpClient {
    Client::new(ClientConfig::new(url, Version::V1_2, Encoding::Xml).with_client_id(id)).unwrap()
}

async fn login(url: &str, user: &str, id: &str) -> HttpClient {
    let c = client(url, id);
    c.login_password(user, "pw").await.unwrap();
    c
}

#[tokio::test]
async fn base_grp_groups_members_and_rights_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::TestDb::from_env();
    let cfg = real_config_db(dir.path(), db.as_ref());
    let data = dir.path().join("data");
    let (mut child, url) = spawn(&cfg, &data);
    for (u, f) in [
        ("alice", "Alice"),
        ("bob", "Bob"),
        ("carol", "Carol"),
        ("dave", "Dave"),
    ] {
        admin(
            &cfg,
            &["user", "add", u, "--password", "pw", "--friendly-name", f],
        );
    }
    let alice = login(&url, "alice", "a").await;
    let bob = login(&url, "bob", "b").await;
    let carol = login(&url, "carol", "c").await;

    // A restricted public group with members, a moderator and a reject.
    let g = gid("alice", "club");
    expect_code(
        &alice,
        create_req(
            &g,
            &[("AccessType", "Restricted"), ("Topic", "Crash test")],
            Some("Alice"),
        ),
        200,
        "create",
    )
    .await;
    let add = group_req("AddGroupMembers-Request", &g).with(user_list(&["bob", "carol"], false));
    expect_code(&alice, add, 200, "add").await;
    let make_mod = group_req("MemberAccess-Request", &g)
        .with(Element::new("Mod").with(user_list(&["bob"], false)));
    expect_code(&alice, make_mod, 200, "mod").await;
    let reject = group_req("RejectList-Request", &g)
        .with(Element::new("AddList").with_text("UserID", uid("dave")));
    expect_named(&alice, reject, "RejectList-Response", "reject").await;
    expect_named(
        &carol,
        join_req(&g, Some("Carol"), false),
        "JoinGroup-Response",
        "join",
    )
    .await;

    // A private conversation: Carol leaves on purpose, Bob only drops out.
    let p = create_private(&alice, Version::V1_2, &["bob", "carol"]).await;
    expect_named(
        &bob,
        join_req(&p, None, false),
        "JoinGroup-Response",
        "bob joins",
    )
    .await;
    expect_named(
        &carol,
        join_req(&p, None, false),
        "JoinGroup-Response",
        "carol joins",
    )
    .await;
    expect_named(&carol, leave_req(&p), "LeaveGroup-Response", "carol leaves").await;
    bob.logout().await.unwrap();

    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let (mut child, url) = spawn(&cfg, &data);

    // Alice's session from before the crash is still live, and so is all
    // she set up.
    let alice2 = client(&url, "a");
    alice2.set_session_id(alice.session_id());
    let members = expect_named(
        &alice2,
        group_req("GetGroupMembers-Request", &g),
        "GetGroupMembers-Response",
        "members",
    )
    .await;
    assert_eq!(user_ids(members.child("Admin").unwrap()), [uid("alice")]);
    assert_eq!(user_ids(members.child("Mod").unwrap()), [uid("bob")]);
    assert_eq!(user_ids(members.child("UserList").unwrap()), [uid("carol")]);
    let rejects = expect_named(
        &alice2,
        group_req("RejectList-Request", &g),
        "RejectList-Response",
        "rejects",
    )
    .await;
    assert_eq!(user_ids(&rejects), [uid("dave")]);
    let props = expect_named(
        &alice2,
        group_req("GetGroupProps-Request", &g),
        "GetGroupProps-Response",
        "props",
    )
    .await;
    let gp = props.child("GroupProperties").unwrap();
    assert_eq!(prop_of(gp, "AccessType"), Some("Restricted"));
    assert_eq!(prop_of(gp, "Topic"), Some("Crash test"));
    let joined = expect_named(
        &alice2,
        group_req("GetJoinedUsers-Request", &g),
        "GetJoinedUsers-Response",
        "joined",
    )
    .await;
    assert_eq!(
        groups_common::snames(&joined),
        ["Alice", "Carol"],
        "joined users too"
    );
    let dave = login(&url, "dave", "d").await;
    expect_code(
        &dave,
        join_req(&g, Some("Dave"), false),
        809,
        "still rejected",
    )
    .await;

    // PGC-16 across the crash: Bob may rejoin; PGC-17: Carol may not.
    let bob = login(&url, "bob", "b").await;
    expect_named(
        &bob,
        join_req(&p, None, false),
        "JoinGroup-Response",
        "bob rejoins",
    )
    .await;
    let carol = login(&url, "carol", "c2").await;
    expect_code(
        &carol,
        join_req(&p, None, false),
        800,
        "carol left on purpose: the conversation is gone for her",
    )
    .await;
    expect_code(&alice2, group_message(&p, "after the crash"), 200, "send").await;
    assert_eq!(texts(&bob).await, ["after the crash"]);

    // PGC-12: the administrator expels Bob from the private conversation.
    let out = admin(&cfg, &["group", "expel", &p, "wv:bob@localhost"]);
    assert!(out.contains("expelled"), "{out}");
    let put_out = drain_named(&bob, "LeaveGroup-Response").await;
    assert_eq!(put_out.len(), 1);
    assert_eq!(code_of(&put_out[0]), Some(809));
    // Out and not invited: the conversation is gone for him (800); with
    // a new invitation the reject list answers 809 (pgc_rules.rs).
    expect_code(&bob, join_req(&p, None, false), 800, "expelled").await;
    let err = Command::new(BIN)
        .args([
            "group",
            "expel",
            "wv:alice/none@localhost",
            "bob",
            "--config",
        ])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!err.status.success(), "an unknown group is an error");
    child.kill().unwrap();
    child.wait().unwrap();
}
