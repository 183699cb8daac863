//! The remote group joins' part of the conformance suite (issue 17):
//! what every backend must do with the record of which of our users
//! joined groups of peer domains, from which session. Test-support code:
//! a failure panics saying which promise the backend broke. The check
//! leaves no rows behind.

use imps_core::store::RemoteJoin;
use imps_core::{Store, StoreError};

/// Runs every check against `store` (which must start with no joins).
pub async fn run_all(store: &dyn Store) {
    joins_are_kept_replaced_and_taken_per_session(store).await;
    invitation_groups_are_kept_replaced_and_removed(store).await;
}

async fn invitation_groups_are_kept_replaced_and_removed(store: &dyn Store) {
    assert_eq!(get(store, "inv-1", "bob").await, None, "none at first");
    ok(store.put_invite_group("inv-1", "bob", CHESS).await, "put");
    ok(store.put_invite_group("inv-1", "carol", TEA).await, "put");
    assert_eq!(get(store, "inv-1", "bob").await.as_deref(), Some(CHESS));
    assert_eq!(
        get(store, "inv-1", "carol").await.as_deref(),
        Some(TEA),
        "non-ASCII kept"
    );
    ok(store.put_invite_group("inv-1", "bob", GO).await, "replace");
    assert_eq!(
        get(store, "inv-1", "bob").await.as_deref(),
        Some(GO),
        "replaced"
    );
    ok(store.delete_invite_group("inv-1", "bob").await, "delete");
    assert_eq!(get(store, "inv-1", "bob").await, None, "deleted");
    assert_eq!(
        get(store, "inv-1", "carol").await.as_deref(),
        Some(TEA),
        "the other kept"
    );
    ok(store.delete_invite_group("inv-1", "carol").await, "delete");
    assert_eq!(get(store, "inv-1", "carol").await, None);
}

fn ok<T>(r: Result<T, StoreError>, what: &str) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{what} failed: {e}"),
    }
}

fn join(session: &str, user: &str, group: &str, peer: &str) -> RemoteJoin {
    RemoteJoin {
        session_id: session.to_owned(),
        user: user.to_owned(),
        group_id: group.to_owned(),
        peer: peer.to_owned(),
    }
}

async fn get(s: &dyn Store, invite: &str, invitee: &str) -> Option<String> {
    ok(s.invite_group(invite, invitee).await, "invite_group")
}

async fn all(s: &dyn Store) -> Vec<RemoteJoin> {
    ok(s.remote_joins().await, "remote_joins")
}

const CHESS: &str = "wv:alice/chess@a.example";
const GO: &str = "wv:alice/go@a.example";
const TEA: &str = "wv:zoë/tea@c.example";

async fn joins_are_kept_replaced_and_taken_per_session(store: &dyn Store) {
    assert!(all(store).await.is_empty(), "starts with no joins");
    ok(
        store
            .put_remote_join(join("s1", "bob", CHESS, "a.example"))
            .await,
        "put",
    );
    ok(
        store
            .put_remote_join(join("s1", "bob", GO, "a.example"))
            .await,
        "put",
    );
    ok(
        store
            .put_remote_join(join("s1", "bob", TEA, "c.example"))
            .await,
        "put",
    );
    ok(
        store
            .put_remote_join(join("s2", "carol", CHESS, "a.example"))
            .await,
        "put",
    );
    // The same session and group again: one row, the last peer kept.
    ok(
        store
            .put_remote_join(join("s2", "carol", CHESS, "a.example"))
            .await,
        "put again",
    );
    assert_eq!(
        all(store).await,
        vec![
            join("s1", "bob", CHESS, "a.example"),
            join("s1", "bob", GO, "a.example"),
            join("s1", "bob", TEA, "c.example"),
            join("s2", "carol", CHESS, "a.example"),
        ],
        "in (session, group) order, non-ASCII kept"
    );
    // A leave removes that session's row only.
    ok(store.remove_remote_join("s1", GO).await, "remove");
    ok(
        store.remove_remote_join("s1", "wv:no/such@a.example").await,
        "remove nothing",
    );
    // The host removed carol from chess: every session's row of hers.
    ok(
        store
            .put_remote_join(join("s3", "carol", CHESS, "a.example"))
            .await,
        "put",
    );
    ok(
        store.remove_remote_joins_of("carol", CHESS).await,
        "remove of",
    );
    assert_eq!(
        all(store).await,
        vec![
            join("s1", "bob", CHESS, "a.example"),
            join("s1", "bob", TEA, "c.example"),
        ]
    );
    // The session ends: its joins come back once, then are gone.
    let taken = ok(store.take_remote_joins("s1").await, "take");
    assert_eq!(
        taken,
        vec![
            join("s1", "bob", CHESS, "a.example"),
            join("s1", "bob", TEA, "c.example"),
        ]
    );
    assert!(
        ok(store.take_remote_joins("s1").await, "take again").is_empty(),
        "taken once"
    );
    assert!(all(store).await.is_empty(), "nothing left");
}
