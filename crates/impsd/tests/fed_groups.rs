//! Federation over SSP (issue 17), fourth step, end to end with two real
//! `impsd` processes (a.test and b.test, see `fed`): bob of b.test uses a
//! group hosted on a.test. His requests go to a.test, whose group rules
//! decide (reject list, access); he gets the joined list, the members
//! (refused: not a manager), the properties; group messages travel both
//! ways (a.test fans out to b.test once for all its members); change
//! notices reach him when subscribed; he leaves; alice rejects him while
//! joined and he is told.
#![allow(clippy::unwrap_used)]

use crate::common;
use crate::fed::pair;
use crate::groups_common::{create_req, group_message, group_req, join_req, leave_req, snames};

use common::{Inbox, TestUser, code_of};
use imps_client::Element;

const GROUP: &str = "wv:alice/chess@a.test";
const BOB: &str = "wv:bob@b.test";

async fn request<T: Inbox>(u: &TestUser<T>, e: Element) -> Element {
    u.request(e).await.unwrap()
}

/// A success: the named response, without a failing Result.
fn ok(r: &Element, name: &str) {
    assert_eq!(r.name.as_str(), name, "{r:?}");
    assert!(code_of(r).is_none_or(|c| c < 300), "{r:?}");
}

/// alice creates the open group chess on a.test and joins it as "ally",
/// subscribed to its notices.
async fn chess<T: Inbox>(alice: &TestUser<T>) {
    let r = request(
        alice,
        create_req(
            GROUP,
            &[
                ("Name", "chess"),
                ("Topic", "openings"),
                ("AccessType", "Open"),
            ],
            Some("ally"),
        ),
    )
    .await;
    assert_eq!(code_of(&r), Some(200), "{r:?}");
}

/// The next GroupChangeNotice (after any other pushes).
async fn notice<T: Inbox>(u: &TestUser<T>) -> Element {
    u.expect("GroupChangeNotice").await.1
}

#[tokio::test]
async fn ssp_groups_bob_joins_a_group_of_a_test_and_reads_it() {
    let (a, b) = pair(86_400);
    let alice = a.login("alice").ws().await;
    let bob = b.login("bob").ws().await;
    chess(&alice).await;

    let r = request(&bob, join_req(GROUP, Some("bobby"), true)).await;
    ok(&r, "JoinGroup-Response");
    let names = snames(r.child("Joined").unwrap());
    assert!(names.contains(&"ally".to_string()), "{r:?}");
    assert!(names.contains(&"bobby".to_string()), "{r:?}");
    // alice, subscribed, sees him join.
    let n = notice(&alice).await;
    assert_eq!(snames(n.child("Joined").unwrap()), vec!["bobby"], "{n:?}");

    let r = request(&bob, group_req("GetJoinedUsers-Request", GROUP)).await;
    ok(&r, "GetJoinedUsers-Response");
    let mut names = snames(&r);
    names.sort();
    assert_eq!(names, vec!["ally", "bobby"], "{r:?}");

    let r = request(&bob, group_req("GetGroupProps-Request", GROUP)).await;
    ok(&r, "GetGroupProps-Response");
    let props = r.child("GroupProperties").unwrap();
    let topic = props
        .children_named("Property")
        .find(|p| p.child_text("Name") == Some("Topic"))
        .and_then(|p| p.child_text("Value"));
    assert_eq!(topic, Some("openings"), "{r:?}");

    // a.test's rule: only managers list the members (816 passed on).
    let r = request(&bob, group_req("GetGroupMembers-Request", GROUP)).await;
    assert_eq!(code_of(&r), Some(816), "{r:?}");

    // A group a.test does not have: its 800.
    let r = request(&bob, join_req("wv:alice/none@a.test", None, false)).await;
    assert_eq!(code_of(&r), Some(800), "{r:?}");
}

#[tokio::test]
async fn ssp_groups_reject_list_applies_to_remote_users() {
    let (a, b) = pair(86_400);
    let alice = a.login("alice").ws().await;
    let bob = b.login("bob").ws().await;
    chess(&alice).await;
    let reject = Element::new("RejectList-Request")
        .with_text("GroupID", GROUP)
        .with(Element::new("AddList").with(Element::new("UserIDList").with_text("UserID", BOB)));
    let r = request(&alice, reject).await;
    ok(&r, "RejectList-Response");
    let r = request(&bob, join_req(GROUP, Some("bobby"), false)).await;
    assert_eq!(code_of(&r), Some(809), "{r:?}");
}

