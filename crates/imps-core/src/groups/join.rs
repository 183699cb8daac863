//! JoinGroup, LeaveGroup and dropping out: who may join (reject list,
//! restricted groups, private-group passes, minimum age), screen names,
//! and what happens to a group when its last user goes.
//!
//! Refusals to join: 809 on the reject list; 800 (as for a group that
//! does not exist) for a user without an invitation or rejoin pass to a
//! private conversation (PGC-9/17/18); 431 (unauthorized group
//! membership) for a non-member of a restricted group, and for a user
//! under the group's MinimumAge or of unknown age (PPR-10); 807 already joined; 811 screen name taken (public groups);
//! 817 full.

use super::GroupsService;
use std::sync::Arc;

use imps_wire::{Element, Version};

use super::Role;
use super::ids::screen_name;
use super::notice::{Change, MemberLists, joined_blocked, joined_list};
use super::props::{effective, is_true, welcome_elem};
use crate::CoreError;
use crate::reply::result;
use crate::session::Session;
use crate::store::{GroupRecord, JoinOutcome, JoinedUser, PassKind};

/// Most digit suffixes tried to make a private-group screen name unique.
const MAX_SUFFIX: u32 = 999;

/// How a joined user goes.
pub(crate) enum Departure {
    /// LeaveGroup: on purpose (PGC-17: a private group needs a new
    /// invitation to come back).
    Left,
    /// The session ended without a LeaveGroup (PGC-16).
    Dropped,
    /// Removed by someone else; the user gets an unsolicited
    /// LeaveGroup-Response with this Result.
    Removed { code: u16, why: String },
}

/// What the joiner asked for.
pub(crate) struct JoinParams {
    pub sname: Option<String>,
    pub subscribe: bool,
    pub show_id: bool,
}

impl JoinParams {
    pub(crate) fn from_request(body: &Element) -> JoinParams {
        let sname = body
            .child("ScreenName")
            .map(|sn| sn.child_text("SName").unwrap_or(sn.text.trim()))
            .or_else(|| body.child_text("SName"))
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        let show_id = body
            .child("OwnProperties")
            .and_then(|o| {
                o.children_named("Property").find(|p| {
                    p.child_text("Name")
                        .is_some_and(|n| n.eq_ignore_ascii_case("ShowID"))
                })
            })
            .and_then(|p| p.child_bool("Value"))
            .unwrap_or(false);
        JoinParams {
            sname,
            subscribe: body.child_bool("SubscribeNotification").unwrap_or(false),
            show_id,
        }
    }
}

/// The result of a join.
pub(crate) struct Joined {
    pub row: JoinedUser,
    /// The server chose another screen name than the one asked for, or
    /// none was asked for (PGC-21: the client must be told).
    pub renamed: bool,
    /// Everyone joined now, the joiner included.
    pub all: Vec<JoinedUser>,
    /// Joined users the joiner blocks (private groups, PGC-14).
    pub blocked: Vec<String>,
}

impl GroupsService {
    /// JoinGroup-Request.
    pub(crate) async fn join_group_request(
        &self,
        s: &Arc<Session>,
        body: &Element,
    ) -> Result<Element, CoreError> {
        let gid = self.group_id_of(body)?;
        let lock = self.locks.get(&gid);
        let _held = lock.lock().await;
        let g = self.load_group(&gid).await?;
        let asked = JoinParams::from_request(body);
        let joined = self.join_session(&g, s, asked, false).await?;
        let want_list = body.child_bool("JoinedRequest").unwrap_or(false);
        Ok(self.join_response(s, &g, &joined, want_list))
    }

    /// JoinGroup-Response: the joined list when asked for, our screen name
    /// (always in 1.3; in older versions when the server chose it), the
    /// welcome note (PGC-7) and, in a private group, the blocked users
    /// present (PGC-14).
    pub(crate) fn join_response(
        &self,
        s: &Session,
        g: &GroupRecord,
        j: &Joined,
        want_list: bool,
    ) -> Element {
        let v = s.version;
        let domain = &self.base.cfg.domain;
        let mut resp = Element::new("JoinGroup-Response");
        if want_list {
            let shape = self.member_lists(s);
            let list = joined_list(shape, g, &j.all, domain);
            // The flat shape goes straight under the response, where the
            // Android engine looks for it in every version.
            resp = resp.with(if v >= Version::V1_3 && shape != MemberLists::Flat {
                Element::new("Joined").with(list)
            } else {
                list
            });
        }
        if v >= Version::V1_3 || j.renamed {
            resp = resp.with(screen_name(&j.row.sname, &g.id));
        }
        resp = resp.with_opt(g.welcome.as_ref().map(welcome_elem));
        if !j.blocked.is_empty() {
            resp = resp.with(joined_blocked(&j.blocked, domain));
        }
        resp
    }

