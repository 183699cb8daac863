//! Groups, members, access rights, joined users, reject lists, join passes
//! (private-group invitations and rejoin windows) and invitations
//! (BASE-GRP, BASE-INV, PGC-*). Birth dates for age-restricted groups
//! (PPR-9/10) are in the public profile (`directory`).
//!
//! Joined users are durable rows, not session memory: the fan-out of a
//! group message reads them from here (through a copy in memory on a
//! single node, `groups::joined`), so every node of a cluster sees the
//! same membership, and a restart keeps who was in which group.

use std::collections::HashMap;

use async_trait::async_trait;

use super::{MemStore, StoreError};

mod types;

pub use types::*;

#[async_trait]
pub trait GroupStore: Send + Sync + 'static {
    /// Creates a group; its owner becomes an Admin member. `Conflict`
    /// when the ID is taken.
    async fn create_group(&self, g: GroupRecord) -> Result<(), StoreError>;
    async fn group(&self, id: &str) -> Result<Option<GroupRecord>, StoreError>;
    async fn groups(&self) -> Result<Vec<GroupRecord>, StoreError>;
    /// Replaces properties and welcome note; false if no such group.
    async fn update_group(&self, g: GroupRecord) -> Result<bool, StoreError>;
    /// Deletes a group with its members, joined users, rejects, passes
    /// and invitations; false if no such group.
    async fn delete_group(&self, id: &str) -> Result<bool, StoreError>;

    /// Members with their access level, ordered by user.
    async fn members(&self, group: &str) -> Result<Vec<(String, Access)>, StoreError>;
    /// Sets (`Some`) or removes (`None`) a membership; false when removing
    /// one that did not exist.
    async fn set_member(
        &self,
        group: &str,
        user: &str,
        access: Option<Access>,
    ) -> Result<bool, StoreError>;

    /// Joined users in join order.
    async fn joined(&self, group: &str) -> Result<Vec<JoinedUser>, StoreError>;
    /// Adds a joined row unless the user is joined, the screen name is
    /// taken, or `max` users are joined already; one atomic step.
    async fn join(&self, group: &str, j: JoinedUser, max: u64) -> Result<JoinOutcome, StoreError>;
    /// Updates the flags of a joined row; false if not joined.
    async fn set_joined_flags(
        &self,
        group: &str,
        user: &str,
        subscribed: Option<bool>,
        show_id: Option<bool>,
    ) -> Result<bool, StoreError>;
    /// Removes a joined row and returns it.
    async fn leave(&self, group: &str, user: &str) -> Result<Option<JoinedUser>, StoreError>;
    /// The (group, row) pairs joined from one session.
    async fn joined_by_session(
        &self,
        session_id: &str,
    ) -> Result<Vec<(String, JoinedUser)>, StoreError>;

    /// Rejected users, ordered.
    async fn rejects(&self, group: &str) -> Result<Vec<String>, StoreError>;
    /// Adds or removes a rejected user; true when something changed.
    async fn set_reject(&self, group: &str, user: &str, rejected: bool)
    -> Result<bool, StoreError>;

    /// Stores a pass, replacing the user's previous one for the group.
    async fn put_pass(&self, group: &str, pass: GroupPass) -> Result<(), StoreError>;
    async fn pass(&self, group: &str, user: &str) -> Result<Option<GroupPass>, StoreError>;
    async fn remove_pass(&self, group: &str, user: &str) -> Result<bool, StoreError>;
    async fn passes(&self, group: &str) -> Result<Vec<GroupPass>, StoreError>;
    /// Up to `limit` passes whose `until_ms` is at or before `now_ms`, as
    /// (group, pass), oldest deadline first.
    async fn expired_passes(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<(String, GroupPass)>, StoreError>;
    /// How many groups exist (`owner: None`) or are owned by `owner`.
    async fn count_groups(&self, owner: Option<&str>) -> Result<u64, StoreError>;

    /// Stores an invitation, replacing one with the same (ID, invitee).
    async fn put_invite(&self, inv: InviteRecord) -> Result<(), StoreError>;
    async fn invite(
        &self,
        invite_id: &str,
        invitee: &str,
    ) -> Result<Option<InviteRecord>, StoreError>;
    /// Every invitee's record of one invitation by `inviter`.
    async fn invites_from(
        &self,
        inviter: &str,
        invite_id: &str,
    ) -> Result<Vec<InviteRecord>, StoreError>;
    /// Invitations not yet pushed to the invitee, oldest first.
    async fn pending_invites(&self, invitee: &str) -> Result<Vec<InviteRecord>, StoreError>;
    async fn mark_invite_delivered(&self, invite_id: &str, invitee: &str)
    -> Result<(), StoreError>;
    async fn delete_invite(&self, invite_id: &str, invitee: &str) -> Result<bool, StoreError>;
}

