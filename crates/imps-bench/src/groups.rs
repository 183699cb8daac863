//! `imps-bench groups`: fan-out of messages to one group (issue 19).
//!
//! `--members` users each log in on one WebSocket (CSP 1.3, WBXML unless
//! `--xml`) and join one group; a sender, joined too, sends to the group
//! on its own WebSocket. Two phases:
//!
//! 1. latency: `--probes` messages one after another, each sent when the
//!    last one has reached every member; for each, the time from just
//!    before its SendMessage-Request is written until the last member has
//!    its NewMessage (min, median, p99, max over the probes);
//! 2. throughput: `--messages` messages with `--inflight` sends in flight;
//!    messages accepted per second ("in"), pushes received per second
//!    ("out"), whether every push arrived, and the server's CPU per 1,000
//!    pushes (a started server only, from /proc).
//!
//! Members and sender are in this process, so one clock measures both
//! ends; the server is a child process (or `--url`).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use futures_util::StreamExt;
use imps_client::{ClientConfig, Element, Encoding, Version, WsClient, status_of};
use imps_wire::csp;

use crate::im::pct;
use crate::target::{Settings, Target};

#[derive(Args, Debug)]
pub struct GroupsArgs {
    /// Joined members besides the sender.
    #[arg(long, default_value_t = 200)]
    members: usize,
    /// Messages of the latency phase, one at a time.
    #[arg(long, default_value_t = 200)]
    probes: usize,
    /// Messages of the throughput phase.
    #[arg(long, default_value_t = 2000)]
    messages: usize,
    /// Sends in flight during the throughput phase.
    #[arg(long, default_value_t = 8)]
    inflight: usize,
    /// Use XML instead of WBXML.
    #[arg(long)]
    xml: bool,
    /// HTTP URL of a running server whose users PREFIX0000... exist with
    /// --password.
    #[arg(long, conflicts_with = "impsd")]
    url: Option<String>,
    /// The impsd binary to start [default: `impsd` beside this
    /// executable].
    #[arg(long, value_name = "PATH")]
    impsd: Option<PathBuf>,
    #[arg(long, default_value = "grp")]
    user_prefix: String,
    #[arg(long, default_value = "bench-pw")]
    password: String,
}

const VERSION: Version = Version::V1_3;
/// Logins and joins at once while setting up.
const SETUP_CONCURRENCY: usize = 16;

/// Arrivals per message: how many members have it, and the latest
/// arrival (microseconds since `t0`).
struct Arrivals {
    count: Vec<AtomicU32>,
    last_us: Vec<AtomicU64>,
    sent_us: Vec<AtomicU64>,
    delivered: AtomicU64,
}

impl Arrivals {
    fn new(n: usize) -> Arrivals {
        Arrivals {
            count: (0..n).map(|_| AtomicU32::new(0)).collect(),
            last_us: (0..n).map(|_| AtomicU64::new(0)).collect(),
            sent_us: (0..n).map(|_| AtomicU64::new(0)).collect(),
            delivered: AtomicU64::new(0),
        }
    }
}

/// A group in the sender's name space.
fn group_id(owner: &str) -> String {
    format!("wv:{owner}/fanout@localhost")
}

fn send_body(group: &str, seq: usize) -> Element {
    let text = format!("{seq} fan-out");
    csp::SendMessageRequest {
        delivery_report: Some(false),
        message_info: csp::MessageInfo {
            content_type: Some("text/plain".into()),
            content_size: Some(text.len() as u64),
            recipient: Some(csp::Recipient {
                groups: vec![csp::Group {
                    target: csp::GroupRef::Id(group.into()),
                    other: Vec::new(),
                }],
                ..Default::default()
            }),
            ..Default::default()
        },
        content_data: Some(text),
        other: Vec::new(),
    }
    .to_element(VERSION)
}

fn screen_name(sname: &str, group: &str) -> Element {
    Element::new("ScreenName")
        .with_text("SName", sname)
        .with_text("GroupID", group)
}

