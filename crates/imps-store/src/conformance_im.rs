//! Instant messaging's part of the conformance suite: what every backend
//! must do with a message and its recipients' entries (stored whole,
//! every field read back, seq order, quota refusing whole puts, batched
//! removal, expiry, dedupe of a retried send). Test-support code: a
//! failure panics saying which promise the backend broke. Run on a store
//! that starts empty.

use imps_core::store::{
    MessageBody, MessageStore, NewSspItem, NewStoredMessage, PutOutcome, RecipientQuota, SspStore,
    StoredMessage,
};

/// A text message from `ann` to `to`, without quota.
pub fn msg(id: &str, to: &[&str]) -> NewStoredMessage {
    NewStoredMessage {
        id: id.to_string(),
        sender: "ann".into(),
        sender_name: Some("Ann ☺".into()),
        delivery_report: true,
        created_ms: 1_000,
        expires_ms: None,
        body: MessageBody {
            content_type: "text/plain".into(),
            encoding: None,
            size: 2,
            name: None,
            font: None,
            data: "hi".into(),
        },
        recipients: to.iter().map(|u| (u.to_string(), None)).collect(),
        client_ref: None,
        quota: None,
        remote: Vec::new(),
        remote_max: 0,
    }
}

fn ids(v: Vec<StoredMessage>) -> Vec<String> {
    v.into_iter().map(|m| m.id).collect()
}

/// Round trip of every field, seq order, counts, single removal with its
/// report, and the message going with its last entry.
async fn store_read_remove(store: &dyn MessageStore) {
    let mut m = msg("r1", &["bob", "cat"]);
    m.recipients[1].1 = Some("wv:cat-phone".into());
    m.body.font = Some(imps_core::store::FontSpec {
        size: Some("large".into()),
        styles: vec!["B".into(), "I".into()],
        color: Some("#ff0000".into()),
    });
    m.body.name = Some("a.txt".into());
    m.expires_ms = Some(9_000);
    let Ok(PutOutcome::Stored(seqs)) = store.put_message(m.clone(), 0).await else {
        panic!("put r1");
    };
    assert_eq!(seqs.len(), 2);
    assert!(seqs[0] < seqs[1], "seq grows in recipients order");
    let Ok(PutOutcome::Stored(later)) = store.put_message(msg("r2", &["bob"]), 0).await else {
        panic!("put r2");
    };
    assert!(later[0] > seqs[1], "a later put gets a higher seq");
    let got = store
        .pending_messages("cat", 0, 10)
        .await
        .expect("the store answers");
    assert_eq!(got.len(), 1);
    let e = &got[0];
    assert_eq!(
        (e.seq, e.id.as_str(), e.recipient.as_str()),
        (seqs[1], "r1", "cat")
    );
    assert_eq!(e.target_client.as_deref(), Some("wv:cat-phone"));
    assert_eq!(e.sender_name.as_deref(), Some("Ann ☺"));
    assert!(e.delivery_report);
    assert_eq!((e.created_ms, e.expires_ms), (1_000, Some(9_000)));
    assert_eq!(*e.body, m.body);
    assert_eq!(
        ids(store
            .pending_messages("bob", 0, 10)
            .await
            .expect("the store answers")),
        ["r1", "r2"]
    );
    assert_eq!(
        ids(store
            .pending_messages("bob", seqs[0], 10)
            .await
            .expect("the store answers")),
        ["r2"]
    );
    assert_eq!(
        ids(store
            .pending_messages("bob", 0, 1)
            .await
            .expect("the store answers")),
        ["r1"]
    );
    assert_eq!(store.pending_count("bob").await, Ok(2));
    assert!(
        store
            .pending_message("bob", "r2")
            .await
            .expect("the store answers")
            .is_some()
    );
    assert!(
        store
            .pending_message("cat", "r2")
            .await
            .expect("the store answers")
            .is_none()
    );
    let removed = store
        .remove_message("bob", "r1")
        .await
        .expect("the store answers")
        .expect("the store answers");
    assert_eq!(
        (removed.seq, removed.sender.as_str(), removed.size),
        (seqs[0], "ann", 2)
    );
    assert!(removed.delivery_report);
    assert_eq!(removed.content_type, "text/plain");
    assert_eq!(store.remove_message("bob", "r1").await, Ok(None));
    // cat still holds r1.
    assert!(
        store
            .pending_message("cat", "r1")
            .await
            .expect("the store answers")
            .is_some()
    );
    assert!(
        store
            .remove_message("cat", "r1")
            .await
            .expect("the store answers")
            .is_some()
    );
    assert_eq!(store.remove_message("cat", "r1").await, Ok(None));
    assert_eq!(store.pending_count("cat").await, Ok(0));
}

