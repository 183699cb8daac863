//! `imps-bench presence`: presence fan-out to many watchers (issue 19).
//!
//! One publisher and `--watchers` watchers log in over WebSocket (digest
//! login) to a server in another process. The publisher lets everyone
//! see its OnlineStatus and StatusText (a default attribute list); every
//! watcher subscribes to its presence. Then the publisher changes its
//! StatusText `--updates` times, one change at a time: each is sent when
//! the previous one has reached every watcher (and `--pause-ms` later, so
//! the watchers' answers to one round are not counted in the next).
//! Reported: for each change, the time from just before its
//! UpdatePresence-Request is written until the last watcher has the
//! PresenceNotification (min, median, p99, max); the publisher's answer
//! time; and the server's CPU per change (a started server, from /proc),
//! which includes taking the watchers' Status answers, as real clients
//! send them.
//!
//! Publisher and watchers are in this process, so one clock measures
//! both ends. The publisher speaks CSP 1.2 XML (the default attribute
//! list is the 1.2 way to let everyone see its presence); the watchers
//! speak CSP 1.3, WBXML unless `--xml`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use futures_util::StreamExt;
use imps_client::{ClientConfig, Element, Encoding, Version, WsClient, status_of};

use crate::im::pct;
use crate::target::{Settings, Target};

#[derive(Args, Debug)]
pub struct PresenceArgs {
    /// Watchers subscribed to the publisher's presence.
    #[arg(long, default_value_t = 1000)]
    watchers: usize,
    /// Presence changes, one at a time.
    #[arg(long, default_value_t = 100)]
    updates: usize,
    /// Pause between one change reaching everyone and the next.
    #[arg(long, default_value_t = 20)]
    pause_ms: u64,
    /// Watchers use XML instead of WBXML.
    #[arg(long)]
    xml: bool,
    /// HTTP URL of a running server whose users PREFIX0000... exist with
    /// --password (digest login on).
    #[arg(long, conflicts_with = "impsd")]
    url: Option<String>,
    /// The impsd binary to start [default: `impsd` beside this
    /// executable].
    #[arg(long, value_name = "PATH")]
    impsd: Option<PathBuf>,
    #[arg(long, default_value = "pres")]
    user_prefix: String,
    #[arg(long, default_value = "bench-pw")]
    password: String,
}

/// Logins and subscriptions at once while setting up.
const SETUP_CONCURRENCY: usize = 32;
/// Longest one change may take to reach everyone before it counts as
/// incomplete.
const ROUND_LIMIT: Duration = Duration::from_secs(10);

/// Per change: how many watchers have it, and the latest arrival
/// (microseconds since `t0`).
struct Arrivals {
    count: Vec<AtomicU32>,
    last_us: Vec<AtomicU64>,
}

/// The publisher's StatusText values in one pushed message.
fn statuses(body: &Element) -> impl Iterator<Item = &str> {
    body.children_named("Presence")
        .filter_map(|p| p.path(&["PresenceSubList", "StatusText"]))
        .filter_map(|s| s.child_text("PresenceValue"))
}

/// Takes one watcher's pushes: records each change's arrival and answers
/// every server request with Status 200, as a client does.
async fn watcher(ws: WsClient, t0: Instant, a: Arc<Arrivals>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let Some(m) = ws.next_push(Duration::from_millis(200)).await else {
            if ws.is_closed() {
                return;
            }
            continue;
        };
        let now = t0.elapsed().as_micros() as u64;
        for t in m.transactions {
            if t.body.name == "PresenceNotification-Request" {
                let seqs: Vec<usize> = statuses(&t.body)
                    .filter_map(|s| s.strip_prefix('r'))
                    .filter_map(|s| s.parse().ok())
                    .collect();
                for i in seqs.into_iter().filter(|i| *i < a.count.len()) {
                    a.last_us[i].fetch_max(now, Ordering::Relaxed);
                    a.count[i].fetch_add(1, Ordering::Relaxed);
                }
            }
            if t.mode == imps_client::TransactionMode::Request
                && let Some(tid) = t.id.as_deref()
            {
                let _ = ws.answer_status(tid).await;
            }
        }
    }
}

fn attr(name: &str, value: &str) -> Element {
    Element::new(name)
        .with_text("Qualifier", "T")
        .with_text("PresenceValue", value)
}

