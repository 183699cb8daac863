//! The groups area's part of the conformance suite: what every backend
//! must do with groups, members, joined users, rejects, passes,
//! and invitations (birth dates are the profile's: see
//! `conformance_directory`). Run against `MemStore` (the reference) and
//! SQLite. Panics say which promise a backend broke.

use imps_core::Store;
use imps_core::store::{
    Access, GroupPass, GroupRecord, InviteRecord, JoinOutcome, JoinedUser, PassKind, StoreError,
    WelcomeNote,
};

/// Runs every groups check against `store`, which should start empty.
pub async fn run_all(store: &dyn Store) {
    groups_create_read_update_delete(store).await;
    groups_members_and_rejects(store).await;
    groups_join_rules(store).await;
    groups_passes(store).await;
    groups_invites(store).await;
}

fn group(id: &str, owner: &str) -> GroupRecord {
    GroupRecord {
        id: id.into(),
        owner: owner.into(),
        private: false,
        props: vec![
            ("Name".into(), "Chat ☺".into()),
            ("AccessType".into(), "Open".into()),
        ],
        welcome: Some(WelcomeNote {
            content_type: "text/plain".into(),
            encoding: None,
            data: "Hello".into(),
        }),
        created_ms: 1_700_000_000_000,
    }
}

fn joined(user: &str, sname: &str, session: &str) -> JoinedUser {
    JoinedUser {
        user: user.into(),
        sname: sname.into(),
        session_id: session.into(),
        subscribed: true,
        show_id: false,
        joined_ms: 1_700_000_000_100,
    }
}

fn ok<T>(r: Result<T, StoreError>, what: &str) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{what} failed: {e}"),
    }
}

pub async fn groups_create_read_update_delete(store: &dyn Store) {
    let mut g = group("wv:alice/crud@localhost", "alice");
    ok(store.create_group(g.clone()).await, "create_group");
    let mut sorted = g.clone();
    sorted.props.sort();
    assert_eq!(
        ok(store.group(&g.id).await, "group"),
        Some(sorted.clone()),
        "group read back differs"
    );
    assert!(
        matches!(
            store.create_group(g.clone()).await,
            Err(StoreError::Conflict(_))
        ),
        "a second create of the same ID must conflict"
    );
    assert_eq!(
        ok(store.members(&g.id).await, "members"),
        vec![("alice".to_string(), Access::Admin)],
        "the owner is an Admin member"
    );
    g.props = vec![("Topic".into(), "t".into())];
    g.welcome = None;
    assert!(ok(store.update_group(g.clone()).await, "update_group"));
    let back = ok(store.group(&g.id).await, "group").unwrap_or_else(|| panic!("group vanished"));
    assert_eq!(back.props, g.props, "update replaces the properties");
    assert_eq!(back.welcome, None, "update clears the welcome note");
    assert!(
        ok(store.groups().await, "groups")
            .iter()
            .any(|x| x.id == g.id)
    );
    ok(
        store.join(&g.id, joined("bob", "Bob", "s-crud"), 10).await,
        "join",
    );
    ok(store.set_reject(&g.id, "eve", true).await, "set_reject");
    assert!(ok(store.delete_group(&g.id).await, "delete_group"));
    assert!(
        !ok(store.delete_group(&g.id).await, "delete_group"),
        "second delete finds nothing"
    );
    assert_eq!(ok(store.group(&g.id).await, "group"), None);
    assert!(
        ok(store.joined(&g.id).await, "joined").is_empty(),
        "joined rows go with the group"
    );
    assert!(
        ok(store.rejects(&g.id).await, "rejects").is_empty(),
        "rejects go with the group"
    );
    assert!(ok(store.joined_by_session("s-crud").await, "joined_by_session").is_empty());
}

pub async fn groups_members_and_rejects(store: &dyn Store) {
    let g = group("wv:alice/members@localhost", "alice");
    ok(store.create_group(g.clone()).await, "create_group");
    assert!(ok(
        store.set_member(&g.id, "bob", Some(Access::Mod)).await,
        "set_member"
    ));
    assert!(ok(
        store.set_member(&g.id, "bob", Some(Access::User)).await,
        "set_member"
    ));
    assert!(ok(
        store.set_member(&g.id, "carol", Some(Access::User)).await,
        "set_member"
    ));
    assert_eq!(
        ok(store.members(&g.id).await, "members"),
        vec![
            ("alice".to_string(), Access::Admin),
            ("bob".to_string(), Access::User),
            ("carol".to_string(), Access::User)
        ]
    );
    assert!(ok(
        store.set_member(&g.id, "carol", None).await,
        "set_member"
    ));
    assert!(
        !ok(store.set_member(&g.id, "carol", None).await, "set_member"),
        "removing twice finds nothing"
    );
    assert!(ok(store.set_reject(&g.id, "eve", true).await, "set_reject"));
    assert!(
        !ok(store.set_reject(&g.id, "eve", true).await, "set_reject"),
        "rejecting twice changes nothing"
    );
    assert!(ok(
        store.set_reject(&g.id, "dave", true).await,
        "set_reject"
    ));
    assert_eq!(
        ok(store.rejects(&g.id).await, "rejects"),
        vec!["dave", "eve"]
    );
    assert!(ok(
        store.set_reject(&g.id, "eve", false).await,
        "set_reject"
    ));
    assert_eq!(ok(store.rejects(&g.id).await, "rejects"), vec!["dave"]);
}

