//! Private group conversations over the real protocol: PGC-12..21
//! (administrator expulsion, no whispers, blocked users, never
//! searchable, dropping out and rejoining with a fake clock, leaving,
//! deletion, screen names).
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use crate::common;
use crate::groups_common;

use common::{TestServer, code_of, combos};
use groups_common::*;
use imps_client::{Element, Encoding, Version};
use imps_core::FakeClock;

async fn add_people(srv: &TestServer) {
    add_user(srv, "alice", Some("Alice")).await;
    add_user(srv, "bob", Some("Bob")).await;
    add_user(srv, "carol", Some("Carol")).await;
    add_user(srv, "dave", None).await;
}

async fn server() -> TestServer {
    let srv = TestServer::start().await;
    add_people(&srv).await;
    srv
}

async fn clocked() -> (TestServer, FakeClock) {
    let clock = FakeClock::new(1_700_000_000_000);
    let srv = TestServer::builder()
        .fake_clock(clock.clone())
        .start()
        .await;
    add_people(&srv).await;
    (srv, clock)
}

/// The rejoin window of PGC-16/18 (the server's default setting).
const REJOIN_MS: u64 = 300_000;

#[tokio::test]
async fn pgc_12_the_server_administrator_can_expel() {
    let srv = server().await;
    for (v, e) in combos() {
        let w = format!("{v} {e:?}");
        let alice = login(&srv, v, e, "alice", "a").await;
        let bob = login(&srv, v, e, "bob", "b").await;
        let g = create_private(&alice, v, &["bob"]).await;
        accept(&bob, &g).await;
        drain(&alice).await;
        let was_joined = srv.running().service.admin_expel(&g, "bob").await.unwrap();
        assert!(was_joined, "{w}");
        let out = drain_named(&bob, "LeaveGroup-Response").await;
        assert_eq!(out.len(), 1, "{w}: Bob is told");
        assert_eq!(code_of(&out[0]), Some(809));
        let n = drain_named(&alice, "GroupChangeNotice").await;
        assert_eq!(snames(n[0].child("Left").unwrap()), ["Bob"], "{w}");
        // A participant's new invitation does not bring him back.
        expect_code(
            &alice,
            invite_req("again", "GR", &["bob"], Some(&g), None),
            200,
            &w,
        )
        .await;
        expect_code(&bob, join_req(&g, None, false), 809, &w).await;
        alice.logout().await.unwrap();
        bob.logout().await.unwrap();
    }
    let err = srv
        .running()
        .service
        .admin_expel(&gid("alice", "nothing"), "bob")
        .await
        .unwrap_err();
    assert_eq!(err.status_code(), 800);
}

#[tokio::test]
async fn pgc_13_no_private_messages_inside() {
    let srv = server().await;
    for (v, e) in combos() {
        let w = format!("{v} {e:?}");
        let alice = login(&srv, v, e, "alice", "a").await;
        let bob = login(&srv, v, e, "bob", "b").await;
        let g = create_private(&alice, v, &["bob"]).await;
        accept(&bob, &g).await;
        expect_code(&alice, whisper(&g, "Bob", "just you"), 812, &w).await;
        // Even a group property cannot turn them on.
        let on = group_req("SetGroupProps-Request", &g)
            .with(Element::new("GroupProperties").with(prop("PrivateMessaging", "T")));
        expect_code(&alice, on, 816, &w).await;
        expect_code(&alice, whisper(&g, "Bob", "just you"), 812, &w).await;
        assert!(texts(&bob).await.is_empty(), "{w}");
        alice.logout().await.unwrap();
        bob.logout().await.unwrap();
    }
}

