//! Long group lists in parts (GEN-1): the joined users of a 2,000-member
//! group, its member list and its reject list, each fetched in parts by a
//! 1.3 client that negotiated a small message size.

mod common;
mod groups_common;
mod lists_common;

use common::{TestServer, code_of};
use groups_common::{
    add_user, create_req, expect_code, expect_named, gid, group_req, join_req, login, snames,
    store, user_ids,
};
use imps_client::{Encoding, Version};
use imps_core::store::{Access, JoinedUser};
use lists_common::{fetch_all, negotiate_size};

const LIMIT: u64 = 2048;
const MEMBERS: usize = 2_000;

/// A group with Alice (owner) and Bob joined through the protocol, and
/// 2,000 more joined users, members and rejects written into the store.
async fn big_group(srv: &TestServer) -> String {
    let g = gid("alice", "stadium");
    let alice = login(srv, Version::V1_2, Encoding::Xml, "alice", "setup").await;
    expect_code(
        &alice,
        create_req(&g, &[("Name", "Stadium")], Some("Alice")),
        200,
        "create",
    )
    .await;
    let st = store(srv);
    let mut tasks = Vec::new();
    for i in 0..MEMBERS {
        let (st, g) = (st.clone(), g.clone());
        tasks.push(tokio::spawn(async move {
            let u = format!("fan{i:04}");
            let row = JoinedUser {
                user: u.clone(),
                sname: format!("Fan {i:04}"),
                session_id: format!("gone-{i}"),
                subscribed: false,
                show_id: false,
                joined_ms: 1 + i as u64,
            };
            st.join(&g, row, 10_000).await.unwrap();
            st.set_member(&g, &u, Some(Access::User)).await.unwrap();
            st.set_reject(&g, &format!("troll{i:04}"), true)
                .await
                .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    g
}

#[tokio::test]
async fn gen_1_group_lists_fetched_in_parts() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", Some("Alice")).await;
    add_user(&srv, "bob", Some("Bob")).await;
    let g = big_group(&srv).await;
    for e in [Encoding::Xml, Encoding::Wbxml] {
        let w = format!("{e:?}");
        let bob = login(&srv, Version::V1_3, e, "bob", "phone").await;
        bob.service_request_all().await.unwrap();
        negotiate_size(&bob, LIMIT).await;
        expect_named(
            &bob,
            join_req(&g, Some("Bob"), false),
            "JoinGroup-Response",
            &w,
        )
        .await;
        // Joined users, as a plain user sees them (UserMapList).
        let (parts, sizes, token) = fetch_all(&bob, group_req("GetJoinedUsers-Request", &g)).await;
        assert!(
            token.is_some() && parts.len() > 10,
            "{w}: {} parts",
            parts.len()
        );
        assert!(sizes.iter().all(|s| *s as u64 <= LIMIT), "{w}: {sizes:?}");
        assert!(
            parts.iter().all(|p| p.name == "GetJoinedUsers-Response"),
            "{w}"
        );
        let names: Vec<String> = parts.iter().flat_map(snames).collect();
        assert_eq!(names.len(), MEMBERS + 2, "{w}");
        assert_eq!(names[0], "Fan 0000", "{w}: in join order");
        assert!(names.contains(&"Alice".to_string()) && names.contains(&"Bob".to_string()));
        expect_named(
            &bob,
            groups_common::leave_req(&g),
            "LeaveGroup-Response",
            &w,
        )
        .await;
        bob.logout().await.unwrap();

        // Members and rejects, as the owner sees them.
        let alice = login(&srv, Version::V1_3, e, "alice", "phone").await;
        alice.service_request_all().await.unwrap();
        negotiate_size(&alice, LIMIT).await;
        let (parts, sizes, _) = fetch_all(&alice, group_req("GetGroupMembers-Request", &g)).await;
        assert!(
            parts.len() > 10 && sizes.iter().all(|s| *s as u64 <= LIMIT),
            "{w}"
        );
        let ids: Vec<String> = parts.iter().flat_map(user_ids).collect();
        assert_eq!(ids.len(), MEMBERS + 1, "{w}: the owner and 2,000 members");
        let (parts, sizes, _) = fetch_all(&alice, group_req("RejectList-Request", &g)).await;
        assert!(
            parts.len() > 10 && sizes.iter().all(|s| *s as u64 <= LIMIT),
            "{w}"
        );
        assert_eq!(
            code_of(&parts[0]),
            None,
            "a RejectList-Response, not a Status"
        );
        let ids: Vec<String> = parts.iter().flat_map(user_ids).collect();
        assert_eq!(ids.len(), MEMBERS, "{w}");
        // The admin's view of the joined users is split too (AdminMapList).
        let (parts, _, token) = fetch_all(&alice, group_req("GetJoinedUsers-Request", &g)).await;
        assert!(token.is_some(), "{w}");
        assert!(
            parts.iter().all(|p| p.child("AdminMapList").is_some()),
            "{w}"
        );
        assert_eq!(parts.iter().flat_map(snames).count(), MEMBERS + 1, "{w}");
        alice.logout().await.unwrap();
    }
}
