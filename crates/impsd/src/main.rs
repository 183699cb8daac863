//! The `impsd` command: `serve`, and admin commands that work on the data
//! dir (users) or against the running server's admin endpoint (sessions).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use imps_core::{NewUser, Store};
use impsd::Config;

mod population;

#[derive(Parser)]
#[command(
    name = "impsd",
    version,
    about = "IMPS (Wireless Village) instant messaging and presence server"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

/// Settings every subcommand takes. Precedence: flags, then environment
/// variables, then the config file, then built-in defaults.
#[derive(Args, Clone)]
struct Common {
    /// TOML config file (see `impsd config print-default`).
    #[arg(long, env = "IMPSD_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory of the embedded store [default: ./impsd-data].
    #[arg(long, env = "IMPSD_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Store backend, "sqlite" or "postgres" (store.kind) [default: sqlite].
    #[arg(long, env = "IMPSD_STORE_KIND")]
    store_kind: Option<String>,
    /// PostgreSQL database of a "postgres" store (store.url).
    #[arg(long, env = "IMPSD_STORE_URL", hide_env_values = true)]
    store_url: Option<String>,
    /// NATS server linking the nodes of a cluster (cluster.nats_url).
    #[arg(long, env = "IMPSD_CLUSTER_NATS_URL")]
    cluster_nats_url: Option<String>,
    /// This node's name in the cluster (cluster.node_id).
    #[arg(long, env = "IMPSD_CLUSTER_NODE_ID")]
    cluster_node_id: Option<String>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the server.
    Serve {
        #[command(flatten)]
        common: Common,
        /// Address of the HTTP binding [default: 127.0.0.1:8080].
        #[arg(long, env = "IMPSD_LISTEN")]
        listen: Option<SocketAddr>,
        /// Domain served (users are wv:user@DOMAIN) [default: localhost].
        #[arg(long, env = "IMPSD_DOMAIN")]
        domain: Option<String>,
        /// TCP CIR listener address, or "" to turn it off [default: 127.0.0.1:3171].
        #[arg(long, env = "IMPSD_CIR_TCP_LISTEN")]
        cir_tcp_listen: Option<String>,
        /// Admin endpoint address (loopback) [default: 127.0.0.1:8081].
        #[arg(long, env = "IMPSD_ADMIN_LISTEN")]
        admin_listen: Option<SocketAddr>,
    },
    /// Manage user accounts (works while the server runs).
    User {
        #[command(subcommand)]
        cmd: UserCmd,
    },
    /// Inspect and end live sessions of a running server.
    Session {
        #[command(subcommand)]
        cmd: SessionCmd,
    },
    /// This process as a cluster node (issue 18).
    Node {
        #[command(subcommand)]
        cmd: NodeCmd,
    },
    /// The SSP peers of a running server (federation, issue 17).
    Peer {
        #[command(subcommand)]
        cmd: PeerCmd,
    },
    /// Configuration helpers.
    Config {
        #[command(subcommand)]
        cmd: ConfigCmd,
    },
    /// Administer groups of a running server.
    Group {
        #[command(subcommand)]
        cmd: GroupCmd,
    },
    /// Send system messages to users of a running server and see their
    /// answers.
    Sysmsg {
        #[command(subcommand)]
        cmd: SysmsgCmd,
    },
    /// Show the log filter of a running server, or replace it
    /// (e.g. `impsd log info,imps_core::im=debug`).
    Log {
        #[command(flatten)]
        common: Common,
        /// The new filter, in the syntax of IMPSD_LOG.
        filter: Option<String>,
    },
}

#[derive(Subcommand)]
enum GroupCmd {
    /// Expel a user from a group, private conversations included (PGC-12):
    /// the user is put out and may not join again.
    Expel {
        #[command(flatten)]
        common: Common,
        /// The GroupID (wv:owner/name@domain).
        group: String,
        /// The user (wv:user@domain or user).
        user: String,
    },
    /// Create COUNT public groups wv:OWNER/PREFIX0000@domain, ... owned by
    /// users OWNER_PREFIX0000 .. (OWNERS of them, which must exist), named
    /// "Group N" with topic "Topic N mod 1000"; LISTED_PERCENT of them are
    /// Searchable. Works on the data dir: stop the server first.
    AddMany {
        #[command(flatten)]
        common: Common,
        #[arg(long, default_value = "group")]
        prefix: String,
        #[arg(long)]
        count: usize,
        /// Number of the first group.
        #[arg(long, default_value_t = 0)]
        start: usize,
        #[arg(long)]
        owner_prefix: String,
        /// How many users (from OWNER_PREFIX0000) own the groups.
        #[arg(long)]
        owners: u64,
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u8).range(0..=100))]
        listed_percent: u8,
        /// Picks owners and which groups are listed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

