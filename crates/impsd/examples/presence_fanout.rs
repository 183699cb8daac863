//! Presence fan-out benchmark: how long from an UpdatePresence until the
//! last of N subscribers has the PresenceNotification, and how much memory
//! each subscription costs in the server.
//!
//! ```text
//! cargo run --release -p impsd --features bench-examples --example presence_fanout -- --subscribers 10,100,1000 [--rounds 5] [--extra-owners 10]
//! ```
//!
//! Everything runs in this process: an impsd on loopback ports with a
//! temporary data dir, N subscribers on WebSocket (push, no polling delay;
//! half CSP 1.2 WBXML, half 1.3 XML) and one publisher over HTTP. Memory
//! is the growth of this process's RSS (/proc/self/status VmRSS) across
//! the subscribe phase only, after every client has logged in, divided by
//! the subscriptions made: each subscriber subscribes to the publisher and
//! to `--extra-owners` more users in one request, so the phase creates
//! N x (1 + extra) subscriptions and the allocator's noise is spread thin.
//! It includes whatever the subscribe exchange itself leaves allocated, so
//! it is an upper bound.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use imps_client::{Client, ClientConfig, Element, Encoding, Version, WsClient};
use imps_core::store::{AuthChange, GrantRecord, GrantSubject};
use imps_core::{NewUser, Store};

/// Logins in flight at once (argon2 verification is CPU-bound).
const LOGIN_CONCURRENCY: usize = 32;
const PUSH_TIMEOUT: Duration = Duration::from_secs(30);

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn attr(name: &str, value: &str) -> Element {
    Element::new(name)
        .with_text("Qualifier", "T")
        .with_text("PresenceValue", value)
}

fn sub_list(attrs: Vec<Element>) -> Element {
    let mut e = Element::new("PresenceSubList");
    e.children = attrs;
    e
}

/// The StatusText of the publisher in a pushed message, if it is one.
fn pushed_status(m: &imps_client::Message) -> Option<String> {
    let body = &m.transactions.first()?.body;
    if body.name != "PresenceNotification-Request" {
        return None;
    }
    body.children_named("Presence")
        .filter_map(|p| p.path(&["PresenceSubList", "StatusText"]))
        .filter_map(|s| s.child_text("PresenceValue"))
        .map(str::to_string)
        .last()
}

struct Report {
    n: usize,
    login: Duration,
    subscribe: Duration,
    rss_per_sub_bytes: f64,
    rounds: Vec<Duration>,
    answer: Vec<Duration>,
    /// Process CPU over all rounds (update, fan-out, clients reading).
    cpu_rounds: Duration,
}

/// CPU time of this whole process (server and in-process clients) so far,
/// from /proc/self/stat (utime + stime, in USER_HZ = 100 per second).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let ticks: u64 = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|x| x.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

