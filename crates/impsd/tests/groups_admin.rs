//! Managing public chat groups over the real protocol (BASE-GRP):
//! members and access rights, properties and change notices, the reject
//! list, notice subscriptions; minimum age (PPR-9/10).

use crate::common;
use crate::groups_common;

use common::{TestServer, code_of, combos};
use groups_common::*;
use imps_client::{Element, Version};

async fn server() -> TestServer {
    let srv = TestServer::start().await;
    users(&srv, &["alice", "bob", "carol", "dave"]).await;
    srv
}

#[tokio::test]
async fn base_grp_members_and_access_rights() {
    let srv = server().await;
    for (i, (v, e)) in combos().into_iter().enumerate() {
        let w = format!("{v} {e:?}");
        let g = gid("alice", &format!("club{i}"));
        let alice = login(&srv, v, e, "alice", "a").await;
        let bob = login(&srv, v, e, "bob", "b").await;
        let carol = login(&srv, v, e, "carol", "c").await;
        let dave = login(&srv, v, e, "dave", "d").await;
        expect_code(
            &alice,
            create_req(&g, &[("AccessType", "Restricted")], Some("Alice")),
            200,
            &w,
        )
        .await;
        expect_code(
            &dave,
            join_req(&g, Some("Dave"), false),
            431,
            &format!("{w}: not a member"),
        )
        .await;
        // Both list forms are accepted in every version.
        let add12 = group_req("AddGroupMembers-Request", &g).with(user_list(&["bob"], false));
        let add13 = group_req("AddGroupMembers-Request", &g).with(user_list(&["carol"], true));
        expect_code(&alice, add12, 200, &w).await;
        expect_code(&alice, add13, 200, &w).await;
        let add_ghost =
            group_req("AddGroupMembers-Request", &g).with(user_list(&["carol", "ghost"], false));
        let r = expect_code(&alice, add_ghost, 201, &w).await;
        assert_eq!(
            user_ids(&r),
            [uid("ghost")],
            "{w}: the DetailedResult names the unknown user"
        );
        let members = expect_named(
            &alice,
            group_req("GetGroupMembers-Request", &g),
            "GetGroupMembers-Response",
            &w,
        )
        .await;
        assert_eq!(
            user_ids(members.child("Admin").unwrap()),
            [uid("alice")],
            "{w}"
        );
        assert_eq!(
            user_ids(members.child("UserList").unwrap()),
            [uid("bob"), uid("carol")],
            "{w}"
        );
        expect_code(
            &bob,
            group_req("GetGroupMembers-Request", &g),
            816,
            &format!("{w}: plain members cannot"),
        )
        .await;
        let make_mod = group_req("MemberAccess-Request", &g)
            .with(Element::new("Mod").with(user_list(&["bob"], false)));
        expect_code(&alice, make_mod, 200, &w).await;
        let members = expect_named(
            &bob,
            group_req("GetGroupMembers-Request", &g),
            "GetGroupMembers-Response",
            &w,
        )
        .await;
        assert_eq!(user_ids(members.child("Mod").unwrap()), [uid("bob")], "{w}");
        let bob_grants_admin = group_req("MemberAccess-Request", &g)
            .with(Element::new("Admin").with(user_list(&["carol"], false)));
        expect_code(
            &bob,
            bob_grants_admin,
            816,
            &format!("{w}: a Mod grants no Admin"),
        )
        .await;
        // Removing a joined member of a restricted group puts them out.
        expect_named(
            &carol,
            join_req(&g, Some("Carol"), false),
            "JoinGroup-Response",
            &w,
        )
        .await;
        let rm = group_req("RemoveGroupMembers-Request", &g)
            .with(user_list(&["carol"], v == Version::V1_3));
        expect_code(&bob, rm, 200, &w).await;
        let out = drain_named(&carol, "LeaveGroup-Response").await;
        assert_eq!(out.len(), 1, "{w}");
        assert_eq!(code_of(&out[0]), Some(810), "{w}");
        expect_code(&carol, join_req(&g, Some("Carol"), false), 431, &w).await;
        let rm_owner =
            group_req("RemoveGroupMembers-Request", &g).with(user_list(&["alice"], false));
        expect_code(&bob, rm_owner, 816, &w).await;
        for c in [&alice, &bob, &carol, &dave] {
            c.logout().await.unwrap();
        }
    }
}

