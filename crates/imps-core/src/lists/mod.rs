//! Contact lists, block and grant lists (BASE-LIST), add-contact in one
//! transaction (ADC-*), and long lists in parts (GEN-1..4, see `chunking`).
//!
//! The server is the master copy of every list (ALG-UC): handlers read
//! lists from the store on every request and never trust a client's copy.
//! Other areas ask three questions of this one: [`ListsService::blocks`] (IM and
//! invitations), [`ListsService::has_contact`] (IMR-8) and
//! [`ListsService::list_members`] (presence subscriptions by list).

mod access_cache;
mod add;
mod block;
mod chunking;
mod contacts;
mod ids;
mod segment_store;
mod upload;

pub(crate) use access_cache::AccessCache;

use std::sync::Arc;

use imps_wire::{Element, PrimitiveKind, Transaction};

use crate::CoreError;
use crate::base::Base;
use crate::service::Outcome;
use crate::session::Session;

pub(crate) use segment_store::SegmentStore;
pub(crate) use upload::{Assembled, GroupList, segment_info};

/// Limits and timeouts of this area. Every one is a setting with a safe
/// default (house rule 5): the `[lists]` section, defaults in
/// [`LISTS_DEFAULTS`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListsConfig {
    /// Most contact lists one user may have (753 beyond it).
    pub max_lists_per_user: usize,
    /// Most members in one contact list (754 beyond it).
    pub max_contacts_per_list: usize,
    /// Most entries in a block list, and in a grant list (754 beyond it).
    pub max_access_entries: usize,
    /// Longest list name, display name or nickname, in characters.
    pub max_name_chars: usize,
    /// How long the parts of a split reply, or of an upload in parts, are
    /// kept (SEC-1: nothing waits forever).
    pub segment_ttl_secs: u64,
    /// Most split replies and uploads in parts held for one session at
    /// once; a new one drops the session's oldest (SEC-1).
    pub max_segment_sets_per_session: usize,
    /// Bytes (as XML) all sessions' parts may take together; beyond it the
    /// oldest sets are dropped (SEC-1).
    pub max_segment_bytes_total: usize,
    /// Most parts one upload may announce in its SegmentCount (GEN-2).
    pub max_upload_parts: u64,
    /// Bytes (as XML) one upload in parts may buffer; the part that goes
    /// over it is answered 402 and the upload dropped.
    pub max_upload_bytes: usize,
    /// Most remembered block/grant answers (IM asks for every message);
    /// past it the cache starts over.
    pub access_cache_entries: usize,
    /// How long a remembered block/grant answer is used, in ms: bounds how
    /// long a change made by another process on the same store goes
    /// unseen.
    pub access_cache_ms: u64,
}

/// The defaults.
pub const LISTS_DEFAULTS: ListsConfig = ListsConfig {
    max_lists_per_user: 50,
    max_contacts_per_list: 5_000,
    max_access_entries: 5_000,
    max_name_chars: 100,
    segment_ttl_secs: 300,
    max_segment_sets_per_session: 4,
    max_segment_bytes_total: 64 * 1024 * 1024,
    max_upload_parts: 1_000,
    max_upload_bytes: 8 * 1024 * 1024,
    access_cache_entries: 200_000,
    access_cache_ms: 10_000,
};

impl Default for ListsConfig {
    fn default() -> Self {
        LISTS_DEFAULTS
    }
}

/// What lists needs from presence: ADC-2 authorizes each added contact
/// to see the adder's OnlineStatus. Presence implements it and the service
/// passes it in with each request, so lists does not depend on presence
/// (presence asks lists for the members of contact lists).
#[async_trait::async_trait]
pub(crate) trait PresenceGrants: Send + Sync {
    /// Lets `watcher` see `attrs` of `owner`'s presence.
    async fn authorize(&self, owner: &str, watcher: &str, attrs: &[&str]) -> Result<(), CoreError>;
}

/// Told when users are put on someone's contact list and have not opted
/// out of hearing it (the system message area offers to add back; it is
/// built after lists, so it is set later, see `ListsService::set_added_hook`).
#[async_trait::async_trait]
pub(crate) trait AddedHook: Send + Sync {
    async fn contact_added(&self, adder: &str, added: &str);
}

/// The lists area. Besides its own requests it answers the questions
/// other areas ask (`blocks`, `has_contact`, `list_members`) and keeps the
/// parts of split replies and uploads for every area (GEN-1).
pub(crate) struct ListsService {
    pub(crate) base: Arc<Base>,
    /// Recent block/grant answers.
    access: AccessCache,
    /// Split replies and uploads in parts.
    segments: SegmentStore,
    /// Who else hears of an add (ADC-3's system message, SYM-UC).
    added_hook: std::sync::OnceLock<std::sync::Weak<dyn AddedHook>>,
}

