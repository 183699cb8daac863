//! The SSP queue's part of the conformance suite (issue 17): what every
//! backend must do with server-to-server transactions waiting for a peer
//! domain. Test-support code: a failure panics saying which promise the
//! backend broke. Each check leaves the queue empty.

use imps_core::store::{
    InboundSsp, InboundTaken, MessageBody, NewSspItem, NewStoredMessage, PutOutcome,
    RecipientQuota, SspPut, recipients_ref,
};
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
    a_posts_requests_are_taken_in_one_go(store).await;
    a_message_under_a_taken_id_is_set_aside_alone(store).await;
    the_same_message_for_more_users_under_one_id_reaches_them(store).await;
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

const INBOUND_PEER: &str = "inbound.example";

fn inbound_msg(id: &str, to: &str, quota: Option<RecipientQuota>) -> NewStoredMessage {
    NewStoredMessage {
        id: id.to_owned(),
        sender: format!("sender@{INBOUND_PEER}"),
        sender_name: None,
        delivery_report: false,
        created_ms: 10,
        expires_ms: None,
        body: MessageBody {
            content_type: "text/plain".into(),
            encoding: None,
            size: 2,
            name: None,
            font: None,
            data: format!("{id}!"),
        },
        recipients: vec![(to.to_owned(), None)],
        // A peer's message is recognised again by its MessageID and the
        // users it names.
        client_ref: Some(recipients_ref(id, &[to.to_owned()])),
        quota,
        remote: Vec::new(),
        remote_max: 0,
    }
}

fn inbound(message: Option<NewStoredMessage>, tid: &str) -> InboundSsp {
    InboundSsp {
        message,
        answer: NewSspItem {
            peer: INBOUND_PEER.to_owned(),
            response: true,
            transaction_id: Some(tid.to_owned()),
            body: format!("<SendMessageResponse tid=\"{tid}\"/>").into_bytes(),
            created_ms: 20,
        },
        key: Some(format!("{tid} digest")),
    }
}

async fn inbound_answers(store: &dyn Store) -> Vec<Option<String>> {
    ok(store.due_ssp(u64::MAX, 1000).await, "due_ssp")
        .into_iter()
        .filter(|i| i.item.peer == INBOUND_PEER)
        .map(|i| {
            assert!(i.item.response, "an answer is a Response");
            i.item.transaction_id
        })
        .collect()
}

async fn inbound_keys(store: &dyn Store, tids: &[&str]) -> Vec<String> {
    let keys: Vec<String> = tids.iter().map(|t| format!("{t} digest")).collect();
    let mut seen = ok(store.ssp_handled(INBOUND_PEER, &keys).await, "handled");
    seen.sort();
    seen
}

async fn waiting_ids(store: &dyn Store, user: &str) -> Vec<(u64, String)> {
    ok(store.pending_messages(user, 0, 100).await, "pending")
        .into_iter()
        .map(|m| (m.seq, m.id))
        .collect()
}