/// The in-memory tables of this area.
#[derive(Default)]
pub(crate) struct MemGroups {
    groups: HashMap<String, GroupRecord>,
    members: HashMap<String, Vec<(String, Access)>>,
    joined: HashMap<String, Vec<JoinedUser>>,
    rejects: HashMap<String, Vec<String>>,
    passes: HashMap<String, Vec<GroupPass>>,
    invites: Vec<InviteRecord>,
}

impl MemGroups {
    /// Listed groups with the users joined to each, for the search.
    pub(crate) fn listed_with_joined(&self) -> Vec<(GroupRecord, Vec<String>)> {
        self.groups
            .values()
            .filter(|g| super::group_listed(g))
            .map(|g| {
                let joined = self
                    .joined
                    .get(&g.id)
                    .map(|v| v.iter().map(|j| j.user.clone()).collect())
                    .unwrap_or_default();
                (g.clone(), joined)
            })
            .collect()
    }
}

#[async_trait]
impl GroupStore for MemStore {
    async fn create_group(&self, mut g: GroupRecord) -> Result<(), StoreError> {
        let mut t = self.groups.lock();
        if t.groups.contains_key(&g.id) {
            return Err(StoreError::Conflict(format!("group {} exists", g.id)));
        }
        g.props.sort();
        t.members
            .insert(g.id.clone(), vec![(g.owner.clone(), Access::Admin)]);
        t.groups.insert(g.id.clone(), g);
        Ok(())
    }

    async fn group(&self, id: &str) -> Result<Option<GroupRecord>, StoreError> {
        Ok(self.groups.lock().groups.get(id).cloned())
    }

    async fn groups(&self) -> Result<Vec<GroupRecord>, StoreError> {
        let mut v: Vec<_> = self.groups.lock().groups.values().cloned().collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(v)
    }

