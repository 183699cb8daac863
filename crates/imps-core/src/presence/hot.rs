//! Hot presence state: per owner, the current attributes, who watches them
//! and who may see what, in memory behind one async mutex per owner, in a
//! sharded map so owners never contend with each other.
//!
//! An owner's entry is loaded from the store on first use and then kept
//! while it matters: once a shard holds more than its share of
//! `presence.max_owners_loaded`, entries nobody is using and whose owner shows
//! offline are dropped (they are reloaded from the store when needed; only
//! the "who looked without subscribing" memory of 1.3 watcher lists goes
//! with them). Owners shown online stay, so memory follows the online
//! users, not everyone ever looked at. Every change writes the store first
//! (acknowledge after durability) and then the entry, while the entry is
//! locked, so memory never runs ahead of the disk and notifications about
//! one owner leave in order. A presence
//! change costs one store write whatever the number of watchers.

use super::PresenceService;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use parking_lot::Mutex;

use super::attributes::{AttrSet, OnlineView, PresenceDoc};
use super::auth::Grants;
use crate::CoreError;
use crate::store::ReactiveRecord;

/// Number of shards of the owner map; a power of two.
const SHARDS: usize = 64;

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
    /// computed from the live sessions (`PresenceService::online_view`).
    pub announced: OnlineView,
    /// The owner's client asked to appear offline (OnlineStatus F).
    pub invisible: bool,
    pub watchers: crate::keyed::SmallMap<String, Watch>,
    pub grants: Grants,
    /// Reactive requests, who looked, who is blocked: empty for most
    /// owners, so kept out of line (issue 19).
    pub rare: Rare,
}

/// What few owners have: held in one box made when the first of them is
/// written, so an online owner's entry without them is 112 bytes smaller
/// (issue 19: one entry per online user). Reads go through `Deref` (to a
/// shared empty set of maps when there is no box); a write through
/// `DerefMut` makes the box.
#[derive(Default)]
pub(crate) struct Rare(Option<Box<RareMaps>>);

#[derive(Default)]
pub(crate) struct RareMaps {
    pub reactive: HashMap<String, ReactiveRecord>,
    /// Users who read this presence without subscribing, since the start.
    pub accessed: BTreeSet<String>,
    /// Users on the owner's block list (in use) who therefore see nothing
    /// (`block_hides_presence`); empty when that setting is off.
    pub blocked: HashSet<String>,
}

impl RareMaps {
    fn is_empty(&self) -> bool {
        self.reactive.is_empty() && self.accessed.is_empty() && self.blocked.is_empty()
    }
}

impl Rare {
    /// The maps loaded from the store: no box when all are empty.
    pub(crate) fn from_maps(maps: RareMaps) -> Rare {
        if maps.is_empty() {
            Rare(None)
        } else {
            Rare(Some(Box::new(maps)))
        }
    }

    /// Replaces the reactive requests and the block list (a reload), and
    /// gives the box back when nothing is left in it.
    pub(crate) fn reload(
        &mut self,
        reactive: HashMap<String, ReactiveRecord>,
        blocked: HashSet<String>,
    ) {
        if self.0.is_none() && reactive.is_empty() && blocked.is_empty() {
            return;
        }
        let m = &mut **self;
        m.reactive = reactive;
        m.blocked = blocked;
        self.tidy();
    }

    /// Replaces the block list alone.
    pub(crate) fn set_blocked(&mut self, blocked: HashSet<String>) {
        if self.0.is_none() && blocked.is_empty() {
            return;
        }
        self.blocked = blocked;
        self.tidy();
    }

    /// Drops the box once all its maps are empty again.
    pub(crate) fn tidy(&mut self) {
        if self.0.as_ref().is_some_and(|m| m.is_empty()) {
            self.0 = None;
        }
    }
}

impl std::ops::Deref for Rare {
    type Target = RareMaps;

    fn deref(&self) -> &RareMaps {
        static EMPTY: std::sync::LazyLock<RareMaps> = std::sync::LazyLock::new(RareMaps::default);
        self.0.as_deref().unwrap_or(&EMPTY)
    }
}

