//! `impsd`: the server binary's library. It turns a [`Config`] into
//! listeners (HTTP binding with WebSocket and HTTP CIR, TCP CIR, admin),
//! the store (embedded SQLite, or PostgreSQL) and the core service, and runs them until shutdown.
//!
//! Only this crate reads files, environment and flags; the core gets a
//! plain `CoreConfig`.

pub mod admin;
pub mod cir;
pub mod cir_push;
pub mod cluster;
pub mod codec;
pub mod config;
pub mod conn;
pub mod federation;
pub mod history;
pub mod http;
pub mod logging;
pub mod memory;
pub mod metrics;
pub mod notifier;
pub mod operator;
pub mod sms;
pub mod tls;
pub mod web;
pub mod websocket;
pub mod ws;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use imps_core::config::{CirConfig, ImConfig, MsisdnConfig};
use imps_core::{Clock, CoreConfig, Service, Store, SystemClock};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use config::Config;
use config::StoreKind;

/// A running server: where it listens, and how to stop it.
pub struct Running {
    pub http_addr: SocketAddr,
    pub cir_addr: Option<SocketAddr>,
    pub admin_addr: SocketAddr,
    pub service: Arc<Service>,
    /// The counters `/metrics` shows.
    pub metrics: Arc<metrics::Metrics>,
    /// The SMSC link, when `[sms]` is on.
    pub sms: Option<Arc<sms::SmsGateway>>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    workers: imps_core::workers::Workers,
    cluster: Option<Arc<cluster::Cluster>>,
    /// Set by `impsd node drain` (the admin endpoint).
    stop_asked: Arc<tokio::sync::Notify>,
    /// The WebSockets bound to a session; the drain waits for them to
    /// close.
    ws_carrying: Arc<ws::Carrying>,
}

impl Running {
    /// A cluster node's drain before [`Running::shutdown`] (SIGTERM), at
    /// most `cluster.drain_timeout_ms`: logins are refused and /healthz
    /// says `draining` (503); every session is ended as a server-side
    /// logout, its client told by a Disconnect (601) after what was
    /// queued for it, its WebSocket closed with 1001 and a reason, so it
    /// logs in again on another node; the drain waits for those
    /// Disconnects to be collected, then for what waits for other nodes
    /// to reach NATS, and publishes an empty directory. Requests in hand
    /// finish in the shutdown that follows. A process alone does nothing
    /// here: its sessions are restored at its next start.
    pub async fn drain(&self) {
        let Some(c) = &self.cluster else {
            return;
        };
        let deadline = tokio::time::Instant::now() + c.drain_timeout();
        let n = self
            .service
            .drain_sessions("server going down: log in again")
            .await;
        tracing::info!(sessions = n, "draining: clients told to log in elsewhere");
        // A Disconnect taken from the outbox is not yet on the wire: the
        // WebSocket writes and flushes it, then the close frame, and only
        // then lets go of its session. Exiting before that loses the
        // Disconnect (seen under load), so wait for both.
        let pending = || self.service.parting_sessions() + self.ws_carrying.open_sessions();
        while pending() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (parting, open) = (
            self.service.parting_sessions(),
            self.ws_carrying.open_sessions(),
        );
        if parting + open > 0 {
            tracing::warn!(
                parting,
                open_websockets = open,
                "drain: Disconnects not collected or WebSockets not closed in time"
            );
        }
        c.leave(deadline).await;
        tracing::info!("drained");
    }

    /// Returns when the operator asked this process to stop
    /// (`impsd node drain`, `POST /admin/node/drain`): the program then
    /// drains and stops it as for SIGTERM.
    pub async fn stop_requested(&self) {
        self.stop_asked.notified().await;
    }

    /// Stops accepting, and waits for the listeners to close.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        // Nothing new can be acknowledged now: stop the areas' periodic
        // work and let the deletes of what was acknowledged reach the disk
        // (bounded: a stuck store must not hang the stop forever).
        if !self.workers.stop(Duration::from_secs(10)).await {
            tracing::warn!(
                "stopped before every delivered message was removed from the store; those will be offered again"
            );
        }
    }
}

