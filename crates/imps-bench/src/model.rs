//! `imps-bench model` (issue 19): a load model in the style of the XMPP
//! servers' public ones. N users are logged in and stay connected; each
//! sends one message every `--interval-secs` to one of its
//! `--neighbours` next users, at a phase of its own so the load is
//! smooth. Every message's time to delivery is recorded (sender and
//! recipient are in this process, so one clock measures it), and the
//! server's CPU time and resident memory are read from /proc.
//!
//! Two ways to be connected:
//! - `ws`: one WebSocket per user (CSP 1.3). Each costs a file
//!   descriptor on both sides, so the process limit caps N.
//! - `udp`: the path phones use without a standing connection. Requests
//!   go over HTTP keep-alive connections shared by many users; the server
//!   wakes a user with a datagram (SUDP) carrying its session cookie; the
//!   user then polls (Polling-Request) and answers each NewMessage with
//!   MessageDelivered. One UDP socket serves many users: the cookie says
//!   whose wake-up it is. This reaches 100,000 users within the limit.
//! - `tcp`: HTTP requests as for `udp`, and one standing TCP CIR
//!   connection per user (`HELO <SessionID>`) on which the server writes
//!   a wake-up line; one file descriptor per user, so the process limit
//!   caps N as for `ws`.
//!
//! `--idle-only` logs everyone in, reads the server's idle resident
//! memory and stops: the memory per idle session (issue 19) without the
//! load.
//!
//! After the measured window sending stops and deliveries drain; every
//! acknowledged message must then have been delivered, and the report
//! says how many were not.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use imps_client::primitives::UdpCirOffer;
use imps_client::{Client, Encoding, HttpClient, Message, TcpCir, UdpCir, Version, WsClient};
use imps_client::{Transport, status_of};
use imps_wire::csp;
use tokio::sync::{Notify, Semaphore};

use crate::im::{pct, send_body};
use crate::target::{Settings, Target, toml_str};

/// The CSP version the model runs in.
const VERSION: Version = Version::V1_3;

/// Longest a user waits for its next wake-up before checking for stop.
const IDLE_CHECK: Duration = Duration::from_millis(500);

/// Time allowed for logging everyone in.
const SETUP_LIMIT: Duration = Duration::from_secs(1200);

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ModelTransport {
    /// One WebSocket per user.
    Ws,
    /// HTTP requests on shared keep-alive connections, SUDP wake-ups,
    /// Polling-Request.
    Udp,
    /// HTTP requests as for `udp`, wake-ups on one standing TCP CIR
    /// connection per user.
    Tcp,
}

#[derive(Args, Debug)]
pub struct ModelArgs {
    /// Connected users.
    #[arg(long, default_value_t = 1000)]
    users: usize,
    #[arg(long, value_enum, default_value = "udp")]
    transport: ModelTransport,
    /// Seconds between two messages of one user.
    #[arg(long, default_value_t = 10.0)]
    interval_secs: f64,
    /// A user writes to one of this many next users (chosen in turn).
    #[arg(long, default_value_t = 10)]
    neighbours: usize,
    /// Measured seconds, after a warm-up of one interval.
    #[arg(long, default_value_t = 60)]
    secs: u64,
    /// Log everyone in, report the server's idle memory, and stop (no
    /// messages).
    #[arg(long)]
    idle_only: bool,
    /// Bytes of text per message.
    #[arg(long, default_value_t = 40)]
    text: usize,
    /// Use XML instead of WBXML.
    #[arg(long)]
    xml: bool,
    /// Logins in flight at once during set-up.
    #[arg(long, default_value_t = 64)]
    login_concurrency: usize,
    /// `udp`: users sharing one HTTP connection pool.
    #[arg(long, default_value_t = 500)]
    users_per_pool: usize,
    /// `udp` and `tcp`: most connections (and requests in flight) of one
    /// pool. Without a cap every pool keeps as many connections as it
    /// ever had requests at once, and 100,000 users ran the load tool
    /// out of file descriptors (docs/benchmarks.md section 42).
    #[arg(long, default_value_t = 16)]
    connections_per_pool: usize,
    /// `udp`: users sharing one UDP socket.
    #[arg(long, default_value_t = 2000)]
    users_per_socket: usize,
    /// `udp`: the server's `cir.udp_min_interval_ms` (the fewest ms
    /// between two wake-ups of one session) for a started server.
    #[arg(long, default_value_t = 2000)]
    udp_min_interval_ms: u64,
    /// HTTP URL of a running server; its users PREFIX0000... must exist
    /// with --password, and for `udp` it must offer SUDP.
    #[arg(long, conflicts_with = "impsd")]
    url: Option<String>,
    /// The impsd binary to start [default: `impsd` beside this executable].
    #[arg(long, value_name = "PATH")]
    impsd: Option<PathBuf>,
    #[arg(long, default_value = "model")]
    user_prefix: String,
    #[arg(long, default_value = "bench-pw")]
    password: String,
}

