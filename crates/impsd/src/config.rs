//! impsd's settings: a TOML file, then environment variables and flags on
//! top. Every limit is a setting with a safe default; `impsd config
//! print-default` prints them all, each with a line saying what it does.
//!
//! The sections of the core's areas (`[im]`, `[lists]`, `[groups]`,
//! `[map]`, `[presence]`, `[sp_info]`) are the core's own config types,
//! read straight from the file: their defaults are written once, in those
//! types. `[store]` chooses the backend ([`StoreConfig`]) and takes its
//! defaults from the backends' own option types. The other sections are
//! impsd's. [`Config::validate`] is the one check of everything serde
//! cannot check.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use imps_core::PasswordConfig;
use imps_core::config::{ImConfig, OfflineNotify, SpInfo};
use imps_core::{
    CoreConfig, GroupsConfig, ListsConfig, LoginThrottleConfig, MapConfig, PresenceConfig,
    SearchConfig, SysmsgConfig,
};
use imps_store::SqliteOptions;
use imps_store_pg::PgOptions;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address of the HTTP binding (also serves HTTP CIR, WebSocket,
    /// /healthz and /metrics).
    pub listen: SocketAddr,
    /// Where the embedded store keeps its files.
    pub data_dir: PathBuf,
    /// The domain served: users are `wv:user@domain`.
    pub domain: String,
    /// Path of the CSP HTTP binding.
    pub path: String,
    /// Path of the WebSocket endpoint carrying CSP both ways.
    pub ws_path: String,
    /// Log filter (tracing syntax), e.g. "info" or "impsd=debug".
    pub log: String,
    pub limits: LimitsConfig,
    pub session: SessionConfig,
    pub login: LoginConfig,
    /// Failed-login counting and lockouts (the core's own type).
    pub login_throttle: LoginThrottleConfig,
    /// Issue 19: the cost of new password hashes, the verifier cache and
    /// the wait for a cold check (the core's own type).
    pub password: PasswordConfig,
    pub msisdn: MsisdnSettings,
    pub cir: CirSettings,
    pub admin: AdminConfig,
    pub tls: TlsConfig,
    pub sp_info: SpInfo,
    pub services: ServicesConfig,
    pub im: ImConfig,
    pub lists: ListsConfig,
    pub groups: GroupsConfig,
    pub map: MapConfig,
    pub presence: PresenceConfig,
    /// System messages: limits, terms before login, refused clients.
    pub sysmsg: SysmsgConfig,
    /// Search and public profiles: limits and privacy rules.
    pub search: SearchConfig,
    /// The SMSC link: SMS CIR and SMS offline notifications.
    pub sms: crate::sms::SmsSettings,
    /// Which store backend, and its settings.
    pub store: StoreConfig,
    /// Federation with other IMPS domains over SSP (issue 17).
    pub federation: crate::federation::FederationSettings,
    /// Several nodes sharing one PostgreSQL store over NATS (issue 18).
    pub cluster: crate::cluster::ClusterSettings,
    /// The async runtime that runs the server's tasks.
    pub runtime: RuntimeConfig,
}

/// Most runtime worker threads a configuration may ask for.
pub const MAX_WORKER_THREADS: usize = 256;

/// `[runtime]`: the tokio runtime of `impsd serve`. The default is one
/// worker thread per CPU core (`worker_threads = 0`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Threads that run the server's tasks; 0 = one per CPU core. The
    /// store's own threads and the password checks are not among them.
    pub worker_threads: usize,
}

impl RuntimeConfig {
    /// The runtime these settings ask for.
    pub fn build(&self) -> std::io::Result<tokio::runtime::Runtime> {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        if self.worker_threads > 0 {
            b.worker_threads(self.worker_threads);
        }
        b.enable_all().build()
    }
}

/// Which backend keeps the server's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// The embedded SQLite file in the data dir (one node).
    Sqlite,
    /// A PostgreSQL database at `store.url` (nodes may share it).
    Postgres,
}

/// `[store]`: the backend and each backend's settings. The SQLite keys
/// are those of `imps_store::SqliteOptions` (the section was that type
/// before PostgreSQL came), the PostgreSQL ones those of
/// `imps_store_pg::PgOptions`; their defaults come from those types
/// ([`StoreConfig::default`]), so each is written once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    pub kind: StoreKind,
    /// SQLite: fsync every commit.
    pub synchronous_full: bool,
    pub busy_timeout_ms: u64,
    pub queue_capacity: usize,
    pub read_connections: usize,
    /// SQLite: page cache of each connection, in KiB.
    pub cache_kib: u32,
    /// PostgreSQL: where the database is (env IMPSD_STORE_URL); empty
    /// with kind = "sqlite".
    pub url: String,
    /// PostgreSQL: the schema of impsd's tables; empty = the connection's
    /// default (normally `public`).
    pub schema: String,
    /// PostgreSQL: most connections open at once.
    pub max_connections: usize,
    /// PostgreSQL: group commit of message puts and acknowledged
    /// deletes; how long a call waits for others to share its
    /// transaction, in microseconds.
    pub pg_batch_window_us: u64,
    /// PostgreSQL: most calls in one such batch; 1 = no batching.
    pub pg_batch_max: usize,
    /// How long /healthz waits for the store's answer before it says the
    /// store is unreachable.
    pub health_timeout_ms: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        let s = SqliteOptions::default();
        let p = PgOptions::default();
        StoreConfig {
            kind: StoreKind::Sqlite,
            synchronous_full: s.synchronous_full,
            busy_timeout_ms: s.busy_timeout_ms,
            queue_capacity: s.queue_capacity,
            read_connections: s.read_connections,
            cache_kib: s.cache_kib,
            url: p.url,
            schema: p.schema.unwrap_or_default(),
            max_connections: p.max_connections,
            pg_batch_window_us: p.batch_window_us,
            pg_batch_max: p.batch_max,
            health_timeout_ms: 2_000,
        }
    }
}

impl StoreConfig {
    /// The SQLite backend's options.
    pub fn sqlite(&self) -> SqliteOptions {
        SqliteOptions {
            synchronous_full: self.synchronous_full,
            busy_timeout_ms: self.busy_timeout_ms,
            queue_capacity: self.queue_capacity,
            read_connections: self.read_connections,
            cache_kib: self.cache_kib,
        }
    }

    /// The checks of `[store]` ([`Config::validate`] makes them; so does
    /// `connect_store`, for the admin commands).
    pub fn check(&self) -> anyhow::Result<()> {
        match (self.kind, self.url.trim().is_empty()) {
            (StoreKind::Postgres, true) => {
                anyhow::bail!("store.kind is \"postgres\" but store.url (IMPSD_STORE_URL) is empty")
            }
            // A URL given for a store that will not use it is a mistake
            // that would keep this node's data apart from the others'.
            (StoreKind::Sqlite, false) => anyhow::bail!(
                "store.url (IMPSD_STORE_URL) is set but store.kind is \"sqlite\"; \
                 set store.kind = \"postgres\" (IMPSD_STORE_KIND) to use it"
            ),
            _ => {}
        }
        if self.kind == StoreKind::Postgres && self.max_connections == 0 {
            anyhow::bail!("store.max_connections must be at least 1");
        }
        if self.kind == StoreKind::Postgres && self.pg_batch_max == 0 {
            anyhow::bail!("store.pg_batch_max must be at least 1 (1 = no batching)");
        }
        Ok(())
    }

