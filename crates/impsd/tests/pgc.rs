//! Private group conversations over the real protocol: extending a 1:1
//! conversation (PGC-1..6, 1.3 ExtendConversation) and the rules of a
//! private conversation (PGC-7..11). PGC-12..21 are in pgc_rules.rs, the
//! use cases in pgc_uc.rs.

use crate::common;
use crate::groups_common;

use common::{TestServer, code_of, combos};
use groups_common::*;
use imps_client::{Element, Encoding, Version};

async fn server() -> TestServer {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", Some("Alice")).await;
    add_user(&srv, "bob", Some("Bob")).await;
    add_user(&srv, "carol", Some("Carol")).await;
    add_user(&srv, "dave", None).await;
    srv
}

const V13: [(Version, Encoding); 2] = [
    (Version::V1_3, Encoding::Xml),
    (Version::V1_3, Encoding::Wbxml),
];

#[tokio::test]
async fn pgc_1_extend_a_conversation_into_a_private_group() {
    let srv = server().await;
    for (v, e) in V13 {
        let w = format!("{e:?}");
        let alice = login(&srv, v, e, "alice", "a").await;
        let bob = login(&srv, v, e, "bob", "b").await;
        let resp = expect_named(
            &alice,
            extend_req("ec-1", "bob", "b", &["carol"]),
            "ExtendConversation-Response",
            &w,
        )
        .await;
        assert_eq!(code_of(&resp), Some(200), "{w}: {resp:?}");
        assert_eq!(resp.child_text("ExtendConversationID"), Some("ec-1"));
        let g = resp.child_text("GroupID").expect("GroupID").to_string();
        assert!(g.starts_with("wv:alice/"), "{g}");
        let props = expect_named(
            &alice,
            group_req("GetGroupProps-Request", &g),
            "GetGroupProps-Response",
            &w,
        )
        .await;
        let gp = props.child("GroupProperties").unwrap();
        assert_eq!(prop_of(gp, "Type"), Some("Private"), "{w}");
        assert_eq!(
            prop_of(gp, "ActiveUsers"),
            Some("2"),
            "{w}: alice and bob are in"
        );
        expect_code(&alice, extend_req("ec-2", "ghost", "x", &[]), 531, &w).await;
        alice.logout().await.unwrap();
        bob.logout().await.unwrap();
    }
}

#[tokio::test]
async fn pgc_2_the_other_user_is_moved_in_silently() {
    let srv = server().await;
    for (v, e) in V13 {
        let w = format!("{e:?}");
        let alice = login(&srv, v, e, "alice", "a").await;
        let bob = login(&srv, v, e, "bob", "b").await;
        let resp = expect_named(
            &alice,
            extend_req("ec", "bob", "b", &["carol"]),
            "ExtendConversation-Response",
            &w,
        )
        .await;
        let g = resp.child_text("GroupID").unwrap().to_string();
        let got = drain(&bob).await;
        assert!(
            got.iter().all(|b| b.name != "InviteUser-Request"),
            "{w}: no invitation to accept: {got:?}"
        );
        let notice = got
            .iter()
            .find(|b| b.name == "GroupChangeNotice")
            .expect("told where the conversation went");
        assert_eq!(notice.child_text("GroupID"), Some(g.as_str()));
        assert_eq!(
            snames(notice.child("Joined").unwrap()),
            ["Alice", "Bob"],
            "{w}"
        );
        // Already in: Bob talks without a JoinGroup.
        expect_code(&bob, group_message(&g, "still here"), 200, &w).await;
        assert_eq!(texts(&alice).await, ["still here"], "{w}");
        alice.logout().await.unwrap();
        bob.logout().await.unwrap();
    }
}

