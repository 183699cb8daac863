//! Invitations across domains (issue 17, third step).
//!
//! An invitation from one of ours to a user of a peer domain is kept here
//! (under the invitee's `user@domain`, so the answer and a cancel find
//! it) and leaves as an SSP `InviteRequest`, one per invitee. The
//! invitee's server stores it like a local one (the inviter held as
//! `user@domain`) and pushes InviteUser-Request; the invitee's
//! InviteUser-Response goes back as a Request-mode `InviteResponse`
//! (`acceptance`, `Inviting`, `Responding`), shown to the inviter as
//! Invite-Response. CancelInvite travels as `CancelInviteRequest`. A
//! group invitation (GR) carries its GroupID and the inviter's screen
//! name; the invitee joins through their own server (`hosted`), and an
//! invitation into a private group of ours leaves a pass for them here.

use imps_wire::Element;
use imps_wire::element::bool_str;
use imps_wire::ssp::{SspStatus, domain_of};
use imps_wire::ssp_presence::{CancelInviteRequest, InviteAnswer, InviteRequest};

use super::GroupsService;
use super::ids::user_elem;
use super::invite::InviteSpec;
use super::manage::detailed;
use crate::CoreError;
use crate::federation::{check_actor, status_of};
use crate::store::{GroupPass, InviteRecord, PassKind};
use crate::users::{canonical_user, wire_user};

/// `wv:user@domain` → `user@domain`, lower case.
fn core_form(id: &str) -> String {
    id.strip_prefix("wv:").unwrap_or(id).to_ascii_lowercase()
}

impl GroupsService {
    /// Sends `spec` to each invitee of a peer domain (`user@domain`);
    /// the ones that could not be sent come back as DetailedResults.
    pub(crate) async fn send_remote_invites(
        &self,
        spec: &InviteSpec<'_>,
        invitees: &[String],
    ) -> Result<Vec<Element>, CoreError> {
        let mut failures = Vec::new();
        if invitees.is_empty() {
            return Ok(failures);
        }
        let domain = &self.base.cfg.domain;
        let group_id = spec.group.map(|g| g.id.clone());
        let now = self.base.now_ms();
        let validity = spec
            .validity_secs
            .unwrap_or(self.groups_cfg().invite_validity_secs);
        for invitee in invitees {
            let Some((_, peer)) = invitee.rsplit_once('@') else {
                continue;
            };
            let req = InviteRequest {
                meta: self.base.ssp_meta(Some(spec.inviter)),
                invite_id: spec.invite_id.clone(),
                invite_type: spec.kind.clone(),
                validity: Some(validity),
                inviting: wire_user(spec.inviter, domain),
                invited: format!("wv:{invitee}"),
                group_id: group_id.clone(),
                attributes: spec.pres.clone(),
                note: spec.note.clone(),
                screen_name: spec.sname.clone(),
            };
            match self.base.queue_ssp(peer, None, &req.to_element()).await {
                Ok(_) => {
                    let expires = now.saturating_add(validity.saturating_mul(1000));
                    // Invited into a private group of ours: the pass that
                    // lets them join through their own server (`hosted`).
                    if let Some(g) = spec.group.filter(|g| g.private) {
                        let pass = GroupPass {
                            user: invitee.clone(),
                            kind: PassKind::Invited,
                            until_ms: Some(expires),
                        };
                        self.base.store.put_pass(&g.id, pass).await?;
                    }
                    // Kept on our side too, for the answer and a cancel.
                    let rec = InviteRecord {
                        invite_id: spec.invite_id.clone(),
                        invitee: invitee.clone(),
                        inviter: spec.inviter.to_string(),
                        kind: spec.kind.clone(),
                        group_id: group_id.clone(),
                        note: spec.note.clone(),
                        sname: spec.sname.clone(),
                        urls: spec.urls.clone(),
                        created_ms: now,
                        expires_ms: Some(expires),
                        // Never pushed to anyone here.
                        delivered: true,
                    };
                    self.base.store.put_invite(rec).await?;
                }
                Err(CoreError::Store(e)) => return Err(CoreError::Store(e)),
                Err(e) => failures.push(
                    detailed(e.status_code(), &e.description())
                        .with_text("UserID", format!("wv:{invitee}")),
                ),
            }
        }
        Ok(failures)
    }

