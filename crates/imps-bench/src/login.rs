//! `imps-bench login`: full logins per second. One operation is a login
//! as a random user of the pool, under a ClientID never used before (so
//! every login is a new session, as a phone's first login is), then a
//! logout, so sessions do not pile up against the per-user limit.
//!
//! Password logins pay for an Argon2 verification on the server, which is
//! slow by design; digest (4-way) logins pay for two round trips instead.

use std::sync::Arc;

use imps_client::{Client, ClientConfig, HttpTransport};
use serde_json::json;

use crate::report::Report;
use crate::runner::{self, Picker, Worker};
use crate::{Common, LoginMode};

/// The digest schemas offered, preferred first, as Android offers them.
pub const DIGEST_SCHEMAS: [&str; 2] = ["SHA", "MD5"];

struct LoginWorker {
    transport: HttpTransport,
    config: ClientConfig,
    users: Arc<Vec<String>>,
    password: String,
    mode: LoginMode,
    picker: Picker,
}

impl Worker for LoginWorker {
    async fn op(&mut self, seq: u64) -> anyhow::Result<()> {
        let user = match self.users.get(self.picker.below(self.users.len())) {
            Some(u) => u.clone(),
            None => anyhow::bail!("the user pool is empty"),
        };
        let config = self
            .config
            .clone()
            .with_client_id(format!("WV:imps-bench-{seq}"));
        let client = Client::with_transport(self.transport.clone(), config);
        login(&client, &user, &self.password, self.mode).await?;
        client.logout().await?;
        Ok(())
    }
}

/// Logs `client` in as `user` the way `mode` says.
pub async fn login(
    client: &Client,
    user: &str,
    password: &str,
    mode: LoginMode,
) -> anyhow::Result<()> {
    let r = match mode {
        LoginMode::Password => client.login_password(user, password).await,
        LoginMode::Digest => client.login_digest(user, password, &DIGEST_SCHEMAS).await,
    };
    r.map(|_| ())
        .map_err(|e| anyhow::anyhow!("login as {user}: {e}"))
}

/// The terms a `--terms` server asks, as a TOML inline table.
const BENCH_TERMS: &str =
    "{ version = \"bench\", text = \"Bench terms\", options = [{ text = \"Agree\" }] }";

/// Logs every user in once answering the terms, so that no measured login
/// needs a system message.
async fn agree_to_terms(
    target: &crate::target::Target,
    v: imps_wire::Version,
) -> anyhow::Result<()> {
    use imps_client::{Element, LoginAuth, primitives::login_request};
    let config = target
        .client_config(v, imps_wire::Encoding::Xml)
        .with_client_id("WV:imps-bench-terms");
    let client = Client::with_transport(target.transport(v, imps_wire::Encoding::Xml)?, config);
    for user in target.users.iter() {
        let ask = || {
            login_request(
                user,
                "WV:imps-bench-terms",
                LoginAuth::Password(&target.password),
                600,
                client.session_cookie(),
            )
        };
        let first = client.request(ask()).await?;
        let code = imps_client::status_of(&first).map(|(c, _)| c);
        anyhow::ensure!(
            code == Some(403),
            "{user}: the terms were not asked: {first:?}"
        );
        let answer = Element::new("SystemMessageResponseList").with(
            Element::new("SystemMessageResponse")
                .with_text("SystemMessageID", "terms-bench")
                .with_text("ChosenOptionID", "1"),
        );
        let second = client.request(ask().with(answer)).await?;
        let code = imps_client::status_of(&second).map(|(c, _)| c);
        anyhow::ensure!(code == Some(200), "{user}: agreeing failed: {second:?}");
        client.logout().await?;
    }
    Ok(())
}

pub async fn run(
    common: &Common,
    mode: LoginMode,
    users: usize,
    terms: bool,
) -> anyhow::Result<Report> {
    let users = users.max(1);
    let (v, e) = (common.version()?, common.encoding.wire());
    let target = if terms {
        anyhow::ensure!(
            v == imps_wire::Version::V1_3,
            "--terms needs --csp 1.3 (older clients cannot see system messages)"
        );
        let extra = crate::target::Settings::default().set("sysmsg", "terms", BENCH_TERMS.into());
        let target = common.target_with(users, extra).await?;
        agree_to_terms(&target, v).await?;
        target
    } else {
        common.target(users).await?
    };
    let concurrency = common.concurrency.unwrap_or(16).max(1);
    let mut workers = Vec::with_capacity(concurrency);
    for i in 0..concurrency {
        workers.push(LoginWorker {
            transport: target.transport(v, e)?,
            config: target.client_config(v, e),
            users: target.users.clone(),
            password: target.password.clone(),
            mode,
            picker: Picker::new(i as u64),
        });
    }
    let spec = common.run_spec();
    let cpu0 = target.server_cpu();
    let (stats, _) = runner::run(&spec, workers).await?;
    let server_cpu = target.server_cpu_since(cpu0);
    let params = json!({
        "mode": mode.name(),
        "terms": terms,
        "encoding": common.encoding.name(),
        "csp": v.to_string(),
        "users": users,
        "concurrency": concurrency,
        "duration_secs": common.duration_secs,
        "server": target.kind(),
    });
    target.close().await;
    Ok(Report {
        bench: "login".into(),
        params,
        stats,
        server_cpu,
    })
}
