//! `imps-bench`: the project's load and codec benchmark tool.
//!
//! Load benchmarks (`login`, `keepalive` and `search` over the real HTTP
//! binding, `im` over WebSocket) drive impsd with `imps-client`, either a server given
//! by `--url` or the impsd binary (`--impsd`) started as a child process
//! for the run, and report operations per second with p50/p99 latency
//! (and, for a server it started, the server's CPU time). Codec tools
//! (`gen-corpus`, `compare-codec`, `codec-mix`) set our `imps` converter
//! against libwbxml's and summarise the criterion bench. Every run is
//! bounded by time and by an operation count, so it always stops by
//! itself. Results and commands go in docs/benchmarks.md.
//!
//! It links the client and the codec only, never the server: it starts
//! impsd, makes its users and reads its addresses the way an operator
//! would (command line, config file, DATA_DIR/admin.json), so what it
//! measures is the server as it is run and what a client sees.

mod cluster;
mod compare;
mod corpus;
mod criterion_mix;
mod federation;
mod groups;
mod im;
mod keepalive;
mod login;
mod login_storm;
mod model;
mod presence;
mod report;
mod runner;
mod search;
mod stages;
mod target;

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use imps_client::{Encoding, Version};

#[derive(Parser)]
#[command(
    name = "imps-bench",
    version,
    about = "Load and codec benchmarks for impsd"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Logins per second (login as a random user, then logout).
    Login {
        #[arg(long, value_enum, default_value = "digest")]
        mode: LoginMode,
        /// Size of the user pool.
        #[arg(long, default_value_t = 200)]
        users: usize,
        /// The started server asks terms before login (a system message,
        /// issue 15) and every user agrees before the clock starts, so
        /// each measured login is one that needs no system message
        /// (SYM-16). Needs `--csp 1.3`.
        #[arg(long)]
        terms: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Issue 19: N users log in with their password, log out, and all
    /// log in again at once (as after a network blip); wall time,
    /// logins/s and server CPU of each round, and KeepAlive latency
    /// during the first.
    LoginStorm(login_storm::StormArgs),
    /// KeepAlive-Request or empty Polling-Request per second on open
    /// sessions.
    Keepalive {
        /// Sessions logged in before the run (one per user).
        #[arg(long, default_value_t = 100)]
        sessions: usize,
        #[arg(long, value_enum, default_value = "keepalive")]
        op: SessionOp,
        /// How the sessions log in before the run.
        #[arg(long, value_enum, default_value = "digest")]
        login_mode: LoginMode,
        #[command(flatten)]
        common: Common,
    },
    /// Instant messages delivered per second end to end over WebSocket,
    /// and p50/p99 delivery latency at fractions of the peak.
    Im(im::ImArgs),
    /// Issue 18: the `im` load on one, two and three cluster nodes
    /// (PostgreSQL + NATS) side by side, and one node on PostgreSQL
    /// against SQLite (`--stores`): delivered msg/s, p99, server CPU.
    Cluster(cluster::ClusterArgs),
    /// Issue 17: messages across two federated domains (a.test and
    /// b.test, two impsd processes, SSP over loopback) against the same
    /// load within each domain, side by side.
    Federation(federation::FedArgs),
    /// Issue 19: messages to one group of N members joined over
    /// WebSocket: time until the last member has each one, and messages
    /// per second in with every push delivered.
    Groups(groups::GroupsArgs),
    /// Issue 19's load model: N connected users, each sending one
    /// message every 10 s to one of its 10 next users; time to delivery,
    /// server CPU and memory. `--transport udp` (HTTP + SUDP wake-ups +
    /// polling) reaches 100,000 users; `ws` one WebSocket each.
    Model(model::ModelArgs),
    /// Issue 19: one publisher and N watchers of its presence over
    /// WebSocket: time until the last watcher has each change, and the
    /// server's CPU per change.
    Presence(presence::PresenceArgs),
    /// Search-Request latency per kind on a generated directory (issue
    /// 16): users with public profiles and groups made with the impsd CLI
    /// before the server starts. Needs `--csp 1.3`.
    Search(search::SearchArgs),
    /// Writes large CSP documents (.xml, .doctype.xml, .wbxml) for the
    /// codec comparison.
    GenCorpus(corpus::GenArgs),
    /// Times our `imps` converter against libwbxml's, alternating runs.
    CompareCodec(compare::CompareArgs),
    /// Summarises the criterion codec bench as throughput on the mix.
    CodecMix(criterion_mix::MixArgs),
}

