//! Groups (BASE-GRP), invitations (BASE-INV) and private group
//! conversations (PGC-*), including messages to a group.
//!
//! Everything a group is (properties, members and access rights, joined
//! users with their screen names and sessions, reject list, join passes,
//! invitations) lives in the store: a success answer means it is on disk,
//! and a message to a group reads its joined users from there (through a
//! copy kept in memory, `joined`, off in a cluster), so the same code
//! serves a cluster of nodes sharing one database. Changes
//! to one group are serialised by a per-group lock (`GroupLocks`) so a
//! join, a leave and the deletion of an empty group never interleave.
//!
//! Files: `ids` (addresses and user lists on the wire), `props` (group
//! properties, Get/SetGroupProps), `manage` (Create/DeleteGroup), `join`
//! (Join/LeaveGroup, dropping out, screen names, age), `members`
//! (members, access, reject list, joined users), `notice` (mapping lists,
//! GroupChangeNotice, SubscribeGroupNotice), `message` (SendMessage to a
//! group), `invite` (Invite, InviteUser-Response, CancelInvite), `pgc`
//! (private groups), `extend` (ExtendConversation), `admin` (expel),
//! `joined` (the joined users of busy groups in memory).

mod admin;
mod extend;
mod hosted;
mod ids;
mod invite;
mod invite_remote;
mod join;
mod joined;
mod manage;
mod members;
mod message;
mod notice;
mod pgc;
mod props;
mod remote;
mod time;

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use imps_wire::{Element, PrimitiveKind, Transaction};
use parking_lot::Mutex;

use crate::CoreError;
use crate::base::Base;
use crate::lists::{Assembled, GroupList, ListsService, segment_info};
use crate::service::Outcome;
use crate::session::Session;
use crate::store::{Access, GroupRecord};

pub(crate) use ids::canonical_group;
pub(crate) use message::group_recipients;
pub(crate) use time::{age_years, year_month};

/// Limits and timeouts of this area, each a setting with a safe default
/// (house rule 5): the `[groups]` section, defaults in [`GROUPS_DEFAULTS`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GroupsConfig {
    /// PGC-16/18: how long a user who dropped out of a private group
    /// (session expired, lost network, logout without LeaveGroup) may
    /// rejoin without a new invitation.
    pub rejoin_timeout_secs: u64,
    /// Most users joined to one group, whatever its MaxActiveUsers says.
    pub max_joined_per_group: u64,
    /// Longest screen name, in characters.
    pub max_screen_name_chars: usize,
    /// Most users named in one request (members, rejects, invitees).
    pub max_users_per_request: usize,
    /// How long an invitation without Validity waits for its answer.
    pub invite_validity_secs: u64,
    /// Longest group name part of a GroupID, in characters.
    pub max_group_name_chars: usize,
    /// Most groups one user may own (public ones and the private
    /// conversations they started); 814 past it.
    pub max_groups_per_user: u64,
    /// Most groups on the server; 815 past it.
    pub max_groups_total: u64,
    /// The shape of joined-user lists (issue 13, docs/protocol.md).
    pub member_lists: MemberListPolicy,
    /// Groups whose joined users are kept in memory for the fan-out of
    /// messages (issue 19); 0 = read the store for every message. Off in
    /// a cluster whatever it says.
    pub joined_cache_groups: usize,
}

/// Which shape joined-user lists take in JoinGroup-Response,
/// GroupChangeNotice and GetJoinedUsers-Response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberListPolicy {
    /// `UserMapList{Mapping*}` in 1.2 and for a client whose
    /// ClientCapability shows the Android engine; the spec shape for the
    /// rest (1.1 `UserList{ScreenName*}`, 1.3 wrapped in `UserMapping`).
    Auto,
    /// The shape each version's schema names, for every client.
    Spec,
    /// `UserMapList{Mapping*}` for every client and version.
    Flat,
}

/// The defaults.
pub const GROUPS_DEFAULTS: GroupsConfig = GroupsConfig {
    rejoin_timeout_secs: 300,
    max_joined_per_group: 10_000,
    max_screen_name_chars: 64,
    max_users_per_request: 1_000,
    invite_validity_secs: 7 * 24 * 3600,
    max_group_name_chars: 64,
    max_groups_per_user: 100,
    max_groups_total: 1_000_000,
    member_lists: MemberListPolicy::Auto,
    joined_cache_groups: 1_000,
};

impl Default for GroupsConfig {
    fn default() -> Self {
        GROUPS_DEFAULTS
    }
}

/// What a user may do in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Owner or Admin member.
    Admin,
    Mod,
    /// A User member, or someone joined to an open group.
    User,
    /// Not a member and not joined.
    Outsider,
}

impl Role {
    pub(crate) fn manages(self) -> bool {
        matches!(self, Role::Admin | Role::Mod)
    }
}

/// Most expired passes one tick handles; the rest wait for the next.
const PASS_SWEEP_BATCH: usize = 256;

/// One async lock per group ID, held while a change to that group runs.
/// Entries whose lock nobody holds any more are swept as the table grows.
#[derive(Default)]
pub(crate) struct GroupLocks {
    t: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
}