#[tokio::test]
async fn pgc_3_the_one_to_one_users_are_told_of_added_users() {
    let srv = server().await;
    for (v, e) in V13 {
        let w = format!("{e:?}");
        let alice = login(&srv, v, e, "alice", "a").await;
        let bob = login(&srv, v, e, "bob", "b").await;
        let carol = login(&srv, v, e, "carol", "c").await;
        let resp = expect_named(
            &alice,
            extend_req("ec", "bob", "b", &["carol"]),
            "ExtendConversation-Response",
            &w,
        )
        .await;
        let g = resp.child_text("GroupID").unwrap().to_string();
        drain(&alice).await;
        drain(&bob).await;
        accept(&carol, &g).await;
        for (c, who) in [(&alice, "alice"), (&bob, "bob")] {
            let n = drain_named(c, "GroupChangeNotice").await;
            assert_eq!(n.len(), 1, "{w}: {who}");
            assert_eq!(
                snames(n[0].child("Joined").unwrap()),
                ["Carol"],
                "{w}: {who}"
            );
        }
        for c in [&alice, &bob, &carol] {
            c.logout().await.unwrap();
        }
    }
}

#[tokio::test]
async fn pgc_4_no_history_before_joining() {
    let srv = server().await;
    for (v, e) in V13 {
        let w = format!("{e:?}");
        let alice = login(&srv, v, e, "alice", "a").await;
        let bob = login(&srv, v, e, "bob", "b").await;
        let carol = login(&srv, v, e, "carol", "c").await;
        let resp = expect_named(
            &alice,
            extend_req("ec", "bob", "b", &["carol"]),
            "ExtendConversation-Response",
            &w,
        )
        .await;
        let g = resp.child_text("GroupID").unwrap().to_string();
        expect_code(&alice, group_message(&g, "before carol 1"), 200, &w).await;
        expect_code(&bob, group_message(&g, "before carol 2"), 200, &w).await;
        accept(&carol, &g).await;
        assert!(
            texts(&carol).await.is_empty(),
            "{w}: nothing said before Carol joined reaches her"
        );
        expect_code(&bob, group_message(&g, "hi carol"), 200, &w).await;
        assert_eq!(texts(&carol).await, ["hi carol"], "{w}");
        for c in [&alice, &bob, &carol] {
            c.logout().await.unwrap();
        }
    }
}

#[tokio::test]
async fn pgc_5_participants_are_notified_of_new_participants() {
    let srv = server().await;
    for (v, e) in combos() {
        let w = format!("{v} {e:?}");
        let alice = login(&srv, v, e, "alice", "a").await;
        let bob = login(&srv, v, e, "bob", "b").await;
        let carol = login(&srv, v, e, "carol", "c").await;
        let g = create_private(&alice, v, &["bob", "carol"]).await;
        // Bob asks for no notices; in a private conversation he gets them.
        let inv = invitation(&bob, &g).await;
        assert_eq!(inv.child_text("InviteType"), Some("GR"));
        let no_notify = Element::new("JoinGroup-Request")
            .with_text("GroupID", &g)
            .with_text("JoinedRequest", "F")
            .with_text("SubscribeNotification", "F");
        expect_named(&bob, no_notify, "JoinGroup-Response", &w).await;
        let n = drain_named(&alice, "GroupChangeNotice").await;
        assert_eq!(snames(n[0].child("Joined").unwrap()), ["Bob"], "{w}");
        accept(&carol, &g).await;
        for c in [&alice, &bob] {
            let n = drain_named(c, "GroupChangeNotice").await;
            assert_eq!(n.len(), 1, "{w}");
            assert_eq!(snames(n[0].child("Joined").unwrap()), ["Carol"], "{w}");
        }
        for c in [&alice, &bob, &carol] {
            c.logout().await.unwrap();
        }
    }
}

