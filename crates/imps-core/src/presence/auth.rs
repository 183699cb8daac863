//! Who may see which of an owner's attributes (PRR-5, PRR-1, PRR-UC,
//! PRI-1), and the one path every authorization change takes.
//!
//! An owner's attribute lists apply most specific first: a list for the
//! user wins over the contact lists the user is in (their union), which
//! win over the DefaultList. A user list with no attributes is an explicit
//! denial. No list at all means "not authorized": nothing is disclosed,
//! and a subscription raises a reactive request. Location (GeoLocation,
//! Address, FreeTextLocation) is granted only where a list names it; a
//! grant of "all attributes" leaves it out.

use super::PresenceService;
use std::collections::{BTreeMap, HashMap, HashSet};

use super::attributes::{Attr, AttrSet};
use super::hot::OwnerState;
use crate::CoreError;
use crate::store::{AuthChange, GrantRecord, GrantSubject, ReactiveRecord, ReactiveState};

/// An owner's attribute lists, decoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Grants {
    pub default: Option<AttrSet>,
    pub users: crate::keyed::SmallMap<String, AttrSet>,
    /// By contact list ID as the owner's client sent it.
    pub lists: BTreeMap<String, AttrSet>,
}

impl Grants {
    pub(crate) fn from_records(recs: &[GrantRecord]) -> Grants {
        let mut g = Grants::default();
        for r in recs {
            g.put(&r.subject, AttrSet::from_names(&r.attrs));
        }
        g
    }

    fn put(&mut self, subject: &GrantSubject, set: AttrSet) {
        match subject {
            GrantSubject::Default => self.default = Some(set),
            GrantSubject::User(u) => {
                self.users.insert(u.clone(), set);
            }
            GrantSubject::List(l) => {
                self.lists.insert(l.clone(), set);
            }
        }
    }

    fn delete(&mut self, subject: &GrantSubject) {
        match subject {
            GrantSubject::Default => self.default = None,
            GrantSubject::User(u) => {
                self.users.remove(u);
            }
            GrantSubject::List(l) => {
                self.lists.remove(l);
            }
        }
    }

    /// The attributes `watcher` may see; `None` when no list applies.
    pub(crate) fn effective(&self, watcher: &str, lists: &ListView) -> Option<AttrSet> {
        if let Some(s) = self.users.get(watcher) {
            return Some(*s);
        }
        let mut found: Option<AttrSet> = None;
        for (id, set) in &self.lists {
            if lists.contains(id, watcher) {
                found = Some(found.unwrap_or_default().union(*set));
            }
        }
        found.or(self.default)
    }
}

/// The members of the contact lists an owner's grants name, fetched once
/// per operation so that checking many watchers costs no more lookups.
#[derive(Debug, Default)]
pub(crate) struct ListView {
    members: HashMap<String, HashSet<String>>,
}

impl ListView {
    fn contains(&self, list: &str, user: &str) -> bool {
        self.members.get(list).is_some_and(|m| m.contains(user))
    }

    /// Every member of every list fetched (a user may appear more than once).
    pub(crate) fn all_members(&self) -> impl Iterator<Item = &str> {
        self.members.values().flatten().map(String::as_str)
    }
}

impl PresenceService {
    /// Fetches the members of `owner`'s lists named in `grants`. A list
    /// that cannot be read counts as empty: failing closed discloses nothing.
    pub(crate) async fn list_view(&self, owner: &str, grants: &Grants) -> ListView {
        let mut view = ListView::default();
        for id in grants.lists.keys() {
            let members = match self.lists.list_members(owner, id).await {
                Ok(Some(m)) => m
                    .iter()
                    .filter_map(|u| self.base.canonical_party(u).ok())
                    .collect(),
                Ok(None) => HashSet::new(),
                Err(e) => {
                    tracing::warn!(owner, list = %id, error = %e, "contact list unreadable; its grant applies to nobody");
                    HashSet::new()
                }
            };
            view.members.insert(id.clone(), members);
        }
        view
    }

    /// What `watcher` may see of the owner whose state this is. The owner
    /// sees everything of their own.
    pub(crate) fn visible_to(
        owner: &str,
        st: &OwnerState,
        watcher: &str,
        lists: &ListView,
    ) -> AttrSet {
        if watcher == owner {
            return AttrSet::all();
        }
        if st.rare.blocked.contains(watcher) {
            return AttrSet::default();
        }
        st.grants.effective(watcher, lists).unwrap_or_default()
    }

