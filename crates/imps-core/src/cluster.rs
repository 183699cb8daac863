//! Several nodes sharing one store (issue 18): the port through which
//! the core learns of sessions held by other nodes and hands them what it
//! built for them. The core never names the bus; the binary implements
//! [`Cluster`] and puts it in `CoreConfig::cluster`.
//!
//! What crosses nodes, and why these three:
//! - primitives for a session elsewhere, already shaped here (the shape
//!   sees a [`RemoteSession`] as it sees a local one);
//! - "a message was stored for this user": the recipient's node holds the
//!   user's delivery state (`im::state`) and reads the message from the
//!   store itself, so nothing acknowledged travels only on the bus;
//! - "this owner's presence changed": the hot presence state (`presence::hot`)
//!   is a cache of the store per node; another node reads the owner again.

use std::sync::Arc;

use imps_wire::{Element, Version};

use crate::router::Recipient;
use crate::session::ClientStyle;

/// A session held by another node, as the directory knows it: what a
/// shape function needs, the ClientID for presence, and the node.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteSession {
    pub node: String,
    pub session_id: String,
    pub user: String,
    pub client_key: String,
    /// The ClientID element as the client sent it (OnlineStatus shows it).
    pub client_id: Element,
    pub version: Version,
    pub max_message_size: Option<u64>,
    pub style: ClientStyle,
    pub ready: bool,
    pub language: Option<String>,
}

impl RemoteSession {
    pub fn recipient(&self) -> Recipient<'_> {
        Recipient {
            session_id: &self.session_id,
            user: &self.user,
            client_key: &self.client_key,
            version: self.version,
            max_message_size: self.max_message_size,
            style: self.style,
            ready: self.ready,
            language: self.language.as_deref(),
        }
    }
}

/// The other nodes, as one node sees them. Every method is synchronous
/// and must not block: answers come from a replica in memory, and what is
/// sent goes through a bounded queue (dropped and counted when full).
pub trait Cluster: Send + Sync + std::fmt::Debug + 'static {
    /// The name of this run of this node, stored with its sessions, so
    /// that when it dies (or restarts) another node finds and ends them.
    fn holder(&self) -> &str;

    /// Live sessions of `user` on other nodes.
    fn sessions_of(&self, user: &str) -> Vec<Arc<RemoteSession>>;

    /// A session on another node.
    fn session(&self, session_id: &str) -> Option<Arc<RemoteSession>>;

    /// Sends primitives built for a session on another node.
    fn ship(&self, to: &RemoteSession, bodies: Vec<Element>);

    /// A message `id` was stored for `user`; `node` holds a session of theirs.
    fn message_stored(&self, node: &str, user: &str, id: &str);

    /// The presence state of `owner` changed in the store.
    fn presence_changed(&self, owner: &str);
}
