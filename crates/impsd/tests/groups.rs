//! Public chat groups over the real protocol (BASE-GRP): create, join,
//! leave, delete, messages to a group, joined users. Management is in
//! groups_admin.rs.

use crate::common;
use crate::groups_common;

use common::{TestServer, code_of, combos};
use groups_common::*;
use imps_client::Version;

async fn server() -> TestServer {
    let srv = TestServer::start().await;
    users(&srv, &["alice", "bob", "carol", "dave"]).await;
    srv
}

#[tokio::test]
async fn base_grp_create_join_leave_delete() {
    let srv = server().await;
    for (i, (v, e)) in combos().into_iter().enumerate() {
        let w = format!("{v} {e:?}");
        let g = gid("alice", &format!("chat{i}"));
        let alice = login(&srv, v, e, "alice", "a").await;
        let bob = login(&srv, v, e, "bob", "b").await;
        let create = create_req(
            &g,
            &[("Name", "Chat"), ("Accesstype", "Open")],
            Some("Alice"),
        );
        expect_code(&alice, create.clone(), 200, &w).await;
        expect_code(&alice, create, 801, &format!("{w}: the same ID again")).await;
        let resp = expect_named(
            &bob,
            join_req(&g, Some("Bob"), true),
            "JoinGroup-Response",
            &w,
        )
        .await;
        assert_eq!(joined_list_shape(v, &resp), ["Alice", "Bob"], "{w}");
        // Alice subscribed when she created it: she hears that Bob joined.
        let notices = drain_named(&alice, "GroupChangeNotice").await;
        assert_eq!(notices.len(), 1, "{w}: {notices:?}");
        assert_eq!(notices[0].child_text("GroupID"), Some(g.as_str()));
        assert_eq!(snames(notices[0].child("Joined").unwrap()), ["Bob"], "{w}");
        let left = expect_named(&bob, leave_req(&g), "LeaveGroup-Response", &w).await;
        assert_eq!(code_of(&left), Some(200), "{w}");
        assert_eq!(left.child_text("GroupID"), Some(g.as_str()));
        let notices = drain_named(&alice, "GroupChangeNotice").await;
        assert_eq!(snames(notices[0].child("Left").unwrap()), ["Bob"], "{w}");
        expect_code(
            &bob,
            leave_req(&g),
            808,
            &format!("{w}: not joined any more"),
        )
        .await;
        // Only an admin deletes; joined users are told with 800.
        expect_named(
            &bob,
            join_req(&g, Some("Bob"), false),
            "JoinGroup-Response",
            &w,
        )
        .await;
        expect_code(&bob, group_req("DeleteGroup-Request", &g), 816, &w).await;
        expect_code(&alice, group_req("DeleteGroup-Request", &g), 200, &w).await;
        let gone = drain_named(&bob, "LeaveGroup-Response").await;
        assert_eq!(gone.len(), 1, "{w}");
        assert_eq!(code_of(&gone[0]), Some(800), "{w}");
        expect_code(&bob, join_req(&g, Some("Bob"), false), 800, &w).await;
        alice.logout().await.unwrap();
        bob.logout().await.unwrap();
    }
}