impl std::ops::DerefMut for Rare {
    fn deref_mut(&mut self) -> &mut RareMaps {
        self.0.get_or_insert_with(Box::default)
    }
}

pub(crate) type OwnerCell = tokio::sync::Mutex<OwnerState>;

/// One shard: its entries, and how many times entries were dropped from
/// it (a load that raced with a drop starts again, so a stale copy read
/// before the drop never becomes the entry).
#[derive(Default)]
struct Shard {
    map: HashMap<String, Arc<OwnerCell>>,
    drops: u64,
}

/// The sharded owner map of one service (a field of `PresenceService`).
pub(crate) struct Hot {
    shards: Vec<Mutex<Shard>>,
    /// Entries a shard keeps before dropping idle ones.
    per_shard: usize,
}

impl Hot {
    pub(crate) fn with_limit(max_owners: usize) -> Hot {
        Hot {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard: max_owners.div_ceil(SHARDS).max(1),
        }
    }

    fn shard(&self, user: &str) -> &Mutex<Shard> {
        // FNV-1a: cheap, and an attacker choosing user IDs can at worst put
        // them in one shard, which is still correct.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in user.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        &self.shards[(h as usize) & (SHARDS - 1)]
    }

    /// The entry, or the shard's drop count to hand back to
    /// `insert_if_absent` after loading.
    fn get(&self, user: &str) -> Result<Arc<OwnerCell>, u64> {
        let sh = self.shard(user).lock();
        sh.map.get(user).cloned().ok_or(sh.drops)
    }

    /// Keeps the first entry loaded for a user: a concurrent loader's copy
    /// is dropped, so all changes go through one entry. `None` when
    /// entries were dropped from the shard since `drops` was read: the
    /// copy may predate a change, so the caller loads again.
    fn insert_if_absent(&self, user: &str, st: OwnerState, drops: u64) -> Option<Arc<OwnerCell>> {
        let mut sh = self.shard(user).lock();
        if let Some(c) = sh.map.get(user) {
            return Some(c.clone());
        }
        if sh.drops != drops {
            return None;
        }
        if sh.map.len() >= self.per_shard {
            let before = sh.map.len();
            sh.map.retain(|_, c| !idle(c));
            if sh.map.len() < before {
                sh.drops += 1;
            }
        }
        let cell = Arc::new(tokio::sync::Mutex::new(st));
        sh.map.insert(user.to_string(), cell.clone());
        Some(cell)
    }

    /// Owners loaded (for the benchmark and logs).
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().map.len()).sum()
    }
}

/// Whether an entry may be dropped: nobody holds it (only the map does,
/// and handing it out needs the shard lock we hold), and it shows its
/// owner offline without an "appear offline" wish, which is exactly what
/// a reload from the store gives.
fn idle(c: &Arc<OwnerCell>) -> bool {
    if Arc::strong_count(c) != 1 {
        return false;
    }
    c.try_lock()
        .is_ok_and(|st| st.announced.clients.is_empty() && !st.invisible)
}

impl PresenceService {
    /// This service's hot presence state.
    pub(crate) fn presence_hot(&self) -> &Hot {
        &self.hot
    }

    /// The owner's entry, loaded from the store on first use.
    pub(crate) async fn owner_cell(&self, user: &str) -> Result<Arc<OwnerCell>, CoreError> {
        let hot = self.presence_hot();
        loop {
            let drops = match hot.get(user) {
                Ok(c) => return Ok(c),
                Err(drops) => drops,
            };
            let st = self.load_owner(user).await?;
            if let Some(c) = hot.insert_if_absent(user, st, drops) {
                return Ok(c);
            }
        }
    }

