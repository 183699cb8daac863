//! `imps-bench cluster` (issue 18): the `im` load against one, two and
//! three impsd nodes on this machine sharing one PostgreSQL database and
//! one NATS server, side by side in one run; and one node on PostgreSQL
//! against one node on SQLite, for the store's cost per message.
//!
//! Users are spread over the nodes (user i on node i mod N) and send to
//! their next users, so with N nodes about (N-1)/N of the messages cross
//! nodes. Each configuration gets a peak phase (every user keeps
//! `--window` sends in flight) and a phase at one fixed offered rate, the
//! same for every configuration (`--rate`, or half the first peak), so
//! that p99 compares like with like. Server CPU is the impsd processes'
//! from /proc; for PostgreSQL the database's own processes (every
//! process named `postgres` this user may read) are counted apart.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use imps_client::{Encoding, WsClient};

use crate::im::{Phase, phase, ring};
use crate::target::{Prepare, Settings, Target, impsd_path, proc_cpu, toml_str};

#[derive(Args, Debug)]
pub struct ClusterArgs {
    /// Users, each on one WebSocket session, spread over the nodes.
    #[arg(long, default_value_t = 60)]
    users: usize,
    /// Seconds per measured phase.
    #[arg(long, default_value_t = 10)]
    secs: u64,
    /// Sends in flight per user in the peak phase.
    #[arg(long, default_value_t = 4)]
    window: usize,
    /// Offered rate (msg/s in total) of the fixed-rate phase; default
    /// half the first configuration's peak.
    #[arg(long)]
    rate: Option<f64>,
    /// Node counts to run, in order.
    #[arg(long, default_value = "1,2,3", value_delimiter = ',')]
    nodes: Vec<usize>,
    /// Also run one node on SQLite and one on PostgreSQL (no NATS).
    #[arg(long)]
    stores: bool,
    /// PostgreSQL the nodes share (a schema per configuration is made
    /// and dropped with psql when it is on the PATH).
    #[arg(long, env = "IMPSD_TEST_PG_URL")]
    pg_url: String,
    /// NATS server linking the nodes.
    #[arg(long, env = "IMPSD_TEST_NATS_URL")]
    nats_url: String,
    #[arg(long, value_name = "PATH")]
    impsd: Option<std::path::PathBuf>,
    #[arg(long, default_value = "clload")]
    user_prefix: String,
    #[arg(long, default_value = "bench-pw")]
    password: String,
}

/// What one configuration runs on.
#[derive(Clone, Copy, PartialEq)]
enum Setup {
    Sqlite,
    Postgres,
    Cluster(usize),
}

impl Setup {
    fn name(self) -> String {
        match self {
            Setup::Sqlite => "1 node SQLite".into(),
            Setup::Postgres => "1 node PG".into(),
            Setup::Cluster(n) => format!("{n} node(s) PG+NATS"),
        }
    }
}

/// The configuration's figures.
struct Row {
    setup: Setup,
    peak: Phase,
    fixed: Phase,
    /// CPU of the database's processes over the peak phase.
    db_cpu: Option<Duration>,
}

/// CPU time of every process named `postgres` readable here.
fn postgres_cpu() -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut seen = false;
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() == "postgres"
            && let Some(c) = proc_cpu(pid)
        {
            total += c;
            seen = true;
        }
    }
    seen.then_some(total)
}