/// Latencies in microseconds, and the counters of one run.
#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    acked: AtomicU64,
    refused: AtomicU64,
    errors: AtomicU64,
    /// Why the failed requests failed, by where they were made.
    send_errors: ErrorKinds,
    ack_errors: ErrorKinds,
    poll_errors: ErrorKinds,
    delivered: AtomicU64,
    /// Deliveries of a stamp already seen (the same message twice).
    duplicates: AtomicU64,
    /// Only deliveries inside the measured window are recorded.
    measuring: AtomicBool,
    lat: std::sync::Mutex<Vec<u32>>,
    seen: std::sync::Mutex<std::collections::HashSet<String>>,
}

/// Failed requests of one kind of call, counted by the client's error:
/// a slow server or a load tool short of CPU (or of free connections in
/// its capped pools) shows as timeouts, a server that turns work away as
/// HTTP statuses, a side out of descriptors as connection errors.
#[derive(Default)]
struct ErrorKinds {
    timeout: AtomicU64,
    http_503: AtomicU64,
    http_other: AtomicU64,
    transport: AtomicU64,
    other: AtomicU64,
    /// The text of the first error that was not a timeout, to say which
    /// side gave up.
    first: std::sync::OnceLock<String>,
}

impl ErrorKinds {
    fn count(&self, e: &imps_client::ClientError) {
        use imps_client::ClientError as E;
        let slot = match e {
            E::Timeout => &self.timeout,
            E::Http(503, _) => &self.http_503,
            E::Http(..) => &self.http_other,
            E::Transport(_) | E::Io(_) | E::Closed => &self.transport,
            _ => &self.other,
        };
        slot.fetch_add(1, Ordering::Relaxed);
        if !matches!(e, E::Timeout) {
            let _ = self.first.set(e.to_string());
        }
    }

    fn summary(&self) -> String {
        let v = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let first = self
            .first
            .get()
            .map_or(String::new(), |e| format!(" (first: {e})"));
        format!(
            "timeout {}, http 503 {}, other http {}, connection {}, other {}{first}",
            v(&self.timeout),
            v(&self.http_503),
            v(&self.http_other),
            v(&self.transport),
            v(&self.other)
        )
    }
}

impl Counters {
    fn error(&self, kinds: &ErrorKinds, e: &imps_client::ClientError) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        kinds.count(e);
    }

    /// Records one delivered NewMessage: its latency from the stamp in
    /// its text, and whether its MessageID came before.
    fn delivered(&self, msg: &csp::NewMessage, t0: Instant) {
        self.delivered.fetch_add(1, Ordering::Relaxed);
        if let Some(id) = msg.message_info.message_id.clone() {
            let fresh = self.seen.lock().map(|mut s| s.insert(id)).unwrap_or(true);
            if !fresh {
                self.duplicates.fetch_add(1, Ordering::Relaxed);
            }
        }
        if !self.measuring.load(Ordering::Relaxed) {
            return;
        }
        let now = t0.elapsed().as_micros();
        let sent = msg
            .content_data
            .as_deref()
            .and_then(|d| d.split(' ').next())
            .and_then(|s| s.parse::<u128>().ok());
        if let (Some(sent), Ok(mut lat)) = (sent, self.lat.lock()) {
            lat.push(now.saturating_sub(sent).min(u128::from(u32::MAX)) as u32);
        }
    }
}