/// The requests of a peer's POST in one call: messages stored in order
/// (one put seeing those before it), answers queued and keys remembered
/// for what was taken, nothing for a message over quota, and past the
/// answers' room nothing at all.
async fn a_posts_requests_are_taken_in_one_go(store: &dyn Store) {
    // Stored before: the peer's resend of it is a duplicate. inb-full
    // holds one message and may hold one.
    for m in [
        inbound_msg("m0", "inb-u1", None),
        inbound_msg("f0", "inb-full", None),
    ] {
        assert!(matches!(
            ok(store.put_message(m, 0).await, "put"),
            PutOutcome::Stored(_)
        ));
    }
    let one = Some(RecipientQuota {
        max_messages: 1,
        max_bytes: 0,
    });
    let items = vec![
        inbound(Some(inbound_msg("m1", "inb-u1", None)), "t1"),
        // Refused before anything was stored: its answer only.
        inbound(None, "t2"),
        inbound(Some(inbound_msg("m0", "inb-u1", None)), "t3"),
        inbound(Some(inbound_msg("f1", "inb-full", one)), "t4"),
        // Sees m2 before it: inb-u2 may hold one, and m3 is the second.
        inbound(Some(inbound_msg("m2", "inb-u2", one)), "t5"),
        inbound(Some(inbound_msg("m3", "inb-u2", one)), "t6"),
        inbound(Some(inbound_msg("m4", "inb-u1", None)), "t7"),
    ];
    let out = ok(
        store
            .ssp_take_inbound(INBOUND_PEER, items, 0, 1000, 100)
            .await,
        "take_inbound",
    );
    assert_eq!(out.len(), 7, "one answer per item: {out:?}");
    let u1 = waiting_ids(store, "inb-u1").await;
    let ids: Vec<&str> = u1.iter().map(|(_, i)| i.as_str()).collect();
    assert_eq!(ids, ["m0", "m1", "m4"], "stored once each, in order");
    assert_eq!(out[0], InboundTaken::Stored(vec![u1[1].0]));
    assert_eq!(out[1], InboundTaken::Stored(Vec::new()));
    assert_eq!(out[2], InboundTaken::Duplicate("m0".into()));
    assert_eq!(out[3], InboundTaken::OverQuota(vec!["inb-full".into()]));
    let u2 = waiting_ids(store, "inb-u2").await;
    assert_eq!(u2.len(), 1, "{u2:?}");
    assert_eq!(out[4], InboundTaken::Stored(vec![u2[0].0]));
    assert_eq!(out[5], InboundTaken::OverQuota(vec!["inb-u2".into()]));
    assert_eq!(out[6], InboundTaken::Stored(vec![u1[2].0]));
    assert_eq!(waiting_ids(store, "inb-full").await.len(), 1);
    // Answers in order, none for what was not taken; the same keys.
    let t = |s: &str| Some(s.to_owned());
    assert_eq!(
        inbound_answers(store).await,
        vec![t("t1"), t("t2"), t("t3"), t("t5"), t("t7")]
    );
    let all = ["t1", "t2", "t3", "t4", "t5", "t6", "t7"];
    let want: Vec<String> = ["t1", "t2", "t3", "t5", "t7"]
        .iter()
        .map(|t| format!("{t} digest"))
        .collect();
    assert_eq!(inbound_keys(store, &all).await, want);

    // Five answers wait; room for two more under 7: the third item and
    // after are not tried.
    let items = vec![
        inbound(Some(inbound_msg("r1", "inb-u3", None)), "r1"),
        inbound(None, "r2"),
        inbound(Some(inbound_msg("r3", "inb-u3", None)), "r3"),
        inbound(None, "r4"),
    ];
    let out = ok(
        store.ssp_take_inbound(INBOUND_PEER, items, 0, 7, 100).await,
        "take_inbound",
    );
    let u3 = waiting_ids(store, "inb-u3").await;
    assert_eq!(u3.len(), 1, "{u3:?}");
    assert_eq!(
        out,
        vec![
            InboundTaken::Stored(vec![u3[0].0]),
            InboundTaken::Stored(Vec::new()),
            InboundTaken::NoRoom,
            InboundTaken::NoRoom,
        ]
    );
    assert_eq!(inbound_answers(store).await.len(), 7);
    assert_eq!(
        inbound_keys(store, &["r1", "r2", "r3", "r4"]).await,
        vec!["r1 digest".to_owned(), "r2 digest".to_owned()]
    );
    inbound_cleanup(store).await;
}

async fn inbound_cleanup(store: &dyn Store) {
    drain(store).await;
    for user in [
        "inb-u1", "inb-u2", "inb-u3", "inb-u4", "inb-u5", "inb-u6", "inb-full",
    ] {
        for (_, id) in waiting_ids(store, user).await {
            ok(store.remove_message(user, &id).await, "remove");
        }
    }
    ok(store.ssp_forget_handled(u64::MAX, 1000).await, "forget");
}

