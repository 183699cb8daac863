//! Contact lists, block and grant lists (BASE-LIST, ADC-*).
//!
//! IDs here are canonical: owners and members are local user IDs
//! (`alice`), list names are the lower-case resource part of the wire
//! list ID (`friends` for `wv:alice/Friends@localhost`). The store keeps
//! order (lists by creation, members by insertion) and the invariants that
//! need atomicity: at most one default list per owner, the limits the core
//! passes in, and ADC-2's "contact list and grant list in one write".

use std::collections::{BTreeMap, HashMap, HashSet};

use async_trait::async_trait;

use super::{MemStore, StoreError};

/// One contact list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactListRecord {
    pub owner: String,
    /// Lower-case resource part of the list ID: the key within an owner.
    pub name: String,
    /// The list ID as the client wrote it when creating the list, echoed
    /// back so clients that compare IDs exactly still match.
    pub wire_id: String,
    pub display_name: Option<String>,
    pub is_default: bool,
    pub created_ms: u64,
}

/// One member of a contact list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactEntry {
    pub user_id: String,
    pub nickname: Option<String>,
}

/// A change to one contact list, applied in one store transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListChange {
    pub owner: String,
    pub name: String,
    pub display_name: Option<String>,
    /// `Some(true)` makes this the owner's only default list.
    pub default: Option<bool>,
    /// Added, or their nickname replaced when already members (a `None`
    /// nickname keeps the one stored).
    pub add: Vec<ContactEntry>,
    pub remove: Vec<String>,
    /// ADC-2: also put every `add` user on the owner's grant list.
    pub grant_added: bool,
    /// Taken off the grant list (used to undo a failed ADC-2 add).
    pub ungrant: Vec<String>,
    /// The list may not grow beyond this many members.
    pub max_contacts: usize,
    /// Nor the grant list beyond this many entries.
    pub max_grants: usize,
}

/// What a [`ListChange`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListChangeOutcome {
    NoSuchList,
    /// Nothing was written: the list would exceed `max_contacts`, or the
    /// grant list `max_grants`.
    TooManyContacts,
    Applied {
        /// Users that were not members before.
        newly_added: Vec<String>,
        /// Users that were not on the grant list before.
        newly_granted: Vec<String>,
    },
}

/// What creating a list did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateListOutcome {
    Created,
    Exists,
    TooManyLists,
    /// The initial members exceed the per-list limit.
    TooManyContacts,
}

/// Block and grant lists of one owner, with their "in use" flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLists {
    pub block_in_use: bool,
    pub grant_in_use: bool,
    pub blocked: Vec<String>,
    pub granted: Vec<String>,
}

/// How `owner`'s block and grant lists treat one other user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessCheck {
    pub block_in_use: bool,
    pub grant_in_use: bool,
    pub blocked: bool,
    pub granted: bool,
    /// The owner's block list has no entry at all (whoever `other` is).
    /// With the grant list not in use this answers for every other user
    /// at once, which lets the lists area remember one answer per owner
    /// instead of one per pair.
    pub block_list_empty: bool,
}

/// A change to the block and grant lists, applied in one transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessChange {
    pub owner: String,
    pub block_in_use: Option<bool>,
    pub grant_in_use: Option<bool>,
    pub block_add: Vec<String>,
    pub block_remove: Vec<String>,
    pub grant_add: Vec<String>,
    pub grant_remove: Vec<String>,
    /// Neither list may grow beyond this many entries.
    pub max_entries: usize,
}

/// Defaults for a user who never touched their lists: the block list is
/// in use (an empty one blocks nobody, and a user who adds to it expects
/// it to work), the grant list is not (an empty one in use would refuse
/// everybody).
pub const DEFAULT_BLOCK_IN_USE: bool = true;
pub const DEFAULT_GRANT_IN_USE: bool = false;

#[async_trait]
pub trait ListStore: Send + Sync + 'static {
    /// The owner's lists in creation order.
    async fn contact_lists(&self, owner: &str) -> Result<Vec<ContactListRecord>, StoreError>;
    /// Creates a list with its first members. A default list unsets the
    /// owner's other default. Counts and the insert are one transaction.
    async fn create_contact_list(
        &self,
        list: ContactListRecord,
        members: Vec<ContactEntry>,
        max_lists: usize,
        max_contacts: usize,
    ) -> Result<CreateListOutcome, StoreError>;
    /// Deletes a list and its members; false when there was none.
    async fn delete_contact_list(&self, owner: &str, name: &str) -> Result<bool, StoreError>;
    /// Members in insertion order; `None` when the list does not exist.
    async fn contacts(
        &self,
        owner: &str,
        name: &str,
    ) -> Result<Option<Vec<ContactEntry>>, StoreError>;
    /// Whether `user` is in any of `owner`'s lists.
    async fn is_contact(&self, owner: &str, user: &str) -> Result<bool, StoreError>;
    async fn change_contact_list(
        &self,
        change: ListChange,
    ) -> Result<ListChangeOutcome, StoreError>;

    async fn access_lists(&self, owner: &str) -> Result<AccessLists, StoreError>;
    async fn access_check(&self, owner: &str, other: &str) -> Result<AccessCheck, StoreError>;
    /// Applies the change; false (and nothing written) when a list would
    /// exceed `max_entries`.
    async fn change_access(&self, change: AccessChange) -> Result<bool, StoreError>;

    /// ADC-3: whether the user wants to hear that someone added them
    /// (true unless they opted out).
    async fn added_notify(&self, user: &str) -> Result<bool, StoreError>;
    async fn set_added_notify(&self, user: &str, notify: bool) -> Result<(), StoreError>;
}