#[tokio::test]
async fn pgc_14_told_when_a_blocked_user_is_in_or_joins() {
    let srv = server().await;
    block(&srv, "carol", &["dave", "bob"]).await;
    for (v, e) in combos_from(Version::V1_2) {
        let w = format!("{v} {e:?}");
        let alice = login(&srv, v, e, "alice", "a").await;
        let bob = login(&srv, v, e, "bob", "b").await;
        let carol = login(&srv, v, e, "carol", "c").await;
        let dave = login(&srv, v, e, "dave", "d").await;
        let g = create_private(&alice, v, &["dave"]).await;
        accept(&dave, &g).await;
        // Invited: Carol learns that Dave, whom she blocks, is in there.
        expect_code(
            &alice,
            invite_req("c", "GR", &["carol"], Some(&g), None),
            200,
            &w,
        )
        .await;
        let inv = invitation(&carol, &g).await;
        assert_eq!(
            user_ids(inv.child("JoinedBlocked").expect("JoinedBlocked")),
            [uid("dave")],
            "{w}"
        );
        let joined = expect_named(&carol, join_req(&g, None, true), "JoinGroup-Response", &w).await;
        assert_eq!(
            user_ids(joined.child("JoinedBlocked").unwrap()),
            [uid("dave")],
            "{w}"
        );
        // Bob, whom she also blocks, joins: Carol is told, Alice is not.
        drain(&alice).await;
        expect_code(
            &alice,
            invite_req("b", "GR", &["bob"], Some(&g), None),
            200,
            &w,
        )
        .await;
        accept(&bob, &g).await;
        let to_carol = drain_named(&carol, "GroupChangeNotice").await;
        assert_eq!(
            user_ids(to_carol[0].child("JoinedBlocked").expect("JoinedBlocked")),
            [uid("bob")],
            "{w}"
        );
        let to_alice = drain_named(&alice, "GroupChangeNotice").await;
        assert!(to_alice[0].child("JoinedBlocked").is_none(), "{w}");
        if v == Version::V1_3 {
            let list = expect_named(
                &carol,
                group_req("GetJoinedUsers-Request", &g),
                "GetJoinedUsers-Response",
                &w,
            )
            .await;
            let mut blocked = user_ids(list.child("JoinedBlocked").unwrap());
            blocked.sort();
            assert_eq!(blocked, [uid("bob"), uid("dave")], "{w}");
        }
        for c in [&alice, &bob, &carol, &dave] {
            c.logout().await.unwrap();
        }
    }
}

#[tokio::test]
async fn pgc_15_private_groups_are_never_searchable() {
    let srv = server().await;
    for (v, e) in combos() {
        let w = format!("{v} {e:?}");
        let alice = login(&srv, v, e, "alice", "a").await;
        let dave = login(&srv, v, e, "dave", "d").await;
        let req = Element::new("CreateGroup-Request")
            .with(
                Element::new("GroupProperties")
                    .with(prop("Type", "Private"))
                    .with(prop("Searchable", "T"))
                    .with(prop("Accesstype", "Restricted")),
            )
            .with_text("JoinGroup", "T");
        let resp = expect_code(&alice, req, 200, &w).await;
        let g = resp
            .path(&["Result", "DetailedResult", "GroupID"])
            .unwrap()
            .text
            .clone();
        let props = expect_named(
            &alice,
            group_req("GetGroupProps-Request", &g),
            "GetGroupProps-Response",
            &w,
        )
        .await;
        let gp = props.child("GroupProperties").unwrap();
        assert_eq!(prop_of(gp, "Searchable"), Some("F"), "{w}");
        assert_eq!(
            prop_of(gp, "AccessType"),
            Some("Open"),
            "{w}: open to the invited"
        );
        let on = group_req("SetGroupProps-Request", &g)
            .with(Element::new("GroupProperties").with(prop("Searchable", "T")));
        expect_code(&alice, on, 816, &w).await;
        expect_code(&dave, group_req("GetGroupProps-Request", &g), 800, &w).await;
        alice.logout().await.unwrap();
        dave.logout().await.unwrap();
    }
}

#[tokio::test]
async fn pgc_16_a_dropped_user_may_rejoin_within_the_timeout() {
    let (srv, clock) = clocked().await;
    let (v, e) = (Version::V1_2, Encoding::Wbxml);
    let alice = login(&srv, v, e, "alice", "a").await;
    let carol = login(&srv, v, e, "carol", "c").await;
    let bob = srv.client(v, e, "b");
    let ttl = bob.login_password("bob", PW).await.unwrap().keepalive_secs;
    let g = create_private(&alice, v, &["bob", "carol"]).await;
    accept(&bob, &g).await;
    drain(&alice).await;
    // Bob's phone loses the network: his session expires, Alice's lives.
    clock.advance_ms((ttl - 10) * 1000);
    alice.keep_alive(None).await.unwrap();
    carol.keep_alive(None).await.unwrap();
    clock.advance_ms(20_000);
    assert_eq!(srv.running().service.expire_idle().await, 1);
    let n = drain_named(&alice, "GroupChangeNotice").await;
    assert_eq!(snames(n[0].child("Left").unwrap()), ["Bob"]);
    // Back within the window: in again without a new invitation.
    clock.advance_ms(REJOIN_MS - 60_000);
    alice.keep_alive(None).await.unwrap();
    carol.keep_alive(None).await.unwrap();
    let bob = login(&srv, v, e, "bob", "b").await;
    expect_named(
        &bob,
        join_req(&g, None, false),
        "JoinGroup-Response",
        "rejoin",
    )
    .await;
    expect_code(&alice, group_message(&g, "welcome back"), 200, "send").await;
    assert_eq!(texts(&bob).await, ["welcome back"]);
    // Logging out without LeaveGroup counts as dropping out too.
    accept(&carol, &g).await;
    carol.logout().await.unwrap();
    let carol = login(&srv, v, e, "carol", "c").await;
    expect_named(
        &carol,
        join_req(&g, None, false),
        "JoinGroup-Response",
        "rejoin after logout",
    )
    .await;
}

