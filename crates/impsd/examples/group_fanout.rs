//! Group message fan-out benchmark: messages per second into a group of N
//! joined members, messages per second delivered out of it, and the
//! latency from send to arrival (p50, p99, max).
//!
//! ```text
//! cargo run --release -p impsd --features bench-examples --example group_fanout -- [--members 100,1000] [--messages 2000,300] [--inflight 8]
//! ```
//!
//! Everything runs in this process: an impsd on loopback ports with a
//! temporary data dir, N members on WebSocket push (half CSP 1.2 WBXML,
//! half 1.3 XML), and one sender over HTTP with `--inflight` requests in
//! flight at once. Each message carries its send time; a member's reader
//! takes the arrival time as soon as the push is decoded. "In" is the
//! messages the server accepted per second (SendMessage answered);
//! "out" is NewMessage pushes received by all members per second over the
//! whole run, from the first send to the last arrival.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use imps_client::{Client, ClientConfig, Element, Encoding, Version, WsClient};
use imps_core::{NewUser, Store};
use imps_wire::csp;

const LOGIN_CONCURRENCY: usize = 16;
const GROUP: &str = "wv:sender/bench@localhost";

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn list(name: &str, default: &[usize]) -> Vec<usize> {
    arg(name)
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| default.to_vec())
}

/// The sender's SendMessage-Request to the group (the sender speaks 1.2).
fn message(seq: usize, sent_ns: u128) -> Element {
    let text = format!("{seq} {sent_ns}");
    csp::SendMessageRequest {
        delivery_report: Some(false),
        message_info: csp::MessageInfo {
            content_type: Some("text/plain".into()),
            content_size: Some(text.len() as u64),
            recipient: Some(csp::Recipient {
                groups: vec![csp::Group {
                    target: csp::GroupRef::Id(GROUP.into()),
                    other: Vec::new(),
                }],
                ..Default::default()
            }),
            ..Default::default()
        },
        content_data: Some(text),
        other: Vec::new(),
    }
    .to_element(Version::V1_2)
}

struct Report {
    n: usize,
    messages: usize,
    login: Duration,
    send: Duration,
    total: Duration,
    /// Process CPU from the first send to the last arrival.
    cpu: Duration,
    delivered: u64,
    latencies: Vec<u64>,
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

fn pct(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1e6
}

async fn run(n: usize, messages: usize, inflight: usize) -> anyhow::Result<Report> {
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
    let ids: Vec<String> = (0..n).map(|i| format!("m{i:05}")).collect();
    for id in ids.iter().chain(std::iter::once(&"sender".to_string())) {
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

    let sender = Client::new(
        ClientConfig::new(url.clone(), Version::V1_2, Encoding::Xml).with_client_id("snd"),
    )?;
    sender.login_password("sender", "pw").await?;
    let create = Element::new("CreateGroup-Request")
        .with_text("GroupID", GROUP)
        .with(
            Element::new("GroupProperties").with(
                Element::new("Property")
                    .with_text("Name", "MaxActiveUsers")
                    .with_text("Value", (n + 1).to_string()),
            ),
        )
        .with_text("JoinGroup", "T")
        .with(
            Element::new("ScreenName")
                .with_text("SName", "Sender")
                .with_text("GroupID", GROUP),
        )
        .with_text("SubscribeNotification", "F");
    sender.request(create).await?;

    let t = Instant::now();
    let members: Vec<WsClient> = futures_util::stream::iter(ids.iter().enumerate())
        .map(|(i, id)| {
            let ws_url = ws_url.clone();
            async move {
                let (v, e) = if i % 2 == 0 {
                    (Version::V1_2, Encoding::Wbxml)
                } else {
                    (Version::V1_3, Encoding::Xml)
                };
                let mut cfg = ClientConfig::new(ws_url, v, e).with_client_id(format!("ws-{id}"));
                cfg.push_queue = 4 * messages + 16;
                let c = WsClient::connect_with(cfg).await?;
                c.login_password(id, "pw").await?;
                let join = Element::new("JoinGroup-Request")
                    .with_text("GroupID", GROUP)
                    .with(
                        Element::new("ScreenName")
                            .with_text("SName", id.clone())
                            .with_text("GroupID", GROUP),
                    )
                    .with_text("JoinedRequest", "F")
                    .with_text("SubscribeNotification", "F");
                let r = c.request(join).await?;
                anyhow::ensure!(r.name == "JoinGroup-Response", "join failed: {r:?}");
                anyhow::Ok(c)
            }
        })
        .buffer_unordered(LOGIN_CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let login = t.elapsed();

    // One reader per member: arrival time of every NewMessage.
    let base = Instant::now();
    let delivered = Arc::new(AtomicU64::new(0));
    let expected = (n * messages) as u64;
    let mut readers = Vec::new();
    for c in members {
        let delivered = delivered.clone();
        readers.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(messages);
            while lat.len() < messages {
                let Some(m) = c.next_push(Duration::from_secs(30)).await else {
                    break;
                };
                let now = base.elapsed().as_nanos();
                let Some(t) = m.transactions.first() else {
                    continue;
                };
                if t.body.name != "NewMessage" {
                    continue;
                }
                let sent: u128 = t
                    .body
                    .child_text("ContentData")
                    .and_then(|d| d.split(' ').nth(1))
                    .and_then(|x| x.parse().ok())
                    .unwrap_or(now);
                lat.push(now.saturating_sub(sent) as u64);
                delivered.fetch_add(1, Ordering::Relaxed);
            }
            let _ = c.logout().await;
            lat
        }));
    }