/// Handles the server requests in one message (a push over WebSocket or
/// the answer to a poll): NewMessages are recorded and acknowledged with
/// MessageDelivered, anything else gets Status 200. Returns how many
/// server requests there were.
async fn take_requests<T: Transport>(
    client: &Client<T>,
    m: Message,
    t0: Instant,
    c: &Counters,
) -> usize {
    let mut n = 0;
    for t in m.transactions {
        let Some(tid) = t.id.as_deref() else { continue };
        if t.mode != imps_client::TransactionMode::Request {
            continue;
        }
        n += 1;
        match csp::NewMessage::from_element(&t.body, VERSION) {
            Ok(msg) => {
                c.delivered(&msg, t0);
                let ack = csp::MessageDelivered {
                    message_id: msg.message_info.message_id.unwrap_or_default(),
                    other: Vec::new(),
                };
                if let Err(e) = client.answer(tid, ack.to_element(VERSION)).await {
                    c.error(&c.ack_errors, &e);
                }
            }
            Err(_) => {
                let _ = client.answer_status(tid).await;
            }
        }
    }
    n
}

/// One user's sending: a message every `interval` to its neighbours in
/// turn, starting at `phase` into the first interval.
#[allow(clippy::too_many_arguments)]
async fn sender<T: Transport>(
    client: Client<T>,
    i: usize,
    users: Arc<Vec<String>>,
    neighbours: usize,
    interval: Duration,
    phase: Duration,
    until: Instant,
    t0: Instant,
    pad: Arc<String>,
    c: Arc<Counters>,
) {
    let n = users.len();
    let mut next = Instant::now() + phase;
    let mut k = 0usize;
    while next < until {
        tokio::time::sleep_until(next.into()).await;
        let to = &users[(i + 1 + k % neighbours) % n];
        k += 1;
        c.sent.fetch_add(1, Ordering::Relaxed);
        match client.request(send_body(to, &t0, &pad)).await {
            Ok(r) if status_of(&r).map(|s| s.0) == Some(200) => {
                c.acked.fetch_add(1, Ordering::Relaxed);
            }
            Ok(_) => {
                c.refused.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => c.error(&c.send_errors, &e),
        }
        next += interval;
    }
}

/// Takes a WebSocket user's pushes until `stop`.
async fn ws_receiver(ws: WsClient, t0: Instant, c: Arc<Counters>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        match ws.next_push(IDLE_CHECK).await {
            Some(m) => {
                take_requests(&ws, m, t0, &c).await;
            }
            None if ws.is_closed() => return,
            None => {}
        }
    }
}

/// Polls an HTTP user each time it is woken, until a poll brings nothing.
async fn udp_poller(
    client: HttpClient,
    wake: Arc<Notify>,
    t0: Instant,
    c: Arc<Counters>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Relaxed) {
        if tokio::time::timeout(IDLE_CHECK, wake.notified())
            .await
            .is_err()
        {
            continue;
        }
        loop {
            match client.poll().await {
                Ok(Some(m)) => {
                    if take_requests(&client, m, t0, &c).await == 0 {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    c.error(&c.poll_errors, &e);
                    break;
                }
            }
        }
    }
}

/// Reads one UDP socket's wake-ups and wakes the user whose cookie each
/// carries.
async fn udp_reader(
    mut socket: UdpCir,
    cookies: HashMap<String, Arc<Notify>>,
    stray: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Relaxed) {
        match socket.next_wakeup(IDLE_CHECK).await {
            Ok(Some(line)) => match cookies.get(&line.cookie) {
                Some(w) => w.notify_one(),
                None => {
                    stray.fetch_add(1, Ordering::Relaxed);
                }
            },
            Ok(None) => {}
            Err(_) => return,
        }
    }
}

/// Reads one user's TCP CIR wake-ups and wakes its poller.
async fn tcp_reader(mut cir: TcpCir, wake: Arc<Notify>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        match cir.next_wakeup(IDLE_CHECK).await {
            Ok(Some(_)) => wake.notify_one(),
            Ok(None) => {}
            Err(_) => return,
        }
    }
}

/// Raises this process's open-file limit to its hard limit (a started
/// server inherits it) and returns the new soft limit.
fn raise_fd_limit() -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) => {
            if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
                hard
            } else {
                soft
            }
        }
        Err(_) => 1024,
    }
}

/// The users, logged in and ready, of either kind.
enum Users {
    Ws(Vec<WsClient>),
    Udp {
        clients: Vec<HttpClient>,
        wakes: Vec<Arc<Notify>>,
        sockets: Vec<(UdpCir, HashMap<String, Arc<Notify>>)>,
    },
    Tcp {
        clients: Vec<HttpClient>,
        cirs: Vec<TcpCir>,
    },
}