pub async fn run(args: &PresenceArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.watchers >= 1, "--watchers must be at least 1");
    let n = args.watchers;
    let pw = args.password.clone();
    let target = match &args.url {
        Some(url) => Target::external(url.clone(), &args.user_prefix, n + 1, pw),
        None => {
            let bin = crate::target::impsd_path(args.impsd.as_deref())?;
            Target::spawn(&bin, &args.user_prefix, n + 1, pw, &Settings::default()).await?
        }
    };
    let enc = if args.xml {
        Encoding::Xml
    } else {
        Encoding::Wbxml
    };
    let ws_url = target.ws_url();
    let connect = |user: String, version: Version, enc: Encoding| {
        let mut cfg =
            ClientConfig::new(ws_url.clone(), version, enc).with_client_id(format!("pres-{user}"));
        cfg.push_queue = 64;
        let pw = target.password.clone();
        async move {
            let ws = WsClient::connect_with(cfg).await?;
            ws.login_digest(&user, &pw, &crate::login::DIGEST_SCHEMAS)
                .await
                .map_err(|e| anyhow::anyhow!("login as {user}: {e}"))?;
            ws.client_capability(&[], None).await?;
            ws.service_request_all().await?;
            anyhow::Ok(ws)
        }
    };

    let publisher_name = target.users[0].clone();
    let publisher = connect(publisher_name.clone(), Version::V1_2, Encoding::Xml).await?;
    let mut list = Element::new("PresenceSubList");
    list.children = vec![Element::new("OnlineStatus"), Element::new("StatusText")];
    let everyone = Element::new("CreateAttributeList-Request")
        .with(list)
        .with_text("DefaultList", "T");
    let r = publisher.request(everyone).await?;
    anyhow::ensure!(
        status_of(&r).map(|s| s.0) == Some(200),
        "CreateAttributeList failed: {r:?}"
    );
    let pub_id = format!("wv:{publisher_name}@localhost");

    let setup = Instant::now();
    let watchers: Vec<WsClient> = futures_util::stream::iter(target.users[1..].iter().cloned())
        .map(|user| {
            let (connect, pub_id) = (&connect, pub_id.clone());
            async move {
                let ws = connect(user, Version::V1_3, enc).await?;
                let sub = Element::new("SubscribePresence-Request")
                    .with(Element::new("UserIDList").with_text("UserID", pub_id));
                let r = ws.request(sub).await?;
                anyhow::ensure!(
                    status_of(&r).map(|s| s.0) == Some(200),
                    "SubscribePresence failed: {r:?}"
                );
                anyhow::Ok(ws)
            }
        })
        .buffer_unordered(SETUP_CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    println!(
        "imps-bench presence: {} server; {n} watchers on WebSocket (CSP 1.3 {enc:?}) logged in and subscribed in {:.1} s",
        target.kind(),
        setup.elapsed().as_secs_f64()
    );

    let a = Arc::new(Arrivals {
        count: (0..args.updates).map(|_| AtomicU32::new(0)).collect(),
        last_us: (0..args.updates).map(|_| AtomicU64::new(0)).collect(),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let readers: Vec<_> = watchers
        .iter()
        .map(|ws| tokio::spawn(watcher(ws.clone(), t0, a.clone(), stop.clone())))
        .collect();
    // The initial notifications of the subscriptions go by first.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut last = Vec::with_capacity(args.updates);
    let mut answered = Vec::with_capacity(args.updates);
    let mut incomplete = 0usize;
    let cpu0 = target.server_cpu();
    let start = Instant::now();
    for seq in 0..args.updates {
        let sent = t0.elapsed().as_micros() as u64;
        let mut list = Element::new("PresenceSubList");
        list.children = vec![attr("StatusText", &format!("r{seq}"))];
        let r = publisher
            .request(Element::new("UpdatePresence-Request").with(list))
            .await?;
        let took = t0.elapsed().as_micros() as u64 - sent;
        anyhow::ensure!(
            status_of(&r).map(|s| s.0) == Some(200),
            "UpdatePresence failed: {r:?}"
        );
        answered.push(took.min(u64::from(u32::MAX)) as u32);
        let deadline = Instant::now() + ROUND_LIMIT;
        while (a.count[seq].load(Ordering::Relaxed) as usize) < n && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        if a.count[seq].load(Ordering::Relaxed) as usize >= n {
            let us = a.last_us[seq].load(Ordering::Relaxed).saturating_sub(sent);
            last.push(us.min(u64::from(u32::MAX)) as u32);
        } else {
            incomplete += 1;
        }
        tokio::time::sleep(Duration::from_millis(args.pause_ms)).await;
    }
    let wall = start.elapsed();
    let cpu = target.server_cpu_since(cpu0);
    last.sort_unstable();
    answered.sort_unstable();
    println!(
        "{} changes: last watcher notified after min {:.2} / median {:.2} / p99 {:.2} / max {:.2} ms; UpdatePresence answered median {:.2} ms; incomplete {incomplete}{}",
        args.updates,
        pct(&last, 0.0),
        pct(&last, 0.5),
        pct(&last, 0.99),
        pct(&last, 1.0),
        pct(&answered, 0.5),
        cpu.map_or(String::new(), |c| format!(
            "; server cpu {:.2} s over {:.1} s = {:.2} ms per change",
            c.as_secs_f64(),
            wall.as_secs_f64(),
            c.as_secs_f64() * 1000.0 / args.updates.max(1) as f64
        )),
    );

    stop.store(true, Ordering::Relaxed);
    for r in readers {
        let _ = r.await;
    }
    for ws in watchers.iter().chain(std::iter::once(&publisher)) {
        let _ = ws.close().await;
    }
    target.close().await;
    Ok(())
}