#[derive(Subcommand)]
enum SysmsgCmd {
    /// Send a system message: to users (--to, repeatable), to everyone
    /// online (--online), or to everyone at their next login (--all).
    Send {
        #[command(flatten)]
        common: Common,
        #[arg(long = "to", value_name = "USER")]
        to: Vec<String>,
        #[arg(long, conflicts_with_all = ["to", "all"])]
        online: bool,
        #[arg(long, conflicts_with_all = ["to", "online"])]
        all: bool,
        /// The message (up to sysmsg.max_text_chars characters).
        #[arg(long)]
        text: String,
        /// An answer option (repeatable; numbered 1, 2, ... in order).
        #[arg(long = "option", value_name = "TEXT")]
        options: Vec<String>,
        /// The user must answer (it is sent again until they do).
        #[arg(long)]
        requires_response: bool,
    },
    /// List the system messages with how many were sent and answered.
    List {
        #[command(flatten)]
        common: Common,
    },
    /// Who was sent a message and what each answered.
    Answers {
        #[command(flatten)]
        common: Common,
        id: String,
    },
    /// Send a message again to its online users who have not answered.
    Resend {
        #[command(flatten)]
        common: Common,
        id: String,
    },
}

#[derive(Subcommand)]
enum UserCmd {
    /// Create a user.
    Add {
        #[command(flatten)]
        common: Common,
        /// User ID (the part before @domain).
        user: String,
        #[arg(long)]
        password: Option<String>,
        /// Read the password from standard input instead.
        #[arg(long)]
        password_stdin: bool,
        /// E.164 number, for MSISDN auto-login.
        #[arg(long)]
        msisdn: Option<String>,
        #[arg(long)]
        friendly_name: Option<String>,
    },
    /// Create COUNT users PREFIX0000, PREFIX0001, ... (at least four
    /// digits), all with the same password: test and load-test accounts.
    /// The password is hashed once and the result stored for every user,
    /// so a thousand users take about as long as one.
    AddMany {
        #[command(flatten)]
        common: Common,
        /// Start of every user ID.
        #[arg(long)]
        prefix: String,
        /// How many users.
        #[arg(long)]
        count: usize,
        /// Number of the first user.
        #[arg(long, default_value_t = 0)]
        start: usize,
        #[arg(long)]
        password: Option<String>,
        /// Read the password from standard input instead.
        #[arg(long)]
        password_stdin: bool,
        /// Also give every user a complete, consented public profile and
        /// contact details, made from this seed and the user's number
        /// (same seed, same people): a population to search. Users are
        /// then written a few thousand per transaction.
        #[arg(long, value_name = "SEED")]
        profiles: Option<u64>,
        /// Give user number N the MSISDN NUMBER + N (E.164, e.g.
        /// +41790000000).
        #[arg(long, value_name = "NUMBER")]
        msisdn_from: Option<String>,
    },
    /// List users.
    List {
        #[command(flatten)]
        common: Common,
    },
    /// Set the contact details the operator keeps for a user: searchable
    /// by whole value (USER_FIRST_NAME, USER_LAST_NAME,
    /// USER_EMAIL_ADDRESS), never shown in a search result. Each option
    /// replaces that field; an empty value removes it; fields not given
    /// stay as they are. Without options, shows them.
    Details {
        #[command(flatten)]
        common: Common,
        user: String,
        #[arg(long)]
        first_name: Option<String>,
        #[arg(long)]
        last_name: Option<String>,
        #[arg(long)]
        email: Option<String>,
    },
    /// Set a user's password. The user's sessions end (a running server
    /// disconnects them, and none is restored at the next start) unless
    /// --keep-sessions is given.
    Passwd {
        #[command(flatten)]
        common: Common,
        user: String,
        #[arg(long)]
        password: Option<String>,
        #[arg(long)]
        password_stdin: bool,
        /// Leave the user's sessions logged in.
        #[arg(long)]
        keep_sessions: bool,
    },
}

#[derive(Subcommand)]
enum SessionCmd {
    /// List live sessions.
    List {
        #[command(flatten)]
        common: Common,
    },
    /// End a session; its client gets a Disconnect.
    Kick {
        #[command(flatten)]
        common: Common,
        session_id: String,
    },
}

