//! Who the peers are (issue 17): the config file's table, the entries an
//! operator added or removed at run time (kept in the store, see
//! `imps_core::store::PeerStore`), and the domains found by DNS SRV
//! (`_imps-server._tcp.DOMAIN`), each kept no longer than its record's
//! TTL.
//!
//! Precedence: an operator's entry (added or removed) over the config
//! file's, and either over DNS. A domain the operator removed is no peer
//! even if it publishes a record; `peer add` undoes that.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use imps_core::store::StoredPeer;
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};

use super::{FederationSettings, PeerStats, now_ms};

/// Where a peer entry came from (`impsd peer list`, last column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PeerSource {
    /// `[[federation.peers]]` in the config file.
    Config,
    /// `impsd peer add` (kept in the store).
    Added,
    /// A DNS SRV record.
    Discovered,
}

impl PeerSource {
    pub fn as_str(self) -> &'static str {
        match self {
            PeerSource::Config => "config",
            PeerSource::Added => "added",
            PeerSource::Discovered => "discovered",
        }
    }
}

/// One peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PeerEntry {
    /// Its SSP endpoint.
    pub url: String,
    /// The agreement on user sessions (never for a discovered peer: an
    /// agreement is not something DNS can say).
    pub sus: bool,
    /// The peer must present a client certificate naming it on every SSP
    /// POST: the config file's `require_client_cert`, `peer add
    /// --require-client-cert`, or `discovered_require_client_cert`.
    pub require_client_cert: bool,
    pub source: PeerSource,
    /// Wall ms after which a discovered entry is looked up again;
    /// `u64::MAX` for the others.
    pub until_ms: u64,
}

/// What a lookup found, kept until `until_ms`.
#[derive(Debug, Clone)]
enum Found {
    Peer(PeerEntry),
    Nothing { until_ms: u64 },
}

/// Most discovery answers kept (peers and "no record" alike); past it
/// the expired ones go, then the negative ones.
const MAX_FOUND: usize = 4096;

/// The peer table of a running server.
pub(crate) struct PeerTable {
    /// The config file's entries with the operator's laid over them.
    fixed: RwLock<BTreeMap<String, PeerEntry>>,
    /// Domains the operator removed.
    removed: RwLock<BTreeSet<String>>,
    /// Discovery answers.
    found: Mutex<BTreeMap<String, Found>>,
}

impl PeerTable {
    pub(crate) fn from_config(cfg: &FederationSettings) -> PeerTable {
        let fixed = cfg
            .peers
            .iter()
            .map(|p| {
                (
                    p.domain.trim().to_ascii_lowercase(),
                    PeerEntry {
                        url: p.url.trim().to_string(),
                        sus: p.sus,
                        require_client_cert: p.require_client_cert,
                        source: PeerSource::Config,
                        until_ms: u64::MAX,
                    },
                )
            })
            .collect();
        PeerTable {
            fixed: RwLock::new(fixed),
            removed: RwLock::default(),
            found: Mutex::default(),
        }
    }

    /// Lays one stored entry over the table.
    pub(crate) fn apply(&self, p: &StoredPeer) {
        let d = p.domain.to_ascii_lowercase();
        self.found.lock().remove(&d);
        if p.removed {
            self.fixed.write().remove(&d);
            self.removed.write().insert(d);
        } else {
            self.removed.write().remove(&d);
            self.fixed.write().insert(
                d,
                PeerEntry {
                    url: p.url.clone(),
                    sus: p.sus,
                    require_client_cert: p.require_client_cert,
                    source: PeerSource::Added,
                    until_ms: u64::MAX,
                },
            );
        }
    }

    /// The entry of `domain` if it is a peer now.
    pub(crate) fn get(&self, domain: &str) -> Option<PeerEntry> {
        if let Some(e) = self.fixed.read().get(domain) {
            return Some(e.clone());
        }
        match self.found.lock().get(domain) {
            Some(Found::Peer(e)) if e.until_ms > now_ms() => Some(e.clone()),
            _ => None,
        }
    }

