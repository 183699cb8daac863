//! Federation over SSP (issue 17): this server's link to the servers of
//! other IMPS domains. `[federation]` names the peers (a static table,
//! entries added at run time, DNS SRV discovery when on); the SSP endpoint shares the CSP
//! listener and path, told apart by its content type
//! (`application/vnd.wv.ssp+xml`).
//!
//! - `assoc`: the server association (the six-step secret exchange, its
//!   lifetime and renewal) and which peer sessions we accept.
//! - `inbound`: an SSP POST: a setup step, or transactions inside an
//!   association, handed to the core.
//! - `outbound`: the worker that carries the core's durable SSP queue to
//!   the peers, with retries and back-off: it claims a peer's queue (one
//!   sender per peer across the nodes of a cluster) and sends to each
//!   peer in a task of its own.
//! - `shared`: associations and stray setup steps passed between the
//!   nodes of a cluster.
//!
//! The core only sees the [`imps_core::federation::Federation`] port:
//! which domains are peers, and "something was queued".
//!
//! - `peers`: who the peers are: the config file's table, the entries an
//!   operator added or removed at run time (kept in the store), and those
//!   found by DNS SRV.

mod assoc;
pub mod inbound;
mod outbound;
pub mod peers;
mod shared;
pub mod sus;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use imps_core::{Service, Store};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, watch};

pub use assoc::PeerView;
pub use peers::PeerSource;

/// `[federation]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FederationSettings {
    /// Serve SSP and route addresses of peer domains to them.
    pub enabled: bool,
    /// The static peer table: the only domains we associate with.
    pub peers: Vec<PeerSettings>,
    /// Lifetime of an association we make; renewed at 80 % of it.
    pub association_ttl_secs: u64,
    /// How long the six-step exchange may take.
    pub handshake_timeout_ms: u64,
    /// How long one POST to a peer may take.
    pub request_timeout_ms: u64,
    /// Most transactions waiting for one peer; more are refused (507).
    pub queue_max: u64,
    /// First wait before a failed send is tried again; doubles each try.
    pub retry_min_ms: u64,
    /// Longest wait between two tries.
    pub retry_max_ms: u64,
    /// A transaction not taken by its peer within this time is dropped.
    pub expire_secs: u64,
    /// Most transactions of one peer taken from the queue in one claim.
    pub send_batch: usize,
    /// Most transactions in one POST to a peer.
    pub batch_max: usize,
    /// How long a peer's requests carried out here are remembered (so a
    /// POST sent again is not carried out twice).
    pub handled_keep_secs: u64,
    /// Most peers sent to at once (one task each).
    pub send_parallel: usize,
    /// How long a claim of a peer's queue keeps it from the other nodes.
    pub claim_lease_ms: u64,
    /// How long a client request that needs a peer's answer (GetPresence
    /// of a remote user) waits for it.
    pub answer_timeout_ms: u64,
    /// Most user sessions relayed to peers at once (SUS); past it a
    /// login to be relayed gets 503.
    pub sus_max_sessions: usize,
    /// PEM file of the CAs that peers' certificates must chain to (the
    /// server certificate of an https:// peer, the client certificate a
    /// peer presents); unset: the system's trust store.
    pub ca_file: Option<std::path::PathBuf>,
    /// Revocation lists (PEM or DER) of the CAs of `ca_file`: a peer's
    /// certificate listed there is refused, as server (our POSTs) and as
    /// client (its POSTs). Empty: nothing is checked for revocation.
    pub crl_files: Vec<std::path::PathBuf>,
    /// How often `crl_files` are read again, so a new list takes effect
    /// without a restart.
    pub crl_reload_secs: u64,
    /// A list past its nextUpdate makes every certificate of its CA
    /// refused (the list may be missing newer revocations); off: an old
    /// list still counts.
    pub crl_enforce_next_update: bool,
    /// Find the peers not in the table by DNS SRV
    /// (`_imps-server._tcp.DOMAIN`). Off by default: any domain that
    /// publishes a record could then associate.
    pub discovery: bool,
    /// The name servers asked (`ip:port`); empty: the system's
    /// (`/etc/resolv.conf`).
    pub discovery_name_servers: Vec<String>,
    /// The scheme of a discovered peer's URL (`https` or `http`).
    pub discovery_scheme: String,
    /// The path of a discovered peer's URL.
    pub discovery_path: String,
    /// Longest time an SRV answer is kept; the record's TTL when shorter.
    pub discovery_cache_max_secs: u64,
    /// How long "no record" (or a failed lookup) is kept.
    pub discovery_negative_secs: u64,
    /// How long one lookup may take.
    pub discovery_timeout_ms: u64,
    /// A discovered peer must present a client certificate naming it on
    /// every SSP POST (as `require_client_cert` of a table entry).
    pub discovered_require_client_cert: bool,
}

