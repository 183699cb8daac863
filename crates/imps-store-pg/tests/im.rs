//! Instant messaging on PostgreSQL. The conformance suites do not cover
//! `MessageStore`; these checks say what the SQLite backend's own tests
//! say (a message and its entries stored whole, quota refusing whole puts,
//! batched removal, expiry, dedupe of a retried send), run on the
//! reference MemStore too so they test the promise, not this backend, and
//! add what only a store shared by concurrent connections can get wrong.

use std::sync::Arc;

use imps_core::MemStore;
use imps_core::store::{
    MessageBody, MessageStore, NewStoredMessage, PutOutcome, RecipientQuota, StoredMessage,
};

use crate::common::with_store;

fn msg(id: &str, to: &[&str]) -> NewStoredMessage {
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
    let got = store.pending_messages("cat", 0, 10).await.unwrap();
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
        ids(store.pending_messages("bob", 0, 10).await.unwrap()),
        ["r1", "r2"]
    );
    assert_eq!(
        ids(store.pending_messages("bob", seqs[0], 10).await.unwrap()),
        ["r2"]
    );
    assert_eq!(
        ids(store.pending_messages("bob", 0, 1).await.unwrap()),
        ["r1"]
    );
    assert_eq!(store.pending_count("bob").await, Ok(2));
    assert!(store.pending_message("bob", "r2").await.unwrap().is_some());
    assert!(store.pending_message("cat", "r2").await.unwrap().is_none());
    let removed = store.remove_message("bob", "r1").await.unwrap().unwrap();
    assert_eq!(
        (removed.seq, removed.sender.as_str(), removed.size),
        (seqs[0], "ann", 2)
    );
    assert!(removed.delivery_report);
    assert_eq!(removed.content_type, "text/plain");
    assert_eq!(store.remove_message("bob", "r1").await, Ok(None));
    // cat still holds r1.
    assert!(store.pending_message("cat", "r1").await.unwrap().is_some());
    assert!(store.remove_message("cat", "r1").await.unwrap().is_some());
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
        ids(store.expired_messages(100, 10).await.unwrap()),
        ["x1", "x2", "x2"]
    );
    assert_eq!(ids(store.expired_messages(100, 1).await.unwrap()), ["x1"]);
    assert!(store.expired_messages(10, 10).await.unwrap().is_empty());

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
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ids(store.pending_messages("jon", 0, 10).await.unwrap()),
        ["m1"]
    );
    assert_eq!(
        store.remove_delivered(&[("jon".into(), "m1".into())]).await,
        Ok(())
    );
    assert_eq!(store.pending_count("jon").await, Ok(0));
    assert_eq!(store.remove_delivered(&[]).await, Ok(()));
}

async fn all(store: &dyn MessageStore) {
    store_read_remove(store).await;
    expiry_and_dedupe(store).await;
    quota_refuses_whole_puts(store).await;
    remove_delivered_takes_what_it_names(store).await;
}

#[tokio::test]
async fn mem_store_passes_the_im_checks() {
    all(&MemStore::default()).await;
}

#[tokio::test]
async fn pg_store_passes_the_im_checks() {
    with_store("pg_store_passes_the_im_checks", |s, schema| async move {
        all(&*s).await;
        // Every message went with its last entry.
        let url = std::env::var(crate::common::URL_VAR).unwrap();
        let c = crate::common::admin(&url).await;
        let left: i64 = c
            .query_one(
                &format!(
                    "SELECT COUNT(*) FROM {schema}.im_messages m WHERE NOT EXISTS
                       (SELECT 1 FROM {schema}.im_queue q WHERE q.msg_id = m.id)"
                ),
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(left, 0, "no message outlives its entries");
    })
    .await;
}

/// Many recipients acknowledging one message at once, and many senders
/// writing to one recipient at once, on several connections: every
/// message goes with its last entry, and the recipient's queue holds
/// every send once, in seq order, with the quota never exceeded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_concurrent_puts_and_removals_keep_the_promises() {
    with_store("pg_concurrent_im", |s, _| async move {
        let to: Vec<String> = (0..8).map(|i| format!("w{i}")).collect();
        let refs: Vec<&str> = to.iter().map(String::as_str).collect();
        for k in 0..5 {
            let id = format!("shared{k}");
            assert!(matches!(
                s.put_message(msg(&id, &refs), 0).await,
                Ok(PutOutcome::Stored(_))
            ));
        }
        let mut tasks = Vec::new();
        for u in to.clone() {
            let s = Arc::clone(&s);
            tasks.push(tokio::spawn(async move {
                for k in 0..5 {
                    let id = format!("shared{k}");
                    if k % 2 == 0 {
                        assert!(s.remove_message(&u, &id).await.unwrap().is_some());
                    } else {
                        s.remove_delivered(&[(u.clone(), id)]).await.unwrap();
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        for u in &to {
            assert_eq!(s.pending_count(u).await, Ok(0));
        }
        // Ten senders, five messages each, to one recipient with room for 30.
        let mut tasks = Vec::new();
        for sender in 0..10 {
            let s = Arc::clone(&s);
            tasks.push(tokio::spawn(async move {
                let mut stored = 0;
                for k in 0..5 {
                    let mut m = msg(&format!("c{sender}-{k}"), &["zed"]);
                    m.sender = format!("s{sender}");
                    m.quota = Some(RecipientQuota {
                        max_messages: 30,
                        max_bytes: 0,
                    });
                    match s.put_message(m, 0).await.unwrap() {
                        PutOutcome::Stored(_) => stored += 1,
                        PutOutcome::OverQuota(_) => {}
                        other => panic!("unexpected {other:?}"),
                    }
                }
                stored
            }));
        }
        let mut stored = 0;
        for t in tasks {
            stored += t.await.unwrap();
        }
        assert_eq!(stored, 30, "exactly the quota was let in");
        let q = s.pending_messages("zed", 0, 100).await.unwrap();
        assert_eq!(q.len(), 30);
        assert!(q.windows(2).all(|w| w[0].seq < w[1].seq));
        // Each sender's messages in the order sent.
        for sender in 0..10 {
            let mine: Vec<&str> = q
                .iter()
                .filter(|m| m.sender == format!("s{sender}"))
                .map(|m| m.id.as_str())
                .collect();
            let mut sorted = mine.clone();
            sorted.sort();
            assert_eq!(mine, sorted);
        }
    })
    .await;
}