    /// The SSP endpoint of `domain` if it is a peer now.
    pub(crate) fn url(&self, domain: &str) -> Option<String> {
        self.get(domain).map(|e| e.url)
    }

    /// Whether traffic from `domain` inside an association may be taken:
    /// a peer now, or a discovered one whose record's TTL ran out since
    /// (the association was proven while it held; it ends with its own
    /// lifetime).
    pub(crate) fn contains_key(&self, domain: &str) -> bool {
        self.fixed.read().contains_key(domain)
            || matches!(self.found.lock().get(domain), Some(Found::Peer(_)))
    }

    /// Whether `domain` must present a client certificate: the flag of
    /// its entry in force (an operator's over the config file's), or of
    /// what discovery found, also once that record's TTL ran out (its
    /// association's traffic is still taken, see `contains_key`).
    pub(crate) fn requires_client_cert(&self, domain: &str) -> bool {
        if let Some(e) = self.fixed.read().get(domain) {
            return e.require_client_cert;
        }
        matches!(
            self.found.lock().get(domain),
            Some(Found::Peer(e)) if e.require_client_cert
        )
    }

    /// Whether `domain` has the agreement on user sessions.
    pub(crate) fn is_sus(&self, domain: &str) -> bool {
        self.fixed.read().get(domain).is_some_and(|e| e.sus)
    }

    pub(crate) fn is_removed(&self, domain: &str) -> bool {
        self.removed.read().contains(domain)
    }

    /// Every peer now, in domain order.
    pub(crate) fn entries(&self) -> Vec<(String, PeerEntry)> {
        let now = now_ms();
        let mut all: BTreeMap<String, PeerEntry> = self
            .found
            .lock()
            .iter()
            .filter_map(|(d, f)| match f {
                Found::Peer(e) if e.until_ms > now => Some((d.clone(), e.clone())),
                _ => None,
            })
            .collect();
        for (d, e) in self.fixed.read().iter() {
            all.insert(d.clone(), e.clone());
        }
        all.into_iter().collect()
    }

    /// Every peer domain now.
    pub(crate) fn keys(&self) -> Vec<String> {
        self.entries().into_iter().map(|(d, _)| d).collect()
    }

    /// A discovery answer that holds (peer or not) for `domain`; `None`
    /// when it must be looked up.
    fn cached(&self, domain: &str, now: u64) -> Option<Option<PeerEntry>> {
        match self.found.lock().get(domain) {
            Some(Found::Peer(e)) if e.until_ms > now => Some(Some(e.clone())),
            Some(Found::Nothing { until_ms }) if *until_ms > now => Some(None),
            _ => None,
        }
    }

    fn remember(&self, domain: &str, f: Found) {
        let now = now_ms();
        let mut found = self.found.lock();
        if found.len() >= MAX_FOUND {
            found.retain(|_, f| match f {
                Found::Peer(e) => e.until_ms > now,
                Found::Nothing { until_ms } => *until_ms > now,
            });
            if found.len() >= MAX_FOUND {
                found.retain(|_, f| matches!(f, Found::Peer(_)));
            }
        }
        found.insert(domain.to_string(), f);
    }

    /// Drops what discovery found for `domain`.
    pub(crate) fn forget_found(&self, domain: &str) {
        self.found.lock().remove(domain);
    }
}

/// The counters of every peer that had any (`/metrics`).
#[derive(Default)]
pub(crate) struct StatsTable {
    inner: Mutex<BTreeMap<String, Arc<PeerStats>>>,
}

impl StatsTable {
    pub(crate) fn new(domains: impl IntoIterator<Item = String>) -> StatsTable {
        StatsTable {
            inner: Mutex::new(
                domains
                    .into_iter()
                    .map(|d| (d, Arc::new(PeerStats::default())))
                    .collect(),
            ),
        }
    }

