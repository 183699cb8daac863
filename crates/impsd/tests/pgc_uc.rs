//! The private group conversation use cases over the real protocol, with
//! alice, bob and carol (PGC-UC): 5.7 (extend an IM conversation into a
//! private group conversation) and 5.8 (participate in one), generated
//! name, topic and invitation text, invitations from a blocked user, and
//! every participant seeing every other.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use crate::common;
use crate::groups_common;

use common::{TestServer, code_of, combos};
use groups_common::*;
use imps_client::{Element, Encoding, HttpClient, Version};

async fn server() -> TestServer {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", Some("Alice")).await;
    add_user(&srv, "bob", Some("Bob")).await;
    add_user(&srv, "carol", Some("Carol")).await;
    srv
}

/// Logged in and negotiated like a phone (the session is then ready, so
/// instant messages flow).
async fn phone(srv: &TestServer, v: Version, e: Encoding, user: &str, client: &str) -> HttpClient {
    let c = login(srv, v, e, user, client).await;
    let caps = Element::new("CapabilityList")
        .with_text("ClientType", "MOBILE_PHONE")
        .with_text("InitialDeliveryMethod", "P")
        .with_text("SupportedBearer", "HTTP");
    c.request(Element::new("ClientCapability-Request").with(caps))
        .await
        .unwrap();
    c.service_request_all().await.unwrap();
    c
}

fn im(from: &str, to: &str, text: &str) -> Element {
    Element::new("SendMessage-Request")
        .with_text("DeliveryReport", "F")
        .with(
            Element::new("MessageInfo")
                .with_text("ContentType", "text/plain")
                .with_text("ContentSize", text.len().to_string())
                .with(
                    Element::new("Recipient")
                        .with(Element::new("User").with_text("UserID", uid(to))),
                )
                .with(
                    Element::new("Sender")
                        .with(Element::new("User").with_text("UserID", uid(from))),
                ),
        )
        .with_text("ContentData", text)
}