#[tokio::test]
async fn base_grp_create_group_checks_ids_and_properties() {
    let srv = server().await;
    for (i, (v, e)) in combos().into_iter().enumerate() {
        let w = format!("{v} {e:?}");
        let alice = login(&srv, v, e, "alice", "a").await;
        let other = gid("bob", &format!("mine{i}"));
        expect_code(
            &alice,
            create_req(&other, &[], None),
            806,
            &format!("{w}: bob's name space"),
        )
        .await;
        let foreign = format!("wv:alice/x{i}@elsewhere.org");
        expect_code(&alice, create_req(&foreign, &[], None), 516, &w).await;
        expect_code(
            &alice,
            create_req("wv:alice@localhost", &[], None),
            402,
            &format!("{w}: no name part"),
        )
        .await;
        expect_code(
            &alice,
            create_req(&gid("alice", "x"), &[("AccessType", "Sometimes")], None),
            806,
            &w,
        )
        .await;
        expect_code(
            &alice,
            create_req(&gid("alice", "h"), &[("History", "T")], None),
            821,
            &w,
        )
        .await;
        // Android's spelling, mixed case in the ID: accepted, stored canonically.
        let g = gid("alice", &format!("Props{i}"));
        let create = create_req(
            &g,
            &[
                ("Name", "Props"),
                ("Accesstype", "restricted"),
                ("Topic", "t"),
            ],
            None,
        );
        expect_code(&alice, create, 200, &w).await;
        let props = expect_named(
            &alice,
            group_req("GetGroupProps-Request", &g.to_lowercase()),
            "GetGroupProps-Response",
            &w,
        )
        .await;
        let gp = props.child("GroupProperties").unwrap();
        assert_eq!(prop_of(gp, "AccessType"), Some("Restricted"), "{w}: {gp:?}");
        assert_eq!(prop_of(gp, "Topic"), Some("t"));
        assert_eq!(prop_of(gp, "ActiveUsers"), Some("0"));
        alice.logout().await.unwrap();
    }
}

#[tokio::test]
async fn base_grp_join_refusals() {
    let srv = server().await;
    for (i, (v, e)) in combos().into_iter().enumerate() {
        let w = format!("{v} {e:?}");
        let alice = login(&srv, v, e, "alice", "a").await;
        let bob = login(&srv, v, e, "bob", "b").await;
        let carol = login(&srv, v, e, "carol", "c").await;
        expect_code(
            &bob,
            join_req(&gid("alice", "nope"), Some("Bob"), false),
            800,
            &w,
        )
        .await;
        let g = gid("alice", &format!("small{i}"));
        expect_code(
            &alice,
            create_req(&g, &[("MaxActiveUsers", "2")], Some("Alice")),
            200,
            &w,
        )
        .await;
        expect_code(
            &alice,
            join_req(&g, Some("Alice2"), false),
            807,
            &format!("{w}: joined twice"),
        )
        .await;
        expect_code(
            &bob,
            join_req(&g, Some("alice"), false),
            811,
            &format!("{w}: screen names ignore case"),
        )
        .await;
        expect_named(
            &bob,
            join_req(&g, Some("Bob"), false),
            "JoinGroup-Response",
            &w,
        )
        .await;
        expect_code(
            &carol,
            join_req(&g, Some("Carol"), false),
            817,
            &format!("{w}: full"),
        )
        .await;
        expect_code(&carol, leave_req(&g), 808, &w).await;
        for c in [&alice, &bob, &carol] {
            c.logout().await.unwrap();
        }
    }
}

#[tokio::test]
async fn base_grp_messages_reach_every_joined_user() {
    let srv = server().await;
    for (i, (v, e)) in combos().into_iter().enumerate() {
        let w = format!("{v} {e:?}");
        let g = gid("alice", &format!("talk{i}"));
        let alice = login(&srv, v, e, "alice", "a").await;
        let bob = login(&srv, v, e, "bob", "b").await;
        let carol = login(&srv, v, e, "carol", "c").await;
        let dave = login(&srv, v, e, "dave", "d").await;
        expect_code(&alice, create_req(&g, &[], Some("Alice")), 200, &w).await;
        expect_named(
            &bob,
            join_req(&g, Some("Bob"), false),
            "JoinGroup-Response",
            &w,
        )
        .await;
        expect_named(
            &carol,
            join_req(&g, Some("Carol"), false),
            "JoinGroup-Response",
            &w,
        )
        .await;
        drain(&alice).await;
        drain(&bob).await;
        let resp = expect_named(
            &alice,
            group_message(&g, "hello all ☺"),
            "SendMessage-Response",
            &w,
        )
        .await;
        assert_eq!(code_of(&resp), Some(200), "{w}");
        let id = resp.child_text("MessageID").expect("MessageID").to_string();
        for (c, who) in [(&bob, "bob"), (&carol, "carol")] {
            let msgs = drain_named(c, "NewMessage").await;
            assert_eq!(msgs.len(), 1, "{w}: {who}");
            let m = &msgs[0];
            assert_eq!(m.child_text("ContentData"), Some("hello all ☺"), "{w}");
            let info = m.child("MessageInfo").unwrap();
            assert_eq!(info.child_text("MessageID"), Some(id.as_str()));
            assert_eq!(
                info.path(&["Sender", "Group", "ScreenName", "SName"])
                    .map(|s| s.text.as_str()),
                Some("Alice"),
                "{w}: the sender is shown by screen name"
            );
            assert_eq!(
                info.path(&["Recipient", "Group", "GroupID"])
                    .map(|s| s.text.as_str()),
                Some(g.as_str())
            );
            assert!(info.child_text("DateTime").is_some());
        }
        assert!(
            drain_named(&alice, "NewMessage").await.is_empty(),
            "{w}: no echo to the sender"
        );
        expect_code(
            &dave,
            group_message(&g, "let me in"),
            808,
            &format!("{w}: not joined"),
        )
        .await;
        expect_code(&dave, group_message(&gid("alice", "ghost"), "x"), 800, &w).await;
        for c in [&alice, &bob, &carol, &dave] {
            c.logout().await.unwrap();
        }
    }
}

