//! ExtendConversation (1.3, EXCON; PGC-1..6): one request turns a 1:1
//! conversation into a private group conversation.
//!
//! `ExtendConversation-Request{ExtendConversationID, UserIDList,
//! ExtendConversationUser{UserID, ClientID}, SubscribeNotification,
//! WelcomeNote, ScreenName}` creates a private group (its rules apply:
//! PGC-6), joins the requester, and moves the other 1:1 user in silently
//! (PGC-2): their session with the named ClientID (else any of theirs) is
//! joined without an invitation and gets a GroupChangeNotice naming the
//! group and everyone in it, which is how its client learns where the
//! conversation went. If they have no session they get an invitation
//! instead. The users in UserIDList get invitations from the requester;
//! when one joins, both 1:1 users are told (PGC-3/5). Nothing said before
//! is carried over (PGC-4). The answer is
//! `ExtendConversation-Response{ExtendConversationID, GroupID, Result}`.

use super::GroupsService;
use std::sync::Arc;

use imps_wire::Element;

use super::ids::{canonical_users, user_ids};
use super::join::JoinParams;
use super::notice::{Change, notice_body};
use super::pgc::unknown_user_detail;
use super::props::parse_welcome_note;
use crate::CoreError;
use crate::reply::result;
use crate::session::Session;
use crate::store::{GroupPass, PassKind};
use crate::users::canonical_user;

impl GroupsService {
    /// ExtendConversation-Request.
    pub(crate) async fn extend_conversation(
        &self,
        s: &Arc<Session>,
        body: &Element,
    ) -> Result<Element, CoreError> {
        let domain = self.base.cfg.domain.clone();
        let ecid = body
            .child_text("ExtendConversationID")
            .unwrap_or("")
            .to_string();
        let partner_el = body
            .child("ExtendConversationUser")
            .ok_or_else(|| CoreError::BadParameter("ExtendConversationUser missing".into()))?;
        let partner = canonical_user(partner_el.child_text("UserID").unwrap_or(""), &domain)?;
        if partner == s.user || !self.base.user_exists(&partner).await? {
            return Err(CoreError::UnknownUser(partner));
        }
        let client = partner_el
            .child("ClientID")
            .and_then(|c| c.child_text("URL").or_else(|| c.child_text("MSISDN")))
            .map(str::to_string);
        let wire = user_ids(body);
        if wire.len() > self.groups_cfg().max_users_per_request {
            return Err(CoreError::BadParameter(
                "too many users in one request".into(),
            ));
        }
        let (added, bad) = canonical_users(&wire, &domain);
        let mut failures: Vec<Element> = bad.iter().map(|b| unknown_user_detail(b)).collect();

        let welcome = body.child("WelcomeNote").map(parse_welcome_note);
        let g = self
            .new_private_group(&s.user, None, Vec::new(), welcome)
            .await?;
        let lock = self.locks.get(&g.id);
        let _held = lock.lock().await;
        let me = self
            .join_session(&g, s, JoinParams::from_request(body), false)
            .await?;

        // The other 1:1 user, silently (unless they block the requester:
        // then nothing happens to them, as with any invitation, PGC-UC).
        if !self.lists.blocks(&partner, &s.user).await? {
            let sessions = self.base.sessions.of_user(&partner);
            let chosen = sessions
                .iter()
                .find(|x| client.as_deref() == Some(x.client_key()))
                .or_else(|| sessions.first())
                .cloned();
            match chosen {
                Some(ps) => {
                    let pass = GroupPass {
                        user: partner.clone(),
                        kind: PassKind::Invited,
                        until_ms: None,
                    };
                    self.base.store.put_pass(&g.id, pass).await?;
                    let params = JoinParams {
                        sname: None,
                        subscribe: true,
                        show_id: false,
                    };
                    let j = self.join_session(&g, &ps, params, false).await?;
                    let change = Change {
                        joined: j.all.clone(),
                        ..Change::default()
                    };
                    self.base.router.to_session_shaped(&ps.id, &mut |r| {
                        vec![notice_body(self.member_lists_for(r), &g, &change, &domain)]
                    });
                }
                None => {
                    let note = self.invitation_text(&s.user).await?;
                    let f = self
                        .invite_to_group(
                            &g,
                            &s.user,
                            Some(&me.row.sname),
                            std::slice::from_ref(&partner),
                            Some(note),
                        )
                        .await?;
                    failures.extend(f);
                }
            }
        }
        let others: Vec<String> = added
            .into_iter()
            .filter(|u| *u != partner && *u != s.user)
            .collect();
        let note = self.invitation_text(&s.user).await?;
        failures.extend(
            self.invite_to_group(&g, &s.user, Some(&me.row.sname), &others, Some(note))
                .await?,
        );

        let code = if failures.is_empty() { 200 } else { 201 };
        let mut r = result(
            code,
            if code == 200 {
                "Successful"
            } else {
                "Partially successful"
            },
        );
        r.children.extend(failures);
        tracing::info!(group = %g.id, by = %s.user, partner = %partner, "conversation extended");
        Ok(Element::new("ExtendConversation-Response")
            .with_text("ExtendConversationID", ecid)
            .with_text("GroupID", g.id.clone())
            .with(r))
    }
}