    /// An owner's state as the store has it.
    async fn load_owner(&self, user: &str) -> Result<OwnerState, CoreError> {
        let doc = match self.base.store.presence_doc(user).await? {
            Some(bytes) => PresenceDoc::decode(&bytes, user),
            None => PresenceDoc::default(),
        };
        let subs = self.base.store.subscriptions_to(user).await?;
        let auth = self.base.store.presence_auth(user).await?;
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
            rare: Rare::from_maps(RareMaps {
                reactive: auth
                    .reactive
                    .into_iter()
                    .map(|r| (r.watcher.clone(), r))
                    .collect(),
                accessed: BTreeSet::new(),
                blocked: self.blocked_by(user).await?,
            }),
        };
        Ok(st)
    }

    /// The users `owner` blocks, as far as presence is concerned.
    pub(crate) async fn blocked_by(&self, owner: &str) -> Result<HashSet<String>, CoreError> {
        if !self.base.cfg.presence.block_hides_presence {
            return Ok(HashSet::new());
        }
        let a = self.base.store.access_lists(owner).await?;
        Ok(if a.block_in_use {
            a.blocked.into_iter().collect()
        } else {
            HashSet::new()
        })
    }

    /// The owner's block list changed: an owner held in memory reads it
    /// again. Nothing is sent to a newly blocked watcher (as for any
    /// withdrawn authorization); they simply hear nothing more.
    pub(crate) async fn block_list_changed(&self, owner: &str) {
        let Ok(cell) = self.presence_hot().get(owner) else {
            return;
        };
        let mut st = cell.lock().await;
        match self.blocked_by(owner).await {
            Ok(b) => st.rare.set_blocked(b),
            Err(e) => {
                // Failing closed is not possible without the list; keep
                // the old one and say so.
                tracing::warn!(owner, error = %e, "could not read the block list for presence");
            }
        }
    }

    /// Cluster (issue 18): `owner`'s presence changed in the store; the
    /// other nodes read their copy again.
    pub(crate) fn tell_other_nodes(&self, owner: &str) {
        if let Some(c) = &self.base.cfg.cluster {
            c.presence_changed(owner);
        }
    }

    /// Cluster: another node changed `owner` in the store. An entry held
    /// here takes what the store has; what only this node knows (what
    /// watchers were told of OnlineStatus, "appear offline", who looked)
    /// stays.
    pub(crate) async fn reload_owner(&self, owner: &str) {
        let Ok(cell) = self.presence_hot().get(owner) else {
            return;
        };
        let mut st = cell.lock().await;
        match self.load_owner(owner).await {
            Ok(fresh) => {
                st.doc = fresh.doc;
                st.watchers = fresh.watchers;
                st.grants = fresh.grants;
                let fresh = fresh.rare.0.map(|m| *m).unwrap_or_default();
                st.rare.reload(fresh.reactive, fresh.blocked);
            }
            Err(e) => {
                tracing::warn!(owner, error = %e, "could not read presence another node changed");
            }
        }
    }

    /// Who the user is online as right now: the ClientIDs of their ready
    /// sessions (SYM-13: a session counts only once its level of service
    /// is settled), nothing while they asked to appear offline.
    pub(crate) fn online_view(&self, user: &str, invisible: bool) -> OnlineView {
        if invisible {
            return OnlineView::default();
        }
        let mut clients: Vec<_> = self
            .base
            .sessions
            .of_user(user)
            .into_iter()
            .filter(|s| s.with_state(|st| st.ready && !st.ended))
            .map(|s| s.client.clone())
            .collect();
        if let Some(c) = &self.base.cfg.cluster {
            clients.extend(
                c.sessions_of(user)
                    .iter()
                    .filter(|r| r.ready)
                    .map(|r| crate::session::ClientIdent::from_parts(&r.client_key, &r.client_id)),
            );
        }
        clients.sort_by(|a, b| a.key().cmp(b.key()));
        clients.dedup_by(|a, b| a.key() == b.key());
        // Kept in the owner's entry while the user is online: no room for
        // four when there is one (issue 19).
        clients.shrink_to_fit();
        OnlineView { clients }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::MemStore;
    use crate::{CoreConfig, FakeClock};

    /// The view is kept in the owner's entry while the user is online
    /// (issue 19): one session, room for one.
    #[tokio::test]
    async fn online_view_of_one_session_keeps_no_spare_room() {
        let all = crate::Service::new(
            CoreConfig::default(),
            Arc::new(MemStore::default()),
            Arc::new(FakeClock::new(1)),
        );
        let svc = PresenceService::new(Arc::clone(&all.base), Arc::clone(&all.lists));
        let s = Arc::new(crate::session::Session::new(
            "s1".into(),
            "alice".into(),
            crate::session::ClientIdent::url("phone"),
            imps_wire::Version::V1_3,
            "cookie".into(),
            "tok".into(),
            0,
            60,
        ));
        s.with_state(|st| st.ready = true);
        all.base.sessions.insert(s.clone(), 0).unwrap();
        let view = svc.online_view("alice", false);
        assert_eq!(view.clients.len(), 1);
        assert_eq!(view.clients.capacity(), 1);
        // The session's ClientID in its one-string form.
        assert_eq!(view.clients[0], s.client);
        assert!(matches!(
            view.clients[0],
            crate::session::ClientIdent::Url(_)
        ));
    }

    /// Issue 19: an online user's entry without reactive requests, block
    /// list or lookers keeps no room for them. Inline they made the state
    /// 304 bytes; with them boxed 192, and the entry (the `Arc`'s counts,
    /// the lock, the state) 248, a 256-byte block. Without per-map hash
    /// keys the state is 160 and the entry 216: a 224-byte block.
    #[tokio::test]
    async fn an_owner_without_rare_maps_keeps_no_room_for_them() {
        let size = std::mem::size_of::<OwnerState>();
        assert!(size <= 160, "OwnerState is {size} bytes");
        let entry = 16 + std::mem::size_of::<tokio::sync::Mutex<OwnerState>>();
        assert!(entry <= 224, "the owner's entry is {entry} bytes");
        let all = crate::Service::new(
            CoreConfig::default(),
            Arc::new(MemStore::default()),
            Arc::new(FakeClock::new(1)),
        );
        let svc = PresenceService::new(Arc::clone(&all.base), Arc::clone(&all.lists));
        let cell = svc.owner_cell("alice").await.unwrap();
        let mut st = cell.lock().await;
        assert!(st.rare.0.is_none(), "nothing rare loaded, no box");
        assert!(st.rare.reactive.is_empty() && st.rare.blocked.is_empty());
        st.rare.set_blocked(HashSet::new());
        assert!(st.rare.0.is_none(), "an empty block list makes no box");
        st.rare.accessed.insert("bob".into());
        assert!(st.rare.accessed.contains("bob"));
        st.rare.set_blocked(["carol".to_string()].into());
        assert!(st.rare.blocked.contains("carol") && st.rare.accessed.contains("bob"));
        st.rare.accessed.clear();
        st.rare.reload(HashMap::new(), HashSet::new());
        assert!(st.rare.0.is_none(), "emptied, the box is given back");
    }

    #[tokio::test]
    async fn idle_offline_owners_are_dropped_held_or_online_ones_stay() {
        let all = crate::Service::new(
            CoreConfig::default(),
            Arc::new(MemStore::default()),
            Arc::new(FakeClock::new(1)),
        );
        let mut svc = PresenceService::new(Arc::clone(&all.base), Arc::clone(&all.lists));
        svc.hot = Hot::with_limit(SHARDS);
        let held = svc.owner_cell("held").await.unwrap();
        let shown = svc.owner_cell("shown").await.unwrap();
        shown.lock().await.announced.clients = vec![crate::session::ClientIdent::url("phone")];
        drop(shown);
        for i in 0..2_000 {
            svc.owner_cell(&format!("u{i}")).await.unwrap();
        }
        // One idle entry per shard at most, plus the two kept ones.
        assert!(
            svc.presence_hot().len() <= SHARDS + 2,
            "{}",
            svc.presence_hot().len()
        );
        let again = svc.owner_cell("held").await.unwrap();
        assert!(Arc::ptr_eq(&held, &again), "a held entry is never replaced");
        let shown = svc.owner_cell("shown").await.unwrap();
        assert!(
            !shown.lock().await.announced.clients.is_empty(),
            "online stays"
        );
    }
}
