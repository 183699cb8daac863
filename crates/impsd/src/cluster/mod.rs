//! Several impsd nodes sharing one PostgreSQL store, linked over NATS
//! (issue 18). This module is the core's [`imps_core::cluster::Cluster`]
//! port: a replica of the session directory in memory, a bounded queue of
//! what goes to other nodes, and the tasks that talk to NATS.
//!
//! Subjects, under `cluster.subject_prefix` (P):
//! - `P.dir.NODE`: NODE's session directory: changes as they happen, and
//!   the whole of it every `heartbeat_ms` (which is also its heartbeat);
//! - `P.node.NODE`: what other nodes send NODE: primitives for its
//!   sessions, "a message was stored for one of your users";
//! - `P.presence`: "this owner's presence changed in the store";
//! - `P.csp.NODE`: CSP requests for NODE's sessions that reached another
//!   node (request-reply);
//! - `P.ssp`: federation's news for every node (an SSP association that
//!   went live, a setup step for another node's handshake;
//!   `federation/shared.rs`).
//!
//! Why a directory published on the bus rather than a table or a KV
//! bucket: see docs/architecture.md, "Several nodes".

mod directory;
mod wire;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use imps_core::Service;
use imps_core::cluster::RemoteSession;
use imps_wire::Element;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};

use directory::Directory;
use wire::{DirMsg, Item, NodeBatch, PresenceMsg};

/// `[cluster]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterSettings {
    /// The NATS server; `None` = no cluster.
    pub nats_url: Option<String>,
    /// This node's name; `None` = random at each start.
    pub node_id: Option<String>,
    pub subject_prefix: String,
    pub heartbeat_ms: u64,
    pub node_ttl_ms: u64,
    pub change_scan_ms: u64,
    pub forward_timeout_ms: u64,
    pub queue_max: usize,
    /// How long a stopping node (SIGTERM) may take to send its clients
    /// elsewhere and hand over what it holds.
    pub drain_timeout_ms: u64,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings {
            nats_url: None,
            node_id: None,
            subject_prefix: "impsd".into(),
            heartbeat_ms: 1000,
            node_ttl_ms: 5000,
            change_scan_ms: 100,
            forward_timeout_ms: 5000,
            queue_max: 10_000,
            drain_timeout_ms: 10_000,
        }
    }
}

/// A subject token: no dots, spaces or wildcards.
fn token_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl ClusterSettings {
    pub fn enabled(&self) -> bool {
        self.nats_url.as_ref().is_some_and(|u| !u.trim().is_empty())
    }

    /// The settings alone; that the store is PostgreSQL is checked at
    /// the start ([`ClusterSettings::check_store`]), since the examples of
    /// `impsd config print-default` leave the store SQLite.
    pub fn validate(&self) -> anyhow::Result<()> {
        if !self.enabled() {
            return Ok(());
        }
        if let Some(n) = &self.node_id
            && !token_ok(n)
        {
            anyhow::bail!("cluster.node_id {n:?}: letters, digits, - and _ only (at most 64)");
        }
        if !self.subject_prefix.split('.').all(token_ok) {
            anyhow::bail!(
                "cluster.subject_prefix {:?}: dot-separated tokens of letters, digits, - and _",
                self.subject_prefix
            );
        }
        if self.heartbeat_ms == 0 || self.change_scan_ms == 0 || self.queue_max == 0 {
            anyhow::bail!("cluster.heartbeat_ms, change_scan_ms and queue_max must be above 0");
        }
        if self.node_ttl_ms < 2 * self.heartbeat_ms {
            anyhow::bail!("cluster.node_ttl_ms must be at least twice heartbeat_ms");
        }
        Ok(())
    }
}