#[tokio::test]
async fn base_grp_private_messages_by_screen_name() {
    let srv = server().await;
    for (i, (v, e)) in combos().into_iter().enumerate() {
        let w = format!("{v} {e:?}");
        let alice = login(&srv, v, e, "alice", "a").await;
        let bob = login(&srv, v, e, "bob", "b").await;
        let carol = login(&srv, v, e, "carol", "c").await;
        let open = gid("alice", &format!("pm{i}"));
        let closed = gid("alice", &format!("nopm{i}"));
        expect_code(
            &alice,
            create_req(&open, &[("PrivateMessaging", "T")], Some("Alice")),
            200,
            &w,
        )
        .await;
        expect_code(
            &alice,
            create_req(&closed, &[("PrivateMessaging", "F")], Some("Alice")),
            200,
            &w,
        )
        .await;
        for g in [&open, &closed] {
            expect_named(
                &bob,
                join_req(g, Some("Bob"), false),
                "JoinGroup-Response",
                &w,
            )
            .await;
            expect_named(
                &carol,
                join_req(g, Some("Carol"), false),
                "JoinGroup-Response",
                &w,
            )
            .await;
        }
        drain(&bob).await;
        drain(&carol).await;
        expect_code(&alice, whisper(&open, "bob", "psst"), 200, &w).await;
        let to_bob = drain_named(&bob, "NewMessage").await;
        assert_eq!(to_bob.len(), 1, "{w}");
        assert_eq!(
            to_bob[0]
                .path(&["MessageInfo", "Recipient", "Group", "ScreenName", "SName"])
                .map(|s| s.text.as_str()),
            Some("Bob")
        );
        assert!(
            drain_named(&carol, "NewMessage").await.is_empty(),
            "{w}: only Bob"
        );
        expect_code(&alice, whisper(&closed, "Bob", "psst"), 812, &w).await;
        expect_code(&alice, whisper(&open, "Nobody", "psst"), 531, &w).await;
        for c in [&alice, &bob, &carol] {
            c.logout().await.unwrap();
        }
    }
}