/// A peer's message under a MessageID that names a stored message fails
/// nothing: the same sender's same message (a resend after the dedupe
/// window) is a duplicate, answered; another sender's message, or the
/// same sender's with other data, is set aside (`IdTaken`: nothing
/// written for it, for the caller to refuse); the rest of the batch is
/// taken, also a second message of the batch under one ID.
async fn a_message_under_a_taken_id_is_set_aside_alone(store: &dyn Store) {
    // Stored before, its reference too old to recognise a resend.
    let first = inbound_msg("y1", "inb-u1", None);
    assert!(matches!(
        ok(store.put_message(first, 0).await, "put"),
        PutOutcome::Stored(_)
    ));
    let mut other_sender = inbound_msg("y1", "inb-u2", None);
    other_sender.sender = format!("another@{INBOUND_PEER}");
    let mut other_text = inbound_msg("y1", "inb-u2", None);
    other_text.body.data = "not the same".into();
    let mut in_batch = inbound_msg("y2", "inb-u3", None);
    in_batch.sender = format!("another@{INBOUND_PEER}");
    let items = vec![
        inbound(Some(inbound_msg("y0", "inb-u2", None)), "y0"),
        inbound(Some(other_sender), "y1a"),
        inbound(Some(inbound_msg("y1", "inb-u1", None)), "y1b"),
        inbound(Some(other_text), "y1c"),
        inbound(Some(inbound_msg("y2", "inb-u3", None)), "y2a"),
        inbound(Some(in_batch.clone()), "y2b"),
        // The refused one's message again, for another user: its ID is
        // taken still (by the message stored, not the one refused).
        inbound(
            Some(NewStoredMessage {
                recipients: vec![("inb-u5".into(), None)],
                client_ref: Some(recipients_ref("y2", &["inb-u5".into()])),
                ..in_batch
            }),
            "y2d",
        ),
        // The same message for one more user: no ID taken.
        inbound(Some(inbound_msg("y2", "inb-u4", None)), "y2c"),
        inbound(None, "y3"),
    ];
    // The send references' window ends after the first put (at 10).
    let out = ok(
        store
            .ssp_take_inbound(INBOUND_PEER, items, 11, 1000, 100)
            .await,
        "take_inbound",
    );
    let u2 = waiting_ids(store, "inb-u2").await;
    let u3 = waiting_ids(store, "inb-u3").await;
    assert_eq!(
        u2.iter().map(|(_, i)| i.as_str()).collect::<Vec<_>>(),
        ["y0"],
        "nothing stored under a taken ID"
    );
    let u4 = waiting_ids(store, "inb-u4").await;
    assert_eq!(u3.len(), 1, "{u3:?}");
    assert_eq!(u4.len(), 1, "{u4:?}");
    assert_eq!(
        out,
        vec![
            InboundTaken::Stored(vec![u2[0].0]),
            InboundTaken::IdTaken("y1".into()),
            InboundTaken::Duplicate("y1".into()),
            InboundTaken::IdTaken("y1".into()),
            InboundTaken::Stored(vec![u3[0].0]),
            InboundTaken::IdTaken("y2".into()),
            InboundTaken::IdTaken("y2".into()),
            InboundTaken::Stored(vec![u4[0].0]),
            InboundTaken::Stored(Vec::new()),
        ]
    );
    assert_eq!(
        waiting_ids(store, "inb-u1").await.len(),
        1,
        "the duplicate is not stored again"
    );
    let t = |s: &str| Some(s.to_owned());
    assert_eq!(
        inbound_answers(store).await,
        vec![t("y0"), t("y1b"), t("y2a"), t("y2c"), t("y3")],
        "no answer for what was set aside"
    );
    assert_eq!(
        inbound_keys(
            store,
            &["y0", "y1a", "y1b", "y1c", "y2a", "y2b", "y2d", "y2c", "y3"]
        )
        .await,
        ["y0", "y1b", "y2a", "y2c", "y3"]
            .iter()
            .map(|t| format!("{t} digest"))
            .collect::<Vec<_>>()
    );
    inbound_cleanup(store).await;
}