#[derive(Subcommand)]
enum NodeCmd {
    /// Drain the running server and stop it, as SIGTERM does: a cluster
    /// node refuses new logins, sends its clients to log in elsewhere and
    /// hands on what it holds before it exits (cluster.drain_timeout_ms);
    /// a lone server just stops. Returns once the server took the order.
    Drain {
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Subcommand)]
enum PeerCmd {
    /// List the peer table with each association and its counters, one
    /// line each: domain, state, own session, peer session, queue depth,
    /// sent, failures, associations, URL, and where the entry came from
    /// (config, added, discovered).
    List {
        #[command(flatten)]
        common: Common,
    },
    /// Make a new association with a peer now (the six-step exchange)
    /// and say how long it took, or why it failed.
    Test {
        #[command(flatten)]
        common: Common,
        domain: String,
    },
    /// Make DOMAIN a peer at URL now, without a restart; kept in the
    /// store, so it outlives one, and over any config file entry.
    Add {
        #[command(flatten)]
        common: Common,
        domain: String,
        /// Its SSP endpoint (`http://host:port/imps` or `https://...`).
        url: String,
        /// The agreement on user sessions (SUS-1..3).
        #[arg(long)]
        sus: bool,
        /// Take its SSP POSTs only with a client certificate naming its
        /// domain or URL's host (needs the CSP listener on TLS).
        #[arg(long)]
        require_client_cert: bool,
    },
    /// Take DOMAIN out of the peers now (and after a restart; DNS
    /// discovery does not bring it back): its association ends, new
    /// traffic to it gets 516, what is queued for it waits or expires.
    Remove {
        #[command(flatten)]
        common: Common,
        domain: String,
    },
}

#[derive(Subcommand)]
enum ConfigCmd {
    /// Print every setting with its default value and a line on what it
    /// does.
    PrintDefault,
}

fn load(common: &Common) -> anyhow::Result<Config> {
    let mut cfg = match &common.config {
        Some(p) => Config::from_file(p)?,
        None => Config::default(),
    };
    if let Some(d) = &common.data_dir {
        cfg.data_dir = d.clone();
    }
    if let Some(k) = &common.store_kind {
        cfg.store.kind = match k.trim().to_ascii_lowercase().as_str() {
            "sqlite" => impsd::config::StoreKind::Sqlite,
            "postgres" => impsd::config::StoreKind::Postgres,
            other => anyhow::bail!("store kind {other:?} is neither \"sqlite\" nor \"postgres\""),
        };
    }
    if let Some(u) = &common.store_url {
        cfg.store.url = u.clone();
    }
    if let Some(u) = common
        .cluster_nats_url
        .as_ref()
        .filter(|u| !u.trim().is_empty())
    {
        cfg.cluster.nats_url = Some(u.clone());
    }
    if let Some(n) = common
        .cluster_node_id
        .as_ref()
        .filter(|n| !n.trim().is_empty())
    {
        cfg.cluster.node_id = Some(n.clone());
    }
    Ok(cfg)
}

fn main() {
    if let Err(e) = real_main() {
        eprintln!("impsd: {e:#}");
        std::process::exit(1);
    }
}

fn real_main() -> anyhow::Result<()> {
    impsd::memory::no_transparent_huge_pages();
    let cli = Cli::parse();
    // `serve` builds its runtime from its settings (`[runtime]`); the
    // other commands take the default one.
    let rt = || impsd::config::RuntimeConfig::default().build();
    match cli.cmd {
        Cmd::Serve {
            common,
            listen,
            domain,
            cir_tcp_listen,
            admin_listen,
        } => {
            let mut cfg = load(&common)?;
            if let Some(l) = listen {
                cfg.listen = l;
            }
            if let Some(d) = domain {
                cfg.domain = d;
            }
            if let Some(c) = cir_tcp_listen {
                cfg.cir.tcp_listen = c;
            }
            if let Some(a) = admin_listen {
                cfg.admin.listen = a;
            }
            let log = impsd::logging::init(&cfg.log);
            // Checked before the runtime is built: a bad thread count
            // must be an error, not an attempt to start the threads.
            cfg.validate()?;
            let runtime = cfg.runtime.build()?;
            runtime.block_on(serve(cfg, log))
        }
        Cmd::User { cmd } => rt()?.block_on(user_cmd(cmd)),
        Cmd::Session { cmd } => rt()?.block_on(session_cmd(cmd)),
        Cmd::Peer { cmd } => rt()?.block_on(peer_cmd(cmd)),
        Cmd::Node { cmd } => rt()?.block_on(node_cmd(cmd)),
        Cmd::Group { cmd } => rt()?.block_on(group_cmd(cmd)),
        Cmd::Sysmsg { cmd } => rt()?.block_on(sysmsg_cmd(cmd)),
        Cmd::Log { common, filter } => rt()?.block_on(log_cmd(&common, filter)),
        Cmd::Config {
            cmd: ConfigCmd::PrintDefault,
        } => {
            print!("{}", Config::print_default()?);
            Ok(())
        }
    }
}