    /// Joins session `s` to `g`. The caller holds the group's lock.
    /// Everyone else joined is told (GroupChangeNotice); the joiner too
    /// when `notify_self` (a join the user did not ask for: PGC-2).
    pub(crate) async fn join_session(
        &self,
        g: &GroupRecord,
        s: &Arc<Session>,
        p: JoinParams,
        notify_self: bool,
    ) -> Result<Joined, CoreError> {
        let user = s.user.as_str();
        let now = self.base.now_ms();
        // Nothing about a private conversation (not even its reject list)
        // shows to someone who is not in it and not invited.
        if g.private && !self.is_participant(g, user).await? {
            return Err(CoreError::GroupNotFound(g.id.clone()));
        }
        if self
            .base
            .store
            .rejects(&g.id)
            .await?
            .iter()
            .any(|u| u == user)
        {
            return Err(CoreError::JoinRejected(g.id.clone()));
        }
        // A row left by a session that is gone (crash, restart) does not
        // count: the user dropped out.
        if let Some(old) = self
            .base
            .store
            .joined(&g.id)
            .await?
            .into_iter()
            .find(|j| j.user == user)
        {
            // Through the router: the session may be on another node.
            // A user of another domain has no session here: their server
            // says when they go.
            if super::hosted::is_remote(user)
                || self
                    .base
                    .router
                    .reaches(user, &mut |r| r.session_id == old.session_id)
            {
                return Err(CoreError::AlreadyJoined(g.id.clone()));
            }
            self.leave_joined(&g.id, user).await?;
        }
        self.check_admission(g, user, now).await?;
        let max = match effective(g, "MaxActiveUsers").parse::<u64>() {
            Ok(n) if n > 0 => n.min(self.groups_cfg().max_joined_per_group),
            _ => self.groups_cfg().max_joined_per_group,
        };
        let (row, renamed) = self.insert_joined(g, s, &p, max, now).await?;
        if g.private {
            self.base.store.remove_pass(&g.id, user).await?;
        }
        tracing::info!(group = %g.id, user, sname = %row.sname, "joined group");
        let change = Change {
            joined: vec![row.clone()],
            ..Change::default()
        };
        self.notify_group(g, &change, (!notify_self).then_some(user))
            .await?;
        let all = self.base.store.joined(&g.id).await?;
        let mut blocked = Vec::new();
        if g.private {
            for other in all.iter().filter(|o| o.user != user) {
                if self.lists.blocks(user, &other.user).await? {
                    blocked.push(other.user.clone());
                }
            }
        }
        Ok(Joined {
            row,
            renamed,
            all,
            blocked,
        })
    }

    /// Restricted groups, private-group passes (PGC-9/16/17/18) and the
    /// minimum age (PPR-10).
    async fn check_admission(
        &self,
        g: &GroupRecord,
        user: &str,
        now: u64,
    ) -> Result<(), CoreError> {
        if g.private {
            let pass = self.base.store.pass(&g.id, user).await?;
            let valid = pass
                .as_ref()
                .is_some_and(|p| p.until_ms.is_none_or(|t| t > now));
            if !valid {
                if pass.is_some() {
                    self.base.store.remove_pass(&g.id, user).await?;
                }
                // Not invited (or no longer: left, or the rejoin window
                // closed): a private conversation answers exactly like a
                // group that does not exist, as every other request about
                // it does (`visible_group`), so joining cannot probe for
                // one (issue 14).
                return Err(CoreError::GroupNotFound(g.id.clone()));
            }
        } else if effective(g, "AccessType") == "Restricted"
            && self.role_in(g, user).await? == Role::Outsider
        {
            return Err(CoreError::UnauthorizedMembership(format!(
                "{} is restricted to its members",
                g.id
            )));
        }
        let min_age = effective(g, "MinimumAge").parse::<u64>().unwrap_or(0);
        if min_age > 0 {
            let age = self.user_age(user).await?.ok_or_else(|| {
                CoreError::UnauthorizedMembership(format!("{} needs a known age", g.id))
            })?;
            if age < min_age as i64 {
                return Err(CoreError::UnauthorizedMembership(format!(
                    "{} is for users of {min_age} or older",
                    g.id
                )));
            }
        }
        Ok(())
    }

    /// A user's age in whole years from the birth year and month of the
    /// public profile; `None` when unknown (PPR-9/10).
    pub(crate) async fn user_age(&self, user: &str) -> Result<Option<i64>, CoreError> {
        Ok(self
            .base
            .store
            .profile(user)
            .await?
            .and_then(|p| p.birth)
            .map(|b| super::time::age_years(b.year, b.month, self.base.now_ms())))
    }