/// A peer that sends a message to several of our users as one
/// transaction per user, all under the message's MessageID (as the
/// reference implementation of SSP does): each transaction adds its users
/// to the message, whether it still waits for others or was delivered to
/// all of them; a resend of one of them is a duplicate, also after its
/// users took the message; a transaction naming users the message waits
/// for already adds only the others.
async fn the_same_message_for_more_users_under_one_id_reaches_them(store: &dyn Store) {
    let take = |items: Vec<InboundSsp>| async move {
        ok(
            store
                .ssp_take_inbound(INBOUND_PEER, items, 0, 1000, 100)
                .await,
            "take_inbound",
        )
    };
    let for_users = |id: &str, to: &[&str]| {
        let mut m = inbound_msg(id, to[0], None);
        m.recipients = to.iter().map(|u| ((*u).to_owned(), None)).collect();
        let named: Vec<String> = to.iter().map(|u| (*u).to_owned()).collect();
        m.client_ref = Some(recipients_ref(id, &named));
        m
    };
    let seq_of = |w: Vec<(u64, String)>| -> Vec<u64> {
        w.into_iter()
            .filter(|(_, i)| i == "z1")
            .map(|(s, _)| s)
            .collect()
    };

    let out = take(vec![inbound(
        Some(inbound_msg("z1", "inb-u1", None)),
        "z1a",
    )])
    .await;
    let u1 = seq_of(waiting_ids(store, "inb-u1").await);
    assert_eq!(out, vec![InboundTaken::Stored(u1.clone())]);
    // The next two users, one transaction each, in one POST.
    let out = take(vec![
        inbound(Some(inbound_msg("z1", "inb-u2", None)), "z1b"),
        inbound(Some(inbound_msg("z1", "inb-u3", None)), "z1c"),
    ])
    .await;
    let u2 = seq_of(waiting_ids(store, "inb-u2").await);
    let u3 = seq_of(waiting_ids(store, "inb-u3").await);
    assert_eq!(u2.len(), 1, "the second user gets the message");
    assert_eq!(u3.len(), 1, "the third user gets the message");
    assert_eq!(
        out,
        vec![
            InboundTaken::Stored(u2.clone()),
            InboundTaken::Stored(u3.clone())
        ]
    );
    let m3 = ok(store.pending_message("inb-u3", "z1").await, "pending").expect("z1 for inb-u3");
    assert_eq!(m3.body.data, "z1!", "the message as stored first");
    assert_eq!(m3.sender, format!("sender@{INBOUND_PEER}"));

    // A resend of the second: nothing new.
    let out = take(vec![inbound(
        Some(inbound_msg("z1", "inb-u2", None)),
        "z1b",
    )])
    .await;
    assert_eq!(out, vec![InboundTaken::Duplicate("z1".into())]);
    assert_eq!(seq_of(waiting_ids(store, "inb-u2").await), u2);

    // The first user took it; a resend of the first is still a resend.
    ok(store.remove_message("inb-u1", "z1").await, "remove");
    let out = take(vec![inbound(
        Some(inbound_msg("z1", "inb-u1", None)),
        "z1a",
    )])
    .await;
    assert_eq!(out, vec![InboundTaken::Duplicate("z1".into())]);
    assert!(seq_of(waiting_ids(store, "inb-u1").await).is_empty());

    // Naming one user it waits for and one new: only the new one added.
    let out = take(vec![inbound(
        Some(for_users("z1", &["inb-u3", "inb-u4"])),
        "z1d",
    )])
    .await;
    let u4 = seq_of(waiting_ids(store, "inb-u4").await);
    assert_eq!(u4.len(), 1, "{u4:?}");
    assert_eq!(out, vec![InboundTaken::Stored(vec![0, u4[0]])]);
    assert_eq!(
        seq_of(waiting_ids(store, "inb-u3").await),
        u3,
        "not queued twice"
    );

    // Taken by everyone it waited for: the message is gone; one more
    // user still gets it (stored anew under its ID).
    for u in ["inb-u2", "inb-u3", "inb-u4"] {
        ok(store.remove_message(u, "z1").await, "remove");
    }
    let out = take(vec![inbound(
        Some(inbound_msg("z1", "inb-u5", None)),
        "z1e",
    )])
    .await;
    let u5 = seq_of(waiting_ids(store, "inb-u5").await);
    assert_eq!(u5.len(), 1, "{u5:?}");
    assert_eq!(out, vec![InboundTaken::Stored(u5)]);

    // The single put does the same.
    let put = ok(
        store
            .put_message(inbound_msg("z1", "inb-u6", None), 0)
            .await,
        "put",
    );
    let u6 = seq_of(waiting_ids(store, "inb-u6").await);
    assert_eq!(u6.len(), 1, "{u6:?}");
    assert_eq!(put, PutOutcome::Stored(u6));
    inbound_cleanup(store).await;
}

/// A store failure inside the batch (here a number the backend cannot
/// hold) undoes all of it: the message before it, its answer and its
/// key. Not in [`run_all`]: the memory store holds any number, so
/// nothing fails there; the SQL backends call it.
pub async fn a_failing_inbound_batch_writes_nothing(store: &dyn Store) {
    let mut unholdable = inbound_msg("x1", "inb-u1", None);
    unholdable.created_ms = u64::MAX;
    let items = vec![
        inbound(Some(inbound_msg("x0", "inb-u2", None)), "x0"),
        inbound(None, "x9"),
        inbound(Some(unholdable), "x1"),
    ];
    let res = store
        .ssp_take_inbound(INBOUND_PEER, items, 0, 1000, 100)
        .await;
    assert!(res.is_err(), "{res:?}");
    assert!(waiting_ids(store, "inb-u2").await.is_empty(), "x0 undone");
    assert!(inbound_answers(store).await.is_empty(), "no answer kept");
    assert!(
        inbound_keys(store, &["x0", "x9", "x1"]).await.is_empty(),
        "no key kept"
    );
    // Sent again later (without the bad one), x0 is taken: its reference
    // was not kept either.
    let items = vec![inbound(Some(inbound_msg("x0", "inb-u2", None)), "x0")];
    let out = ok(
        store
            .ssp_take_inbound(INBOUND_PEER, items, 0, 1000, 100)
            .await,
        "take_inbound",
    );
    assert!(matches!(out[..], [InboundTaken::Stored(_)]), "{out:?}");
    inbound_cleanup(store).await;
}
