//! Federation over SSP (issue 17): a user of b.test manages a group
//! hosted on a.test through his own server. The host's rules decide:
//! before alice makes him an Admin he may change nothing (816 passed on);
//! after, he sets the topic, adds and removes members (of either domain),
//! edits the reject list (the rejected user's join refused with 809) and
//! deletes the group. Two real `impsd` processes (see `fed`).
#![allow(clippy::unwrap_used)]

use crate::common;
use crate::fed::pair;
use crate::groups_common::{create_req, group_req, join_req, prop_of, user_ids};
use crate::im_common::details;

use common::{Inbox, TestUser, code_of};
use imps_client::Element;

const GROUP: &str = "wv:alice/club@a.test";
const BOB: &str = "wv:bob@b.test";
const CAROL: &str = "wv:carol@a.test";
const DAVE: &str = "wv:dave@a.test";

async fn request<T: Inbox>(u: &TestUser<T>, e: Element) -> Element {
    u.request(e).await.unwrap()
}

/// `NAME{GroupID, child}`: a request on the group with its list.
fn on_group(name: &str, child: Element) -> Element {
    Element::new(name).with_text("GroupID", GROUP).with(child)
}

fn ids(list: &[&str]) -> Element {
    let mut l = Element::new("UserIDList");
    for u in list {
        l = l.with_text("UserID", *u);
    }
    l
}

fn topic(t: &str) -> Element {
    on_group(
        "SetGroupProps-Request",
        Element::new("GroupProperties").with(
            Element::new("Property")
                .with_text("Name", "Topic")
                .with_text("Value", t),
        ),
    )
}

async fn members<T: Inbox>(u: &TestUser<T>) -> Vec<String> {
    let r = request(u, group_req("GetGroupMembers-Request", GROUP)).await;
    assert_eq!(r.name.as_str(), "GetGroupMembers-Response", "{r:?}");
    user_ids(&r)
}

#[tokio::test]
async fn ssp_groups_a_remote_admin_manages_a_group_through_his_own_server() {
    let (a, b) = pair(86_400);
    a.add_user("carol", "pw");
    a.add_user("dave", "pw");
    let alice = a.login("alice").ws().await;
    let bob = b.login("bob").ws().await;
    let r = request(
        &alice,
        create_req(
            GROUP,
            &[
                ("Name", "club"),
                ("Topic", "openings"),
                ("AccessType", "Open"),
            ],
            Some("ally"),
        ),
    )
    .await;
    assert_eq!(code_of(&r), Some(200), "{r:?}");

    // Not a manager yet: a.test's rule, passed on.
    let r = request(&bob, topic("endgames")).await;
    assert_eq!(code_of(&r), Some(816), "{r:?}");

    // alice makes him a member (a user of b.test) and an Admin.
    let r = request(&alice, on_group("AddGroupMembers-Request", ids(&[BOB]))).await;
    assert_eq!(code_of(&r), Some(200), "{r:?}");
    let r = request(
        &alice,
        on_group(
            "MemberAccess-Request",
            Element::new("Admin").with(ids(&[BOB])),
        ),
    )
    .await;
    assert_eq!(code_of(&r), Some(200), "{r:?}");

    // Now his SetGroupProps is carried out on a.test.
    let r = request(&bob, topic("endgames")).await;
    assert_eq!(code_of(&r), Some(200), "{r:?}");
    let r = request(&alice, group_req("GetGroupProps-Request", GROUP)).await;
    let props = r.child("GroupProperties").unwrap();
    assert_eq!(prop_of(props, "Topic"), Some("endgames"), "{r:?}");

    // He adds carol (of a.test), makes her a moderator, lists the members.
    let r = request(&bob, on_group("AddGroupMembers-Request", ids(&[CAROL]))).await;
    assert_eq!(code_of(&r), Some(200), "{r:?}");
    let r = request(
        &bob,
        on_group(
            "MemberAccess-Request",
            Element::new("Mod").with(ids(&[CAROL])),
        ),
    )
    .await;
    assert_eq!(code_of(&r), Some(200), "{r:?}");
    let m = members(&bob).await;
    assert!(m.iter().any(|u| u == CAROL), "{m:?}");
    assert!(m.iter().any(|u| u == BOB), "{m:?}");
    let seen_by_alice = members(&alice).await;
    assert!(
        seen_by_alice.iter().any(|u| u == CAROL),
        "{seen_by_alice:?}"
    );

    // He rejects dave: the whole list comes back, and dave cannot join.
    let r = request(
        &bob,
        on_group(
            "RejectList-Request",
            Element::new("AddList").with(ids(&[DAVE])),
        ),
    )
    .await;
    assert_eq!(r.name.as_str(), "RejectList-Response", "{r:?}");
    assert_eq!(user_ids(&r), vec![DAVE.to_string()], "{r:?}");
    let dave = a.login("dave").ws().await;
    let r = request(&dave, join_req(GROUP, Some("dd"), false)).await;
    assert_eq!(code_of(&r), Some(809), "{r:?}");

    // He removes carol from the members.
    let r = request(&bob, on_group("RemoveGroupMembers-Request", ids(&[CAROL]))).await;
    assert_eq!(code_of(&r), Some(200), "{r:?}");
    let m = members(&alice).await;
    assert!(!m.iter().any(|u| u == CAROL), "{m:?}");

    // And, an Admin, he deletes the group: a.test has it no more.
    let r = request(&bob, group_req("DeleteGroup-Request", GROUP)).await;
    assert_eq!(code_of(&r), Some(200), "{r:?}");
    let r = request(&alice, group_req("GetGroupProps-Request", GROUP)).await;
    assert_eq!(code_of(&r), Some(800), "{r:?}");
    // A group a.test does not have: its 800 for a managing request too.
    let r = request(&bob, topic("x")).await;
    assert_eq!(code_of(&r), Some(800), "{r:?}");
}