    /// The PostgreSQL backend's options.
    pub fn postgres(&self) -> PgOptions {
        let schema = self.schema.trim();
        PgOptions {
            url: self.url.trim().to_string(),
            schema: (!schema.is_empty()).then(|| schema.to_string()),
            max_connections: self.max_connections,
            batch_window_us: self.pg_batch_window_us,
            batch_max: self.pg_batch_max,
            ..PgOptions::default()
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Deepest element nesting accepted in a CSP document.
    pub max_depth: usize,
    /// Most elements in one CSP document.
    pub max_elements: usize,
    /// Longest text value, in bytes.
    pub max_text_bytes: usize,
    /// Largest message we send unless the client negotiates less.
    pub max_message_bytes: u64,
    /// Seconds a WebSocket write may wait for a client that does not read;
    /// past it the connection is closed (its session stays, and what it
    /// had not acknowledged is offered again).
    pub ws_write_timeout_secs: u64,
    /// Bytes a WebSocket asks of its socket per read (more when the frame
    /// in hand needs more). The buffer is made for the read and given back
    /// once its frames are taken: an idle connection holds none (issue
    /// 19). At least 64.
    pub ws_read_buffer_bytes: usize,
    /// Bytes of frames a WebSocket gathers before writing them out (they
    /// are written at the latest when a batch ends, and the buffer is then
    /// given back). 0 = write every frame at once.
    pub ws_write_buffer_bytes: usize,
    /// Requests a WebSocket bound to a session reads ahead and holds while
    /// an earlier one runs (issue 19); one more is answered 503 (1.3:
    /// TryAgainTimeout) at once, unhandled, and the socket goes on being
    /// read so that the client's answers to pushes still arrive. Also the
    /// most a socket without a session holds before it stops reading. At
    /// least 1.
    pub ws_read_ahead: usize,
    /// SendMessage requests of one WebSocket handled at once (issue 19):
    /// a socket whose client pipelines its sends no longer waits for one
    /// message's acknowledgement or commit before it starts the next.
    /// Their recipients still get them in the order sent, and the answers
    /// go out in that order. 1 = one request at a time. At least 1.
    pub ws_concurrent_sends: usize,
    /// Most client connections open at once (HTTP, HTTPS, WebSocket and
    /// TCP CIR together); one more is closed as soon as it is accepted.
    /// Also kept below the process's open-file limit.
    pub max_connections: usize,
    /// Most connections open at once from one client address; 0 = no
    /// limit.
    pub max_connections_per_address: usize,
    /// Milliseconds a new connection has to deliver its first request's
    /// headers (TLS handshake included). A keep-alive connection's next
    /// request head has the longer of this and `idle_timeout_ms`.
    pub header_timeout_ms: u64,
    /// Milliseconds a request body has to arrive in full, plus one second
    /// for every `min_body_rate` bytes received; past it, 408.
    pub body_timeout_ms: u64,
    /// Bytes per second that extend the body time, so a large body on a
    /// slow but steady link is not cut off; 0 = no extension.
    pub min_body_rate: u64,
    /// Milliseconds an HTTP connection, or a WebSocket not bound to a
    /// session, may go without traffic before it is closed.
    pub idle_timeout_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    /// Shortest keep-alive time granted to a session, in seconds.
    pub keepalive_min_secs: u64,
    /// Longest keep-alive time granted to a session, in seconds.
    pub keepalive_max_secs: u64,
    /// Keep-alive time granted when the client asks for none, in seconds.
    pub keepalive_default_secs: u64,
    /// Most concurrent sessions per user; 0 = no limit.
    pub max_per_user: usize,
    /// Most server-originated transactions queued for one session; the
    /// oldest is dropped beyond it.
    pub max_outbox: usize,
    /// Minimum seconds between client polls (ServerPollMin).
    pub server_poll_min_secs: u64,
    /// Ended session IDs remembered, so a client using one gets 600.
    pub expired_memory: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoginConfig {
    /// Offer 4-way digest login. Needs `secret_key`: digest needs the
    /// password itself, which is kept encrypted with that key.
    pub digest: bool,
    /// 64 hex digits (32 bytes) that encrypt digest secrets at rest.
    pub secret_key: Option<String>,
    /// Seconds a digest challenge stays valid.
    pub nonce_ttl_secs: u64,
    /// Most password (argon2) checks at once; 0 = one per core but one.
    pub max_password_checks: usize,
    /// Most digest challenges outstanding at once (503 beyond it).
    pub max_challenges: usize,
    /// Answer an unknown user exactly as a wrong password (409, not 531).
    pub hide_unknown_users: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MsisdnSettings {
    /// HTTP header in which an operator gateway asserts the caller's
    /// number.
    pub header: String,
    /// Addresses whose header is believed. Empty: never believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// A known asserted number logs in without a password.
    pub auto_login: bool,
    /// An unknown asserted number gets a new account.
    pub auto_register: bool,
    /// Ignore asserted numbers: every login needs a password (GEN-20).
    pub force_manual_login: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CirSettings {
    /// Standalone TCP CIR listener; empty string to turn it off.
    pub tcp_listen: String,
    /// Host clients are told to connect to for TCP CIR; defaults to the
    /// listener's IP.
    pub tcp_advertise_host: Option<String>,
    /// Seconds a TCP CIR client has to send HELO.
    pub helo_timeout_secs: u64,
    /// Serve HTTP CIR (GET /cir/TOKEN).
    pub http: bool,
    /// Base URL clients use for HTTP CIR; defaults to http://LISTEN/cir.
    pub http_base_url: Option<String>,
    /// Offer SUDP: the WVCI line in one UDP datagram to the client.
    pub udp: bool,
    /// Offer WAPUDP: the WVCI line in a WSP push datagram.
    pub wap_udp: bool,
    /// Local address datagram CIR is sent from.
    pub udp_bind: String,
    /// Where datagram CIR goes: `peer` (the IP the request came from) or
    /// `client` (the UDPAddress the client names, else the peer).
    pub udp_address: imps_core::cir::UdpAddressPolicy,
    /// Least time between two datagram wake-ups of one session, in ms.
    pub udp_min_interval_ms: u64,
    /// A datagram wake-up is sent again when the client has not polled
    /// this long after it (ms; at least `udp_min_interval_ms`); 0: never.
    pub udp_retry_ms: u64,
    /// How many times one datagram wake-up is sent again.
    pub udp_retries: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// Loopback address of the admin endpoint (session list/kick).
    pub listen: SocketAddr,
    /// Bearer token; when empty a random one is made at start. Either way
    /// it is written with the address to DATA_DIR/admin.json (mode 0600)
    /// for the admin commands.
    pub token: String,
    /// Most signed-in operator page sessions at once (`/admin/page/`);
    /// past it the oldest is signed out.
    pub page_sessions: usize,
    /// Seconds an operator page session lasts.
    pub page_session_secs: u64,
    /// Users per page of the operator page's user list.
    pub page_users: usize,
    /// Seconds between two samples of the operator page's graphs.
    pub graph_sample_secs: u64,
    /// Seconds of samples the graphs keep (in memory).
    pub graph_window_secs: u64,
    /// Serve the admin listener over TLS with the `[tls]` certificate;
    /// the operator page's cookie is then marked Secure.
    pub tls: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain; with `key_file`, the HTTP binding is HTTPS.
    pub cert_file: Option<PathBuf>,
    /// PEM private key of `cert_file`.
    pub key_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServicesConfig {
    /// Function codes, function groups or features switched off by policy
    /// (e.g. ["GroupFeat", "SRCH"]).
    pub disabled: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./impsd-data"),
            domain: CoreConfig::default().domain,
            path: "/imps".into(),
            ws_path: "/imps/ws".into(),
            log: "info".into(),
            limits: LimitsConfig::default(),
            session: SessionConfig::default(),
            login: LoginConfig::default(),
            login_throttle: LoginThrottleConfig::default(),
            password: PasswordConfig::default(),
            msisdn: MsisdnSettings::default(),
            cir: CirSettings::default(),
            admin: AdminConfig::default(),
            tls: TlsConfig::default(),
            sp_info: SpInfo::default(),
            services: ServicesConfig::default(),
            im: ImConfig::default(),
            lists: ListsConfig::default(),
            groups: GroupsConfig::default(),
            map: MapConfig::default(),
            presence: PresenceConfig::default(),
            sysmsg: SysmsgConfig::default(),
            search: SearchConfig::default(),
            sms: crate::sms::SmsSettings::default(),
            federation: crate::federation::FederationSettings::default(),
            cluster: crate::cluster::ClusterSettings::default(),
            store: StoreConfig::default(),
            runtime: RuntimeConfig::default(),
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let w = imps_wire::Limits::default();
        LimitsConfig {
            max_body_bytes: w.max_size,
            max_depth: w.max_depth,
            max_elements: w.max_elements,
            max_text_bytes: w.max_text,
            max_message_bytes: CoreConfig::default().max_message_size,
            ws_write_timeout_secs: 30,
            ws_read_buffer_bytes: 1024,
            ws_write_buffer_bytes: 4096,
            ws_read_ahead: 64,
            ws_concurrent_sends: 16,
            max_connections: 10_000,
            max_connections_per_address: 64,
            header_timeout_ms: 10_000,
            body_timeout_ms: 30_000,
            min_body_rate: 1024,
            idle_timeout_ms: 120_000,
        }
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        let c = CoreConfig::default();
        SessionConfig {
            keepalive_min_secs: c.keepalive_min_secs,
            keepalive_max_secs: c.keepalive_max_secs,
            keepalive_default_secs: c.keepalive_default_secs,
            max_per_user: c.max_sessions_per_user,
            max_outbox: c.max_outbox,
            server_poll_min_secs: c.server_poll_min_secs,
            expired_memory: c.expired_memory,
        }
    }
}

impl Default for LoginConfig {
    fn default() -> Self {
        let c = CoreConfig::default();
        LoginConfig {
            digest: c.digest_login,
            secret_key: None,
            nonce_ttl_secs: c.nonce_ttl_secs,
            max_password_checks: 0,
            max_challenges: c.max_challenges,
            hide_unknown_users: c.hide_unknown_users,
        }
    }
}

impl Default for MsisdnSettings {
    fn default() -> Self {
        let c = imps_core::config::MsisdnConfig::default();
        MsisdnSettings {
            header: "X-MSISDN".into(),
            trusted_proxies: Vec::new(),
            auto_login: c.auto_login,
            auto_register: c.auto_register,
            force_manual_login: c.force_manual_login,
        }
    }
}

impl Default for CirSettings {
    fn default() -> Self {
        CirSettings {
            tcp_listen: "127.0.0.1:3171".into(),
            tcp_advertise_host: None,
            helo_timeout_secs: 300,
            http: true,
            http_base_url: None,
            udp: false,
            wap_udp: false,
            udp_bind: "0.0.0.0:0".into(),
            udp_address: imps_core::cir::UdpAddressPolicy::Peer,
            udp_min_interval_ms: 2000,
            udp_retry_ms: 4000,
            udp_retries: 2,
        }
    }
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8081)),
            token: String::new(),
            page_sessions: 16,
            page_session_secs: 3600,
            page_users: 50,
            graph_sample_secs: 10,
            graph_window_secs: 3600,
            tls: false,
        }
    }
}

impl Config {
    /// Reads a TOML file; unknown keys are an error, so typos are caught.
    pub fn from_file(path: &std::path::Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read config {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("bad config {}: {e}", path.display()))
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    /// Every setting with its default value, each under a comment line
    /// saying what it does (`impsd config print-default`). Settings unset
    /// by default are shown commented out, with an example value.
    pub fn print_default() -> anyhow::Result<String> {
        let table = toml::Table::try_from(Config::default())?;
        let mut out = String::from(
            "# impsd configuration: every setting with its default value.\n\
             # Keep only what you change; unknown keys are an error.\n\n",
        );
        let mut section: Option<&toml::Table> = Some(&table);
        for &(path, what, example) in EXPLAIN {
            if let Some(name) = path.strip_prefix('[').and_then(|p| p.strip_suffix(']')) {
                section = table.get(name).and_then(toml::Value::as_table);
                out.push_str(&format!("\n# {what}\n[{name}]\n"));
                continue;
            }
            let key = path.rsplit('.').next().unwrap_or(path);
            out.push_str(&format!("# {what}\n"));
            match section.and_then(|t| t.get(key)) {
                Some(value) => {
                    let mut one = toml::Table::new();
                    one.insert(key.to_string(), value.clone());
                    out.push_str(&toml::to_string_pretty(&one)?);
                }
                None => out.push_str(&format!("# {key} = {example}\n")),
            }
        }
        Ok(out)
    }

    /// Checks what serde cannot, so a bad config stops the start with a
    /// message instead of failing later. The one check of the whole
    /// config: what passes here, [`crate::start`] turns into the core's
    /// settings without further checks.
    pub fn validate(&self) -> anyhow::Result<()> {
        // Parsed here so a bad key stops the start; with none, digest
        // login uses the key file in the data dir (`digest_key`).
        self.secret_key()?;
        if !self.path.starts_with('/') || !self.ws_path.starts_with('/') {
            anyhow::bail!("path and ws_path must start with '/'");
        }
        if self.session.keepalive_min_secs > self.session.keepalive_max_secs {
            anyhow::bail!("session.keepalive_min_secs is above keepalive_max_secs");
        }
        let l = &self.limits;
        if l.max_connections == 0 {
            anyhow::bail!("limits.max_connections must be at least 1");
        }
        if l.ws_read_ahead == 0 {
            anyhow::bail!("limits.ws_read_ahead must be at least 1");
        }
        if l.ws_concurrent_sends == 0 {
            anyhow::bail!("limits.ws_concurrent_sends must be at least 1");
        }
        if self.runtime.worker_threads > MAX_WORKER_THREADS {
            anyhow::bail!("runtime.worker_threads must be at most {MAX_WORKER_THREADS}");
        }
        for (name, v) in [
            ("header_timeout_ms", l.header_timeout_ms),
            ("body_timeout_ms", l.body_timeout_ms),
            ("idle_timeout_ms", l.idle_timeout_ms),
        ] {
            if v == 0 {
                anyhow::bail!("limits.{name} must be above 0");
            }
        }
        if self.tls.cert_file.is_some() != self.tls.key_file.is_some() {
            anyhow::bail!("tls.cert_file and tls.key_file go together");
        }
        if self.admin.tls && self.tls.cert_file.is_none() {
            anyhow::bail!("admin.tls needs tls.cert_file and tls.key_file");
        }
        if self
            .federation
            .ca_file
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            anyhow::bail!(
                "federation.ca_file is empty: name a PEM file of CAs, or leave it out for the system's trust store"
            );
        }
        if self.federation.crl_reload_secs == 0 {
            anyhow::bail!("federation.crl_reload_secs must be above 0");
        }
        if self
            .federation
            .crl_files
            .iter()
            .any(|p| p.as_os_str().is_empty())
        {
            anyhow::bail!(
                "federation.crl_files: an entry is empty; name a PEM or DER revocation list"
            );
        }
        if let Some(p) = self.federation.peers.iter().find(|p| p.require_client_cert)
            && self.tls.cert_file.is_none()
        {
            anyhow::bail!(
                "federation.peers: require_client_cert of {} needs tls.cert_file and tls.key_file (client certificates come only over TLS)",
                p.domain
            );
        }
        if self.federation.discovery
            && self.federation.discovered_require_client_cert
            && self.tls.cert_file.is_none()
        {
            anyhow::bail!(
                "federation.discovered_require_client_cert needs tls.cert_file and tls.key_file (client certificates come only over TLS)"
            );
        }
        if self.im.ack_window_ms > 1_000 {
            anyhow::bail!(
                "im.ack_window_ms is at most 1000: a sender waits that long for a slow recipient"
            );
        }
        if self.im.offline_notify == OfflineNotify::Webhook {
            crate::notifier::webhook_uri(self.im.webhook_url.as_deref())?;
        }
        if self.im.offline_notify == OfflineNotify::Sms && !self.sms.enabled {
            anyhow::bail!("im.offline_notify = \"sms\" needs [sms] enabled = true");
        }
        self.sms.validate()?;
        self.federation.validate(&self.domain)?;
        self.cluster.validate()?;
        if (self.cir.udp || self.cir.wap_udp)
            && self.cir.udp_bind.trim().parse::<SocketAddr>().is_err()
        {
            anyhow::bail!(
                "cir.udp_bind {:?} is not an address:port",
                self.cir.udp_bind
            );
        }
        if self.cir.udp_retries > MAX_UDP_RETRIES {
            anyhow::bail!(
                "cir.udp_retries {} is above {MAX_UDP_RETRIES}",
                self.cir.udp_retries
            );
        }
        self.map.validate().map_err(anyhow::Error::msg)?;
        self.sysmsg.validate().map_err(anyhow::Error::msg)?;
        self.search.validate().map_err(anyhow::Error::msg)?;
        self.password.validate().map_err(anyhow::Error::msg)?;
        self.store.check()?;
        Ok(())
    }