async fn connect_ws(args: &ModelArgs, target: &Target, enc: Encoding) -> anyhow::Result<Users> {
    let ws_url = target.ws_url();
    let gate = Arc::new(Semaphore::new(args.login_concurrency.max(1)));
    let mut set = tokio::task::JoinSet::new();
    for (i, u) in target.users.iter().enumerate() {
        let (gate, ws_url, u, pw) = (
            gate.clone(),
            ws_url.clone(),
            u.clone(),
            target.password.clone(),
        );
        set.spawn(async move {
            let _permit = gate.acquire_owned().await?;
            let ws = WsClient::connect(&ws_url, VERSION, enc).await?;
            ws.login_digest(&u, &pw, &crate::login::DIGEST_SCHEMAS)
                .await
                .map_err(|e| anyhow::anyhow!("login as {u}: {e}"))?;
            ws.client_capability(&[], None).await?;
            ws.service_request_all().await?;
            anyhow::Ok((i, ws))
        });
    }
    let mut all: Vec<(usize, WsClient)> = Vec::with_capacity(args.users);
    while let Some(done) = set.join_next().await {
        all.push(done??);
    }
    all.sort_by_key(|(i, _)| *i);
    Ok(Users::Ws(all.into_iter().map(|(_, c)| c).collect()))
}

/// One HTTP connection pool shared by `--users-per-pool` users, capped
/// at `--connections-per-pool` connections.
fn pool(
    args: &ModelArgs,
    target: &Target,
    enc: Encoding,
) -> anyhow::Result<imps_client::HttpTransport> {
    Ok(target
        .transport(VERSION, enc)?
        .with_max_connections(args.connections_per_pool))
}

async fn connect_tcp(args: &ModelArgs, target: &Target, enc: Encoding) -> anyhow::Result<Users> {
    let per_pool = args.users_per_pool.max(1);
    let mut transport = pool(args, target, enc)?;
    let gate = Arc::new(Semaphore::new(args.login_concurrency.max(1)));
    let mut set = tokio::task::JoinSet::new();
    for (i, u) in target.users.iter().enumerate() {
        if i > 0 && i % per_pool == 0 {
            transport = pool(args, target, enc)?;
        }
        let cfg = target
            .client_config(VERSION, enc)
            .with_client_id(format!("WV:imps-bench-model-{i}"));
        let client = Client::with_transport(transport.clone(), cfg);
        let (gate, u, pw) = (gate.clone(), u.clone(), target.password.clone());
        set.spawn(async move {
            let _permit = gate.acquire_owned().await?;
            crate::login::login(&client, &u, &pw, crate::LoginMode::Digest).await?;
            let info = client
                .session_id()
                .ok_or_else(|| anyhow::anyhow!("{u}: no SessionID after login"))?;
            let agreed = client.client_capability(&["STCP"], None).await?;
            let addr = imps_client::tcp_cir_addr(&agreed)
                .ok_or_else(|| anyhow::anyhow!("{u}: the server did not agree to STCP"))?;
            let cir = TcpCir::connect(addr.as_str(), &info).await?;
            client.service_request_all().await?;
            anyhow::Ok((i, client, cir))
        });
    }
    let mut all = Vec::with_capacity(args.users);
    while let Some(done) = set.join_next().await {
        all.push(done??);
    }
    all.sort_by_key(|(i, _, _)| *i);
    let (clients, cirs) = all.into_iter().map(|(_, c, t)| (c, t)).unzip();
    Ok(Users::Tcp { clients, cirs })
}