/// The in-memory tables of this area.
#[derive(Default)]
pub(crate) struct MemLists {
    lists: HashMap<String, Vec<MemList>>,
    blocked: HashMap<String, Vec<String>>,
    granted: HashMap<String, Vec<String>>,
    prefs: HashMap<String, MemPrefs>,
}

struct MemList {
    record: ContactListRecord,
    /// user -> (insertion sequence, nickname)
    members: BTreeMap<String, (u64, Option<String>)>,
    next_seq: u64,
}

impl MemList {
    fn ordered(&self) -> Vec<ContactEntry> {
        let mut v: Vec<_> = self.members.iter().collect();
        v.sort_by_key(|(_, (seq, _))| *seq);
        v.into_iter()
            .map(|(u, (_, n))| ContactEntry {
                user_id: u.clone(),
                nickname: n.clone(),
            })
            .collect()
    }

    fn upsert(&mut self, e: ContactEntry) -> bool {
        match self.members.get_mut(&e.user_id) {
            Some(m) => {
                if e.nickname.is_some() {
                    m.1 = e.nickname;
                }
                false
            }
            None => {
                self.members.insert(e.user_id, (self.next_seq, e.nickname));
                self.next_seq += 1;
                true
            }
        }
    }
}

#[derive(Clone, Copy)]
struct MemPrefs {
    block_in_use: bool,
    grant_in_use: bool,
    notify_added: bool,
}

impl Default for MemPrefs {
    fn default() -> Self {
        MemPrefs {
            block_in_use: DEFAULT_BLOCK_IN_USE,
            grant_in_use: DEFAULT_GRANT_IN_USE,
            notify_added: true,
        }
    }
}

/// Applies adds and removes to an ordered, duplicate-free list; false when
/// the result would be longer than `max`.
fn edit_entries(list: &mut Vec<String>, add: &[String], remove: &[String], max: usize) -> bool {
    let gone: HashSet<&String> = remove.iter().collect();
    let mut next: Vec<String> = list.iter().filter(|u| !gone.contains(u)).cloned().collect();
    let mut seen: HashSet<String> = next.iter().cloned().collect();
    for u in add {
        if seen.insert(u.clone()) {
            next.push(u.clone());
        }
    }
    if next.len() > max && next.len() > list.len() {
        return false;
    }
    *list = next;
    true
}

#[async_trait]
impl ListStore for MemStore {
    async fn contact_lists(&self, owner: &str) -> Result<Vec<ContactListRecord>, StoreError> {
        let g = self.lists.lock();
        Ok(g.lists
            .get(owner)
            .map(|v| v.iter().map(|l| l.record.clone()).collect())
            .unwrap_or_default())
    }

    async fn create_contact_list(
        &self,
        list: ContactListRecord,
        members: Vec<ContactEntry>,
        max_lists: usize,
        max_contacts: usize,
    ) -> Result<CreateListOutcome, StoreError> {
        let mut g = self.lists.lock();
        let lists = g.lists.entry(list.owner.clone()).or_default();
        if lists.iter().any(|l| l.record.name == list.name) {
            return Ok(CreateListOutcome::Exists);
        }
        if lists.len() >= max_lists {
            return Ok(CreateListOutcome::TooManyLists);
        }
        let mut new = MemList {
            record: list,
            members: BTreeMap::new(),
            next_seq: 0,
        };
        for m in members {
            new.upsert(m);
        }
        if new.members.len() > max_contacts {
            return Ok(CreateListOutcome::TooManyContacts);
        }
        if new.record.is_default {
            for l in lists.iter_mut() {
                l.record.is_default = false;
            }
        }
        lists.push(new);
        Ok(CreateListOutcome::Created)
    }

    async fn delete_contact_list(&self, owner: &str, name: &str) -> Result<bool, StoreError> {
        let mut g = self.lists.lock();
        let Some(lists) = g.lists.get_mut(owner) else {
            return Ok(false);
        };
        let before = lists.len();
        lists.retain(|l| l.record.name != name);
        Ok(lists.len() != before)
    }

    async fn contacts(
        &self,
        owner: &str,
        name: &str,
    ) -> Result<Option<Vec<ContactEntry>>, StoreError> {
        let g = self.lists.lock();
        Ok(g.lists
            .get(owner)
            .and_then(|v| v.iter().find(|l| l.record.name == name))
            .map(MemList::ordered))
    }