/// Flags every load benchmark takes.
#[derive(Args, Clone)]
pub struct Common {
    /// Server URL (e.g. http://127.0.0.1:8080/imps). Without it the impsd
    /// binary is started as a child process with its own users.
    #[arg(long, conflicts_with = "impsd")]
    pub url: Option<String>,
    /// The impsd binary to start [default: `impsd` beside this
    /// executable].
    #[arg(long, value_name = "PATH")]
    pub impsd: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "xml")]
    pub encoding: EncodingArg,
    /// CSP version: 1.1, 1.2 or 1.3.
    #[arg(long, default_value = "1.2")]
    pub csp: String,
    /// Concurrent workers [default: 16].
    #[arg(long)]
    pub concurrency: Option<usize>,
    #[arg(long, default_value_t = 5)]
    pub duration_secs: u64,
    /// Hard cap on operations, whatever the duration.
    #[arg(long, default_value_t = 1_000_000)]
    pub max_ops: u64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Users are PREFIX0000, PREFIX0001...; with --url they must exist.
    #[arg(long, default_value = "bench")]
    pub user_prefix: String,
    /// Password of every bench user.
    #[arg(long, default_value = "bench-pw")]
    pub password: String,
}

/// One operation slower than this is counted as an error.
const OP_TIMEOUT: Duration = Duration::from_secs(10);

impl Common {
    pub fn version(&self) -> anyhow::Result<Version> {
        Version::parse(&self.csp).ok_or_else(|| {
            anyhow::anyhow!("unknown CSP version {:?}; use 1.1, 1.2 or 1.3", self.csp)
        })
    }

    pub fn run_spec(&self) -> runner::RunSpec {
        runner::RunSpec {
            duration: Duration::from_secs(self.duration_secs),
            max_ops: self.max_ops,
            op_timeout: OP_TIMEOUT,
        }
    }

    /// The server to load, with `users` users.
    pub async fn target(&self, users: usize) -> anyhow::Result<target::Target> {
        self.target_with(users, target::Settings::default()).await
    }

    /// Like [`Common::target`], with `extra` settings for a server started
    /// here (a running one given by `--url` keeps its own).
    pub async fn target_with(
        &self,
        users: usize,
        extra: target::Settings,
    ) -> anyhow::Result<target::Target> {
        let pw = self.password.clone();
        match &self.url {
            Some(url) => Ok(target::Target::external(
                url.clone(),
                &self.user_prefix,
                users,
                pw,
            )),
            None => {
                let bin = target::impsd_path(self.impsd.as_deref())?;
                target::Target::spawn(&bin, &self.user_prefix, users, pw, &extra).await
            }
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum EncodingArg {
    Xml,
    Wbxml,
}

impl EncodingArg {
    pub fn wire(self) -> Encoding {
        match self {
            EncodingArg::Xml => Encoding::Xml,
            EncodingArg::Wbxml => Encoding::Wbxml,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            EncodingArg::Xml => "xml",
            EncodingArg::Wbxml => "wbxml",
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum LoginMode {
    Password,
    Digest,
}

impl LoginMode {
    pub fn name(self) -> &'static str {
        match self {
            LoginMode::Password => "password",
            LoginMode::Digest => "digest",
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum SessionOp {
    Keepalive,
    Poll,
}

impl SessionOp {
    pub fn name(self) -> &'static str {
        match self {
            SessionOp::Keepalive => "keepalive",
            SessionOp::Poll => "poll",
        }
    }
}

/// The same allocator as the server, so the load generator spends as
/// little of the shared CPU as it can.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    if let Err(e) = run(Cli::parse()) {
        eprintln!("imps-bench: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.cmd {
        Cmd::Login {
            mode,
            users,
            terms,
            common,
        } => {
            let report = runtime()?.block_on(login::run(&common, mode, users, terms))?;
            report.print(common.json);
        }
        Cmd::Keepalive {
            sessions,
            op,
            login_mode,
            common,
        } => {
            let report = runtime()?.block_on(keepalive::run(&common, sessions, op, login_mode))?;
            report.print(common.json);
        }
        Cmd::LoginStorm(args) => runtime()?.block_on(login_storm::run(&args))?,
        Cmd::Im(args) => runtime()?.block_on(im::run(&args))?,
        Cmd::Cluster(args) => runtime()?.block_on(cluster::run(&args))?,
        Cmd::Federation(args) => runtime()?.block_on(federation::run(&args))?,
        Cmd::Groups(args) => runtime()?.block_on(groups::run(&args))?,
        Cmd::Model(args) => runtime()?.block_on(model::run(&args))?,
        Cmd::Presence(args) => runtime()?.block_on(presence::run(&args))?,
        Cmd::Search(args) => runtime()?.block_on(search::run(&args))?,
        Cmd::GenCorpus(args) => corpus::run(&args)?,
        Cmd::CompareCodec(args) => compare::run(&args)?,
        Cmd::CodecMix(args) => criterion_mix::run(&args)?,
    }
    Ok(())
}

/// The load benchmarks' runtime. The server is another process, but on a
/// small machine both compete for the same cores, which
/// docs/benchmarks.md says next to the figures.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Paths given on the command line, for the codec tools.
pub fn must_be_dir(p: &Path) -> anyhow::Result<()> {
    if p.is_dir() {
        Ok(())
    } else {
        anyhow::bail!("{} is not a directory", p.display())
    }
}