async fn serve(cfg: Config, log: Arc<dyn impsd::logging::LogControl>) -> anyhow::Result<()> {
    let running = impsd::start_full(cfg, Arc::new(imps_core::SystemClock), Some(log)).await?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        _ = running.stop_requested() => {}
    }
    tracing::info!("shutting down");
    running.drain().await;
    running.shutdown().await;
    Ok(())
}

fn read_password(given: Option<String>, stdin: bool) -> anyhow::Result<String> {
    if stdin {
        let mut s = String::new();
        std::io::stdin().read_line(&mut s)?;
        return Ok(s.trim_end_matches(['\r', '\n']).to_string());
    }
    given.ok_or_else(|| anyhow::anyhow!("give --password or --password-stdin"))
}

/// Hashes a password, and seals the digest secret when digest login is on.
async fn user_cmd(cmd: UserCmd) -> anyhow::Result<()> {
    match cmd {
        UserCmd::Add {
            common,
            user,
            password,
            password_stdin,
            msisdn,
            friendly_name,
        } => {
            let cfg = load(&common)?;
            let store = impsd::connect_store(&cfg).await?;
            let id = imps_core::users::canonical_user(&user, &cfg.domain)?;
            let msisdn = match msisdn {
                Some(m) => Some(
                    imps_core::users::normalize_msisdn(&m)
                        .ok_or_else(|| anyhow::anyhow!("{m:?} is not an E.164 number"))?,
                ),
                None => None,
            };
            let (hash, secret) = if password.is_some() || password_stdin {
                let pw = read_password(password, password_stdin)?;
                let (h, s) = impsd::credentials(&cfg, &pw)?;
                (Some(h), s)
            } else if msisdn.is_some() {
                (None, None)
            } else {
                bail!("give --password, --password-stdin or --msisdn");
            };
            store
                .create_user(NewUser {
                    id: id.clone(),
                    password_hash: hash,
                    digest_secret: secret,
                    msisdn,
                    friendly_name,
                    created_ms: now_ms(),
                })
                .await
                .with_context(|| format!("adding user {id}"))?;
            println!("added {id}");
            Ok(())
        }
        UserCmd::AddMany {
            common,
            prefix,
            count,
            start,
            password,
            password_stdin,
            profiles,
            msisdn_from,
        } => {
            let cfg = load(&common)?;
            let store = impsd::connect_store(&cfg).await?;
            let pw = read_password(password, password_stdin)?;
            let (hash, secret) = impsd::credentials(&cfg, &pw)?;
            let msisdn_base = match msisdn_from {
                Some(m) => {
                    let m = imps_core::users::normalize_msisdn(&m)
                        .ok_or_else(|| anyhow::anyhow!("{m:?} is not an E.164 number"))?;
                    let n: u64 = m[1..]
                        .parse()
                        .with_context(|| format!("{m} is too long a number"))?;
                    Some(n)
                }
                None => None,
            };
            let msisdn = |i: usize| msisdn_base.map(|b| format!("+{}", b + i as u64));
            // Always in batches: one transaction per user made 100,000
            // users take minutes (issue 19's load model needs that many).
            add_many_bulk(
                &*store,
                &cfg,
                (&prefix, start, count),
                (hash, secret),
                profiles,
                &msisdn,
            )
            .await
        }
        UserCmd::Details {
            common,
            user,
            first_name,
            last_name,
            email,
        } => {
            let cfg = load(&common)?;
            let store = impsd::connect_store(&cfg).await?;
            let id = imps_core::users::canonical_user(&user, &cfg.domain)?;
            let mut d = store
                .contact_details(&id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no user {id}"))?;
            let set = |v: Option<String>, old: &mut Option<String>| {
                if let Some(v) = v {
                    let v = v.trim().to_string();
                    *old = (!v.is_empty()).then_some(v);
                }
            };
            let changing = first_name.is_some() || last_name.is_some() || email.is_some();
            set(first_name, &mut d.first_name);
            set(last_name, &mut d.last_name);
            set(email, &mut d.email);
            if changing {
                for (name, v) in [
                    ("first name", &d.first_name),
                    ("last name", &d.last_name),
                    ("e-mail", &d.email),
                ] {
                    if v.as_ref().is_some_and(|v| v.chars().count() > 128) {
                        bail!("the {name} is longer than 128 characters");
                    }
                }
                store.set_contact_details(&id, d.clone()).await?;
            }
            let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            println!(
                "{id}\tfirst name: {}\tlast name: {}\te-mail: {}",
                show(&d.first_name),
                show(&d.last_name),
                show(&d.email)
            );
            Ok(())
        }
        UserCmd::List { common } => {
            let cfg = load(&common)?;
            let store = impsd::connect_store(&cfg).await?;
            for u in store.list_users().await? {
                println!(
                    "{}\t{}\t{}",
                    u.id,
                    u.msisdn.unwrap_or_default(),
                    u.friendly_name.unwrap_or_default()
                );
            }
            Ok(())
        }
        UserCmd::Passwd {
            common,
            user,
            password,
            password_stdin,
            keep_sessions,
        } => {
            let cfg = load(&common)?;
            let store: Arc<dyn Store> = impsd::connect_store(&cfg).await?;
            let id = imps_core::users::canonical_user(&user, &cfg.domain)?;
            let pw = read_password(password, password_stdin)?;
            let (h, s) = impsd::credentials(&cfg, &pw)?;
            if !store.set_password(&id, Some(h), s).await? {
                bail!("no user {id}");
            }
            if keep_sessions {
                println!("password changed for {id}; sessions kept");
                return Ok(());
            }
            let ended = end_sessions_of(&cfg, &store, &id).await?;
            println!("password changed for {id}; {ended} sessions ended");
            Ok(())
        }
    }
}

/// Users per transaction of a bulk `add-many`.
const IMPORT_BATCH: usize = 5000;

/// `user add-many`: users (with profiles or numbers when asked) written
/// with `import_users`, [`IMPORT_BATCH`] per transaction.
async fn add_many_bulk(
    store: &dyn Store,
    cfg: &Config,
    (prefix, start, count): (&str, usize, usize),
    (hash, secret): (String, Option<Vec<u8>>),
    profiles: Option<u64>,
    msisdn: &dyn Fn(usize) -> Option<String>,
) -> anyhow::Result<()> {
    let created_ms = now_ms();
    let t0 = std::time::Instant::now();
    let end = start.saturating_add(count);
    let mut last = None;
    let mut i = start;
    while i < end {
        let batch_end = end.min(i + IMPORT_BATCH);
        let mut batch = Vec::with_capacity(batch_end - i);
        for n in i..batch_end {
            let id = imps_core::users::canonical_user(&format!("{prefix}{n:04}"), &cfg.domain)?;
            let (profile, details) = match profiles {
                Some(seed) => population::user(seed, n as u64, &id),
                None => Default::default(),
            };
            batch.push((
                NewUser {
                    id: id.clone(),
                    password_hash: Some(hash.clone()),
                    digest_secret: secret.clone(),
                    msisdn: msisdn(n),
                    friendly_name: None,
                    created_ms,
                },
                profile,
                details,
            ));
            last = Some(id);
        }
        store.import_users(batch).await.with_context(|| {
            format!(
                "adding users {prefix}{i:04} to {prefix}{:04}",
                batch_end - 1
            )
        })?;
        i = batch_end;
    }
    match last {
        Some(last) => println!(
            "added {count} users, up to {last}, in {:.1} s",
            t0.elapsed().as_secs_f64()
        ),
        None => println!("added 0 users"),
    }
    Ok(())
}

/// Ends `id`'s sessions after a password change: a running server is
/// asked to disconnect them (found through DATA_DIR/admin.json; a server
/// that does not answer is taken as not running), then whatever session
/// rows of the user are left in the store are deleted, so a restart
/// brings none back. How many sessions were ended.
async fn end_sessions_of(cfg: &Config, store: &Arc<dyn Store>, id: &str) -> anyhow::Result<usize> {
    let mut live = 0;
    let mut refused = None;
    if let Ok(info) = admin_info(cfg) {
        let path = format!(
            "/admin/users/{}/end-sessions",
            impsd::admin::query_escape(id)
        );
        match admin_request(&info, "POST", &path).await {
            Ok((200, body)) => {
                live = String::from_utf8_lossy(&body).trim().parse().unwrap_or(0);
            }
            Ok((status, _)) => refused = Some(status),
            // Nobody listens: the server is not running.
            Err(_) => {}
        }
    }
    let mut stored = 0;
    for r in store.sessions().await? {
        if r.user_id == id {
            store.delete_session(&r.id).await?;
            stored += 1;
        }
    }
    if let Some(status) = refused {
        bail!(
            "password changed for {id} and its stored sessions removed, but the running server \
             answered HTTP {status}: its live sessions stay until they end"
        );
    }
    Ok(live.max(stored))
}

async fn session_cmd(cmd: SessionCmd) -> anyhow::Result<()> {
    let (common, path, method) = match &cmd {
        SessionCmd::List { common } => (common, "/admin/sessions".to_string(), "GET"),
        SessionCmd::Kick { common, session_id } => {
            (common, format!("/admin/sessions/{session_id}/kick"), "POST")
        }
    };
    let cfg = load(common)?;
    let info = admin_info(&cfg)?;
    let (status, body) = admin_request(&info, method, &path).await?;
    match cmd {
        SessionCmd::List { .. } => {
            if status != 200 {
                bail!("admin endpoint answered HTTP {status}");
            }
            let rows: Vec<impsd::admin::SessionRow> = serde_json::from_slice(&body)?;
            for r in rows {
                println!("{}\t{}\t{}\t{}", r.id, r.user, r.client, r.version);
            }
        }
        SessionCmd::Kick { session_id, .. } => match status {
            204 => println!("kicked {session_id}"),
            404 => bail!("no session {session_id}"),
            s => bail!("admin endpoint answered HTTP {s}"),
        },
    }
    Ok(())
}

async fn node_cmd(cmd: NodeCmd) -> anyhow::Result<()> {
    let NodeCmd::Drain { common } = cmd;
    let cfg = load(&common)?;
    let info = admin_info(&cfg)?;
    let (status, body) = admin_request(&info, "POST", "/admin/node/drain").await?;
    if status != 202 {
        bail!("admin endpoint answered HTTP {status}");
    }
    let within: u64 = String::from_utf8_lossy(&body).trim().parse().unwrap_or(0);
    if within > 0 {
        println!("draining; the server stops within {within} ms");
    } else {
        println!("stopping (not a cluster node: nothing to drain)");
    }
    Ok(())
}

async fn peer_cmd(cmd: PeerCmd) -> anyhow::Result<()> {
    let common = match cmd {
        PeerCmd::List { common } => common,
        PeerCmd::Test { common, domain } => {
            let cfg = load(&common)?;
            let info = admin_info(&cfg)?;
            let path = format!("/admin/peers/{}/test", impsd::admin::query_escape(&domain));
            let (status, body) = admin_request(&info, "POST", &path).await?;
            let text = String::from_utf8_lossy(&body);
            match status {
                200 => println!("{domain}: association made in {} ms", text.trim()),
                404 => bail!("{domain} is not in the peer table (or federation is off)"),
                502 => bail!("{domain}: {}", text.trim()),
                s => bail!("admin endpoint answered HTTP {s}"),
            }
            return Ok(());
        }
        PeerCmd::Add {
            common,
            domain,
            url,
            sus,
            require_client_cert,
        } => {
            let cfg = load(&common)?;
            let info = admin_info(&cfg)?;
            let path = format!("/admin/peers/{}", impsd::admin::query_escape(&domain));
            let body = serde_json::to_vec(&impsd::admin::PeerAdd {
                url,
                sus,
                require_client_cert,
            })?;
            let (status, body) = admin_request_with(&info, "PUT", &path, Some(body)).await?;
            match status {
                204 => println!("{domain} added"),
                400 | 404 => bail!("{}", String::from_utf8_lossy(&body).trim()),
                s => bail!("admin endpoint answered HTTP {s}"),
            }
            return Ok(());
        }
        PeerCmd::Remove { common, domain } => {
            let cfg = load(&common)?;
            let info = admin_info(&cfg)?;
            let path = format!("/admin/peers/{}", impsd::admin::query_escape(&domain));
            let (status, body) = admin_request(&info, "DELETE", &path).await?;
            match status {
                204 => println!("{domain} removed"),
                400 | 404 => bail!("{}", String::from_utf8_lossy(&body).trim()),
                s => bail!("admin endpoint answered HTTP {s}"),
            }
            return Ok(());
        }
    };
    let cfg = load(&common)?;
    let info = admin_info(&cfg)?;
    let (status, body) = admin_request(&info, "GET", "/admin/peers").await?;
    if status != 200 {
        bail!("admin endpoint answered HTTP {status}");
    }
    let rows: Vec<impsd::federation::PeerView> = serde_json::from_slice(&body)?;
    for r in rows {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            r.domain,
            r.state,
            r.own_session.as_deref().unwrap_or("-"),
            r.peer_session.as_deref().unwrap_or("-"),
            r.queue_depth,
            r.sent,
            r.failures,
            r.associations,
            r.url,
            r.source.as_str()
        );
    }
    Ok(())
}