    async fn is_contact(&self, owner: &str, user: &str) -> Result<bool, StoreError> {
        let g = self.lists.lock();
        Ok(g.lists
            .get(owner)
            .is_some_and(|v| v.iter().any(|l| l.members.contains_key(user))))
    }

    async fn change_contact_list(&self, c: ListChange) -> Result<ListChangeOutcome, StoreError> {
        let mut g = self.lists.lock();
        let g = &mut *g;
        let Some(lists) = g.lists.get_mut(&c.owner) else {
            return Ok(ListChangeOutcome::NoSuchList);
        };
        let Some(idx) = lists.iter().position(|l| l.record.name == c.name) else {
            return Ok(ListChangeOutcome::NoSuchList);
        };
        // Check the limits before writing anything.
        let list = &lists[idx];
        let gone: HashSet<&String> = c.remove.iter().collect();
        let kept = list.members.keys().filter(|u| !gone.contains(u)).count();
        let fresh: HashSet<&String> = c
            .add
            .iter()
            .map(|e| &e.user_id)
            .filter(|u| !list.members.contains_key(*u) || gone.contains(u))
            .collect();
        if kept + fresh.len() > c.max_contacts && kept + fresh.len() > list.members.len() {
            return Ok(ListChangeOutcome::TooManyContacts);
        }
        let granted = g.granted.entry(c.owner.clone()).or_default();
        let grant_add: Vec<String> = if c.grant_added {
            c.add.iter().map(|e| e.user_id.clone()).collect()
        } else {
            Vec::new()
        };
        let before: HashSet<String> = granted.iter().cloned().collect();
        if !edit_entries(granted, &grant_add, &c.ungrant, c.max_grants) {
            return Ok(ListChangeOutcome::TooManyContacts);
        }
        let mut newly_granted = Vec::new();
        for u in &grant_add {
            if !before.contains(u) && !newly_granted.contains(u) {
                newly_granted.push(u.clone());
            }
        }
        let list = &mut lists[idx];
        for u in &c.remove {
            list.members.remove(u);
        }
        let mut newly_added = Vec::new();
        for e in c.add {
            let u = e.user_id.clone();
            if list.upsert(e) {
                newly_added.push(u);
            }
        }
        if let Some(d) = &c.display_name {
            list.record.display_name = Some(d.clone());
        }
        match c.default {
            Some(true) => {
                for (i, l) in lists.iter_mut().enumerate() {
                    l.record.is_default = i == idx;
                }
            }
            Some(false) => lists[idx].record.is_default = false,
            None => {}
        }
        Ok(ListChangeOutcome::Applied {
            newly_added,
            newly_granted,
        })
    }

    async fn access_lists(&self, owner: &str) -> Result<AccessLists, StoreError> {
        let g = self.lists.lock();
        let p = g.prefs.get(owner).copied().unwrap_or_default();
        Ok(AccessLists {
            block_in_use: p.block_in_use,
            grant_in_use: p.grant_in_use,
            blocked: g.blocked.get(owner).cloned().unwrap_or_default(),
            granted: g.granted.get(owner).cloned().unwrap_or_default(),
        })
    }

    async fn access_check(&self, owner: &str, other: &str) -> Result<AccessCheck, StoreError> {
        let g = self.lists.lock();
        let p = g.prefs.get(owner).copied().unwrap_or_default();
        let on = |m: &HashMap<String, Vec<String>>| {
            m.get(owner).is_some_and(|v| v.iter().any(|u| u == other))
        };
        Ok(AccessCheck {
            block_in_use: p.block_in_use,
            grant_in_use: p.grant_in_use,
            blocked: on(&g.blocked),
            granted: on(&g.granted),
            block_list_empty: g.blocked.get(owner).is_none_or(Vec::is_empty),
        })
    }

    async fn change_access(&self, c: AccessChange) -> Result<bool, StoreError> {
        let mut g = self.lists.lock();
        let mut blocked = g.blocked.get(&c.owner).cloned().unwrap_or_default();
        let mut granted = g.granted.get(&c.owner).cloned().unwrap_or_default();
        if !edit_entries(&mut blocked, &c.block_add, &c.block_remove, c.max_entries)
            || !edit_entries(&mut granted, &c.grant_add, &c.grant_remove, c.max_entries)
        {
            return Ok(false);
        }
        g.blocked.insert(c.owner.clone(), blocked);
        g.granted.insert(c.owner.clone(), granted);
        let p = g.prefs.entry(c.owner).or_default();
        if let Some(b) = c.block_in_use {
            p.block_in_use = b;
        }
        if let Some(b) = c.grant_in_use {
            p.grant_in_use = b;
        }
        Ok(true)
    }

    async fn added_notify(&self, user: &str) -> Result<bool, StoreError> {
        let g = self.lists.lock();
        Ok(g.prefs.get(user).copied().unwrap_or_default().notify_added)
    }

    async fn set_added_notify(&self, user: &str, notify: bool) -> Result<(), StoreError> {
        self.lists
            .lock()
            .prefs
            .entry(user.to_string())
            .or_default()
            .notify_added = notify;
        Ok(())
    }
}