async fn connect_udp(args: &ModelArgs, target: &Target, enc: Encoding) -> anyhow::Result<Users> {
    let per_pool = args.users_per_pool.max(1);
    let per_socket = args.users_per_socket.max(1);
    let mut transport = pool(args, target, enc)?;
    let mut socket: Option<(UdpCir, u16)> = None;
    let gate = Arc::new(Semaphore::new(args.login_concurrency.max(1)));
    let mut set = tokio::task::JoinSet::new();
    let mut socket_of = Vec::with_capacity(args.users);
    let mut sockets: Vec<UdpCir> = Vec::new();
    for (i, u) in target.users.iter().enumerate() {
        if i > 0 && i % per_pool == 0 {
            transport = pool(args, target, enc)?;
        }
        if i % per_socket == 0 {
            if let Some((s, _)) = socket.take() {
                sockets.push(s);
            }
            let s = UdpCir::bind("127.0.0.1:0").await?;
            let port = s.port()?;
            socket = Some((s, port));
        }
        let port = socket.as_ref().map_or(0, |(_, p)| *p);
        socket_of.push(sockets.len());
        let cfg = target
            .client_config(VERSION, enc)
            .with_client_id(format!("WV:imps-bench-model-{i}"));
        let client = Client::with_transport(transport.clone(), cfg);
        let (gate, u, pw) = (gate.clone(), u.clone(), target.password.clone());
        set.spawn(async move {
            let _permit = gate.acquire_owned().await?;
            crate::login::login(&client, &u, &pw, crate::LoginMode::Digest).await?;
            let offer = UdpCirOffer {
                address: Some("127.0.0.1".into()),
                port,
            };
            let agreed = client
                .client_capability_udp(&["SUDP"], None, &offer)
                .await?;
            anyhow::ensure!(
                imps_client::agreed_cir_methods(&agreed)
                    .iter()
                    .any(|m| m == "SUDP"),
                "{u}: the server did not agree to SUDP: {agreed:?}"
            );
            client.service_request_all().await?;
            anyhow::Ok((i, client))
        });
    }
    if let Some((s, _)) = socket.take() {
        sockets.push(s);
    }
    let mut all: Vec<(usize, HttpClient)> = Vec::with_capacity(args.users);
    while let Some(done) = set.join_next().await {
        all.push(done??);
    }
    all.sort_by_key(|(i, _)| *i);
    let clients: Vec<HttpClient> = all.into_iter().map(|(_, c)| c).collect();
    let wakes: Vec<Arc<Notify>> = clients.iter().map(|_| Arc::new(Notify::new())).collect();
    let mut maps: Vec<HashMap<String, Arc<Notify>>> =
        sockets.iter().map(|_| HashMap::new()).collect();
    for (i, c) in clients.iter().enumerate() {
        if let Some(m) = maps.get_mut(socket_of[i]) {
            m.insert(c.session_cookie().to_string(), wakes[i].clone());
        }
    }
    Ok(Users::Udp {
        clients,
        wakes,
        sockets: sockets.into_iter().zip(maps).collect(),
    })
}

/// Settings of a started server: offline notices off (everyone is
/// online), SUDP on a loopback port with the wake-up spacing asked for,
/// connections enough for every WebSocket user.
fn settings(args: &ModelArgs, fd_limit: u64) -> Settings {
    let s = if args.transport == ModelTransport::Tcp {
        Settings::default().set("cir", "tcp_listen", toml_str("127.0.0.1:0"))
    } else {
        Settings::default()
    };
    s.set("im", "offline_notify", toml_str("off"))
        .set("session", "max_per_user", "2".into())
        .set("cir", "udp", "true".into())
        .set("cir", "udp_bind", toml_str("127.0.0.1:0"))
        .set(
            "cir",
            "udp_min_interval_ms",
            args.udp_min_interval_ms.to_string(),
        )
        .set(
            "limits",
            "max_connections",
            fd_limit.saturating_sub(100).max(1).to_string(),
        )
}