/// One row of the peer table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerSettings {
    /// The peer's domain (`b.example`).
    pub domain: String,
    /// Where its SSP endpoint is (`http://host:port/imps`).
    pub url: String,
    /// The interoperability agreement for user sessions (SUS-1..3): we
    /// relay the sessions of the peer's users whose clients log in here,
    /// and serve the sessions of our users that the peer relays.
    #[serde(default)]
    pub sus: bool,
    /// The peer must present a client certificate (TLS) naming it on
    /// every SSP POST; without one its association and transactions are
    /// refused.
    #[serde(default)]
    pub require_client_cert: bool,
}

impl Default for FederationSettings {
    fn default() -> Self {
        FederationSettings {
            enabled: false,
            peers: Vec::new(),
            association_ttl_secs: 86_400,
            handshake_timeout_ms: 10_000,
            request_timeout_ms: 10_000,
            queue_max: 10_000,
            retry_min_ms: 500,
            retry_max_ms: 60_000,
            expire_secs: 86_400,
            send_batch: 64,
            batch_max: 64,
            handled_keep_secs: 3600,
            send_parallel: 16,
            claim_lease_ms: 60_000,
            answer_timeout_ms: 10_000,
            sus_max_sessions: 10_000,
            ca_file: None,
            crl_files: Vec::new(),
            crl_reload_secs: 300,
            crl_enforce_next_update: true,
            discovery: false,
            discovery_name_servers: Vec::new(),
            discovery_scheme: "https".into(),
            discovery_path: "/imps".into(),
            discovery_cache_max_secs: 3600,
            discovery_negative_secs: 300,
            discovery_timeout_ms: 3000,
            discovered_require_client_cert: false,
        }
    }
}

impl FederationSettings {
    /// What serde cannot check.
    pub fn validate(&self, own_domain: &str) -> anyhow::Result<()> {
        let mut seen = std::collections::HashSet::new();
        for p in &self.peers {
            let d = p.domain.trim().to_ascii_lowercase();
            if d.is_empty() || d.contains(['@', '/', ' ']) {
                anyhow::bail!("federation.peers: {:?} is not a domain", p.domain);
            }
            if d == own_domain.to_ascii_lowercase() {
                anyhow::bail!("federation.peers: {d} is this server's own domain");
            }
            if !seen.insert(d.clone()) {
                anyhow::bail!("federation.peers: {d} is listed twice");
            }
            if !(p.url.starts_with("http://") || p.url.starts_with("https://")) {
                anyhow::bail!("federation.peers: the url of {d} must be http:// or https://");
            }
        }
        if self.association_ttl_secs == 0 {
            anyhow::bail!("federation.association_ttl_secs must be at least 1");
        }
        if self.queue_max == 0 || self.send_batch == 0 || self.batch_max == 0 {
            anyhow::bail!("federation.queue_max, send_batch and batch_max must be at least 1");
        }
        if self.send_parallel == 0 {
            anyhow::bail!("federation.send_parallel must be at least 1");
        }
        let step = self
            .handshake_timeout_ms
            .saturating_add(self.request_timeout_ms);
        if self.claim_lease_ms <= step.saturating_add(1000) {
            anyhow::bail!(
                "federation.claim_lease_ms ({}) must be more than handshake_timeout_ms + request_timeout_ms + 1000 ({}): a node must be able to associate and send once within its claim",
                self.claim_lease_ms,
                step.saturating_add(1000)
            );
        }
        for ns in &self.discovery_name_servers {
            if ns.parse::<std::net::SocketAddr>().is_err() {
                anyhow::bail!(
                    "federation.discovery_name_servers: {ns:?} is not ip:port (as 127.0.0.1:53)"
                );
            }
        }
        if !matches!(self.discovery_scheme.as_str(), "https" | "http") {
            anyhow::bail!("federation.discovery_scheme must be \"https\" or \"http\"");
        }
        if !self.discovery_path.starts_with('/') {
            anyhow::bail!("federation.discovery_path must start with /");
        }
        if self.discovery_timeout_ms == 0 {
            anyhow::bail!("federation.discovery_timeout_ms must be at least 1");
        }
        if self.retry_min_ms == 0 || self.retry_max_ms < self.retry_min_ms {
            anyhow::bail!("federation.retry_min_ms must be at least 1 and at most retry_max_ms");
        }
        Ok(())
    }
}

