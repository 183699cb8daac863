//! Group commit of the IM hot path (issue 18): concurrent puts and
//! acknowledged deletes go to PostgreSQL together, one transaction and a
//! few round trips for the batch, each caller answered after the commit
//! with exactly what it would have got alone. Round trips are counted by
//! a proxy between the store and the server (frontend `Sync` and simple
//! `Query` messages, each of which waits for the server's answer), so the
//! count does not depend on the store's own bookkeeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use imps_core::StoreError;
use imps_core::store::{MessageStore, PutOutcome, RecipientQuota};
use imps_store::conformance_im::msg;
use imps_store_pg::{PgOptions, PgStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{admin, drop_schema, options, unique_schema, url_or_skip};

/// How many round trips the client started through the proxy.
#[derive(Clone, Default)]
struct Trips(Arc<AtomicU64>);

impl Trips {
    fn take(&self) -> u64 {
        self.0.swap(0, Ordering::SeqCst)
    }
}

/// Reads the client's messages, forwarding every byte, and counts those
/// that end a round trip: `S` (Sync, the end of an extended-protocol
/// query) and `Q` (a simple query such as BEGIN or COMMIT).
async fn count_frontend(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    trips: Trips,
) -> std::io::Result<()> {
    // Untyped startup messages first (an SSLRequest, answered with one
    // byte, may come before the StartupMessage).
    loop {
        let mut len = [0u8; 4];
        from.read_exact(&mut len).await?;
        let n = u32::from_be_bytes(len) as usize;
        let mut body = vec![0u8; n - 4];
        from.read_exact(&mut body).await?;
        to.write_all(&len).await?;
        to.write_all(&body).await?;
        if body[..4] != 80_877_103u32.to_be_bytes() {
            break;
        }
    }
    loop {
        let mut head = [0u8; 5];
        from.read_exact(&mut head).await?;
        let n = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let mut body = vec![0u8; n - 4];
        from.read_exact(&mut body).await?;
        if head[0] == b'S' || head[0] == b'Q' {
            trips.0.fetch_add(1, Ordering::SeqCst);
        }
        to.write_all(&head).await?;
        to.write_all(&body).await?;
    }
}

/// A TCP proxy to the server of `url`; the URL to use through it.
async fn counting_proxy(url: &str) -> (String, Trips) {
    let cfg: tokio_postgres::Config = url.parse().unwrap();
    let host = match &cfg.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(h) => h.clone(),
        #[allow(unreachable_patterns)]
        _ => panic!("the test needs a TCP host in {url}"),
    };
    let port = cfg.get_ports().first().copied().unwrap_or(5432);
    let hostport = format!("{host}:{port}");
    assert!(url.contains(&hostport), "{url} names host:port");
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxied = url.replacen(&hostport, &l.local_addr().unwrap().to_string(), 1);
    let trips = Trips::default();
    let t = trips.clone();
    tokio::spawn(async move {
        while let Ok((inbound, _)) = l.accept().await {
            let up = tokio::net::TcpStream::connect((host.as_str(), port))
                .await
                .unwrap();
            let (ri, mut wi) = inbound.into_split();
            let (mut ro, wo) = up.into_split();
            tokio::spawn(count_frontend(ri, wo, t.clone()));
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut ro, &mut wi).await;
            });
        }
    });
    (proxied, trips)
}

/// A store in a fresh schema reached through the counting proxy, with a
/// batch window long enough that concurrent callers meet.
async fn proxied_store(test: &str) -> Option<(Arc<PgStore>, Trips, String, String)> {
    let url = url_or_skip(test)?;
    let (proxied, trips) = counting_proxy(&url).await;
    let schema = unique_schema(test);
    let opts = PgOptions {
        batch_window_us: 5_000,
        batch_max: 64,
        ..options(&proxied, &schema)
    };
    let store = Arc::new(PgStore::open(opts).await.unwrap());
    Some((store, trips, url, schema))
}
/// Closes the store and drops its schema.
async fn finish(store: Arc<PgStore>, url: &str, schema: &str) {
    if let Ok(store) = Arc::try_unwrap(store) {
        store.close().await.unwrap();
    }
    drop_schema(url, schema).await;
}

