//! The promises of `ListStore` every backend must keep, run against
//! `MemStore` (the reference) and SQLite. Each check uses its own owner
//! IDs, so the checks can share one store in any order.

use imps_core::Store;
use imps_core::store::{
    AccessChange, AccessCheck, ContactEntry, ContactListRecord, CreateListOutcome,
    DEFAULT_BLOCK_IN_USE, DEFAULT_GRANT_IN_USE, ListChange, ListChangeOutcome,
};

/// Runs every check against `store`.
pub async fn run_all(store: &dyn Store) {
    lists_keep_creation_order_and_one_default(store).await;
    list_limits_write_nothing(store).await;
    members_keep_order_and_nicknames(store).await;
    contact_and_grant_list_change_together(store).await;
    delete_takes_members_along(store).await;
    access_lists_defaults_changes_and_limits(store).await;
    added_notify_defaults_to_true(store).await;
}

fn list(owner: &str, name: &str, default: bool) -> ContactListRecord {
    ContactListRecord {
        owner: owner.into(),
        name: name.into(),
        wire_id: format!("wv:{owner}/{}@localhost", name.to_uppercase()),
        display_name: Some(format!("{name} ☺")),
        is_default: default,
        created_ms: 1_700_000_000_000,
    }
}

fn entry(user: &str, nick: Option<&str>) -> ContactEntry {
    ContactEntry {
        user_id: user.into(),
        nickname: nick.map(str::to_string),
    }
}

fn change(owner: &str, name: &str) -> ListChange {
    ListChange {
        owner: owner.into(),
        name: name.into(),
        max_contacts: 100,
        max_grants: 100,
        ..ListChange::default()
    }
}

async fn create(
    store: &dyn Store,
    l: ContactListRecord,
    members: Vec<ContactEntry>,
) -> CreateListOutcome {
    match store.create_contact_list(l, members, 10, 100).await {
        Ok(o) => o,
        Err(e) => panic!("create_contact_list failed: {e}"),
    }
}

async fn members(store: &dyn Store, owner: &str, name: &str) -> Option<Vec<ContactEntry>> {
    match store.contacts(owner, name).await {
        Ok(m) => m,
        Err(e) => panic!("contacts({owner}, {name}) failed: {e}"),
    }
}

async fn apply(store: &dyn Store, c: ListChange) -> ListChangeOutcome {
    match store.change_contact_list(c).await {
        Ok(o) => o,
        Err(e) => panic!("change_contact_list failed: {e}"),
    }
}

pub async fn lists_keep_creation_order_and_one_default(store: &dyn Store) {
    let o = "cl-order";
    assert_eq!(
        create(store, list(o, "b", true), vec![]).await,
        CreateListOutcome::Created
    );
    assert_eq!(
        create(store, list(o, "a", false), vec![]).await,
        CreateListOutcome::Created
    );
    assert_eq!(
        create(store, list(o, "a", false), vec![]).await,
        CreateListOutcome::Exists
    );
    let got = store.contact_lists(o).await.unwrap_or_default();
    let names: Vec<&str> = got.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["b", "a"], "lists come back in creation order");
    assert_eq!(got[0], list(o, "b", true), "a list reads back as written");
    // A new default list takes the flag from the old one.
    assert_eq!(
        create(store, list(o, "c", true), vec![]).await,
        CreateListOutcome::Created
    );
    let defaults: Vec<String> = store
        .contact_lists(o)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|l| l.is_default)
        .map(|l| l.name)
        .collect();
    assert_eq!(defaults, ["c"]);
    // So does one made default by a change.
    let mut c = change(o, "a");
    c.default = Some(true);
    c.display_name = Some("Renamed".into());
    assert!(matches!(
        apply(store, c).await,
        ListChangeOutcome::Applied { .. }
    ));
    let got = store.contact_lists(o).await.unwrap_or_default();
    let defaults: Vec<&str> = got
        .iter()
        .filter(|l| l.is_default)
        .map(|l| l.name.as_str())
        .collect();
    assert_eq!(defaults, ["a"]);
    assert_eq!(got[1].display_name.as_deref(), Some("Renamed"));
    assert!(
        store
            .contact_lists("cl-nobody")
            .await
            .unwrap_or_default()
            .is_empty()
    );
}