async fn log_cmd(common: &Common, filter: Option<String>) -> anyhow::Result<()> {
    let cfg = load(common)?;
    let info = admin_info(&cfg)?;
    let (status, body) = match &filter {
        None => admin_request(&info, "GET", "/admin/log").await?,
        Some(f) => {
            let path = format!("/admin/log?filter={}", impsd::admin::query_escape(f));
            admin_request(&info, "POST", &path).await?
        }
    };
    let text = String::from_utf8_lossy(&body);
    match status {
        200 => println!("{text}"),
        400 => bail!("filter refused: {text}"),
        501 => bail!("this server's log filter cannot be changed at run time"),
        s => bail!("admin endpoint answered HTTP {s}"),
    }
    Ok(())
}

async fn group_cmd(cmd: GroupCmd) -> anyhow::Result<()> {
    let (common, group, user) = match cmd {
        GroupCmd::Expel {
            common,
            group,
            user,
        } => (common, group, user),
        GroupCmd::AddMany {
            common,
            prefix,
            count,
            start,
            owner_prefix,
            owners,
            listed_percent,
            seed,
        } => {
            let mut cfg = load(&common)?;
            // A generated population: one fsync per group would take
            // minutes, and losing the last few to a power cut costs
            // nothing (WAL keeps the file consistent either way).
            cfg.store.synchronous_full = false;
            let store = impsd::connect_store(&cfg).await?;
            let t0 = std::time::Instant::now();
            let created_ms = now_ms();
            let mut listed = 0usize;
            for n in start..start.saturating_add(count) {
                let owner_n = population::group_owner(seed, n as u64, owners);
                let owner = imps_core::users::canonical_user(
                    &format!("{owner_prefix}{owner_n:04}"),
                    &cfg.domain,
                )?;
                let id = format!("wv:{owner}/{prefix}{n:04}@{}", cfg.domain).to_ascii_lowercase();
                let searchable = population::group_listed(seed, n as u64, listed_percent);
                listed += usize::from(searchable);
                store
                    .create_group(imps_core::store::GroupRecord {
                        id: id.clone(),
                        owner,
                        private: false,
                        props: vec![
                            ("Name".into(), format!("Group {n}")),
                            ("Topic".into(), format!("Topic {}", n % 1000)),
                            (
                                "Searchable".into(),
                                if searchable { "T" } else { "F" }.into(),
                            ),
                        ],
                        welcome: None,
                        created_ms,
                    })
                    .await
                    .with_context(|| format!("adding group {id}"))?;
            }
            println!(
                "added {count} groups ({listed} searchable) in {:.1} s",
                t0.elapsed().as_secs_f64()
            );
            return Ok(());
        }
    };
    let cfg = load(&common)?;
    let info = admin_info(&cfg)?;
    let path = format!(
        "/admin/groups/expel?group={}&user={}",
        impsd::admin::query_escape(&group),
        impsd::admin::query_escape(&user)
    );
    let (status, body) = admin_request(&info, "POST", &path).await?;
    match status {
        200 => println!("expelled {user} from {group}"),
        404 => bail!("{}", String::from_utf8_lossy(&body)),
        s => bail!(
            "admin endpoint answered HTTP {s}: {}",
            String::from_utf8_lossy(&body)
        ),
    }
    Ok(())
}