    async fn update_group(&self, mut g: GroupRecord) -> Result<bool, StoreError> {
        let mut t = self.groups.lock();
        match t.groups.get_mut(&g.id) {
            Some(old) => {
                g.props.sort();
                old.props = g.props;
                old.welcome = g.welcome;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn delete_group(&self, id: &str) -> Result<bool, StoreError> {
        let mut t = self.groups.lock();
        let existed = t.groups.remove(id).is_some();
        t.members.remove(id);
        t.joined.remove(id);
        t.rejects.remove(id);
        t.passes.remove(id);
        t.invites.retain(|i| i.group_id.as_deref() != Some(id));
        Ok(existed)
    }

    async fn members(&self, group: &str) -> Result<Vec<(String, Access)>, StoreError> {
        let mut v = self
            .groups
            .lock()
            .members
            .get(group)
            .cloned()
            .unwrap_or_default();
        v.sort();
        Ok(v)
    }

    async fn set_member(
        &self,
        group: &str,
        user: &str,
        access: Option<Access>,
    ) -> Result<bool, StoreError> {
        let mut t = self.groups.lock();
        let list = t.members.entry(group.to_string()).or_default();
        let pos = list.iter().position(|(u, _)| u == user);
        Ok(match (access, pos) {
            (Some(a), Some(i)) => {
                list[i].1 = a;
                true
            }
            (Some(a), None) => {
                list.push((user.to_string(), a));
                true
            }
            (None, Some(i)) => {
                list.remove(i);
                true
            }
            (None, None) => false,
        })
    }

    async fn joined(&self, group: &str) -> Result<Vec<JoinedUser>, StoreError> {
        Ok(self
            .groups
            .lock()
            .joined
            .get(group)
            .cloned()
            .unwrap_or_default())
    }

    async fn join(&self, group: &str, j: JoinedUser, max: u64) -> Result<JoinOutcome, StoreError> {
        let mut t = self.groups.lock();
        let list = t.joined.entry(group.to_string()).or_default();
        if let Some(old) = list.iter().find(|x| x.user == j.user) {
            return Ok(JoinOutcome::AlreadyJoined(old.clone()));
        }
        let key = j.sname.to_lowercase();
        if list.iter().any(|x| x.sname.to_lowercase() == key) {
            return Ok(JoinOutcome::ScreenNameTaken);
        }
        if list.len() as u64 >= max {
            return Ok(JoinOutcome::Full);
        }
        list.push(j);
        Ok(JoinOutcome::Joined)
    }

    async fn set_joined_flags(
        &self,
        group: &str,
        user: &str,
        subscribed: Option<bool>,
        show_id: Option<bool>,
    ) -> Result<bool, StoreError> {
        let mut t = self.groups.lock();
        let Some(row) = t
            .joined
            .get_mut(group)
            .and_then(|l| l.iter_mut().find(|x| x.user == user))
        else {
            return Ok(false);
        };
        if let Some(s) = subscribed {
            row.subscribed = s;
        }
        if let Some(s) = show_id {
            row.show_id = s;
        }
        Ok(true)
    }

    async fn leave(&self, group: &str, user: &str) -> Result<Option<JoinedUser>, StoreError> {
        let mut t = self.groups.lock();
        let Some(list) = t.joined.get_mut(group) else {
            return Ok(None);
        };
        let pos = list.iter().position(|x| x.user == user);
        Ok(pos.map(|i| list.remove(i)))
    }

    async fn joined_by_session(
        &self,
        session_id: &str,
    ) -> Result<Vec<(String, JoinedUser)>, StoreError> {
        let t = self.groups.lock();
        let mut v: Vec<_> = t
            .joined
            .iter()
            .flat_map(|(g, l)| {
                l.iter()
                    .filter(|j| j.session_id == session_id)
                    .map(move |j| (g.clone(), j.clone()))
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(v)
    }

    async fn rejects(&self, group: &str) -> Result<Vec<String>, StoreError> {
        let mut v = self
            .groups
            .lock()
            .rejects
            .get(group)
            .cloned()
            .unwrap_or_default();
        v.sort();
        Ok(v)
    }

    async fn set_reject(
        &self,
        group: &str,
        user: &str,
        rejected: bool,
    ) -> Result<bool, StoreError> {
        let mut t = self.groups.lock();
        let list = t.rejects.entry(group.to_string()).or_default();
        let pos = list.iter().position(|u| u == user);
        Ok(match (rejected, pos) {
            (true, None) => {
                list.push(user.to_string());
                true
            }
            (false, Some(i)) => {
                list.remove(i);
                true
            }
            _ => false,
        })
    }

    async fn put_pass(&self, group: &str, pass: GroupPass) -> Result<(), StoreError> {
        let mut t = self.groups.lock();
        let list = t.passes.entry(group.to_string()).or_default();
        list.retain(|p| p.user != pass.user);
        list.push(pass);
        Ok(())
    }

    async fn pass(&self, group: &str, user: &str) -> Result<Option<GroupPass>, StoreError> {
        Ok(self
            .groups
            .lock()
            .passes
            .get(group)
            .and_then(|l| l.iter().find(|p| p.user == user).cloned()))
    }

    async fn remove_pass(&self, group: &str, user: &str) -> Result<bool, StoreError> {
        let mut t = self.groups.lock();
        let Some(list) = t.passes.get_mut(group) else {
            return Ok(false);
        };
        let before = list.len();
        list.retain(|p| p.user != user);
        Ok(list.len() != before)
    }

    async fn passes(&self, group: &str) -> Result<Vec<GroupPass>, StoreError> {
        let mut v = self
            .groups
            .lock()
            .passes
            .get(group)
            .cloned()
            .unwrap_or_default();
        v.sort_by(|a, b| a.user.cmp(&b.user));
        Ok(v)
    }

    async fn expired_passes(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<(String, GroupPass)>, StoreError> {
        let t = self.groups.lock();
        let mut v: Vec<(String, GroupPass)> = t
            .passes
            .iter()
            .flat_map(|(g, l)| {
                l.iter()
                    .filter(|p| p.until_ms.is_some_and(|u| u <= now_ms))
                    .map(move |p| (g.clone(), p.clone()))
            })
            .collect();
        v.sort_by(|a, b| (a.1.until_ms, &a.0, &a.1.user).cmp(&(b.1.until_ms, &b.0, &b.1.user)));
        v.truncate(limit);
        Ok(v)
    }

    async fn count_groups(&self, owner: Option<&str>) -> Result<u64, StoreError> {
        let t = self.groups.lock();
        Ok(t.groups
            .values()
            .filter(|g| owner.is_none_or(|o| g.owner == o))
            .count() as u64)
    }

    async fn put_invite(&self, inv: InviteRecord) -> Result<(), StoreError> {
        let mut t = self.groups.lock();
        t.invites
            .retain(|i| !(i.invite_id == inv.invite_id && i.invitee == inv.invitee));
        t.invites.push(inv);
        Ok(())
    }

    async fn invite(
        &self,
        invite_id: &str,
        invitee: &str,
    ) -> Result<Option<InviteRecord>, StoreError> {
        Ok(self
            .groups
            .lock()
            .invites
            .iter()
            .find(|i| i.invite_id == invite_id && i.invitee == invitee)
            .cloned())
    }

    async fn invites_from(
        &self,
        inviter: &str,
        invite_id: &str,
    ) -> Result<Vec<InviteRecord>, StoreError> {
        let mut v: Vec<_> = self
            .groups
            .lock()
            .invites
            .iter()
            .filter(|i| i.inviter == inviter && i.invite_id == invite_id)
            .cloned()
            .collect();
        v.sort_by(|a, b| a.invitee.cmp(&b.invitee));
        Ok(v)
    }

    async fn pending_invites(&self, invitee: &str) -> Result<Vec<InviteRecord>, StoreError> {
        let mut v: Vec<_> = self
            .groups
            .lock()
            .invites
            .iter()
            .filter(|i| i.invitee == invitee && !i.delivered)
            .cloned()
            .collect();
        v.sort_by(|a, b| (a.created_ms, &a.invite_id).cmp(&(b.created_ms, &b.invite_id)));
        Ok(v)
    }

    async fn mark_invite_delivered(
        &self,
        invite_id: &str,
        invitee: &str,
    ) -> Result<(), StoreError> {
        let mut t = self.groups.lock();
        for i in t.invites.iter_mut() {
            if i.invite_id == invite_id && i.invitee == invitee {
                i.delivered = true;
            }
        }
        Ok(())
    }

    async fn delete_invite(&self, invite_id: &str, invitee: &str) -> Result<bool, StoreError> {
        let mut t = self.groups.lock();
        let before = t.invites.len();
        t.invites
            .retain(|i| !(i.invite_id == invite_id && i.invitee == invitee));
        Ok(t.invites.len() != before)
    }
}