/// Opens the configured store (`[store] kind`): the SQLite file in the
/// data dir, or the PostgreSQL database at `store.url`. The server and the
/// admin commands alike.
pub async fn connect_store(cfg: &Config) -> anyhow::Result<Arc<dyn Store>> {
    cfg.store.check()?;
    match cfg.store.kind {
        StoreKind::Sqlite => open_store(cfg),
        StoreKind::Postgres => {
            let opts = cfg.store.postgres();
            // Not the URL: it may hold a password.
            let store = imps_store_pg::PgStore::open(opts)
                .await
                .context("opening the PostgreSQL store (store.url)")?;
            Ok(Arc::new(store))
        }
    }
}

/// Opens the SQLite store in the configured data dir, with the `[store]`
/// settings, without awaiting: for tests and tools that look at a
/// server's embedded file. Refuses a config whose store is PostgreSQL
/// ([`connect_store`] opens either).
pub fn open_store(cfg: &Config) -> anyhow::Result<Arc<dyn Store>> {
    if cfg.store.kind != StoreKind::Sqlite {
        anyhow::bail!("store.kind is not \"sqlite\": open the store with connect_store");
    }
    let path = cfg.store_path();
    let store = imps_store::SqliteStore::open(&path, cfg.store.sqlite())
        .with_context(|| format!("opening the store at {}", path.display()))?;
    Ok(Arc::new(store))
}

/// Binds every listener and starts serving. Port 0 picks free ports (the
/// tests do this); the chosen addresses are in the returned [`Running`].
pub async fn start(cfg: Config) -> anyhow::Result<Running> {
    start_with_clock(cfg, Arc::new(SystemClock)).await
}