    /// Our invitee answered an invitation from a user of a peer domain.
    pub(crate) async fn answer_remote_invite(
        &self,
        rec: &InviteRecord,
        accepted: bool,
        body: &Element,
    ) -> Result<(), CoreError> {
        let Some((_, peer)) = rec.inviter.rsplit_once('@') else {
            return Ok(());
        };
        let domain = &self.base.cfg.domain;
        let a = InviteAnswer {
            meta: self.base.ssp_meta(Some(&rec.invitee)),
            invite_id: rec.invite_id.clone(),
            acceptance: accepted,
            inviting: wire_user(&rec.inviter, domain),
            responding: wire_user(&rec.invitee, domain),
            note: body.child_text("ResponseNote").map(str::to_string),
            screen_name: body
                .path(&["ScreenName", "SName"])
                .map(|t| t.text.trim().to_string())
                .filter(|t| !t.is_empty()),
        };
        self.base.queue_ssp(peer, None, &a.to_element()).await?;
        self.base
            .store
            .delete_invite_group(&rec.invite_id, &rec.invitee)
            .await?;
        Ok(())
    }

    /// Our inviter cancelled an invitation to a user of a peer domain.
    pub(crate) async fn cancel_remote_invite(
        &self,
        rec: &InviteRecord,
        note: Option<&str>,
    ) -> Result<(), CoreError> {
        let Some((_, peer)) = rec.invitee.rsplit_once('@') else {
            return Ok(());
        };
        let c = CancelInviteRequest {
            meta: self.base.ssp_meta(Some(&rec.inviter)),
            invite_id: rec.invite_id.clone(),
            canceling: wire_user(&rec.inviter, &self.base.cfg.domain),
            canceled: format!("wv:{}", rec.invitee),
            note: note.map(str::to_string),
        };
        self.base
            .queue_ssp(peer, None, &c.to_element())
            .await
            .map(|_| ())
    }

    /// The invitee a request from `peer` names: ours (516 otherwise) and
    /// existing (531 otherwise).
    async fn local_invitee(&self, wire: &str) -> Result<String, CoreError> {
        let domain = &self.base.cfg.domain;
        if domain_of(wire) != Some(domain.as_str()) {
            return Err(CoreError::DomainNotSupported(
                domain_of(wire).unwrap_or_default().to_string(),
            ));
        }
        let u = canonical_user(wire, domain)?;
        if !self.base.user_exists(&u).await? {
            return Err(CoreError::UnknownUser(wire.to_string()));
        }
        Ok(u)
    }

    /// InviteRequest from `peer`: stored and pushed to our invitee like a
    /// local invitation (one from a user the invitee blocks is dropped,
    /// answered the same).
    pub(crate) async fn ssp_invite(
        &self,
        peer: &str,
        r: InviteRequest,
    ) -> Result<SspStatus, CoreError> {
        if let Err(e) = check_actor(peer, &r.meta, &[&r.inviting]) {
            return Ok(status_of(&e));
        }
        // A group invitation names its group (of the inviter's domain or
        // another): shown to our invitee, who joins through us.
        let group_id = match r.group_id.as_deref().map(imps_wire::ssp::normalize_id) {
            Some(Some(g)) => Some(g),
            Some(None) => {
                return Ok(status_of(&CoreError::BadParameter(
                    "GroupID is not a wv: ID".into(),
                )));
            }
            None if r.invite_type.eq_ignore_ascii_case("GR") => {
                return Ok(status_of(&CoreError::BadParameter(
                    "a GR invitation needs its GroupID".into(),
                )));
            }
            None => None,
        };
        if r.invite_id.len() > 128 {
            return Ok(status_of(&CoreError::BadParameter(
                "inviteID too long".into(),
            )));
        }
        let invitee = match self.local_invitee(&r.invited).await {
            Ok(u) => u,
            Err(CoreError::Store(e)) => return Err(CoreError::Store(e)),
            Err(e) => return Ok(status_of(&e)),
        };
        let inviter = core_form(&r.inviting);
        if self.lists.blocks(&invitee, &inviter).await? {
            tracing::info!(inviter = %inviter, invitee = %invitee, "invitation from a blocked user of another domain not delivered");
            return Ok(SspStatus::ok());
        }
        let now = self.base.now_ms();
        let validity = r
            .validity
            .unwrap_or(self.groups_cfg().invite_validity_secs)
            .min(self.groups_cfg().invite_validity_secs.max(1));
        let rec = InviteRecord {
            invite_id: r.invite_id.clone(),
            invitee,
            inviter,
            kind: r.invite_type.to_ascii_uppercase(),
            sname: group_id.as_ref().and(r.screen_name.clone()),
            // The invitations table names only groups of ours; the group
            // of another domain is kept beside it.
            group_id: None,
            note: r.note.clone(),
            urls: Vec::new(),
            created_ms: now,
            expires_ms: Some(now.saturating_add(validity.saturating_mul(1000))),
            delivered: false,
        };
        if let Some(g) = &group_id {
            self.base
                .store
                .put_invite_group(&rec.invite_id, &rec.invitee, g)
                .await?;
        }
        self.base.store.put_invite(rec.clone()).await?;
        self.deliver_invite(&rec, r.attributes.clone()).await?;
        Ok(SspStatus::ok())
    }