pub async fn groups_join_rules(store: &dyn Store) {
    let g = group("wv:alice/join@localhost", "alice");
    ok(store.create_group(g.clone()).await, "create_group");
    let a = joined("alice", "Alice", "s-a");
    assert_eq!(
        ok(store.join(&g.id, a.clone(), 2).await, "join"),
        JoinOutcome::Joined
    );
    assert_eq!(
        ok(
            store.join(&g.id, joined("alice", "Other", "s-a2"), 2).await,
            "join"
        ),
        JoinOutcome::AlreadyJoined(a.clone()),
        "a user joins once"
    );
    assert_eq!(
        ok(
            store.join(&g.id, joined("bob", "ALICE", "s-b"), 2).await,
            "join"
        ),
        JoinOutcome::ScreenNameTaken,
        "screen names are unique ignoring case"
    );
    assert_eq!(
        ok(
            store.join(&g.id, joined("bob", "Bob", "s-b"), 2).await,
            "join"
        ),
        JoinOutcome::Joined
    );
    assert_eq!(
        ok(
            store.join(&g.id, joined("carol", "Carol", "s-c"), 2).await,
            "join"
        ),
        JoinOutcome::Full,
        "max joined users"
    );
    let users: Vec<String> = ok(store.joined(&g.id).await, "joined")
        .into_iter()
        .map(|j| j.user)
        .collect();
    assert_eq!(users, vec!["alice", "bob"], "joined users in join order");
    assert!(ok(
        store
            .set_joined_flags(&g.id, "bob", Some(false), Some(true))
            .await,
        "flags"
    ));
    let bob = ok(store.joined(&g.id).await, "joined")
        .into_iter()
        .find(|j| j.user == "bob");
    assert!(
        bob.as_ref().is_some_and(|b| !b.subscribed && b.show_id),
        "flags stored: {bob:?}"
    );
    assert!(!ok(
        store
            .set_joined_flags(&g.id, "carol", Some(true), None)
            .await,
        "flags"
    ));
    let by_session = ok(store.joined_by_session("s-a").await, "joined_by_session");
    assert_eq!(by_session, vec![(g.id.clone(), a.clone())]);
    assert_eq!(ok(store.leave(&g.id, "alice").await, "leave"), Some(a));
    assert_eq!(ok(store.leave(&g.id, "alice").await, "leave"), None);
    assert_eq!(
        ok(
            store.join(&g.id, joined("carol", "Alice", "s-c"), 2).await,
            "join"
        ),
        JoinOutcome::Joined
    );
}

pub async fn groups_passes(store: &dyn Store) {
    let mut g = group("wv:alice/pgc@localhost", "alice");
    g.private = true;
    ok(store.create_group(g.clone()).await, "create_group");
    let p = GroupPass {
        user: "bob".into(),
        kind: PassKind::Invited,
        until_ms: None,
    };
    ok(store.put_pass(&g.id, p.clone()).await, "put_pass");
    assert_eq!(ok(store.pass(&g.id, "bob").await, "pass"), Some(p));
    let r = GroupPass {
        user: "bob".into(),
        kind: PassKind::Rejoin,
        until_ms: Some(1_700_000_300_000),
    };
    ok(store.put_pass(&g.id, r.clone()).await, "put_pass");
    assert_eq!(
        ok(store.passes(&g.id).await, "passes"),
        vec![r],
        "a new pass replaces the old one"
    );
    assert!(ok(store.remove_pass(&g.id, "bob").await, "remove_pass"));
    assert_eq!(ok(store.pass(&g.id, "bob").await, "pass"), None);
    assert!(!ok(store.remove_pass(&g.id, "bob").await, "remove_pass"));
    groups_expired_passes_and_counts(store).await;
}