/// Counters of one peer (`/metrics`, `impsd peer list`).
#[derive(Debug, Default)]
pub struct PeerStats {
    /// Transactions the peer took.
    pub sent: AtomicU64,
    /// POSTs of transactions the peer took (each holding one or more).
    pub posts: AtomicU64,
    /// Sends that failed (and were put back for a retry).
    pub failures: AtomicU64,
    /// Transactions dropped after `expire_secs`.
    pub expired: AtomicU64,
    /// Associations made (either side starting).
    pub associations: AtomicU64,
    /// Transactions from the peer carried out, and refused.
    pub received: AtomicU64,
    pub refused: AtomicU64,
    /// Transactions from the peer already handled, sent again (a batch
    /// whose answer the peer did not get): answered, not redone.
    pub duplicates: AtomicU64,
    /// Sum and count of POST round trips that succeeded, in microseconds.
    pub latency_us: AtomicU64,
    pub latency_n: AtomicU64,
    /// Transactions waiting for the peer, as last counted.
    pub queue_depth: AtomicU64,
    /// When a send to the peer last failed (wall ms); 0 after a success.
    pub failed_at_ms: AtomicU64,
}

/// Picks one counter out of a peer's.
type Counter = fn(&PeerStats) -> &AtomicU64;

/// The federation of one server: its settings, peers, associations and
/// counters. The core holds it as its port.
pub struct Federation {
    pub(crate) cfg: FederationSettings,
    /// Our own domain, lower case.
    pub(crate) domain: String,
    /// Who the peers are (and where, and whether with `sus`).
    pub(crate) peers: peers::PeerTable,
    /// DNS SRV discovery, when on.
    discovery: Option<peers::Discovery>,
    /// Relayed and served user sessions.
    pub(crate) sus: sus::Sus,
    pub(crate) stats: peers::StatsTable,
    pub(crate) assoc: Mutex<assoc::Associations>,
    /// Association state changed (a handshake step arrived).
    pub(crate) changed: Notify,
    /// Something was queued.
    pub(crate) wake: Notify,
    pub(crate) client: outbound::Client,
    /// The trust anchors a peer's client certificate is checked against.
    pub(crate) peer_roots: Option<Arc<rustls::RootCertStore>>,
    /// The revocation lists for peers' certificates, when configured.
    pub(crate) peer_crls: Option<Arc<crate::tls::PeerCrls>>,
    /// Whether the CSP listener asks clients for a certificate (it serves
    /// TLS and there are anchors for peers): without it no peer can
    /// present one, so `peer add --require-client-cert` is refused.
    asks_client_certs: bool,
    /// Set once the service exists (the port is made before it).
    service: Mutex<Option<Arc<Service>>>,
    /// The cluster's bus, on a node of one (`shared.rs`).
    pub(crate) bus: Mutex<Option<Arc<crate::cluster::Cluster>>>,
    /// Where the operator's peer entries are kept; set by `load_stored`.
    store: Mutex<Option<Arc<dyn Store>>>,
    /// Peers that refused a POST of several transactions: one per POST
    /// to them until we restart.
    pub(crate) single_posts: Mutex<std::collections::HashSet<String>>,
    /// POSTs of peers' transactions being carried out now; while any is,
    /// what they queue does not wake the sender one at a time.
    holding: AtomicU64,
    /// The (peer, handled key) of every request being carried out now: a
    /// POST sent again while its first copy still runs is refused (503,
    /// Retry-After) instead of being carried out a second time.
    in_flight: Mutex<std::collections::HashSet<(String, String)>>,
}