    let t = Instant::now();
    let cpu0 = cpu_time();
    let results: Vec<anyhow::Result<()>> = futures_util::stream::iter(0..messages)
        .map(|seq| {
            let sender = sender.clone();
            async move {
                let r = sender
                    .request(message(seq, base.elapsed().as_nanos()))
                    .await?;
                anyhow::ensure!(r.name == "SendMessage-Response", "send failed: {r:?}");
                Ok(())
            }
        })
        .buffer_unordered(inflight)
        .collect()
        .await;
    let send = t.elapsed();
    for r in results {
        r?;
    }
    let mut latencies = Vec::with_capacity(expected as usize);
    for r in readers {
        latencies.extend(r.await?);
    }
    let total = t.elapsed();
    let cpu = cpu_time().saturating_sub(cpu0);
    running.shutdown().await;
    latencies.sort_unstable();
    Ok(Report {
        n,
        messages,
        login,
        send,
        total,
        cpu,
        delivered: delivered.load(Ordering::Relaxed),
        latencies,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let sizes = list("--members", &[100, 1000]);
    let counts = list("--messages", &[2000, 300]);
    let inflight = arg("--inflight").and_then(|s| s.parse().ok()).unwrap_or(8);
    println!(
        "| members | messages | logins+joins s | in msg/s | out msg/s | delivered | p50 ms | p99 ms | max ms | cpu ms per 1,000 delivered |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (i, n) in sizes.iter().enumerate() {
        let m = counts
            .get(i)
            .copied()
            .or(counts.last().copied())
            .unwrap_or(100);
        let r = run(*n, m, inflight).await?;
        let expected = (r.n * r.messages) as u64;
        println!(
            "| {} | {} | {:.1} | {:.0} | {:.0} | {}/{} | {:.1} | {:.1} | {:.1} | {:.1} |",
            r.n,
            r.messages,
            r.login.as_secs_f64(),
            r.messages as f64 / r.send.as_secs_f64(),
            r.delivered as f64 / r.total.as_secs_f64(),
            r.delivered,
            expected,
            pct(&r.latencies, 0.5),
            pct(&r.latencies, 0.99),
            pct(&r.latencies, 1.0),
            r.cpu.as_secs_f64() * 1e6 / r.delivered.max(1) as f64,
        );
    }
    Ok(())
}