#[tokio::test]
async fn pgc_6_private_rules_apply_to_an_extended_conversation() {
    let srv = server().await;
    for (v, e) in V13 {
        let w = format!("{e:?}");
        let alice = login(&srv, v, e, "alice", "a").await;
        let bob = login(&srv, v, e, "bob", "b").await;
        let dave = login(&srv, v, e, "dave", "d").await;
        let resp = expect_named(
            &alice,
            extend_req("ec", "bob", "b", &[]),
            "ExtendConversation-Response",
            &w,
        )
        .await;
        let g = resp.child_text("GroupID").unwrap().to_string();
        let rm = group_req("RemoveGroupMembers-Request", &g).with(user_list(&["bob"], true));
        expect_code(&alice, rm, 816, &format!("{w}: PGC-10")).await;
        expect_code(
            &alice,
            group_req("DeleteGroup-Request", &g),
            816,
            &format!("{w}: PGC-11"),
        )
        .await;
        expect_code(
            &bob,
            whisper(&g, "Alice", "psst"),
            812,
            &format!("{w}: PGC-13"),
        )
        .await;
        expect_code(
            &dave,
            join_req(&g, None, false),
            800,
            &format!("{w}: PGC-9"),
        )
        .await;
        let props = expect_named(
            &bob,
            group_req("GetGroupProps-Request", &g),
            "GetGroupProps-Response",
            &w,
        )
        .await;
        assert_eq!(
            prop_of(props.child("GroupProperties").unwrap(), "Searchable"),
            Some("F"),
            "{w}: PGC-15"
        );
        for c in [&alice, &bob, &dave] {
            c.logout().await.unwrap();
        }
    }
}

#[tokio::test]
async fn pgc_7_welcome_message_from_creator_and_inviter() {
    let srv = server().await;
    for (v, e) in combos() {
        let w = format!("{v} {e:?}");
        let alice = login(&srv, v, e, "alice", "a").await;
        let bob = login(&srv, v, e, "bob", "b").await;
        let carol = login(&srv, v, e, "carol", "c").await;
        let mut req = create_private_req(&["bob"], v >= Version::V1_3);
        req.child_mut("GroupProperties").unwrap().children.push(
            Element::new("WelcomeNote")
                .with_text("ContentType", "text/plain")
                .with_text("ContentData", "Welcome to our chat"),
        );
        let resp = expect_code(&alice, req, 200, &w).await;
        let g = resp
            .path(&["Result", "DetailedResult", "GroupID"])
            .unwrap()
            .text
            .clone();
        let joined = accept(&bob, &g).await;
        assert_eq!(
            joined
                .path(&["WelcomeNote", "ContentData"])
                .map(|d| d.text.as_str()),
            Some("Welcome to our chat"),
            "{w}"
        );
        // An inviter's own words travel in the invitation.
        expect_code(
            &bob,
            invite_req(
                "bob-inv",
                "GR",
                &["carol"],
                Some(&g),
                Some("Join us, Carol!"),
            ),
            200,
            &w,
        )
        .await;
        let inv = invitation(&carol, &g).await;
        assert_eq!(inv.child_text("InviteNote"), Some("Join us, Carol!"), "{w}");
        for c in [&alice, &bob, &carol] {
            c.logout().await.unwrap();
        }
    }
}

#[tokio::test]
async fn pgc_8_every_participant_may_invite() {
    let srv = server().await;
    for (v, e) in combos() {
        let w = format!("{v} {e:?}");
        let alice = login(&srv, v, e, "alice", "a").await;
        let bob = login(&srv, v, e, "bob", "b").await;
        let carol = login(&srv, v, e, "carol", "c").await;
        let dave = login(&srv, v, e, "dave", "d").await;
        let g = create_private(&alice, v, &["bob"]).await;
        accept(&bob, &g).await;
        // Bob, not the creator, invites Carol with Invite-Request...
        expect_code(
            &bob,
            invite_req("from-bob", "GR", &["carol"], Some(&g), None),
            200,
            &w,
        )
        .await;
        let inv = invitation(&carol, &g).await;
        assert_eq!(
            inv.path(&["Sender", "User", "UserID"])
                .map(|u| u.text.as_str()),
            Some(uid("bob").as_str())
        );
        accept_this(&carol, &g, &inv).await;
        // ...and Carol invites Dave by adding him as a member.
        let add = group_req("AddGroupMembers-Request", &g).with(user_list(&["dave"], false));
        expect_code(&carol, add, 200, &w).await;
        accept(&dave, &g).await;
        let members = expect_named(
            &alice,
            group_req("GetGroupMembers-Request", &g),
            "GetGroupMembers-Response",
            &w,
        )
        .await;
        let mut ids = user_ids(&members);
        ids.sort();
        assert_eq!(
            ids,
            [uid("alice"), uid("bob"), uid("carol"), uid("dave")],
            "{w}"
        );
        for c in [&alice, &bob, &carol, &dave] {
            c.logout().await.unwrap();
        }
    }
}

