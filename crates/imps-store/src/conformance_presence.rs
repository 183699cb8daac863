//! The presence part of the conformance suite: what every backend must do
//! with presence documents, attribute lists, reactive requests and
//! subscriptions. Test-support code: a failure panics saying which promise
//! the backend broke. Each check uses its own owner IDs.

use imps_core::store::{
    AuthChange, GrantRecord, GrantSubject, ReactiveRecord, ReactiveState, SubscriptionRecord,
};
use imps_core::{Store, StoreError};

/// Runs every presence check against `store`.
pub async fn run_all(store: &dyn Store) {
    documents_round_trip_and_replace(store).await;
    grants_put_replace_delete(store).await;
    reactive_put_replace_delete(store).await;
    subscriptions_by_owner_and_watcher(store).await;
}

/// The value of a store call, or a panic naming the call that failed.
fn ok<T>(r: Result<T, StoreError>, what: &str) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{what} failed: {e}"),
    }
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

async fn documents_round_trip_and_replace(store: &dyn Store) {
    assert_eq!(
        ok(store.presence_doc("pc-nobody").await, "presence_doc"),
        None,
        "unknown user: no document"
    );
    let doc = "<PresenceSubList><StatusText><Qualifier>T</Qualifier><PresenceValue>Ünï ☺</PresenceValue></StatusText></PresenceSubList>";
    ok(
        store
            .put_presence_doc("pc-doc", doc.as_bytes().to_vec(), 1)
            .await,
        "put_presence_doc",
    );
    assert_eq!(
        ok(store.presence_doc("pc-doc").await, "presence_doc").as_deref(),
        Some(doc.as_bytes())
    );
    ok(
        store
            .put_presence_doc("pc-doc", b"<PresenceSubList/>".to_vec(), 2)
            .await,
        "put_presence_doc",
    );
    assert_eq!(
        ok(store.presence_doc("pc-doc").await, "presence_doc").as_deref(),
        Some(&b"<PresenceSubList/>"[..]),
        "a second put replaces the document"
    );
}

async fn grants_put_replace_delete(store: &dyn Store) {
    let owner = "pc-grants";
    let change = AuthChange {
        put_grants: vec![
            GrantRecord {
                subject: GrantSubject::Default,
                attrs: names(&["Alias"]),
            },
            GrantRecord {
                subject: GrantSubject::User("bob".into()),
                attrs: names(&["OnlineStatus", "StatusText"]),
            },
            GrantRecord {
                subject: GrantSubject::User("carol".into()),
                attrs: vec![],
            },
            GrantRecord {
                subject: GrantSubject::List("wv:pc-grants/friends@localhost".into()),
                attrs: names(&["GeoLocation"]),
            },
        ],
        ..AuthChange::default()
    };
    ok(
        store.update_presence_auth(owner, change.clone()).await,
        "update_presence_auth",
    );
    let got = ok(store.presence_auth(owner).await, "presence_auth");
    for g in &change.put_grants {
        assert!(
            got.grants.contains(g),
            "grant {g:?} kept as written (an empty list stays empty)"
        );
    }
    assert_eq!(got.grants.len(), 4);
    assert!(
        ok(store.presence_auth("pc-other").await, "presence_auth")
            .grants
            .is_empty(),
        "grants are per owner"
    );
    // Replace one, delete two, in one change.
    ok(
        store
            .update_presence_auth(
                owner,
                AuthChange {
                    put_grants: vec![GrantRecord {
                        subject: GrantSubject::User("bob".into()),
                        attrs: names(&["Alias"]),
                    }],
                    delete_grants: vec![GrantSubject::User("carol".into()), GrantSubject::Default],
                    ..AuthChange::default()
                },
            )
            .await,
        "update_presence_auth",
    );
    let got = ok(store.presence_auth(owner).await, "presence_auth").grants;
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.contains(&GrantRecord {
        subject: GrantSubject::User("bob".into()),
        attrs: names(&["Alias"]),
    }));
    assert!(
        got.iter()
            .any(|g| matches!(&g.subject, GrantSubject::List(_)))
    );
}

async fn reactive_put_replace_delete(store: &dyn Store) {
    let owner = "pc-reactive";
    let rec = |w: &str, state, attrs: Option<Vec<String>>| ReactiveRecord {
        watcher: w.into(),
        state,
        attrs,
        updated_ms: 1_700_000_000_000,
    };
    let res = store
        .update_presence_auth(
            owner,
            AuthChange {
                put_reactive: vec![
                    rec("bob", ReactiveState::Pending, None),
                    rec(
                        "carol",
                        ReactiveState::Pending,
                        Some(names(&["StatusText"])),
                    ),
                ],
                ..AuthChange::default()
            },
        )
        .await;
    ok(res, "update_presence_auth");
    let got = ok(store.presence_auth(owner).await, "presence_auth").reactive;
    assert_eq!(
        got,
        vec![
            rec("bob", ReactiveState::Pending, None),
            rec(
                "carol",
                ReactiveState::Pending,
                Some(names(&["StatusText"]))
            )
        ],
        "reactive records by watcher, None and Some(attrs) kept apart"
    );
    ok(
        store
            .update_presence_auth(
                owner,
                AuthChange {
                    put_reactive: vec![rec("bob", ReactiveState::Granted, None)],
                    delete_reactive: vec!["carol".into()],
                    ..AuthChange::default()
                },
            )
            .await,
        "update_presence_auth",
    );
    let got = ok(store.presence_auth(owner).await, "presence_auth").reactive;
    assert_eq!(got, vec![rec("bob", ReactiveState::Granted, None)]);
}

async fn subscriptions_by_owner_and_watcher(store: &dyn Store) {
    let sub = |owner: &str, watcher: &str, attrs: Option<Vec<String>>, active| SubscriptionRecord {
        owner: owner.into(),
        watcher: watcher.into(),
        attrs,
        active,
        updated_ms: 5,
    };
    let res = store
        .put_subscriptions(vec![
            sub("pc-o1", "pc-w2", None, true),
            sub(
                "pc-o1",
                "pc-w1",
                Some(names(&["Alias", "StatusText"])),
                true,
            ),
            sub("pc-o2", "pc-w1", None, true),
        ])
        .await;
    ok(res, "put_subscriptions");
    let to = ok(store.subscriptions_to("pc-o1").await, "subscriptions_to");
    assert_eq!(
        to,
        vec![
            sub(
                "pc-o1",
                "pc-w1",
                Some(names(&["Alias", "StatusText"])),
                true
            ),
            sub("pc-o1", "pc-w2", None, true)
        ],
        "watchers of an owner, by watcher"
    );
    let of = ok(store.subscriptions_of("pc-w1").await, "subscriptions_of");
    assert_eq!(
        of.iter().map(|s| s.owner.as_str()).collect::<Vec<_>>(),
        ["pc-o1", "pc-o2"]
    );
    // Ending a subscription keeps it as former.
    ok(
        store
            .put_subscriptions(vec![sub("pc-o1", "pc-w1", None, false)])
            .await,
        "put_subscriptions",
    );
    let to = ok(store.subscriptions_to("pc-o1").await, "subscriptions_to");
    assert_eq!(to[0], sub("pc-o1", "pc-w1", None, false));
    ok(store.put_subscriptions(vec![]).await, "put_subscriptions");
}
