//! Invitations (BASE-INV): Invite-Request, the InviteUser-Request pushed
//! to each invitee, the invitee's InviteUser-Response relayed to the
//! inviter as Invite-Response, and CancelInvite.
//!
//! Every type is relayed the same way: GR (a group), IM, PR (presence), SC
//! (shared content: an invitation carrying `URLList{URL*}`), and the 1.3
//! EC/EG. A GR invitation to a private conversation also gives the invitee
//! a pass to join it (PGC-8/9).
//!
//! An invitation from a user the invitee blocks is not delivered and not
//! kept, and the inviter is answered exactly as if it had been (PGC-UC):
//! telling them would reveal the block. The same answer hides whether the
//! invitee is online: an invitation to a user with no session is kept and
//! pushed when one becomes ready (`groups_session_ready`).

use super::GroupsService;
use std::sync::Arc;

use imps_wire::Element;
use imps_wire::element::bool_str;

use super::ids::{canonical_users, screen_name, user_elem, user_ids};
use super::notice::joined_blocked;
use super::pgc::unknown_user_detail;
use crate::CoreError;
use crate::reply::{ok_status, result};
use crate::session::Session;
use crate::store::{GroupPass, GroupRecord, InviteRecord, PassKind};

const TYPES: &[&str] = &["GR", "IM", "PR", "SC", "EC", "EG"];

/// One invitation as the inviter made it.
pub(crate) struct InviteSpec<'a> {
    pub invite_id: String,
    pub kind: String,
    pub inviter: &'a str,
    pub group: Option<&'a GroupRecord>,
    pub sname: Option<String>,
    pub note: Option<String>,
    pub urls: Vec<String>,
    /// The PresenceSubList of a PR invitation, relayed as sent.
    pub pres: Option<Element>,
    pub validity_secs: Option<u64>,
}