#[tokio::test]
async fn pgc_9_only_invited_users_may_join() {
    let srv = server().await;
    for (v, e) in combos() {
        let w = format!("{v} {e:?}");
        let alice = login(&srv, v, e, "alice", "a").await;
        let dave = login(&srv, v, e, "dave", "d").await;
        let g = create_private(&alice, v, &["bob"]).await;
        expect_code(&dave, join_req(&g, Some("Dave"), false), 800, &w).await;
        // To anyone outside, the conversation does not exist (PGC-15).
        expect_code(&dave, group_req("GetGroupProps-Request", &g), 800, &w).await;
        expect_code(&dave, group_message(&g, "hello?"), 800, &w).await;
        if v >= Version::V1_2 {
            expect_code(&dave, group_req("GetJoinedUsers-Request", &g), 800, &w).await;
        }
        expect_code(
            &dave,
            invite_req("d", "GR", &["carol"], Some(&g), None),
            800,
            &w,
        )
        .await;
        alice.logout().await.unwrap();
        dave.logout().await.unwrap();
    }
}

#[tokio::test]
async fn pgc_10_nobody_can_expel_participants() {
    let srv = server().await;
    for (v, e) in combos() {
        let w = format!("{v} {e:?}");
        let alice = login(&srv, v, e, "alice", "a").await;
        let bob = login(&srv, v, e, "bob", "b").await;
        let g = create_private(&alice, v, &["bob"]).await;
        accept(&bob, &g).await;
        let rm = group_req("RemoveGroupMembers-Request", &g).with(user_list(&["bob"], false));
        expect_code(&alice, rm, 816, &format!("{w}: not even the creator")).await;
        let rm = group_req("RemoveGroupMembers-Request", &g).with(user_list(&["alice"], true));
        expect_code(&bob, rm, 816, &w).await;
        let reject = group_req("RejectList-Request", &g)
            .with(Element::new("AddList").with_text("UserID", uid("bob")));
        expect_code(&alice, reject, 816, &w).await;
        let demote = group_req("MemberAccess-Request", &g)
            .with(Element::new("Admin").with(user_list(&["alice"], false)));
        expect_code(&alice, demote, 816, &w).await;
        drain(&bob).await;
        expect_code(&alice, group_message(&g, "you are still here"), 200, &w).await;
        assert_eq!(texts(&bob).await, ["you are still here"], "{w}");
        alice.logout().await.unwrap();
        bob.logout().await.unwrap();
    }
}

#[tokio::test]
async fn pgc_11_nobody_can_delete_the_group() {
    let srv = server().await;
    for (v, e) in combos() {
        let w = format!("{v} {e:?}");
        let alice = login(&srv, v, e, "alice", "a").await;
        let bob = login(&srv, v, e, "bob", "b").await;
        let g = create_private(&alice, v, &["bob"]).await;
        accept(&bob, &g).await;
        expect_code(
            &alice,
            group_req("DeleteGroup-Request", &g),
            816,
            &format!("{w}: the creator"),
        )
        .await;
        expect_code(&bob, group_req("DeleteGroup-Request", &g), 816, &w).await;
        let props = expect_named(
            &bob,
            group_req("GetGroupProps-Request", &g),
            "GetGroupProps-Response",
            &w,
        )
        .await;
        assert_eq!(
            prop_of(props.child("GroupProperties").unwrap(), "ActiveUsers"),
            Some("2"),
            "{w}"
        );
        alice.logout().await.unwrap();
        bob.logout().await.unwrap();
    }
}