/// The requests of one POST marked as being carried out; unmarked when
/// dropped.
pub(crate) struct InFlight {
    fed: Arc<Federation>,
    keys: Vec<(String, String)>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut m = self.fed.in_flight.lock();
        for k in &self.keys {
            m.remove(k);
        }
    }
}

/// Held while a peer's POST is carried out: the sender is woken once at
/// the end, so the answers travel back batched.
pub(crate) struct Holding<'a>(&'a Federation);

impl Drop for Holding<'_> {
    fn drop(&mut self) {
        self.0.holding.fetch_sub(1, Ordering::AcqRel);
        self.0.wake.notify_one();
    }
}

impl std::fmt::Debug for Federation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Federation")
            .field("domain", &self.domain)
            .field("peers", &self.peers.keys())
            .finish_non_exhaustive()
    }
}

impl imps_core::federation::Federation for Federation {
    fn is_peer(&self, domain: &str) -> bool {
        self.peers.get(domain).is_some()
    }

    fn discover<'a>(&'a self, domains: &'a [String]) -> imps_core::federation::PeerLookup<'a> {
        Box::pin(async move {
            if self.discovery.is_none() {
                return;
            }
            let lookups = domains.iter().map(|d| self.resolve(d));
            futures_util::future::join_all(lookups).await;
        })
    }

    fn queue_max(&self) -> u64 {
        self.cfg.queue_max
    }

    fn queued(&self, _domain: &str) {
        // While a peer's POST is being carried out, its answers gather
        // and go back together once it is done (`Holding`).
        if self.holding.load(Ordering::Acquire) == 0 {
            self.wake.notify_one();
        }
    }

    fn answer_wait_ms(&self) -> u64 {
        self.cfg.answer_timeout_ms
    }

    fn search_peers(&self) -> Vec<String> {
        // A peer whose last send failed within the longest retry wait is
        // left out: searches would only pile up in its queue.
        let now = now_ms();
        self.peers
            .keys()
            .into_iter()
            .filter(|d| {
                self.stats.get(d).is_none_or(|s| {
                    let failed = s.failed_at_ms.load(Ordering::Relaxed);
                    failed == 0 || now.saturating_sub(failed) > self.cfg.retry_max_ms
                })
            })
            .collect()
    }
}

impl Federation {
    pub fn new(
        cfg: FederationSettings,
        domain: &str,
        tls: crate::tls::PeerTls,
    ) -> anyhow::Result<Arc<Federation>> {
        let peers = peers::PeerTable::from_config(&cfg);
        let stats = peers::StatsTable::new(peers.keys());
        let discovery = peers::Discovery::new(&cfg)?;
        let client = outbound::Client::new(
            Duration::from_millis(cfg.request_timeout_ms.max(1)),
            tls.client,
        );
        Ok(Arc::new(Federation {
            domain: domain.to_ascii_lowercase(),
            peers,
            discovery,
            sus: sus::Sus::default(),
            stats,
            assoc: Mutex::new(assoc::Associations::default()),
            changed: Notify::new(),
            wake: Notify::new(),
            client,
            peer_roots: tls.roots,
            peer_crls: tls.crls,
            asks_client_certs: tls.asks_client_certs,
            service: Mutex::new(None),
            bus: Mutex::new(None),
            store: Mutex::new(None),
            single_posts: Mutex::new(std::collections::HashSet::new()),
            holding: AtomicU64::new(0),
            in_flight: Mutex::new(std::collections::HashSet::new()),
            cfg,
        }))
    }