pub async fn list_limits_write_nothing(store: &dyn Store) {
    let o = "cl-limits";
    for i in 0..2 {
        let r = store
            .create_contact_list(list(o, &format!("l{i}"), false), vec![], 2, 100)
            .await;
        assert_eq!(r, Ok(CreateListOutcome::Created));
    }
    let r = store
        .create_contact_list(list(o, "l9", false), vec![], 2, 100)
        .await;
    assert_eq!(r, Ok(CreateListOutcome::TooManyLists));
    let many = vec![entry("x1", None), entry("x2", None), entry("x3", None)];
    let r = store
        .create_contact_list(list(o, "big", false), many, 10, 2)
        .await;
    assert_eq!(r, Ok(CreateListOutcome::TooManyContacts));
    assert_eq!(
        members(store, o, "big").await,
        None,
        "a refused create leaves no list"
    );
    let mut c = change(o, "l0");
    c.max_contacts = 2;
    c.add = vec![entry("x1", None), entry("x2", None), entry("x3", None)];
    assert_eq!(apply(store, c).await, ListChangeOutcome::TooManyContacts);
    assert_eq!(
        members(store, o, "l0").await,
        Some(vec![]),
        "a refused change writes nothing"
    );
    assert_eq!(
        apply(store, change(o, "none")).await,
        ListChangeOutcome::NoSuchList
    );
}

pub async fn members_keep_order_and_nicknames(store: &dyn Store) {
    let o = "cl-members";
    let first = vec![entry("zed", Some("Z")), entry("amy", None)];
    assert_eq!(
        create(store, list(o, "f", false), first).await,
        CreateListOutcome::Created
    );
    let mut c = change(o, "f");
    c.add = vec![
        entry("bob", Some("Bobby ☺")),
        entry("zed", None),
        entry("amy", Some("A")),
    ];
    let out = apply(store, c).await;
    assert_eq!(
        out,
        ListChangeOutcome::Applied {
            newly_added: vec!["bob".into()],
            newly_granted: vec![]
        }
    );
    let want = vec![
        entry("zed", Some("Z")),
        entry("amy", Some("A")),
        entry("bob", Some("Bobby ☺")),
    ];
    assert_eq!(
        members(store, o, "f").await,
        Some(want),
        "insertion order; None keeps a nickname"
    );
    let mut c = change(o, "f");
    c.remove = vec!["zed".into(), "not-there".into()];
    apply(store, c).await;
    let got = members(store, o, "f").await.unwrap_or_default();
    assert_eq!(got.len(), 2);
    assert_eq!(store.is_contact(o, "amy").await, Ok(true));
    assert_eq!(store.is_contact(o, "zed").await, Ok(false));
    assert_eq!(store.is_contact("cl-other", "amy").await, Ok(false));
}

pub async fn contact_and_grant_list_change_together(store: &dyn Store) {
    let o = "cl-adc2";
    create(store, list(o, "f", false), vec![]).await;
    let mut c = change(o, "f");
    c.add = vec![entry("bob", None), entry("carol", None)];
    c.grant_added = true;
    c.max_grants = 1;
    assert_eq!(apply(store, c).await, ListChangeOutcome::TooManyContacts);
    assert_eq!(
        members(store, o, "f").await,
        Some(vec![]),
        "grant list full: contact list untouched too"
    );
    let mut c = change(o, "f");
    c.add = vec![entry("bob", None), entry("carol", None)];
    c.grant_added = true;
    assert_eq!(
        apply(store, c).await,
        ListChangeOutcome::Applied {
            newly_added: vec!["bob".into(), "carol".into()],
            newly_granted: vec!["bob".into(), "carol".into()],
        }
    );
    let a = store
        .access_lists(o)
        .await
        .unwrap_or_else(|e| panic!("access_lists: {e}"));
    assert_eq!(a.granted, ["bob", "carol"]);
    // Undo, as the core does when authorization fails.
    let mut c = change(o, "f");
    c.remove = vec!["bob".into(), "carol".into()];
    c.ungrant = vec!["bob".into(), "carol".into()];
    apply(store, c).await;
    assert_eq!(members(store, o, "f").await, Some(vec![]));
    let a = store
        .access_lists(o)
        .await
        .unwrap_or_else(|e| panic!("access_lists: {e}"));
    assert!(a.granted.is_empty());
}

