//! Issue 14, item 8: groups that are not for outsiders show them nothing.
//! A private conversation answers an outsider's JoinGroup exactly like a
//! group that does not exist; a restricted group that searches do not
//! show tells an outsider only that it exists and is restricted.

#![allow(clippy::unwrap_used)] // test code: a panic is a failed test
use crate::common;
use crate::groups_common;

use common::{TestServer, code_of, combos};
use groups_common::*;
use imps_client::Element;

async fn server() -> TestServer {
    let srv = TestServer::start().await;
    for (u, n) in [("alice", "Alice"), ("bob", "Bob"), ("dave", "Dave")] {
        add_user(&srv, u, Some(n)).await;
    }
    srv
}

/// The Result of an answer with the group ID blanked out of its
/// description, so that two answers about different IDs compare.
fn result_shape(resp: &Element, group: &str) -> (Option<u16>, String) {
    let desc = resp
        .path(&["Result", "Description"])
        .map(|d| d.text.replace(group, "<group>"))
        .unwrap_or_default();
    (code_of(resp), desc)
}

#[tokio::test]
async fn limits_private_conversation_answers_an_outsider_like_a_missing_group() {
    let srv = server().await;
    for (v, e) in combos() {
        let w = format!("{v} {e:?}");
        let alice = login(&srv, v, e, "alice", "a").await;
        let dave = login(&srv, v, e, "dave", "d").await;
        let g = create_private(&alice, v, &["bob"]).await;
        // An ID of the same shape that names nothing.
        let missing = g.replacen('/', "/x", 1);
        for req in [
            |g: &str| join_req(g, Some("Dave"), false),
            |g: &str| join_req(g, None, true),
            |g: &str| group_req("GetGroupProps-Request", g),
        ] {
            let real = dave.request(req(&g)).await.unwrap();
            let none = dave.request(req(&missing)).await.unwrap();
            assert_eq!(real.name, none.name, "{w}");
            assert_eq!(
                result_shape(&real, &g),
                result_shape(&none, &missing),
                "{w}: {real:?} against {none:?}"
            );
            assert_eq!(code_of(&real), Some(800), "{w}: {real:?}");
        }
        alice.logout().await.unwrap();
        dave.logout().await.unwrap();
    }
}

#[tokio::test]
async fn limits_restricted_unsearchable_group_shows_an_outsider_only_that_it_exists() {
    let srv = server().await;
    for (i, (v, e)) in combos().into_iter().enumerate() {
        let w = format!("{v} {e:?}");
        let alice = login(&srv, v, e, "alice", "a").await;
        let bob = login(&srv, v, e, "bob", "b").await;
        let dave = login(&srv, v, e, "dave", "d").await;
        let hidden = gid("alice", &format!("hidden{i}"));
        let listed = gid("alice", &format!("listed{i}"));
        for (g, searchable) in [(&hidden, "F"), (&listed, "T")] {
            expect_code(
                &alice,
                create_req(
                    g,
                    &[
                        ("AccessType", "Restricted"),
                        ("Searchable", searchable),
                        ("Name", "Board room"),
                        ("Topic", "Takeover plans"),
                    ],
                    None,
                ),
                200,
                &w,
            )
            .await;
            let add = group_req("AddGroupMembers-Request", g).with(user_list(&["bob"], false));
            expect_code(&alice, add, 200, &w).await;
        }
        let outsider = expect_named(
            &dave,
            group_req("GetGroupProps-Request", &hidden),
            "GetGroupProps-Response",
            &w,
        )
        .await;
        let props = outsider.child("GroupProperties").expect("GroupProperties");
        assert_eq!(prop_of(props, "AccessType"), Some("Restricted"), "{w}");
        assert_eq!(prop_of(props, "Name"), None, "{w}: {outsider:?}");
        assert_eq!(prop_of(props, "Topic"), None, "{w}: {outsider:?}");
        assert_eq!(prop_of(props, "ActiveUsers"), None, "{w}: {outsider:?}");
        // A member sees everything; so does an outsider of a group that
        // searches show anyway.
        for (who, g) in [(&bob, &hidden), (&dave, &listed)] {
            let full = expect_named(
                who,
                group_req("GetGroupProps-Request", g),
                "GetGroupProps-Response",
                &w,
            )
            .await;
            let props = full.child("GroupProperties").expect("GroupProperties");
            assert_eq!(prop_of(props, "Topic"), Some("Takeover plans"), "{w}");
        }
        for c in [alice, bob, dave] {
            c.logout().await.unwrap();
        }
    }
}
