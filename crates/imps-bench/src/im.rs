//! `imps-bench im`: instant messages delivered per second end to end, and
//! delivery latency at fractions of the peak rate.
//!
//! Every user has one session (CSP 1.3, WBXML unless `--xml`) over one of
//! two transports (`--transport`):
//! - `ws` (the default): one WebSocket. The user sends SendMessage-Requests
//!   on it and takes the NewMessages pushed to it, answering each with
//!   MessageDelivered as Android does.
//! - `http-tcpcir`: the path phones use. The user POSTs its requests over
//!   HTTP keep-alive (a connection pool of its own, as a phone has its own
//!   connection) and holds one standing TCP CIR connection (`HELO
//!   <SessionID>`). When the server writes a `WVCI` line on it, the user
//!   sends Polling-Request, answers the NewMessage it brings with
//!   MessageDelivered (Response mode, as Android), and polls again while
//!   the answer says `Poll=T` (as Android does).
//!
//! A message's latency runs from just before its SendMessage-Request is
//! written until its NewMessage arrives at the recipient; sender and
//! recipient are both in this process, so one clock measures it.
//!
//! Phase 1 finds the peak: every user keeps `--window` sends in flight for
//! `--secs`; the rate of delivered messages is the peak. Phase 2 sends
//! open loop (each user at a fixed pace) at each fraction of that peak (or
//! at `--rate`) for `--secs`, and reports p50/p99.
//!
//! The server is the one at `--url`, or else the impsd binary (`--impsd`,
//! by default the one beside this executable) started as a child process:
//! server and load share the machine but not a process. For a started
//! server each phase also reports its CPU time over the measured seconds.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use imps_client::{
    Client, Element, Encoding, HttpClient, Message, TcpCir, Transport, Version, WsClient, status_of,
};
use imps_wire::csp;
use samples::Lat;

use crate::target::{Settings, Target, toml_str};

/// How the users reach the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ImTransport {
    /// One WebSocket per user: requests and pushes on it.
    Ws,
    /// The phone path: requests over HTTP keep-alive, wake-ups on one
    /// standing TCP CIR connection per user, then Polling-Request.
    HttpTcpcir,
}

#[derive(Args, Debug)]
pub struct ImArgs {
    /// Users, each sending and receiving on one session.
    #[arg(long, default_value_t = 100)]
    users: usize,
    /// How the users reach the server.
    #[arg(long, value_enum, default_value = "ws")]
    transport: ImTransport,
    /// Seconds per measured phase.
    #[arg(long, default_value_t = 10)]
    secs: u64,
    /// Sends in flight per user while finding the peak.
    #[arg(long, default_value_t = 8)]
    window: usize,
    /// Fractions of the peak for the latency runs.
    #[arg(long, default_value = "0.5,0.9", value_delimiter = ',')]
    fractions: Vec<f64>,
    /// Use XML instead of WBXML.
    #[arg(long)]
    xml: bool,
    /// Skip the peak search and run the latency phase at this total rate.
    #[arg(long)]
    rate: Option<f64>,
    /// Clients do as the server says when it refuses a send with 503: a
    /// client waits its TryAgainTimeout (1 s when none is given) before
    /// it sends again, and holds back what falls due meanwhile (reported
    /// as "deferred", never offered). Without it the load stays open loop
    /// whatever the server answers.
    #[arg(long)]
    honour_try_again: bool,
    /// For a started server: `im.max_waiting_in_memory`, the messages
    /// waiting for online recipients past which sends are refused with 503
    /// [default: the server's].
    #[arg(long, value_name = "N")]
    max_waiting: Option<usize>,
    /// For a started server: any setting, as `SECTION.KEY=VALUE` (VALUE
    /// in TOML syntax, e.g. `im.ack_window_ms=50`); repeatable.
    #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
    set: Vec<String>,
    /// Bytes of text per message.
    #[arg(long, default_value_t = 40)]
    text: usize,
    /// HTTP URL of a running server (its WebSocket is at URL/ws; for
    /// `http-tcpcir` it must serve TCP CIR); its users PREFIX0000... must
    /// exist with --password.
    #[arg(long, conflicts_with = "impsd")]
    url: Option<String>,
    /// The impsd binary to start for the run [default: `impsd` beside
    /// this executable]. `--server-bin` is its older name.
    #[arg(long, value_name = "PATH", alias = "server-bin")]
    impsd: Option<PathBuf>,
    #[arg(long, default_value = "imload")]
    user_prefix: String,
    #[arg(long, default_value = "bench-pw")]
    password: String,
}

