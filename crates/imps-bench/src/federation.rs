//! `imps-bench federation` (issue 17): message rate and latency across
//! two federated domains against the same load within each domain, side
//! by side in one run on the same two servers.
//!
//! Two impsd processes are started, `a.test` and `b.test`, each the other's
//! static SSP peer, each with `--users` users on WebSocket sessions (CSP
//! 1.3, WBXML). In the **same-domain** setup a user sends to the other
//! users of her own server; in the **cross-domain** setup a user of
//! a.test sends to users of b.test and the other way round, so every
//! message goes through the sender's server's SSP queue, a POST to the
//! peer, and the peer's delivery. Everything else is alike: the same
//! processes, users, sessions and text. The setups alternate A B B A (same,
//! cross, cross, same) so that a drift of the machine's load over the run
//! falls on both: first four peak phases (`--window` sends in flight per
//! user), then four phases at one fixed offered rate (`--rate`, or half
//! the lower peak of the first pair), for p99 like with like. Server CPU
//! is both processes' from /proc. The last lines give cross/same ratios
//! of the means.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use imps_client::{Encoding, WsClient};

use crate::cluster::us_per_msg;
use crate::im::{Phase, Pick, phase};
use crate::target::{Target, impsd_path, toml_str};

#[derive(Args, Debug)]
pub struct FedArgs {
    /// Users per domain, each on one WebSocket session.
    #[arg(long, default_value_t = 30)]
    users: usize,
    /// Seconds per measured phase.
    #[arg(long, default_value_t = 10)]
    secs: u64,
    /// Sends in flight per user in the peak phases.
    #[arg(long, default_value_t = 4)]
    window: usize,
    /// Offered rate (msg/s in total) of the fixed-rate phases; default
    /// half the lower peak of the first same/cross pair.
    #[arg(long)]
    rate: Option<f64>,
    /// Run the pair (same, cross) then (cross, same) this many times.
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    #[arg(long, value_name = "PATH")]
    impsd: Option<std::path::PathBuf>,
    /// Store both domains in this PostgreSQL (a schema each, dropped with
    /// psql at the end when it is on the PATH) instead of SQLite files.
    #[arg(long, value_name = "URL")]
    pg_url: Option<String>,
    #[arg(long, default_value = "fed")]
    user_prefix: String,
    #[arg(long, default_value = "bench-pw")]
    password: String,
}

const DOMAINS: [&str; 2] = ["a.test", "b.test"];

/// A loopback port free now (the servers must know each other's URL
/// before either starts).
fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

async fn start(args: &FedArgs) -> anyhow::Result<Vec<Target>> {
    let bin = impsd_path(args.impsd.as_deref())?;
    let ports = [free_port()?, free_port()?];
    let mut servers = Vec::new();
    for (i, domain) in DOMAINS.iter().enumerate() {
        let (peer, peer_port) = (DOMAINS[1 - i], ports[1 - i]);
        let mut s = crate::target::Settings::default()
            .set("", "domain", toml_str(domain))
            .set("", "listen", toml_str(&format!("127.0.0.1:{}", ports[i])))
            .set("im", "offline_notify", toml_str("off"))
            .set("federation", "enabled", "true".into())
            .set(
                "federation",
                "peers",
                format!(
                    "[{{ domain = {}, url = {} }}]",
                    toml_str(peer),
                    toml_str(&format!("http://127.0.0.1:{peer_port}/imps"))
                ),
            );
        if let Some(url) = &args.pg_url {
            s = s
                .set("store", "kind", toml_str("postgres"))
                .set("store", "url", toml_str(url))
                .set("store", "schema", toml_str(&schema(i)));
        }
        servers.push(
            Target::spawn(
                &bin,
                &args.user_prefix,
                args.users,
                args.password.clone(),
                &s,
            )
            .await?,
        );
    }
    Ok(servers)
}

/// The PostgreSQL schema of the `i`th domain (`--pg-url`).
fn schema(i: usize) -> String {
    format!("bench_fed{i}_{}", std::process::id())
}

/// Who sends to whom: clients `0..users` are on a.test, the rest on
/// b.test; each sends in turn to every user of the chosen domain (its own
/// or the other) but itself.
fn pick(users: &Arc<Vec<String>>, cross: bool) -> Pick {
    let users = Arc::clone(users);
    Arc::new(move |i, k| {
        let n = users.len();
        let (mine, j) = (i / n, i % n);
        let to_domain = if cross { 1 - mine } else { mine };
        let t = if cross {
            (j + k) % n
        } else {
            (j + 1 + k % (n - 1)) % n
        };
        format!("{}@{}", users[t], DOMAINS[to_domain])
    })
}

