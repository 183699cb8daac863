//! Which of our users joined groups hosted in a peer domain, and from
//! which session (issue 17): kept so that the host is told they left
//! when the session ends, also after a restart of this server (sessions
//! survive one), and so that a restart keeps them in the group. Also the
//! group a group invitation from another domain names: the invitations
//! table refers only to groups of ours.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::{MemStore, StoreError};

/// One of our users joined to a group of a peer domain, from a session.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RemoteJoin {
    pub session_id: String,
    /// Our user (bare ID).
    pub user: String,
    /// The group's ID as the host writes it (`wv:owner/name@domain`).
    pub group_id: String,
    /// The host's domain, lower case.
    pub peer: String,
}

#[async_trait]
pub trait RemoteJoinStore: Send + Sync + 'static {
    /// Records the join (replacing one of the same session and group).
    async fn put_remote_join(&self, j: RemoteJoin) -> Result<(), StoreError>;
    /// The session's user left the group.
    async fn remove_remote_join(&self, session_id: &str, group_id: &str) -> Result<(), StoreError>;
    /// The host removed `user` from the group: every session's row.
    async fn remove_remote_joins_of(&self, user: &str, group_id: &str) -> Result<(), StoreError>;
    /// The session ended: its joins, removed and returned (group order).
    async fn take_remote_joins(&self, session_id: &str) -> Result<Vec<RemoteJoin>, StoreError>;
    /// Every join, in (session, group) order: what a restart finds.
    async fn remote_joins(&self) -> Result<Vec<RemoteJoin>, StoreError>;
    /// The group of another domain that invitation (`invite_id`,
    /// `invitee`) names (replacing any).
    async fn put_invite_group(
        &self,
        invite_id: &str,
        invitee: &str,
        group_id: &str,
    ) -> Result<(), StoreError>;
    async fn invite_group(
        &self,
        invite_id: &str,
        invitee: &str,
    ) -> Result<Option<String>, StoreError>;
    async fn delete_invite_group(&self, invite_id: &str, invitee: &str) -> Result<(), StoreError>;
}

/// (session, group) → join; (invite, invitee) → group.
#[derive(Default)]
pub(crate) struct MemRemoteJoins {
    joins: BTreeMap<(String, String), RemoteJoin>,
    invite_groups: BTreeMap<(String, String), String>,
}

#[async_trait]
impl RemoteJoinStore for MemStore {
    async fn put_remote_join(&self, j: RemoteJoin) -> Result<(), StoreError> {
        self.remote_joins
            .lock()
            .joins
            .insert((j.session_id.clone(), j.group_id.clone()), j);
        Ok(())
    }

    async fn remove_remote_join(&self, session_id: &str, group_id: &str) -> Result<(), StoreError> {
        self.remote_joins
            .lock()
            .joins
            .remove(&(session_id.to_string(), group_id.to_string()));
        Ok(())
    }

    async fn remove_remote_joins_of(&self, user: &str, group_id: &str) -> Result<(), StoreError> {
        self.remote_joins
            .lock()
            .joins
            .retain(|_, j| !(j.user == user && j.group_id == group_id));
        Ok(())
    }

    async fn take_remote_joins(&self, session_id: &str) -> Result<Vec<RemoteJoin>, StoreError> {
        let mut g = self.remote_joins.lock();
        let g = &mut g.joins;
        let keys: Vec<_> = g.keys().filter(|(s, _)| s == session_id).cloned().collect();
        Ok(keys.iter().filter_map(|k| g.remove(k)).collect())
    }

    async fn remote_joins(&self) -> Result<Vec<RemoteJoin>, StoreError> {
        Ok(self.remote_joins.lock().joins.values().cloned().collect())
    }

    async fn put_invite_group(
        &self,
        invite_id: &str,
        invitee: &str,
        group_id: &str,
    ) -> Result<(), StoreError> {
        self.remote_joins.lock().invite_groups.insert(
            (invite_id.to_string(), invitee.to_string()),
            group_id.to_string(),
        );
        Ok(())
    }

    async fn invite_group(
        &self,
        invite_id: &str,
        invitee: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(self
            .remote_joins
            .lock()
            .invite_groups
            .get(&(invite_id.to_string(), invitee.to_string()))
            .cloned())
    }

    async fn delete_invite_group(&self, invite_id: &str, invitee: &str) -> Result<(), StoreError> {
        self.remote_joins
            .lock()
            .invite_groups
            .remove(&(invite_id.to_string(), invitee.to_string()));
        Ok(())
    }
}
