//! The SSP peer entries an operator made at run time (`impsd peer
//! add|remove`, issue 17). The config file's `[[federation.peers]]`
//! table stays the base; these rows add to it or override it, and a
//! removal is kept as a row too, so that it outlives a restart even for a
//! domain the config file names.

use async_trait::async_trait;

use super::{MemStore, StoreError};

/// One stored peer entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StoredPeer {
    /// The peer's domain, lower case.
    pub domain: String,
    /// Its SSP endpoint; empty for a removal.
    pub url: String,
    /// The agreement on user sessions (SUS-1..3).
    pub sus: bool,
    /// The peer must present a client certificate naming it on every SSP
    /// POST (`impsd peer add --require-client-cert`).
    pub require_client_cert: bool,
    /// The operator took the domain out: it is no peer, whatever the
    /// config file or DNS say.
    pub removed: bool,
}

#[async_trait]
pub trait PeerStore: Send + Sync + 'static {
    /// Records the entry of `p.domain`, replacing any.
    async fn put_peer(&self, p: StoredPeer) -> Result<(), StoreError>;
    /// Every stored entry, in domain order.
    async fn stored_peers(&self) -> Result<Vec<StoredPeer>, StoreError>;
}

#[async_trait]
impl PeerStore for MemStore {
    async fn put_peer(&self, p: StoredPeer) -> Result<(), StoreError> {
        self.peers.lock().insert(p.domain.clone(), p);
        Ok(())
    }

    async fn stored_peers(&self) -> Result<Vec<StoredPeer>, StoreError> {
        Ok(self.peers.lock().values().cloned().collect())
    }
}
