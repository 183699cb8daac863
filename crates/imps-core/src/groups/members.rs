//! Members and access rights (GetGroupMembers, AddGroupMembers,
//! RemoveGroupMembers, MemberAccess), the reject list (RejectList), and
//! the joined users (GetJoinedUsers). Long lists go out in parts when the
//! session asked for a size they exceed (GEN-1, via `segment_reply`).
//!
//! Public groups: the owner and Admin members manage everything; Mod
//! members manage members and rejects but grant no Admin or Mod rights.
//! Private conversations have no managers (PGC-10/11): removing, rejecting
//! and changing access are refused with 816 for everyone; adding members
//! is inviting them (PGC-8); every participant may list the others
//! (PGC-UC).

use super::GroupsService;
use std::sync::Arc;

use imps_wire::{Element, Version};

use super::Role;
use super::ids::{user_elem, user_ids};
use super::invite::partial_status;
use super::join::Departure;
use super::manage::detailed;
use super::notice::{joined_blocked, mapping, user_map_list};
use super::pgc::unknown_user_detail;
use super::props::effective;
use crate::CoreError;
use crate::session::Session;
use crate::store::{Access, GroupRecord};
use crate::users::wire_user;

impl GroupsService {
    /// The caller's role, refusing outsiders (808) and, when `manage`,
    /// anyone below Mod (816).
    async fn require(&self, g: &GroupRecord, user: &str, manage: bool) -> Result<Role, CoreError> {
        let role = self.role_in(g, user).await?;
        if role == Role::Outsider {
            return Err(CoreError::NotJoined(g.id.clone()));
        }
        if manage && (g.private || !role.manages()) {
            return Err(CoreError::GroupPrivileges(format!(
                "{user} cannot manage {}",
                g.id
            )));
        }
        Ok(role)
    }

    /// Whether the caller may edit the member, access or reject list of
    /// the group `body` names, as the handlers below decide it: managers
    /// of a public group; in a private conversation only adding members
    /// (inviting, `private_adds`) by a participant. Asked on every part
    /// of an upload in parts (GEN-2); returns the canonical GroupID.
    pub(crate) async fn may_edit_group_list(
        &self,
        s: &Session,
        body: &Element,
        private_adds: bool,
    ) -> Result<String, CoreError> {
        let gid = self.group_id_of(body)?;
        let g = self.visible_group(&gid, &s.user).await?;
        if g.private && !private_adds {
            return Err(CoreError::GroupPrivileges(
                "a private conversation has no managers".into(),
            ));
        }
        self.require(&g, &s.user, !g.private).await?;
        Ok(gid)
    }

    /// GetJoinedUsers-Request (1.2+): managers get AdminMapList split by
    /// access level, others UserMapList. In a private conversation 1.3
    /// adds the joined users the caller blocks (PGC-14).
    pub(crate) async fn get_joined_users(
        &self,
        s: &Arc<Session>,
        body: &Element,
    ) -> Result<Element, CoreError> {
        let gid = self.group_id_of(body)?;
        let g = self.visible_group(&gid, &s.user).await?;
        let role = self.require(&g, &s.user, false).await?;
        let domain = &self.base.cfg.domain;
        let joined = self.base.store.joined(&gid).await?;
        let mut resp = Element::new("GetJoinedUsers-Response");
        let paths: &[&[&str]];
        if role.manages() && !g.private {
            let members = self.base.store.members(&gid).await?;
            let level = |u: &str| {
                if u == g.owner {
                    return Access::Admin;
                }
                members
                    .iter()
                    .find(|(m, _)| m == u)
                    .map_or(Access::User, |(_, a)| *a)
            };
            let mut lists = [
                Element::new("AdminMapping"),
                Element::new("ModMapping"),
                Element::new("UserMapping"),
            ];
            for j in &joined {
                let i = match level(&j.user) {
                    Access::Admin => 0,
                    Access::Mod => 1,
                    Access::User => 2,
                };
                lists[i].children.push(mapping(&g, j, domain));
            }
            let mut aml = Element::new("AdminMapList");
            aml.children = lists.to_vec();
            resp = resp.with(aml);
            paths = &[
                &["AdminMapList", "AdminMapping", "Mapping"],
                &["AdminMapList", "ModMapping", "Mapping"],
                &["AdminMapList", "UserMapping", "Mapping"],
            ];
        } else {
            resp = resp.with(user_map_list(
                self.member_lists(s),
                joined.iter().map(|j| mapping(&g, j, domain)).collect(),
            ));
            paths = &[
                &["UserMapList", "UserMapping", "Mapping"],
                &["UserMapList", "Mapping"],
            ];
        }
        if g.private && s.version >= Version::V1_3 {
            let mut blocked = Vec::new();
            for j in joined.iter().filter(|j| j.user != s.user) {
                if self.lists.blocks(&s.user, &j.user).await? {
                    blocked.push(j.user.clone());
                }
            }
            if !blocked.is_empty() {
                resp = resp.with(joined_blocked(&blocked, domain));
            }
        }
        self.lists.segment_reply(s, resp, paths)
    }