impl ClusterSettings {
    /// Nodes share their state through PostgreSQL: a cluster on the
    /// embedded SQLite file would be nodes that share nothing.
    pub fn check_store(&self, store: crate::config::StoreKind) -> anyhow::Result<()> {
        if self.enabled() && store != crate::config::StoreKind::Postgres {
            anyhow::bail!(
                "cluster.nats_url is set but store.kind is not \"postgres\": nodes share their state through PostgreSQL"
            );
        }
        Ok(())
    }
}

/// What waits in the queue to the publisher task.
enum Out {
    Ship {
        node: String,
        session_id: String,
        bodies: Vec<Element>,
    },
    Stored {
        node: String,
        user: String,
        id: String,
    },
    Presence(String),
}

#[derive(Default)]
struct Counters {
    shipped: AtomicU64,
    dropped: AtomicU64,
    received: AtomicU64,
    forwarded: AtomicU64,
    forward_failed: AtomicU64,
    forwarded_in: AtomicU64,
    node_id_conflicts: AtomicU64,
    publish_failed: AtomicU64,
    dead_sessions_ended: AtomicU64,
}

/// One node's view of the cluster.
pub struct Cluster {
    settings: ClusterSettings,
    node: String,
    /// Random per start: a restarted node (same name) is a new incarnation,
    /// and its old directory entries are dropped at its first message.
    incarnation: u64,
    /// This run's name on its sessions in the store (`directory::holder`).
    holder: String,
    client: async_nats::Client,
    dir: parking_lot::RwLock<Directory>,
    tx: mpsc::Sender<Out>,
    /// Items queued and not yet handed to NATS (a drain waits for 0).
    pending: AtomicU64,
    rx: parking_lot::Mutex<Option<mpsc::Receiver<Out>>>,
    counters: Counters,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("node", &self.node).finish()
    }
}

/// What a node answers for a forwarded CSP request.
pub enum Forwarded {
    /// The owning node's answer: its content type (empty for an empty
    /// body) and body.
    Answer(String, Bytes),
    /// Nobody answered in time, or the session is not there: the request
    /// is handled here (which answers as for an unknown session).
    NotThere,
}

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        // Time as a fallback: the incarnation only has to differ from the
        // previous start's.
        return std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
    }
    u64::from_le_bytes(b)
}

impl Cluster {
    /// Connects to NATS (the start fails when it cannot).
    pub async fn connect(settings: ClusterSettings) -> anyhow::Result<Arc<Cluster>> {
        let url = settings.nats_url.clone().unwrap_or_default();
        let node = settings
            .node_id
            .clone()
            .unwrap_or_else(|| format!("n{:012x}", random_u64() & 0xffff_ffff_ffff));
        let client = async_nats::ConnectOptions::new()
            .name(format!("impsd-{node}"))
            .request_timeout(Some(Duration::from_millis(
                settings.forward_timeout_ms.max(1),
            )))
            .connect(url.trim())
            .await
            .map_err(|e| anyhow::anyhow!("connecting to NATS (cluster.nats_url): {e}"))?;
        let (tx, rx) = mpsc::channel(settings.queue_max.max(1));
        let incarnation = random_u64();
        Ok(Arc::new(Cluster {
            settings,
            holder: directory::holder(&node, incarnation),
            node,
            incarnation,
            client,
            dir: parking_lot::RwLock::new(Directory::default()),
            tx,
            pending: AtomicU64::new(0),
            rx: parking_lot::Mutex::new(Some(rx)),
            counters: Counters::default(),
        }))
    }

    pub fn node_id(&self) -> &str {
        &self.node
    }

    fn subject(&self, kind: &str, node: &str) -> String {
        format!("{}.{kind}.{node}", self.settings.subject_prefix)
    }