/// `n` puts at once, message `{tag}{i}` to `r{i % 8}`; their outcomes in
/// order.
async fn put_many(s: &Arc<PgStore>, tag: &str, n: usize) -> Vec<Result<PutOutcome, StoreError>> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let s = Arc::clone(s);
            let id = format!("{tag}{i}");
            let to = format!("r{}", i % 8);
            tokio::spawn(async move { s.put_message(msg(&id, &[to.as_str()]), 0).await })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

const N: usize = 64;

/// Many concurrent puts share round trips (fewer than one per put; alone
/// each costs five: BEGIN, lock, two inserts, COMMIT), every one of them
/// is readable afterwards, and many concurrent acknowledged deletes share
/// them too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_concurrent_puts_share_round_trips_and_all_are_readable() {
    let test = "pg_concurrent_puts_share_round_trips";
    let Some((s, trips, url, schema)) = proxied_store(test).await else {
        return;
    };
    let body = {
        let s = Arc::clone(&s);
        async move {
            // Warm up: every connection prepares its statements.
            for round in 0..2 {
                for r in put_many(&s, &format!("w{round}_"), N).await {
                    assert!(matches!(r, Ok(PutOutcome::Stored(_))), "{r:?}");
                }
            }
            let mut before = 0;
            for i in 0..8 {
                before += s.pending_count(&format!("r{i}")).await.unwrap();
            }
            trips.take();
            let outcomes = put_many(&s, "m", N).await;
            let put_trips = trips.take();
            for r in &outcomes {
                assert!(matches!(r, Ok(PutOutcome::Stored(_))), "{r:?}");
            }
            assert!(
                put_trips * 2 <= N as u64,
                "{N} concurrent puts took {put_trips} round trips"
            );
            // Every message readable, once, from its recipient's queue.
            let mut seen = Vec::new();
            for i in 0..8 {
                for m in s.pending_messages(&format!("r{i}"), 0, 1000).await.unwrap() {
                    if m.id.starts_with('m') {
                        assert_eq!(m.recipient, format!("r{i}"));
                        assert_eq!(m.body.data, "hi");
                        seen.push(m.id);
                    }
                }
            }
            seen.sort();
            let mut want: Vec<String> = (0..N).map(|i| format!("m{i}")).collect();
            want.sort();
            assert_eq!(seen, want);
            // Each delivered message acknowledged by its own call, all at
            // once.
            trips.take();
            let tasks: Vec<_> = (0..N)
                .map(|i| {
                    let s = Arc::clone(&s);
                    let e = vec![(format!("r{}", i % 8), format!("m{i}"))];
                    tokio::spawn(async move { s.remove_delivered(&e).await })
                })
                .collect();
            for t in tasks {
                t.await.unwrap().unwrap();
            }
            let del_trips = trips.take();
            assert!(
                del_trips * 2 <= N as u64,
                "{N} concurrent acknowledged deletes took {del_trips} round trips"
            );
            let mut after = 0;
            for i in 0..8 {
                after += s.pending_count(&format!("r{i}")).await.unwrap();
            }
            assert_eq!(after, before, "the acknowledged ones are gone, only they");
        }
    };
    let res = tokio::spawn(body).await;
    finish(s, &url, &schema).await;
    if let Err(e) = res {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Puts that meet in one batch get what each would get alone: one of
/// several puts of one ID is stored and the others conflict, one of
/// several retries of one send reference is stored and the others are its
/// duplicates, and a recipient's quota admits exactly as many as it has
/// room for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_a_batch_gives_each_caller_what_it_would_get_alone() {
    let test = "pg_a_batch_gives_each_caller";
    let Some((s, _, url, schema)) = proxied_store(test).await else {
        return;
    };
    let body = {
        let s = Arc::clone(&s);
        async move {
            let mut tasks = Vec::new();
            for i in 0..10 {
                let mut same_id = msg("same", &["x"]);
                same_id.body.data = format!("same {i}");
                let mut same_ref = msg(&format!("ref{i}"), &["y"]);
                same_ref.client_ref = Some("client-ref".into());
                let mut quota = msg(&format!("q{i}"), &["full"]);
                quota.quota = Some(RecipientQuota {
                    max_messages: 3,
                    max_bytes: 0,
                });
                for m in [same_id, same_ref, quota] {
                    let s = Arc::clone(&s);
                    tasks.push(tokio::spawn(async move { s.put_message(m, 0).await }));
                }
            }
            let mut outcomes = Vec::new();
            for t in tasks {
                outcomes.push(t.await.unwrap());
            }
            let (mut id_stored, mut id_conflict) = (0, 0);
            let (mut ref_stored, mut ref_dups) = (Vec::new(), Vec::new());
            let (mut q_stored, mut q_over) = (0, 0);
            for (k, r) in outcomes.into_iter().enumerate() {
                match (k % 3, r) {
                    (0, Ok(PutOutcome::Stored(_))) => id_stored += 1,
                    (0, Err(StoreError::Conflict(_))) => id_conflict += 1,
                    (1, Ok(PutOutcome::Stored(_))) => ref_stored.push(format!("ref{}", k / 3)),
                    (1, Ok(PutOutcome::Duplicate(id))) => ref_dups.push(id),
                    (2, Ok(PutOutcome::Stored(_))) => q_stored += 1,
                    (2, Ok(PutOutcome::OverQuota(who))) => {
                        assert_eq!(who, vec!["full".to_string()]);
                        q_over += 1;
                    }
                    (_, other) => panic!("put {k}: unexpected {other:?}"),
                }
            }
            assert_eq!((id_stored, id_conflict), (1, 9), "one ID stored once");
            assert_eq!(ref_stored.len(), 1, "one send reference stored once");
            assert_eq!(ref_dups, vec![ref_stored[0].clone(); 9]);
            assert_eq!((q_stored, q_over), (3, 7), "the quota admits three");
            assert_eq!(s.pending_count("x").await.unwrap(), 1);
            assert_eq!(s.pending_count("y").await.unwrap(), 1);
            assert_eq!(s.pending_count("full").await.unwrap(), 3);
        }
    };
    let res = tokio::spawn(body).await;
    finish(s, &url, &schema).await;
    if let Err(e) = res {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// A batch that fails fails every caller in it with the store's error,
/// and none of its messages is stored (never an acknowledged loss).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_a_failed_batch_fails_every_caller() {
    let test = "pg_a_failed_batch_fails_every_caller";
    let Some((s, _, url, schema)) = proxied_store(test).await else {
        return;
    };
    let body = {
        let (s, url, schema) = (Arc::clone(&s), url.clone(), schema.clone());
        async move {
            let c = admin(&url).await;
            // Queue entries cannot be written: every put fails at its
            // last step, after its message row went in.
            c.batch_execute(&format!(
                "ALTER TABLE {schema}.im_queue ADD CONSTRAINT no_entries CHECK (bytes < 0)"
            ))
            .await
            .unwrap();
            for r in put_many(&s, "f", 20).await {
                assert!(matches!(r, Err(StoreError::Backend(_))), "{r:?}");
            }
            c.batch_execute(&format!(
                "ALTER TABLE {schema}.im_queue DROP CONSTRAINT no_entries"
            ))
            .await
            .unwrap();
            let left: i64 = c
                .query_one(&format!("SELECT COUNT(*) FROM {schema}.im_messages"), &[])
                .await
                .unwrap()
                .get(0);
            assert_eq!(left, 0, "nothing of the failed batch stayed");
            for r in put_many(&s, "g", 20).await {
                assert!(matches!(r, Ok(PutOutcome::Stored(_))), "{r:?}");
            }
        }
    };
    let res = tokio::spawn(body).await;
    finish(s, &url, &schema).await;
    if let Err(e) = res {
        std::panic::resume_unwind(e.into_panic());
    }
}