/// Latency samples, in microseconds.
mod samples {
    use std::sync::Mutex;

    #[derive(Default)]
    pub struct Lat(Mutex<Vec<u32>>);

    impl Lat {
        pub fn push(&self, us: u32) {
            if let Ok(mut v) = self.0.lock() {
                v.push(us);
            }
        }

        pub fn take(&self) -> Vec<u32> {
            self.0
                .lock()
                .map(|mut v| std::mem::take(&mut *v))
                .unwrap_or_default()
        }
    }
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    acked: AtomicU64,
    refused: AtomicU64,
    errors: AtomicU64,
    delivered: AtomicU64,
    /// Sends a client held back because the server had told it to wait
    /// (`--honour-try-again`): never offered to the server.
    deferred: AtomicU64,
    /// Pushes the load tool's own WebSocket clients dropped because their
    /// receivers fell behind (never acknowledged: the server offers them
    /// again only after `im.redeliver_secs`).
    dropped: AtomicU64,
    lat: Lat,
}

/// The CSP version the load runs in.
const VERSION: Version = Version::V1_3;

/// A SendMessage-Request to `to` whose text starts with the send time
/// (microseconds since `t0`), padded with `pad`.
pub(crate) fn send_body(to: &str, t0: &Instant, pad: &str) -> Element {
    let stamp = t0.elapsed().as_micros();
    csp::SendMessageRequest {
        delivery_report: Some(false),
        message_info: csp::MessageInfo {
            content_type: Some("text/plain".into()),
            recipient: Some(csp::Recipient {
                users: vec![csp::User::new(if to.contains('@') {
                    format!("wv:{to}")
                } else {
                    format!("wv:{to}@localhost")
                })],
                ..Default::default()
            }),
            ..Default::default()
        },
        content_data: Some(format!("{stamp} {pad}")),
        other: Vec::new(),
    }
    .to_element(VERSION)
}

/// How long a receiver waits for a push or a wake-up before it looks
/// whether the phase is over.
const RECEIVE_CHECK: Duration = Duration::from_millis(200);

/// Handles the server request a push or a poll brought: a NewMessage is
/// recorded (its latency from the stamp in its text) and acknowledged
/// with MessageDelivered under its TransactionID, as Android does;
/// anything else gets Status 200.
async fn take_request<T: Transport>(client: &Client<T>, m: Message, t0: Instant, c: &Counters) {
    let Some(t) = m.transactions.into_iter().next() else {
        return;
    };
    let Some(tid) = t.id.as_deref() else { return };
    let Ok(msg) = csp::NewMessage::from_element(&t.body, VERSION) else {
        let _ = client.answer_status(tid).await;
        return;
    };
    let now = t0.elapsed().as_micros();
    if let Some(sent) = msg
        .content_data
        .as_deref()
        .and_then(|d| d.split(' ').next())
        .and_then(|s| s.parse::<u128>().ok())
    {
        c.lat
            .push(now.saturating_sub(sent).min(u128::from(u32::MAX)) as u32);
    }
    c.delivered.fetch_add(1, Ordering::Relaxed);
    let ack = csp::MessageDelivered {
        message_id: msg.message_info.message_id.unwrap_or_default(),
        other: Vec::new(),
    };
    if client.answer(tid, ack.to_element(VERSION)).await.is_err() {
        c.errors.fetch_add(1, Ordering::Relaxed);
    }
}

/// Takes pushes on one WebSocket session: acknowledges NewMessages and
/// records their latency.
async fn receiver(ws: WsClient, t0: Instant, c: Arc<Counters>, stop: Arc<AtomicBool>) {
    let dropped_before = ws.dropped_pushes();
    while !stop.load(Ordering::Relaxed) {
        let Some(m) = ws.next_push(RECEIVE_CHECK).await else {
            if ws.is_closed() {
                break;
            }
            continue;
        };
        take_request(&ws, m, t0, &c).await;
    }
    c.dropped.fetch_add(
        ws.dropped_pushes().saturating_sub(dropped_before),
        Ordering::Relaxed,
    );
}

/// One user on the phone path: its HTTP session and its TCP CIR
/// connection (kept from phase to phase; one receiver holds it at a time).
pub(crate) struct Phone {
    client: HttpClient,
    cir: Arc<tokio::sync::Mutex<TcpCir>>,
}