/// Expired entries oldest first; a retried send within the window is a
/// duplicate with the first MessageID, after it a new message.
async fn expiry_and_dedupe(store: &dyn MessageStore) {
    let mut a = msg("x1", &["dan"]);
    a.expires_ms = Some(100);
    let mut b = msg("x2", &["dan", "eve"]);
    b.expires_ms = Some(50);
    let mut c = msg("x3", &["dan"]);
    c.expires_ms = Some(500);
    for m in [a, b, c] {
        assert!(matches!(
            store.put_message(m, 0).await,
            Ok(PutOutcome::Stored(_))
        ));
    }
    assert_eq!(
        ids(store
            .expired_messages(100, 10)
            .await
            .expect("the store answers")),
        ["x1", "x2", "x2"]
    );
    assert_eq!(
        ids(store
            .expired_messages(100, 1)
            .await
            .expect("the store answers")),
        ["x1"]
    );
    assert!(
        store
            .expired_messages(10, 10)
            .await
            .expect("the store answers")
            .is_empty()
    );

    let mut first = msg("d1", &["fay"]);
    first.client_ref = Some("c-1".into());
    first.created_ms = 1_000;
    assert!(matches!(
        store.put_message(first, 0).await,
        Ok(PutOutcome::Stored(_))
    ));
    let mut retry = msg("d2", &["fay"]);
    retry.client_ref = Some("c-1".into());
    retry.created_ms = 2_000;
    assert_eq!(
        store.put_message(retry.clone(), 500).await,
        Ok(PutOutcome::Duplicate("d1".into()))
    );
    assert_eq!(
        store.pending_count("fay").await,
        Ok(1),
        "a duplicate stores nothing"
    );
    // Outside the window (the reference is older than dedupe_since).
    assert!(matches!(
        store.put_message(retry, 1_500).await,
        Ok(PutOutcome::Stored(_))
    ));
    assert_eq!(store.prune_message_refs(10_000).await, Ok(1));
    assert_eq!(store.prune_message_refs(10_000).await, Ok(0));
}

/// A put that would take any recipient past the quota stores nothing for
/// anyone; room made by a delivery lets the next one in.
async fn quota_refuses_whole_puts(store: &dyn MessageStore) {
    let q = Some(RecipientQuota {
        max_messages: 2,
        max_bytes: 5,
    });
    let put = |id: &str, to: &[&str]| {
        let mut m = msg(id, to);
        m.quota = q;
        m
    };
    for id in ["q1", "q2"] {
        assert!(matches!(
            store.put_message(put(id, &["gus"]), 0).await,
            Ok(PutOutcome::Stored(_))
        ));
    }
    assert_eq!(
        store.put_message(put("q3", &["hal", "gus"]), 0).await,
        Ok(PutOutcome::OverQuota(vec!["gus".to_string()]))
    );
    assert_eq!(
        store.pending_count("hal").await,
        Ok(0),
        "nothing half-stored"
    );
    let mut big = put("q4", &["gus"]);
    big.quota = Some(RecipientQuota {
        max_messages: 10,
        max_bytes: 5,
    });
    assert_eq!(
        store.put_message(big, 0).await,
        Ok(PutOutcome::OverQuota(vec!["gus".to_string()]))
    );
    assert_eq!(
        store.remove_delivered(&[("gus".into(), "q1".into())]).await,
        Ok(())
    );
    assert!(matches!(
        store.put_message(put("q5", &["hal", "gus"]), 0).await,
        Ok(PutOutcome::Stored(s)) if s.len() == 2
    ));
}

