//! Invitations over the real protocol (BASE-INV): Invite-Request, the
//! InviteUser-Request pushed to the invitee, its InviteUser-Response
//! relayed to the inviter as Invite-Response, CancelInvite, and shared
//! content as an invitation carrying a URL.

use crate::common;
use crate::groups_common;

use common::{TestServer, combos};
use groups_common::*;
use imps_client::Element;

async fn server() -> TestServer {
    let srv = TestServer::start().await;
    users(&srv, &["alice", "bob", "carol"]).await;
    srv
}

#[tokio::test]
async fn base_inv_group_invitation_accepted() {
    let srv = server().await;
    for (i, (v, e)) in combos().into_iter().enumerate() {
        let w = format!("{v} {e:?}");
        let g = gid("alice", &format!("party{i}"));
        let id = format!("invite{i}");
        let alice = login(&srv, v, e, "alice", "a").await;
        let bob = login(&srv, v, e, "bob", "b").await;
        expect_code(&alice, create_req(&g, &[], Some("Alice")), 200, &w).await;
        let mut inv = invite_req(&id, "GR", &["bob"], Some(&g), Some("Come along"));
        inv = inv.with(screen_name("Alice", &g));
        expect_code(&alice, inv, 200, &w).await;
        // Bob's client gets the InviteUser-Request and acknowledges it.
        let m = bob.poll().await.unwrap().expect("an InviteUser-Request");
        let tx = &m.transactions[0];
        let req = &tx.body;
        assert_eq!(req.name, "InviteUser-Request", "{w}");
        assert_eq!(req.child_text("InviteID"), Some(id.as_str()));
        assert_eq!(req.child_text("InviteType"), Some("GR"));
        assert_eq!(req.child_text("GroupID"), Some(g.as_str()));
        assert_eq!(req.child_text("InviteNote"), Some("Come along"));
        assert_eq!(
            req.path(&["Sender", "User", "UserID"])
                .map(|u| u.text.as_str()),
            Some(uid("alice").as_str())
        );
        assert_eq!(snames(req.child("ScreenName").unwrap()), ["Alice"], "{w}");
        bob.answer_status(tx.id.as_deref().unwrap()).await.unwrap();
        // As Android does: join first, then accept.
        expect_named(
            &bob,
            join_req(&g, Some("Bob"), false),
            "JoinGroup-Response",
            &w,
        )
        .await;
        expect_code(
            &bob,
            invite_answer(&id, true, "alice", Some("On my way")),
            200,
            &w,
        )
        .await;
        let answers = drain_named(&alice, "Invite-Response").await;
        assert_eq!(answers.len(), 1, "{w}");
        let a = &answers[0];
        assert_eq!(a.child_text("InviteID"), Some(id.as_str()));
        assert_eq!(a.child_text("Acceptance"), Some("T"));
        assert_eq!(a.child_text("ResponseNote"), Some("On my way"));
        assert_eq!(
            a.path(&["Sender", "User", "UserID"])
                .map(|u| u.text.as_str()),
            Some(uid("bob").as_str())
        );
        // Answered once: the invitation is gone.
        expect_code(&bob, invite_answer(&id, true, "alice", None), 423, &w).await;
        alice.logout().await.unwrap();
        bob.logout().await.unwrap();
    }
}

#[tokio::test]
async fn base_inv_invitation_declined() {
    let srv = server().await;
    for (i, (v, e)) in combos().into_iter().enumerate() {
        let w = format!("{v} {e:?}");
        let id = format!("im{i}");
        let alice = login(&srv, v, e, "alice", "a").await;
        let bob = login(&srv, v, e, "bob", "b").await;
        expect_code(
            &alice,
            invite_req(&id, "IM", &["bob"], None, Some("chat?")),
            200,
            &w,
        )
        .await;
        let got = drain_named(&bob, "InviteUser-Request").await;
        assert_eq!(got.len(), 1, "{w}");
        assert_eq!(got[0].child_text("InviteType"), Some("IM"));
        expect_code(
            &bob,
            invite_answer(&id, false, "alice", Some("busy")),
            200,
            &w,
        )
        .await;
        let answers = drain_named(&alice, "Invite-Response").await;
        assert_eq!(answers[0].child_text("Acceptance"), Some("F"), "{w}");
        assert_eq!(answers[0].child_text("ResponseNote"), Some("busy"));
        expect_code(
            &bob,
            invite_answer("never-sent", true, "alice", None),
            423,
            &w,
        )
        .await;
        alice.logout().await.unwrap();
        bob.logout().await.unwrap();
    }
}