async fn sysmsg_cmd(cmd: SysmsgCmd) -> anyhow::Result<()> {
    use impsd::admin::{SysmsgRow, SysmsgSend, SysmsgSent};
    match cmd {
        SysmsgCmd::Send {
            common,
            to,
            online,
            all,
            text,
            options,
            requires_response,
        } => {
            if to.is_empty() && !online && !all {
                bail!("say who gets it: --to USER, --online or --all");
            }
            let info = admin_info(&load(&common)?)?;
            let req = SysmsgSend {
                to,
                online,
                all,
                text,
                options,
                requires_response,
            };
            let body = serde_json::to_vec(&req)?;
            let resp = admin_ok(&info, "POST", "/admin/sysmsg", Some(body)).await?;
            let sent: SysmsgSent = serde_json::from_slice(&resp)?;
            println!(
                "sent {} (addressed to {} users by name; pushed now to {})",
                sent.id, sent.users, sent.pushed_now
            );
        }
        SysmsgCmd::List { common } => {
            let info = admin_info(&load(&common)?)?;
            let resp = admin_ok(&info, "GET", "/admin/sysmsg", None).await?;
            let rows: Vec<SysmsgRow> = serde_json::from_slice(&resp)?;
            if rows.is_empty() {
                println!("no system messages");
            }
            for r in rows {
                let sent = r.deliveries.iter().filter(|d| d.sent_count > 0).count();
                let answered = r
                    .deliveries
                    .iter()
                    .filter(|d| d.answered_ms.is_some())
                    .count();
                let to = if r.everyone { "everyone" } else { "users" };
                println!(
                    "{}\t{}\tto {to}\tsent {sent}\tanswered {answered}\t{}",
                    r.id, r.origin, r.text
                );
            }
        }
        SysmsgCmd::Answers { common, id } => {
            let info = admin_info(&load(&common)?)?;
            let path = format!("/admin/sysmsg/{}", impsd::admin::query_escape(&id));
            let resp = admin_ok(&info, "GET", &path, None).await?;
            let r: SysmsgRow = serde_json::from_slice(&resp)?;
            println!("{}: {}", r.id, r.text);
            for (i, t) in &r.options {
                println!("  option {i}: {t}");
            }
            for d in r.deliveries {
                let answer = match (d.answered_ms, d.chosen, d.chosen_text) {
                    (None, ..) => "not answered".to_string(),
                    (Some(_), Some(c), Some(t)) => format!("answered {c} ({t})"),
                    (Some(_), ..) => "answered (no option)".to_string(),
                };
                println!("{}\tsent {}\t{answer}", d.user, d.sent_count);
            }
        }
        SysmsgCmd::Resend { common, id } => {
            let info = admin_info(&load(&common)?)?;
            let path = format!("/admin/sysmsg/{}/resend", impsd::admin::query_escape(&id));
            let resp = admin_ok(&info, "POST", &path, None).await?;
            println!(
                "sent {id} again to {} users",
                String::from_utf8_lossy(&resp).trim()
            );
        }
    }
    Ok(())
}