    fn queue(&self, o: Out) {
        self.pending.fetch_add(1, Ordering::SeqCst);
        if self.tx.try_send(o).is_err() {
            self.pending.fetch_sub(1, Ordering::SeqCst);
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The end of a drain: once what waits for the other nodes has gone
    /// out (or at `deadline`), publishes an empty directory (this node's
    /// sessions are gone: their ClientIDs are free at once on every
    /// node, without waiting for the node TTL) and flushes the link.
    pub async fn leave(&self, deadline: tokio::time::Instant) {
        while self.pending.load(Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let m = DirMsg {
            node: self.node.clone(),
            incarnation: self.incarnation,
            reset: true,
            put: Vec::new(),
            del: Vec::new(),
        };
        self.publish(self.subject("dir", &self.node), &m).await;
        if tokio::time::timeout_at(deadline, self.client.flush())
            .await
            .is_err()
        {
            tracing::warn!("drain: NATS did not take the last messages in time");
        }
    }

    pub fn drain_timeout(&self) -> Duration {
        Duration::from_millis(self.settings.drain_timeout_ms)
    }

    /// The node holding session `id`, when another one does.
    pub fn node_of(&self, id: &str) -> Option<String> {
        self.dir.read().session(id).map(|r| r.node.clone())
    }

    /// Sessions on other nodes, as this node's directory has them.
    pub fn remote_session_count(&self) -> usize {
        self.dir.read().len()
    }

    /// Whether the NATS link serves now (`/healthz`): the client must be
    /// connected, and what it has buffered must reach the server within
    /// `within`. An error says why not.
    pub async fn nats_health(&self, within: Duration) -> Result<(), String> {
        let state = self.client.connection_state();
        if state != async_nats::connection::State::Connected {
            return Err(format!("not connected, {state}"));
        }
        match tokio::time::timeout(within, self.client.flush()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {} ms", within.as_millis())),
        }
    }

    /// Sends a CSP request to the node holding its session.
    pub async fn forward(&self, node: &str, content_type: &str, body: &[u8]) -> Forwarded {
        self.counters.forwarded.fetch_add(1, Ordering::Relaxed);
        let payload = wire::frame(content_type, body);
        let ask = self.client.request(self.subject("csp", node), payload);
        let timeout = Duration::from_millis(self.settings.forward_timeout_ms.max(1));
        match tokio::time::timeout(timeout, ask).await {
            Ok(Ok(m)) => match wire::unframe(&m.payload) {
                Some((ct, _)) if ct == wire::NOT_HERE => {
                    self.counters.forward_failed.fetch_add(1, Ordering::Relaxed);
                    Forwarded::NotThere
                }
                Some((ct, b)) => Forwarded::Answer(ct.to_string(), Bytes::copy_from_slice(b)),
                None => {
                    self.counters.forward_failed.fetch_add(1, Ordering::Relaxed);
                    Forwarded::NotThere
                }
            },
            Ok(Err(e)) => {
                tracing::info!(node, error = %e, "forwarded CSP request not answered");
                self.counters.forward_failed.fetch_add(1, Ordering::Relaxed);
                Forwarded::NotThere
            }
            Err(_) => {
                tracing::info!(node, "forwarded CSP request timed out");
                self.counters.forward_failed.fetch_add(1, Ordering::Relaxed);
                Forwarded::NotThere
            }
        }
    }

    /// Starts the tasks: directory (publish and follow), the publisher of
    /// the queue, the receivers. `answer` handles a CSP request forwarded
    /// here.
    pub async fn start(
        self: &Arc<Self>,
        service: Arc<Service>,
        app: Arc<crate::http::AppState>,
        shut: watch::Receiver<bool>,
    ) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
        let p = &self.settings.subject_prefix;
        let dir_sub = self.client.subscribe(format!("{p}.dir.*")).await?;
        let node_sub = self
            .client
            .subscribe(self.subject("node", &self.node))
            .await?;
        let pres_sub = self.client.subscribe(format!("{p}.presence")).await?;
        let csp_sub = self
            .client
            .subscribe(self.subject("csp", &self.node))
            .await?;
        let mut tasks = Vec::new();
        let rx = self.rx.lock().take();
        if let Some(rx) = rx {
            tasks.push(spawn_until(shut.clone(), self.clone().publisher(rx)));
        }
        tasks.push(spawn_until(
            shut.clone(),
            self.clone().follow_directory(dir_sub, service.clone()),
        ));
        tasks.push(spawn_until(
            shut.clone(),
            self.clone().announce(service.clone()),
        ));
        tasks.push(spawn_until(
            shut.clone(),
            self.clone()
                .sweep_orphans(service.clone(), app.store.clone()),
        ));
        tasks.push(spawn_until(
            shut.clone(),
            self.clone().receive(node_sub, service.clone()),
        ));
        tasks.push(spawn_until(
            shut.clone(),
            self.clone().receive_presence(pres_sub, service),
        ));
        tasks.push(spawn_until(shut, self.clone().answer_csp(csp_sub, app)));
        Ok(tasks)
    }

    /// Sends what the areas queued: primitives and "stored" notes grouped
    /// into one NATS message per node per burst, presence changes one by one.
    async fn publisher(self: Arc<Self>, mut rx: mpsc::Receiver<Out>) {
        const BURST: usize = 256;
        let mut buf = Vec::with_capacity(BURST);
        loop {
            let taken = rx.recv_many(&mut buf, BURST).await as u64;
            if taken == 0 {
                return;
            }
            let mut per_node: std::collections::BTreeMap<String, Vec<Item>> = Default::default();
            let mut owners = Vec::new();
            for o in buf.drain(..) {
                match o {
                    Out::Ship {
                        node,
                        session_id,
                        bodies,
                    } => per_node.entry(node).or_default().push(Item::Ship {
                        session: session_id,
                        bodies: bodies.iter().map(wire::element_text).collect(),
                    }),
                    Out::Stored { node, user, id } => per_node
                        .entry(node)
                        .or_default()
                        .push(Item::Stored { user, id }),
                    Out::Presence(owner) => owners.push(owner),
                }
            }
            for (node, items) in per_node {
                let n = items.len() as u64;
                let batch = NodeBatch {
                    from: self.node.clone(),
                    items,
                };
                self.publish(self.subject("node", &node), &batch).await;
                self.counters.shipped.fetch_add(n, Ordering::Relaxed);
            }
            if !owners.is_empty() {
                owners.sort();
                owners.dedup();
                let m = PresenceMsg {
                    from: self.node.clone(),
                    owners,
                };
                let subject = format!("{}.presence", self.settings.subject_prefix);
                self.publish(subject, &m).await;
            }
            self.pending.fetch_sub(taken, Ordering::SeqCst);
        }
    }

    /// Federation's messages for every node (`P.ssp`); this node's own
    /// come back too.
    pub async fn subscribe_ssp(&self) -> anyhow::Result<async_nats::Subscriber> {
        let subject = format!("{}.ssp", self.settings.subject_prefix);
        Ok(self.client.subscribe(subject).await?)
    }

    /// Publishes one of federation's messages to every node.
    pub async fn publish_ssp<T: Serialize>(&self, v: &T) {
        let subject = format!("{}.ssp", self.settings.subject_prefix);
        self.publish(subject, v).await;
    }

    async fn publish<T: Serialize>(&self, subject: String, v: &T) {
        let payload = match serde_json::to_vec(v) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode a cluster message");
                return;
            }
        };
        if let Err(e) = self.client.publish(subject, payload.into()).await {
            self.counters.publish_failed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %e, "cannot publish to NATS");
        }
    }

    /// Publishes this node's sessions: the changes found every
    /// `change_scan_ms`, everything every `heartbeat_ms` (in parts, the
    /// first marked `reset`). Also drops nodes not heard from.
    async fn announce(self: Arc<Self>, service: Arc<Service>) {
        const PART: usize = 200;
        let scan = Duration::from_millis(self.settings.change_scan_ms.max(1));
        let beat = Duration::from_millis(self.settings.heartbeat_ms.max(1));
        let ttl = Duration::from_millis(self.settings.node_ttl_ms.max(1));
        let subject = self.subject("dir", &self.node);
        let mut last: std::collections::HashMap<String, wire::SessionWire> = Default::default();
        let mut next_beat = tokio::time::Instant::now();
        let mut tick = tokio::time::interval(scan);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let now: std::collections::HashMap<String, wire::SessionWire> = service
                .local_sessions()
                .iter()
                .map(|r| (r.session_id.clone(), wire::SessionWire::of(r)))
                .collect();
            if tokio::time::Instant::now() >= next_beat {
                next_beat = tokio::time::Instant::now() + beat;
                let all: Vec<_> = now.values().cloned().collect();
                let mut parts: Vec<&[wire::SessionWire]> = all.chunks(PART).collect();
                if parts.is_empty() {
                    parts.push(&[]);
                }
                for (i, part) in parts.iter().enumerate() {
                    let m = DirMsg {
                        node: self.node.clone(),
                        incarnation: self.incarnation,
                        reset: i == 0,
                        put: part.to_vec(),
                        del: Vec::new(),
                    };
                    self.publish(subject.clone(), &m).await;
                }
                let dead = self.dir.write().expire(std::time::Instant::now(), ttl);
                for (n, incarnation) in dead {
                    tracing::warn!(node = %n, "cluster node not heard from; its sessions are dropped from the directory and ended");
                    self.end_sessions_of(&service, directory::holder(&n, incarnation));
                }
            } else {
                let put: Vec<_> = now
                    .iter()
                    .filter(|(k, v)| last.get(*k) != Some(v))
                    .map(|(_, v)| v.clone())
                    .collect();
                let del: Vec<_> = last
                    .keys()
                    .filter(|k| !now.contains_key(*k))
                    .cloned()
                    .collect();
                for (i, part) in put.chunks(PART).enumerate() {
                    let m = DirMsg {
                        node: self.node.clone(),
                        incarnation: self.incarnation,
                        reset: false,
                        put: part.to_vec(),
                        del: if i == 0 { del.clone() } else { Vec::new() },
                    };
                    self.publish(subject.clone(), &m).await;
                }
                if put.is_empty() && !del.is_empty() {
                    let m = DirMsg {
                        node: self.node.clone(),
                        incarnation: self.incarnation,
                        reset: false,
                        put: Vec::new(),
                        del,
                    };
                    self.publish(subject.clone(), &m).await;
                }
            }
            last = now;
        }
    }

    /// Ends the sessions a run of a node that is over (`holder`) left in
    /// the store, in a task of its own: each row goes to one of the nodes
    /// that ask (see `Service::end_sessions_of_node`).
    fn end_sessions_of(self: &Arc<Self>, service: &Arc<Service>, holder: String) {
        let (me, service) = (self.clone(), service.clone());
        tokio::spawn(async move {
            match service.end_sessions_of_node(&holder).await {
                Ok(0) => {}
                Ok(n) => {
                    me.counters
                        .dead_sessions_ended
                        .fetch_add(n as u64, Ordering::Relaxed);
                    tracing::info!(holder = %holder, sessions = n, "ended the sessions of a cluster node that is gone");
                }
                Err(e) => {
                    tracing::warn!(holder = %holder, error = %e, "could not end the sessions of a cluster node that is gone");
                }
            }
        });
    }

    /// Once, `node_ttl_ms` after the start (by then every live node has
    /// been heard from): ends the sessions in the store held by runs of
    /// nodes nobody hears from, which died while no node was there to
    /// see it expire (a whole cluster restarted, a lone node killed).
    async fn sweep_orphans(
        self: Arc<Self>,
        service: Arc<Service>,
        store: Arc<dyn imps_core::Store>,
    ) {
        let wait = self.settings.node_ttl_ms + self.settings.heartbeat_ms;
        tokio::time::sleep(Duration::from_millis(wait)).await;
        let rows = match store.sessions().await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "could not list stored sessions to find those of dead nodes");
                return;
            }
        };
        let live = self.dir.read().holders();
        let mut gone: Vec<String> = rows
            .into_iter()
            .filter_map(|r| r.node)
            .filter(|h| *h != self.holder && !live.contains(h))
            .collect();
        gone.sort();
        gone.dedup();
        for h in gone {
            self.end_sessions_of(&service, h);
        }
    }

    /// Keeps the replica of the other nodes' directories; a node heard
    /// with a new incarnation restarted, and its previous run's sessions
    /// are ended.
    async fn follow_directory(
        self: Arc<Self>,
        mut sub: async_nats::Subscriber,
        service: Arc<Service>,
    ) {
        while let Some(m) = sub.next().await {
            let Ok(d) = serde_json::from_slice::<DirMsg>(&m.payload) else {
                tracing::warn!(subject = %m.subject, "undecodable cluster directory message");
                continue;
            };
            if d.node == self.node {
                if d.incarnation != self.incarnation {
                    // Two processes with one node_id: fencing by name fails.
                    self.counters
                        .node_id_conflicts
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::error!(node = %d.node, "another process uses this cluster.node_id");
                }
                continue;
            }
            let limits = imps_wire::Limits::default();
            let put: Vec<RemoteSession> = d
                .put
                .iter()
                .filter_map(|s| s.to_remote(&d.node, &limits))
                .collect();
            let ended = self
                .dir
                .write()
                .apply(&d.node, d.incarnation, d.reset, put, &d.del);
            if let Some(old) = ended {
                tracing::warn!(node = %d.node, "cluster node restarted; its previous run's sessions are ended");
                self.end_sessions_of(&service, directory::holder(&d.node, old));
            }
        }
    }

    /// What other nodes send this one.
    async fn receive(self: Arc<Self>, mut sub: async_nats::Subscriber, service: Arc<Service>) {
        let limits = imps_wire::Limits::default();
        while let Some(m) = sub.next().await {
            let Ok(batch) = serde_json::from_slice::<NodeBatch>(&m.payload) else {
                tracing::warn!("undecodable cluster message");
                continue;
            };
            for item in batch.items {
                self.counters.received.fetch_add(1, Ordering::Relaxed);
                match item {
                    Item::Ship { session, bodies } => {
                        let bodies: Vec<Element> = bodies
                            .iter()
                            .filter_map(|b| wire::element_of(b, &limits))
                            .collect();
                        if !service.deliver_from_peer(&session, bodies) {
                            tracing::debug!(session = %imps_core::ids::log_tag(&session), from = %batch.from, "primitives for a session not here");
                        }
                    }
                    Item::Stored { user, id } => service.message_from_peer(&user, &id).await,
                }
            }
        }
    }

    async fn receive_presence(
        self: Arc<Self>,
        mut sub: async_nats::Subscriber,
        service: Arc<Service>,
    ) {
        while let Some(m) = sub.next().await {
            let Ok(p) = serde_json::from_slice::<PresenceMsg>(&m.payload) else {
                continue;
            };
            if p.from == self.node {
                continue;
            }
            for owner in p.owners {
                service.presence_from_peer(&owner).await;
            }
        }
    }

    /// Answers CSP requests other nodes forward here, each in a task of
    /// its own.
    async fn answer_csp(
        self: Arc<Self>,
        mut sub: async_nats::Subscriber,
        app: Arc<crate::http::AppState>,
    ) {
        while let Some(m) = sub.next().await {
            let Some(reply) = m.reply.clone() else {
                continue;
            };
            self.counters.forwarded_in.fetch_add(1, Ordering::Relaxed);
            let me = self.clone();
            let app = app.clone();
            tokio::spawn(async move {
                let payload = match wire::unframe(&m.payload) {
                    Some((ct, body)) => match crate::http::answer_forwarded(&app, ct, body).await {
                        Some((ct, b)) => wire::frame(&ct, &b),
                        None => wire::frame(wire::NOT_HERE, &[]),
                    },
                    None => wire::frame(wire::NOT_HERE, &[]),
                };
                if let Err(e) = me.client.publish(reply, payload).await {
                    tracing::warn!(error = %e, "cannot answer a forwarded CSP request");
                }
            });
        }
    }

    /// The `/metrics` lines of the cluster.
    pub fn render_metrics(&self) -> String {
        let c = &self.counters;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let (nodes, sessions) = {
            let d = self.dir.read();
            (d.nodes(), d.len())
        };
        let mut out = String::new();
        for (name, kind, help, v) in [
            (
                "impsd_cluster_nodes",
                "gauge",
                "Other nodes this node hears from.",
                nodes as u64,
            ),
            (
                "impsd_cluster_remote_sessions",
                "gauge",
                "Sessions on other nodes in this node's directory.",
                sessions as u64,
            ),
            (
                "impsd_cluster_shipped_total",
                "counter",
                "Items (primitives for a session, stored-message notes) sent to other nodes.",
                g(&c.shipped),
            ),
            (
                "impsd_cluster_dropped_total",
                "counter",
                "Items dropped because the queue to NATS was full.",
                g(&c.dropped),
            ),
            (
                "impsd_cluster_received_total",
                "counter",
                "Items received from other nodes.",
                g(&c.received),
            ),
            (
                "impsd_cluster_forwarded_total",
                "counter",
                "CSP requests forwarded to the node holding their session.",
                g(&c.forwarded),
            ),
            (
                "impsd_cluster_forward_failed_total",
                "counter",
                "Forwarded CSP requests not answered by that node.",
                g(&c.forward_failed),
            ),
            (
                "impsd_cluster_forwarded_in_total",
                "counter",
                "CSP requests other nodes forwarded here.",
                g(&c.forwarded_in),
            ),
            (
                "impsd_cluster_publish_failed_total",
                "counter",
                "Publications NATS refused.",
                g(&c.publish_failed),
            ),
            (
                "impsd_cluster_dead_sessions_ended_total",
                "counter",
                "Sessions of dead nodes this node took from the store and ended.",
                g(&c.dead_sessions_ended),
            ),
            (
                "impsd_cluster_node_id_conflicts_total",
                "counter",
                "Messages from another process using this node_id.",
                g(&c.node_id_conflicts),
            ),
        ] {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n"
            ));
        }
        out
    }
}

impl imps_core::cluster::Cluster for Cluster {
    fn holder(&self) -> &str {
        &self.holder
    }

    fn sessions_of(&self, user: &str) -> Vec<Arc<RemoteSession>> {
        self.dir.read().sessions_of(user)
    }

    fn session(&self, session_id: &str) -> Option<Arc<RemoteSession>> {
        self.dir.read().session(session_id)
    }

    fn ship(&self, to: &RemoteSession, bodies: Vec<Element>) {
        self.queue(Out::Ship {
            node: to.node.clone(),
            session_id: to.session_id.clone(),
            bodies,
        });
    }

    fn message_stored(&self, node: &str, user: &str, id: &str) {
        self.queue(Out::Stored {
            node: node.to_string(),
            user: user.to_string(),
            id: id.to_string(),
        });
    }

    fn presence_changed(&self, owner: &str) {
        self.queue(Out::Presence(owner.to_string()));
    }
}

/// Runs `f` until the stop.
fn spawn_until<F>(mut shut: watch::Receiver<bool>, f: F) -> tokio::task::JoinHandle<()>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        tokio::select! {
            _ = f => {}
            _ = shut.wait_for(|s| *s) => {}
        }
    })
}
