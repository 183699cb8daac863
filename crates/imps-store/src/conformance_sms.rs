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
    claims_hide_jobs_until_the_lease_ends(store).await;
    two_claims_at_once_never_take_one_job_twice(store).await;
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

async fn claims_hide_jobs_until_the_lease_ends(store: &dyn Store) {
    let mut ids = Vec::new();
    for i in 0..3 {
        let SmsPut::Queued(id) = ok(store.put_sms(sms(None, "+464", 10 + i), 10).await, "put")
        else {
            panic!("not queued");
        };
        ids.push(id);
    }
    // Oldest first, within the limit; returned as they were due.
    let first = ok(store.claim_sms(100, 2, 1_000).await, "claim");
    assert_eq!(first.iter().map(|j| j.id).collect::<Vec<_>>(), ids[..2]);
    assert_eq!((first[0].next_ms, first[0].attempts), (10, 0));
    assert_eq!(first[0].sms, sms(None, "+464", 10), "every field kept");
    // What is claimed is out of reach until the lease ends.
    let second = ok(store.claim_sms(100, 10, 1_000).await, "claim");
    assert_eq!(second.iter().map(|j| j.id).collect::<Vec<_>>(), ids[2..]);
    assert!(ok(store.claim_sms(999, 10, 2_000).await, "claim").is_empty());
    assert!(ok(store.due_sms(999, 10).await, "due").is_empty());
    // A claimed job that went out is gone; one that failed follows its
    // retry time, not the lease.
    ok(store.sms_sent(ids[0]).await, "sent");
    ok(store.sms_retry(ids[1], 500).await, "retry");
    let retried = ok(store.claim_sms(500, 10, 2_000).await, "claim");
    assert_eq!(
        (retried.len(), retried[0].id, retried[0].attempts),
        (1, ids[1], 1)
    );
    // The lease over, the job left in hand (a node that died) is due again.
    let again = ok(store.claim_sms(1_000, 10, 3_000).await, "claim");
    assert_eq!(again.iter().map(|j| j.id).collect::<Vec<_>>(), ids[2..]);
    drain(store).await;
}

async fn two_claims_at_once_never_take_one_job_twice(store: &dyn Store) {
    for i in 0..40 {
        ok(store.put_sms(sms(None, "+465", i), 100).await, "put");
    }
    let (a, b) = tokio::join!(
        store.claim_sms(1_000, 25, 9_000),
        store.claim_sms(1_000, 25, 9_000)
    );
    let (a, b) = (ok(a, "claim a"), ok(b, "claim b"));
    let mut all: Vec<u64> = a.iter().chain(b.iter()).map(|j| j.id).collect();
    let n = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), n, "a job taken by both claims");
    // Between them they took what they could see: 40 jobs, 25 each at most.
    assert!((25..=40).contains(&n), "{n} jobs claimed");
    drain(store).await;
}