/// Passes that have run out, oldest first and bounded; group counts.
pub async fn groups_expired_passes_and_counts(store: &dyn Store) {
    let before = ok(store.count_groups(None).await, "count_groups");
    let mut a = group("wv:zed/one@localhost", "zed");
    a.private = true;
    let b = group("wv:zed/two@localhost", "zed");
    ok(store.create_group(a.clone()).await, "create_group");
    ok(store.create_group(b.clone()).await, "create_group");
    assert_eq!(
        ok(store.count_groups(None).await, "count_groups"),
        before + 2
    );
    assert_eq!(ok(store.count_groups(Some("zed")).await, "count_groups"), 2);
    assert_eq!(
        ok(store.count_groups(Some("nobody")).await, "count_groups"),
        0
    );
    let pass = |user: &str, kind, until_ms| GroupPass {
        user: user.into(),
        kind,
        until_ms,
    };
    let t = 2_000_000_000_000u64;
    ok(
        store
            .put_pass(&a.id, pass("u1", PassKind::Rejoin, Some(t + 30)))
            .await,
        "put_pass",
    );
    ok(
        store
            .put_pass(&a.id, pass("u2", PassKind::Invited, Some(t + 10)))
            .await,
        "put_pass",
    );
    ok(
        store
            .put_pass(&a.id, pass("u3", PassKind::Invited, None))
            .await,
        "put_pass",
    );
    ok(
        store
            .put_pass(&b.id, pass("u4", PassKind::Rejoin, Some(t + 20)))
            .await,
        "put_pass",
    );
    ok(
        store
            .put_pass(&b.id, pass("u5", PassKind::Rejoin, Some(t + 99)))
            .await,
        "put_pass",
    );
    let got = ok(store.expired_passes(t + 30, 10).await, "expired_passes");
    let got: Vec<(&str, &str)> = got
        .iter()
        .filter(|(g, _)| g.starts_with("wv:zed/"))
        .map(|(g, p)| (g.as_str(), p.user.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (a.id.as_str(), "u2"),
            (b.id.as_str(), "u4"),
            (a.id.as_str(), "u1")
        ],
        "expired at or before now, oldest first, never the open-ended"
    );
    assert_eq!(
        ok(store.expired_passes(t + 30, 1).await, "expired_passes").len(),
        1
    );
    assert!(
        ok(store.expired_passes(t, 10).await, "expired_passes")
            .iter()
            .all(|(g, _)| !g.starts_with("wv:zed/"))
    );
    assert!(ok(store.delete_group(&a.id).await, "delete_group"));
    assert!(ok(store.delete_group(&b.id).await, "delete_group"));
    assert_eq!(ok(store.count_groups(Some("zed")).await, "count_groups"), 0);
    assert!(
        ok(store.expired_passes(t + 1_000, 10).await, "expired_passes")
            .iter()
            .all(|(g, _)| !g.starts_with("wv:zed/")),
        "passes go with their group"
    );
}

pub async fn groups_invites(store: &dyn Store) {
    let g = group("wv:alice/inv@localhost", "alice");
    ok(store.create_group(g.clone()).await, "create_group");
    let inv = |invitee: &str, gid: Option<&str>| InviteRecord {
        invite_id: "i1".into(),
        invitee: invitee.into(),
        inviter: "alice".into(),
        kind: if gid.is_some() { "GR" } else { "SC" }.into(),
        group_id: gid.map(str::to_string),
        note: Some("come".into()),
        sname: Some("Alice".into()),
        urls: if gid.is_some() {
            vec![]
        } else {
            vec!["http://a/1".into(), "http://a/2".into()]
        },
        created_ms: 1_700_000_000_000,
        expires_ms: Some(1_700_000_600_000),
        delivered: false,
    };
    let bob = inv("bob", Some(&g.id));
    let carol = inv("carol", None);
    ok(store.put_invite(bob.clone()).await, "put_invite");
    ok(store.put_invite(carol.clone()).await, "put_invite");
    assert_eq!(
        ok(store.invite("i1", "bob").await, "invite"),
        Some(bob.clone())
    );
    assert_eq!(
        ok(store.invite("i1", "carol").await, "invite"),
        Some(carol.clone()),
        "URLs round-trip"
    );
    assert_eq!(
        ok(store.invites_from("alice", "i1").await, "invites_from").len(),
        2
    );
    assert_eq!(
        ok(store.pending_invites("bob").await, "pending"),
        vec![bob.clone()]
    );
    ok(
        store.mark_invite_delivered("i1", "bob").await,
        "mark delivered",
    );
    assert!(ok(store.pending_invites("bob").await, "pending").is_empty());
    assert!(ok(
        store.delete_invite("i1", "carol").await,
        "delete_invite"
    ));
    assert!(!ok(
        store.delete_invite("i1", "carol").await,
        "delete_invite"
    ));
    ok(store.delete_group(&g.id).await, "delete_group");
    assert_eq!(
        ok(store.invite("i1", "bob").await, "invite"),
        None,
        "a group's invitations go with it"
    );
}