pub(crate) fn psql(url: &str, sql: &str) {
    let _ = std::process::Command::new("psql")
        .args([url, "-q", "-c", sql])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

async fn start(args: &ClusterArgs, setup: Setup, tag: &str) -> anyhow::Result<Vec<Target>> {
    let bin = impsd_path(args.impsd.as_deref())?;
    let schema = format!("bench_{tag}_{}", std::process::id());
    let count = match setup {
        Setup::Cluster(n) => n,
        _ => 1,
    };
    let mut nodes = Vec::new();
    for i in 0..count {
        let mut s = Settings::default()
            .set("im", "offline_notify", toml_str("off"))
            .set("session", "max_per_user", "2".into());
        if setup != Setup::Sqlite {
            s = s
                .set("store", "kind", toml_str("postgres"))
                .set("store", "url", toml_str(&args.pg_url))
                .set("store", "schema", toml_str(&schema));
        }
        if let Setup::Cluster(_) = setup {
            s = s
                .set("cluster", "nats_url", toml_str(&args.nats_url))
                .set("cluster", "node_id", toml_str(&format!("node-{}", i + 1)))
                .set("cluster", "subject_prefix", toml_str(&schema))
                .set("cluster", "drain_timeout_ms", "2000".into());
        }
        let prep = Prepare {
            users_exist: i > 0,
            ..Prepare::default()
        };
        nodes.push(
            Target::spawn_prepared(
                &bin,
                &args.user_prefix,
                args.users,
                args.password.clone(),
                &s,
                &prep,
            )
            .await?,
        );
    }
    Ok(nodes)
}

async fn stop(args: &ClusterArgs, nodes: Vec<Target>, clients: Vec<WsClient>, tag: &str) {
    for ws in &clients {
        let _ = ws.close().await;
    }
    for n in nodes {
        n.close().await;
    }
    psql(
        &args.pg_url,
        &format!(
            "DROP SCHEMA IF EXISTS bench_{tag}_{} CASCADE",
            std::process::id()
        ),
    );
}

async fn run_one(args: &ClusterArgs, setup: Setup, rate: Option<f64>) -> anyhow::Result<Row> {
    let tag = match setup {
        Setup::Sqlite => "sqlite".to_string(),
        Setup::Postgres => "pg".to_string(),
        Setup::Cluster(n) => format!("c{n}"),
    };
    let nodes = start(args, setup, &tag).await?;
    let users = Arc::clone(&nodes[0].users);
    let mut clients = Vec::new();
    for (i, u) in users.iter().enumerate() {
        let node = &nodes[i % nodes.len()];
        let ws =
            WsClient::connect(&node.ws_url(), imps_client::Version::V1_3, Encoding::Wbxml).await?;
        ws.login_password(u, &node.password).await?;
        ws.client_capability(&[], None).await?;
        ws.service_request_all().await?;
        clients.push(ws);
    }
    // Let every node's directory hold the others' sessions.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cpu = || {
        let mut t = Duration::ZERO;
        for n in &nodes {
            t += n.server_cpu()?;
        }
        Some(t)
    };
    let t0 = Instant::now();
    let pad = Arc::new("x".repeat(28));
    let name = setup.name();
    let db0 = postgres_cpu();
    let peak = phase(
        &format!("{name} peak"),
        &cpu,
        &clients,
        &ring(&users),
        None,
        args.window,
        args.secs,
        t0,
        pad.clone(),
        false,
    )
    .await;
    // The database's CPU over the whole peak phase (warm-up and drain
    // included): a bound, divided by the messages of the measured part.
    let db_cpu = if setup == Setup::Sqlite {
        None
    } else {
        postgres_cpu().zip(db0).map(|(b, a)| b.saturating_sub(a))
    };
    peak.print();
    let rate = rate.unwrap_or(peak.delivered_per_sec / 2.0);
    let fixed = phase(
        &format!("{name} @{rate:.0}"),
        &cpu,
        &clients,
        &ring(&users),
        Some(rate),
        1,
        args.secs,
        t0,
        pad,
        false,
    )
    .await;
    fixed.print();
    stop(args, nodes, clients, &tag).await;
    Ok(Row {
        setup,
        peak,
        fixed,
        db_cpu,
    })
}

/// Server CPU in µs per message, for a table ("-" when unknown).
pub(crate) fn us_per_msg(cpu: Option<Duration>, msgs: u64) -> String {
    match cpu {
        Some(c) if msgs > 0 => format!("{:.0}", c.as_secs_f64() * 1e6 / msgs as f64),
        _ => "-".into(),
    }
}

pub async fn run(args: &ClusterArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.users >= 2, "--users must be at least 2");
    println!(
        "imps-bench cluster: {} users on WebSocket (CSP 1.3 WBXML), {} s per phase, window {}; load average {}",
        args.users,
        args.secs,
        args.window,
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    let mut setups: Vec<Setup> = args.nodes.iter().map(|n| Setup::Cluster(*n)).collect();
    if args.stores {
        setups.push(Setup::Sqlite);
        setups.push(Setup::Postgres);
    }
    let mut rate = args.rate;
    let mut rows = Vec::new();
    for s in setups {
        let row = run_one(args, s, rate).await?;
        rate.get_or_insert(row.peak.delivered_per_sec / 2.0);
        rows.push(row);
    }
    let base = rows.first().map_or(1.0, |r| r.peak.delivered_per_sec);
    println!();
    println!(
        "{:<20} {:>10} {:>7} {:>9} {:>9} {:>11} {:>9} {:>12} {:>11}",
        "setup",
        "peak msg/s",
        "ratio",
        "p99 peak",
        "fixed at",
        "p99 fixed",
        "errors",
        "impsd us/msg",
        "PG us/msg"
    );
    for r in &rows {
        println!(
            "{:<20} {:>10.0} {:>7.2} {:>7.1}ms {:>9.0} {:>9.1}ms {:>9} {:>12} {:>11}",
            r.setup.name(),
            r.peak.delivered_per_sec,
            r.peak.delivered_per_sec / base,
            r.peak.p99,
            r.fixed.offered_rate.unwrap_or(0.0),
            r.fixed.p99,
            r.peak.errors + r.peak.refused + r.fixed.errors + r.fixed.refused,
            us_per_msg(r.peak.server_cpu, r.peak.delivered),
            us_per_msg(r.db_cpu, r.peak.delivered),
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