#[tokio::test]
async fn pgc_17_a_user_who_left_needs_a_new_invitation() {
    let srv = server().await;
    for (v, e) in combos() {
        let w = format!("{v} {e:?}");
        let alice = login(&srv, v, e, "alice", "a").await;
        let bob = login(&srv, v, e, "bob", "b").await;
        let g = create_private(&alice, v, &["bob"]).await;
        accept(&bob, &g).await;
        expect_named(&bob, leave_req(&g), "LeaveGroup-Response", &w).await;
        expect_code(
            &bob,
            join_req(&g, None, false),
            800,
            &format!("{w}: left on purpose"),
        )
        .await;
        expect_code(
            &alice,
            invite_req("back", "GR", &["bob"], Some(&g), None),
            200,
            &w,
        )
        .await;
        accept(&bob, &g).await;
        alice.logout().await.unwrap();
        bob.logout().await.unwrap();
    }
}

#[tokio::test]
async fn pgc_18_after_the_timeout_a_new_invitation_is_needed() {
    let (srv, clock) = clocked().await;
    for (v, e) in [
        (Version::V1_3, Encoding::Xml),
        (Version::V1_2, Encoding::Xml),
    ] {
        let alice = login(&srv, v, e, "alice", "a").await;
        let bob = login(&srv, v, e, "bob", "b").await;
        let g = create_private(&alice, v, &["bob"]).await;
        accept(&bob, &g).await;
        bob.logout().await.unwrap();
        clock.advance_ms(REJOIN_MS + 1_000);
        alice.keep_alive(None).await.unwrap();
        let bob = login(&srv, v, e, "bob", "b").await;
        expect_code(
            &bob,
            join_req(&g, None, false),
            800,
            &format!("{v}: the window has closed"),
        )
        .await;
        expect_code(
            &alice,
            invite_req("again", "GR", &["bob"], Some(&g), None),
            200,
            "re-invite",
        )
        .await;
        accept(&bob, &g).await;
        alice.logout().await.unwrap();
        bob.logout().await.unwrap();
        clock.advance_ms(REJOIN_MS + 1_000);
    }
}

#[tokio::test]
async fn pgc_19_the_group_goes_when_the_last_participant_leaves() {
    let srv = server().await;
    for (v, e) in combos() {
        let w = format!("{v} {e:?}");
        let alice = login(&srv, v, e, "alice", "a").await;
        let bob = login(&srv, v, e, "bob", "b").await;
        let g = create_private(&alice, v, &["bob"]).await;
        accept(&bob, &g).await;
        expect_named(&alice, leave_req(&g), "LeaveGroup-Response", &w).await;
        assert!(
            store(&srv).group(&g).await.unwrap().is_some(),
            "{w}: Bob is still in"
        );
        expect_named(&bob, leave_req(&g), "LeaveGroup-Response", &w).await;
        assert!(
            store(&srv).group(&g).await.unwrap().is_none(),
            "{w}: deleted with its last participant"
        );
        expect_code(
            &alice,
            invite_req("x", "GR", &["bob"], Some(&g), None),
            800,
            &w,
        )
        .await;
        // One who only dropped out keeps it alive for the rejoin window.
        let g2 = create_private(&alice, v, &["bob"]).await;
        accept(&bob, &g2).await;
        expect_named(&alice, leave_req(&g2), "LeaveGroup-Response", &w).await;
        bob.logout().await.unwrap();
        assert!(
            store(&srv).group(&g2).await.unwrap().is_some(),
            "{w}: Bob may come back"
        );
        let bob = login(&srv, v, e, "bob", "b").await;
        expect_named(&bob, join_req(&g2, None, false), "JoinGroup-Response", &w).await;
        expect_named(&bob, leave_req(&g2), "LeaveGroup-Response", &w).await;
        assert!(store(&srv).group(&g2).await.unwrap().is_none(), "{w}");
        alice.logout().await.unwrap();
        bob.logout().await.unwrap();
    }
}

