//! Messages to a group follow who is joined now, with the joined users
//! kept in memory for the fan-out (issue 19, `groups.joined_cache_groups`):
//! a join, a leave and the deletion of the group each change who the next
//! message reaches.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use crate::common;
use crate::groups_common;

use common::TestServer;
use groups_common::*;
use imps_client::{Encoding, Version};

#[tokio::test]
async fn group_messages_follow_joins_leaves_and_deletion() {
    let srv = TestServer::start().await;
    users(&srv, &["alice", "bob", "carol"]).await;
    let (v, e) = (Version::V1_2, Encoding::Xml);
    let alice = login(&srv, v, e, "alice", "a").await;
    let bob = login(&srv, v, e, "bob", "b").await;
    let carol = login(&srv, v, e, "carol", "c").await;
    let g = gid("alice", "busy");
    let say = |text: &'static str| {
        let (alice, g) = (&alice, g.clone());
        async move { expect_code(alice, group_message(&g, text), 200, text).await }
    };

    expect_code(&alice, create_req(&g, &[], Some("Alice")), 200, "create").await;
    expect_named(
        &bob,
        join_req(&g, Some("Bob"), false),
        "JoinGroup-Response",
        "bob",
    )
    .await;
    say("one").await;
    assert_eq!(texts(&bob).await, ["one"]);

    // Carol joins after the group's joined users were read once.
    expect_named(
        &carol,
        join_req(&g, Some("Carol"), false),
        "JoinGroup-Response",
        "carol",
    )
    .await;
    say("two").await;
    assert_eq!(texts(&bob).await, ["two"]);
    assert_eq!(
        texts(&carol).await,
        ["two"],
        "a join reaches the next message"
    );

    // Bob leaves; his session is still there, so only the joined list
    // keeps the message from him.
    expect_named(&bob, leave_req(&g), "LeaveGroup-Response", "bob leaves").await;
    say("three").await;
    assert!(
        texts(&bob).await.is_empty(),
        "a leave reaches the next message"
    );
    assert_eq!(texts(&carol).await, ["three"]);

    // The group goes and comes back under the same ID, nobody joined:
    // the old group's joined users are not the new one's.
    expect_code(&alice, group_req("DeleteGroup-Request", &g), 200, "delete").await;
    drain(&carol).await;
    expect_code(&alice, create_req(&g, &[], None), 200, "again").await;
    expect_code(
        &alice,
        group_message(&g, "four"),
        808,
        "alice is not joined",
    )
    .await;
    assert!(
        texts(&carol).await.is_empty(),
        "a deletion reaches the next message"
    );
}
