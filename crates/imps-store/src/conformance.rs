//! The behaviour every `Store` backend must share, written once and run
//! against each backend (and against `imps_core::MemStore`, the reference)
//! so the core can rely on it whatever the server is configured with.
//!
//! This is test-support code: failures panic with a message saying which
//! promise the backend broke. Each check uses its own user and session IDs
//! so they can run in any order on one store; list checks tolerate other
//! rows being present.

use imps_core::{NewUser, SessionRecord, Store, StoreError, UserRecord};

/// Runs every check against `store`, which should start empty.
pub async fn run_all(store: &dyn Store) {
    create_and_read_back(store).await;
    optional_fields_round_trip(store).await;
    duplicate_id_conflicts(store).await;
    duplicate_msisdn_conflicts(store).await;
    find_by_msisdn(store).await;
    unknown_user_is_none(store).await;
    set_password_existing_and_missing(store).await;
    users_listed_by_id(store).await;
    sessions_put_list_delete(store).await;
    put_session_twice_replaces(store).await;
    take_sessions_of_node_takes_that_nodes_once(store).await;
    ping_answers(store).await;
}

fn new_user(id: &str, msisdn: Option<&str>) -> NewUser {
    NewUser {
        id: id.to_owned(),
        password_hash: Some(format!("$argon2id$v=19$m=19456,t=2,p=1$salt${id}")),
        digest_secret: Some(vec![0, 1, 2, 255]),
        msisdn: msisdn.map(str::to_owned),
        friendly_name: Some(format!("{id} Ünïcode ☺")),
        created_ms: 1_700_000_000_123,
    }
}

fn as_record(u: &NewUser) -> UserRecord {
    UserRecord {
        id: u.id.clone(),
        password_hash: u.password_hash.clone(),
        digest_secret: u.digest_secret.clone(),
        msisdn: u.msisdn.clone(),
        friendly_name: u.friendly_name.clone(),
        created_ms: u.created_ms,
    }
}

fn session(id: &str, user: &str, cookie: &str) -> SessionRecord {
    SessionRecord {
        id: id.to_owned(),
        user_id: user.to_owned(),
        client_id: format!("wv:{user}-phone"),
        version: "1.3".to_owned(),
        cookie: cookie.to_owned(),
        ttl_secs: 1_800,
        created_ms: 1_700_000_000_456,
        delivery_method: None,
        bare_ids: false,
        android_engine: false,
        withheld: Vec::new(),
        cir_target: None,
        node: None,
    }
}

async fn create(store: &dyn Store, u: &NewUser) {
    let res = store.create_user(u.clone()).await;
    assert!(res.is_ok(), "create_user({}) failed: {res:?}", u.id);
}

async fn get(store: &dyn Store, id: &str) -> Option<UserRecord> {
    match store.user(id).await {
        Ok(u) => u,
        Err(e) => panic!("user({id}) failed: {e}"),
    }
}

/// The health check's ping answers on a working store, before and after
/// writes, and changes nothing.
pub async fn ping_answers(store: &dyn Store) {
    store.ping().await.expect("ping on a working store");
    let before = store.list_users().await.expect("users listed");
    store.ping().await.expect("ping again");
    let after = store.list_users().await.expect("users listed");
    assert_eq!(after, before, "ping wrote nothing");
}

pub async fn create_and_read_back(store: &dyn Store) {
    let alice = new_user("alice", Some("+358401234567"));
    create(store, &alice).await;
    let got = get(store, "alice").await;
    assert_eq!(
        got,
        Some(as_record(&alice)),
        "user read back differs from what was created"
    );
}

pub async fn optional_fields_round_trip(store: &dyn Store) {
    let bare = NewUser {
        id: "nobody-bare".into(),
        password_hash: None,
        digest_secret: None,
        msisdn: None,
        friendly_name: None,
        created_ms: 0,
    };
    create(store, &bare).await;
    // Two users without an MSISDN must not collide on it.
    let bare2 = NewUser {
        id: "nobody-bare2".into(),
        ..bare.clone()
    };
    create(store, &bare2).await;
    assert_eq!(
        get(store, "nobody-bare").await,
        Some(as_record(&bare)),
        "None fields must stay None"
    );
}