    /// GetGroupMembers-Request: `Admin{UserList}`, `Mod{UserList}`,
    /// `UserList`. A private conversation lists its joined participants,
    /// all as plain users.
    pub(crate) async fn get_group_members(
        &self,
        s: &Arc<Session>,
        body: &Element,
    ) -> Result<Element, CoreError> {
        let gid = self.group_id_of(body)?;
        let g = self.visible_group(&gid, &s.user).await?;
        let domain = &self.base.cfg.domain;
        let mut admin = Element::new("UserList");
        let mut moder = Element::new("UserList");
        let mut users = Element::new("UserList");
        if g.private {
            self.require(&g, &s.user, false).await?;
            for j in self.base.store.joined(&gid).await? {
                users = users.with(user_elem(&j.user, domain));
            }
        } else {
            self.require(&g, &s.user, true).await?;
            for (u, a) in self.base.store.members(&gid).await? {
                let e = user_elem(&u, domain);
                match a {
                    Access::Admin => admin = admin.with(e),
                    Access::Mod => moder = moder.with(e),
                    Access::User => users = users.with(e),
                }
            }
        }
        let resp = Element::new("GetGroupMembers-Response")
            .with(Element::new("Admin").with(admin))
            .with(Element::new("Mod").with(moder))
            .with(users);
        self.lists.segment_reply(
            s,
            resp,
            &[
                &["Admin", "UserList", "User"],
                &["Mod", "UserList", "User"],
                &["UserList", "User"],
            ],
        )
    }

    /// The users a request names, canonical, and a failure detail for
    /// each it names badly; users of peer domains taken too when `remote`
    /// (member and reject lists may name them).
    fn named_users_of(
        &self,
        list: Vec<String>,
        remote: bool,
    ) -> Result<(Vec<String>, Vec<Element>), CoreError> {
        if list.len() > self.groups_cfg().max_users_per_request {
            return Err(CoreError::BadParameter(
                "too many users in one request".into(),
            ));
        }
        let (mut ok, mut bad) = (Vec::new(), Vec::new());
        for w in &list {
            let named = if remote {
                self.base.canonical_party(w)
            } else {
                crate::users::canonical_user(w, &self.base.cfg.domain)
            };
            match named {
                Ok(u) if !ok.contains(&u) => ok.push(u),
                Ok(_) => {}
                Err(_) => bad.push(unknown_user_detail(w)),
            }
        }
        Ok((ok, bad))
    }

    /// AddGroupMembers-Request (`UserList{User}` or `UserIDList{UserID}` in
    /// any version). In a private conversation: invitations.
    pub(crate) async fn add_group_members(
        &self,
        s: &Arc<Session>,
        body: &Element,
    ) -> Result<Element, CoreError> {
        let gid = self.group_id_of(body)?;
        let lock = self.locks.get(&gid);
        let _held = lock.lock().await;
        let g = self.visible_group(&gid, &s.user).await?;
        let wire = user_ids(body);
        // A member list may name users of peer domains (they join and
        // manage through their own server, issue 17).
        let (users, mut failures) = self.named_users_of(wire.clone(), !g.private)?;
        if g.private {
            let me = self
                .base
                .store
                .joined(&gid)
                .await?
                .into_iter()
                .find(|j| j.user == s.user);
            let me = me.ok_or_else(|| CoreError::NotJoined(gid.clone()))?;
            let note = self.invitation_text(&s.user).await?;
            failures.extend(
                self.invite_to_group(&g, &s.user, Some(&me.sname), &users, Some(note))
                    .await?,
            );
            return Ok(partial_status(failures, wire.len()));
        }
        self.require(&g, &s.user, true).await?;
        let members = self.base.store.members(&gid).await?;
        for u in &users {
            if !self.member_exists(u).await? {
                failures.push(unknown_user_detail(&wire_user(u, &self.base.cfg.domain)));
            } else if !members.iter().any(|(m, _)| m == u) {
                self.base
                    .store
                    .set_member(&gid, u, Some(Access::User))
                    .await?;
            }
        }
        Ok(partial_status(failures, wire.len()))
    }

    /// Whether `user` (canonical) may be a member: one of ours that
    /// exists, or a user of a peer domain (that server answers for them).
    async fn member_exists(&self, user: &str) -> Result<bool, CoreError> {
        if super::hosted::is_remote(user) {
            return Ok(true);
        }
        self.base.user_exists(user).await
    }