    pub(crate) fn get(&self, domain: &str) -> Option<Arc<PeerStats>> {
        self.inner.lock().get(domain).cloned()
    }

    /// The counters of `domain`, made when it has none yet.
    pub(crate) fn ensure(&self, domain: &str) -> Arc<PeerStats> {
        Arc::clone(self.inner.lock().entry(domain.to_string()).or_default())
    }

    pub(crate) fn values(&self) -> Vec<Arc<PeerStats>> {
        self.inner.lock().values().cloned().collect()
    }

    pub(crate) fn snapshot(&self) -> Vec<(String, Arc<PeerStats>)> {
        self.inner
            .lock()
            .iter()
            .map(|(d, s)| (d.clone(), Arc::clone(s)))
            .collect()
    }
}

/// Whether `domain` may be a DNS name we look up (letters, digits,
/// hyphens, dots; no empty label).
fn is_dns_name(domain: &str) -> bool {
    !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Peer discovery by DNS SRV.
pub(crate) struct Discovery {
    resolver: TokioResolver,
    scheme: String,
    path: String,
    cache_max_ms: u64,
    negative_ms: u64,
    timeout: Duration,
    /// `discovered_require_client_cert`.
    require_client_cert: bool,
}

impl Discovery {
    /// `None` when discovery is off.
    pub(crate) fn new(cfg: &FederationSettings) -> anyhow::Result<Option<Discovery>> {
        if !cfg.discovery {
            return Ok(None);
        }
        let provider = TokioRuntimeProvider::default();
        let mut builder = if cfg.discovery_name_servers.is_empty() {
            TokioResolver::builder(provider).map_err(|e| {
                anyhow::anyhow!("federation.discovery: reading the system's DNS settings: {e}")
            })?
        } else {
            let mut rc = ResolverConfig::from_parts(None, vec![], vec![]);
            for ns in &cfg.discovery_name_servers {
                let addr: std::net::SocketAddr = ns.parse()?;
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                rc.add_name_server(NameServerConfig::new(addr.ip(), true, vec![udp, tcp]));
            }
            TokioResolver::builder_with_config(rc, provider)
        };
        let timeout = Duration::from_millis(cfg.discovery_timeout_ms.max(1));
        let opts = builder.options_mut();
        opts.timeout = timeout;
        opts.attempts = 1;
        let resolver = builder
            .build()
            .map_err(|e| anyhow::anyhow!("federation.discovery: the resolver: {e}"))?;
        Ok(Some(Discovery {
            resolver,
            scheme: cfg.discovery_scheme.clone(),
            path: cfg.discovery_path.clone(),
            cache_max_ms: cfg.discovery_cache_max_secs.saturating_mul(1000),
            negative_ms: cfg.discovery_negative_secs.saturating_mul(1000),
            timeout,
            require_client_cert: cfg.discovered_require_client_cert,
        }))
    }

    /// Looks `domain` up (or finds its answer still held) and keeps the
    /// answer in `table`. Never takes longer than the lookup timeout.
    pub(crate) async fn lookup(&self, table: &PeerTable, domain: &str) -> Option<PeerEntry> {
        let now = now_ms();
        if let Some(held) = table.cached(domain, now) {
            return held;
        }
        let found = self.ask(domain).await;
        let now = now_ms();
        match found {
            Some((url, ttl_secs)) => {
                // Kept for the record's TTL (at least a second, so that the
                // request that looked it up sees it), at most cache_max.
                let keep = (u64::from(ttl_secs) * 1000)
                    .min(self.cache_max_ms)
                    .max(1000);
                let e = PeerEntry {
                    url,
                    sus: false,
                    require_client_cert: self.require_client_cert,
                    source: PeerSource::Discovered,
                    until_ms: now.saturating_add(keep),
                };
                table.remember(domain, Found::Peer(e.clone()));
                Some(e)
            }
            None => {
                table.remember(
                    domain,
                    Found::Nothing {
                        until_ms: now.saturating_add(self.negative_ms),
                    },
                );
                None
            }
        }
    }

    /// The URL the SRV records of `domain` give, with their TTL: the
    /// record of the lowest priority, of those the heaviest weight.
    async fn ask(&self, domain: &str) -> Option<(String, u32)> {
        if !is_dns_name(domain) {
            return None;
        }
        let name = format!("_imps-server._tcp.{domain}.");
        let answer = match tokio::time::timeout(self.timeout, self.resolver.srv_lookup(name)).await
        {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => {
                if e.is_no_records_found() || e.is_nx_domain() {
                    tracing::debug!(domain, "no SSP SRV record; not a peer");
                } else {
                    tracing::info!(domain, error = %e, "SSP SRV lookup failed; not a peer for now");
                }
                return None;
            }
            Err(_) => {
                tracing::info!(domain, "SSP SRV lookup timed out; not a peer for now");
                return None;
            }
        };
        let mut best: Option<(u16, u16, u16, String, u32)> = None;
        for r in answer.answers() {
            let RData::SRV(srv) = &r.data else {
                continue;
            };
            let target = srv.target.to_ascii();
            let target = target.trim_end_matches('.').to_ascii_lowercase();
            // "." means the service is decidedly not there.
            if target.is_empty() || srv.port == 0 {
                continue;
            }
            let better = best.as_ref().is_none_or(|(p, w, ..)| {
                srv.priority < *p || (srv.priority == *p && srv.weight > *w)
            });
            if better {
                best = Some((srv.priority, srv.weight, srv.port, target, r.ttl));
            }
        }
        let (_, _, port, target, ttl) = best?;
        let url = format!("{}://{target}:{port}{}", self.scheme, self.path);
        tracing::info!(domain, url = %url, ttl, "SSP peer found by DNS SRV");
        Some((url, ttl))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::federation::PeerSettings;

    fn stored(domain: &str, require_client_cert: bool, removed: bool) -> StoredPeer {
        StoredPeer {
            domain: domain.into(),
            url: format!("https://{domain}/imps"),
            sus: false,
            removed,
            require_client_cert,
        }
    }

    #[test]
    fn the_entry_in_force_says_whether_a_client_certificate_is_required() {
        let cfg = FederationSettings {
            peers: vec![
                PeerSettings {
                    domain: "strict.example".into(),
                    url: "https://strict.example/imps".into(),
                    sus: false,
                    require_client_cert: true,
                },
                PeerSettings {
                    domain: "lax.example".into(),
                    url: "https://lax.example/imps".into(),
                    sus: false,
                    require_client_cert: false,
                },
            ],
            ..FederationSettings::default()
        };
        let t = PeerTable::from_config(&cfg);
        assert!(t.requires_client_cert("strict.example"));
        assert!(!t.requires_client_cert("lax.example"));
        assert!(!t.requires_client_cert("unknown.example"));
        // An operator's entry, added while running, over the config's.
        t.apply(&stored("lax.example", true, false));
        assert!(t.requires_client_cert("lax.example"));
        t.apply(&stored("strict.example", false, false));
        assert!(!t.requires_client_cert("strict.example"));
        t.apply(&stored("new.example", true, false));
        assert!(t.requires_client_cert("new.example"));
        t.apply(&stored("new.example", true, true));
        assert!(!t.requires_client_cert("new.example"), "removed: no entry");
        // A discovered one carries the discovery setting's flag, also
        // once its record's TTL ran out (its association's traffic is
        // still taken).
        t.remember(
            "found.example",
            Found::Peer(PeerEntry {
                url: "https://found.example/imps".into(),
                sus: false,
                require_client_cert: true,
                source: PeerSource::Discovered,
                until_ms: 1,
            }),
        );
        assert!(t.get("found.example").is_none(), "expired");
        assert!(t.requires_client_cert("found.example"));
    }
}
