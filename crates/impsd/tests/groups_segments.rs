//! Long group lists in parts: the joined users of a 2,000-member group,
//! its member list and its reject list, each fetched in parts by a 1.3
//! client that negotiated a small message size (GEN-1); the member,
//! access and reject lists uploaded in parts (GEN-2).
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use crate::common;
use crate::groups_common;
use crate::lists_common;

use common::{TestServer, code_of};
use groups_common::{
    add_user, create_req, expect_code, expect_named, gid, group_req, join_req, login, snames,
    store, uid, user_ids, user_list,
};
use imps_client::{Element, Encoding, Transport, Version};
use imps_core::store::{Access, JoinedUser};
use lists_common::{exchange, fetch_all, negotiate_size, seed_users};

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
    // A few at a time: each write waits for one of the store handle's few
    // connections on PostgreSQL, and a wait has a time limit.
    let mut tasks: Vec<tokio::task::JoinHandle<()>> = Vec::new();
    for i in 0..MEMBERS {
        if tasks.len() == 8 {
            for t in tasks.drain(..) {
                t.await.unwrap();
            }
        }
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

/// SegmentInfo of part `k` of `count` of upload `upload_id`.
fn upload_info(upload_id: &str, count: u64, k: u64) -> Element {
    Element::new("SegmentInfo")
        .with_text("SegmentCount", count.to_string())
        .with(
            Element::new("SegmentID")
                .with_text("TransactionID", upload_id)
                .with_text("SegmentReference", k.to_string()),
        )
}

/// Sends one part of an upload and returns the answer.
async fn send_part<T: Transport>(
    c: &imps_client::Client<T>,
    body: Element,
    id: &str,
    count: u64,
    k: u64,
) -> Element {
    exchange(c, body, Some(upload_info(id, count, k)))
        .await
        .0
        .body
}

/// The member list, fetched in parts when split: (Admin, Mod, User)
/// UserIDs, each sorted.
async fn members<T: Transport>(
    c: &imps_client::Client<T>,
    g: &str,
) -> (Vec<String>, Vec<String>, Vec<String>) {
    let (parts, sizes, _) = fetch_all(c, group_req("GetGroupMembers-Request", g)).await;
    assert!(sizes.iter().all(|s| *s as u64 <= LIMIT), "{sizes:?}");
    let mut out = (Vec::new(), Vec::new(), Vec::new());
    for p in &parts {
        assert_eq!(p.name, "GetGroupMembers-Response", "{p:?}");
        out.0
            .extend(p.child("Admin").map(user_ids).unwrap_or_default());
        out.1
            .extend(p.child("Mod").map(user_ids).unwrap_or_default());
        out.2
            .extend(p.child("UserList").map(user_ids).unwrap_or_default());
    }
    out.0.sort();
    out.1.sort();
    out.2.sort();
    out
}

/// The reject list, fetched in parts when split, sorted.
async fn rejects<T: Transport>(c: &imps_client::Client<T>, g: &str) -> Vec<String> {
    let (parts, sizes, _) = fetch_all(c, group_req("RejectList-Request", g)).await;
    assert!(sizes.iter().all(|s| *s as u64 <= LIMIT), "{sizes:?}");
    let mut ids: Vec<String> = parts
        .iter()
        .inspect(|p| assert_eq!(p.name, "RejectList-Response", "{p:?}"))
        .flat_map(user_ids)
        .collect();
    ids.sort();
    ids
}

fn wire_ids(users: &[String]) -> Vec<String> {
    let mut v: Vec<String> = users.iter().map(|u| uid(u)).collect();
    v.sort();
    v
}

#[tokio::test]
async fn gen_2_group_lists_uploaded_in_parts() {
    let srv = TestServer::start().await;
    add_user(&srv, "alice", Some("Alice")).await;
    add_user(&srv, "bob", Some("Bob")).await;
    let fans: Vec<String> = (0..300).map(|i| format!("fan{i:03}")).collect();
    seed_users(&srv, fans.clone()).await;
    let g = gid("alice", "club");
    let other_g = gid("alice", "other");
    let alice = login(&srv, Version::V1_3, Encoding::Wbxml, "alice", "phone").await;
    alice.service_request_all().await.unwrap();
    negotiate_size(&alice, LIMIT).await;
    for group in [&g, &other_g] {
        expect_code(
            &alice,
            create_req(group, &[("Name", "Club")], None),
            200,
            "create",
        )
        .await;
    }
    let owner = vec![uid("alice")];
    let refs: Vec<&str> = fans.iter().map(String::as_str).collect();
    let chunks: Vec<&[&str]> = refs.chunks(100).collect();
    let add = |group: &str, k: u64| {
        group_req("AddGroupMembers-Request", group).with(user_list(chunks[k as usize - 1], true))
    };

    // Members in three parts, out of order; nothing applied before the last.
    for k in [3u64, 1] {
        let r = send_part(&alice, add(&g, k), "m-up", 3, k).await;
        assert_eq!(
            (r.name.as_str(), code_of(&r)),
            ("Status", Some(202)),
            "part {k}: {r:?}"
        );
        assert_eq!(
            members(&alice, &g).await,
            (owner.clone(), vec![], vec![]),
            "applied early"
        );
    }
    // Someone who may not edit the list is told at the first part: an
    // outsider (808), a plain joined user (816).
    let bob = login(&srv, Version::V1_3, Encoding::Xml, "bob", "phone").await;
    let r = send_part(&bob, add(&g, 2), "m-up", 3, 2).await;
    assert_eq!(code_of(&r), Some(808), "{r:?}");
    expect_named(
        &bob,
        join_req(&g, Some("Bob"), false),
        "JoinGroup-Response",
        "join",
    )
    .await;
    let r = send_part(&bob, add(&g, 2), "m-up", 3, 2).await;
    assert_eq!(code_of(&r), Some(816), "{r:?}");
    // A session of the same user is another upload.
    let laptop = login(&srv, Version::V1_3, Encoding::Xml, "alice", "laptop").await;
    let r = send_part(&laptop, add(&g, 2), "m-up", 3, 2).await;
    assert_eq!(code_of(&r), Some(202), "{r:?}");
    assert_eq!(
        members(&alice, &g).await.2,
        Vec::<String>::new(),
        "completed elsewhere"
    );
    // A part naming another group, or of another primitive, under the
    // same ID is refused and drops the upload.
    let r = send_part(&alice, add(&other_g, 2), "m-up", 3, 2).await;
    assert_eq!(code_of(&r), Some(402), "{r:?}");
    let r = send_part(&alice, add(&g, 1), "m-up", 3, 1).await;
    assert_eq!(code_of(&r), Some(202), "the upload started afresh: {r:?}");
    let reject_part = group_req("RejectList-Request", &g)
        .with(Element::new("AddList").with_text("UserID", uid("fan000")));
    let r = send_part(&alice, reject_part, "m-up", 3, 2).await;
    assert_eq!(code_of(&r), Some(402), "{r:?}");
    assert!(rejects(&alice, &g).await.is_empty());
    // Sent again: 3 and 2, then 1 with its SegmentInfo in the body.
    for k in [3u64, 2] {
        let r = send_part(&alice, add(&g, k), "m-up", 3, k).await;
        assert_eq!(code_of(&r), Some(202), "part {k}: {r:?}");
    }
    assert!(
        members(&alice, &g).await.2.is_empty(),
        "dropped parts came back"
    );
    let (tx, _) = exchange(&alice, add(&g, 1).with(upload_info("m-up", 3, 1)), None).await;
    assert_eq!(code_of(&tx.body), Some(200), "{:?}", tx.body);
    assert_eq!(
        members(&alice, &g).await,
        (owner.clone(), vec![], wire_ids(&fans)),
        "every member of every part"
    );
    assert!(members(&alice, &other_g).await.2.is_empty());

    // Access levels in two parts from a 1.2 client (UserList{User}):
    // Admin for fan000..049 and Mod for fan050..099, half of each level
    // in each part.
    let old = login(&srv, Version::V1_2, Encoding::Xml, "alice", "old").await;
    let access = |admins: &[&str], mods: &[&str]| {
        group_req("MemberAccess-Request", &g)
            .with(Element::new("Admin").with(user_list(admins, false)))
            .with(Element::new("Mod").with(user_list(mods, false)))
    };
    let p1 = access(&refs[..25], &refs[50..75]);
    let p2 = access(&refs[25..50], &refs[75..100]);
    let r = send_part(&old, p2, "acc", 2, 2).await;
    assert_eq!(code_of(&r), Some(202), "{r:?}");
    assert_eq!(members(&alice, &g).await.0, owner, "applied early");
    let r = send_part(&old, p1, "acc", 2, 1).await;
    assert_eq!(code_of(&r), Some(200), "{r:?}");
    let mut admins = wire_ids(&fans[..50]);
    admins.extend(owner.clone());
    admins.sort();
    assert_eq!(
        members(&alice, &g).await,
        (admins, wire_ids(&fans[..100][50..]), wire_ids(&fans[100..]))
    );

    // The reject list in three parts: adds in parts 1 and 2, a removal
    // in part 3; the last part is answered with the whole list.
    let reject = |adds: &[&str], removes: &[&str]| {
        let ids = |name: &str, users: &[&str]| {
            let mut l = Element::new(name);
            for u in users {
                l = l.with_text("UserID", uid(u));
            }
            l
        };
        let mut r = group_req("RejectList-Request", &g);
        if !adds.is_empty() {
            r = r.with(ids("AddList", adds));
        }
        if !removes.is_empty() {
            r = r.with(ids("RemoveList", removes));
        }
        r
    };
    let parts = [
        reject(&refs[200..250], &[]),
        reject(&refs[250..], &[]),
        reject(&[], &refs[290..]),
    ];
    for k in [2u64, 3] {
        let r = send_part(&alice, parts[k as usize - 1].clone(), "rej", 3, k).await;
        assert_eq!(code_of(&r), Some(202), "{r:?}");
        assert!(rejects(&alice, &g).await.is_empty(), "applied early");
    }
    let r = send_part(&alice, parts[0].clone(), "rej", 3, 1).await;
    assert_eq!(r.name, "RejectList-Response", "{r:?}");
    let want = wire_ids(&fans[200..290]);
    assert_eq!(rejects(&alice, &g).await, want);
    let (_, _, _, _) = (
        alice.logout().await,
        bob.logout().await,
        laptop.logout().await,
        old.logout().await,
    );

    // The per-request limit holds over the parts together: 754, nothing
    // applied, the upload gone.
    let srv = TestServer::start_with(|cfg| cfg.groups.max_users_per_request = 250).await;
    add_user(&srv, "alice", None).await;
    seed_users(&srv, fans.clone()).await;
    let alice = login(&srv, Version::V1_3, Encoding::Xml, "alice", "phone").await;
    expect_code(
        &alice,
        create_req(&g, &[("Name", "Club")], None),
        200,
        "create",
    )
    .await;
    for k in [1u64, 2] {
        let r = send_part(&alice, add(&g, k), "big", 3, k).await;
        assert_eq!(code_of(&r), Some(202), "{r:?}");
    }
    let r = send_part(&alice, add(&g, 3), "big", 3, 3).await;
    assert_eq!(code_of(&r), Some(754), "{r:?}");
    assert!(members(&alice, &g).await.2.is_empty());
    let r = send_part(&alice, add(&g, 3), "big", 3, 3).await;
    assert_eq!(code_of(&r), Some(202), "a new upload: {r:?}");
}