async fn run(n: usize, rounds: usize, extra: usize) -> anyhow::Result<Report> {
    let dir = tempfile::tempdir()?;
    let mut cfg = impsd::Config {
        listen: "127.0.0.1:0".parse()?,
        data_dir: dir.path().join("data"),
        log: "error".into(),
        ..impsd::Config::default()
    };
    cfg.admin.listen = "127.0.0.1:0".parse()?;
    cfg.cir.tcp_listen = String::new();
    let running = impsd::start(cfg.clone()).await?;
    let url = format!("http://{}/imps", running.http_addr);
    let ws_url = format!("ws://{}/imps/ws", running.http_addr);

    let store: Arc<dyn Store> = impsd::open_store(&cfg)?;
    let hash = imps_core::auth::hash_password("pw")?;
    let ids: Vec<String> = (0..n).map(|i| format!("s{i:05}")).collect();
    let owners: Vec<String> = (0..extra).map(|i| format!("o{i:03}")).collect();
    for id in ids
        .iter()
        .chain(&owners)
        .chain(std::iter::once(&"pub".to_string()))
    {
        store
            .create_user(NewUser {
                id: id.clone(),
                password_hash: Some(hash.clone()),
                digest_secret: None,
                msisdn: None,
                friendly_name: None,
                created_ms: 0,
            })
            .await?;
    }

    // The extra owners let everyone see their OnlineStatus, so subscribing
    // to them raises no authorization question.
    for o in &owners {
        let everyone = GrantRecord {
            subject: GrantSubject::Default,
            attrs: vec!["OnlineStatus".into()],
        };
        store
            .update_presence_auth(
                o,
                AuthChange {
                    put_grants: vec![everyone],
                    ..AuthChange::default()
                },
            )
            .await?;
    }

    let publisher = Client::new(
        ClientConfig::new(url.clone(), Version::V1_2, Encoding::Xml).with_client_id("pub"),
    )?;
    publisher.login_password("pub", "pw").await?;
    publisher.service_request_all().await?;
    let everyone = Element::new("CreateAttributeList-Request")
        .with(sub_list(vec![
            Element::new("OnlineStatus"),
            Element::new("StatusText"),
        ]))
        .with_text("DefaultList", "T");
    publisher.request(everyone).await?;

    let t = Instant::now();
    let subs: Vec<WsClient> = futures_util::stream::iter(ids.iter().enumerate())
        .map(|(i, id)| {
            let ws_url = ws_url.clone();
            async move {
                let (v, e) = if i % 2 == 0 {
                    (Version::V1_2, Encoding::Wbxml)
                } else {
                    (Version::V1_3, Encoding::Xml)
                };
                let cfg = ClientConfig::new(ws_url, v, e).with_client_id(format!("ws-{id}"));
                let c = WsClient::connect_with(cfg).await?;
                c.login_password(id, "pw").await?;
                c.service_request_all().await?;
                anyhow::Ok(c)
            }
        })
        .buffer_unordered(LOGIN_CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let login = t.elapsed();

    let rss_before = rss_kib();
    let t = Instant::now();
    let targets: Vec<String> = std::iter::once("pub")
        .chain(owners.iter().map(String::as_str))
        .map(|u| format!("wv:{u}@localhost"))
        .collect();
    for (i, c) in subs.iter().enumerate() {
        let mut req = Element::new("SubscribePresence-Request");
        if i % 2 == 0 {
            for t in &targets {
                req = req.with(Element::new("User").with_text("UserID", t.clone()));
            }
        } else {
            let mut l = Element::new("UserIDList");
            for t in &targets {
                l = l.with_text("UserID", t.clone());
            }
            req = req.with(l);
        }
        c.request(req).await?;
        // One initial notification per owner.
        for _ in &targets {
            c.next_push(PUSH_TIMEOUT).await;
        }
    }
    let subscribe = t.elapsed();
    let rss_after = rss_kib();
    eprintln!(
        "N={n}: RSS {rss_before} KiB after logins, {rss_after} KiB after {} subscriptions, {} owners loaded",
        n * (1 + extra),
        running.service.presence_owners_loaded()
    );

    let mut times = Vec::new();
    let mut answer = Vec::new();
    let cpu0 = cpu_time();
    for r in 0..rounds {
        let text = format!("round {r}");
        let waiters: Vec<_> = subs
            .iter()
            .cloned()
            .map(|c| {
                let want = text.clone();
                tokio::spawn(async move {
                    while let Some(m) = c.next_push(PUSH_TIMEOUT).await {
                        if pushed_status(&m).as_deref() == Some(want.as_str()) {
                            return Some(Instant::now());
                        }
                    }
                    None
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let t0 = Instant::now();
        let upd =
            Element::new("UpdatePresence-Request").with(sub_list(vec![attr("StatusText", &text)]));
        publisher.request(upd).await?;
        answer.push(t0.elapsed());
        let mut last = t0;
        for w in waiters {
            let at = w
                .await?
                .ok_or_else(|| anyhow::anyhow!("a subscriber missed round {r}"))?;
            last = last.max(at);
        }
        times.push(last - t0);
    }
    let cpu_rounds = cpu_time().saturating_sub(cpu0);
    running.shutdown().await;
    Ok(Report {
        n,
        login,
        subscribe,
        rss_per_sub_bytes: (rss_after.saturating_sub(rss_before) * 1024) as f64
            / (n * (1 + extra)) as f64,
        rounds: times,
        answer,
        cpu_rounds,
    })
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// glibc raises its mmap threshold after the first large free, so the 19
/// MiB argon2 buffers of the logins stay in per-thread arenas afterwards
/// and later allocations reuse them: RSS would not move while the
/// subscriptions are created. A fixed threshold keeps large buffers in
/// mmap, returned at free, so the measurement sees the subscriptions.
const MALLOC_ENV: &str = "MALLOC_MMAP_THRESHOLD_";

fn main() -> anyhow::Result<()> {
    if std::env::var_os(MALLOC_ENV).is_none() {
        let status = std::process::Command::new(std::env::current_exe()?)
            .args(std::env::args().skip(1))
            .env(MALLOC_ENV, "131072")
            .status()?;
        std::process::exit(status.code().unwrap_or(1));
    }
    tokio::runtime::Runtime::new()?.block_on(bench())
}

async fn bench() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let mut ns = vec![10, 100, 1000];
    let mut rounds = 5;
    let mut extra = 10;
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "--subscribers" => {
                ns = args
                    .get(i + 1)
                    .map(|s| {
                        s.split(',')
                            .filter_map(|x| x.trim().replace('_', "").parse().ok())
                            .collect()
                    })
                    .unwrap_or_default();
                i += 1;
            }
            "--rounds" => {
                rounds = args
                    .get(i + 1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(rounds);
                i += 1;
            }
            "--extra-owners" => {
                extra = args
                    .get(i + 1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(extra);
                i += 1;
            }
            other => anyhow::bail!(
                "unknown argument {other}; use --subscribers 10,100,1000 [--rounds 5] [--extra-owners 10]"
            ),
        }
        i += 1;
    }
    println!(
        "subscribers\tlogin_s\tsubscribe_s\tupdate_answer_ms(median)\tlast_notified_ms(min/median/max)\trss_per_subscription_bytes\tcpu_ms_per_round"
    );
    for n in ns {
        let r = run(n, rounds.max(1), extra).await?;
        let min = r.rounds.iter().min().copied().unwrap_or_default();
        let max = r.rounds.iter().max().copied().unwrap_or_default();
        println!(
            "{}\t{:.1}\t{:.2}\t{:.2}\t{:.2}/{:.2}/{:.2}\t{:.0}\t{:.1}",
            r.n,
            r.login.as_secs_f64(),
            r.subscribe.as_secs_f64(),
            median(r.answer).as_secs_f64() * 1e3,
            min.as_secs_f64() * 1e3,
            median(r.rounds.clone()).as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3,
            r.rss_per_sub_bytes,
            r.cpu_rounds.as_secs_f64() * 1e3 / rounds.max(1) as f64
        );
    }
    Ok(())
}