pub async fn start_with_clock(cfg: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Running> {
    start_full(cfg, clock, None).await
}

/// As [`start_with_clock`], with the handle that lets the admin endpoint
/// change the log filter (the binary passes the one `logging::init` made).
pub async fn start_full(
    cfg: Config,
    clock: Arc<dyn Clock>,
    log: Option<Arc<dyn logging::LogControl>>,
) -> anyhow::Result<Running> {
    cfg.validate()?;
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("creating data dir {}", cfg.data_dir.display()))?;
    let store = connect_store(&cfg).await?;

    let http_listener = TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("binding {}", cfg.listen))?;
    let http_addr = http_listener.local_addr()?;
    let cir_listener = if cfg.cir.tcp_listen.trim().is_empty() {
        None
    } else {
        let l = TcpListener::bind(cfg.cir.tcp_listen.trim())
            .await
            .with_context(|| format!("binding TCP CIR {}", cfg.cir.tcp_listen))?;
        Some(l)
    };
    let cir_addr = cir_listener.as_ref().map(|l| l.local_addr()).transpose()?;
    let admin_listener = TcpListener::bind(cfg.admin.listen)
        .await
        .with_context(|| format!("binding admin {}", cfg.admin.listen))?;
    let admin_addr = admin_listener.local_addr()?;

    let metrics = Arc::new(metrics::Metrics::default());
    let (shutdown, shut_rx) = watch::channel(false);
    // The SMSC link and its queue, when configured.
    let sms = cfg.sms.enabled.then(|| {
        sms::SmsGateway::start(
            cfg.sms.clone(),
            cfg.im.offline_notify_bearer,
            store.clone(),
            metrics.clone(),
            shut_rx.clone(),
        )
    });
    // Datagram CIR: one socket for every session's wake-ups.
    let udp = if cfg.cir.udp || cfg.cir.wap_udp {
        let bind = cfg.cir.udp_bind.trim();
        let socket = tokio::net::UdpSocket::bind(bind)
            .await
            .with_context(|| format!("binding datagram CIR {bind}"))?;
        Some(cir_push::UdpPush {
            socket,
            min_interval: Duration::from_millis(cfg.cir.udp_min_interval_ms),
            retry_after: Duration::from_millis(cfg.cir.udp_retry_ms),
            retries: cfg.cir.udp_retries,
        })
    } else {
        None
    };
    let mut core = core_config(&cfg, http_addr, cir_addr, sms.clone())?;
    // Federation's port exists before the service; its worker starts
    // once the service does.
    let peer_tls = if cfg.federation.enabled {
        Some(tls::PeerTls::load(&cfg.federation, &cfg.tls)?)
    } else {
        None
    };
    let federation = match peer_tls.clone() {
        Some(t) => {
            let f = federation::Federation::new(cfg.federation.clone(), &cfg.domain, t)?;
            f.load_stored(store.clone())
                .await
                .context("reading the stored peer entries")?;
            Some(f)
        }
        None => None,
    };
    if let Some(f) = &federation {
        core.federation = Some(f.clone() as Arc<dyn imps_core::federation::Federation>);
    }
    if udp.is_some() || sms.is_some() {
        let pusher = cir_push::CirPusher::new(udp, sms.clone(), metrics.clone(), shut_rx.clone());
        core.cir_waker = Some(pusher as Arc<dyn imps_core::cir::CirWaker>);
    }
    // The other nodes, when `[cluster]` is on: connected before the
    // service, which routes through them; its tasks start once the HTTP
    // state exists (forwarded requests are answered through it).
    cfg.cluster.check_store(cfg.store.kind)?;
    let cluster = if cfg.cluster.enabled() {
        let c = cluster::Cluster::connect(cfg.cluster.clone()).await?;
        core.cluster = Some(c.clone() as Arc<dyn imps_core::cluster::Cluster>);
        Some(c)
    } else {
        None
    };
    let service = Arc::new(Service::new(core, store.clone(), clock));
    // Sessions persisted by a node of a cluster are not brought back: the
    // store does not say which node held them (docs/architecture.md,
    // "Several nodes"); their clients log in again.
    let restored = if cluster.is_some() {
        0
    } else {
        service.restore_sessions().await?
    };
    let mut tasks = Vec::new();
    if let (Some(f), Some(c)) = (&federation, &cluster) {
        tasks.push(f.join_cluster(c.clone(), shut_rx.clone()).await?);
    }
    if let Some(f) = &federation {
        tasks.push(f.start(service.clone(), store.clone(), shut_rx.clone()));
    }

    let ws_carrying = Arc::new(ws::Carrying::default());
    let state = Arc::new(http::AppState {
        service: service.clone(),
        limits: cfg.wire_limits(),
        metrics: metrics.clone(),
        msisdn_header: cfg.msisdn.header.clone(),
        trusted_proxies: cfg.msisdn.trusted_proxies.clone(),
        ws_write_timeout: Duration::from_secs(cfg.limits.ws_write_timeout_secs.max(1)),
        ws_read_ahead: cfg.limits.ws_read_ahead.max(1),
        ws_concurrent_sends: cfg.limits.ws_concurrent_sends.max(1),
        ws_buffers: (
            cfg.limits.ws_read_buffer_bytes.max(64),
            cfg.limits.ws_write_buffer_bytes,
        ),
        body_time: http::BodyTime::from_limits(&cfg.limits),
        idle_timeout: Duration::from_millis(cfg.limits.idle_timeout_ms.max(1)),
        federation: federation.clone(),
        cluster: cluster.clone(),
        ws_carrying: ws_carrying.clone(),
        store: store.clone(),
        health_timeout: Duration::from_millis(cfg.store.health_timeout_ms.max(1)),
    });
    if let Some(c) = &cluster {
        tasks.extend(
            c.start(service.clone(), state.clone(), shut_rx.clone())
                .await?,
        );
        tracing::info!(node = %c.node_id(), "cluster node");
    }
    let csp = http::CspEndpoint::new(state.clone(), &cfg.path);
    let app = http::router(state, &cfg.path, &cfg.ws_path, cfg.limits.max_body_bytes);
    // One set of caps for every client connection, TCP CIR included:
    // they all take descriptors from the same process.
    let gate = conn::Gate::new(
        cfg.limits.max_connections,
        cfg.limits.max_connections_per_address,
    );
    // With federation on, the CSP listener asks clients for a certificate
    // (peers present theirs; phones have none and need none).
    let client_roots = peer_tls.as_ref().and_then(|t| t.roots.as_deref());
    let acceptor = match (&cfg.tls.cert_file, &cfg.tls.key_file) {
        (Some(cert), Some(key)) => Some(tls::acceptor(cert, key, client_roots)?),
        _ => None,
    };
    tasks.push(tokio::spawn(conn::serve(
        http_listener,
        acceptor.clone(),
        app,
        Some(csp),
        gate.clone(),
        conn::Timeouts::from_limits(&cfg.limits),
        shut_rx.clone(),
    )));

    if let Some(l) = cir_listener {
        let svc = service.clone();
        let m = metrics.clone();
        let helo = Duration::from_secs(cfg.cir.helo_timeout_secs);
        let mut rx = shut_rx.clone();
        let gate = gate.clone();
        tasks.push(tokio::spawn(async move {
            tokio::select! {
                _ = cir::serve(l, svc, m, helo, gate) => {}
                _ = rx.wait_for(|s| *s) => {}
            }
        }));
    }

    let token = if cfg.admin.token.is_empty() {
        imps_core::ids::random_token()?
    } else {
        cfg.admin.token.clone()
    };
    write_admin_info(&cfg, admin_addr, http_addr, &token)?;
    let history = history::History::new(cfg.admin.graph_sample_secs, cfg.admin.graph_window_secs);
    tasks.push(tokio::spawn(history.clone().run(
        service.clone(),
        gate.clone(),
        shut_rx.clone(),
    )));
    let admin_tls = if cfg.admin.tls {
        match (&cfg.tls.cert_file, &cfg.tls.key_file) {
            (Some(cert), Some(key)) => Some(tls::acceptor(cert, key, None)?),
            _ => None,
        }
    } else {
        None
    };
    let operator = Arc::new(operator::OperatorState::new(
        operator::Parts {
            service: service.clone(),
            store: store.clone(),
            cfg: Arc::new(cfg.clone()),
            federation: federation.clone(),
            history,
        },
        token.clone(),
        cfg.admin.page_sessions,
        Duration::from_secs(cfg.admin.page_session_secs),
        // A cookie marked Secure would not come back over plain HTTP:
        // Secure exactly when the admin listener serves TLS.
        admin_tls.is_some(),
    ));
    let stop_asked = Arc::new(tokio::sync::Notify::new());
    let admin_app = admin::router(Arc::new(admin::AdminState {
        service: service.clone(),
        token,
        log,
        federation: federation.clone(),
        stop: stop_asked.clone(),
        drain_ms: cfg.cluster.drain_timeout_ms,
        clustered: cluster.is_some(),
    }))
    .merge(operator::router(operator))
    .layer(axum::middleware::map_request(web::host_from_authority));
    // The admin endpoint listens on loopback for the operator only: it
    // is not under the client caps.
    match admin_tls {
        Some(tls) => tasks.push(tokio::spawn(conn::serve(
            admin_listener,
            Some(tls),
            admin_app,
            None,
            conn::Gate::new(ADMIN_CONNECTIONS, 0),
            conn::Timeouts::from_limits(&cfg.limits),
            shut_rx.clone(),
        ))),
        None => tasks.push(tokio::spawn(serve_http(
            admin_listener,
            admin_app,
            shut_rx.clone(),
        ))),
    }

    // The areas' periodic work (keep-alive expiry, group passes, IM
    // redelivery and expiry), once a second until the stop.
    let workers = service.start(Duration::from_secs(1));

    tracing::info!(
        http = %http_addr, cir_tcp = ?cir_addr, admin = %admin_addr,
        data_dir = %cfg.data_dir.display(), domain = %cfg.domain, restored_sessions = restored,
        "impsd ready"
    );
    Ok(Running {
        http_addr,
        cir_addr,
        admin_addr,
        service,
        metrics,
        sms,
        shutdown,
        tasks,
        workers,
        cluster,
        stop_asked,
        ws_carrying,
    })
}