pub async fn duplicate_id_conflicts(store: &dyn Store) {
    let bob = new_user("bob", Some("+358401111111"));
    create(store, &bob).await;
    let again = NewUser {
        msisdn: Some("+358402222222".into()),
        friendly_name: Some("impostor".into()),
        ..bob.clone()
    };
    let res = store.create_user(again).await;
    assert!(
        matches!(res, Err(StoreError::Conflict(_))),
        "duplicate id must be Conflict, got {res:?}"
    );
    assert_eq!(
        get(store, "bob").await,
        Some(as_record(&bob)),
        "a refused create must not change the user"
    );
    assert!(
        matches!(store.user_by_msisdn("+358402222222").await, Ok(None)),
        "a refused create must not leave its msisdn behind"
    );
}

pub async fn duplicate_msisdn_conflicts(store: &dyn Store) {
    create(store, &new_user("carol", Some("+358403333333"))).await;
    let res = store
        .create_user(new_user("dave", Some("+358403333333")))
        .await;
    assert!(
        matches!(res, Err(StoreError::Conflict(_))),
        "duplicate msisdn must be Conflict, got {res:?}"
    );
    assert_eq!(
        get(store, "dave").await,
        None,
        "a refused create must not create the user"
    );
}

pub async fn find_by_msisdn(store: &dyn Store) {
    let erin = new_user("erin", Some("+358404444444"));
    create(store, &erin).await;
    let got = store.user_by_msisdn("+358404444444").await;
    assert_eq!(
        got,
        Ok(Some(as_record(&erin))),
        "user_by_msisdn must find erin"
    );
    let none = store.user_by_msisdn("+358409999999").await;
    assert_eq!(none, Ok(None), "unknown msisdn must be None");
}

pub async fn unknown_user_is_none(store: &dyn Store) {
    assert_eq!(
        get(store, "mallory-never-created").await,
        None,
        "unknown user must be None"
    );
    // IDs are stored canonical (lower case); lookup must not fold case.
    create(store, &new_user("frank", None)).await;
    assert_eq!(
        get(store, "FRANK").await,
        None,
        "lookups are exact, not case-folded"
    );
}

pub async fn set_password_existing_and_missing(store: &dyn Store) {
    let grace = new_user("grace", None);
    create(store, &grace).await;
    let res = store
        .set_password("grace", Some("$argon2id$new".into()), None)
        .await;
    assert_eq!(
        res,
        Ok(true),
        "set_password on an existing user must return true"
    );
    let got = get(store, "grace").await;
    let expected = UserRecord {
        password_hash: Some("$argon2id$new".into()),
        digest_secret: None,
        ..as_record(&grace)
    };
    assert_eq!(
        got,
        Some(expected),
        "set_password must replace hash and secret, nothing else"
    );
    let res = store.set_password("grace", None, Some(vec![9, 9])).await;
    assert_eq!(res, Ok(true));
    let got = get(store, "grace")
        .await
        .map(|u| (u.password_hash, u.digest_secret));
    assert_eq!(
        got,
        Some((None, Some(vec![9, 9]))),
        "set_password must be able to clear the hash"
    );
    let res = store
        .set_password("ghost-never-created", Some("x".into()), None)
        .await;
    assert_eq!(
        res,
        Ok(false),
        "set_password on a missing user must return false"
    );
    assert_eq!(
        get(store, "ghost-never-created").await,
        None,
        "set_password must not create users"
    );
}

pub async fn users_listed_by_id(store: &dyn Store) {
    for id in ["list-c", "list-a", "list-b"] {
        create(store, &new_user(id, None)).await;
    }
    let all = match store.list_users().await {
        Ok(v) => v,
        Err(e) => panic!("list_users failed: {e}"),
    };
    let ids: Vec<&str> = all.iter().map(|u| u.id.as_str()).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "list_users must be sorted by id: {ids:?}"
    );
    let ours: Vec<&str> = ids
        .iter()
        .copied()
        .filter(|i| i.starts_with("list-"))
        .collect();
    assert_eq!(
        ours,
        ["list-a", "list-b", "list-c"],
        "list_users must return every user"
    );
    let b = all.iter().find(|u| u.id == "list-b").cloned();
    assert_eq!(
        b,
        Some(as_record(&new_user("list-b", None))),
        "listed users carry all fields"
    );
}