    /// Lays the operator's stored entries over the config file's table;
    /// keeps `store` for later `peer add|remove`.
    pub async fn load_stored(&self, store: Arc<dyn Store>) -> Result<(), FedError> {
        for p in store.stored_peers().await? {
            if p.require_client_cert && !p.removed && !self.asks_client_certs {
                // Kept, and enforced: the peer is refused until the
                // listener can ask for its certificate again.
                tracing::warn!(peer = %p.domain, "a stored peer entry requires a client certificate but the CSP listener asks for none (no [tls] certificate or no trust anchors for peers): the peer is refused");
            }
            self.peers.apply(&p);
            if !p.removed {
                self.stats.ensure(&p.domain);
            }
        }
        *self.store.lock() = Some(store);
        Ok(())
    }

    /// The entry of `domain` if it is a peer: the table's, or, with
    /// discovery on, what its SRV records say (looked up, or held from an
    /// earlier lookup within their TTL). Never ours, never one the
    /// operator removed.
    pub(crate) async fn resolve(&self, domain: &str) -> Option<peers::PeerEntry> {
        let domain = domain.to_ascii_lowercase();
        if domain == self.domain {
            return None;
        }
        if let Some(e) = self.peers.get(&domain) {
            return Some(e);
        }
        let d = self.discovery.as_ref()?;
        if self.peers.is_removed(&domain) {
            return None;
        }
        let found = d.lookup(&self.peers, &domain).await;
        if found.is_some() {
            self.stats.ensure(&domain);
        }
        found
    }

    /// The SSP endpoint of `peer`, looked up when it must be (the
    /// sending worker asks before each pass for the peer).
    pub(crate) async fn peer_url(&self, peer: &str) -> Option<String> {
        self.resolve(peer).await.map(|e| e.url)
    }

    /// `impsd peer add`: `domain` is a peer at `url` from now on, and
    /// after a restart (kept in the store), over any config file entry.
    /// With `require_client_cert` its POSTs are taken only with a client
    /// certificate naming it, from the next one on.
    pub async fn add_peer(
        &self,
        domain: &str,
        url: &str,
        sus: bool,
        require_client_cert: bool,
    ) -> Result<(), PeerChangeError> {
        let d = domain.trim().to_ascii_lowercase();
        if d.is_empty() || d.contains(['@', '/', ' ', ':']) {
            return Err(PeerChangeError::Invalid(format!(
                "{domain:?} is not a domain"
            )));
        }
        if d == self.domain {
            return Err(PeerChangeError::Invalid(format!(
                "{d} is this server's own domain"
            )));
        }
        let url = url.trim();
        if !(url.starts_with("http://") || url.starts_with("https://"))
            || url.parse::<hyper::Uri>().is_err()
        {
            return Err(PeerChangeError::Invalid(format!(
                "{url:?} is not an http:// or https:// URL"
            )));
        }
        if require_client_cert && !self.asks_client_certs {
            return Err(PeerChangeError::Invalid(
                "--require-client-cert needs the CSP listener on TLS (tls.cert_file and tls.key_file) and trust anchors for peers (federation.ca_file or the system's store): no peer could present a certificate".into(),
            ));
        }
        let stored = imps_core::store::StoredPeer {
            domain: d.clone(),
            url: url.to_string(),
            sus,
            removed: false,
            require_client_cert,
        };
        self.stored()?.put_peer(stored.clone()).await?;
        let replaced = self.peers.get(&d);
        if replaced
            .as_ref()
            .is_some_and(|e| e.require_client_cert && !require_client_cert)
        {
            tracing::warn!(peer = %d, "the peer entry replaced required a client certificate; the new one does not");
        }
        let before = replaced.map(|e| e.url);
        self.peers.apply(&stored);
        self.stats.ensure(&d);
        if before.as_deref() != Some(url) {
            // An association made with another endpoint is not this one's.
            self.forget_association(&d);
        }
        tracing::info!(peer = %d, url, sus, require_client_cert, "SSP peer added");
        Ok(())
    }