/// Connections the admin listener takes at once when it serves TLS (it
/// is the operator's, on loopback).
const ADMIN_CONNECTIONS: usize = 64;

/// The password hash and, when digest login is on, the sealed digest
/// secret for a new password: what `impsd user add|passwd` and the
/// operator's page store. Argon2 is slow on purpose: call it off the
/// async runtime.
pub fn credentials(cfg: &Config, password: &str) -> anyhow::Result<(String, Option<Vec<u8>>)> {
    let hash = imps_core::auth::hash_password_with(password, cfg.password.cost())?;
    let secret = match (cfg.login.digest, cfg.digest_key()?) {
        (true, Some(key)) => Some(imps_core::auth::seal_secret(&key, password)?),
        _ => None,
    };
    Ok((hash, secret))
}

async fn serve_http(listener: TcpListener, app: axum::Router, mut shut: watch::Receiver<bool>) {
    use axum::serve::ListenerExt;
    let svc = app.into_make_service_with_connect_info::<SocketAddr>();
    // No Nagle delay: replies and pushes are small frames that must go
    // out at once (with it, a push could wait ~40 ms for an ACK).
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    let res = axum::serve(listener, svc)
        .with_graceful_shutdown(async move {
            let _ = shut.wait_for(|s| *s).await;
        })
        .await;
    if let Err(e) = res {
        tracing::error!(error = %e, "HTTP server failed");
    }
}