pub async fn delete_takes_members_along(store: &dyn Store) {
    let o = "cl-delete";
    create(store, list(o, "f", false), vec![entry("bob", None)]).await;
    assert_eq!(store.delete_contact_list(o, "f").await, Ok(true));
    assert_eq!(store.delete_contact_list(o, "f").await, Ok(false));
    assert_eq!(members(store, o, "f").await, None);
    assert_eq!(store.is_contact(o, "bob").await, Ok(false));
    // Same name again starts empty.
    create(store, list(o, "f", false), vec![]).await;
    assert_eq!(members(store, o, "f").await, Some(vec![]));
}

pub async fn access_lists_defaults_changes_and_limits(store: &dyn Store) {
    let o = "cl-access";
    let a = store
        .access_lists(o)
        .await
        .unwrap_or_else(|e| panic!("access_lists: {e}"));
    assert_eq!(
        (a.block_in_use, a.grant_in_use),
        (DEFAULT_BLOCK_IN_USE, DEFAULT_GRANT_IN_USE)
    );
    assert!(a.blocked.is_empty() && a.granted.is_empty());
    let empty = |c: AccessCheck| c.block_list_empty;
    let check = |other: &'static str| async move {
        store
            .access_check(o, other)
            .await
            .unwrap_or_else(|e| panic!("access_check: {e}"))
    };
    assert!(empty(check("eve").await), "nobody blocked yet");
    let ok = store
        .change_access(AccessChange {
            owner: o.into(),
            grant_add: vec!["bob".into()],
            max_entries: 5,
            ..AccessChange::default()
        })
        .await;
    assert_eq!(ok, Ok(true));
    assert!(empty(check("eve").await), "a grant entry blocks nobody");
    let ok = store
        .change_access(AccessChange {
            owner: o.into(),
            block_in_use: Some(true),
            grant_in_use: Some(true),
            block_add: vec!["mallory".into(), "eve".into(), "mallory".into()],
            grant_add: vec!["bob".into()],
            max_entries: 5,
            ..AccessChange::default()
        })
        .await;
    assert_eq!(ok, Ok(true));
    let a = store
        .access_lists(o)
        .await
        .unwrap_or_else(|e| panic!("access_lists: {e}"));
    assert_eq!(
        a.blocked,
        ["mallory", "eve"],
        "insertion order, no duplicates"
    );
    assert!(a.block_in_use && a.grant_in_use);
    let check = store
        .access_check(o, "eve")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(check.blocked && !check.granted && check.block_in_use);
    let check = store
        .access_check(o, "bob")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!check.blocked && check.granted);
    assert!(!check.block_list_empty, "asked about a user not on it");
    let over = store
        .change_access(AccessChange {
            owner: o.into(),
            block_remove: vec!["eve".into()],
            block_add: vec!["a".into(), "b".into()],
            max_entries: 2,
            ..AccessChange::default()
        })
        .await;
    assert_eq!(over, Ok(false));
    let a = store
        .access_lists(o)
        .await
        .unwrap_or_else(|e| panic!("access_lists: {e}"));
    assert_eq!(
        a.blocked,
        ["mallory", "eve"],
        "a refused change writes nothing"
    );
    let ok = store
        .change_access(AccessChange {
            owner: o.into(),
            block_in_use: Some(false),
            block_remove: vec!["mallory".into()],
            max_entries: 2,
            ..AccessChange::default()
        })
        .await;
    assert_eq!(ok, Ok(true));
    let a = store
        .access_lists(o)
        .await
        .unwrap_or_else(|e| panic!("access_lists: {e}"));
    assert_eq!(a.blocked, ["eve"]);
    assert!(
        !a.block_in_use && a.grant_in_use,
        "flags not named stay as they were"
    );
}

pub async fn added_notify_defaults_to_true(store: &dyn Store) {
    assert_eq!(store.added_notify("cl-notify").await, Ok(true));
    assert_eq!(store.set_added_notify("cl-notify", false).await, Ok(()));
    assert_eq!(store.added_notify("cl-notify").await, Ok(false));
    // Changing the block list keeps the opt-out.
    let _ = store
        .change_access(AccessChange {
            owner: "cl-notify".into(),
            grant_in_use: Some(true),
            max_entries: 5,
            ..AccessChange::default()
        })
        .await;
    assert_eq!(store.added_notify("cl-notify").await, Ok(false));
    assert_eq!(store.set_added_notify("cl-notify", true).await, Ok(()));
    assert_eq!(store.added_notify("cl-notify").await, Ok(true));
}
