//! Federation on the nodes of a cluster (issue 18): what one node learns
//! of a peer that the others need, carried on the cluster bus (`P.ssp`).
//!
//! - An association that went live on one node is used by every node:
//!   each sends under it (the peer accepts our session label from any of
//!   us) and accepts the peer's Sessions under it, so a peer whose POSTs
//!   a load balancer spreads over the nodes is not refused (403) by the
//!   nodes that did not make it.
//! - A setup step that reached a node with no handshake it belongs to
//!   (the peer answers to the URL its table has for our domain, which may
//!   be another node's, or a balancer) is passed to every node; the one
//!   whose handshake it is carries on.
//!
//! Associations stay in memory: a node that starts later makes its own
//! when it first needs one.

use std::sync::Arc;

use futures_util::StreamExt;
use imps_wire::ssp::SspMessage;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::Federation;
use crate::cluster::Cluster;

/// A message on `P.ssp`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum BusMsg {
    /// An association with `peer` went live on node `from`.
    Live {
        from: String,
        peer: String,
        /// Our session label (`tid@our.domain`).
        own: String,
        /// The peer's.
        theirs: String,
        established_ms: u64,
        ttl_ms: u64,
    },
    /// A setup step (SSP XML) node `from` had no handshake for.
    Setup { from: String, body: String },
}

impl Federation {
    /// Makes this node's federation share with the other nodes of
    /// `cluster`; the task ends when `shutdown` turns true.
    pub async fn join_cluster(
        self: &Arc<Self>,
        cluster: Arc<Cluster>,
        mut shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<tokio::task::JoinHandle<()>> {
        let mut sub = cluster.subscribe_ssp().await?;
        *self.bus.lock() = Some(cluster.clone());
        let fed = Arc::clone(self);
        let me = cluster.node_id().to_string();
        Ok(tokio::spawn(async move {
            loop {
                let m = tokio::select! {
                    m = sub.next() => m,
                    _ = shutdown.wait_for(|s| *s) => return,
                };
                let Some(m) = m else { return };
                match serde_json::from_slice::<BusMsg>(&m.payload) {
                    Ok(msg) => fed.on_bus(&me, msg),
                    Err(e) => tracing::warn!(error = %e, "undecodable federation bus message"),
                }
            }
        }))
    }

    fn on_bus(self: &Arc<Self>, me: &str, msg: BusMsg) {
        match msg {
            BusMsg::Live {
                from,
                peer,
                own,
                theirs,
                established_ms,
                ttl_ms,
            } if from != me => self.adopt(&peer, own, theirs, established_ms, ttl_ms),
            BusMsg::Setup { from, body } if from != me => {
                match SspMessage::decode(body.as_bytes(), &imps_wire::Limits::default()) {
                    Ok(SspMessage::Setup(st)) => {
                        // Not ours either: the node whose handshake it is
                        // carries on, the others drop it.
                        let _ = self.on_setup(st, true);
                    }
                    Ok(_) => {}
                    Err(e) => tracing::info!(error = %e, "undecodable forwarded SSP setup step"),
                }
            }
            _ => {}
        }
    }

    /// Tells the other nodes (if any) of an association that went live.
    pub(crate) fn share_live(
        &self,
        peer: &str,
        own: &str,
        theirs: &str,
        established_ms: u64,
        ttl_ms: u64,
    ) {
        let Some(c) = self.bus.lock().clone() else {
            return;
        };
        let msg = BusMsg::Live {
            from: c.node_id().to_string(),
            peer: peer.to_string(),
            own: own.to_string(),
            theirs: theirs.to_string(),
            established_ms,
            ttl_ms,
        };
        tokio::spawn(async move { c.publish_ssp(&msg).await });
    }

    /// Passes a setup step this node has no handshake for to the other
    /// nodes; false when there are none (not a cluster node).
    pub(crate) fn forward_setup(&self, body: &[u8]) -> bool {
        let Some(c) = self.bus.lock().clone() else {
            return false;
        };
        let msg = BusMsg::Setup {
            from: c.node_id().to_string(),
            body: String::from_utf8_lossy(body).into_owned(),
        };
        tokio::spawn(async move { c.publish_ssp(&msg).await });
        true
    }
}