    /// InviteResponse (Request mode) from `peer`: its user answered one of
    /// our users' invitations; shown to the inviter as Invite-Response.
    pub(crate) async fn ssp_invite_answer(
        &self,
        peer: &str,
        a: InviteAnswer,
    ) -> Result<SspStatus, CoreError> {
        if let Err(e) = check_actor(peer, &a.meta, &[&a.responding]) {
            return Ok(status_of(&e));
        }
        let domain = &self.base.cfg.domain;
        let Ok(inviter) = canonical_user(&a.inviting, domain) else {
            return Ok(status_of(&CoreError::DomainNotSupported(
                domain_of(&a.inviting).unwrap_or_default().to_string(),
            )));
        };
        let invitee = core_form(&a.responding);
        let rec = self
            .base
            .store
            .invite(&a.invite_id, &invitee)
            .await?
            .filter(|r| r.inviter == inviter);
        let Some(rec) = rec else {
            return Ok(status_of(&CoreError::InvalidInvitation(a.invite_id)));
        };
        let resp = Element::new("Invite-Response")
            .with_text("InviteID", rec.invite_id.clone())
            .with_text("Acceptance", bool_str(a.acceptance))
            .with(Element::new("Sender").with(user_elem(&rec.invitee, domain)))
            .with(Element::new("Recipient").with(user_elem(&rec.inviter, domain)))
            .with_opt(a.note.map(|n| Element::text("ResponseNote", n)));
        self.base.router.to_user(&rec.inviter, resp);
        if !a.acceptance {
            // Declined: no way into a private group of ours any more.
            self.withdraw_pass(&rec).await?;
        }
        self.base
            .store
            .delete_invite(&rec.invite_id, &rec.invitee)
            .await?;
        tracing::info!(invite = %rec.invite_id, invitee = %rec.invitee, inviter = %rec.inviter, accepted = a.acceptance, "invitation answered in another domain");
        Ok(SspStatus::ok())
    }

    /// CancelInviteRequest from `peer`: its user takes back an invitation
    /// to one of ours, who gets CancelInviteUser-Request.
    pub(crate) async fn ssp_cancel_invite(
        &self,
        peer: &str,
        c: CancelInviteRequest,
    ) -> Result<SspStatus, CoreError> {
        if let Err(e) = check_actor(peer, &c.meta, &[&c.canceling]) {
            return Ok(status_of(&e));
        }
        let invitee = match self.local_invitee(&c.canceled).await {
            Ok(u) => u,
            Err(CoreError::Store(e)) => return Err(CoreError::Store(e)),
            Err(e) => return Ok(status_of(&e)),
        };
        let inviter = core_form(&c.canceling);
        let rec = self
            .base
            .store
            .invite(&c.invite_id, &invitee)
            .await?
            .filter(|r| r.inviter == inviter);
        let Some(rec) = rec else {
            return Ok(status_of(&CoreError::InvalidInvitation(c.invite_id)));
        };
        self.base
            .store
            .delete_invite(&rec.invite_id, &rec.invitee)
            .await?;
        self.base
            .store
            .delete_invite_group(&rec.invite_id, &rec.invitee)
            .await?;
        let domain = &self.base.cfg.domain;
        let cancel = Element::new("CancelInviteUser-Request")
            .with_text("InviteID", rec.invite_id.clone())
            .with(Element::new("Sender").with(user_elem(&rec.inviter, domain)))
            .with(Element::new("Recipient").with(user_elem(&rec.invitee, domain)))
            .with_opt(c.note.map(|n| Element::text("InviteNote", n)));
        self.base.router.to_user(&rec.invitee, cancel);
        Ok(SspStatus::ok())
    }
}