impl GroupLocks {
    /// The lock of one group.
    pub(crate) fn get(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut t = self.t.lock();
        if let Some(l) = t.get(id).and_then(Weak::upgrade) {
            return l;
        }
        if t.len() > 1024 {
            t.retain(|_, w| w.strong_count() > 0);
        }
        let l = Arc::new(tokio::sync::Mutex::new(()));
        t.insert(id.to_string(), Arc::downgrade(&l));
        l
    }
}

/// The groups area: groups, invitations, private conversations and
/// messages to a group. It asks lists whether a user blocks another.
pub(crate) struct GroupsService {
    pub(crate) base: Arc<Base>,
    pub(crate) lists: Arc<ListsService>,
    /// One lock per group while a change to it runs.
    locks: GroupLocks,
    /// Joined users of recently messaged groups (`joined`).
    joined_cache: joined::JoinedCache,
    /// Groups of peer domains used by our users.
    remote: remote::RemoteGroups,
}

impl GroupsService {
    pub(crate) fn new(base: Arc<Base>, lists: Arc<ListsService>) -> GroupsService {
        // Off in a cluster: other nodes' joins and leaves are not heard here.
        let cached = if base.cfg.cluster.is_some() {
            0
        } else {
            base.cfg.groups.joined_cache_groups
        };
        GroupsService {
            base,
            lists,
            locks: GroupLocks::default(),
            joined_cache: joined::JoinedCache::new(cached),
            remote: remote::RemoteGroups::default(),
        }
    }

    /// A group member, access or reject list in parts (GEN-2). Every part
    /// must come from someone who may edit that list (checked before
    /// buffering, so a caller who may not learns it at the first part);
    /// lists keeps the parts.
    async fn group_list_part(
        &self,
        s: &Arc<Session>,
        which: GroupList,
        body: &Element,
        info: &Element,
    ) -> Result<Element, CoreError> {
        let gid = self
            .may_edit_group_list(s, body, which == GroupList::AddMembers)
            .await?;
        let max = self.groups_cfg().max_users_per_request;
        let req = match self.lists.group_list_part(s, which, gid, max, body, info)? {
            Assembled::Whole(req) => req,
            Assembled::Pending(answer) => return Ok(answer),
        };
        match which {
            GroupList::AddMembers => self.add_group_members(s, &req).await,
            GroupList::Access => self.member_access(s, &req).await,
            GroupList::Rejects => self.reject_list(s, &req).await,
        }
    }

    /// This area's settings.
    pub(crate) fn groups_cfg(&self) -> &GroupsConfig {
        &self.base.cfg.groups
    }

    /// Handles the requests of this area (`service::area_of` sends them).
    pub(crate) async fn handle_groups(
        &self,
        s: &Arc<Session>,
        kind: PrimitiveKind,
        tx: &Transaction,
    ) -> Result<Outcome, CoreError> {
        use PrimitiveKind as P;
        let b = &tx.body;
        // A group of a peer domain: its server decides.
        if let Some(r) = self.remote_group_request(s, kind, b).await {
            return Ok(Outcome::Reply(r?));
        }
        let reply = match kind {
            P::CreateGroupRequest => self.create_group(s, b).await?,
            P::DeleteGroupRequest => self.delete_group(s, b).await?,
            P::JoinGroupRequest => self.join_group_request(s, b).await?,
            P::LeaveGroupRequest => self.leave_group_request(s, b).await?,
            P::GetGroupPropsRequest => self.get_group_props(s, b).await?,
            P::SetGroupPropsRequest => self.set_group_props(s, b).await?,
            P::GetJoinedUsersRequest => self.get_joined_users(s, b).await?,
            P::GetGroupMembersRequest => self.get_group_members(s, b).await?,
            P::AddGroupMembersRequest | P::MemberAccessRequest | P::RejectListRequest => {
                let which = match kind {
                    P::AddGroupMembersRequest => GroupList::AddMembers,
                    P::MemberAccessRequest => GroupList::Access,
                    _ => GroupList::Rejects,
                };
                match (segment_info(tx), which) {
                    // GEN-2: the list in parts.
                    (Some(info), _) => self.group_list_part(s, which, b, &info).await?,
                    (None, GroupList::AddMembers) => self.add_group_members(s, b).await?,
                    (None, GroupList::Access) => self.member_access(s, b).await?,
                    (None, GroupList::Rejects) => self.reject_list(s, b).await?,
                }
            }
            P::RemoveGroupMembersRequest => self.remove_group_members(s, b).await?,
            P::SubscribeGroupNoticeRequest => self.subscribe_group_notice(s, b).await?,
            P::InviteRequest => self.invite_request(s, b).await?,
            P::InviteUserResponse => self.invite_user_response(s, b).await?,
            P::CancelInviteRequest => self.cancel_invite(s, b).await?,
            P::ExtendConversationRequest => self.extend_conversation(s, b).await?,
            other => return Err(CoreError::NotImplemented(other.name().into())),
        };
        Ok(Outcome::Reply(reply))
    }