    /// Applies an authorization change: the store first, then memory; then
    /// subscribed watchers who can now see more get those attributes'
    /// current values. Nothing is sent about what was withdrawn.
    pub(crate) async fn change_auth(
        &self,
        owner: &str,
        st: &mut OwnerState,
        change: AuthChange,
    ) -> Result<(), CoreError> {
        if change.is_empty() {
            return Ok(());
        }
        let mut after = st.grants.clone();
        for d in &change.delete_grants {
            after.delete(d);
        }
        for p in &change.put_grants {
            after.put(&p.subject, AttrSet::from_names(&p.attrs));
        }
        let mut all_lists = after.clone();
        for (id, set) in &st.grants.lists {
            all_lists.lists.entry(id.clone()).or_insert(*set);
        }
        let view = self.list_view(owner, &all_lists).await;
        let before: HashMap<String, AttrSet> = st
            .watchers
            .iter()
            .filter(|(_, w)| w.active)
            .map(|(u, _)| (u.clone(), Self::visible_to(owner, st, u, &view)))
            .collect();

        self.base
            .store
            .update_presence_auth(owner, change.clone())
            .await?;
        self.tell_other_nodes(owner);
        st.grants = after;
        for w in &change.delete_reactive {
            if st.rare.reactive.contains_key(w) {
                st.rare.reactive.remove(w);
            }
        }
        for r in change.put_reactive {
            st.rare.reactive.insert(r.watcher.clone(), r);
        }
        st.rare.tidy();

        let online = self.online_view(owner, st.invisible);
        let mut cache = super::notify::RenderCache::default();
        for (watcher, old) in before {
            let Some(w) = st.watchers.get(&watcher).copied() else {
                continue;
            };
            let new = Self::visible_to(owner, st, &watcher, &view);
            // What became visible comes with the rest of what the watcher
            // may see: each notification is a snapshot (see `fan_out`).
            if !new.minus(old).intersect(w.attrs).is_empty() {
                let visible = new.intersect(w.attrs);
                self.push_presence(&watcher, owner, st, &online, visible, &mut cache);
            }
        }
        self.flush_remote(&mut cache).await;
        Ok(())
    }

    /// Proactive authorization: `owner` lets `watcher` see these
    /// attributes, on top of what the watcher may already see (ADC-2
    /// authorizes OnlineStatus this way). A pending reactive request from
    /// the watcher counts as granted. If the watcher is subscribed, they
    /// get the newly visible values at once.
    pub(crate) async fn authorize(
        &self,
        owner: &str,
        watcher: &str,
        attrs: &[&str],
    ) -> Result<(), CoreError> {
        let mut add = AttrSet::EMPTY;
        for a in attrs {
            add.insert(
                Attr::from_name(a).ok_or_else(|| CoreError::UnknownAttribute((*a).to_string()))?,
            );
        }
        let cell = self.owner_cell(owner).await?;
        let mut st = cell.lock().await;
        let view = self.list_view(owner, &st.grants).await;
        let current = st.grants.effective(watcher, &view).unwrap_or_default();
        let mut change = AuthChange {
            put_grants: vec![GrantRecord {
                subject: GrantSubject::User(watcher.to_string()),
                attrs: current.union(add).names(),
            }],
            ..AuthChange::default()
        };
        if let Some(r) = st
            .rare
            .reactive
            .get(watcher)
            .filter(|r| r.state == ReactiveState::Pending)
        {
            change.put_reactive.push(ReactiveRecord {
                state: ReactiveState::Granted,
                updated_ms: self.base.now_ms(),
                ..r.clone()
            });
        }
        self.change_auth(owner, &mut st, change).await
    }
}

/// ADC-2: lists authorizes an added contact through this.
#[async_trait::async_trait]
impl crate::lists::PresenceGrants for PresenceService {
    async fn authorize(&self, owner: &str, watcher: &str, attrs: &[&str]) -> Result<(), CoreError> {
        PresenceService::authorize(self, owner, watcher, attrs).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_specific_list_wins() {
        let mut g = Grants {
            default: Some(AttrSet::only(Attr::StatusText)),
            ..Grants::default()
        };
        g.lists.insert("friends".into(), AttrSet::only(Attr::Alias));
        g.users.insert("bob".into(), AttrSet::EMPTY);
        let mut view = ListView::default();
        view.members.insert(
            "friends".into(),
            ["carol".to_string(), "bob".to_string()].into(),
        );
        assert_eq!(
            g.effective("bob", &view),
            Some(AttrSet::EMPTY),
            "user list denies"
        );
        assert_eq!(
            g.effective("carol", &view),
            Some(AttrSet::only(Attr::Alias))
        );
        assert_eq!(
            g.effective("dave", &view),
            Some(AttrSet::only(Attr::StatusText))
        );
        g.default = None;
        assert_eq!(g.effective("dave", &view), None);
    }
}