pub async fn run(args: &ModelArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.users >= 2, "--users must be at least 2");
    anyhow::ensure!(
        args.interval_secs > 0.0,
        "--interval-secs must be more than 0"
    );
    let neighbours = args.neighbours.clamp(1, args.users - 1);
    let fd_limit = raise_fd_limit();
    if args.transport != ModelTransport::Udp {
        anyhow::ensure!(
            (args.users as u64) + 200 < fd_limit,
            "{} users with a standing connection need more open files than this process may have ({fd_limit}); \
             use --transport udp or fewer users",
            args.users
        );
    }
    let pw = args.password.clone();
    let (target, server) = match &args.url {
        Some(url) => (
            Target::external(url.clone(), &args.user_prefix, args.users, pw),
            format!("external server {url}"),
        ),
        None => {
            let bin = crate::target::impsd_path(args.impsd.as_deref())?;
            let t = Target::spawn(
                &bin,
                &args.user_prefix,
                args.users,
                pw,
                &settings(args, fd_limit),
            )
            .await?;
            (t, format!("child process {}", bin.display()))
        }
    };
    let enc = if args.xml {
        Encoding::Xml
    } else {
        Encoding::Wbxml
    };
    let rss0 = target.server_rss();
    let anon0 = target.server_rss_anon();
    let t_login = Instant::now();
    let users = tokio::time::timeout(SETUP_LIMIT, async {
        match args.transport {
            ModelTransport::Ws => connect_ws(args, &target, enc).await,
            ModelTransport::Udp => connect_udp(args, &target, enc).await,
            ModelTransport::Tcp => connect_tcp(args, &target, enc).await,
        }
    })
    .await
    .map_err(|_| anyhow::anyhow!("logging in {} users took over {SETUP_LIMIT:?}", args.users))??;
    let login_secs = t_login.elapsed().as_secs_f64();
    // Let the logins' work settle before reading the idle footprint.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle = target.server_rss();
    let anon_idle = target.server_rss_anon();
    println!(
        "imps-bench model: {server}; {} users over {:?}, CSP 1.3 {enc:?}, one message per {} s to one of {neighbours} neighbours, {} s measured; logged in in {login_secs:.1} s",
        args.users, args.transport, args.interval_secs, args.secs
    );
    if args.idle_only {
        let n = args.users as f64;
        let per = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => format!("{:.2}", b.saturating_sub(a) as f64 / 1024.0 / n),
            _ => "?".into(),
        };
        let kb = |b: Option<u64>| b.map_or("?".into(), |b| (b / 1024).to_string());
        println!(
            "idle: server rss before logins {} KB, with {} users {} KB; per session {} KB",
            kb(rss0),
            args.users,
            kb(rss_idle),
            per(rss0, rss_idle),
        );
        // The same without the binary's pages: two builds' RSS at start
        // differs by their file pages, not by their heaps.
        println!(
            "idle, anonymous memory: before logins {} KB, with {} users {} KB; per session {} KB",
            kb(anon0),
            args.users,
            kb(anon_idle),
            per(anon0, anon_idle),
        );
        // Then every client closes its connections (WebSocket, TCP CIR,
        // HTTP keep-alive) without logging out: the sessions stay, as a
        // phone's do between wake-ups.
        match users {
            Users::Ws(clients) => {
                for ws in &clients {
                    let _ = ws.close().await;
                }
            }
            Users::Udp { .. } | Users::Tcp { .. } => drop(users),
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        let rss_closed = target.server_rss();
        let anon_closed = target.server_rss_anon();
        println!(
            "idle, connections closed: server rss {} KB; per session {} KB",
            kb(rss_closed),
            per(rss0, rss_closed),
        );
        println!(
            "idle, connections closed, anonymous memory: {} KB; per session {} KB",
            kb(anon_closed),
            per(anon0, anon_closed),
        );
        target.close().await;
        return Ok(());
    }

    let t0 = Instant::now();
    let c = Arc::new(Counters::default());
    let stop = Arc::new(AtomicBool::new(false));
    let stray = Arc::new(AtomicU64::new(0));
    let interval = Duration::from_secs_f64(args.interval_secs);
    let warmup = interval;
    let measure = Duration::from_secs(args.secs);
    let until = Instant::now() + warmup + measure;
    let names = Arc::clone(&target.users);
    let pad = Arc::new("x".repeat(args.text.saturating_sub(12)));
    let n = args.users;
    let mut senders = Vec::with_capacity(n);
    let mut receivers = Vec::with_capacity(n);
    let phase = |i: usize| interval.mul_f64(i as f64 / n as f64);
    match users {
        Users::Ws(clients) => {
            for (i, ws) in clients.into_iter().enumerate() {
                receivers.push(tokio::spawn(ws_receiver(
                    ws.clone(),
                    t0,
                    c.clone(),
                    stop.clone(),
                )));
                senders.push(tokio::spawn(sender(
                    ws,
                    i,
                    names.clone(),
                    neighbours,
                    interval,
                    phase(i),
                    until,
                    t0,
                    pad.clone(),
                    c.clone(),
                )));
            }
        }
        Users::Udp {
            clients,
            wakes,
            sockets,
        } => {
            for (socket, map) in sockets {
                receivers.push(tokio::spawn(udp_reader(
                    socket,
                    map,
                    stray.clone(),
                    stop.clone(),
                )));
            }
            for (i, (client, wake)) in clients.into_iter().zip(wakes).enumerate() {
                receivers.push(tokio::spawn(udp_poller(
                    client.clone(),
                    wake,
                    t0,
                    c.clone(),
                    stop.clone(),
                )));
                senders.push(tokio::spawn(sender(
                    client,
                    i,
                    names.clone(),
                    neighbours,
                    interval,
                    phase(i),
                    until,
                    t0,
                    pad.clone(),
                    c.clone(),
                )));
            }
        }
        Users::Tcp { clients, cirs } => {
            for (i, (client, cir)) in clients.into_iter().zip(cirs).enumerate() {
                let wake = Arc::new(Notify::new());
                receivers.push(tokio::spawn(tcp_reader(cir, wake.clone(), stop.clone())));
                receivers.push(tokio::spawn(udp_poller(
                    client.clone(),
                    wake,
                    t0,
                    c.clone(),
                    stop.clone(),
                )));
                senders.push(tokio::spawn(sender(
                    client,
                    i,
                    names.clone(),
                    neighbours,
                    interval,
                    phase(i),
                    until,
                    t0,
                    pad.clone(),
                    c.clone(),
                )));
            }
        }
    }

    tokio::time::sleep(warmup).await;
    c.measuring.store(true, Ordering::Relaxed);
    let (d0, a0) = (
        c.delivered.load(Ordering::Relaxed),
        c.acked.load(Ordering::Relaxed),
    );
    let cpu0 = target.server_cpu();
    let m0 = Instant::now();
    tokio::time::sleep(measure).await;
    let el = m0.elapsed().as_secs_f64();
    let cpu = target.server_cpu_since(cpu0);
    c.measuring.store(false, Ordering::Relaxed);
    let (d1, a1) = (
        c.delivered.load(Ordering::Relaxed),
        c.acked.load(Ordering::Relaxed),
    );
    let rss_busy = target.server_rss();
    for s in senders {
        let _ = s.await;
    }
    // Deliveries drain: wait until every acknowledged message arrived, or
    // 30 s without progress.
    let mut last = (c.delivered.load(Ordering::Relaxed), Instant::now());
    while c.delivered.load(Ordering::Relaxed) < c.acked.load(Ordering::Relaxed)
        && last.1.elapsed() < Duration::from_secs(30)
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let d = c.delivered.load(Ordering::Relaxed);
        if d != last.0 {
            last = (d, Instant::now());
        }
    }
    stop.store(true, Ordering::Relaxed);
    for r in receivers {
        let _ = r.await;
    }
    let mut lat = c
        .lat
        .lock()
        .map(|mut v| std::mem::take(&mut *v))
        .unwrap_or_default();
    lat.sort_unstable();
    let delivered = (d1 - d0) as f64 / el;
    let acked_total = c.acked.load(Ordering::Relaxed);
    let delivered_total = c.delivered.load(Ordering::Relaxed);
    let mb = |b: Option<u64>| b.map_or("?".to_string(), |b| format!("{:.0}", b as f64 / 1048576.0));
    let per_session = match (rss0, rss_idle) {
        (Some(a), Some(b)) => format!("{:.1} KB", b.saturating_sub(a) as f64 / 1024.0 / n as f64),
        _ => "?".into(),
    };
    println!(
        "offered {:.0} msg/s  acked {:.0}/s  delivered {delivered:.0}/s  time to delivery p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        n as f64 / args.interval_secs,
        (a1 - a0) as f64 / el,
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        lat.last().map_or(f64::NAN, |m| f64::from(*m) / 1000.0),
    );
    match cpu {
        Some(cpu) => println!(
            "server cpu {:.2} s over {el:.1} s ({:.0}% of one core), {:.3} ms per delivered message",
            cpu.as_secs_f64(),
            100.0 * cpu.as_secs_f64() / el,
            1000.0 * cpu.as_secs_f64() / ((d1 - d0).max(1) as f64)
        ),
        None => println!("server cpu: not measured (external server)"),
    }
    println!(
        "server rss MB: before logins {}, idle with {n} users {}, end of load {}; per session {per_session}",
        mb(rss0),
        mb(rss_idle),
        mb(rss_busy)
    );
    println!(
        "acked {acked_total}, delivered {delivered_total}, not delivered {}, duplicates {}, refused {}, errors {}, stray wake-ups {}",
        acked_total.saturating_sub(delivered_total),
        c.duplicates.load(Ordering::Relaxed),
        c.refused.load(Ordering::Relaxed),
        c.errors.load(Ordering::Relaxed),
        stray.load(Ordering::Relaxed)
    );
    println!("errors of SendMessage: {}", c.send_errors.summary());
    println!("errors of MessageDelivered: {}", c.ack_errors.summary());
    println!("errors of Polling-Request: {}", c.poll_errors.summary());
    target.close().await;
    Ok(())
}