    /// Adds the joined row with a screen name: the requested one in a
    /// public group (811 when taken); in a private group the friendly name
    /// (else the user ID), with a digit suffix when taken (PGC-20).
    async fn insert_joined(
        &self,
        g: &GroupRecord,
        s: &Arc<Session>,
        p: &JoinParams,
        max: u64,
        now: u64,
    ) -> Result<(JoinedUser, bool), CoreError> {
        let base = if g.private || p.sname.is_none() {
            self.base
                .friendly_name(&s.user)
                .await?
                .unwrap_or_else(|| s.user.clone())
        } else {
            p.sname.clone().unwrap_or_default()
        };
        let base = self.checked_sname(&base)?;
        let tries = if g.private { MAX_SUFFIX } else { 1 };
        for n in 1..=tries {
            let sname = if n == 1 {
                base.clone()
            } else {
                format!("{base}{n}")
            };
            let row = JoinedUser {
                user: s.user.clone(),
                sname,
                session_id: s.id.clone(),
                subscribed: p.subscribe || g.private,
                show_id: p.show_id,
                joined_ms: now,
            };
            match self.join_joined(&g.id, row.clone(), max).await? {
                JoinOutcome::Joined => {
                    let renamed = p.sname.as_deref() != Some(row.sname.as_str());
                    return Ok((row, renamed));
                }
                JoinOutcome::AlreadyJoined(_) => {
                    return Err(CoreError::AlreadyJoined(g.id.clone()));
                }
                JoinOutcome::Full => return Err(CoreError::GroupFull(g.id.clone())),
                JoinOutcome::ScreenNameTaken => {}
            }
        }
        Err(CoreError::ScreenNameInUse(base))
    }

    fn checked_sname(&self, raw: &str) -> Result<String, CoreError> {
        let t = raw.trim();
        let ok = !t.is_empty()
            && t.chars().count() <= self.groups_cfg().max_screen_name_chars
            && !t.chars().any(char::is_control);
        if ok {
            Ok(t.to_string())
        } else {
            Err(CoreError::BadParameter(format!(
                "invalid screen name {raw:?}"
            )))
        }
    }

    /// LeaveGroup-Request.
    pub(crate) async fn leave_group_request(
        &self,
        s: &Arc<Session>,
        body: &Element,
    ) -> Result<Element, CoreError> {
        let gid = self.group_id_of(body)?;
        self.visible_group(&gid, &s.user).await?;
        match self.depart(&gid, &s.user, Departure::Left).await? {
            Some(_) => Ok(Element::new("LeaveGroup-Response")
                .with_text("GroupID", gid)
                .with(result(200, "Successful"))),
            None => Err(CoreError::NotJoined(gid)),
        }
    }

    /// Takes `user` out of group `gid` (taking the group's lock); the
    /// joined row removed, if there was one.
    pub(crate) async fn depart(
        &self,
        gid: &str,
        user: &str,
        how: Departure,
    ) -> Result<Option<JoinedUser>, CoreError> {
        let lock = self.locks.get(gid);
        let _held = lock.lock().await;
        let Some(g) = self.base.store.group(gid).await? else {
            return Ok(None);
        };
        self.depart_locked(&g, user, how).await
    }

    /// [`GroupsService::depart`] for a caller holding the group's lock.
    pub(crate) async fn depart_locked(
        &self,
        g: &GroupRecord,
        user: &str,
        how: Departure,
    ) -> Result<Option<JoinedUser>, CoreError> {
        let Some(row) = self.leave_joined(&g.id, user).await? else {
            return Ok(None);
        };
        match &how {
            Departure::Left => {
                if g.private {
                    self.base.store.remove_pass(&g.id, user).await?;
                }
            }
            Departure::Dropped => {
                if g.private {
                    let until = self.base.now_ms() + self.groups_cfg().rejoin_timeout_secs * 1000;
                    let pass = crate::store::GroupPass {
                        user: user.to_string(),
                        kind: PassKind::Rejoin,
                        until_ms: Some(until),
                    };
                    self.base.store.put_pass(&g.id, pass).await?;
                }
            }
            Departure::Removed { code, why } => {
                if g.private {
                    self.base.store.remove_pass(&g.id, user).await?;
                }
                let notice = Element::new("LeaveGroup-Response")
                    .with_text("GroupID", g.id.clone())
                    .with(result(*code, why));
                if super::hosted::is_remote(user) {
                    self.tell_removed_remote(&g.id, user, *code, why).await;
                } else {
                    self.base.router.to_session(&row.session_id, notice);
                }
            }
        }
        let kind = match how {
            Departure::Left => "left",
            Departure::Dropped => "dropped out of",
            Departure::Removed { .. } => "was removed from",
        };
        tracing::info!(group = %g.id, user, "{kind} group");
        let change = Change {
            left: vec![row.clone()],
            ..Change::default()
        };
        self.notify_group(g, &change, None).await?;
        self.reap_if_empty(g).await?;
        Ok(Some(row))
    }

    /// Deletes a private group (PGC-19) or an AutoDelete group once nobody
    /// is joined; a private group waits while someone who dropped out may
    /// still rejoin (PGC-16).
    pub(crate) async fn reap_if_empty(&self, g: &GroupRecord) -> Result<bool, CoreError> {
        if !(g.private || is_true(g, "AutoDelete"))
            || !self.base.store.joined(&g.id).await?.is_empty()
        {
            return Ok(false);
        }
        if g.private {
            let now = self.base.now_ms();
            let waiting = self
                .base
                .store
                .passes(&g.id)
                .await?
                .iter()
                .any(|p| p.kind == PassKind::Rejoin && p.until_ms.is_none_or(|t| t > now));
            if waiting {
                return Ok(false);
            }
        }
        self.delete_joined(&g.id).await?;
        tracing::info!(group = %g.id, "group deleted: nobody left in it");
        Ok(true)
    }
}
