//! The SMS queue's part of the conformance suite (issue 20): what every
//! backend must do with short messages waiting for the SMSC. Test-support
//! code: a failure panics saying which promise the backend broke. Each
//! check leaves the queue empty.

use imps_core::store::{NewSms, SmsPut};
use imps_core::{Store, StoreError};

/// Runs every SMS-queue check against `store` (which must start with an
/// empty queue).
pub async fn run_all(store: &dyn Store) {
    queue_round_trip_oldest_first(store).await;
    keyed_jobs_coalesce_until_sent(store).await;
    the_bound_refuses_more(store).await;
    retry_delays_and_counts(store).await;
}

fn ok<T>(r: Result<T, StoreError>, what: &str) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{what} failed: {e}"),
    }
}

fn sms(key: Option<&str>, to: &str, at: u64) -> NewSms {
    NewSms {
        key: key.map(str::to_owned),
        destination: to.to_owned(),
        udh: key.is_some(),
        binary: to.ends_with('9'),
        payload: vec![0x06, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0, 0, 0xFF],
        created_ms: at,
    }
}

async fn drain(store: &dyn Store) {
    for j in ok(store.due_sms(u64::MAX, 1000).await, "due_sms") {
        ok(store.sms_sent(j.id).await, "sms_sent");
    }
    assert_eq!(ok(store.sms_count().await, "sms_count"), 0, "queue drained");
}

async fn queue_round_trip_oldest_first(store: &dyn Store) {
    let a = sms(None, "+4611", 10);
    let b = sms(Some("s1"), "+4619", 20);
    assert!(matches!(
        ok(store.put_sms(a.clone(), 10).await, "put"),
        SmsPut::Queued(_)
    ));
    assert!(matches!(
        ok(store.put_sms(b.clone(), 10).await, "put"),
        SmsPut::Queued(_)
    ));
    assert_eq!(ok(store.sms_count().await, "count"), 2);
    // Not due before its time.
    assert!(ok(store.due_sms(9, 10).await, "due").is_empty());
    let due = ok(store.due_sms(100, 10).await, "due");
    assert_eq!(due.len(), 2);
    assert_eq!(due[0].sms, a, "every field kept, oldest first");
    assert_eq!(due[1].sms, b);
    assert_eq!(due[0].attempts, 0);
    assert!(due[0].id < due[1].id);
    // The limit is honoured.
    assert_eq!(ok(store.due_sms(100, 1).await, "due").len(), 1);
    ok(store.sms_sent(due[0].id).await, "sent");
    let left = ok(store.due_sms(100, 10).await, "due");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, due[1].id);
    drain(store).await;
}

async fn keyed_jobs_coalesce_until_sent(store: &dyn Store) {
    let first = ok(store.put_sms(sms(Some("k"), "+461", 1), 10).await, "put");
    let SmsPut::Queued(id) = first else {
        panic!("first put: {first:?}");
    };
    assert_eq!(
        ok(store.put_sms(sms(Some("k"), "+461", 2), 10).await, "put"),
        SmsPut::Coalesced
    );
    // Unkeyed jobs never coalesce.
    assert!(matches!(
        ok(store.put_sms(sms(None, "+461", 3), 10).await, "put"),
        SmsPut::Queued(_)
    ));
    assert!(matches!(
        ok(store.put_sms(sms(None, "+461", 3), 10).await, "put"),
        SmsPut::Queued(_)
    ));
    assert_eq!(ok(store.sms_count().await, "count"), 3);
    ok(store.sms_sent(id).await, "sent");
    // Once sent, the key may be queued again.
    assert!(matches!(
        ok(store.put_sms(sms(Some("k"), "+461", 4), 10).await, "put"),
        SmsPut::Queued(_)
    ));
    drain(store).await;
}

async fn the_bound_refuses_more(store: &dyn Store) {
    for i in 0..3 {
        assert!(matches!(
            ok(store.put_sms(sms(None, "+462", i), 3).await, "put"),
            SmsPut::Queued(_)
        ));
    }
    assert_eq!(
        ok(store.put_sms(sms(None, "+462", 9), 3).await, "put"),
        SmsPut::Full
    );
    assert_eq!(
        ok(store.put_sms(sms(Some("x"), "+462", 9), 3).await, "put"),
        SmsPut::Full
    );
    assert_eq!(ok(store.sms_count().await, "count"), 3);
    drain(store).await;
}

async fn retry_delays_and_counts(store: &dyn Store) {
    let SmsPut::Queued(id) = ok(store.put_sms(sms(None, "+463", 5), 10).await, "put") else {
        panic!("not queued");
    };
    ok(store.sms_retry(id, 500).await, "retry");
    assert!(
        ok(store.due_sms(499, 10).await, "due").is_empty(),
        "delayed"
    );
    let due = ok(store.due_sms(500, 10).await, "due");
    assert_eq!((due[0].id, due[0].attempts, due[0].next_ms), (id, 1, 500));
    ok(store.sms_retry(id, 600).await, "retry");
    assert_eq!(ok(store.due_sms(600, 10).await, "due")[0].attempts, 2);
    drain(store).await;
}
