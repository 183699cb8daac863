//! `imps-bench keepalive`: transactions per second on sessions that are
//! already logged in, either KeepAlive-Request or an empty
//! Polling-Request. These are what an idle phone sends most, so their
//! cost bounds how many idle users a server holds.
//!
//! Sessions are logged in before the clock starts (digest login unless
//! told otherwise, since Argon2 would make the setup the longest part),
//! spread over the workers, and logged out after the run.

use std::time::{Duration, Instant};

use imps_client::{Client, HttpClient};
use serde_json::json;

use crate::login::login;
use crate::report::Report;
use crate::runner::{self, RunSpec, Worker};
use crate::{Common, LoginMode, SessionOp};

/// Time allowed for logging in all sessions before the run, and for
/// logging them out after it.
const SETUP_LIMIT: Duration = Duration::from_secs(120);

struct SessionWorker {
    sessions: Vec<HttpClient>,
    next: usize,
    op: SessionOp,
}

impl Worker for SessionWorker {
    async fn op(&mut self, _seq: u64) -> anyhow::Result<()> {
        let Some(client) = self.sessions.get(self.next % self.sessions.len().max(1)) else {
            anyhow::bail!("worker has no session");
        };
        self.next = self.next.wrapping_add(1);
        match self.op {
            SessionOp::Keepalive => {
                client.keep_alive(None).await?;
            }
            SessionOp::Poll => {
                // An empty body is the usual answer; a queued transaction
                // is fine too, it is still one round trip.
                client.poll().await?;
            }
        }
        Ok(())
    }
}

pub async fn run(
    common: &Common,
    sessions: usize,
    op: SessionOp,
    login_mode: LoginMode,
) -> anyhow::Result<Report> {
    let sessions = sessions.max(1);
    let target = common.target(sessions).await?;
    let (v, e) = (common.version()?, common.encoding.wire());
    let concurrency = common.concurrency.unwrap_or(16).clamp(1, sessions);

    // Worker i owns sessions i, i+C, i+2C...; each worker has its own
    // connection pool, shared by its sessions.
    let mut groups: Vec<Vec<(usize, HttpClient)>> = Vec::with_capacity(concurrency);
    for w in 0..concurrency {
        let transport = target.transport(v, e)?;
        let mine = (w..sessions).step_by(concurrency).map(|i| {
            let cfg = target
                .client_config(v, e)
                .with_client_id(format!("WV:imps-bench-session-{i}"));
            (i, Client::with_transport(transport.clone(), cfg))
        });
        groups.push(mine.collect());
    }

    let t0 = Instant::now();
    let mut logins = tokio::task::JoinSet::new();
    for group in groups {
        let (users, password) = (target.users.clone(), target.password.clone());
        logins.spawn(async move {
            for (i, client) in &group {
                let user = users
                    .get(*i)
                    .ok_or_else(|| anyhow::anyhow!("no user for session {i}"))?;
                login(client, user, &password, login_mode).await?;
            }
            anyhow::Ok(group.into_iter().map(|(_, c)| c).collect::<Vec<_>>())
        });
    }
    let mut workers = Vec::with_capacity(concurrency);
    let all = tokio::time::timeout(SETUP_LIMIT, async {
        while let Some(done) = logins.join_next().await {
            workers.push(SessionWorker {
                sessions: done??,
                next: 0,
                op,
            });
        }
        anyhow::Ok(())
    });
    all.await.map_err(|_| {
        anyhow::anyhow!("logging in {sessions} sessions took over {SETUP_LIMIT:?}")
    })??;
    eprintln!(
        "logged in {sessions} sessions in {:.2} s",
        t0.elapsed().as_secs_f64()
    );

    let spec: RunSpec = common.run_spec();
    let cpu0 = target.server_cpu();
    let (stats, workers) = runner::run(&spec, workers).await?;
    let server_cpu = target.server_cpu_since(cpu0);
    logout_all(workers).await;

    let params = json!({
        "op": op.name(),
        "encoding": common.encoding.name(),
        "csp": v.to_string(),
        "sessions": sessions,
        "concurrency": concurrency,
        "duration_secs": common.duration_secs,
        "server": target.kind(),
    });
    target.close().await;
    let bench = match op {
        SessionOp::Keepalive => "keepalive",
        SessionOp::Poll => "poll",
    };
    Ok(Report {
        bench: bench.into(),
        params,
        stats,
        server_cpu,
    })
}

/// Best effort: an external server would otherwise keep the sessions
/// until their keep-alive time runs out.
async fn logout_all(workers: Vec<SessionWorker>) {
    let mut set = tokio::task::JoinSet::new();
    for w in workers {
        set.spawn(async move {
            for c in w.sessions {
                let _ = c.logout().await;
            }
        });
    }
    let _ = tokio::time::timeout(SETUP_LIMIT, async {
        while set.join_next().await.is_some() {}
    })
    .await;
}