impl ListsService {
    pub(crate) fn new(base: Arc<Base>) -> ListsService {
        let l = &base.cfg.lists;
        let access = AccessCache::new(l.access_cache_entries, l.access_cache_ms);
        ListsService {
            base,
            access,
            segments: SegmentStore::default(),
            added_hook: std::sync::OnceLock::new(),
        }
    }

    /// Sets who else hears of an add; once (weak: the hook's area holds
    /// this one).
    pub(crate) fn set_added_hook(&self, hook: std::sync::Weak<dyn AddedHook>) {
        let _ = self.added_hook.set(hook);
    }

    /// This area's settings.
    pub(crate) fn lists_cfg(&self) -> &ListsConfig {
        &self.base.cfg.lists
    }

    /// The table of split replies and uploads in parts.
    pub(crate) fn segments(&self) -> &SegmentStore {
        &self.segments
    }

    /// Handles the requests of this area (`service::area_of` sends them).
    pub(crate) async fn handle_lists(
        &self,
        s: &Arc<Session>,
        kind: PrimitiveKind,
        tx: &Transaction,
        grants: &dyn PresenceGrants,
    ) -> Result<Outcome, CoreError> {
        use PrimitiveKind as P;
        let body = &tx.body;
        let reply = match kind {
            P::GetListRequest => self.get_list(s).await?,
            P::CreateListRequest => self.create_list(s, body).await?,
            P::DeleteListRequest => self.delete_list(s, body).await?,
            P::ListManageRequest => match upload::segment_info(tx) {
                Some(info) => self.list_manage_part(s, body, &info, grants).await?,
                None => self.list_manage(s, body, grants).await?,
            },
            P::GetBlockedListRequest => self.get_blocked_list(s).await?,
            P::BlockEntityRequest => match upload::segment_info(tx) {
                Some(info) => self.block_entity_part(s, body, &info).await?,
                None => self.block_entity(s, body).await?,
            },
            P::GetSegmentRequest => self.get_segment(s, body)?,
            P::DropSegmentRequest => self.drop_segment(s, body)?,
            P::SubscribeNotificationRequest | P::UnsubscribeNotificationRequest
                if add::only_added_to_list_type(body) =>
            {
                let notify = kind == P::SubscribeNotificationRequest;
                self.base.store.set_added_notify(&s.user, notify).await?;
                crate::reply::ok_status()
            }
            other => return Err(CoreError::NotImplemented(other.name().into())),
        };
        Ok(Outcome::Reply(reply))
    }

    /// Whether `owner` refuses contact from `other`: `other` is on the
    /// owner's block list while it is in use, or the owner's grant list is
    /// in use and `other` is not on it. IM and invitations ask this.
    /// Both are canonical local user IDs (`alice`).
    /// Answers come from the access cache when it has a fresh one.
    pub(crate) async fn blocks(&self, owner: &str, other: &str) -> Result<bool, CoreError> {
        let now = self.base.now_ms();
        if let Some(refuses) = self.access.get(owner, other, now) {
            return Ok(refuses);
        }
        let generation = self.access.generation(owner);
        let a = self.base.store.access_check(owner, other).await?;
        let refuses = (a.block_in_use && a.blocked) || (a.grant_in_use && !a.granted);
        if !a.grant_in_use && (!a.block_in_use || a.block_list_empty) {
            // Nobody is refused: one answer for every other user.
            self.access.put_open(owner, generation, now);
        } else {
            self.access.put(owner, other, generation, refuses, now);
        }
        Ok(refuses)
    }

    /// Whether `other` is in any of `owner`'s contact lists (canonical
    /// local user IDs). IM asks this for IMR-8.
    #[allow(dead_code)] // until IM calls it
    pub(crate) async fn has_contact(&self, owner: &str, other: &str) -> Result<bool, CoreError> {
        Ok(self.base.store.is_contact(owner, other).await?)
    }

    /// The user IDs in one of `owner`'s contact lists (wire list ID as sent
    /// by the client, compared case-insensitively); `None` when the list
    /// does not exist or is not `owner`'s. The IDs are canonical local IDs
    /// (`bob`), in the order they were added.
    pub(crate) async fn list_members(
        &self,
        owner: &str,
        list_id: &str,
    ) -> Result<Option<Vec<String>>, CoreError> {
        let Ok(id) = ids::ListId::parse(list_id, &self.base.cfg.domain, self.lists_cfg()) else {
            return Ok(None);
        };
        if id.owner != owner {
            return Ok(None);
        }
        Ok(self
            .base
            .store
            .contacts(owner, &id.name)
            .await?
            .map(|v| v.into_iter().map(|e| e.user_id).collect()))
    }

