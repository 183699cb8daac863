//! Acknowledged means durable, and delivered exactly once, through crashes.
//!
//! 100 users exchange 10,000 messages over WebSocket against the real
//! impsd binary while it is killed with SIGKILL at random moments and
//! restarted several times. A sender retries a send that got no answer
//! (same client MessageID, so the server can recognise the retry) until it
//! gets one. At the end:
//! - every message answered 200 reached its recipient (no loss);
//! - no message reached anyone under two server MessageIDs, and none that
//!   was never answered 200 appeared (no duplicate message);
//! - each recipient saw each sender's messages in the order sent.
//!
//! A message offered before a crash whose acknowledgement the crash ate is
//! offered again afterwards under the same MessageID; the client drops it
//! by ID, as a real client does. Those wire-level repeats are counted and
//! printed, not failed.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use imps_client::{ClientConfig, Element, Encoding, Version, WsClient, status_of};
use imps_core::NewUser;

const BIN: &str = env!("CARGO_BIN_EXE_impsd");
const USERS: usize = 100;
const PER_USER: usize = 100;
const KILLS: usize = 4;

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn write_config(dir: &Path, port: u16, db: Option<&crate::common::TestDb>) -> PathBuf {
    let path = dir.join("impsd.toml");
    let text = format!(
        r#"listen = "127.0.0.1:{port}"
data_dir = "{data}"
log = "warn"
[cir]
tcp_listen = ""
[admin]
listen = "127.0.0.1:0"
[im]
redeliver_secs = 2
offline_notify = "off"
# Retries after each kill come on top of 100 sends per user; this test is
# about durability, not the sender rate (tests/im_limits.rs covers it).
send_rate_per_sec = 0
[limits]
max_connections_per_address = 0
{store}"#,
        data = dir.join("data").display(),
        store = crate::common::store_toml(db),
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn spawn(cfg: &Path, data: &Path) -> Child {
    let _ = std::fs::remove_file(data.join("admin.json"));
    let child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !data.join("admin.json").exists() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "impsd did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// A small xorshift generator: the test prints its seed, and
/// IM_DURABILITY_SEED replays a run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn user(i: usize) -> String {
    format!("u{i:03}")
}

#[derive(Default)]
struct Tally {
    /// (sender, n) -> (recipient, server MessageID), answered 200.
    acked: Mutex<HashMap<(usize, usize), (usize, String)>>,
    /// Contents of sends that got no answer and were not retried.
    in_doubt: Mutex<HashSet<String>>,
    /// recipient -> server MessageIDs seen, in arrival order of first sight.
    seen: Mutex<HashMap<usize, Vec<(String, String)>>>,
    repeats: AtomicU64,
    retries: AtomicU64,
    reconnects: AtomicU64,
    received: AtomicU64,
}

/// One user's connection, remade after every crash: the session survives
/// the restart (sessions are stored); Service negotiation makes it ready,
/// which offers what waits for it.
async fn connect(url: &str, v: Version, e: Encoding, session: &str) -> WsClient {
    loop {
        let cfg = ClientConfig::new(url, v, e).with_timeout(Duration::from_secs(10));
        if let Ok(c) = WsClient::connect_with(cfg).await {
            c.set_session_id(Some(session.to_string()));
            match c.service_request_all().await {
                Ok(_) => return c,
                Err(imps_client::ClientError::Status { code, .. }) => {
                    panic!("session lost: {code}")
                }
                Err(_) => {}
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How the senders behave.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Senders {
    /// With a client MessageID, retrying a send that got no answer.
    Retry,
    /// Without one (the server cannot recognise a retry), never retrying:
    /// a send that got no answer is in doubt, and may arrive or not.
    /// These messages take the server's push-before-store path
    /// (`im.ack_window_ms`).
    NoRetry,
}

fn send_body(me: usize, n: usize, to: usize, how: Senders) -> Element {
    let mut info = Element::new("MessageInfo");
    if how == Senders::Retry {
        info = info.with_text("MessageID", format!("{}-{n}", user(me)));
    }
    Element::new("SendMessage-Request")
        .with_text("DeliveryReport", "F")
        .with(info.with_text("ContentType", "text/plain").with(
            Element::new("Recipient").with(
                Element::new("User").with_text("UserID", format!("wv:{}@localhost", user(to))),
            ),
        ))
        .with_text("ContentData", format!("{me}:{n}"))
}

#[allow(clippy::too_many_arguments)]
async fn run_user(
    me: usize,
    url: String,
    v: Version,
    e: Encoding,
    session: String,
    targets: Vec<usize>,
    tally: Arc<Tally>,
    done_sending: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    how: Senders,
) {
    let mut ws = connect(&url, v, e, &session).await;
    let mut next = 0usize;
    let mut seen: HashSet<String> = HashSet::new();
    let mut sending: Option<tokio::task::JoinHandle<Result<Element, imps_client::ClientError>>> =
        None;
    loop {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        if sending.is_none() && next < PER_USER {
            let c = ws.clone();
            let body = send_body(me, next, targets[next], how);
            sending = Some(tokio::spawn(async move { c.request(body).await }));
        }
        let mut broken = false;
        tokio::select! {
            r = async { sending.as_mut().unwrap().await }, if sending.is_some() => {
                sending = None;
                match r.unwrap() {
                    Ok(resp) if status_of(&resp).map(|s| s.0) == Some(200) => {
                        let id = resp.child_text("MessageID").unwrap().to_string();
                        tally.acked.lock().unwrap().insert((me, next), (targets[next], id));
                        next += 1;
                        if next == PER_USER {
                            done_sending.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Ok(resp) => panic!("send refused: {resp:?}"),
                    Err(_) => {
                        broken = true;
                        if how == Senders::Retry {
                            tally.retries.fetch_add(1, Ordering::Relaxed);
                        } else {
                            tally.in_doubt.lock().unwrap().insert(format!("{me}:{next}"));
                            next += 1;
                            if next == PER_USER {
                                done_sending.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                }
            }
            p = ws.next_push(Duration::from_millis(100)) => match p {
                Some(m) => {
                    let t = m.transactions.into_iter().next().unwrap();
                    if t.body.name == "NewMessage" {
                        let id = t.body.path(&["MessageInfo", "MessageID"]).unwrap().text.clone();
                        let text = t.body.child_text("ContentData").unwrap_or("").to_string();
                        if seen.insert(id.clone()) {
                            tally.received.fetch_add(1, Ordering::Relaxed);
                            tally.seen.lock().unwrap().entry(me).or_default().push((id.clone(), text));
                        } else {
                            tally.repeats.fetch_add(1, Ordering::Relaxed);
                        }
                        let ack = Element::new("MessageDelivered").with_text("MessageID", id);
                        if ws.answer(t.id.as_deref().unwrap(), ack).await.is_err() {
                            broken = true;
                        }
                    } else if let Some(tid) = t.id.as_deref() {
                        let _ = ws.answer_status(tid).await;
                    }
                }
                None => broken = ws.is_closed(),
            },
        }
        if broken {
            if let Some(h) = sending.take() {
                h.abort();
                // Without a client MessageID, sending it again would be a
                // new message: the unanswered one is in doubt.
                if how == Senders::NoRetry {
                    tally
                        .in_doubt
                        .lock()
                        .unwrap()
                        .insert(format!("{me}:{next}"));
                    next += 1;
                    if next == PER_USER {
                        done_sending.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            tally.reconnects.fetch_add(1, Ordering::Relaxed);
            ws = connect(&url, v, e, &session).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn base_im_acknowledged_messages_survive_sigkill_exactly_once_in_order() {
    storm(Senders::Retry).await;
}

/// The same storm with senders that give no client MessageID and never
/// retry: their messages are pushed before they are stored, and one
/// acknowledged by its recipient within the window is never written.
/// Every 200 must still mean delivered: no loss, no duplicate, order kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn base_im_sends_without_client_ids_survive_sigkill_exactly_once_in_order() {
    storm(Senders::NoRetry).await;
}

async fn storm(how: Senders) {
    let started = Instant::now();
    let seed = std::env::var("IM_DURABILITY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    println!("seed {seed}");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let db = crate::common::TestDb::from_env();
    let cfg_path = write_config(dir.path(), port, db.as_ref());
    let data = dir.path().join("data");
    // Users straight into the store, all with one argon2 hash.
    let cfg = impsd::Config::from_file(&cfg_path).unwrap();
    {
        let store = impsd::connect_store(&cfg).await.unwrap();
        let hash = imps_core::auth::hash_password("pw").unwrap();
        for i in 0..USERS {
            store
                .create_user(NewUser {
                    id: user(i),
                    password_hash: Some(hash.clone()),
                    digest_secret: None,
                    msisdn: None,
                    friendly_name: None,
                    created_ms: 0,
                })
                .await
                .unwrap();
        }
    }
    let mut child = spawn(&cfg_path, &data);
    let url = format!("http://127.0.0.1:{port}/imps");
    let ws_url = format!("ws://127.0.0.1:{port}/imps/ws");
    // Log everyone in once; later connections resume these sessions.
    let mut sessions = Vec::new();
    for i in 0..USERS {
        let c = imps_client::Client::new(
            ClientConfig::new(url.clone(), Version::V1_3, Encoding::Xml).with_client_id("durable"),
        )
        .unwrap();
        sessions.push(c.login_password(&user(i), "pw").await.unwrap().session_id);
    }
    let tally = Arc::new(Tally::default());
    let done_sending = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for (i, session) in sessions.into_iter().enumerate() {
        let targets: Vec<usize> = (0..PER_USER)
            .map(|_| {
                let t = (rng.next() % (USERS as u64 - 1)) as usize;
                if t >= i { t + 1 } else { t }
            })
            .collect();
        let (v, e) = if i % 2 == 0 {
            (Version::V1_3, Encoding::Wbxml)
        } else {
            (Version::V1_2, Encoding::Xml)
        };
        tasks.push(tokio::spawn(run_user(
            i,
            ws_url.clone(),
            v,
            e,
            session,
            targets,
            tally.clone(),
            done_sending.clone(),
            stop.clone(),
            how,
        )));
    }
    // Kill when the acknowledged count passes random points of the load.
    let total = (USERS * PER_USER) as u64;
    let mut points: Vec<u64> = (0..KILLS)
        .map(|k| total * (10 + 20 * k as u64) / 100 + rng.next() % (total / 10))
        .collect();
    points.sort_unstable();
    let mut kills = 0;
    for p in points {
        while (tally.acked.lock().unwrap().len() as u64) < p {
            assert!(
                started.elapsed() < Duration::from_secs(100),
                "load stalled before kill {kills}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.next() % 50)).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        child = spawn(&cfg_path, &data);
    }
    // Everything sent; wait until every acknowledged message arrived.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let sent_all = done_sending.load(Ordering::Relaxed) == USERS as u64;
        // Arrivals of sends in doubt do not stand in for acknowledged
        // ones: count the acknowledged that arrived.
        let (acked, received) = {
            let acked = tally.acked.lock().unwrap();
            let seen = tally.seen.lock().unwrap();
            let ids: HashSet<&str> = seen.values().flatten().map(|(i, _)| i.as_str()).collect();
            let arrived = acked
                .values()
                .filter(|(_, i)| ids.contains(i.as_str()))
                .count();
            (acked.len(), arrived)
        };
        if sent_all && received >= acked {
            break;
        }
        if Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A little longer, so late duplicates would show.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let acked = tally.acked.lock().unwrap();
    let seen = tally.seen.lock().unwrap();
    let by_id: HashMap<&str, (usize, usize)> = acked
        .iter()
        .map(|((s, n), (_, id))| (id.as_str(), (*s, *n)))
        .collect();
    let mut lost = 0;
    let mut wrong_recipient = 0;
    let mut delivered_ids: HashSet<&str> = HashSet::new();
    let in_doubt = tally.in_doubt.lock().unwrap();
    let mut unacked_arrivals = 0;
    let mut in_doubt_arrivals = 0;
    let mut twice_by_content = 0;
    let mut out_of_order = 0;
    for (rcpt, list) in seen.iter() {
        let mut contents: HashSet<&str> = HashSet::new();
        let mut last: BTreeMap<usize, usize> = BTreeMap::new();
        for (id, text) in list {
            if !contents.insert(text) {
                twice_by_content += 1;
            }
            match by_id.get(id.as_str()) {
                None if in_doubt.contains(text) => in_doubt_arrivals += 1,
                None => unacked_arrivals += 1,
                Some((s, n)) => {
                    delivered_ids.insert(id);
                    if acked[&(*s, *n)].0 != *rcpt {
                        wrong_recipient += 1;
                    }
                    if let Some(prev) = last.insert(*s, *n)
                        && prev >= *n
                    {
                        out_of_order += 1;
                    }
                }
            }
        }
    }
    for (id, _) in by_id.iter() {
        if !delivered_ids.contains(id) {
            lost += 1;
        }
    }
    println!(
        "im durability: {} kills, {} messages acknowledged, {} delivered (distinct), {} lost, \
         {} duplicated under another ID, {} delivered without acknowledgement, {} out of order, \
         {} wrong recipient; {} wire repeats dropped by ID, {} send retries, {} reconnects; \
         {} sends in doubt ({} of them arrived); {:.1} s",
        kills,
        acked.len(),
        delivered_ids.len(),
        lost,
        twice_by_content,
        unacked_arrivals,
        out_of_order,
        wrong_recipient,
        tally.repeats.load(Ordering::Relaxed),
        tally.retries.load(Ordering::Relaxed),
        tally.reconnects.load(Ordering::Relaxed),
        in_doubt.len(),
        in_doubt_arrivals,
        started.elapsed().as_secs_f64()
    );
    assert_eq!(kills, KILLS);
    assert_eq!(
        acked.len() + in_doubt.len(),
        USERS * PER_USER,
        "every send answered 200 in the end, or (not retried) in doubt"
    );
    assert_eq!(lost, 0, "lost messages");
    assert_eq!(
        twice_by_content, 0,
        "a message delivered twice under different IDs"
    );
    assert_eq!(unacked_arrivals, 0, "delivered but never answered 200");
    assert_eq!(wrong_recipient, 0);
    assert_eq!(out_of_order, 0, "per-sender order");
}