/// Takes a phone user's wake-ups: at each `WVCI` line it polls, answers
/// what the poll brings, and polls again while the answer says more
/// waits (`Poll=T`), as Android does.
async fn phone_receiver(
    client: HttpClient,
    cir: Arc<tokio::sync::Mutex<TcpCir>>,
    t0: Instant,
    c: Arc<Counters>,
    stop: Arc<AtomicBool>,
) {
    let mut cir = cir.lock().await;
    while !stop.load(Ordering::Relaxed) {
        match cir.next_wakeup(RECEIVE_CHECK).await {
            Ok(Some(_)) => {}
            Ok(None) => continue,
            Err(_) => {
                c.errors.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        while !stop.load(Ordering::Relaxed) {
            match client.poll().await {
                Ok(Some(m)) => {
                    let more = m.poll == Some(true);
                    take_request(&client, m, t0, &c).await;
                    if !more {
                        break;
                    }
                }
                Ok(None) => break,
                // A failed poll is sent again (a phone retries a failed
                // send): the server writes no new WVCI for what it has
                // announced already, so giving up would leave it waiting
                // until the next message.
                Err(_) => {
                    c.errors.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(RECEIVE_CHECK).await;
                }
            }
        }
    }
}

/// Sends one message. For a 503 (the server refusing work past its peak)
/// returns how long it asked the client to wait: its TryAgainTimeout, or
/// one second when it gave none.
async fn one_send<T: Transport>(
    ws: &Client<T>,
    to: &str,
    t0: &Instant,
    pad: &str,
    c: &Counters,
) -> Option<Duration> {
    c.sent.fetch_add(1, Ordering::Relaxed);
    match ws.request(send_body(to, t0, pad)).await {
        Ok(r) => match status_of(&r).map(|s| s.0) {
            Some(200) => {
                c.acked.fetch_add(1, Ordering::Relaxed);
                None
            }
            code => {
                c.refused.fetch_add(1, Ordering::Relaxed);
                (code == Some(503))
                    .then(|| Duration::from_secs(try_again_secs(&r).unwrap_or(1).max(1)))
            }
        },
        Err(_) => {
            c.errors.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

/// The TryAgainTimeout of the Result in a response body (1.3).
fn try_again_secs(body: &Element) -> Option<u64> {
    let result = if body.name == csp::CspResult::NAME {
        Some(body)
    } else {
        body.children
            .iter()
            .find(|c| c.name == csp::CspResult::NAME)
    }?;
    csp::CspResult::from_element(result, VERSION)
        .ok()?
        .try_again_timeout
}

/// The `p` quantile of microsecond samples sorted ascending, in ms.
pub(crate) fn pct(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

pub(crate) struct Phase {
    pub name: String,
    pub offered_rate: Option<f64>,
    pub delivered_per_sec: f64,
    pub acked_per_sec: f64,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
    pub refused: u64,
    pub errors: u64,
    /// Sends held back by clients told to wait (`--honour-try-again`).
    pub deferred: u64,
    /// Pushes the load tool's clients dropped (their queue was full).
    pub dropped: u64,
    /// CPU time of a started server over the measured seconds.
    pub server_cpu: Option<Duration>,
    /// Messages delivered over the measured seconds.
    pub delivered: u64,
}

impl Phase {
    /// Server CPU in µs per delivered message; NaN when unknown.
    pub(crate) fn cpu_us_per_msg(&self) -> f64 {
        match self.server_cpu {
            Some(c) if self.delivered > 0 => c.as_secs_f64() * 1e6 / self.delivered as f64,
            _ => f64::NAN,
        }
    }

    pub(crate) fn print(&self) {
        let cpu = self.server_cpu.map_or(String::new(), |c| {
            format!("  server cpu {:.2} s", c.as_secs_f64())
        });
        let mut deferred = if self.deferred > 0 {
            format!(" deferred {}", self.deferred)
        } else {
            String::new()
        };
        if self.dropped > 0 {
            deferred.push_str(&format!(" dropped by the load tool {}", self.dropped));
        }
        println!(
            "{:<12} offered {:>9} msg/s  acked {:>8.0}/s  delivered {:>8.0}/s  latency p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms  refused {} errors {}{deferred}{cpu}",
            self.name,
            self.offered_rate
                .map_or("max".to_string(), |r| format!("{r:.0}")),
            self.acked_per_sec,
            self.delivered_per_sec,
            self.p50,
            self.p99,
            self.max,
            self.refused,
            self.errors
        );
    }
}

/// Whom client `i` sends its `k`th message to: a user name (on the
/// default domain) or `name@domain`.
pub(crate) type Pick = Arc<dyn Fn(usize, usize) -> String + Send + Sync>;

/// Client `i` of `users.len()` sends to each of the others in turn, from
/// its next one on.
pub(crate) fn ring(users: &Arc<Vec<String>>) -> Pick {
    let users = Arc::clone(users);
    Arc::new(move |i, k| {
        let n = users.len();
        users[(i + 1 + k % (n - 1)) % n].clone()
    })
}

/// Runs one phase over WebSocket: `rate` None = closed loop with
/// `window` in flight per user; Some(r) = open loop at r msg/s in total.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn phase(
    name: &str,
    cpu: &(dyn Fn() -> Option<Duration> + Sync),
    clients: &[WsClient],
    pick: &Pick,
    rate: Option<f64>,
    window: usize,
    secs: u64,
    t0: Instant,
    pad: Arc<String>,
    honour_try_again: bool,
) -> Phase {
    let receivers = |c: &Arc<Counters>, stop: &Arc<AtomicBool>| {
        clients
            .iter()
            .map(|ws| tokio::spawn(receiver(ws.clone(), t0, c.clone(), stop.clone())))
            .collect()
    };
    phase_on(
        name,
        cpu,
        clients,
        &receivers,
        pick,
        rate,
        window,
        secs,
        t0,
        pad,
        honour_try_again,
    )
    .await
}

/// Starts the receivers of one phase, given its counters and stop flag.
type StartReceivers<'a> =
    dyn Fn(&Arc<Counters>, &Arc<AtomicBool>) -> Vec<tokio::task::JoinHandle<()>> + 'a;

/// Runs one phase on the phone path (HTTP keep-alive, TCP CIR, polls);
/// as [`phase`] otherwise.
#[allow(clippy::too_many_arguments)]
async fn phone_phase(
    name: &str,
    cpu: &(dyn Fn() -> Option<Duration> + Sync),
    phones: &[Phone],
    pick: &Pick,
    rate: Option<f64>,
    window: usize,
    secs: u64,
    t0: Instant,
    pad: Arc<String>,
    honour_try_again: bool,
) -> Phase {
    let clients: Vec<HttpClient> = phones.iter().map(|p| p.client.clone()).collect();
    let receivers = |c: &Arc<Counters>, stop: &Arc<AtomicBool>| {
        phones
            .iter()
            .map(|p| {
                tokio::spawn(phone_receiver(
                    p.client.clone(),
                    p.cir.clone(),
                    t0,
                    c.clone(),
                    stop.clone(),
                ))
            })
            .collect()
    };
    phase_on(
        name,
        cpu,
        &clients,
        &receivers,
        pick,
        rate,
        window,
        secs,
        t0,
        pad,
        honour_try_again,
    )
    .await
}

/// One phase over any transport: `clients` send, `receivers` takes what
/// reaches them.
#[allow(clippy::too_many_arguments)]
async fn phase_on<T: Transport>(
    name: &str,
    cpu: &(dyn Fn() -> Option<Duration> + Sync),
    clients: &[Client<T>],
    receivers: &StartReceivers<'_>,
    pick: &Pick,
    rate: Option<f64>,
    window: usize,
    secs: u64,
    t0: Instant,
    pad: Arc<String>,
    honour_try_again: bool,
) -> Phase {
    let c = Arc::new(Counters::default());
    let stop = Arc::new(AtomicBool::new(false));
    let n = clients.len();
    let rx_tasks = receivers(&c, &stop);
    // Warm-up second, not measured.
    let run_for = Duration::from_secs(secs + 1);
    let start = Instant::now();
    let mut tx_tasks = Vec::new();
    for (i, ws) in clients.iter().enumerate() {
        let per_user = rate.map(|r| r / n as f64);
        for lane in 0..(if per_user.is_some() { 1 } else { window }) {
            let (ws, c, pad, stop) = (ws.clone(), c.clone(), pad.clone(), stop.clone());
            let pick = Arc::clone(pick);
            tx_tasks.push(tokio::spawn(async move {
                let mut k = i * 7 + lane;
                match per_user {
                    None => {
                        while start.elapsed() < run_for && !stop.load(Ordering::Relaxed) {
                            k += 1;
                            let to = pick(i, k);
                            let wait = one_send(&ws, &to, &t0, &pad, &c).await;
                            if let Some(wait) = wait.filter(|_| honour_try_again) {
                                tokio::time::sleep(wait).await;
                            }
                        }
                    }
                    Some(r) => {
                        let gap = Duration::from_secs_f64(1.0 / r.max(0.001));
                        // Until when (µs from `start`) this client holds
                        // back its messages, as the server asked.
                        let hold = Arc::new(AtomicU64::new(0));
                        // Spread the users' clocks over one gap.
                        let mut next = start + gap.mul_f64(i as f64 / n as f64);
                        while next.duration_since(start) < run_for {
                            tokio::time::sleep_until(next.into()).await;
                            next += gap;
                            let now_us = start.elapsed().as_micros() as u64;
                            if now_us < hold.load(Ordering::Relaxed) {
                                c.deferred.fetch_add(1, Ordering::Relaxed);
                                continue;
                            }
                            k += 1;
                            let to = pick(i, k);
                            let (ws, c, pad, hold) =
                                (ws.clone(), c.clone(), pad.clone(), hold.clone());
                            tokio::spawn(async move {
                                let wait = one_send(&ws, &to, &t0, &pad, &c).await;
                                if let Some(wait) = wait.filter(|_| honour_try_again) {
                                    let until = (start.elapsed() + wait).as_micros() as u64;
                                    hold.fetch_max(until, Ordering::Relaxed);
                                }
                            });
                        }
                    }
                }
            }));
        }
    }
    // Measure from the end of warm-up to the end of the phase.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (d0, a0) = (
        c.delivered.load(Ordering::Relaxed),
        c.acked.load(Ordering::Relaxed),
    );
    c.lat.take();
    let cpu0 = cpu();
    let m0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let el = m0.elapsed().as_secs_f64();
    let server_cpu = cpu().zip(cpu0).map(|(b, a)| b.saturating_sub(a));
    let (d1, a1) = (
        c.delivered.load(Ordering::Relaxed),
        c.acked.load(Ordering::Relaxed),
    );
    let mut lat = c.lat.take();
    for t in tx_tasks {
        let _ = t.await;
    }
    // Let in-flight deliveries land before the next phase.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    for t in rx_tasks {
        let _ = t.await;
    }
    lat.sort_unstable();
    Phase {
        name: name.to_string(),
        offered_rate: rate,
        delivered_per_sec: (d1 - d0) as f64 / el,
        acked_per_sec: (a1 - a0) as f64 / el,
        p50: pct(&lat, 0.5),
        p99: pct(&lat, 0.99),
        max: lat.last().map_or(f64::NAN, |m| f64::from(*m) / 1000.0),
        refused: c.refused.load(Ordering::Relaxed),
        errors: c.errors.load(Ordering::Relaxed),
        deferred: c.deferred.load(Ordering::Relaxed),
        dropped: c.dropped.load(Ordering::Relaxed),
        server_cpu,
        delivered: d1 - d0,
    }
}

/// The server settings of this benchmark: offline notices off (every
/// recipient is online anyway), two sessions per user, and for the phone
/// path a TCP CIR listener on a loopback port.
fn settings(args: &ImArgs) -> anyhow::Result<Settings> {
    let s = Settings::default()
        .set("im", "offline_notify", toml_str("off"))
        .set("session", "max_per_user", "2".into());
    let s = match args.transport {
        ImTransport::Ws => s,
        ImTransport::HttpTcpcir => s.set("cir", "tcp_listen", toml_str("127.0.0.1:0")),
    };
    let s = match args.max_waiting {
        Some(n) => s.set("im", "max_waiting_in_memory", n.to_string()),
        None => s,
    };
    s.with_args(&args.set)
}

/// The users, logged in and ready, on the transport asked for.
enum Users {
    Ws(Vec<WsClient>),
    Phone(Vec<Phone>),
}

async fn connect_ws(target: &Target, enc: Encoding) -> anyhow::Result<Users> {
    let ws_url = target.ws_url();
    let mut clients = Vec::new();
    for u in target.users.iter() {
        let ws = WsClient::connect(&ws_url, VERSION, enc).await?;
        ws.login_password(u, &target.password).await?;
        ws.client_capability(&[], None).await?;
        ws.service_request_all().await?;
        clients.push(ws);
    }
    Ok(Users::Ws(clients))
}

/// Each phone user gets its own HTTP connection pool (a phone keeps its
/// own keep-alive connection), agrees STCP, and holds a TCP CIR
/// connection to the address the server gave.
async fn connect_phones(target: &Target, enc: Encoding) -> anyhow::Result<Users> {
    let mut phones = Vec::new();
    for (i, u) in target.users.iter().enumerate() {
        let cfg = target
            .client_config(VERSION, enc)
            .with_client_id(format!("WV:imps-bench-im-{i}"));
        let client = Client::with_transport(target.transport(VERSION, enc)?, cfg);
        client.login_password(u, &target.password).await?;
        let sid = client
            .session_id()
            .ok_or_else(|| anyhow::anyhow!("{u}: no SessionID after login"))?;
        let agreed = client.client_capability(&["STCP"], None).await?;
        let addr = imps_client::tcp_cir_addr(&agreed)
            .ok_or_else(|| anyhow::anyhow!("{u}: the server did not agree to STCP"))?;
        let cir = TcpCir::connect(addr.as_str(), &sid).await?;
        client.service_request_all().await?;
        phones.push(Phone {
            client,
            cir: Arc::new(tokio::sync::Mutex::new(cir)),
        });
    }
    Ok(Users::Phone(phones))
}

/// One phase on whichever transport the users are on.
#[allow(clippy::too_many_arguments)]
async fn run_phase(
    users: &Users,
    name: &str,
    cpu: &(dyn Fn() -> Option<Duration> + Sync),
    pick: &Pick,
    rate: Option<f64>,
    window: usize,
    args: &ImArgs,
    t0: Instant,
    pad: Arc<String>,
) -> Phase {
    match users {
        Users::Ws(clients) => {
            phase(
                name,
                cpu,
                clients,
                pick,
                rate,
                window,
                args.secs,
                t0,
                pad,
                args.honour_try_again,
            )
            .await
        }
        Users::Phone(phones) => {
            phone_phase(
                name,
                cpu,
                phones,
                pick,
                rate,
                window,
                args.secs,
                t0,
                pad,
                args.honour_try_again,
            )
            .await
        }
    }
}

pub async fn run(args: &ImArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.users >= 2, "--users must be at least 2");
    let pw = args.password.clone();
    let (target, server) = match &args.url {
        Some(url) => (
            Target::external(url.clone(), &args.user_prefix, args.users, pw),
            format!("external server {url}"),
        ),
        None => {
            let bin = crate::target::impsd_path(args.impsd.as_deref())?;
            let t =
                Target::spawn(&bin, &args.user_prefix, args.users, pw, &settings(args)?).await?;
            (t, format!("child process {}", bin.display()))
        }
    };
    let enc = if args.xml {
        Encoding::Xml
    } else {
        Encoding::Wbxml
    };
    let (users, over) = match args.transport {
        ImTransport::Ws => (connect_ws(&target, enc).await?, "on WebSocket"),
        ImTransport::HttpTcpcir => (
            connect_phones(&target, enc).await?,
            "on HTTP keep-alive with TCP CIR and polls",
        ),
    };
    println!(
        "imps-bench im: {server}; {} users {over}, CSP 1.3 {:?}, {} bytes of text, {} s per phase",
        args.users, enc, args.text, args.secs
    );
    let t0 = Instant::now();
    let pad = Arc::new("x".repeat(args.text.saturating_sub(12)));
    let pick = ring(&target.users);
    let cpu = || target.server_cpu();
    let peak = match args.rate {
        Some(r) => r,
        None => {
            let p = run_phase(
                &users,
                "peak",
                &cpu,
                &pick,
                None,
                args.window,
                args,
                t0,
                pad.clone(),
            )
            .await;
            p.print();
            p.delivered_per_sec
        }
    };
    let fractions = if args.rate.is_some() {
        vec![1.0]
    } else {
        args.fractions.clone()
    };
    for f in fractions {
        let rate = peak * f;
        let name = format!("{:.0}% peak", f * 100.0);
        let p = run_phase(
            &users,
            &name,
            &cpu,
            &pick,
            Some(rate),
            1,
            args,
            t0,
            pad.clone(),
        )
        .await;
        p.print();
    }
    match &users {
        Users::Ws(clients) => {
            for ws in clients {
                let _ = ws.close().await;
            }
        }
        Users::Phone(phones) => {
            for p in phones {
                let _ = p.client.logout().await;
            }
        }
    }
    target.close().await;
    Ok(())
}