    /// The key that seals digest secrets: `login.secret_key` when set;
    /// else, with digest login on, the key in `DATA_DIR/secret.key`, made
    /// there (mode 0600) the first time it is needed, so digest login
    /// works on a fresh install and the server and the admin commands
    /// share one key. `None` when digest login is off and no key is set.
    /// The key is never logged.
    pub fn digest_key(&self) -> anyhow::Result<Option<[u8; 32]>> {
        if let Some(k) = self.secret_key()? {
            return Ok(Some(k));
        }
        if !self.login.digest {
            return Ok(None);
        }
        load_or_make_key(&self.data_dir.join(KEY_FILE)).map(Some)
    }

    /// `login.secret_key` as bytes; `None` when unset or empty.
    pub fn secret_key(&self) -> anyhow::Result<Option<[u8; 32]>> {
        imps_core::config::parse_key("login.secret_key", self.login.secret_key.as_deref())
            .map_err(anyhow::Error::msg)
    }

    pub fn wire_limits(&self) -> imps_wire::Limits {
        imps_wire::Limits {
            max_size: self.limits.max_body_bytes,
            max_depth: self.limits.max_depth,
            max_elements: self.limits.max_elements,
            max_text: self.limits.max_text_bytes,
        }
    }

    pub fn store_path(&self) -> PathBuf {
        self.data_dir.join("impsd.sqlite")
    }
}

/// The most repeats of one datagram wake-up: a client that does not come
/// after a few is not there, and each repeat is a packet to its address.
pub const MAX_UDP_RETRIES: u32 = 10;

/// What `print_default` prints: in order, each section (`[name]`) and
/// setting (dotted path) with its one-line explanation, and for a setting
/// unset by default an example value (shown commented out). The test
/// below checks that this table and the settings match one for one.
#[rustfmt::skip]
const EXPLAIN: &[(&str, &str, &str)] = &[
    ("listen", "Address of the HTTP binding (also HTTP CIR, WebSocket, /healthz, /metrics); flag --listen.", ""),
    ("data_dir", "Directory of the embedded store; flag --data-dir, env IMPSD_DATA_DIR.", ""),
    ("domain", "The domain served: users are wv:user@domain; flag --domain.", ""),
    ("path", "Path of the CSP HTTP binding.", ""),
    ("ws_path", "Path of the WebSocket endpoint carrying CSP both ways.", ""),
    ("log", "Log filter (tracing syntax), e.g. \"info\" or \"impsd=debug\"; env IMPSD_LOG wins.", ""),
    ("[limits]", "Limits on what clients send and how long they may stall us.", ""),
    ("limits.max_body_bytes", "Largest request body, in bytes.", ""),
    ("limits.max_depth", "Deepest element nesting accepted in a CSP document.", ""),
    ("limits.max_elements", "Most elements in one CSP document.", ""),
    ("limits.max_text_bytes", "Longest text value in a CSP document, in bytes.", ""),
    ("limits.max_message_bytes", "Largest message we send unless the client negotiates less.", ""),
    ("limits.ws_write_timeout_secs", "Seconds a WebSocket write may wait for a client that does not read; then it is closed.", ""),
    ("limits.ws_read_buffer_bytes", "Bytes a WebSocket asks of its socket per read (more for a larger frame); the buffer is given back once read, so an idle connection holds none; at least 64.", ""),
    ("limits.ws_write_buffer_bytes", "Bytes of frames a WebSocket gathers before writing (a batch is written at its end anyway, and the buffer given back).", ""),
    ("limits.ws_read_ahead", "Requests a WebSocket with a session holds while an earlier one runs; one more is answered 503 with TryAgainTimeout, unhandled, so the client's answers to pushes are still read. At least 1.", ""),
    ("limits.ws_concurrent_sends", "SendMessage requests of one WebSocket handled at once, so a pipelining client does not wait a round trip per message; recipients still get them in order. 1 = one at a time. At least 1.", ""),
    ("limits.max_connections", "Most client connections at once (HTTP, WebSocket, TCP CIR); more are closed at accept. Kept below the open-file limit.", ""),
    ("limits.max_connections_per_address", "Most connections at once from one client IP address; more are closed at accept; 0 = no limit.", ""),
    ("limits.header_timeout_ms", "Milliseconds a new connection has to deliver its first request's headers, TLS handshake included; then it is dropped.", ""),
    ("limits.body_timeout_ms", "Milliseconds a request body has to arrive, plus 1 s per min_body_rate bytes received; then 408 and close.", ""),
    ("limits.min_body_rate", "Bytes per second that extend body_timeout_ms for a large body on a slow, steady link; 0 = no extension.", ""),
    ("limits.idle_timeout_ms", "Milliseconds an HTTP connection (keep-alive included), or a WebSocket without a session, may go without traffic; then closed.", ""),
    ("[session]", "Sessions and keep-alive.", ""),
    ("session.keepalive_min_secs", "Shortest keep-alive time granted to a session, in seconds.", ""),
    ("session.keepalive_max_secs", "Longest keep-alive time granted to a session, in seconds.", ""),
    ("session.keepalive_default_secs", "Keep-alive time granted when the client asks for none, in seconds.", ""),
    ("session.max_per_user", "Most concurrent sessions per user; 0 = no limit.", ""),
    ("session.max_outbox", "Most server-originated transactions queued for one session; the oldest is dropped beyond it.", ""),
    ("session.server_poll_min_secs", "Minimum seconds between client polls (ServerPollMin).", ""),
    ("session.expired_memory", "Ended session IDs remembered, so a client using one is told 600 (expired) rather than 604.", ""),
    ("[login]", "Password and digest login.", ""),
    ("login.digest", "Offer 4-way digest login (MD5 and SHA); the password is kept encrypted with the key below.", ""),
    ("login.secret_key", "64 hex digits (32 bytes) that encrypt digest secrets at rest; empty = DATA_DIR/secret.key, made at first start (mode 0600).", "\"\""),
    ("login.nonce_ttl_secs", "Seconds a digest challenge stays valid.", ""),
    ("login.max_password_checks", "Most password (argon2) checks at once; 0 = one per core but one (at least one), so a storm of first logins leaves a core to message traffic.", ""),
    ("login.max_challenges", "Most digest challenges outstanding at once; a login asking for more gets 503.", ""),
    ("login.hide_unknown_users", "Answer a login naming an unknown user exactly as a wrong password (409) instead of 531.", ""),
    ("[login_throttle]", "Failed-login lockouts per user ID and per source address; a locked login gets 503 (1.3: with TryAgainTimeout).", ""),
    ("login_throttle.enabled", "Count failed logins and lock out past the limits below.", ""),
    ("login_throttle.user_free_failures", "Failed logins for one user ID (existing or not) before it is locked out.", ""),
    ("login_throttle.address_free_failures", "Failed logins from one address (IPv6: its /64) before it is locked out; gateway traffic with a trusted MSISDN header is not counted here.", ""),
    ("login_throttle.base_lockout_ms", "The first lockout, in milliseconds; each further failure doubles it.", ""),
    ("login_throttle.max_lockout_secs", "The longest lockout, in seconds.", ""),
    ("login_throttle.window_secs", "Failures are forgotten this many seconds after the last one or the end of its lockout.", ""),
    ("login_throttle.max_tracked", "Most user IDs and addresses tracked; past it the one with the oldest failure is forgotten.", ""),
    ("[password]", "Password checks (issue 19): the Argon2id cost of new hashes, the cache that spares a returning user Argon2, and how long a first check may wait for its turn.", ""),
    ("password.argon2_memory_kib", "Memory of each new Argon2id hash, in KiB (OWASP minimum 19456). More slows a guesser with a GPU, and costs every first login as much memory at once (times login.max_password_checks). Stored hashes keep their own cost.", ""),
    ("password.argon2_iterations", "Passes of each new Argon2id hash (OWASP: 2 at 19 MiB). Time per first login grows with it linearly: 2 is about 20 ms of one core here.", ""),
    ("password.argon2_parallelism", "Lanes of each new Argon2id hash. The server computes them on one thread, so more lanes cost time, not speed; keep 1 unless hashes must match another system.", ""),
    ("password.verifier_cache", "Users whose last good password is remembered as a keyed digest (random key per process, about 200 bytes each) so their next login skips Argon2; 0 = every login pays Argon2. A changed or removed password misses at once.", ""),
    ("password.check_wait_ms", "Longest wait for a turn at an Argon2 check (login.max_password_checks at once); past it the login gets 503 with TryAgainTimeout instead of hanging.", ""),
    ("[msisdn]", "Network-asserted numbers: auto-login and auto-registration (GEN-17..20).", ""),
    ("msisdn.header", "HTTP header in which an operator gateway asserts the caller's number.", ""),
    ("msisdn.trusted_proxies", "Addresses whose header is believed; empty = never believed.", ""),
    ("msisdn.auto_login", "A known asserted number logs in without a password.", ""),
    ("msisdn.auto_register", "An unknown asserted number gets a new account.", ""),
    ("msisdn.force_manual_login", "Ignore asserted numbers: every login needs a password (GEN-20).", ""),
    ("[cir]", "Communication initiation requests: how the server wakes a client up.", ""),
    ("cir.tcp_listen", "Standalone TCP CIR listener; \"\" turns it off; flag --cir-tcp-listen.", ""),
    ("cir.tcp_advertise_host", "Host clients are told to connect to for TCP CIR; default: the listener's IP.", "\"imps.example.com\""),
    ("cir.helo_timeout_secs", "Seconds a TCP CIR client has to send HELO.", ""),
    ("cir.http", "Serve HTTP CIR (GET /cir/TOKEN).", ""),
    ("cir.http_base_url", "Base URL clients use for HTTP CIR; default: http://LISTEN/cir.", "\"https://imps.example.com/cir\""),
    ("cir.udp", "Offer SUDP CIR: the WVCI line in one UDP datagram to the client's UDPPort.", ""),
    ("cir.wap_udp", "Offer WAPUDP CIR: the WVCI line in a WSP push datagram (to UDPPort, else 2948).", ""),
    ("cir.udp_bind", "Local address datagram CIR is sent from (port 0: any).", ""),
    ("cir.udp_address", "Where datagram CIR goes: peer (the IP requests come from) or client (the UDPAddress it names, else the peer).", ""),
    ("cir.udp_min_interval_ms", "Least time between two datagram wake-ups of one session; what arrives meanwhile is one more wake-up at the end.", ""),
    ("cir.udp_retry_ms", "A datagram wake-up whose client has not polled this long after it (and still has something waiting) is sent again; never sooner than udp_min_interval_ms. 0 turns repeats off.", ""),
    ("cir.udp_retries", "How many times one datagram wake-up is sent again (datagrams get lost; a lost one otherwise waits for im.redeliver_secs).", ""),
    ("[admin]", "The admin endpoint used by the impsd session/group/log commands.", ""),
    ("admin.listen", "Loopback address of the admin endpoint; flag --admin-listen.", ""),
    ("admin.token", "Bearer token; empty = a random one per start. Written to DATA_DIR/admin.json (mode 0600).", ""),
    ("admin.page_sessions", "Most operators signed in to the admin page (/admin/page/) at once; past it the oldest is signed out.", ""),
    ("admin.page_session_secs", "Seconds an admin page sign-in lasts.", ""),
    ("admin.page_users", "Users per page of the admin page's user list.", ""),
    ("admin.graph_sample_secs", "Seconds between two samples of the admin page's graphs (logins, messages, latency, connections, memory).", ""),
    ("admin.graph_window_secs", "Seconds of samples the admin page's graphs keep, in memory (a restart starts them afresh).", ""),
    ("admin.tls", "Serve the admin listener over HTTPS with the [tls] certificate (needs tls.cert_file and tls.key_file); the admin page's cookie is then Secure. The impsd session/user/peer/sysmsg/group/log commands then speak HTTPS to it, trusting only the certificate of tls.cert_file (they read it from the server's config: give them --config).", ""),
    ("[tls]", "HTTPS for the HTTP binding.", ""),
    ("tls.cert_file", "PEM certificate chain; with key_file, the HTTP binding is HTTPS.", "\"/etc/impsd/cert.pem\""),
    ("tls.key_file", "PEM private key of cert_file.", "\"/etc/impsd/key.pem\""),
    ("[sp_info]", "Service provider information returned by GetSPInfo.", ""),
    ("sp_info.name", "The service provider's name.", ""),
    ("sp_info.description", "A line describing the service.", ""),
    ("sp_info.url", "The service provider's web page.", ""),
    ("[services]", "Services switched off by policy.", ""),
    ("services.disabled", "Function codes, function groups or features switched off, e.g. [\"GroupFeat\", \"SRCH\"].", ""),
    ("[im]", "Instant messaging: policies (GEN-5..10), offline storage and notification (IMR-9..11).", ""),
    ("im.offline_storage", "Keep messages for logged-out users; off: such messages get 533.", ""),
    ("im.max_text_bytes", "Largest text/plain message in bytes (0 = no limit).", ""),
    ("im.max_rich_bytes", "Largest message of other content types in bytes (0 = no limit).", ""),
    ("im.oversize_policy", "Over the limit: \"none\", \"reject\" or \"charge\".", ""),
    ("im.charge_limit_bytes", "With \"charge\": the largest message delivered at all (0 = no limit).", ""),
    ("im.content_types", "Content types accepted (image/* allowed); empty = any.", ""),
    ("im.max_recipients", "Most recipient users per message, contact lists expanded.", ""),
    ("im.push_window", "Most unacknowledged messages offered to one session at a time.", ""),
    ("im.redeliver_secs", "Offer an unacknowledged message again after this many seconds.", ""),
    ("im.memory_per_user", "Waiting messages of one online user kept in memory.", ""),
    ("im.max_list_batch", "Most entries in one GetMessageList-Response.", ""),
    ("im.known_users_max", "Users kept in each of IM's memories (stored messages, names, notices); past it that memory starts over.", ""),
    ("im.expiry_batch", "Expired messages ended per sweep; the rest wait for the next.", ""),
    ("im.expiry_sweep_passes", "Sweep for expired messages every this many background passes (one a second).", ""),
    ("im.dedupe_window_secs", "How long a client's own MessageID is remembered to spot a retry, in seconds.", ""),
    ("im.max_validity_secs", "Longest message Validity honoured, in seconds (0 = as asked).", ""),
    ("im.ack_window_ms", "A 1:1 message for a caught-up online recipient is pushed first and its sender waits this long (ms, at most 1000) for MessageDelivered: acknowledged in time it is never written, otherwise stored before the answer (0 = always store first).", ""),
    ("im.offline_quota_messages", "Most messages waiting for one recipient; more are refused with 507 (0 = no limit).", ""),
    ("im.offline_quota_bytes", "Most bytes of content waiting for one recipient (0 = no limit).", ""),
    ("im.send_rate_per_sec", "Messages a second one user may send on average, one-to-one and to groups; more get 503 (0 = no limit).", ""),
    ("im.send_burst", "Messages one user may send at once after a quiet spell.", ""),
    ("im.send_rate_senders_max", "Most senders whose rate is tracked at once.", ""),
    ("im.max_sends_in_flight", "Overload: most SendMessage/ForwardMessage being handled at once; past it a send gets 503 with TryAgainTimeout (0 = no limit). While the runtime lags (im.overload_lag_ms) the bound is lower, down to an eighth of this.", ""),
    ("im.overload_lag_ms", "Overload: when a task that yields waits longer than this (ms) to run again, the bound on sends in flight is lowered a quarter at a time, down to an eighth of im.max_sends_in_flight, and raised again while the wait stays under half of this and the bound is in use (0 = the fixed bound only).", ""),
    ("im.max_waiting_in_memory", "Overload: most messages waiting in memory for online recipients (recounted once a second, followed as messages come and are acknowledged in between); past it a send gets 503 with TryAgainTimeout (0 = no limit).", ""),
    ("im.overload_retry_secs", "TryAgainTimeout of an overload refusal, in seconds.", ""),
    ("im.offline_notify", "Offline-message notifications: \"off\", \"log\", \"webhook\" or \"sms\" (through [sms]).", ""),
    ("im.offline_notify_bearer", "Notification type: \"SMS\" or \"WAPPUSH\" (for the gateway, or what [sms] sends).", ""),
    ("im.offline_notify_interval_secs", "At most one notification per user per this many seconds.", ""),
    ("im.webhook_url", "Where the webhook notifier POSTs (http:// only); needed by offline_notify = \"webhook\".", "\"http://gateway.example:8000/notify\""),
    ("im.webhook_timeout_ms", "How long the webhook notifier waits for the gateway, in milliseconds.", ""),
    ("im.webhook_queue", "Notices waiting for the webhook; more are dropped.", ""),
    ("im.notify_ref_key", "64 hex digits keying the opaque recipient reference; default: login.secret_key, else random per start.", "\"\""),
    ("[lists]", "Contact, block and grant lists, and lists in parts (GEN-1..4, SEC-1).", ""),
    ("lists.max_lists_per_user", "Most contact lists one user may have (753 beyond it).", ""),
    ("lists.max_contacts_per_list", "Most members in one contact list (754 beyond it).", ""),
    ("lists.max_access_entries", "Most entries in a block list, and in a grant list.", ""),
    ("lists.max_name_chars", "Longest list name, display name or nickname, in characters.", ""),
    ("lists.segment_ttl_secs", "How long the parts of a split reply or upload are kept, in seconds.", ""),
    ("lists.max_segment_sets_per_session", "Most split replies and uploads held for one session at once.", ""),
    ("lists.max_segment_bytes_total", "Bytes all sessions' parts may take together.", ""),
    ("lists.max_upload_parts", "Most parts one upload may announce.", ""),
    ("lists.max_upload_bytes", "Bytes one upload in parts may buffer.", ""),
    ("lists.access_cache_entries", "Block/grant answers remembered (IM asks for every message); past it the cache starts over.", ""),
    ("lists.access_cache_ms", "How long a remembered block/grant answer is used, in ms (a change by another process shows after this).", ""),
    ("[groups]", "Groups, invitations and private group conversations (PGC-16/18).", ""),
    ("groups.rejoin_timeout_secs", "How long a user who dropped out of a private group may rejoin without a new invitation.", ""),
    ("groups.max_joined_per_group", "Most users joined to one group, whatever its MaxActiveUsers says.", ""),
    ("groups.max_screen_name_chars", "Longest screen name, in characters.", ""),
    ("groups.max_users_per_request", "Most users named in one request (members, rejects, invitees).", ""),
    ("groups.invite_validity_secs", "How long an invitation without Validity waits for its answer, in seconds.", ""),
    ("groups.max_group_name_chars", "Longest group name part of a GroupID, in characters.", ""),
    ("groups.max_groups_per_user", "Most groups one user may own, private conversations included (814).", ""),
    ("groups.max_groups_total", "Most groups on the server (815).", ""),
    ("groups.member_lists", "Shape of joined-user lists: \"auto\" (UserMapList{Mapping} in 1.2 and for clients that show the Android engine, the spec shape otherwise), \"spec\" or \"flat\" (UserMapList{Mapping} for all).", ""),
    ("groups.joined_cache_groups", "Groups whose joined users are kept in memory for the fan-out of messages; 0 = read the store for every message. Off in a cluster.", ""),
    ("[map]", "GetMap (PRR-2..4): where location maps come from.", ""),
    ("map.provider", "\"builtin\" (a PNG drawn here, no network), \"url\" (a link from url_template) or \"off\".", ""),
    ("map.width", "Image width in pixels (16..=1024); also {width} in url_template.", ""),
    ("map.height", "Image height in pixels (16..=1024); also {height} in url_template.", ""),
    ("map.zoom", "Zoom level (0..=20) for an exact position; lower when an accuracy circle must fit.", ""),
    ("map.url_template", "With provider = \"url\": {lat} {lon} {zoom} {width} {height} {accuracy} are filled in.", ""),
    ("[presence]", "Presence: memory bounds.", ""),
    ("presence.max_owners_loaded", "Users whose presence is kept in memory; past it idle ones are dropped and read again when asked for.", ""),
    ("presence.max_access_memory", "Users remembered per owner as having looked without subscribing (1.3 PRESENCE_ACCESS).", ""),
    ("presence.block_hides_presence", "Blocking a user also hides all presence from them (false = pure CSP: blocking only stops messages).", ""),
    ("[sysmsg]", "System messages (SYM-*): limits, the terms asked before login, and clients refused with a word of why.", ""),
    ("sysmsg.max_text_chars", "Longest system message or answer option, in characters (at least 128).", ""),
    ("sysmsg.max_options", "Most answer options in one system message.", ""),
    ("sysmsg.max_per_session", "Most waiting system messages sent to a session when it starts; the rest follow at the next one.", ""),
    ("sysmsg.refuse_versions", "CSP versions refused at login (\"1.1\", \"1.2\", \"1.3\"): 505, and in 1.3 a system message saying why.", ""),
    ("sysmsg.refuse_clients", "Client releases refused at login: a ClientID or ApplicationID containing one of these (any case) gets 403 and the refusal text.", ""),
    ("sysmsg.refusal_text", "What a refused client is told; empty = a built-in sentence.", ""),
    ("sysmsg.max_pending_logins", "Most logins waiting for the answer to the terms at once; more get 503.", ""),
    ("sysmsg.welcome", "Send a welcome system message at each user's first CSP 1.3 session.", ""),
    ("sysmsg.added_notice", "Tell a user who was put on someone's contact list, with an option to add them back that the server carries out.", ""),
    ("sysmsg.privacy_advice", "Privacy advice when a user lets everyone see some of their presence (an attribute list for DefaultList), and when a user publishes a location that users authorized earlier can see; each once per session.", ""),
    ("sysmsg.offline_prompt", "Offline-message notifications (im.offline_notify) carry a system message with the options Log in / Ignore for the gateway to show; server text only.", ""),
    ("sysmsg.help_after_errors", "After this many refused requests in a row a session is offered help (once), with an option not to be shown help again; 0 = never.", ""),
    ("sysmsg.ask_friendly_name", "A user registered by their MSISDN gets a system message at their first CSP 1.3 session asking them to choose a friendly name in their public profile (REG-UC).", ""),
    ("sysmsg.default_language", "Language of server text when the client names none (its DefaultLanguage) or one without texts; empty = en.", ""),
    ("sysmsg.texts", "Server text per language (welcome, added, add_back, ignore, help, help_ok, help_off, offline, offline_login, offline_ignore, privacy, privacy_ok, profile, profile_agree, profile_decline, profile_needs, profile_needs_ok, register, register_ok, privacy_location, help_is_on, help_is_off; {user} is the other user); missing ones use the built-in English.", "{ de = { added = \"{user} hat dich als Kontakt gespeichert.\", add_back = \"{user} auch speichern\", ignore = \"Nein, danke\" } }"),
    ("sysmsg.terms", "Terms every user answers before a login completes (1.3); each option may withhold features (the level of service) or deny; a new version asks everyone again.", "{ version = \"2026-1\", text = \"Messages cost 0.01 each. Accept?\", timeout_secs = 300, older_clients = \"refuse\", options = [{ text = \"Accept\" }, { text = \"Presence only\", withhold = [\"IMFeat\", \"GroupFeat\"] }, { text = \"Decline\", deny = true }] }"),
    ("[search]", "Search (users and groups) and public profiles: limits and privacy rules (BASE-SRCH, SRC-*, PPR-*).", ""),
    ("search.max_findings", "Most users or groups one search may find; more get 536 (refine the search).", ""),
    ("search.default_page", "Results per page when the Search-Request has no SearchLimit.", ""),
    ("search.max_page", "Most results per page, whatever SearchLimit asks.", ""),
    ("search.ttl_secs", "An open search unused this long is forgotten (424 after).", ""),
    ("search.max_open_per_session", "Open searches per session; a new one forgets the oldest.", ""),
    ("search.max_open", "Open searches on the server; a new one forgets the oldest.", ""),
    ("search.max_depth", "Deepest nesting of AdvancedCriteria (parentheses and NOTs count); deeper gets 402.", ""),
    ("search.max_pairs", "Most search pairs in one request (at most 32); more get 402.", ""),
    ("search.max_string_chars", "Longest SearchString, in characters; longer gets 402.", ""),
    ("search.timeout_ms", "How long the store may take to answer one search; longer gets 535.", ""),
    ("search.min_profile_age", "Users younger than this are never found by a profile search and others do not see their profile (PPR-11); 0 = no minimum.", ""),
    ("search.prefix_names", "Accept a trailing * on first, last and friendly names (two characters before it at least); other wildcards always get 537.", ""),
    ("search.profile_consent", "When a complete public profile becomes searchable: \"advice\" (after its owner agrees to a system message) or \"implicit\" (at once).", ""),
    ("search.default_region", "Country (ISO 3166 alpha-2) of MSISDNs searched without +; empty = such numbers get 402.", ""),
    ("search.max_free_text_chars", "Longest free text of a public profile, in characters.", ""),
    ("search.rate_per_sec", "New searches a user may start per second on average (pages of an open search are free); 0 = no limit. Past it: 503 with TryAgainTimeout.", ""),
    ("search.burst", "New searches a user may start at once after a quiet spell.", ""),
    ("search.remote", "Send user and group searches to the peer domains of [federation] too, and answer theirs under this server's own rules (SRC-UC); false = neither.", ""),
    ("search.remote_timeout_ms", "How long a search waits for the peer domains' answers; a peer that has not answered by then is left out (logged).", ""),
    ("[sms]", "The operator's SMSC over SMPP 3.4: SMS CIR (SSMS, WAPSMS) and SMS offline notifications. Off by default.", ""),
    ("sms.enabled", "Bind to the SMSC (as transmitter, or transceiver with sms.delivery_receipts) and send what the queue holds.", ""),
    ("sms.smsc", "host:port of the SMSC's SMPP listener.", ""),
    ("sms.system_id", "system_id of the bind (at most 15 characters).", ""),
    ("sms.password", "password of the bind (at most 8 characters).", ""),
    ("sms.system_type", "system_type of the bind (at most 12 characters).", ""),
    ("sms.source_addr", "Sender address of our short messages.", ""),
    ("sms.source_addr_ton", "Type of number of the sender address (5 = alphanumeric).", ""),
    ("sms.source_addr_npi", "Numbering plan of the sender address.", ""),
    ("sms.dest_addr_ton", "Type of number of the users' numbers (1 = international).", ""),
    ("sms.dest_addr_npi", "Numbering plan of the users' numbers (1 = E.164).", ""),
    ("sms.delivery_receipts", "Ask the SMSC for delivery receipts (registered_delivery) and read them: binds as transceiver instead of transmitter; receipts are counted (impsd_sms_receipts_*) and failures logged.", ""),
    ("sms.window", "Most submits waiting for the SMSC's answer at once.", ""),
    ("sms.enquire_link_secs", "Seconds between enquire_link keep-alives.", ""),
    ("sms.response_timeout_ms", "How long the SMSC may take to answer, in ms; past it the link is made again.", ""),
    ("sms.reconnect_min_ms", "First wait before binding again after the link failed; doubles each time.", ""),
    ("sms.reconnect_max_ms", "Longest wait between two binds.", ""),
    ("sms.throttle_pause_ms", "Pause in sending after the SMSC answers ESME_RTHROTTLED.", ""),
    ("sms.retry_ms", "Wait before a short message the SMSC could not take now is tried again; doubles with each failure of that message.", ""),
    ("sms.retry_max_ms", "Longest wait between two tries of one short message.", ""),
    ("sms.max_attempts", "A short message that failed this many times is dropped (logged, counted in impsd_sms_expired_total).", ""),
    ("sms.max_age_secs", "An offline notification that waited longer than this (an SMSC outage, say) is dropped instead of sent.", ""),
    ("sms.cir_max_age_secs", "The same for an SMS wake-up; a wake-up older than its session wakes no one.", ""),
    ("sms.queue_max", "Most short messages waiting in the store for the SMSC; more are dropped and logged.", ""),
    ("sms.claim_lease_ms", "A short message this node took from the queue is out of other nodes' reach this long while it is sent (a cluster sharing one PostgreSQL sends each once); a node that dies with some in hand leaves them to the others after it. At least twice sms.response_timeout_ms.", ""),
    ("sms.cir", "Offer SSMS CIR: the WVCI line by SMS to the user's registered number.", ""),
    ("sms.cir_wap", "Offer WAPSMS CIR: the WVCI line in a WAP Push by SMS.", ""),
    ("sms.cir_port", "Port SSMS is addressed to (Android listens on 3716); 0 = a plain text SMS.", ""),
    ("sms.cir_min_interval_secs", "Least time between two SMS wake-ups of one session.", ""),
    ("sms.notice_text", "Text of an offline-message notification; {n} is the number waiting. Name no one (SYM-18). Plain ASCII, at most 120 octets with {n} at 20 digits (one short message, also inside a WAP Push).", ""),
    ("[store]", "Where the server's state is kept; the admin commands use the same store.", ""),
    ("store.kind", "\"sqlite\" (the embedded file DATA_DIR/impsd.sqlite) or \"postgres\" (the database at store.url); env IMPSD_STORE_KIND.", ""),
    ("store.synchronous_full", "SQLite: fsync every commit (survives power loss); false = NORMAL (survives a crash of impsd).", ""),
    ("store.busy_timeout_ms", "SQLite: how long a connection waits for another process holding the write lock, in ms.", ""),
    ("store.queue_capacity", "SQLite: length of each job queue (writer, readers); a full queue makes callers wait.", ""),
    ("store.read_connections", "SQLite: read-only connections serving reads beside the writer; 0 = reads go through the writer.", ""),
    ("store.cache_kib", "SQLite: page cache of each connection (the writer and every reader), in KiB. Each fills with the pages it touches and stays full, so the process holds up to (1 + read_connections) times this whatever its number of users; the operating system caches the file besides.", ""),
    ("store.url", "PostgreSQL: the database, e.g. postgres://impsd@db.example:5432/impsd; env IMPSD_STORE_URL; empty with kind = \"sqlite\".", ""),
    ("store.schema", "PostgreSQL: schema of impsd's tables, made at the first start; empty = the connection's default (public).", ""),
    ("store.max_connections", "PostgreSQL: most connections the pool keeps open at once.", ""),
    ("store.pg_batch_window_us", "PostgreSQL: group commit of the message path. A message put or an acknowledged delete waits up to this many microseconds for others, and those that meet go to the database as one transaction (each caller answered after its COMMIT; a failure fails every caller of the batch). 0 = no wait (only calls queued while earlier batches commit go together). Timers are in milliseconds, so any value above 0 waits up to about 1 ms.", ""),
    ("store.pg_batch_max", "PostgreSQL: most calls in one such batch; 1 = no batching (each call its own transaction).", ""),
    ("store.health_timeout_ms", "How long /healthz waits for the store to answer its ping (and, with [cluster] on, for the NATS link to flush) before it reports it unreachable (503), in ms.", ""),
    ("[federation]", "Federation with other IMPS domains over SSP (issue 17): POSTs of application/vnd.wv.ssp+xml on the CSP listener and path. Off by default.", ""),
    ("federation.enabled", "Serve SSP, and route users of the peer domains to their servers (else such an address gets 516).", ""),
    ("federation.peers", "The peer table, the only domains we associate with: [[federation.peers]] domain = \"b.example\", url = \"http://host:port/imps\" or \"https://host:port/imps\" (over TLS its certificate must chain to federation.ca_file and name host; ours, the [tls] certificate, is presented), sus = true for the agreement on user sessions (SUS-1..3: the sessions of its users are relayed from clients here, ours from clients there; off by default), and require_client_cert = true to accept its SSP POSTs only with a client certificate naming its domain or its URL's host (needs tls.cert_file; off by default: a certificate it presents is checked all the same). Entries added with `impsd peer add DOMAIN URL [--sus] [--require-client-cert]` (kept in the store) add to or override it, each flag included (the entry in force decides); DNS SRV discovery (discovery) finds the others.", ""),
    ("federation.association_ttl_secs", "Lifetime of a server association (the shorter of both sides' wins); renewed at 80 % of it.", ""),
    ("federation.handshake_timeout_ms", "How long the six-step secret exchange with a peer may take.", ""),
    ("federation.request_timeout_ms", "How long one POST to a peer may take, connecting included.", ""),
    ("federation.queue_max", "Most SSP transactions waiting for one peer in the store; past it a send to that domain is refused (507). Answers to the peer's own requests have a room as large again on top (they are never refused because our requests filled the queue); a POST from the peer whose answers would not fit is refused before anything in it is done (HTTP 503 with Retry-After).", ""),
    ("federation.retry_min_ms", "First wait before a failed send to a peer is tried again; doubles with each try.", ""),
    ("federation.retry_max_ms", "Longest wait between two tries of a send to a peer.", ""),
    ("federation.expire_secs", "A transaction its peer has not taken within this time is dropped (and logged).", ""),
    ("federation.send_batch", "Most queued transactions of one peer taken and sent in one claim.", ""),
    ("federation.batch_max", "Most SSP transactions sent to a peer in one POST (one Session holding several Transactions, requests and answers alike). 1 sends one per POST. A peer that refuses a POST of several (HTTP 400 or 413) gets one per POST until this server restarts.", ""),
    ("federation.handled_keep_secs", "How long the peers' requests carried out here are remembered (peer and TransactionID, in the store), so that a POST sent again because its answer was lost is answered without being carried out twice. A resend later than this is carried out again.", ""),
    ("federation.send_parallel", "Most peers sent to at once, each by a task of its own (a peer that hangs holds up only itself).", ""),
    ("federation.claim_lease_ms", "How long a node holds a peer's queue it took to send (no other node of a cluster sends to that peer meanwhile); a node that dies leaves it to the others after this. More than handshake_timeout_ms + request_timeout_ms.", ""),
    ("federation.answer_timeout_ms", "How long a client request that needs another domain's answer (GetPresence of a remote user) waits for it; after it that user gets 504.", ""),
    ("federation.ca_file", "PEM file of the CAs that peers' certificates must chain to: the server certificate of an https:// peer, and the client certificate a peer presents on the CSP listener over TLS. Unset: the system's trust store; if that is empty, https:// peers and require_client_cert stop the start.", "\"/etc/impsd/peers-ca.pem\""),
    ("federation.crl_files", "Revocation lists (PEM or DER files) of the CAs that peers' certificates chain to: a certificate listed in its issuer's list is refused, as the server certificate of an https:// peer and as the client certificate a peer presents; intermediates are checked too. A CA with no list here is not checked. Read at start (an unreadable list stops it) and every crl_reload_secs (an unreadable list then leaves the previous ones in force). Connections made before a new list keep their verdict until they close; a peer's POSTs are checked one by one. Needs trust anchors for peers. Empty by default: no revocation check.", ""),
    ("federation.crl_reload_secs", "How often federation.crl_files are read again (seconds, at least 1).", ""),
    ("federation.crl_enforce_next_update", "A revocation list past its nextUpdate time makes every certificate of its CA refused, since a newer list may revoke more (as OpenSSL does). false: an old list still counts and nothing else is checked.", ""),
    ("federation.sus_max_sessions", "Most user sessions relayed to peers' home servers at once (SUS-1..3, peers with sus = true); past it such a login gets 503.", ""),
    ("federation.discovery", "Find the peers that are not in the table by DNS SRV (_imps-server._tcp.DOMAIN; the URL is discovery_scheme://target:port discovery_path). Off by default: with it on, any domain that publishes a record may associate with this server and its users may be written to.", ""),
    ("federation.discovery_name_servers", "The name servers asked for SRV records, as ip:port; empty asks the system's (/etc/resolv.conf).", ""),
    ("federation.discovery_scheme", "The scheme of a discovered peer's URL: https (the default) or http.", ""),
    ("federation.discovery_path", "The path of a discovered peer's URL (impsd serves SSP on its CSP path).", ""),
    ("federation.discovery_cache_max_secs", "Longest time a discovered peer is kept before it is looked up again; the record's TTL when that is shorter.", ""),
    ("federation.discovery_negative_secs", "How long a domain with no SRV record (or whose lookup failed) is taken as no peer before it is looked up again.", ""),
    ("federation.discovered_require_client_cert", "A peer found by DNS SRV (discovery) must present a client certificate naming its domain or its URL's host on every SSP POST, as require_client_cert of a table entry; without one its association and transactions are refused. Needs tls.cert_file and trust anchors for peers. Off by default (a certificate it presents is checked all the same).", ""),
    ("federation.discovery_timeout_ms", "How long one SRV lookup may take; past it the domain is taken as no peer for now (516).", ""),
    ("[cluster]", "Several impsd nodes sharing one PostgreSQL store (issue 18), linked over NATS. Off while nats_url is unset.", ""),
    ("cluster.nats_url", "The NATS server, e.g. nats://127.0.0.1:4222; env IMPSD_CLUSTER_NATS_URL. Unset = this process alone. Needs store.kind = \"postgres\".", "\"nats://127.0.0.1:4222\""),
    ("cluster.node_id", "This node's name among the others (letters, digits, - and _); env IMPSD_CLUSTER_NODE_ID. Unset = a random one at each start.", "\"node-1\""),
    ("cluster.subject_prefix", "First part of every NATS subject this cluster uses: clusters (and tests) sharing one NATS server use different ones.", ""),
    ("cluster.heartbeat_ms", "How often a node publishes its whole session directory (it publishes changes as they happen, within change_scan_ms, too).", ""),
    ("cluster.node_ttl_ms", "A node not heard from for this long is taken for dead: its sessions leave the other nodes' directories.", ""),
    ("cluster.change_scan_ms", "How often a node looks for session changes (logins, logouts, negotiation) to publish.", ""),
    ("cluster.forward_timeout_ms", "How long a CSP request forwarded to the node holding its session may take before the client gets 503.", ""),
    ("cluster.drain_timeout_ms", "How long a node stopping on SIGTERM may take to drain: it refuses new logins, /healthz says draining (503), its clients are told to log in again (Disconnect, after what was queued for them), and what waits for other nodes goes out before it exits.", ""),
    ("cluster.queue_max", "Most events waiting to be published to other nodes; past it new ones are dropped and counted (impsd_cluster_dropped_total).", ""),
    ("[runtime]", "The async runtime of impsd serve.", ""),
    ("runtime.worker_threads", "Threads that run the server's tasks; 0 = one per CPU core. The store's threads and password checks run beside them. See docs/benchmarks.md section 41 for what one thread saves per message.", ""),
];

/// The generated digest key's file name in the data dir.
pub const KEY_FILE: &str = "secret.key";

/// Reads the key file, or makes it (32 random bytes as hex, owner-only)
/// when there is none. Two processes starting at once both end up
/// reading the one that was written first.
fn load_or_make_key(path: &std::path::Path) -> anyhow::Result<[u8; 32]> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let read = |path: &std::path::Path| -> anyhow::Result<[u8; 32]> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
        imps_core::config::parse_key(&path.display().to_string(), Some(text.trim()))
            .map_err(anyhow::Error::msg)?
            .ok_or_else(|| anyhow::anyhow!("{} is empty", path.display()))
    };
    if path.exists() {
        return read(path);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("creating {}: {e}", dir.display()))?;
    }
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("no OS randomness for the key: {e}"))?;
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let made = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    match made {
        Ok(mut f) => {
            f.write_all(format!("{hex}\n").as_bytes())
                .and_then(|()| f.sync_all())
                .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
            tracing::info!(file = %path.display(), "made a digest login key (login.secret_key was not set)");
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read(path),
        Err(e) => Err(anyhow::anyhow!("creating {}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Dotted paths of every setting, and `[section]` for each section.
    fn paths(table: &toml::Table) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for (k, v) in table {
            match v {
                toml::Value::Table(t) => {
                    out.insert(format!("[{k}]"));
                    out.extend(t.keys().map(|sub| format!("{k}.{sub}")));
                }
                _ => {
                    out.insert(k.clone());
                }
            }
        }
        out
    }

    /// The default config with every optional setting given a value, so
    /// that it shows every setting there is.
    fn full() -> Config {
        let mut c = Config::default();
        c.login.secret_key = Some("00".repeat(32));
        c.cir.tcp_advertise_host = Some("h".into());
        c.cir.http_base_url = Some("http://h/cir".into());
        c.tls.cert_file = Some("c.pem".into());
        c.tls.key_file = Some("k.pem".into());
        c.federation.ca_file = Some("ca.pem".into());
        c.cluster.nats_url = Some("nats://h:4222".into());
        c.cluster.node_id = Some("n1".into());
        c.im.webhook_url = Some("http://h/".into());
        c.im.notify_ref_key = Some([1; 32]);
        c.sysmsg
            .texts
            .insert("de".into(), imps_core::SysmsgTexts::default());
        c.sysmsg.terms = Some(imps_core::TermsConfig {
            version: "1".into(),
            text: "t".into(),
            options: vec![imps_core::TermsOption {
                text: "ok".into(),
                ..Default::default()
            }],
            ..Default::default()
        });
        c
    }

    #[test]
    fn every_setting_has_one_explanation() {
        let all = paths(&toml::Table::try_from(full()).unwrap());
        let explained: Vec<&str> = EXPLAIN.iter().map(|e| e.0).collect();
        let unique: BTreeSet<String> = explained.iter().map(|p| p.to_string()).collect();
        assert_eq!(unique.len(), explained.len(), "a path explained twice");
        assert_eq!(unique, all, "EXPLAIN and the settings differ");
        // Each setting is listed under its own section, and unset ones
        // (only those) come with an example.
        let default = paths(&toml::Table::try_from(Config::default()).unwrap());
        let mut section = "";
        for &(path, what, example) in EXPLAIN {
            assert!(!what.is_empty() && !what.contains('\n'), "{path}");
            if let Some(name) = path.strip_prefix('[').and_then(|p| p.strip_suffix(']')) {
                section = name;
                continue;
            }
            let prefix = path.rsplit_once('.').map_or("", |(s, _)| s);
            assert_eq!(prefix, section, "{path} is not under [{section}]");
            assert_eq!(default.contains(path), example.is_empty(), "{path}");
        }
    }

    #[test]
    fn print_default_parses_back_to_the_defaults() {
        let text = Config::print_default().unwrap();
        let parsed: Config = toml::from_str(&text).unwrap();
        assert_eq!(parsed.to_toml(), Config::default().to_toml());
        parsed.validate().unwrap();
        // Every setting line has its explanation right above it.
        let lines: Vec<&str> = text.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            if l.contains(" = ") && !l.starts_with(['#', ' ']) {
                assert!(i > 0 && lines[i - 1].starts_with("# "), "{l}");
            }
        }
        // The examples of unset settings, uncommented, are valid too.
        let mut uncommented = text.clone();
        for &(path, _, example) in EXPLAIN.iter().filter(|e| !e.2.is_empty()) {
            let key = path.rsplit('.').next().unwrap();
            let line = format!("# {key} = {example}\n");
            assert!(uncommented.contains(&line), "{line}");
            uncommented = uncommented.replacen(&line, &format!("{key} = {example}\n"), 1);
        }
        let with_examples: Config = toml::from_str(&uncommented).unwrap();
        assert_eq!(
            with_examples.cir.tcp_advertise_host.as_deref(),
            Some("imps.example.com")
        );
        assert!(with_examples.tls.cert_file.is_some());
        with_examples.validate().unwrap();
    }

    #[test]
    fn choices_read_as_before() {
        let c: Config = toml::from_str(
            "[im]\noversize_policy = \"Charge\"\noffline_notify = \"OFF\"\n\
             offline_notify_bearer = \"wappush\"\n\
             notify_ref_key = \"0101010101010101010101010101010101010101010101010101010101010101\"\n\
             [map]\nprovider = \" URL \"\nurl_template = \"  https://m.example/?a={lat},{lon} \"\n",
        )
        .unwrap();
        assert_eq!(
            c.im.oversize_policy,
            imps_core::config::OversizePolicy::Charge
        );
        assert_eq!(c.im.offline_notify, OfflineNotify::Off);
        assert_eq!(
            c.im.offline_notify_bearer,
            imps_core::config::NotifyBearer::WapPush
        );
        assert_eq!(c.im.notify_ref_key, Some([1; 32]));
        assert_eq!(c.map.mode, imps_core::MapMode::Url);
        assert_eq!(c.map.url_template, "https://m.example/?a={lat},{lon}");
        c.validate().unwrap();
        let back: Config = toml::from_str(&c.to_toml()).unwrap();
        assert_eq!(back.to_toml(), c.to_toml());

        for (text, needle) in [
            (
                "[im]\noversize_policy = \"maybe\"",
                "im.oversize_policy \"maybe\": use none, reject or charge",
            ),
            (
                "[im]\noffline_notify = \"mms\"",
                "im.offline_notify \"mms\": use off, log, webhook or sms",
            ),
            (
                "[im]\noffline_notify_bearer = \"mms\"",
                "im.offline_notify_bearer \"MMS\": use SMS or WAPPUSH",
            ),
            (
                "[im]\nnotify_ref_key = \"xyz\"",
                "im.notify_ref_key is not hex",
            ),
            (
                "[im]\nnotify_ref_key = \"abcd\"",
                "im.notify_ref_key must be 32 bytes (64 hex digits)",
            ),
            (
                "[map]\nprovider = \"google\"",
                "map.provider \"google\": use \"builtin\", \"url\" or \"off\"",
            ),
            ("[store]\nqueue = 3", "unknown field `queue`"),
            ("[lists]\nmax_lists = 3", "unknown field `max_lists`"),
            ("[im]\nwebhook = 3", "unknown field `webhook`"),
        ] {
            let err = toml::from_str::<Config>(text).expect_err(text).to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn validate_checks_every_section() {
        let bad = |f: fn(&mut Config), needle: &str| {
            let mut c = Config::default();
            f(&mut c);
            let err = c.validate().expect_err(needle).to_string();
            assert!(err.contains(needle), "{err}");
        };
        bad(
            |c| c.login.secret_key = Some("zz".into()),
            "login.secret_key is not hex",
        );
        bad(|c| c.path = "imps".into(), "must start with '/'");
        bad(
            |c| c.session.keepalive_min_secs = 99_999,
            "keepalive_min_secs",
        );
        bad(|c| c.tls.cert_file = Some("c.pem".into()), "go together");
        bad(
            |c| {
                c.federation.peers = vec![crate::federation::PeerSettings {
                    domain: "b.example".into(),
                    url: "https://b.example/imps".into(),
                    sus: false,
                    require_client_cert: true,
                }];
            },
            "require_client_cert of b.example needs tls.cert_file",
        );
        bad(|c| c.limits.max_connections = 0, "limits.max_connections");
        bad(|c| c.limits.ws_read_ahead = 0, "limits.ws_read_ahead");
        bad(
            |c| c.limits.ws_concurrent_sends = 0,
            "limits.ws_concurrent_sends",
        );
        bad(|c| c.cir.udp_retries = 11, "cir.udp_retries");
        bad(
            |c| c.runtime.worker_threads = 100_000,
            "runtime.worker_threads",
        );
        bad(
            |c| c.limits.header_timeout_ms = 0,
            "limits.header_timeout_ms",
        );
        bad(|c| c.map.width = 4, "map.width");
        bad(|c| c.map.mode = imps_core::MapMode::Url, "map.url_template");
        bad(
            |c| c.im.offline_notify = OfflineNotify::Webhook,
            "needs im.webhook_url",
        );
        bad(
            |c| {
                c.im.offline_notify = OfflineNotify::Webhook;
                c.im.webhook_url = Some("https://gw.example/".into());
            },
            "must be an http:// URL",
        );
        Config::default().validate().unwrap();
    }

    #[test]
    fn store_section_reaches_the_store_options() {
        let c: Config = toml::from_str(
            "[store]\nsynchronous_full = false\nbusy_timeout_ms = 250\nread_connections = 0\ncache_kib = 512\n",
        )
        .unwrap();
        assert_eq!(c.store.kind, StoreKind::Sqlite);
        assert_eq!(
            c.store.sqlite(),
            SqliteOptions {
                synchronous_full: false,
                busy_timeout_ms: 250,
                read_connections: 0,
                cache_kib: 512,
                ..SqliteOptions::default()
            }
        );
    }

    #[test]
    fn store_section_chooses_postgres() {
        let c: Config = toml::from_str(
            "[store]\nkind = \"postgres\"\nurl = \" postgres://u@db:5432/impsd \"\n\
             schema = \"node_a\"\nmax_connections = 4\n",
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(
            c.store.postgres(),
            PgOptions {
                url: "postgres://u@db:5432/impsd".into(),
                schema: Some("node_a".into()),
                max_connections: 4,
                ..PgOptions::default()
            }
        );
        let no_schema: Config =
            toml::from_str("[store]\nkind = \"postgres\"\nurl = \"postgres://db/x\"\n").unwrap();
        assert_eq!(no_schema.store.postgres().schema, None);
        let bad = |toml: &str, want: &str| {
            let c: Config = toml::from_str(toml).unwrap();
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains(want), "{toml}: {e}");
        };
        bad("[store]\nkind = \"postgres\"\n", "store.url");
        bad("[store]\nurl = \"postgres://db/x\"\n", "store.kind");
        assert!(toml::from_str::<Config>("[store]\nkind = \"mysql\"\n").is_err());
    }

    #[test]
    fn cluster_section_is_off_by_default_and_checked_when_on() {
        let c = Config::default();
        assert!(!c.cluster.enabled());
        c.cluster.check_store(c.store.kind).unwrap();
        let on: Config = toml::from_str(
            "[store]\nkind = \"postgres\"\nurl = \"postgres://db/x\"\n\
             [cluster]\nnats_url = \"nats://127.0.0.1:4222\"\nnode_id = \"node-2\"\n\
             subject_prefix = \"impsd.test\"\n",
        )
        .unwrap();
        on.validate().unwrap();
        assert!(on.cluster.enabled());
        on.cluster.check_store(on.store.kind).unwrap();
        let bad = |toml: &str, want: &str| {
            let c: Config = toml::from_str(toml).unwrap();
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains(want), "{toml}: {e}");
        };
        let url = "[cluster]\nnats_url = \"nats://h:4222\"\n";
        bad(&format!("{url}node_id = \"a.b\"\n"), "cluster.node_id");
        bad(
            &format!("{url}subject_prefix = \"a.*\"\n"),
            "cluster.subject_prefix",
        );
        bad(&format!("{url}node_ttl_ms = 100\n"), "node_ttl_ms");
        // On the embedded SQLite file, the start refuses it.
        let sqlite: Config = toml::from_str(url).unwrap();
        let e = sqlite.cluster.check_store(sqlite.store.kind).unwrap_err();
        assert!(e.to_string().contains("postgres"), "{e}");
    }
}