#[tokio::test]
async fn base_grp_get_joined_users() {
    let srv = server().await;
    for (i, (v, e)) in groups_common::combos_from(Version::V1_2)
        .into_iter()
        .enumerate()
    {
        let w = format!("{v} {e:?}");
        let g = gid("alice", &format!("who{i}"));
        let alice = login(&srv, v, e, "alice", "a").await;
        let bob = login(&srv, v, e, "bob", "b").await;
        let dave = login(&srv, v, e, "dave", "d").await;
        expect_code(&alice, create_req(&g, &[], Some("Alice")), 200, &w).await;
        expect_named(
            &bob,
            join_req(&g, Some("Bob"), false),
            "JoinGroup-Response",
            &w,
        )
        .await;
        let admin_view = expect_named(
            &alice,
            group_req("GetJoinedUsers-Request", &g),
            "GetJoinedUsers-Response",
            &w,
        )
        .await;
        let aml = admin_view
            .child("AdminMapList")
            .expect("an admin sees AdminMapList");
        assert_eq!(snames(aml.child("AdminMapping").unwrap()), ["Alice"], "{w}");
        assert_eq!(snames(aml.child("UserMapping").unwrap()), ["Bob"], "{w}");
        let user_view = expect_named(
            &bob,
            group_req("GetJoinedUsers-Request", &g),
            "GetJoinedUsers-Response",
            &w,
        )
        .await;
        let uml = user_view
            .child("UserMapList")
            .expect("a user sees UserMapList");
        assert_eq!(snames(uml), ["Alice", "Bob"], "{w}");
        assert!(
            user_ids(uml).is_empty(),
            "{w}: no UserIDs unless a user shows theirs"
        );
        expect_code(&dave, group_req("GetJoinedUsers-Request", &g), 808, &w).await;
        for c in [&alice, &bob, &dave] {
            c.logout().await.unwrap();
        }
    }
}

#[tokio::test]
async fn base_grp_group_limits_814_815_817() {
    let srv = TestServer::start_with(|c| {
        c.groups.max_groups_per_user = 2;
        c.groups.max_groups_total = 3;
        c.groups.max_joined_per_group = 2;
    })
    .await;
    users(&srv, &["alice", "bob", "carol"]).await;
    let alice = login(
        &srv,
        Version::V1_3,
        imps_client::Encoding::Wbxml,
        "alice",
        "a",
    )
    .await;
    let bob = login(&srv, Version::V1_1, imps_client::Encoding::Xml, "bob", "b").await;
    let carol = login(
        &srv,
        Version::V1_2,
        imps_client::Encoding::Xml,
        "carol",
        "c",
    )
    .await;
    let (a1, a2, a3) = (
        gid("alice", "one"),
        gid("alice", "two"),
        gid("alice", "three"),
    );
    expect_code(&alice, create_req(&a1, &[], Some("Alice")), 200, "first").await;
    expect_code(
        &alice,
        create_req(&a2, &[("MaxActiveUsers", "50")], Some("Alice")),
        200,
        "second",
    )
    .await;
    // The user's limit: 814, for a public group and a private one alike.
    expect_code(&alice, create_req(&a3, &[], None), 814, "third").await;
    expect_code(&alice, create_private_req(&["bob"], true), 814, "private").await;
    assert!(store(&srv).group(&a3).await.unwrap().is_none());
    // The server's limit: 815 for anyone once three groups exist.
    let b1 = gid("bob", "one");
    expect_code(&bob, create_req(&b1, &[], None), 200, "bob's first").await;
    expect_code(
        &bob,
        create_req(&gid("bob", "two"), &[], None),
        815,
        "server full",
    )
    .await;
    expect_code(
        &carol,
        create_private_req(&["bob"], false),
        815,
        "server full",
    )
    .await;
    // A deleted group frees its place.
    expect_code(&alice, group_req("DeleteGroup-Request", &a1), 200, "delete").await;
    expect_code(
        &bob,
        create_req(&gid("bob", "two"), &[], None),
        200,
        "room again",
    )
    .await;
    // The server's cap on joined users beats a larger MaxActiveUsers: 817.
    expect_named(
        &bob,
        join_req(&a2, Some("Bob"), false),
        "JoinGroup-Response",
        "join",
    )
    .await;
    expect_code(&carol, join_req(&a2, Some("Carol"), false), 817, "full").await;
    expect_named(&bob, leave_req(&a2), "LeaveGroup-Response", "leave").await;
    expect_named(
        &carol,
        join_req(&a2, Some("Carol"), false),
        "JoinGroup-Response",
        "room",
    )
    .await;
    for c in [&alice, &bob, &carol] {
        c.logout().await.unwrap();
    }
}