#[tokio::test]
async fn ssp_groups_messages_travel_both_ways() {
    let (a, b) = pair(86_400);
    b.add_user("carol", "pw");
    let alice = a.login("alice").ws().await;
    let bob = b.login("bob").ws().await;
    let carol = b.login("carol").ws().await;
    chess(&alice).await;
    ok(
        &request(&bob, join_req(GROUP, Some("bobby"), false)).await,
        "JoinGroup-Response",
    );
    ok(
        &request(&carol, join_req(GROUP, Some("cee"), false)).await,
        "JoinGroup-Response",
    );

    // alice speaks: both b.test members hear her by screen name.
    let r = request(&alice, group_message(GROUP, "e4")).await;
    assert_eq!(code_of(&r), Some(200), "{r:?}");
    for u in [&bob, &carol] {
        let (_, m) = u.expect("NewMessage").await;
        assert_eq!(m.child_text("ContentData"), Some("e4"), "{m:?}");
        let sender = m
            .path(&["MessageInfo", "Sender", "Group", "ScreenName", "SName"])
            .map(|e| e.text.as_str());
        assert_eq!(sender, Some("ally"), "{m:?}");
        let to = m
            .path(&["MessageInfo", "Recipient", "Group", "GroupID"])
            .map(|e| e.text.as_str());
        assert_eq!(to, Some(GROUP), "{m:?}");
    }

    // bob speaks: alice hears "bobby", carol too (fanned out by a.test).
    let r = request(&bob, group_message(GROUP, "e5")).await;
    assert_eq!(code_of(&r), Some(200), "{r:?}");
    let (_, m) = alice.expect("NewMessage").await;
    assert_eq!(m.child_text("ContentData"), Some("e5"), "{m:?}");
    let sender = m
        .path(&["MessageInfo", "Sender", "Group", "ScreenName", "SName"])
        .map(|e| e.text.as_str());
    assert_eq!(sender, Some("bobby"), "{m:?}");
    let (_, m) = carol.expect("NewMessage").await;
    assert_eq!(m.child_text("ContentData"), Some("e5"), "{m:?}");
}

#[tokio::test]
async fn ssp_groups_notices_leave_and_rejection() {
    let (a, b) = pair(86_400);
    a.add_user("dave", "pw");
    let alice = a.login("alice").ws().await;
    let dave = a.login("dave").ws().await;
    let bob = b.login("bob").ws().await;
    chess(&alice).await;
    // join_req subscribes to the notices.
    ok(
        &request(&bob, join_req(GROUP, Some("bobby"), false)).await,
        "JoinGroup-Response",
    );
    let r = request(
        &bob,
        group_req("SubscribeGroupNotice-Request", GROUP).with_text("SubscribeType", "G"),
    )
    .await;
    assert_eq!(r.child_text("Value"), Some("T"), "{r:?}");
    assert!(snames(notice(&alice).await.child("Joined").unwrap()).contains(&"bobby".into()));

    // dave joins on a.test: bob hears of it through b.test.
    ok(
        &request(&dave, join_req(GROUP, Some("dd"), false)).await,
        "JoinGroup-Response",
    );
    let n = notice(&bob).await;
    assert_eq!(n.child_text("GroupID"), Some(GROUP), "{n:?}");
    assert_eq!(snames(n.child("Joined").unwrap()), vec!["dd"], "{n:?}");

    // bob leaves; alice sees him go.
    let r = request(&bob, leave_req(GROUP)).await;
    assert_eq!(code_of(&r), Some(200), "{r:?}");
    loop {
        let n = notice(&alice).await;
        if let Some(l) = n.child("Left") {
            assert_eq!(snames(l), vec!["bobby"], "{n:?}");
            break;
        }
    }
    // Leaving again: a.test says he is not joined (808).
    let r = request(&bob, leave_req(GROUP)).await;
    assert_eq!(code_of(&r), Some(808), "{r:?}");

    // He comes back; alice rejects him: b.test tells him (809).
    ok(
        &request(&bob, join_req(GROUP, Some("bobby"), false)).await,
        "JoinGroup-Response",
    );
    let reject = Element::new("RejectList-Request")
        .with_text("GroupID", GROUP)
        .with(Element::new("AddList").with(Element::new("UserIDList").with_text("UserID", BOB)));
    ok(&request(&alice, reject).await, "RejectList-Response");
    let (_, out) = bob.expect("LeaveGroup-Response").await;
    assert_eq!(out.child_text("GroupID"), Some(GROUP), "{out:?}");
    assert_eq!(code_of(&out), Some(809), "{out:?}");
}
