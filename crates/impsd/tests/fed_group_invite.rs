//! Group invitations across domains (issue 17), end to end with two real
//! `impsd` processes (a.test and b.test, see `fed`): alice of a.test
//! invites bob of b.test into her private conversation; he gets the
//! InviteUser-Request with its GroupID, his acceptance reaches her, and
//! the invitation is what lets him in (800 before it). A cancelled
//! invitation reaches carol as CancelInviteUser-Request and no longer
//! lets her in.
#![allow(clippy::unwrap_used)]

use crate::common;
use crate::fed::pair;
use crate::groups_common::{join_req, prop};

use common::{Inbox, TestUser, code_of};
use imps_client::Element;

const ALICE: &str = "wv:alice@a.test";
const BOB: &str = "wv:bob@b.test";
const CAROL: &str = "wv:carol@b.test";

async fn request<T: Inbox>(u: &TestUser<T>, e: Element) -> Element {
    u.request(e).await.unwrap()
}

fn invite(id: &str, to: &str, group: &str, note: &str) -> Element {
    Element::new("Invite-Request")
        .with_text("InviteID", id)
        .with_text("InviteType", "GR")
        .with(Element::new("Recipient").with(Element::new("User").with_text("UserID", to)))
        .with_text("GroupID", group)
        .with_text("InviteNote", note)
}

fn sender(e: &Element) -> Option<&str> {
    e.path(&["Sender", "User", "UserID"])
        .map(|u| u.text.as_str())
}

#[tokio::test]
async fn ssp_group_invitation_crosses_domains_and_lets_the_invitee_join() {
    let (a, b) = pair(86_400);
    a.add_user("ann", "pw");
    b.add_user("carol", "pw");
    let alice = a.login("alice").ws().await;
    let bob = b.login("bob").ws().await;
    let carol = b.login("carol").ws().await;

    // alice's private conversation with ann.
    let create = Element::new("CreateGroup-Request")
        .with(Element::new("GroupProperties").with(prop("Type", "Private")))
        .with_text("JoinGroup", "T")
        .with(Element::new("UserIDList").with_text("UserID", "wv:ann@a.test"));
    let r = request(&alice, create).await;
    assert_eq!(code_of(&r), Some(200), "{r:?}");
    let group = r
        .path(&["Result", "DetailedResult", "GroupID"])
        .map(|g| g.text.trim().to_string())
        .unwrap();

    // Not invited: the conversation does not exist for bob.
    let r = request(&bob, join_req(&group, Some("bobby"), false)).await;
    assert_eq!(code_of(&r), Some(800), "{r:?}");

    // alice invites bob: b.test shows him the group invitation.
    let r = request(&alice, invite("g-1", BOB, &group, "join us")).await;
    assert_eq!(code_of(&r), Some(200), "{r:?}");
    let (_, i) = bob.expect("InviteUser-Request").await;
    assert_eq!(i.child_text("InviteID"), Some("g-1"), "{i:?}");
    assert_eq!(i.child_text("InviteType"), Some("GR"), "{i:?}");
    assert_eq!(i.child_text("GroupID"), Some(group.as_str()), "{i:?}");
    assert_eq!(i.child_text("InviteNote"), Some("join us"), "{i:?}");
    assert_eq!(sender(&i), Some(ALICE), "{i:?}");

    // He accepts; alice is told.
    let yes = Element::new("InviteUser-Response")
        .with_text("InviteID", "g-1")
        .with_text("Acceptance", "T")
        .with(Element::new("User").with_text("UserID", ALICE));
    assert_eq!(code_of(&request(&bob, yes).await), Some(200));
    let (_, ans) = alice.expect("Invite-Response").await;
    assert_eq!(ans.child_text("InviteID"), Some("g-1"), "{ans:?}");
    assert_eq!(ans.child_text("Acceptance"), Some("T"), "{ans:?}");
    assert_eq!(sender(&ans), Some(BOB), "{ans:?}");

    // The invitation lets him in, through his own server.
    let r = request(&bob, join_req(&group, Some("bobby"), false)).await;
    assert_eq!(r.name.as_str(), "JoinGroup-Response", "{r:?}");
    assert!(code_of(&r).is_none_or(|c| c < 300), "{r:?}");

    // carol's invitation is cancelled: she is told, and it no longer
    // lets her in.
    let r = request(&alice, invite("g-2", CAROL, &group, "you too")).await;
    assert_eq!(code_of(&r), Some(200), "{r:?}");
    let (_, i) = carol.expect("InviteUser-Request").await;
    assert_eq!(i.child_text("GroupID"), Some(group.as_str()), "{i:?}");
    let cancel = Element::new("CancelInvite-Request")
        .with_text("InviteID", "g-2")
        .with(Element::new("Recipient").with(Element::new("User").with_text("UserID", CAROL)))
        .with_text("GroupID", &group);
    assert_eq!(code_of(&request(&alice, cancel).await), Some(200));
    let (_, c) = carol.expect("CancelInviteUser-Request").await;
    assert_eq!(c.child_text("InviteID"), Some("g-2"), "{c:?}");
    assert_eq!(sender(&c), Some(ALICE), "{c:?}");
    let r = request(&carol, join_req(&group, Some("cee"), false)).await;
    assert_eq!(code_of(&r), Some(800), "{r:?}");
}
