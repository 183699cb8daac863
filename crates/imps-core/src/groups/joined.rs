//! The joined users of recently messaged groups, kept in memory (issue
//! 19): a message to a 1,000-member group read 1,000 rows from the store
//! before its fan-out, which held a busy group to about 76 messages a
//! second. The store stays the truth; this is a copy of what it holds.
//!
//! Every change to a group's joined rows made by this process goes
//! through [`GroupsService`]'s `*_joined` wrappers below, which forget the
//! group's copy after the store has answered (whatever it answered: a
//! failed write may still have landed). A reader that missed marks the
//! slot as loading with a token before it reads the store, and keeps what
//! it read only if the slot still holds that token, so a change that
//! lands while the read runs is never papered over by the older rows.
//! The copy starts empty, so a restart reads the store again.
//!
//! Bounded: at most `groups.joined_cache_groups` groups (0 turns it off);
//! past it an arbitrary other group is forgotten. Off in a cluster: other
//! nodes change the same rows in the shared store and nothing here hears
//! of it (their joins and leaves are not on the bus), so every message
//! there reads the store as before.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use super::GroupsService;
use crate::CoreError;
use crate::store::{JoinOutcome, JoinedUser};

enum Slot {
    /// A reader with this token is reading the store.
    Loading(u64),
    Ready(Arc<Vec<JoinedUser>>),
}

pub(crate) struct JoinedCache {
    /// Most groups kept; 0 = off.
    max_groups: usize,
    t: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    slots: HashMap<String, Slot>,
    next_token: u64,
}

enum Lookup {
    Hit(Arc<Vec<JoinedUser>>),
    /// Read the store, then offer the rows with this token (None: off).
    Miss(Option<u64>),
}

impl JoinedCache {
    pub(crate) fn new(max_groups: usize) -> JoinedCache {
        JoinedCache {
            max_groups,
            t: Mutex::new(Inner::default()),
        }
    }

    fn lookup(&self, group: &str) -> Lookup {
        if self.max_groups == 0 {
            return Lookup::Miss(None);
        }
        let mut t = self.t.lock();
        if let Some(Slot::Ready(rows)) = t.slots.get(group) {
            return Lookup::Hit(rows.clone());
        }
        if !t.slots.contains_key(group)
            && t.slots.len() >= self.max_groups
            && let Some(k) = t.slots.keys().next().cloned()
        {
            t.slots.remove(&k);
        }
        t.next_token += 1;
        let token = t.next_token;
        t.slots.insert(group.to_string(), Slot::Loading(token));
        Lookup::Miss(Some(token))
    }

    /// Keeps `rows` if nothing changed the group since `token` was given.
    fn fill(&self, group: &str, token: u64, rows: Arc<Vec<JoinedUser>>) {
        let mut t = self.t.lock();
        if let Some(slot) = t.slots.get_mut(group)
            && matches!(slot, Slot::Loading(k) if *k == token)
        {
            *slot = Slot::Ready(rows);
        }
    }

    fn forget(&self, group: &str) {
        if self.max_groups > 0 {
            self.t.lock().slots.remove(group);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.t.lock().slots.len()
    }
}

impl GroupsService {
    /// The group's joined users in join order, from memory when this
    /// process has read them since their last change.
    pub(crate) async fn joined_now(&self, group: &str) -> Result<Arc<Vec<JoinedUser>>, CoreError> {
        match self.joined_cache.lookup(group) {
            Lookup::Hit(rows) => Ok(rows),
            Lookup::Miss(token) => {
                let rows = Arc::new(self.base.store.joined(group).await?);
                if let Some(token) = token {
                    self.joined_cache.fill(group, token, rows.clone());
                }
                Ok(rows)
            }
        }
    }

    /// `GroupStore::join`, forgetting the group's copy.
    pub(crate) async fn join_joined(
        &self,
        group: &str,
        row: JoinedUser,
        max: u64,
    ) -> Result<JoinOutcome, CoreError> {
        let r = self.base.store.join(group, row, max).await;
        self.joined_cache.forget(group);
        Ok(r?)
    }

    /// `GroupStore::leave`, forgetting the group's copy.
    pub(crate) async fn leave_joined(
        &self,
        group: &str,
        user: &str,
    ) -> Result<Option<JoinedUser>, CoreError> {
        let r = self.base.store.leave(group, user).await;
        self.joined_cache.forget(group);
        Ok(r?)
    }

    /// `GroupStore::set_joined_flags`, forgetting the group's copy.
    pub(crate) async fn flags_joined(
        &self,
        group: &str,
        user: &str,
        subscribed: Option<bool>,
        show_id: Option<bool>,
    ) -> Result<bool, CoreError> {
        let r = self
            .base
            .store
            .set_joined_flags(group, user, subscribed, show_id)
            .await;
        self.joined_cache.forget(group);
        Ok(r?)
    }

    /// `GroupStore::delete_group` (its joined rows go with it), forgetting
    /// the group's copy.
    pub(crate) async fn delete_joined(&self, group: &str) -> Result<bool, CoreError> {
        let r = self.base.store.delete_group(group).await;
        self.joined_cache.forget(group);
        Ok(r?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(user: &str) -> JoinedUser {
        JoinedUser {
            user: user.into(),
            sname: user.into(),
            session_id: format!("s-{user}"),
            subscribed: false,
            show_id: false,
            joined_ms: 0,
        }
    }

    #[test]
    fn a_change_during_the_read_is_not_papered_over() {
        let c = JoinedCache::new(8);
        let Lookup::Miss(Some(token)) = c.lookup("g") else {
            panic!("first lookup must miss with a token");
        };
        // A join lands while the reader reads the older rows.
        c.forget("g");
        c.fill("g", token, Arc::new(vec![row("alice")]));
        assert!(matches!(c.lookup("g"), Lookup::Miss(Some(_))));
    }

    #[test]
    fn rows_read_without_a_change_are_kept() {
        let c = JoinedCache::new(8);
        let Lookup::Miss(Some(token)) = c.lookup("g") else {
            panic!("first lookup must miss with a token");
        };
        c.fill("g", token, Arc::new(vec![row("alice")]));
        let Lookup::Hit(rows) = c.lookup("g") else {
            panic!("filled slot must hit");
        };
        assert_eq!(rows.len(), 1);
    }

    #[test]
    fn bounded_and_off_at_zero() {
        let c = JoinedCache::new(2);
        for g in ["a", "b", "c", "d"] {
            let _ = c.lookup(g);
        }
        assert_eq!(c.len(), 2);
        let off = JoinedCache::new(0);
        assert!(matches!(off.lookup("a"), Lookup::Miss(None)));
        assert_eq!(off.len(), 0);
    }
}