    /// RemoveGroupMembers-Request. A removed member joined to a restricted
    /// group is put out of it (unsolicited LeaveGroup-Response 810).
    pub(crate) async fn remove_group_members(
        &self,
        s: &Arc<Session>,
        body: &Element,
    ) -> Result<Element, CoreError> {
        let gid = self.group_id_of(body)?;
        let lock = self.locks.get(&gid);
        let _held = lock.lock().await;
        let g = self.visible_group(&gid, &s.user).await?;
        if g.private {
            return Err(CoreError::GroupPrivileges(
                "nobody can expel from a private conversation".into(),
            ));
        }
        let role = self.require(&g, &s.user, true).await?;
        let wire = user_ids(body);
        let (users, mut failures) = self.named_users_of(wire.clone(), true)?;
        let members = self.base.store.members(&gid).await?;
        let restricted = effective(&g, "AccessType") == "Restricted";
        for u in &users {
            let wu = wire_user(u, &self.base.cfg.domain);
            let access = members.iter().find(|(m, _)| m == u).map(|(_, a)| *a);
            match access {
                None => failures.push(detailed(810, "Not a group member").with_text("UserID", wu)),
                Some(a) if *u == g.owner || (a != Access::User && role != Role::Admin) => {
                    failures.push(
                        detailed(816, "Insufficient group privileges").with_text("UserID", wu),
                    );
                }
                Some(_) => {
                    self.base.store.set_member(&gid, u, None).await?;
                    if restricted {
                        let why = "Removed from the group's members".to_string();
                        self.depart_locked(&g, u, Departure::Removed { code: 810, why })
                            .await?;
                    }
                }
            }
        }
        Ok(partial_status(failures, wire.len()))
    }

    /// MemberAccess-Request: `Admin{UserList}`, `Mod{UserList}` (Admin
    /// callers only), `UserList` (plain members). The owner stays Admin.
    pub(crate) async fn member_access(
        &self,
        s: &Arc<Session>,
        body: &Element,
    ) -> Result<Element, CoreError> {
        let gid = self.group_id_of(body)?;
        let lock = self.locks.get(&gid);
        let _held = lock.lock().await;
        let g = self.visible_group(&gid, &s.user).await?;
        if g.private {
            return Err(CoreError::GroupPrivileges(
                "a private conversation has no access levels".into(),
            ));
        }
        let role = self.require(&g, &s.user, true).await?;
        let mut asked = 0;
        let mut failures = Vec::new();
        for (el, access) in [
            (body.child("Admin"), Access::Admin),
            (body.child("Mod"), Access::Mod),
            (Some(body), Access::User),
        ] {
            let Some(el) = el else { continue };
            let wire = user_ids(el);
            asked += wire.len();
            if access != Access::User && role != Role::Admin && !wire.is_empty() {
                return Err(CoreError::GroupPrivileges(
                    "only an admin grants Admin or Mod".into(),
                ));
            }
            let (users, bad) = self.named_users_of(wire, true)?;
            failures.extend(bad);
            for u in users {
                if u == g.owner {
                    continue;
                }
                if !self.member_exists(&u).await? {
                    failures.push(unknown_user_detail(&wire_user(&u, &self.base.cfg.domain)));
                    continue;
                }
                self.base.store.set_member(&gid, &u, Some(access)).await?;
            }
        }
        Ok(partial_status(failures, asked.max(1)))
    }

    /// RejectList-Request: `AddList`/`RemoveList` of UserIDs, answered with
    /// the whole list. A rejected user who is joined is put out
    /// (unsolicited LeaveGroup-Response 809).
    pub(crate) async fn reject_list(
        &self,
        s: &Arc<Session>,
        body: &Element,
    ) -> Result<Element, CoreError> {
        let gid = self.group_id_of(body)?;
        let lock = self.locks.get(&gid);
        let _held = lock.lock().await;
        let g = self.visible_group(&gid, &s.user).await?;
        if g.private {
            return Err(CoreError::GroupPrivileges(
                "nobody can reject from a private conversation".into(),
            ));
        }
        self.require(&g, &s.user, true).await?;
        let mut failures = Vec::new();
        if let Some(add) = body.child("AddList") {
            let (users, bad) = self.named_users_of(user_ids(add), true)?;
            failures.extend(bad);
            for u in users {
                if u == g.owner {
                    let wu = wire_user(&u, &self.base.cfg.domain);
                    failures.push(
                        detailed(816, "The owner cannot be rejected").with_text("UserID", wu),
                    );
                } else if !super::hosted::is_remote(&u) && !self.base.user_exists(&u).await? {
                    failures.push(unknown_user_detail(&wire_user(&u, &self.base.cfg.domain)));
                } else if self.base.store.set_reject(&gid, &u, true).await? {
                    let why = "Rejected from the group".to_string();
                    self.depart_locked(&g, &u, Departure::Removed { code: 809, why })
                        .await?;
                }
            }
        }
        if let Some(rm) = body.child("RemoveList") {
            let (users, bad) = self.named_users_of(user_ids(rm), true)?;
            failures.extend(bad);
            for u in users {
                self.base.store.set_reject(&gid, &u, false).await?;
            }
        }
        if !failures.is_empty() {
            return Ok(partial_status(failures, usize::MAX));
        }
        let mut list = Element::new("UserList");
        for u in self.base.store.rejects(&gid).await? {
            list = list.with(user_elem(&u, &self.base.cfg.domain));
        }
        let resp = Element::new("RejectList-Response").with(list);
        self.lists.segment_reply(s, resp, &[&["UserList", "User"]])
    }
}