/// The core's settings from a config [`Config::validate`] passed: a
/// translation, no checks of its own.
fn core_config(
    cfg: &Config,
    http: SocketAddr,
    cir: Option<SocketAddr>,
    sms: Option<Arc<sms::SmsGateway>>,
) -> anyhow::Result<CoreConfig> {
    let tcp = cir.map(|a| {
        let host = cfg
            .cir
            .tcp_advertise_host
            .clone()
            .unwrap_or_else(|| a.ip().to_string());
        (host, a.port())
    });
    let http_base = cfg.cir.http.then(|| {
        cfg.cir.http_base_url.clone().unwrap_or_else(|| {
            let scheme = if cfg.tls.cert_file.is_some() {
                "https"
            } else {
                "http"
            };
            format!("{scheme}://{http}/cir")
        })
    });
    Ok(CoreConfig {
        domain: cfg.domain.to_ascii_lowercase(),
        keepalive_min_secs: cfg.session.keepalive_min_secs,
        keepalive_max_secs: cfg.session.keepalive_max_secs,
        keepalive_default_secs: cfg.session.keepalive_default_secs,
        max_sessions_per_user: cfg.session.max_per_user,
        max_outbox: cfg.session.max_outbox,
        digest_login: cfg.login.digest,
        secret_key: cfg.digest_key()?,
        nonce_ttl_secs: cfg.login.nonce_ttl_secs,
        max_challenges: cfg.login.max_challenges,
        hide_unknown_users: cfg.login.hide_unknown_users,
        login_throttle: cfg.login_throttle.clone(),
        expired_memory: cfg.session.expired_memory,
        max_password_checks: match cfg.login.max_password_checks {
            0 => imps_core::config::default_password_checks(),
            n => n,
        },
        msisdn: MsisdnConfig {
            auto_login: cfg.msisdn.auto_login,
            auto_register: cfg.msisdn.auto_register,
            force_manual_login: cfg.msisdn.force_manual_login,
        },
        cir: CirConfig {
            tcp,
            http_base,
            udp: cfg.cir.udp,
            wap_udp: cfg.cir.wap_udp,
            udp_address: cfg.cir.udp_address,
            sms: sms.is_some() && cfg.sms.cir,
            wap_sms: sms.is_some() && cfg.sms.cir_wap,
        },
        cir_waker: None,
        federation: None,
        cluster: None,
        server_poll_min_secs: cfg.session.server_poll_min_secs,
        max_message_size: cfg.limits.max_message_bytes,
        disabled_functions: cfg.services.disabled.clone(),
        sp_info: cfg.sp_info.clone(),
        im: ImConfig {
            notifier: notifier::notifier(&cfg.im, sms)?,
            ..cfg.im.clone()
        },
        lists: cfg.lists.clone(),
        groups: cfg.groups.clone(),
        map: cfg.map.clone(),
        presence: cfg.presence.clone(),
        sysmsg: cfg.sysmsg.clone(),
        search: cfg.search.clone(),
        password: cfg.password.clone(),
    })
}

/// Writes the admin address and token for the admin commands, readable by
/// the owner only.
fn write_admin_info(
    cfg: &Config,
    addr: SocketAddr,
    http: SocketAddr,
    token: &str,
) -> anyhow::Result<()> {
    let path = cfg.data_dir.join("admin.json");
    let info = admin::AdminInfo {
        addr: addr.to_string(),
        token: token.to_string(),
        http: http.to_string(),
        tls: cfg.admin.tls,
    };
    let text = serde_json::to_string_pretty(&info)?;
    let tmp = path.with_extension("json.tmp");
    {
        use std::io::Write;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts
            .open(&tmp)
            .with_context(|| format!("writing {}", tmp.display()))?;
        f.write_all(text.as_bytes())?;
    }
    std::fs::rename(&tmp, &path)?;
    Ok(())
}