#[tokio::test]
async fn base_inv_cancel_invite() {
    let srv = server().await;
    for (i, (v, e)) in combos().into_iter().enumerate() {
        let w = format!("{v} {e:?}");
        let id = format!("pr{i}");
        let alice = login(&srv, v, e, "alice", "a").await;
        let bob = login(&srv, v, e, "bob", "b").await;
        let carol = login(&srv, v, e, "carol", "c").await;
        let mut inv = invite_req(&id, "PR", &["bob", "carol"], None, None);
        inv = inv.with(Element::new("PresenceSubList").with(Element::new("OnlineStatus")));
        expect_code(&alice, inv, 200, &w).await;
        let got = drain_named(&bob, "InviteUser-Request").await;
        assert!(
            got[0].child("PresenceSubList").is_some(),
            "{w}: the attributes travel with it"
        );
        drain(&carol).await;
        let cancel = Element::new("CancelInvite-Request")
            .with_text("InviteID", &id)
            .with(
                Element::new("Recipient")
                    .with(Element::new("User").with_text("UserID", uid("bob"))),
            )
            .with_text("InviteNote", "sorry");
        expect_code(
            &bob,
            cancel.clone(),
            423,
            &format!("{w}: only the inviter cancels"),
        )
        .await;
        expect_code(&alice, cancel.clone(), 200, &w).await;
        let cancelled = drain_named(&bob, "CancelInviteUser-Request").await;
        assert_eq!(cancelled.len(), 1, "{w}");
        assert_eq!(cancelled[0].child_text("InviteID"), Some(id.as_str()));
        assert_eq!(
            cancelled[0]
                .path(&["Sender", "User", "UserID"])
                .map(|u| u.text.as_str()),
            Some(uid("alice").as_str())
        );
        assert!(
            drain_named(&carol, "CancelInviteUser-Request")
                .await
                .is_empty(),
            "{w}: carol's stands"
        );
        expect_code(&bob, invite_answer(&id, true, "alice", None), 423, &w).await;
        expect_code(&carol, invite_answer(&id, true, "alice", None), 200, &w).await;
        expect_code(&alice, cancel, 423, &format!("{w}: nothing left to cancel")).await;
        for c in [&alice, &bob, &carol] {
            c.logout().await.unwrap();
        }
    }
}

#[tokio::test]
async fn base_inv_shared_content_is_an_invitation_with_a_url() {
    let srv = server().await;
    for (i, (v, e)) in combos().into_iter().enumerate() {
        let w = format!("{v} {e:?}");
        let id = format!("sc{i}");
        let alice = login(&srv, v, e, "alice", "a").await;
        let bob = login(&srv, v, e, "bob", "b").await;
        let inv = invite_req(&id, "SC", &["bob"], None, Some("my photos")).with(
            Element::new("URLList")
                .with_text("URL", "http://photos.example/alice/1")
                .with_text("URL", "http://photos.example/alice/2"),
        );
        expect_code(&alice, inv, 200, &w).await;
        let got = drain_named(&bob, "InviteUser-Request").await;
        assert_eq!(got.len(), 1, "{w}");
        assert_eq!(got[0].child_text("InviteType"), Some("SC"));
        let urls: Vec<&str> = got[0]
            .child("URLList")
            .unwrap()
            .children_named("URL")
            .map(|u| u.text.as_str())
            .collect();
        assert_eq!(
            urls,
            [
                "http://photos.example/alice/1",
                "http://photos.example/alice/2"
            ],
            "{w}"
        );
        expect_code(&bob, invite_answer(&id, true, "alice", None), 200, &w).await;
        assert_eq!(drain_named(&alice, "Invite-Response").await.len(), 1, "{w}");
        alice.logout().await.unwrap();
        bob.logout().await.unwrap();
    }
}