/// Polls for a 1:1 instant message and acknowledges it as Android does.
async fn receive_im(c: &HttpClient) -> String {
    for _ in 0..100 {
        while let Some(m) = c.poll().await.unwrap() {
            let t = &m.transactions[0];
            if t.body.name == "NewMessage" {
                let id = t
                    .body
                    .path(&["MessageInfo", "MessageID"])
                    .unwrap()
                    .text
                    .clone();
                let tid = t.id.clone().unwrap();
                c.answer(
                    &tid,
                    Element::new("MessageDelivered").with_text("MessageID", id),
                )
                .await
                .unwrap();
                return t.body.child_text("ContentData").unwrap_or("").to_string();
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no instant message arrived");
}

#[tokio::test]
async fn pgc_uc_5_7_extend_im_to_a_private_group_conversation() {
    let srv = server().await;
    for e in [Encoding::Xml, Encoding::Wbxml] {
        let v = Version::V1_3;
        let w = format!("{e:?}");
        let alice = phone(&srv, v, e, "alice", "a").await;
        let bob = phone(&srv, v, e, "bob", "b").await;
        let carol = phone(&srv, v, e, "carol", "c").await;
        // 1. Alice and Bob exchange instant messages.
        expect_code(&alice, im("alice", "bob", "hi bob"), 200, &w).await;
        assert_eq!(receive_im(&bob).await, "hi bob", "{w}");
        expect_code(&bob, im("bob", "alice", "hi alice"), 200, &w).await;
        assert_eq!(receive_im(&alice).await, "hi alice", "{w}");
        // 2.-5. Alice brings Carol in: one request makes the group.
        let resp = expect_named(
            &alice,
            extend_req("ec-57", "bob", "b", &["carol"]),
            "ExtendConversation-Response",
            &w,
        )
        .await;
        assert_eq!(code_of(&resp), Some(200), "{w}");
        let g = resp.child_text("GroupID").unwrap().to_string();
        // 6./8. Bob is moved across without having to accept anything.
        let to_bob = drain(&bob).await;
        assert!(
            to_bob.iter().any(|b| b.name == "GroupChangeNotice"),
            "{w}: {to_bob:?}"
        );
        assert!(to_bob.iter().all(|b| b.name != "InviteUser-Request"), "{w}");
        // 6./9. Carol is invited and joins the conventional way.
        let inv = invitation(&carol, &g).await;
        assert!(
            inv.child_text("InviteNote")
                .is_some_and(|n| n.contains("Alice")),
            "{w}: {inv:?}"
        );
        drain(&alice).await;
        let joined = accept_this(&carol, &g, &inv).await;
        assert_eq!(
            snames(joined.path(&["Joined", "UserMapList"]).unwrap()),
            ["Alice", "Bob", "Carol"],
            "{w}"
        );
        // 10. Everyone is told that Carol joined.
        for c in [&alice, &bob] {
            let n = drain_named(c, "GroupChangeNotice").await;
            assert_eq!(snames(n[0].child("Joined").unwrap()), ["Carol"], "{w}");
        }
        // The conversation goes on, for all three; Carol saw no history.
        assert!(texts(&carol).await.is_empty(), "{w}");
        expect_code(&bob, group_message(&g, "welcome carol"), 200, &w).await;
        assert_eq!(texts(&alice).await, ["welcome carol"], "{w}");
        assert_eq!(texts(&carol).await, ["welcome carol"], "{w}");
        for c in [&alice, &bob, &carol] {
            c.logout().await.unwrap();
        }
    }
}

#[tokio::test]
async fn pgc_uc_5_8_participate_in_a_private_group_conversation() {
    let srv = server().await;
    for (v, e) in combos() {
        let w = format!("{v} {e:?}");
        let alice = login(&srv, v, e, "alice", "a").await;
        let bob = login(&srv, v, e, "bob", "b").await;
        let carol = login(&srv, v, e, "carol", "c").await;
        // 1.-4. One request creates the group with its members; the server
        // invites Bob and Carol.
        let g = create_private(&alice, v, &["bob", "carol"]).await;
        // 5.-6. Both accept and join.
        accept(&bob, &g).await;
        accept(&carol, &g).await;
        drain(&alice).await;
        drain(&bob).await;
        // The three exchange messages.
        expect_code(&alice, group_message(&g, "from alice"), 200, &w).await;
        expect_code(&bob, group_message(&g, "from bob"), 200, &w).await;
        expect_code(&carol, group_message(&g, "from carol"), 200, &w).await;
        assert_eq!(texts(&alice).await, ["from bob", "from carol"], "{w}");
        assert_eq!(texts(&bob).await, ["from alice", "from carol"], "{w}");
        assert_eq!(texts(&carol).await, ["from alice", "from bob"], "{w}");
        // 7. Alice leaves: she cannot come back; the group stays open.
        expect_named(&alice, leave_req(&g), "LeaveGroup-Response", &w).await;
        expect_code(&alice, join_req(&g, None, false), 800, &w).await;
        expect_code(&bob, group_message(&g, "still open"), 200, &w).await;
        assert_eq!(texts(&carol).await, ["still open"], "{w}");
        // 8.-10. Bob leaves, Carol leaves: the server deletes the group.
        expect_named(&bob, leave_req(&g), "LeaveGroup-Response", &w).await;
        expect_code(&bob, join_req(&g, None, false), 800, &w).await;
        expect_named(&carol, leave_req(&g), "LeaveGroup-Response", &w).await;
        assert!(store(&srv).group(&g).await.unwrap().is_none(), "{w}");
        expect_code(&carol, join_req(&g, None, false), 800, &w).await;
        for c in [&alice, &bob, &carol] {
            c.logout().await.unwrap();
        }
    }
}

#[tokio::test]
async fn pgc_uc_name_topic_and_invitation_text_are_generated() {
    let srv = server().await;
    for (v, e) in combos() {
        let w = format!("{v} {e:?}");
        let alice = login(&srv, v, e, "alice", "a").await;
        let bob = login(&srv, v, e, "bob", "b").await;
        let g = create_private(&alice, v, &["bob"]).await;
        let props = expect_named(
            &alice,
            group_req("GetGroupProps-Request", &g),
            "GetGroupProps-Response",
            &w,
        )
        .await;
        let gp = props.child("GroupProperties").unwrap();
        assert_eq!(prop_of(gp, "Name"), Some("Conversation with Alice"), "{w}");
        assert_eq!(prop_of(gp, "Topic"), Some("Private conversation"), "{w}");
        assert_eq!(prop_of(gp, "AccessType"), Some("Open"), "{w}");
        assert_eq!(prop_of(gp, "Searchable"), Some("F"), "{w}");
        let inv = invitation(&bob, &g).await;
        assert_eq!(
            inv.child_text("InviteNote"),
            Some("Alice invites you to a conversation"),
            "{w}"
        );
        alice.logout().await.unwrap();
        bob.logout().await.unwrap();
    }
}

#[tokio::test]
async fn pgc_uc_invitations_from_a_blocked_user_are_not_delivered() {
    let srv = server().await;
    block(&srv, "bob", &["alice"]).await;
    for (v, e) in combos() {
        let w = format!("{v} {e:?}");
        let alice = login(&srv, v, e, "alice", "a").await;
        let bob = login(&srv, v, e, "bob", "b").await;
        let carol = login(&srv, v, e, "carol", "c").await;
        // Answered as if delivered: Alice cannot tell she is blocked.
        let g = create_private(&alice, v, &["bob", "carol"]).await;
        expect_code(
            &alice,
            invite_req("again", "GR", &["bob"], Some(&g), None),
            200,
            &w,
        )
        .await;
        expect_code(
            &alice,
            invite_req("im", "IM", &["bob"], None, None),
            200,
            &w,
        )
        .await;
        assert!(
            drain_named(&bob, "InviteUser-Request").await.is_empty(),
            "{w}"
        );
        expect_code(
            &bob,
            join_req(&g, None, false),
            800,
            &format!("{w}: not invited after all"),
        )
        .await;
        // Carol, who blocks nobody, got hers.
        accept(&carol, &g).await;
        for c in [&alice, &bob, &carol] {
            c.logout().await.unwrap();
        }
    }
}

#[tokio::test]
async fn pgc_uc_any_participant_lists_all_members() {
    let srv = server().await;
    for (v, e) in combos() {
        let w = format!("{v} {e:?}");
        let alice = login(&srv, v, e, "alice", "a").await;
        let bob = login(&srv, v, e, "bob", "b").await;
        let carol = login(&srv, v, e, "carol", "c").await;
        let g = create_private(&alice, v, &["bob", "carol"]).await;
        accept(&bob, &g).await;
        accept(&carol, &g).await;
        let all = [uid("alice"), uid("bob"), uid("carol")];
        let members = expect_named(
            &carol,
            group_req("GetGroupMembers-Request", &g),
            "GetGroupMembers-Response",
            &w,
        )
        .await;
        assert_eq!(user_ids(&members), all, "{w}");
        assert!(
            user_ids(members.child("Admin").unwrap()).is_empty(),
            "{w}: the creator's rights do not show"
        );
        if v >= Version::V1_2 {
            let joined = expect_named(
                &carol,
                group_req("GetJoinedUsers-Request", &g),
                "GetJoinedUsers-Response",
                &w,
            )
            .await;
            assert_eq!(snames(&joined), ["Alice", "Bob", "Carol"], "{w}");
            assert_eq!(user_ids(&joined), all, "{w}: participants know each other");
        }
        for c in [&alice, &bob, &carol] {
            c.logout().await.unwrap();
        }
    }
}

#[tokio::test]
async fn base_inv_invitation_waits_for_an_offline_invitee() {
    let srv = server().await;
    let (v, e) = (Version::V1_2, Encoding::Xml);
    let alice = login(&srv, v, e, "alice", "a").await;
    let g = create_private(&alice, v, &["bob"]).await;
    let bob = phone(&srv, v, e, "bob", "b").await;
    let inv = invitation(&bob, &g).await;
    assert_eq!(inv.child_text("InviteType"), Some("GR"));
}
