//! Instant messaging on PostgreSQL: the IM conformance checks of
//! imps-store (also run on the reference MemStore, so they test the
//! promise, not this backend), and what only a store shared by concurrent
//! connections can get wrong.

use std::sync::Arc;

use imps_core::MemStore;
use imps_core::store::{MessageStore, PutOutcome, RecipientQuota};

use imps_store::conformance_im::{self, msg};

use crate::common::with_store;

#[tokio::test]
async fn mem_store_passes_the_im_checks() {
    conformance_im::run_all(&MemStore::default()).await;
    conformance_im::remote_transactions_go_with_the_message(&MemStore::default()).await;
}

#[tokio::test]
async fn pg_store_passes_the_im_checks() {
    with_store("pg_store_passes_the_im_checks", |s, schema| async move {
        conformance_im::run_all(&*s).await;
        conformance_im::remote_transactions_go_with_the_message(&*s).await;
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