#[tokio::test]
async fn base_inv_refusals() {
    let srv = server().await;
    for (i, (v, e)) in combos().into_iter().enumerate() {
        let w = format!("{v} {e:?}");
        let alice = login(&srv, v, e, "alice", "a").await;
        let bob = login(&srv, v, e, "bob", "b").await;
        let id = format!("x{i}");
        expect_code(
            &alice,
            invite_req(&id, "ZZ", &["bob"], None, None),
            402,
            &format!("{w}: InviteType"),
        )
        .await;
        expect_code(
            &alice,
            invite_req(&id, "GR", &["bob"], None, None),
            402,
            &format!("{w}: GR needs a GroupID"),
        )
        .await;
        expect_code(
            &alice,
            invite_req(&id, "IM", &["ghost"], None, None),
            531,
            &w,
        )
        .await;
        let r = expect_code(
            &alice,
            invite_req(&id, "IM", &["bob", "ghost"], None, None),
            201,
            &w,
        )
        .await;
        assert_eq!(user_ids(&r), [uid("ghost")], "{w}");
        let g = gid("alice", &format!("g{i}"));
        expect_code(&alice, create_req(&g, &[], None), 200, &w).await;
        expect_code(
            &bob,
            invite_req(&id, "GR", &["alice"], Some(&g), None),
            808,
            &format!("{w}: an outsider"),
        )
        .await;
        expect_code(
            &alice,
            invite_req(&id, "GR", &["bob"], Some(&gid("alice", "none")), None),
            800,
            &w,
        )
        .await;
        alice.logout().await.unwrap();
        bob.logout().await.unwrap();
    }
}

#[tokio::test]
async fn base_inv_invitations_from_a_blocked_user_are_not_delivered() {
    let srv = server().await;
    block(&srv, "bob", &["alice"]).await;
    for (i, (v, e)) in combos().into_iter().enumerate() {
        let w = format!("{v} {e:?}");
        let alice = login(&srv, v, e, "alice", "a").await;
        let carol = login(&srv, v, e, "carol", "c").await;
        // Bob is offline: nothing may be kept for him either.
        let pr = format!("pr{i}");
        let sc = format!("sc{i}");
        let presence = invite_req(&pr, "PR", &["bob", "carol"], None, Some("watch me"));
        expect_code(&alice, presence, 200, &format!("{w}: answered as if sent")).await;
        let shared = invite_req(&sc, "SC", &["bob"], None, Some("photos"))
            .with(Element::new("URLList").with_text("URL", "http://example.com/album/1"));
        expect_code(&alice, shared, 200, &w).await;
        let to_carol = drain_named(&carol, "InviteUser-Request").await;
        assert_eq!(to_carol.len(), 1, "{w}: Carol blocks nobody");
        assert_eq!(to_carol[0].child_text("InviteID"), Some(pr.as_str()));
        let bob = login(&srv, v, e, "bob", "b").await;
        bob.service_request_all().await.unwrap();
        assert!(
            drain_named(&bob, "InviteUser-Request").await.is_empty(),
            "{w}: nothing waited for Bob"
        );
        // There is no invitation for him to answer.
        expect_code(&bob, invite_answer(&sc, true, "alice", None), 423, &w).await;
        // Online now, he still gets nothing from her, but Carol's reaches him.
        let again = invite_req(&format!("again{i}"), "IM", &["bob"], None, None);
        expect_code(&alice, again, 200, &w).await;
        let from_carol = invite_req(&format!("carol{i}"), "IM", &["bob"], None, None);
        expect_code(&carol, from_carol, 200, &w).await;
        let got = drain_named(&bob, "InviteUser-Request").await;
        assert_eq!(got.len(), 1, "{w}: {got:?}");
        assert_eq!(
            got[0]
                .path(&["Sender", "User", "UserID"])
                .map(|u| u.text.as_str()),
            Some(uid("carol").as_str()),
            "{w}"
        );
        for c in [&alice, &bob, &carol] {
            c.logout().await.unwrap();
        }
    }
}
