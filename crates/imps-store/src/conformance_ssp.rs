//! The SSP queue's part of the conformance suite (issue 17): what every
//! backend must do with server-to-server transactions waiting for a peer
//! domain. Test-support code: a failure panics saying which promise the
//! backend broke. Each check leaves the queue empty.

use imps_core::store::{NewSspItem, SspPut};
use imps_core::{Store, StoreError};

/// Runs every SSP-queue check against `store` (which must start with an
/// empty queue).
pub async fn run_all(store: &dyn Store) {
    queue_round_trip_oldest_first(store).await;
    the_bound_is_per_peer(store).await;
    retry_delays_and_counts(store).await;
}

fn ok<T>(r: Result<T, StoreError>, what: &str) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{what} failed: {e}"),
    }
}

fn item(peer: &str, response: bool, at: u64) -> NewSspItem {
    NewSspItem {
        peer: peer.to_owned(),
        response,
        transaction_id: response.then(|| format!("t-{at}")),
        body: format!("<SendMessageRequest n=\"{at}\"/>\u{e9}").into_bytes(),
        created_ms: at,
    }
}

async fn drain(store: &dyn Store) {
    for j in ok(store.due_ssp(u64::MAX, 1000).await, "due_ssp") {
        ok(store.ssp_sent(j.id).await, "ssp_sent");
    }
    assert!(
        ok(store.ssp_counts().await, "ssp_counts").is_empty(),
        "queue drained"
    );
}

async fn queue_round_trip_oldest_first(store: &dyn Store) {
    let a = item("b.example", false, 10);
    let b = item("c.example", true, 20);
    assert!(matches!(
        ok(store.put_ssp(a.clone(), 10).await, "put"),
        SspPut::Queued(_)
    ));
    assert!(matches!(
        ok(store.put_ssp(b.clone(), 10).await, "put"),
        SspPut::Queued(_)
    ));
    assert_eq!(
        ok(store.ssp_counts().await, "counts"),
        vec![("b.example".to_owned(), 1), ("c.example".to_owned(), 1)]
    );
    // Not due before its time.
    assert!(ok(store.due_ssp(9, 10).await, "due").is_empty());
    let due = ok(store.due_ssp(100, 10).await, "due");
    assert_eq!(due.len(), 2);
    assert_eq!(due[0].item, a, "every field kept, oldest first");
    assert_eq!(due[1].item, b);
    assert_eq!(due[0].attempts, 0);
    assert!(due[0].id < due[1].id);
    assert_eq!(ok(store.due_ssp(100, 1).await, "due").len(), 1);
    ok(store.ssp_sent(due[0].id).await, "sent");
    let left = ok(store.due_ssp(100, 10).await, "due");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, due[1].id);
    drain(store).await;
}

async fn the_bound_is_per_peer(store: &dyn Store) {
    for i in 0..3 {
        assert!(matches!(
            ok(store.put_ssp(item("b.example", false, i), 3).await, "put"),
            SspPut::Queued(_)
        ));
    }
    assert_eq!(
        ok(store.put_ssp(item("b.example", true, 9), 3).await, "put"),
        SspPut::Full
    );
    // Another peer's room is its own.
    assert!(matches!(
        ok(store.put_ssp(item("c.example", false, 9), 3).await, "put"),
        SspPut::Queued(_)
    ));
    assert_eq!(
        ok(store.ssp_counts().await, "counts"),
        vec![("b.example".to_owned(), 3), ("c.example".to_owned(), 1)]
    );
    drain(store).await;
}

async fn retry_delays_and_counts(store: &dyn Store) {
    let SspPut::Queued(id) = ok(store.put_ssp(item("d.example", false, 5), 10).await, "put") else {
        panic!("not queued");
    };
    ok(store.ssp_retry(id, 500).await, "retry");
    assert!(
        ok(store.due_ssp(499, 10).await, "due").is_empty(),
        "delayed"
    );
    let due = ok(store.due_ssp(500, 10).await, "due");
    assert_eq!((due[0].id, due[0].attempts, due[0].next_ms), (id, 1, 500));
    ok(store.ssp_retry(id, 600).await, "retry");
    assert_eq!(ok(store.due_ssp(600, 10).await, "due")[0].attempts, 2);
    drain(store).await;
}
