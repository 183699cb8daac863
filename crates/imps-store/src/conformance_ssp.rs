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
    a_claim_takes_a_peers_queue_in_order_until_the_lease_ends(store).await;
    two_claims_at_once_never_share_a_peer(store).await;
    a_batch_is_acknowledged_or_retried_at_once(store).await;
    handled_requests_are_remembered_per_peer_until_forgotten(store).await;
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

async fn put(store: &dyn Store, i: NewSspItem) -> u64 {
    match ok(store.put_ssp(i, 1000).await, "put") {
        SspPut::Queued(id) => id,
        SspPut::Full => panic!("not queued"),
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

async fn a_claim_takes_a_peers_queue_in_order_until_the_lease_ends(store: &dyn Store) {
    let b: Vec<u64> = vec![
        put(store, item("b.example", false, 10)).await,
        put(store, item("b.example", true, 11)).await,
        put(store, item("b.example", false, 12)).await,
    ];
    let c = put(store, item("c.example", false, 20)).await;
    let e = put(store, item("e.example", false, 30)).await;
    // Nothing due yet.
    assert!(ok(store.claim_ssp(9, 10, 10, 1_000).await, "claim").is_empty());
    // At most 2 peers, the longest waiting first; 2 transactions of each,
    // in queue order, as they were.
    let first = ok(store.claim_ssp(100, 2, 2, 1_000).await, "claim");
    assert_eq!(
        first.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![b[0], b[1], c]
    );
    assert_eq!(
        first[0].item,
        item("b.example", false, 10),
        "every field kept"
    );
    assert_eq!((first[0].next_ms, first[0].attempts), (10, 0));
    // b.example's and c.example's queues are in hand: b.example's third
    // transaction, due, is not taken (its order would break), e.example's is.
    let second = ok(store.claim_ssp(100, 10, 10, 1_000).await, "claim");
    assert_eq!(second.iter().map(|i| i.id).collect::<Vec<_>>(), vec![e]);
    assert!(ok(store.claim_ssp(999, 10, 10, 2_000).await, "claim").is_empty());
    // The first went out: b.example's head is the second, still in hand.
    ok(store.ssp_sent(b[0]).await, "sent");
    assert!(ok(store.claim_ssp(999, 10, 10, 2_000).await, "claim").is_empty());
    // The second failed and waits for its retry; so does the whole peer,
    // the third included. c.example and e.example, left in hand (as by a
    // sender that died), are due again once their lease is over.
    ok(store.ssp_retry(b[1], 1_500).await, "retry");
    let later = ok(store.claim_ssp(1_499, 10, 10, 2_000).await, "claim");
    assert_eq!(later.iter().map(|i| i.id).collect::<Vec<_>>(), vec![c, e]);
    let retried = ok(store.claim_ssp(1_500, 10, 10, 3_000).await, "claim");
    let b_part: Vec<(u64, u32)> = retried
        .iter()
        .filter(|i| i.item.peer == "b.example")
        .map(|i| (i.id, i.attempts))
        .collect();
    assert_eq!(b_part, vec![(b[1], 1), (b[2], 0)]);
    drain(store).await;
}

async fn two_claims_at_once_never_share_a_peer(store: &dyn Store) {
    let peers = ["p1.example", "p2.example", "p3.example", "p4.example"];
    for n in 0..10 {
        for p in peers {
            put(store, item(p, false, n)).await;
        }
    }
    let (a, b) = tokio::join!(
        store.claim_ssp(1_000, 3, 100, 9_000),
        store.claim_ssp(1_000, 3, 100, 9_000)
    );
    let (a, b) = (ok(a, "claim a"), ok(b, "claim b"));
    let of = |v: &[imps_core::store::SspItem]| {
        let mut p: Vec<String> = v.iter().map(|i| i.item.peer.clone()).collect();
        p.sort();
        p.dedup();
        p
    };
    let (pa, pb) = (of(&a), of(&b));
    assert!(
        pa.iter().all(|p| !pb.contains(p)),
        "a peer claimed twice: {pa:?} {pb:?}"
    );
    // A claimed peer's queue comes whole (10 here), and between them the
    // claims took every peer they could see.
    for v in [&a, &b] {
        for p in of(v) {
            assert_eq!(v.iter().filter(|i| i.item.peer == p).count(), 10);
        }
    }
    let n = pa.len() + pb.len();
    assert!((3..=4).contains(&n), "{n} peers claimed");
    drain(store).await;
}

async fn a_batch_is_acknowledged_or_retried_at_once(store: &dyn Store) {
    let ids = [
        put(store, item("b.example", false, 1)).await,
        put(store, item("b.example", true, 2)).await,
        put(store, item("b.example", false, 3)).await,
        put(store, item("c.example", false, 4)).await,
    ];
    assert_eq!(ok(store.ssp_depth("b.example").await, "depth"), 3);
    assert_eq!(ok(store.ssp_depth("c.example").await, "depth"), 1);
    assert_eq!(ok(store.ssp_depth("x.example").await, "depth"), 0);
    // The bound reads the same depth.
    assert!(matches!(
        ok(store.put_ssp(item("b.example", false, 5), 3).await, "put"),
        SspPut::Full
    ));
    ok(store.ssp_retry_many(&ids[..2], 500).await, "retry_many");
    let due = ok(store.due_ssp(499, 10).await, "due");
    assert_eq!(
        due.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![ids[2], ids[3]],
        "both put off"
    );
    let later = ok(store.due_ssp(500, 10).await, "due");
    assert_eq!(later.len(), 4);
    assert_eq!((later[0].attempts, later[1].attempts), (1, 1));
    ok(store.ssp_sent_many(&ids[..3]).await, "sent_many");
    ok(store.ssp_sent_many(&[]).await, "sent_many of nothing");
    assert_eq!(ok(store.ssp_depth("b.example").await, "depth"), 0);
    assert_eq!(
        ok(store.ssp_counts().await, "counts"),
        vec![("c.example".to_owned(), 1)],
        "a peer with none left is not counted"
    );
    // A peer whose queue emptied and filled again is claimed again.
    let again = put(store, item("b.example", false, 6)).await;
    let claimed = ok(store.claim_ssp(1000, 10, 10, 2000).await, "claim");
    assert_eq!(
        claimed.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![ids[3], again]
    );
    drain(store).await;
}

async fn handled_requests_are_remembered_per_peer_until_forgotten(store: &dyn Store) {
    let t = |s: &str| s.to_owned();
    ok(
        store
            .ssp_mark_handled("b.example", &[t("0000000001"), t("0000000002")], 100)
            .await,
        "mark",
    );
    ok(
        store
            .ssp_mark_handled("c.example", &[t("0000000003")], 200)
            .await,
        "mark",
    );
    // Marked again later: keeps its first time.
    ok(
        store
            .ssp_mark_handled("b.example", &[t("0000000002")], 300)
            .await,
        "mark again",
    );
    let mut seen = ok(
        store
            .ssp_handled(
                "b.example",
                &[t("0000000001"), t("0000000002"), t("0000000003")],
            )
            .await,
        "handled",
    );
    seen.sort();
    assert_eq!(seen, vec![t("0000000001"), t("0000000002")], "per peer");
    assert!(ok(store.ssp_handled("b.example", &[]).await, "handled").is_empty());
    assert_eq!(ok(store.ssp_forget_handled(150, 100).await, "forget"), 2);
    assert!(
        ok(
            store
                .ssp_handled("b.example", &[t("0000000001"), t("0000000002")])
                .await,
            "handled"
        )
        .is_empty()
    );
    assert_eq!(
        ok(
            store.ssp_handled("c.example", &[t("0000000003")]).await,
            "handled"
        ),
        vec![t("0000000003")]
    );
    assert_eq!(
        ok(store.ssp_forget_handled(u64::MAX, 100).await, "forget"),
        1
    );
}