impl GroupsService {
    /// Invite-Request.
    pub(crate) async fn invite_request(
        &self,
        s: &Arc<Session>,
        body: &Element,
    ) -> Result<Element, CoreError> {
        let invite_id = body
            .child_text("InviteID")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| CoreError::BadParameter("InviteID missing".into()))?
            .to_string();
        let kind = body
            .child_text("InviteType")
            .unwrap_or("")
            .to_ascii_uppercase();
        if !TYPES.contains(&kind.as_str()) {
            return Err(CoreError::BadParameter(format!("InviteType {kind:?}")));
        }
        let wire = body.child("Recipient").map(user_ids).unwrap_or_default();
        if wire.is_empty() {
            return Err(CoreError::BadParameter("no invitee in Recipient".into()));
        }
        if wire.len() > self.groups_cfg().max_users_per_request {
            return Err(CoreError::BadParameter("too many invitees".into()));
        }
        let group = match body.child_text("GroupID").filter(|t| !t.is_empty()) {
            Some(_) => Some(self.group_id_of(body)?),
            None if kind == "GR" => return Err(CoreError::BadParameter("GroupID missing".into())),
            None => None,
        };
        let g = match &group {
            Some(gid) => Some(self.visible_group(gid, &s.user).await?),
            None => None,
        };
        let mut sname = body
            .path(&["ScreenName", "SName"])
            .map(|t| t.text.trim().to_string())
            .filter(|t| !t.is_empty());
        if let Some(g) = &g {
            // Only someone inside may invite others in (PGC-8 gives that
            // right to every participant).
            let me = self
                .base
                .store
                .joined(&g.id)
                .await?
                .into_iter()
                .find(|j| j.user == s.user);
            match me {
                Some(j) => sname = Some(j.sname),
                None if g.private || self.role_in(g, &s.user).await? == super::Role::Outsider => {
                    return Err(CoreError::NotJoined(g.id.clone()));
                }
                None => {}
            }
        }
        let urls = body
            .child("URLList")
            .map(|l| {
                l.children_named("URL")
                    .map(|u| u.text.trim().to_string())
                    .collect()
            })
            .unwrap_or_default();
        let spec = InviteSpec {
            invite_id,
            kind,
            inviter: &s.user,
            group: g.as_ref(),
            sname,
            note: body.child_text("InviteNote").map(str::to_string),
            urls,
            pres: body.child("PresenceSubList").cloned(),
            validity_secs: body.child_u64("Validity"),
        };
        let (invitees, bad) = canonical_users(&wire, &self.base.cfg.domain);
        let mut failures = Vec::new();
        let mut remote = Vec::new();
        for b in &bad {
            match self.base.canonical_party(b) {
                // A user of a peer domain: their home server delivers.
                Ok(u) if u.contains('@') => {
                    if !remote.contains(&u) {
                        remote.push(u);
                    }
                }
                Err(e @ CoreError::DomainNotSupported(_)) => {
                    failures.push(
                        super::manage::detailed(e.status_code(), &e.description())
                            .with_text("UserID", b.clone()),
                    );
                }
                _ => failures.push(unknown_user_detail(b)),
            }
        }
        failures.extend(self.send_invites(&spec, &invitees).await?);
        failures.extend(self.send_remote_invites(&spec, &remote).await?);
        Ok(partial_status(failures, wire.len()))
    }

    /// A GR invitation to `g` from `inviter` with a generated InviteID.
    pub(crate) async fn invite_to_group(
        &self,
        g: &GroupRecord,
        inviter: &str,
        sname: Option<&str>,
        invitees: &[String],
        note: Option<String>,
    ) -> Result<Vec<Element>, CoreError> {
        let token = crate::ids::random_token()?;
        let spec = InviteSpec {
            invite_id: format!("inv-{}", &token[..16]),
            kind: "GR".into(),
            inviter,
            group: Some(g),
            sname: sname.map(str::to_string),
            note,
            urls: Vec::new(),
            pres: None,
            validity_secs: None,
        };
        self.send_invites(&spec, invitees).await
    }

    /// Stores and pushes one invitation to each invitee; the failures
    /// (unknown users) come back as DetailedResults.
    pub(crate) async fn send_invites(
        &self,
        spec: &InviteSpec<'_>,
        invitees: &[String],
    ) -> Result<Vec<Element>, CoreError> {
        let domain = &self.base.cfg.domain;
        let now = self.base.now_ms();
        let validity = spec
            .validity_secs
            .unwrap_or(self.groups_cfg().invite_validity_secs);
        let expires = now.saturating_add(validity.saturating_mul(1000));
        let mut failures = Vec::new();
        for invitee in invitees {
            if invitee == spec.inviter {
                continue;
            }
            if !self.base.user_exists(invitee).await? {
                failures.push(unknown_user_detail(&crate::users::wire_user(
                    invitee, domain,
                )));
                continue;
            }
            if self.lists.blocks(invitee, spec.inviter).await? {
                tracing::info!(
                    inviter = spec.inviter,
                    invitee,
                    "invitation from a blocked user not delivered"
                );
                continue;
            }
            let rec = InviteRecord {
                invite_id: spec.invite_id.clone(),
                invitee: invitee.clone(),
                inviter: spec.inviter.to_string(),
                kind: spec.kind.clone(),
                group_id: spec.group.map(|g| g.id.clone()),
                note: spec.note.clone(),
                sname: spec.sname.clone(),
                urls: spec.urls.clone(),
                created_ms: now,
                expires_ms: Some(expires),
                delivered: false,
            };
            self.base.store.put_invite(rec.clone()).await?;
            if let Some(g) = spec.group.filter(|g| g.private) {
                let joined = self.base.store.joined(&g.id).await?;
                if !joined.iter().any(|j| &j.user == invitee) {
                    let pass = GroupPass {
                        user: invitee.clone(),
                        kind: PassKind::Invited,
                        until_ms: Some(expires),
                    };
                    self.base.store.put_pass(&g.id, pass).await?;
                }
            }
            self.deliver_invite(&rec, spec.pres.clone()).await?;
        }
        Ok(failures)
    }

    /// Pushes an InviteUser-Request to every session of the invitee; marks
    /// it delivered when there was one.
    pub(super) async fn deliver_invite(
        &self,
        rec: &InviteRecord,
        pres: Option<Element>,
    ) -> Result<(), CoreError> {
        let body = self.invite_user_request(rec, pres).await?;
        if self.base.router.to_user(&rec.invitee, body) > 0 {
            self.base
                .store
                .mark_invite_delivered(&rec.invite_id, &rec.invitee)
                .await?;
        }
        Ok(())
    }

    async fn invite_user_request(
        &self,
        rec: &InviteRecord,
        pres: Option<Element>,
    ) -> Result<Element, CoreError> {
        let domain = &self.base.cfg.domain;
        // A group of another domain (an invitation from a user there).
        let group = match &rec.group_id {
            Some(g) => Some(g.clone()),
            None if rec.inviter.contains('@') => {
                self.base
                    .store
                    .invite_group(&rec.invite_id, &rec.invitee)
                    .await?
            }
            None => None,
        };
        let mut b = Element::new("InviteUser-Request")
            .with_text("InviteID", rec.invite_id.clone())
            .with_text("InviteType", rec.kind.clone())
            .with(Element::new("Sender").with(user_elem(&rec.inviter, domain)))
            .with(Element::new("Recipient").with(user_elem(&rec.invitee, domain)))
            .with_opt(group.as_ref().map(|g| Element::text("GroupID", g.clone())))
            .with_opt(pres);
        if !rec.urls.is_empty() {
            let mut l = Element::new("URLList");
            for u in &rec.urls {
                l = l.with_text("URL", u.clone());
            }
            b = b.with(l);
        }
        b = b.with_opt(
            rec.note
                .as_ref()
                .map(|n| Element::text("InviteNote", n.clone())),
        );
        if let (Some(n), Some(g)) = (&rec.sname, &group) {
            b = b.with(screen_name(n, g));
        }
        if let Some(exp) = rec.expires_ms {
            b = b.with_text(
                "Validity",
                (exp.saturating_sub(self.base.now_ms()) / 1000).to_string(),
            );
        }
        // PGC-14: an invitee is told who they block is in the conversation.
        if let Some(g) = &rec.group_id
            && let Some(grp) = self.base.store.group(g).await?.filter(|g| g.private)
        {
            let mut blocked = Vec::new();
            for j in self.base.store.joined(&grp.id).await? {
                if self.lists.blocks(&rec.invitee, &j.user).await? {
                    blocked.push(j.user);
                }
            }
            if !blocked.is_empty() {
                b = b.with(joined_blocked(&blocked, domain));
            }
        }
        Ok(b)
    }

    /// Pushes the invitations that waited for this user to come online.
    /// To be called from the service's "session ready" hooks.
    pub(crate) async fn groups_session_ready(&self, s: &Arc<Session>) {
        let pending = match self.base.store.pending_invites(&s.user).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(user = %s.user, error = %e, "could not read pending invitations");
                return;
            }
        };
        let now = self.base.now_ms();
        for rec in pending {
            let res = if rec.expires_ms.is_some_and(|t| t <= now) {
                self.base
                    .store
                    .delete_invite(&rec.invite_id, &rec.invitee)
                    .await
                    .map(|_| ())
                    .map_err(CoreError::from)
            } else {
                self.deliver_invite(&rec, None).await
            };
            if let Err(e) = res {
                tracing::warn!(user = %s.user, invite = %rec.invite_id, error = %e, "could not deliver invitation");
            }
        }
    }

    /// InviteUser-Response from the invitee: relayed to the inviter as
    /// Invite-Response; 423 for an invitation we do not know.
    pub(crate) async fn invite_user_response(
        &self,
        s: &Arc<Session>,
        body: &Element,
    ) -> Result<Element, CoreError> {
        let invite_id = body.child_text("InviteID").unwrap_or("").to_string();
        let rec = self
            .base
            .store
            .invite(&invite_id, &s.user)
            .await?
            .ok_or_else(|| CoreError::InvalidInvitation(invite_id.clone()))?;
        let accepted = body.child_bool("Acceptance").unwrap_or(false);
        let domain = &self.base.cfg.domain;
        let mut resp = Element::new("Invite-Response")
            .with_text("InviteID", invite_id.clone())
            .with_text("Acceptance", bool_str(accepted))
            .with(Element::new("Sender").with(user_elem(&rec.invitee, domain)))
            .with(Element::new("Recipient").with(user_elem(&rec.inviter, domain)))
            .with_opt(body.child("ResponseNote").cloned());
        if let Some(sn) = body.child("ScreenName") {
            resp = resp.with(sn.clone());
        }
        if rec.inviter.contains('@') {
            // The inviter is of a peer domain: the answer goes to their
            // server.
            self.answer_remote_invite(&rec, accepted, body).await?;
        } else {
            self.base.router.to_user(&rec.inviter, resp);
        }
        if !accepted {
            self.withdraw_pass(&rec).await?;
        }
        self.base.store.delete_invite(&invite_id, &s.user).await?;
        tracing::info!(invite = %invite_id, invitee = %s.user, inviter = %rec.inviter, accepted, "invitation answered");
        Ok(ok_status())
    }

    /// CancelInvite-Request: the inviter withdraws an invitation from the
    /// named recipients (all of them when none is named); each gets a
    /// CancelInviteUser-Request.
    pub(crate) async fn cancel_invite(
        &self,
        s: &Arc<Session>,
        body: &Element,
    ) -> Result<Element, CoreError> {
        let invite_id = body.child_text("InviteID").unwrap_or("").to_string();
        let named: Vec<String> = body
            .child("Recipient")
            .map(user_ids)
            .unwrap_or_default()
            .iter()
            .filter_map(|w| self.base.canonical_party(w).ok())
            .collect();
        let recs: Vec<InviteRecord> = self
            .base
            .store
            .invites_from(&s.user, &invite_id)
            .await?
            .into_iter()
            .filter(|r| named.is_empty() || named.contains(&r.invitee))
            .collect();
        if recs.is_empty() {
            return Err(CoreError::InvalidInvitation(invite_id));
        }
        let domain = &self.base.cfg.domain;
        for rec in &recs {
            self.base
                .store
                .delete_invite(&rec.invite_id, &rec.invitee)
                .await?;
            self.withdraw_pass(rec).await?;
            if rec.invitee.contains('@') {
                self.cancel_remote_invite(rec, body.child_text("InviteNote"))
                    .await?;
                continue;
            }
            let cancel = Element::new("CancelInviteUser-Request")
                .with_text("InviteID", rec.invite_id.clone())
                .with(Element::new("Sender").with(user_elem(&rec.inviter, domain)))
                .with(Element::new("Recipient").with(user_elem(&rec.invitee, domain)))
                .with_opt(body.child("InviteNote").cloned())
                .with_opt(
                    rec.group_id
                        .as_ref()
                        .map(|g| Element::text("GroupID", g.clone())),
                );
            self.base.router.to_user(&rec.invitee, cancel);
        }
        Ok(ok_status())
    }

    /// A declined or cancelled invitation to a private group no longer
    /// lets its invitee in (unless they are in already).
    pub(super) async fn withdraw_pass(&self, rec: &InviteRecord) -> Result<(), CoreError> {
        let Some(gid) = &rec.group_id else {
            return Ok(());
        };
        if let Some(p) = self.base.store.pass(gid, &rec.invitee).await?
            && p.kind == PassKind::Invited
        {
            self.base.store.remove_pass(gid, &rec.invitee).await?;
        }
        Ok(())
    }
}

/// 200, or 201 with the failures; when every named user failed, the
/// failure's own code.
pub(crate) fn partial_status(failures: Vec<Element>, asked: usize) -> Element {
    if failures.is_empty() {
        return ok_status();
    }
    let code = if failures.len() >= asked {
        failures
            .first()
            .and_then(|f| f.child_u64("Code"))
            .and_then(|c| u16::try_from(c).ok())
            .unwrap_or(201)
    } else {
        201
    };
    let mut r = result(
        code,
        if code == 201 {
            "Partially successful"
        } else {
            "Failed"
        },
    );
    for f in failures {
        r = r.with(f);
    }
    crate::reply::status_with(r)
}