#[tokio::test]
async fn pgc_19_a_group_whose_participants_all_dropped_out_goes_when_the_windows_close() {
    let (srv, clock) = clocked().await;
    let (v, e) = (Version::V1_3, Encoding::Wbxml);
    let alice = srv.client(v, e, "a");
    let ttl = alice
        .login_password("alice", PW)
        .await
        .unwrap()
        .keepalive_secs;
    let bob = login(&srv, v, e, "bob", "b").await;
    let carol = login(&srv, v, e, "carol", "c").await;
    let g = create_private(&alice, v, &["bob", "carol"]).await;
    accept(&bob, &g).await;
    // Carol was invited but never joins: her invitation alone does not
    // keep the conversation.
    invitation(&carol, &g).await;
    // A second conversation in which Bob stays: it must survive.
    let kept = create_private(&alice, v, &["bob"]).await;
    accept(&bob, &kept).await;
    // Everyone loses the network; only Bob comes back, to `kept`, and
    // keeps his session alive from then on.
    clock.advance_ms((ttl + 5) * 1000);
    assert_eq!(srv.running().service.expire_idle().await, 3);
    assert!(
        store(&srv).group(&g).await.unwrap().is_some(),
        "the rejoin windows are open"
    );
    let bob = login(&srv, v, e, "bob", "b2").await;
    expect_named(
        &bob,
        join_req(&kept, None, false),
        "JoinGroup-Response",
        "rejoin",
    )
    .await;
    // Just before the windows close nothing goes.
    clock.advance_ms(REJOIN_MS - 10_000);
    bob.keep_alive(None).await.unwrap();
    assert_eq!(srv.running().service.expire_idle().await, 0);
    assert!(store(&srv).group(&g).await.unwrap().is_some());
    let passes = store(&srv).passes(&g).await.unwrap();
    assert!(
        passes.iter().any(|p| p.user == "alice"),
        "Alice may still rejoin: {passes:?}"
    );
    // Then the last window closes: the conversation is deleted.
    clock.advance_ms(20_000);
    bob.keep_alive(None).await.unwrap();
    assert_eq!(srv.running().service.expire_idle().await, 0);
    assert!(
        store(&srv).group(&g).await.unwrap().is_none(),
        "deleted once nobody may come back"
    );
    assert!(store(&srv).passes(&g).await.unwrap().is_empty());
    let k = store(&srv).group(&kept).await.unwrap();
    assert!(k.is_some(), "Bob is still in the other one");
    assert!(
        store(&srv).pass(&kept, "alice").await.unwrap().is_none(),
        "Alice's closed window is dropped"
    );
    // Alice comes back too late: the group is gone for her.
    let alice = login(&srv, v, e, "alice", "a2").await;
    expect_code(&alice, join_req(&g, None, false), 800, "gone").await;
    expect_code(&alice, join_req(&kept, None, false), 800, "window closed").await;
    alice.logout().await.unwrap();
    bob.logout().await.unwrap();
}

#[tokio::test]
async fn pgc_20_screen_names_are_made_unique() {
    let srv = server().await;
    add_user(&srv, "sam1", Some("Sam")).await;
    add_user(&srv, "sam2", Some("Sam")).await;
    add_user(&srv, "sam3", Some("sam")).await;
    for (v, e) in combos() {
        let w = format!("{v} {e:?}");
        let alice = login(&srv, v, e, "alice", "a").await;
        let g = create_private(&alice, v, &["sam1", "sam2", "sam3"]).await;
        let mut names = Vec::new();
        let mut sams = Vec::new();
        for (u, c) in [("sam1", "s1"), ("sam2", "s2"), ("sam3", "s3")] {
            let s = login(&srv, v, e, u, c).await;
            // The client sets the friendly name; the server decides.
            let resp = expect_named(
                &s,
                join_req(&g, Some("Sam"), false),
                "JoinGroup-Response",
                &w,
            )
            .await;
            names.push(
                resp.child("ScreenName")
                    .map(snames)
                    .unwrap_or_else(|| vec!["Sam".into()]),
            );
            sams.push(s);
        }
        for s in sams {
            s.logout().await.unwrap();
        }
        assert_eq!(
            names,
            [
                vec!["Sam".to_string()],
                vec!["Sam2".into()],
                vec!["sam3".into()]
            ],
            "{w}"
        );
        alice.logout().await.unwrap();
    }
}

#[tokio::test]
async fn pgc_21_the_client_is_told_its_screen_name() {
    let srv = server().await;
    add_user(&srv, "bobby", Some("Bob")).await;
    for (v, e) in combos() {
        let w = format!("{v} {e:?}");
        let alice = login(&srv, v, e, "alice", "a").await;
        let bob = login(&srv, v, e, "bob", "b").await;
        let bobby = login(&srv, v, e, "bobby", "bb").await;
        let g = create_private(&alice, v, &["bob", "bobby"]).await;
        accept(&bob, &g).await;
        invitation(&bobby, &g).await;
        let resp = expect_named(
            &bobby,
            join_req(&g, Some("Bob"), true),
            "JoinGroup-Response",
            &w,
        )
        .await;
        assert_eq!(
            snames(resp.child("ScreenName").expect("the changed screen name")),
            ["Bob2"],
            "{w}"
        );
        let n = drain_named(&alice, "GroupChangeNotice").await;
        assert_eq!(
            snames(n.last().unwrap().child("Joined").unwrap()),
            ["Bob2"],
            "{w}"
        );
        for c in [&alice, &bob, &bobby] {
            c.logout().await.unwrap();
        }
    }
}
