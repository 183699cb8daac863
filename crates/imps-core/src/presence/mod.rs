//! Presence (BASE-PRES): attributes, Get/Update/Subscribe, notifications,
//! proactive and reactive authorization (PRR-*), watcher lists.
//!
//! - `attributes`: the attributes, attribute sets, stored instances and
//!   the per-version view of them;
//! - `hot`: the in-memory state per owner (sharded) and its loading;
//! - `auth`: who may see what, and the one path for changing it;
//! - `attrlists`, `reactive`: the proactive and reactive primitives;
//! - `publish`: UpdatePresence, GetPresence, OnlineStatus;
//! - `subscribe`, `notify`: subscriptions and the notification fan-out;
//! - `watchers`: GetWatcherList; `targets`: reading who a request names.

mod attributes;
mod attrlists;
mod auth;
mod hot;
mod location;
mod notify;
mod publish;
mod reactive;
mod remote;
mod subscribe;
mod targets;
mod watchers;

use hot::Hot;
pub(crate) use location::publishes_location;

/// Memory bounds of this area: the `[presence]` section, defaults in
/// [`PRESENCE_DEFAULTS`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PresenceConfig {
    /// Owners whose presence is kept in memory before idle ones (nobody
    /// online, nobody watching) are dropped; they are read again from the
    /// store when asked for.
    pub max_owners_loaded: usize,
    /// Most users remembered per owner as having looked at their presence
    /// without subscribing (1.3 watcher status PRESENCE_ACCESS).
    pub max_access_memory: usize,
    /// Blocking a user (block list in use) also withdraws their presence
    /// authorization: they see nothing of the owner's presence while
    /// blocked, whatever attribute list would grant. A deliberate
    /// extension (issue 14); `false` gives pure CSP, where blocking is an
    /// IM function only.
    pub block_hides_presence: bool,
}

/// The defaults.
pub const PRESENCE_DEFAULTS: PresenceConfig = PresenceConfig {
    max_owners_loaded: 100_000,
    max_access_memory: 1_000,
    block_hides_presence: true,
};

impl Default for PresenceConfig {
    fn default() -> Self {
        PRESENCE_DEFAULTS
    }
}

use std::sync::Arc;

use imps_wire::{PrimitiveKind, Transaction};

use crate::CoreError;
use crate::base::Base;
use crate::lists::{Assembled, ListsService};
use crate::service::Outcome;
use crate::session::Session;

/// The presence area. Its owners' state is held in memory (`hot`); it
/// asks lists for the members of contact lists.
pub(crate) struct PresenceService {
    pub(crate) base: Arc<Base>,
    pub(crate) lists: Arc<ListsService>,
    /// Presence state per owner, in memory.
    hot: Hot,
    /// Watchers and owners of other domains (federation).
    remote: remote::RemotePresence,
}

impl PresenceService {
    pub(crate) fn new(base: Arc<Base>, lists: Arc<ListsService>) -> PresenceService {
        let hot = Hot::with_limit(base.cfg.presence.max_owners_loaded);
        PresenceService {
            base,
            lists,
            hot,
            remote: remote::RemotePresence::default(),
        }
    }

    /// Handles the requests of this area (`service::area_of` sends them).
    pub(crate) async fn handle_presence(
        &self,
        s: &Arc<Session>,
        kind: PrimitiveKind,
        tx: &Transaction,
    ) -> Result<Outcome, CoreError> {
        use PrimitiveKind as P;
        let b = &tx.body;
        let reply = match kind {
            P::UpdatePresenceRequest => self.update_presence(s, b).await?,
            P::GetPresenceRequest => self.get_presence(s, b).await?,
            P::SubscribePresenceRequest => self.subscribe_presence(s, b).await?,
            P::UnsubscribePresenceRequest => self.unsubscribe_presence(s, b).await?,
            P::CreateAttributeListRequest => match crate::lists::segment_info(tx) {
                // GEN-2: the list in parts; lists keeps them.
                Some(info) => match self.lists.attribute_list_part(s, b, &info)? {
                    Assembled::Whole(req) => self.create_attribute_list(s, &req).await?,
                    Assembled::Pending(answer) => answer,
                },
                None => self.create_attribute_list(s, b).await?,
            },
            P::DeleteAttributeListRequest => self.delete_attribute_list(s, b).await?,
            P::GetAttributeListRequest => self.get_attribute_list(s, b).await?,
            P::PresenceAuthUser => self.presence_auth_user(s, b).await?,
            P::CancelAuthRequest => self.cancel_auth(s, b).await?,
            P::GetReactiveAuthStatusRequest => self.get_reactive_auth_status(s, b).await?,
            P::GetWatcherListRequest => self.get_watcher_list(s, b).await?,
            other => return Err(CoreError::NotImplemented(other.name().into())),
        };
        Ok(Outcome::Reply(reply))
    }

    /// A session's level of service is settled: its user may now be shown
    /// online (SYM-13).
    pub(crate) async fn presence_session_ready(&self, s: &Arc<Session>) {
        if let Err(e) = self.presence_online(s).await {
            tracing::warn!(session = %crate::ids::log_tag(&s.id), user = %s.user, error = %e, "could not show the user online");
        }
    }

    /// A session ended; the user goes offline when it was the last one.
    pub(crate) async fn presence_session_ended(&self, s: &Arc<Session>) {
        if let Err(e) = self.presence_offline(s).await {
            tracing::warn!(session = %crate::ids::log_tag(&s.id), user = %s.user, error = %e, "could not show the user offline");
        }
    }

    /// Owners whose presence state is in memory (for benchmarks and logs).
    pub(crate) fn presence_owners_loaded(&self) -> usize {
        self.presence_hot().len()
    }
}