/// An admin request that must answer 200; its body.
async fn admin_ok(
    admin: &Admin,
    method: &str,
    path: &str,
    json: Option<Vec<u8>>,
) -> anyhow::Result<Vec<u8>> {
    let (status, body) = admin_request_with(admin, method, path, json).await?;
    if status != 200 {
        bail!(
            "admin endpoint answered HTTP {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    Ok(body)
}

/// The running server's admin endpoint: where it is and its token (from
/// DATA_DIR/admin.json), and when it serves HTTPS (`admin.tls`), the TLS
/// client that trusts only the certificate of the config's
/// `tls.cert_file`.
struct Admin {
    info: impsd::admin::AdminInfo,
    tls: Option<tokio_rustls::TlsConnector>,
}

/// Where the running server's admin endpoint is, its token, and how to
/// speak to it.
fn admin_info(cfg: &Config) -> anyhow::Result<Admin> {
    let path = cfg.data_dir.join("admin.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading {} (is the server running?)", path.display()))?;
    let info: impsd::admin::AdminInfo = serde_json::from_str(&text)?;
    let tls = if info.tls {
        let Some(cert) = &cfg.tls.cert_file else {
            bail!(
                "the admin endpoint serves HTTPS (admin.tls): give the server's config \
                 (--config), whose tls.cert_file is the certificate to trust"
            );
        };
        Some(impsd::tls::pinned_connector(cert)?)
    } else {
        None
    };
    Ok(Admin { info, tls })
}

async fn admin_request(admin: &Admin, method: &str, path: &str) -> anyhow::Result<(u16, Vec<u8>)> {
    admin_request_with(admin, method, path, None).await
}

/// An admin request with a JSON body, over HTTP or, when the endpoint
/// serves TLS, HTTPS: its status and body.
async fn admin_request_with(
    admin: &Admin,
    method: &str,
    path: &str,
    json: Option<Vec<u8>>,
) -> anyhow::Result<(u16, Vec<u8>)> {
    use http_body_util::Full;
    let addr = &admin.info.addr;
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr)
        .header("authorization", format!("Bearer {}", admin.info.token));
    if json.is_some() {
        req = req.header("content-type", "application/json");
    }
    let req = req.body(Full::new(bytes::Bytes::from(json.unwrap_or_default())))?;
    let tcp = tokio::net::TcpStream::connect(addr.as_str())
        .await
        .with_context(|| format!("contacting the admin endpoint at {addr}"))?;
    match &admin.tls {
        None => exchange(tcp, req).await,
        Some(connector) => {
            let ip = addr
                .parse::<SocketAddr>()
                .with_context(|| format!("admin.json: address {addr:?}"))?
                .ip();
            let tls = connector
                .connect(rustls_pki_types::ServerName::from(ip), tcp)
                .await
                .with_context(|| format!("TLS with the admin endpoint at {addr}"))?;
            exchange(tls, req).await
        }
    }
}

/// One HTTP/1.1 request on a fresh connection: status and body.
async fn exchange<S>(
    io: S,
    req: hyper::Request<http_body_util::Full<bytes::Bytes>>,
) -> anyhow::Result<(u16, Vec<u8>)>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use http_body_util::BodyExt;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io))
            .await
            .context("contacting the admin endpoint")?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let resp = sender
        .send_request(req)
        .await
        .context("contacting the admin endpoint")?;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await?.to_bytes().to_vec();
    Ok((status, body))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// mimalloc instead of glibc malloc: the server allocates and frees many
/// small short-lived buffers (elements, frames) across threads, which
/// glibc's arenas handle noticeably slower (docs/benchmarks.md, section 4).
/// The `system-alloc` feature leaves it out for heap profiling.
#[cfg(not(feature = "system-alloc"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
