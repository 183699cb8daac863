//! `imps-bench login-storm` (issue 19): what a network blip costs. N users
//! log in with their password (the first logins, each an Argon2 check),
//! log out, then all log in again at once, as every phone does when the
//! network comes back. Each round reports its wall time, logins per
//! second, latency and the server's CPU time (from /proc, which a shared,
//! noisy machine does not distort the way it does wall time).
//!
//! While the first round runs, one more session sends a KeepAlive every
//! few milliseconds, so the report also says what other traffic waits
//! while the cold checks take the cores.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use imps_client::{Client, ClientConfig, HttpTransport};
use serde_json::json;

use crate::Common;
use crate::report::{Report, ms};
use crate::runner::{self, RunSpec, Worker};

/// The longest a round may take, whatever the count: it always stops.
const ROUND_LIMIT: Duration = Duration::from_secs(900);
/// One login slower than this is an error.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(60);
/// Time between two KeepAlives of the probe session.
const PROBE_EVERY: Duration = Duration::from_millis(20);

#[derive(clap::Args)]
pub struct StormArgs {
    /// Users that log in, log out and log in again.
    #[arg(long, default_value_t = 10_000)]
    pub users: usize,
    /// `login.max_password_checks` of the started server [default: the
    /// server's own].
    #[arg(long)]
    pub password_checks: Option<usize>,
    /// Seconds to wait between the rounds (announced on stderr with the
    /// server's pid), so a profiler can attach for the second round only.
    #[arg(long, default_value_t = 0)]
    pub pause_secs: u64,
    #[command(flatten)]
    pub common: Common,
}

struct StormWorker {
    transport: HttpTransport,
    config: ClientConfig,
    users: Arc<Vec<String>>,
    password: String,
    /// This worker's logged-in clients, to log out after the round.
    sessions: Vec<Client>,
}

impl Worker for StormWorker {
    async fn op(&mut self, seq: u64) -> anyhow::Result<()> {
        let user = usize::try_from(seq)
            .ok()
            .and_then(|i| self.users.get(i))
            .ok_or_else(|| anyhow::anyhow!("no user number {seq}"))?;
        // The same phone (ClientID) in every round, as after a blip.
        let config = self
            .config
            .clone()
            .with_client_id(format!("WV:storm-{seq}"));
        let client = Client::with_transport(self.transport.clone(), config);
        client
            .login_password(user, &self.password)
            .await
            .map_err(|e| anyhow::anyhow!("login as {user}: {e}"))?;
        self.sessions.push(client);
        Ok(())
    }
}

/// Logs out every session the workers hold, a worker's one after another
/// and the workers at once. Not measured. A session that expired while
/// a slow first round went on (600) or is unknown (604) is out already.
async fn log_out_all(workers: &mut [StormWorker]) -> anyhow::Result<()> {
    let mut tasks = Vec::new();
    for w in workers.iter_mut() {
        let sessions = std::mem::take(&mut w.sessions);
        tasks.push(tokio::spawn(async move {
            for c in sessions {
                match c.logout().await {
                    Ok(()) => {}
                    Err(e) if matches!(e.status_code(), Some(600 | 604)) => {}
                    Err(e) => return Err(anyhow::anyhow!("logout: {e}")),
                }
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}

/// KeepAlive latencies of one session, until told to stop; the client
/// comes back to be logged out.
async fn probe(
    client: Client,
    mut hist: Histogram<u64>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> (Client, Histogram<u64>) {
    while !*stop.borrow() {
        let t0 = Instant::now();
        if client.keep_alive(None).await.is_ok() {
            let us = u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX);
            hist.saturating_record(us.max(1));
        }
        tokio::time::sleep(PROBE_EVERY).await;
    }
    (client, hist)
}

pub async fn run(args: &StormArgs) -> anyhow::Result<()> {
    let common = &args.common;
    let n = args.users.max(1);
    let (v, e) = (common.version()?, common.encoding.wire());
    let mut extra = crate::target::Settings::default();
    if let Some(c) = args.password_checks {
        extra = extra.set("login", "max_password_checks", c.to_string());
    }
    // One more user than the storm's: the probe session.
    let target = common.target_with(n + 1, extra).await?;
    let (storm_users, probe_user) = {
        let mut all = target.users.as_ref().clone();
        let probe_user = all.pop().unwrap_or_default();
        (Arc::new(all), probe_user)
    };
    let concurrency = common.concurrency.unwrap_or(50).max(1);
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        workers.push(StormWorker {
            transport: target.transport(v, e)?,
            config: target.client_config(v, e),
            users: storm_users.clone(),
            password: target.password.clone(),
            sessions: Vec::new(),
        });
    }
    let spec = RunSpec {
        duration: ROUND_LIMIT,
        max_ops: n as u64,
        op_timeout: LOGIN_TIMEOUT,
    };
    let server_kind = target.kind();
    let params = |round: &str| {
        json!({
            "round": round,
            "users": n,
            "concurrency": concurrency,
            "password_checks": args.password_checks,
            "encoding": common.encoding.name(),
            "csp": v.to_string(),
            "server": server_kind,
        })
    };

    // The probe logs in first, so its own check is not in the storm.
    let probe_client = Client::with_transport(
        target.transport(v, e)?,
        target.client_config(v, e).with_client_id("WV:storm-probe"),
    );
    probe_client
        .login_password(&probe_user, &target.password)
        .await
        .map_err(|e| anyhow::anyhow!("probe login as {probe_user}: {e}"))?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let hist = Histogram::<u64>::new_with_bounds(1, 120_000_000, 3)?;
    let probe_task = tokio::spawn(probe(probe_client, hist, stop_rx));

    let cpu0 = target.server_cpu();
    let (first, mut workers) = runner::run(&spec, workers).await?;
    let first_cpu = target.server_cpu_since(cpu0);
    let _ = stop_tx.send(true);
    let (probe_client, probe_hist) = probe_task.await?;
    log_out_all(&mut workers).await?;
    if args.pause_secs > 0 {
        eprintln!(
            "login-storm: first round done; the second starts in {} s",
            args.pause_secs
        );
        tokio::time::sleep(Duration::from_secs(args.pause_secs)).await;
    }

    let cpu0 = target.server_cpu();
    let (again, mut workers) = runner::run(&spec, workers).await?;
    let again_cpu = target.server_cpu_since(cpu0);
    log_out_all(&mut workers).await?;
    let _ = probe_client.logout().await;
    target.close().await;

    let reports = [
        Report {
            bench: "login-storm".into(),
            params: params("first"),
            stats: first,
            server_cpu: first_cpu,
        },
        Report {
            bench: "login-storm".into(),
            params: params("again"),
            stats: again,
            server_cpu: again_cpu,
        },
    ];
    let probe_json = json!({
        "keepalives": probe_hist.len(),
        "p50_us": probe_hist.value_at_quantile(0.50),
        "p99_us": probe_hist.value_at_quantile(0.99),
        "max_us": probe_hist.max(),
    });
    if common.json {
        println!(
            "{}",
            json!({
                "first": reports[0].to_json(),
                "again": reports[1].to_json(),
                "keepalive_during_first": probe_json,
            })
        );
    } else {
        for r in &reports {
            println!("{}", r.to_text());
        }
        println!(
            "keepalive during the first round: {} sent, p50 {} p99 {} max {}",
            probe_hist.len(),
            ms(probe_hist.value_at_quantile(0.50)),
            ms(probe_hist.value_at_quantile(0.99)),
            ms(probe_hist.max()),
        );
    }
    Ok(())
}
