//! Hot presence state: per owner, the current attributes, who watches them
//! and who may see what, in memory behind one async mutex per owner, in a
//! sharded map so owners never contend with each other.
//!
//! An owner's entry is loaded from the store on first use and then kept;
//! every change writes the store first (acknowledge after durability) and
//! then the entry, while the entry is locked, so memory never runs ahead of
//! the disk and notifications about one owner leave in order. A presence
//! change costs one store write whatever the number of watchers.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, LazyLock, Weak};

use parking_lot::Mutex;

use super::attributes::{AttrSet, OnlineView, PresenceDoc};
use super::auth::Grants;
use crate::CoreError;
use crate::service::Service;
use crate::store::{ReactiveRecord, Store};

/// Number of shards of the owner map; a power of two.
const SHARDS: usize = 64;

/// Most users remembered per owner as having looked at their presence
/// without subscribing (1.3 watcher status PRESENCE_ACCESS).
pub(crate) const MAX_ACCESS_MEMORY: usize = 1_000;

/// One watcher's subscription as the owner's entry keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Watch {
    /// The attributes subscribed to (all when none were named).
    pub attrs: AttrSet,
    /// `false` for a former subscriber.
    pub active: bool,
}

/// Everything about one owner's presence.
pub(crate) struct OwnerState {
    pub doc: PresenceDoc,
    /// What watchers were last told about OnlineStatus; the truth is
    /// computed from the live sessions (`Service::online_view`).
    pub announced: OnlineView,
    /// The owner's client asked to appear offline (OnlineStatus F).
    pub invisible: bool,
    pub watchers: HashMap<String, Watch>,
    pub grants: Grants,
    pub reactive: HashMap<String, ReactiveRecord>,
    /// Users who read this presence without subscribing, since the start.
    pub accessed: BTreeSet<String>,
}

pub(crate) type OwnerCell = tokio::sync::Mutex<OwnerState>;

/// The sharded owner map of one service.
pub(crate) struct Hot {
    shards: Vec<Mutex<HashMap<String, Arc<OwnerCell>>>>,
}

impl Hot {
    fn new() -> Hot {
        Hot {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    fn shard(&self, user: &str) -> &Mutex<HashMap<String, Arc<OwnerCell>>> {
        // FNV-1a: cheap, and an attacker choosing user IDs can at worst put
        // them in one shard, which is still correct.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in user.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        &self.shards[(h as usize) & (SHARDS - 1)]
    }

    fn get(&self, user: &str) -> Option<Arc<OwnerCell>> {
        self.shard(user).lock().get(user).cloned()
    }

    /// Keeps the first entry loaded for a user: a concurrent loader's copy
    /// is dropped, so all changes go through one entry.
    fn insert_if_absent(&self, user: &str, st: OwnerState) -> Arc<OwnerCell> {
        self.shard(user)
            .lock()
            .entry(user.to_string())
            .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(st)))
            .clone()
    }

    /// Owners loaded (for the benchmark and logs).
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }
}

/// The hot state of each live service, found by its store. The service
/// struct belongs to another area's file; this table lets presence keep
/// its state beside it until the service carries a field for it. An entry
/// whose store is gone belongs to a dropped service and is pruned.
static BY_SERVICE: LazyLock<Mutex<ServiceTable>> = LazyLock::new(|| Mutex::new(Vec::new()));

type ServiceTable = Vec<(Weak<dyn Store>, Arc<Hot>)>;

impl Service {
    /// This service's hot presence state.
    pub(crate) fn presence_hot(&self) -> Arc<Hot> {
        let mut t = BY_SERVICE.lock();
        t.retain(|(w, _)| w.strong_count() > 0);
        let me = Arc::downgrade(&self.store);
        if let Some((_, hot)) = t.iter().find(|(w, _)| Weak::ptr_eq(w, &me)) {
            return hot.clone();
        }
        let hot = Arc::new(Hot::new());
        t.push((me, hot.clone()));
        hot
    }

    /// The owner's entry, loaded from the store on first use.
    pub(crate) async fn owner_cell(&self, user: &str) -> Result<Arc<OwnerCell>, CoreError> {
        let hot = self.presence_hot();
        if let Some(c) = hot.get(user) {
            return Ok(c);
        }
        let doc = match self.store.presence_doc(user).await? {
            Some(bytes) => PresenceDoc::decode(&bytes, user),
            None => PresenceDoc::default(),
        };
        let subs = self.store.subscriptions_to(user).await?;
        let auth = self.store.presence_auth(user).await?;
        let watchers = subs
            .into_iter()
            .map(|s| {
                let attrs = s
                    .attrs
                    .as_deref()
                    .map_or_else(AttrSet::all, AttrSet::from_names);
                (
                    s.watcher,
                    Watch {
                        attrs,
                        active: s.active,
                    },
                )
            })
            .collect();
        let st = OwnerState {
            doc,
            announced: OnlineView::default(),
            invisible: false,
            watchers,
            grants: Grants::from_records(&auth.grants),
            reactive: auth
                .reactive
                .into_iter()
                .map(|r| (r.watcher.clone(), r))
                .collect(),
            accessed: BTreeSet::new(),
        };
        Ok(hot.insert_if_absent(user, st))
    }

    /// Who the user is online as right now: the ClientIDs of their ready
    /// sessions (SYM-13: a session counts only once its level of service
    /// is settled), nothing while they asked to appear offline.
    pub(crate) fn online_view(&self, user: &str, invisible: bool) -> OnlineView {
        if invisible {
            return OnlineView::default();
        }
        let mut clients: Vec<_> = self
            .sessions
            .of_user(user)
            .into_iter()
            .filter(|s| s.with_state(|st| st.ready && !st.ended))
            .map(|s| (s.client_key.clone(), s.client_id.clone()))
            .collect();
        clients.sort_by(|a, b| a.0.cmp(&b.0));
        clients.dedup_by(|a, b| a.0 == b.0);
        OnlineView { clients }
    }
}