const NOBODY: &str = "wv:nobody@a.test";

#[tokio::test]
async fn ssp_groups_a_partial_success_reaches_the_remote_admin_with_its_details() {
    let (a, b) = pair(86_400);
    a.add_user("carol", "pw");
    a.add_user("dave", "pw");
    let alice = a.login("alice").ws().await;
    let bob = b.login("bob").ws().await;
    let r = request(
        &alice,
        create_req(
            GROUP,
            &[("Name", "club"), ("AccessType", "Open")],
            Some("ally"),
        ),
    )
    .await;
    assert_eq!(code_of(&r), Some(200), "{r:?}");
    for req in [
        on_group("AddGroupMembers-Request", ids(&[BOB])),
        on_group(
            "MemberAccess-Request",
            Element::new("Admin").with(ids(&[BOB])),
        ),
    ] {
        let r = request(&alice, req).await;
        assert_eq!(code_of(&r), Some(200), "{r:?}");
    }

    // One user a.test has, one it has not: carol is added, and bob is
    // told which one failed and why, as a local manager would be.
    let r = request(
        &bob,
        on_group("AddGroupMembers-Request", ids(&[CAROL, NOBODY])),
    )
    .await;
    assert_eq!(code_of(&r), Some(201), "{r:?}");
    assert_eq!(details(&r), vec![(531, vec![NOBODY.to_string()])], "{r:?}");
    let m = members(&alice).await;
    assert!(m.iter().any(|u| u == CAROL), "{m:?}");
    assert!(!m.iter().any(|u| u == NOBODY), "{m:?}");

    let r = request(
        &bob,
        on_group(
            "MemberAccess-Request",
            Element::new("Mod").with(ids(&[CAROL, NOBODY])),
        ),
    )
    .await;
    assert_eq!(code_of(&r), Some(201), "{r:?}");
    assert_eq!(details(&r), vec![(531, vec![NOBODY.to_string()])], "{r:?}");

    // dave is no member: 810 for him, carol removed.
    let r = request(
        &bob,
        on_group("RemoveGroupMembers-Request", ids(&[CAROL, DAVE])),
    )
    .await;
    assert_eq!(code_of(&r), Some(201), "{r:?}");
    assert_eq!(details(&r), vec![(810, vec![DAVE.to_string()])], "{r:?}");
    assert!(!members(&alice).await.iter().any(|u| u == CAROL));

    // A reject list change that partly fails: the Status with its
    // details (as for a local manager), and dave is on the list the
    // host keeps, which the next RejectList shows.
    let r = request(
        &bob,
        on_group(
            "RejectList-Request",
            Element::new("AddList").with(ids(&[DAVE, NOBODY])),
        ),
    )
    .await;
    assert_eq!(code_of(&r), Some(201), "{r:?}");
    assert_eq!(details(&r), vec![(531, vec![NOBODY.to_string()])], "{r:?}");
    let r = request(
        &bob,
        Element::new("RejectList-Request").with_text("GroupID", GROUP),
    )
    .await;
    assert_eq!(r.name.as_str(), "RejectList-Response", "{r:?}");
    assert_eq!(user_ids(&r), vec![DAVE.to_string()], "{r:?}");
}