    /// A session ended without a LeaveGroup: a logout, an expiry, a kick.
    /// Its user drops out of every group joined from it; in a private
    /// group they may rejoin within the rejoin timeout (PGC-16). A logout
    /// counts as dropping out too: closing the client is not the
    /// deliberate "leave this conversation" of PGC-17.
    pub(crate) async fn groups_session_ended(&self, s: &Arc<Session>, expired: bool) {
        self.leave_remote_groups(s).await;
        let rows = match self.base.store.joined_by_session(&s.id).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(session = %crate::ids::log_tag(&s.id), error = %e, "could not read joined groups of an ended session");
                return;
            }
        };
        for (gid, row) in rows {
            if let Err(e) = self.depart(&gid, &row.user, join::Departure::Dropped).await {
                tracing::warn!(session = %crate::ids::log_tag(&s.id), group = %gid, expired, error = %e, "could not drop user from group");
            }
        }
    }

    /// Drops join passes that have run out (invitations to a private
    /// group, rejoin windows) and deletes the private groups that only an
    /// open rejoin window was keeping (PGC-16/18/19): a conversation
    /// whose participants all dropped out goes once the last window
    /// closes. Runs with the session expiry, once a second; returns how
    /// many groups it deleted.
    pub(crate) async fn groups_tick(&self) -> usize {
        let now = self.base.now_ms();
        let expired = match self.base.store.expired_passes(now, PASS_SWEEP_BATCH).await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "could not list expired group passes");
                return 0;
            }
        };
        let mut touched: Vec<String> = Vec::new();
        for (gid, pass) in expired {
            let lock = self.locks.get(&gid);
            let _held = lock.lock().await;
            // Re-read under the lock: a new invitation may have replaced it.
            let still = match self.base.store.pass(&gid, &pass.user).await {
                Ok(p) => p.is_some_and(|p| p.until_ms.is_some_and(|t| t <= now)),
                Err(e) => {
                    tracing::warn!(group = %gid, error = %e, "could not read a group pass");
                    continue;
                }
            };
            if still {
                if let Err(e) = self.base.store.remove_pass(&gid, &pass.user).await {
                    tracing::warn!(group = %gid, error = %e, "could not drop an expired group pass");
                    continue;
                }
                tracing::debug!(group = %gid, user = %pass.user, "group pass ran out");
            }
            if !touched.contains(&gid) {
                touched.push(gid);
            }
        }
        let mut deleted = 0;
        for gid in touched {
            let lock = self.locks.get(&gid);
            let _held = lock.lock().await;
            let res = match self.base.store.group(&gid).await {
                Ok(Some(g)) if g.private => self.reap_if_empty(&g).await,
                Ok(_) => Ok(false),
                Err(e) => Err(e.into()),
            };
            match res {
                Ok(true) => deleted += 1,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(group = %gid, error = %e, "could not check an emptied group");
                }
            }
        }
        deleted
    }

    /// A group by canonical ID, or 800.
    pub(crate) async fn load_group(&self, id: &str) -> Result<GroupRecord, CoreError> {
        self.base
            .store
            .group(id)
            .await?
            .ok_or_else(|| CoreError::GroupNotFound(id.to_string()))
    }

    /// The GroupID child of a request, canonical.
    pub(crate) fn group_id_of(&self, body: &imps_wire::Element) -> Result<String, CoreError> {
        let raw = body
            .child_text("GroupID")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| CoreError::BadParameter("GroupID missing".into()))?;
        canonical_group(
            raw,
            &self.base.cfg.domain,
            self.groups_cfg().max_group_name_chars,
        )
    }

    /// `user`'s role in `g`, from the member table and the joined rows.
    pub(crate) async fn role_in(&self, g: &GroupRecord, user: &str) -> Result<Role, CoreError> {
        if g.owner == user && !g.private {
            return Ok(Role::Admin);
        }
        let members = self.base.store.members(&g.id).await?;
        let access = members.iter().find(|(u, _)| u == user).map(|(_, a)| *a);
        Ok(match access {
            // The creator of a private group is its admin in the table, but
            // nobody has powers there (PGC-10/11): everyone is a User.
            Some(_) if g.private => Role::User,
            Some(Access::Admin) => Role::Admin,
            Some(Access::Mod) => Role::Mod,
            Some(Access::User) => Role::User,
            None => {
                if self
                    .base
                    .store
                    .joined(&g.id)
                    .await?
                    .iter()
                    .any(|j| j.user == user)
                {
                    Role::User
                } else {
                    Role::Outsider
                }
            }
        })
    }

    /// A group as seen by `user`: a private group exists only for its
    /// participants (PGC-15), everyone else gets 800 as if it did not.
    pub(crate) async fn visible_group(
        &self,
        id: &str,
        user: &str,
    ) -> Result<GroupRecord, CoreError> {
        let g = self.load_group(id).await?;
        if g.private && !self.is_participant(&g, user).await? {
            return Err(CoreError::GroupNotFound(id.to_string()));
        }
        Ok(g)
    }
}