    /// A session ended: its split replies and uploads go with it (they
    /// would expire anyway; this frees them at once).
    pub(crate) fn lists_session_ended(&self, s: &Session) {
        self.segments().drop_session(&s.id);
    }
}

/// `Property{Name, Value}`.
pub(crate) fn property(name: &str, value: impl Into<String>) -> Element {
    Element::new("Property")
        .with_text("Name", name)
        .with_text("Value", value)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use crate::store::{AccessChange, ListStore, MemStore};
    use crate::{CoreConfig, FakeClock, Service};

    /// A service on a memory store, with a clock the test moves.
    fn service() -> (Arc<MemStore>, FakeClock, Service) {
        let store = Arc::new(MemStore::default());
        let clock = FakeClock::new(1);
        let svc = Service::new(
            CoreConfig::default(),
            store.clone(),
            Arc::new(clock.clone()),
        );
        (store, clock, svc)
    }

    #[tokio::test]
    async fn blocks_follows_block_and_grant_lists_in_use() {
        let (store, clock, svc) = service();
        let change = |block_in_use, grant_in_use| AccessChange {
            owner: "alice".into(),
            block_in_use: Some(block_in_use),
            grant_in_use: Some(grant_in_use),
            block_add: vec!["mallory".into()],
            grant_add: vec!["bob".into()],
            max_entries: 10,
            ..AccessChange::default()
        };
        // Nothing set: nobody is blocked.
        assert!(!svc.lists.blocks("alice", "mallory").await.unwrap());
        // (block in use, grant in use) -> (mallory, bob, carol) blocked?
        let table = [
            ((true, false), (true, false, false)),
            ((false, false), (false, false, false)),
            ((false, true), (true, false, true)),
            ((true, true), (true, false, true)),
        ];
        for ((b, g), (m, bob, carol)) in table {
            // Changed behind the service's back: the cached answers stand
            // until they age out.
            assert!(store.change_access(change(b, g)).await.unwrap());
            clock.advance_ms(super::LISTS_DEFAULTS.access_cache_ms);
            assert_eq!(
                svc.lists.blocks("alice", "mallory").await.unwrap(),
                m,
                "{b} {g} mallory"
            );
            assert_eq!(
                svc.lists.blocks("alice", "bob").await.unwrap(),
                bob,
                "{b} {g} bob"
            );
            assert_eq!(
                svc.lists.blocks("alice", "carol").await.unwrap(),
                carol,
                "{b} {g} carol"
            );
        }
        // Only the owner's lists count.
        assert!(!svc.lists.blocks("carol", "alice").await.unwrap());
        // A change through the service is seen at once (it invalidates).
        assert!(store.change_access(change(false, false)).await.unwrap());
        clock.advance_ms(super::LISTS_DEFAULTS.access_cache_ms);
        assert!(!svc.lists.blocks("alice", "mallory").await.unwrap());
        assert!(store.change_access(change(true, false)).await.unwrap());
        assert!(
            !svc.lists.blocks("alice", "mallory").await.unwrap(),
            "cached"
        );
        svc.lists.access.invalidate("alice");
        assert!(svc.lists.blocks("alice", "mallory").await.unwrap());
    }

    /// IM asks for every message; a user who writes to many others must
    /// not cost a store read per pair when the recipient refuses nobody.
    #[tokio::test]
    async fn an_owner_who_refuses_nobody_is_read_once_for_all_senders() {
        let (store, clock, svc) = service();
        assert!(!svc.lists.blocks("alice", "bob").await.unwrap());
        // Changed behind the service's back: were the answer kept per
        // pair, mallory's would be read now and say "blocked".
        let block_mallory = AccessChange {
            owner: "alice".into(),
            block_add: vec!["mallory".into()],
            max_entries: 10,
            ..AccessChange::default()
        };
        assert!(store.change_access(block_mallory).await.unwrap());
        assert!(
            !svc.lists.blocks("alice", "mallory").await.unwrap(),
            "alice's one answer stands for every sender until it ages out"
        );
        clock.advance_ms(super::LISTS_DEFAULTS.access_cache_ms);
        assert!(svc.lists.blocks("alice", "mallory").await.unwrap());
        // With an entry on the block list, answers are per pair again.
        assert!(!svc.lists.blocks("alice", "bob").await.unwrap());
        svc.lists.access.invalidate("alice");
        assert!(svc.lists.blocks("alice", "mallory").await.unwrap());
    }
}