/// Takes one member's pushes and counts the group's NewMessages.
async fn member(ws: WsClient, t0: Instant, a: Arc<Arrivals>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let Some(m) = ws.next_push(Duration::from_millis(200)).await else {
            if ws.is_closed() {
                return;
            }
            continue;
        };
        let now = t0.elapsed().as_micros() as u64;
        for t in m.transactions {
            if t.body.name != "NewMessage" {
                continue;
            }
            let seq = t
                .body
                .child_text("ContentData")
                .and_then(|d| d.split(' ').next())
                .and_then(|s| s.parse::<usize>().ok());
            if let Some(i) = seq.filter(|i| *i < a.count.len()) {
                a.last_us[i].fetch_max(now, Ordering::Relaxed);
                a.count[i].fetch_add(1, Ordering::Relaxed);
                a.delivered.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

async fn send(
    ws: &WsClient,
    group: &str,
    seq: usize,
    t0: Instant,
    a: &Arrivals,
) -> anyhow::Result<bool> {
    a.sent_us[seq].store(t0.elapsed().as_micros() as u64, Ordering::Relaxed);
    let r = ws.request(send_body(group, seq)).await?;
    Ok(status_of(&r).map(|s| s.0) == Some(200))
}

pub async fn run(args: &GroupsArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.members >= 1, "--members must be at least 1");
    let n = args.members;
    let pw = args.password.clone();
    let settings = Settings::default()
        .set(
            "groups",
            "max_joined_per_group",
            (n + 1).max(10_000).to_string(),
        )
        .set("session", "max_outbox", (args.messages + 1024).to_string());
    let target = match &args.url {
        Some(url) => Target::external(url.clone(), &args.user_prefix, n + 1, pw),
        None => {
            let bin = crate::target::impsd_path(args.impsd.as_deref())?;
            Target::spawn(&bin, &args.user_prefix, n + 1, pw, &settings).await?
        }
    };
    let enc = if args.xml {
        Encoding::Xml
    } else {
        Encoding::Wbxml
    };
    let ws_url = target.ws_url();
    let group = group_id(&target.users[0]);
    let connect = |user: String| {
        let mut cfg = ClientConfig::new(ws_url.clone(), VERSION, enc)
            .with_client_id(format!("fanout-{user}"));
        cfg.push_queue = args.messages + args.probes + 64;
        let pw = target.password.clone();
        async move {
            let ws = WsClient::connect_with(cfg).await?;
            ws.login_password(&user, &pw).await?;
            ws.client_capability(&[], None).await?;
            anyhow::Ok(ws)
        }
    };

    let sender_name = target.users[0].clone();
    let sender = connect(sender_name.clone()).await?;
    let create = Element::new("CreateGroup-Request")
        .with_text("GroupID", group.clone())
        .with(
            Element::new("GroupProperties").with(
                Element::new("Property")
                    .with_text("Name", "MaxActiveUsers")
                    .with_text("Value", (n + 1).to_string()),
            ),
        )
        .with_text("JoinGroup", "T")
        .with(screen_name("Sender", &group))
        .with_text("SubscribeNotification", "F");
    let r = sender.request(create).await?;
    anyhow::ensure!(
        status_of(&r).map(|s| s.0) == Some(200),
        "CreateGroup failed: {r:?}"
    );

    let setup = Instant::now();
    let members: Vec<WsClient> = futures_util::stream::iter(target.users[1..].iter().cloned())
        .map(|user| {
            let (connect, group) = (&connect, group.clone());
            async move {
                let ws = connect(user.clone()).await?;
                let join = Element::new("JoinGroup-Request")
                    .with_text("GroupID", group.clone())
                    .with(screen_name(&user, &group))
                    .with_text("JoinedRequest", "F")
                    .with_text("SubscribeNotification", "F");
                let r = ws.request(join).await?;
                // Success is the JoinGroup-Response itself; a refusal is a
                // Status with its code.
                anyhow::ensure!(r.name == "JoinGroup-Response", "JoinGroup failed: {r:?}");
                anyhow::Ok(ws)
            }
        })
        .buffer_unordered(SETUP_CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    println!(
        "imps-bench groups: {} server; {n} members on WebSocket (CSP 1.3 {enc:?}) joined in {:.1} s",
        target.kind(),
        setup.elapsed().as_secs_f64()
    );

    let total = args.probes + args.messages;
    let a = Arc::new(Arrivals::new(total));
    let stop = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let readers: Vec<_> = members
        .iter()
        .map(|ws| tokio::spawn(member(ws.clone(), t0, a.clone(), stop.clone())))
        .collect();

    // Phase 1: one message at a time, until every member has it.
    let mut lat = Vec::with_capacity(args.probes);
    let mut probe_fail = 0u64;
    let cpu0 = target.server_cpu();
    for seq in 0..args.probes {
        if !send(&sender, &group, seq, t0, &a).await? {
            probe_fail += 1;
            continue;
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while (a.count[seq].load(Ordering::Relaxed) as usize) < n && Instant::now() < deadline {
            tokio::task::yield_now().await;
        }
        if a.count[seq].load(Ordering::Relaxed) as usize >= n {
            let us = a.last_us[seq]
                .load(Ordering::Relaxed)
                .saturating_sub(a.sent_us[seq].load(Ordering::Relaxed));
            lat.push(us.min(u64::from(u32::MAX)) as u32);
        } else {
            probe_fail += 1;
        }
    }
    let probe_cpu = target.server_cpu_since(cpu0);
    lat.sort_unstable();
    let cpu_txt = |c: Option<Duration>, per: f64| {
        c.map_or(String::new(), |c| {
            format!(
                "  server cpu {:.3} ms per message",
                c.as_secs_f64() * 1000.0 / per
            )
        })
    };
    if args.probes > 0 {
        println!(
            "latency     {} probes: last member has it after min {:.2} / median {:.2} / p99 {:.2} / max {:.2} ms; incomplete {probe_fail}{}",
            lat.len(),
            pct(&lat, 0.0),
            pct(&lat, 0.5),
            pct(&lat, 0.99),
            pct(&lat, 1.0),
            cpu_txt(probe_cpu, args.probes as f64),
        );
    }

    // Phase 2: `inflight` sends at once.
    let d0 = a.delivered.load(Ordering::Relaxed);
    let cpu0 = target.server_cpu();
    let start = Instant::now();
    let results: Vec<anyhow::Result<bool>> = futures_util::stream::iter(args.probes..total)
        .map(|seq| {
            let (sender, group, a) = (&sender, &group, &a);
            async move { send(sender, group, seq, t0, a).await }
        })
        .buffer_unordered(args.inflight.max(1))
        .collect()
        .await;
    let sent_in = start.elapsed();
    let accepted = results.iter().filter(|r| matches!(r, Ok(true))).count();
    let expected = d0 + (accepted * n) as u64;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last_seen = (a.delivered.load(Ordering::Relaxed), Instant::now());
    while a.delivered.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
        let d = a.delivered.load(Ordering::Relaxed);
        if d != last_seen.0 {
            last_seen = (d, Instant::now());
        } else if last_seen.1.elapsed() > Duration::from_secs(3) {
            break;
        }
    }
    let delivered = a.delivered.load(Ordering::Relaxed) - d0;
    let all_in = last_seen.1.max(start + sent_in).duration_since(start);
    let cpu = target.server_cpu_since(cpu0);
    let mut tl: Vec<u32> = (args.probes..total)
        .filter(|&i| a.count[i].load(Ordering::Relaxed) as usize >= n)
        .map(|i| {
            let us = a.last_us[i]
                .load(Ordering::Relaxed)
                .saturating_sub(a.sent_us[i].load(Ordering::Relaxed));
            us.min(u64::from(u32::MAX)) as u32
        })
        .collect();
    tl.sort_unstable();
    if args.messages > 0 {
        println!(
            "throughput  {} messages, {} in flight: in {:.0} msg/s, out {:.0} pushes/s, delivered {delivered} of {}, refused {}; last member p50 {:.2} / p99 {:.2} / max {:.2} ms{}",
            args.messages,
            args.inflight,
            accepted as f64 / sent_in.as_secs_f64(),
            delivered as f64 / all_in.as_secs_f64(),
            accepted * n,
            args.messages - accepted,
            pct(&tl, 0.5),
            pct(&tl, 0.99),
            pct(&tl, 1.0),
            cpu.map_or(String::new(), |c| format!(
                "  server cpu {:.2} s = {:.3} ms per 1,000 pushes",
                c.as_secs_f64(),
                c.as_secs_f64() * 1e6 / (delivered.max(1) as f64)
            )),
        );
    }

    stop.store(true, Ordering::Relaxed);
    for r in readers {
        let _ = r.await;
    }
    for ws in members.iter().chain(std::iter::once(&sender)) {
        let _ = ws.close().await;
    }
    target.close().await;
    Ok(())
}