async fn session_list(store: &dyn Store) -> Vec<SessionRecord> {
    match store.sessions().await {
        Ok(v) => v,
        Err(e) => panic!("sessions() failed: {e}"),
    }
}

pub async fn sessions_put_list_delete(store: &dyn Store) {
    let s2 = session("sess-2", "alice", "c2");
    let s1 = session("sess-1", "bob", "c1");
    let s3 = session("sess-3", "alice", "c3");
    for s in [&s2, &s1, &s3] {
        let res = store.put_session(s.clone()).await;
        assert!(res.is_ok(), "put_session({}) failed: {res:?}", s.id);
    }
    let all = session_list(store).await;
    let ids: Vec<&str> = all.iter().map(|s| s.id.as_str()).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "sessions() must be sorted by id: {ids:?}"
    );
    let ours: Vec<&SessionRecord> = all.iter().filter(|s| s.id.starts_with("sess-")).collect();
    assert_eq!(
        ours,
        [&s1, &s2, &s3],
        "sessions() must return what was put, sorted by id"
    );

    assert_eq!(
        store.delete_session("sess-2").await,
        Ok(()),
        "delete_session must succeed"
    );
    assert_eq!(
        store.delete_session("sess-never-put").await,
        Ok(()),
        "deleting an unknown session is not an error"
    );
    let left: Vec<String> = session_list(store)
        .await
        .into_iter()
        .map(|s| s.id)
        .filter(|i| i.starts_with("sess-"))
        .collect();
    assert_eq!(
        left,
        ["sess-1", "sess-3"],
        "delete_session must remove exactly that session"
    );
}

/// A node's sessions are taken (deleted and returned) once, with their
/// node; other nodes' sessions and those of no node stay.
pub async fn take_sessions_of_node_takes_that_nodes_once(store: &dyn Store) {
    let on = |id: &str, node: Option<&str>| SessionRecord {
        node: node.map(str::to_owned),
        ..session(id, "erin", "c")
    };
    let taken = [
        on("node-a-1", Some("node-a")),
        on("node-a-2", Some("node-a")),
    ];
    for s in taken
        .iter()
        .cloned()
        .chain([on("node-b-1", Some("node-b")), on("node-none", None)])
    {
        assert_eq!(store.put_session(s).await, Ok(()));
    }
    assert_eq!(
        store.take_sessions_of_node("node-a").await,
        Ok(taken.to_vec()),
        "take_sessions_of_node must return exactly that node's sessions, node included"
    );
    assert_eq!(
        store.take_sessions_of_node("node-a").await,
        Ok(Vec::new()),
        "a node's sessions are taken once"
    );
    let left: Vec<String> = session_list(store)
        .await
        .into_iter()
        .map(|s| s.id)
        .filter(|id| id.starts_with("node-"))
        .collect();
    assert_eq!(left, ["node-b-1", "node-none"]);
}

pub async fn put_session_twice_replaces(store: &dyn Store) {
    let first = session("replace-1", "carol", "old-cookie");
    assert_eq!(store.put_session(first).await, Ok(()));
    let second = SessionRecord {
        user_id: "dave".into(),
        cookie: "new-cookie".into(),
        ttl_secs: 60,
        version: "1.2".into(),
        delivery_method: Some("N".into()),
        bare_ids: true,
        android_engine: true,
        withheld: Vec::new(),
        cir_target: Some("SSMS +358401234567".into()),
        ..session("replace-1", "carol", "x")
    };
    assert_eq!(
        store.put_session(second.clone()).await,
        Ok(()),
        "second put must not conflict"
    );
    let matching: Vec<SessionRecord> = session_list(store)
        .await
        .into_iter()
        .filter(|s| s.id == "replace-1")
        .collect();
    assert_eq!(
        matching,
        std::slice::from_ref(&second),
        "put_session with the same id must replace, not duplicate"
    );
    // The wake-up target goes away again when the session agrees none.
    let third = SessionRecord {
        cir_target: None,
        ..second
    };
    assert_eq!(store.put_session(third.clone()).await, Ok(()));
    let back: Vec<SessionRecord> = session_list(store)
        .await
        .into_iter()
        .filter(|s| s.id == "replace-1")
        .collect();
    assert_eq!(back, [third], "a cleared CIR target must read back as none");
}