#[tokio::test]
async fn base_grp_group_properties_and_change_notices() {
    let srv = server().await;
    for (i, (v, e)) in combos().into_iter().enumerate() {
        let w = format!("{v} {e:?}");
        let g = gid("alice", &format!("topic{i}"));
        let alice = login(&srv, v, e, "alice", "a").await;
        let bob = login(&srv, v, e, "bob", "b").await;
        let mut create = create_req(&g, &[("Name", "Topics")], Some("Alice"));
        create.child_mut("GroupProperties").unwrap().children.push(
            Element::new("WelcomeNote")
                .with_text("ContentType", "text/plain")
                .with_text("ContentData", "Welcome!"),
        );
        expect_code(&alice, create, 200, &w).await;
        let joined = expect_named(
            &bob,
            join_req(&g, Some("Bob"), false),
            "JoinGroup-Response",
            &w,
        )
        .await;
        assert_eq!(
            joined
                .path(&["WelcomeNote", "ContentData"])
                .map(|d| d.text.as_str()),
            Some("Welcome!"),
            "{w}"
        );
        drain(&bob).await;
        let set = |topic: &str| {
            group_req("SetGroupProps-Request", &g)
                .with(Element::new("GroupProperties").with(prop("Topic", topic)))
        };
        expect_code(&bob, set("mine"), 816, &format!("{w}: not an admin")).await;
        expect_code(&alice, set("Rust"), 200, &w).await;
        let notices = drain_named(&bob, "GroupChangeNotice").await;
        assert_eq!(notices.len(), 1, "{w}: {notices:?}");
        assert_eq!(
            prop_of(notices[0].child("GroupProperties").unwrap(), "Topic"),
            Some("Rust")
        );
        let props = expect_named(
            &bob,
            group_req("GetGroupProps-Request", &g),
            "GetGroupProps-Response",
            &w,
        )
        .await;
        let gp = props.child("GroupProperties").unwrap();
        assert_eq!(prop_of(gp, "Topic"), Some("Rust"));
        assert_eq!(prop_of(gp, "Name"), Some("Topics"));
        assert_eq!(prop_of(gp, "ActiveUsers"), Some("2"));
        assert_eq!(
            prop_of(props.child("OwnProperties").unwrap(), "ShowID"),
            Some("F")
        );
        // A user may show their ID (own property); then mappings carry it.
        let show = group_req("SetGroupProps-Request", &g)
            .with(Element::new("OwnProperties").with(prop("ShowID", "T")));
        expect_code(&bob, show, 200, &w).await;
        if v >= Version::V1_2 {
            let list = expect_named(
                &bob,
                group_req("GetJoinedUsers-Request", &g),
                "GetJoinedUsers-Response",
                &w,
            )
            .await;
            assert_eq!(user_ids(&list), [uid("bob")], "{w}");
        }
        let bad = group_req("SetGroupProps-Request", &g)
            .with(Element::new("GroupProperties").with(prop("MaxActiveUsers", "many")));
        expect_code(&alice, bad, 806, &w).await;
        alice.logout().await.unwrap();
        bob.logout().await.unwrap();
    }
}

#[tokio::test]
async fn base_grp_reject_list() {
    let srv = server().await;
    for (i, (v, e)) in combos().into_iter().enumerate() {
        let w = format!("{v} {e:?}");
        let g = gid("alice", &format!("strict{i}"));
        let alice = login(&srv, v, e, "alice", "a").await;
        let bob = login(&srv, v, e, "bob", "b").await;
        expect_code(&alice, create_req(&g, &[], Some("Alice")), 200, &w).await;
        expect_named(
            &bob,
            join_req(&g, Some("Bob"), false),
            "JoinGroup-Response",
            &w,
        )
        .await;
        let reject = group_req("RejectList-Request", &g)
            .with(Element::new("AddList").with_text("UserID", uid("bob")));
        expect_code(&bob, reject.clone(), 816, &w).await;
        let list = expect_named(&alice, reject, "RejectList-Response", &w).await;
        assert_eq!(user_ids(&list), [uid("bob")], "{w}");
        let out = drain_named(&bob, "LeaveGroup-Response").await;
        assert_eq!(out.len(), 1, "{w}: the rejected user is put out");
        assert_eq!(code_of(&out[0]), Some(809));
        expect_code(&bob, join_req(&g, Some("Bob"), false), 809, &w).await;
        let unreject = group_req("RejectList-Request", &g)
            .with(Element::new("RemoveList").with_text("UserID", uid("bob")));
        let list = expect_named(&alice, unreject, "RejectList-Response", &w).await;
        assert!(user_ids(&list).is_empty(), "{w}");
        expect_named(
            &bob,
            join_req(&g, Some("Bob"), false),
            "JoinGroup-Response",
            &w,
        )
        .await;
        alice.logout().await.unwrap();
        bob.logout().await.unwrap();
    }
}