/// Batched removal takes exactly the named entries, skips ones that are
/// gone, and drops a message with its last entry.
async fn remove_delivered_takes_what_it_names(store: &dyn MessageStore) {
    for (id, to) in [
        ("m1", &["ivy", "jon"][..]),
        ("m2", &["ivy"][..]),
        ("m3", &["jon"][..]),
    ] {
        assert!(matches!(
            store.put_message(msg(id, to), 0).await,
            Ok(PutOutcome::Stored(_))
        ));
    }
    let done = [
        ("ivy".to_string(), "m1".to_string()),
        ("ivy".to_string(), "m2".to_string()),
        ("ivy".to_string(), "m9".to_string()),
        ("jon".to_string(), "m3".to_string()),
    ];
    assert_eq!(store.remove_delivered(&done).await, Ok(()));
    assert!(
        store
            .pending_messages("ivy", 0, 10)
            .await
            .expect("the store answers")
            .is_empty()
    );
    assert_eq!(
        ids(store
            .pending_messages("jon", 0, 10)
            .await
            .expect("the store answers")),
        ["m1"]
    );
    assert_eq!(
        store.remove_delivered(&[("jon".into(), "m1".into())]).await,
        Ok(())
    );
    assert_eq!(store.pending_count("jon").await, Ok(0));
    assert_eq!(store.remove_delivered(&[]).await, Ok(()));
}

/// Runs every IM check against `store`, which should start empty.
pub async fn run_all(store: &dyn MessageStore) {
    store_read_remove(store).await;
    expiry_and_dedupe(store).await;
    quota_refuses_whole_puts(store).await;
    remove_delivered_takes_what_it_names(store).await;
}

/// One SSP transaction for `peer`, as a message to a user there.
fn to_peer(peer: &str, text: &str) -> NewSspItem {
    NewSspItem {
        peer: peer.to_string(),
        response: false,
        transaction_id: None,
        body: text.as_bytes().to_vec(),
        created_ms: 1_000,
    }
}

/// A message's transactions for peer domains go in the same step as its
/// local entries and its client reference: a retry recognised by the
/// reference queues none again; a peer whose queue would pass its bound
/// refuses the whole put; a message only for peers stores no local row.
pub async fn remote_transactions_go_with_the_message<S: MessageStore + SspStore + ?Sized>(
    store: &S,
) {
    let depth =
        |p: &'static str| async move { store.ssp_depth(p).await.expect("the store answers") };
    let mut first = msg("r1", &["rhona"]);
    first.client_ref = Some("r-ref".into());
    first.remote = vec![to_peer("b.test", "to b"), to_peer("c.test", "to c")];
    first.remote_max = 10;
    assert!(matches!(
        store.put_message(first, 0).await,
        Ok(PutOutcome::Stored(s)) if s.len() == 1
    ));
    assert_eq!((depth("b.test").await, depth("c.test").await), (1, 1));
    let mut retry = msg("r2", &["rhona"]);
    retry.client_ref = Some("r-ref".into());
    retry.remote = vec![to_peer("b.test", "to b"), to_peer("c.test", "to c")];
    retry.remote_max = 10;
    assert_eq!(
        store.put_message(retry, 0).await,
        Ok(PutOutcome::Duplicate("r1".into()))
    );
    assert_eq!(
        (depth("b.test").await, depth("c.test").await),
        (1, 1),
        "a recognised retry queued a peer's transaction again"
    );

    // Only for peers: no local row, the reference kept all the same.
    let mut only = msg("r3", &[]);
    only.client_ref = Some("r-only".into());
    only.remote = vec![to_peer("b.test", "only b")];
    only.remote_max = 10;
    assert_eq!(
        store.put_message(only.clone(), 0).await,
        Ok(PutOutcome::Stored(Vec::new()))
    );
    assert_eq!(depth("b.test").await, 2);
    only.id = "r4".into();
    assert_eq!(
        store.put_message(only, 0).await,
        Ok(PutOutcome::Duplicate("r3".into()))
    );
    assert_eq!(depth("b.test").await, 2);

    // b.test holds 2 and may hold 3: two more do not fit, and nothing of
    // the message is stored, for gus or c.test.
    let mut full = msg("r5", &["rhona"]);
    full.client_ref = Some("r-full".into());
    full.remote = vec![
        to_peer("b.test", "one"),
        to_peer("b.test", "two"),
        to_peer("c.test", "three"),
    ];
    full.remote_max = 3;
    assert_eq!(
        store.put_message(full.clone(), 0).await,
        Ok(PutOutcome::PeerFull(vec!["b.test".into()]))
    );
    assert_eq!((depth("b.test").await, depth("c.test").await), (2, 1));
    assert_eq!(store.pending_count("rhona").await, Ok(1));
    // Without the reference stored, the same send is not a duplicate.
    full.remote.remove(0);
    assert!(matches!(
        store.put_message(full, 0).await,
        Ok(PutOutcome::Stored(_))
    ));
    assert_eq!((depth("b.test").await, depth("c.test").await), (3, 2));
}