/// One phase's figures, for the table at the end.
struct Row {
    cross: bool,
    fixed: bool,
    phase: Phase,
}

fn name(cross: bool) -> &'static str {
    if cross { "cross-domain" } else { "same domain" }
}

pub async fn run(args: &FedArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.users >= 2, "--users must be at least 2");
    println!(
        "imps-bench federation: {} users per domain on WebSocket (CSP 1.3 WBXML), store {}, {} s per phase, window {}; load average {}",
        args.users,
        if args.pg_url.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        args.secs,
        args.window,
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    let servers = start(args).await?;
    let users = Arc::clone(&servers[0].users);
    let mut clients = Vec::new();
    for s in &servers {
        for u in users.iter() {
            let ws =
                WsClient::connect(&s.ws_url(), imps_client::Version::V1_3, Encoding::Wbxml).await?;
            ws.login_password(u, &s.password).await?;
            ws.client_capability(&[], None).await?;
            ws.service_request_all().await?;
            clients.push(ws);
        }
    }
    let cpu = || {
        let mut t = Duration::ZERO;
        for s in &servers {
            t += s.server_cpu()?;
        }
        Some(t)
    };
    let t0 = Instant::now();
    let pad = Arc::new("x".repeat(28));
    let mut rate = args.rate;
    let mut rows: Vec<Row> = Vec::new();
    for round in 1..=args.rounds.max(1) {
        for fixed in [false, true] {
            if fixed && rate.is_none() {
                // Half the lower peak of the first pair.
                let lowest = rows
                    .iter()
                    .take(2)
                    .map(|r| r.phase.delivered_per_sec)
                    .fold(f64::INFINITY, f64::min);
                rate = Some((lowest / 2.0).max(1.0));
            }
            for cross in [false, true, true, false] {
                let label = match (fixed, rate) {
                    (true, Some(r)) => format!("{} @{r:.0} (round {round})", name(cross)),
                    _ => format!("{} peak (round {round})", name(cross)),
                };
                let p = phase(
                    &label,
                    &cpu,
                    &clients,
                    &pick(&users, cross),
                    if fixed { rate } else { None },
                    if fixed { 1 } else { args.window },
                    args.secs,
                    t0,
                    pad.clone(),
                    false,
                )
                .await;
                p.print();
                rows.push(Row {
                    cross,
                    fixed,
                    phase: p,
                });
            }
        }
    }
    for ws in &clients {
        let _ = ws.close().await;
    }
    for s in servers {
        s.close().await;
    }
    if let Some(url) = &args.pg_url {
        for i in 0..DOMAINS.len() {
            crate::cluster::psql(url, &format!("DROP SCHEMA IF EXISTS {} CASCADE", schema(i)));
        }
    }
    println!();
    println!(
        "{:<14} {:>6} {:>10} {:>9} {:>9} {:>8} {:>12}",
        "setup", "phase", "msg/s", "p50", "p99", "errors", "impsd us/msg"
    );
    for r in &rows {
        let p = &r.phase;
        println!(
            "{:<14} {:>6} {:>10.0} {:>7.1}ms {:>7.1}ms {:>8} {:>12}",
            name(r.cross),
            if r.fixed { "fixed" } else { "peak" },
            p.delivered_per_sec,
            p.p50,
            p.p99,
            p.errors + p.refused,
            us_per_msg(p.server_cpu, p.delivered),
        );
    }
    // Cross against same, each figure the mean of its phases.
    for fixed in [false, true] {
        let mean = |cross: bool, f: &dyn Fn(&Phase) -> f64| {
            let v: Vec<f64> = rows
                .iter()
                .filter(|r| r.cross == cross && r.fixed == fixed)
                .map(|r| f(&r.phase))
                .collect();
            v.iter().sum::<f64>() / v.len().max(1) as f64
        };
        println!(
            "cross/same, {}: msg/s {:.2}, p50 {:.2}, p99 {:.2}, CPU per message {:.2}",
            if fixed { "fixed rate" } else { "peak" },
            mean(true, &|p| p.delivered_per_sec) / mean(false, &|p| p.delivered_per_sec),
            mean(true, &|p| p.p50) / mean(false, &|p| p.p50),
            mean(true, &|p| p.p99) / mean(false, &|p| p.p99),
            mean(true, &Phase::cpu_us_per_msg) / mean(false, &Phase::cpu_us_per_msg),
        );
    }
    println!(
        "load average at the end {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    Ok(())
}