    /// `impsd peer remove`: `domain` is no peer from now on (nor after a
    /// restart, nor through DNS): its association ends, new traffic to it
    /// gets 516, what is queued for it waits or expires.
    pub async fn remove_peer(&self, domain: &str) -> Result<(), PeerChangeError> {
        let d = domain.trim().to_ascii_lowercase();
        if !self.peers.contains_key(&d) {
            return Err(PeerChangeError::NotPeer(d));
        }
        let stored = imps_core::store::StoredPeer {
            domain: d.clone(),
            url: String::new(),
            sus: false,
            removed: true,
            require_client_cert: false,
        };
        self.stored()?.put_peer(stored.clone()).await?;
        self.peers.apply(&stored);
        self.peers.forget_found(&d);
        self.forget_association(&d);
        tracing::info!(peer = %d, "SSP peer removed");
        Ok(())
    }

    fn stored(&self) -> Result<Arc<dyn Store>, PeerChangeError> {
        self.store
            .lock()
            .clone()
            .ok_or_else(|| PeerChangeError::Invalid("the server is starting".into()))
    }

    /// Starts the sending worker; it ends when `shutdown` turns true.
    pub fn start(
        self: &Arc<Self>,
        service: Arc<Service>,
        store: Arc<dyn Store>,
        shutdown: watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        *self.service.lock() = Some(service);
        if let Some(crls) = self.peer_crls.clone() {
            let every = Duration::from_secs(self.cfg.crl_reload_secs.max(1));
            tokio::spawn(reload_crls(crls, every, shutdown.clone()));
        }
        tokio::spawn(outbound::run(Arc::clone(self), store, shutdown))
    }

    pub(crate) fn service(&self) -> Option<Arc<Service>> {
        self.service.lock().clone()
    }

