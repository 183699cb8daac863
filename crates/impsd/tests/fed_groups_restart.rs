//! Groups hosted in another domain across a restart of the member's
//! server (issue 17): b.test keeps in its store which of its users joined
//! groups of a.test from which session, so after a SIGKILL and restart
//! bob's session (which survives it) still gets the group's messages,
//! and when it ends a.test is told he left.
#![allow(clippy::unwrap_used)]

use crate::common;
use crate::fed::pair;
use crate::groups_common::{create_req, group_message, group_req, join_req, snames};

use common::{Inbox, TestUser, code_of};
use imps_client::Element;

const GROUP: &str = "wv:alice/chess@a.test";

async fn request<T: Inbox>(u: &TestUser<T>, e: Element) -> Element {
    u.request(e).await.unwrap()
}

#[tokio::test]
async fn ssp_groups_a_remote_member_stays_joined_across_a_restart_of_his_server() {
    let (a, mut b) = pair(86_400);
    let alice = a.login("alice").ws().await;
    // Over HTTP: the same client goes on with its session after the
    // restart (the listener's port is fixed).
    let bob = b.login("bob").http().await;
    let r = request(
        &alice,
        create_req(
            GROUP,
            &[("Name", "chess"), ("AccessType", "Open")],
            Some("ally"),
        ),
    )
    .await;
    assert_eq!(code_of(&r), Some(200), "{r:?}");
    let r = request(&bob, join_req(GROUP, Some("bobby"), false)).await;
    assert_eq!(r.name.as_str(), "JoinGroup-Response", "{r:?}");
    assert!(code_of(&r).is_none_or(|c| c < 300), "{r:?}");

    b.restart();

    // Still in the group: alice's message reaches him.
    let r = request(&alice, group_message(GROUP, "still there?")).await;
    assert_eq!(code_of(&r), Some(200), "{r:?}");
    let (_, m) = bob.expect("NewMessage").await;
    assert_eq!(m.child_text("ContentData"), Some("still there?"), "{m:?}");

    // His session ends: b.test remembers the join and tells a.test.
    bob.logout().await;
    loop {
        let (_, n) = alice.expect("GroupChangeNotice").await;
        if let Some(l) = n.child("Left") {
            assert_eq!(snames(l), vec!["bobby"], "{n:?}");
            break;
        }
    }
    let r = request(&alice, group_req("GetJoinedUsers-Request", GROUP)).await;
    assert_eq!(snames(&r), vec!["ally"], "{r:?}");
}