#[tokio::test]
async fn base_grp_subscribe_group_notice() {
    let srv = server().await;
    for (i, (v, e)) in combos().into_iter().enumerate() {
        let w = format!("{v} {e:?}");
        let g = gid("alice", &format!("quiet{i}"));
        let alice = login(&srv, v, e, "alice", "a").await;
        let bob = login(&srv, v, e, "bob", "b").await;
        expect_code(&alice, create_req(&g, &[], Some("Alice")), 200, &w).await;
        let sub =
            |t: &str| group_req("SubscribeGroupNotice-Request", &g).with_text("SubscribeType", t);
        expect_code(&bob, sub("G"), 808, &format!("{w}: not joined")).await;
        let get = expect_named(&alice, sub("G"), "SubscribeGroupNotice-Response", &w).await;
        assert_eq!(get.child_text("Value"), Some("T"), "{w}");
        let off = expect_named(&alice, sub("U"), "SubscribeGroupNotice-Response", &w).await;
        assert_eq!(off.child_text("Value"), Some("F"));
        expect_named(
            &bob,
            join_req(&g, Some("Bob"), false),
            "JoinGroup-Response",
            &w,
        )
        .await;
        assert!(
            drain_named(&alice, "GroupChangeNotice").await.is_empty(),
            "{w}: unsubscribed"
        );
        expect_named(&alice, sub("S"), "SubscribeGroupNotice-Response", &w).await;
        expect_named(&bob, leave_req(&g), "LeaveGroup-Response", &w).await;
        assert_eq!(
            drain_named(&alice, "GroupChangeNotice").await.len(),
            1,
            "{w}: subscribed again"
        );
        alice.logout().await.unwrap();
        bob.logout().await.unwrap();
    }
}

#[tokio::test]
async fn ppr_9_group_admin_sets_a_minimum_age() {
    let srv = server().await;
    for (i, (v, e)) in combos().into_iter().enumerate() {
        let w = format!("{v} {e:?}");
        let g = gid("alice", &format!("adults{i}"));
        let alice = login(&srv, v, e, "alice", "a").await;
        let bob = login(&srv, v, e, "bob", "b").await;
        expect_code(
            &alice,
            create_req(&g, &[("MinimumAge", "18")], None),
            200,
            &w,
        )
        .await;
        let props = expect_named(
            &alice,
            group_req("GetGroupProps-Request", &g),
            "GetGroupProps-Response",
            &w,
        )
        .await;
        assert_eq!(
            prop_of(props.child("GroupProperties").unwrap(), "MinimumAge"),
            Some("18"),
            "{w}"
        );
        let set = |age: &str| {
            group_req("SetGroupProps-Request", &g)
                .with(Element::new("GroupProperties").with(prop("MinimumAge", age)))
        };
        expect_code(&bob, set("12"), 816, &format!("{w}: only an admin")).await;
        expect_code(&alice, set("abc"), 806, &w).await;
        expect_code(&alice, set("21"), 200, &w).await;
        let props = expect_named(
            &bob,
            group_req("GetGroupProps-Request", &g),
            "GetGroupProps-Response",
            &w,
        )
        .await;
        assert_eq!(
            prop_of(props.child("GroupProperties").unwrap(), "MinimumAge"),
            Some("21"),
            "{w}"
        );
        alice.logout().await.unwrap();
        bob.logout().await.unwrap();
    }
}

#[tokio::test]
async fn ppr_10_users_under_the_minimum_age_cannot_join() {
    let srv = server().await;
    let year = 1970
        + (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            / 31_557_600) as u16;
    set_birth(&srv, "bob", year - 15, 1).await;
    set_birth(&srv, "carol", year - 30, 1).await;
    for (i, (v, e)) in combos().into_iter().enumerate() {
        let w = format!("{v} {e:?}");
        let g = gid("alice", &format!("over18_{i}"));
        let alice = login(&srv, v, e, "alice", "a").await;
        let bob = login(&srv, v, e, "bob", "b").await;
        let carol = login(&srv, v, e, "carol", "c").await;
        let dave = login(&srv, v, e, "dave", "d").await;
        expect_code(
            &alice,
            create_req(&g, &[("MinimumAge", "18")], None),
            200,
            &w,
        )
        .await;
        expect_code(
            &bob,
            join_req(&g, Some("Bob"), false),
            431,
            &format!("{w}: 15 is under 18"),
        )
        .await;
        expect_code(
            &dave,
            join_req(&g, Some("Dave"), false),
            431,
            &format!("{w}: unknown age"),
        )
        .await;
        expect_named(
            &carol,
            join_req(&g, Some("Carol"), false),
            "JoinGroup-Response",
            &format!("{w}: 30"),
        )
        .await;
        for c in [&alice, &bob, &carol, &dave] {
            c.logout().await.unwrap();
        }
    }
}