    /// Holds the sender's wake-ups until the guard is dropped.
    pub(crate) fn hold_wakes(&self) -> Holding<'_> {
        self.holding.fetch_add(1, Ordering::AcqRel);
        Holding(self)
    }

    /// The store, once `load_stored` ran.
    pub(crate) fn store(&self) -> Option<Arc<dyn Store>> {
        self.store.lock().clone()
    }

    /// Most transactions in one POST to `peer`.
    pub(crate) fn batch_for(&self, peer: &str) -> usize {
        if self.single_posts.lock().contains(peer) {
            1
        } else {
            self.cfg.batch_max.max(1)
        }
    }

    /// The room for our queue to `peer`, answers to its requests
    /// included: `queue_max` for our own requests and as much again for
    /// answers, so that the peer's requests are never refused because
    /// ours filled the queue.
    /// Marks the requests `keys` of `peer` as being carried out; None
    /// when one of them already is (the peer sent the POST again while
    /// its first copy runs).
    pub(crate) fn begin_requests(
        self: &Arc<Self>,
        peer: &str,
        keys: &[String],
    ) -> Option<InFlight> {
        let mut m = self.in_flight.lock();
        let keys: Vec<(String, String)> =
            keys.iter().map(|k| (peer.to_string(), k.clone())).collect();
        if keys.iter().any(|k| m.contains(k)) {
            return None;
        }
        for k in &keys {
            m.insert(k.clone());
        }
        drop(m);
        Some(InFlight {
            fed: Arc::clone(self),
            keys,
        })
    }

    pub(crate) fn answer_room(&self) -> u64 {
        self.cfg.queue_max.saturating_mul(2)
    }

    pub(crate) fn stats(&self, peer: &str) -> Option<Arc<PeerStats>> {
        self.stats.get(peer)
    }

    /// The `/metrics` lines of every peer.
    pub fn render_metrics(&self) -> String {
        let mut out = String::new();
        let rows: [(&str, &str, Counter); 11] = [
            (
                "impsd_ssp_queue_depth",
                "SSP transactions waiting for the peer",
                |s| &s.queue_depth,
            ),
            (
                "impsd_ssp_sent_total",
                "SSP transactions the peer took",
                |s| &s.sent,
            ),
            (
                "impsd_ssp_posts_total",
                "POSTs of SSP transactions the peer took (one or more each)",
                |s| &s.posts,
            ),
            (
                "impsd_ssp_send_failures_total",
                "SSP sends that failed and wait for a retry",
                |s| &s.failures,
            ),
            (
                "impsd_ssp_expired_total",
                "SSP transactions dropped unsent after federation.expire_secs",
                |s| &s.expired,
            ),
            (
                "impsd_ssp_associations_total",
                "server associations made with the peer",
                |s| &s.associations,
            ),
            (
                "impsd_ssp_received_total",
                "SSP transactions from the peer carried out",
                |s| &s.received,
            ),
            (
                "impsd_ssp_refused_total",
                "SSP transactions from the peer refused",
                |s| &s.refused,
            ),
            (
                "impsd_ssp_duplicates_total",
                "SSP transactions from the peer sent again after they were handled; not redone",
                |s| &s.duplicates,
            ),
            (
                "impsd_ssp_send_latency_us_sum",
                "sum of the round trips of SSP sends, in microseconds",
                |s| &s.latency_us,
            ),
            ("impsd_ssp_send_latency_us_count", "SSP sends timed", |s| {
                &s.latency_n
            }),
        ];
        for (name, help, get) in rows {
            // The queue depth goes down as well as up.
            let kind = if name == "impsd_ssp_queue_depth" {
                "gauge"
            } else {
                "counter"
            };
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            for (peer, s) in &self.stats.snapshot() {
                let v = get(s).load(Ordering::Relaxed);
                out.push_str(&format!("{name}{{peer=\"{peer}\"}} {v}\n"));
            }
        }
        out.push_str(&self.sus.render_metrics(self.peers.keys().iter()));
        out
    }

    /// Every peer with its association and counters (`impsd peer list`).
    pub fn peer_views(&self) -> Vec<PeerView> {
        let now = now_ms();
        let a = self.assoc.lock();
        self.peers
            .entries()
            .into_iter()
            .map(|(domain, e)| {
                let stats = self.stats.get(&domain);
                let mut v = a.view(&domain, &e.url, e.source, now, stats.as_deref());
                v.require_client_cert = e.require_client_cert;
                v
            })
            .collect()
    }
}

/// Wall-clock milliseconds (association lifetimes are wall time).
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Why `impsd peer add|remove` was refused.
#[derive(Debug, thiserror::Error)]
pub enum PeerChangeError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0} is not in the peer table")]
    NotPeer(String),
    #[error("store: {0}")]
    Store(#[from] imps_core::StoreError),
}

/// Why talking to a peer failed.
#[derive(Debug, thiserror::Error)]
pub enum FedError {
    #[error("{0} is not in the peer table")]
    NotPeer(String),
    #[error("POST to {url} failed: {why}")]
    Http { url: String, why: String },
    #[error("{url} answered HTTP {code}")]
    Status { url: String, code: u16 },
    #[error("association with {0} not made in time")]
    HandshakeTimeout(String),
    #[error("association with {peer} refused: {why}")]
    Refused { peer: String, why: String },
    #[error("store: {0}")]
    Store(#[from] imps_core::StoreError),
}

/// Reads the peers' revocation lists again every `every` until shutdown;
/// a failed reading is logged and the lists in force stay.
async fn reload_crls(
    crls: Arc<crate::tls::PeerCrls>,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
        match crls.reload().await {
            Ok(n) => tracing::debug!(lists = n, "revocation lists for peers read again"),
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "revocation lists for peers could not be read again; the previous ones stay in force")
            }
        }
    }
}
