//! Private group conversations (PGC-*).
//!
//! A client asks for one with CreateGroup-Request carrying the group
//! property `Type = Private` (any version), or, in 1.3, with
//! ExtendConversation-Request (see `extend`). The GroupID may be left out:
//! the server makes one (`wv:<creator>/pgc-<random>@domain`) and returns it
//! in the Status. The first participants may be named in the same
//! CreateGroup as `UserIDList{UserID*}` or `UserList{User{UserID}*}`; each
//! gets an invitation from the creator.
//!
//! The server fixes the rules: open but never searchable (PGC-15), no
//! private messages (PGC-13), deleted when the last participant goes
//! (PGC-19), and generates name, topic and invitation text when the client
//! gave none (PGC-UC). Joining needs a pass: an invitation (PGC-9, any
//! participant may invite: PGC-8) or a rejoin window after dropping out
//! (PGC-16). Nobody has powers over others inside (PGC-10/11); only the
//! server administrator can expel (PGC-12, `admin`).

use super::GroupsService;
use std::sync::Arc;

use imps_wire::Element;

use super::ids::{canonical_users, user_ids};
use super::join::JoinParams;
use super::manage::{created_status, detail};
use super::props::merge;
use crate::CoreError;
use crate::session::Session;
use crate::store::{GroupPass, GroupRecord, PassKind, WelcomeNote};

/// The properties every private conversation has, whatever was asked.
const FIXED: &[(&str, &str)] = &[
    ("Type", "Private"),
    ("AccessType", "Open"),
    ("Searchable", "F"),
    ("PrivateMessaging", "F"),
    ("AutoDelete", "T"),
];

impl GroupsService {
    /// Creates a private conversation owned by `s.user`, joins the creator
    /// (unless JoinGroup is F) and invites the users named in `body`.
    pub(crate) async fn create_private(
        &self,
        s: &Arc<Session>,
        body: &Element,
        gid: Option<String>,
        props: Vec<(String, String)>,
        note: Option<WelcomeNote>,
    ) -> Result<Element, CoreError> {
        let generated = gid.is_none();
        let g = self.new_private_group(&s.user, gid, props, note).await?;
        let lock = self.locks.get(&g.id);
        let _held = lock.lock().await;
        let mut failures = Vec::new();
        let mut sname = None;
        if body.child_bool("JoinGroup").unwrap_or(true) {
            match self
                .join_session(&g, s, JoinParams::from_request(body), false)
                .await
            {
                Ok(j) => sname = Some(j.row.sname.clone()),
                Err(e) => failures.push(detail(&e, &g.id)),
            }
        }
        let (wanted, bad) = canonical_users(&user_ids(body), &self.base.cfg.domain);
        failures.extend(bad.iter().map(|b| unknown_user_detail(b)));
        let note = self.invitation_text(&s.user).await?;
        let sent = self
            .invite_to_group(&g, &s.user, sname.as_deref(), &wanted, Some(note))
            .await?;
        failures.extend(sent);
        Ok(created_status(
            generated.then_some(g.id.as_str()),
            sname.as_deref().map(|n| (n, g.id.as_str())),
            failures,
        ))
    }

    /// Stores a new private group with its fixed and generated properties;
    /// the creator holds an invitation pass until they join.
    pub(crate) async fn new_private_group(
        &self,
        creator: &str,
        gid: Option<String>,
        mut props: Vec<(String, String)>,
        note: Option<WelcomeNote>,
    ) -> Result<GroupRecord, CoreError> {
        let gid = match gid {
            Some(g) => g,
            None => {
                let token = crate::ids::random_token()?;
                format!(
                    "wv:{creator}/pgc-{}@{}",
                    &token[..16],
                    self.base.cfg.domain.to_lowercase()
                )
            }
        };
        let display = self.display_name(creator).await?;
        let fixed: Vec<(String, String)> = FIXED
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        merge(&mut props, &fixed);
        if props.iter().all(|(n, _)| n != "Name") {
            merge(
                &mut props,
                &[("Name".into(), format!("Conversation with {display}"))],
            );
        }
        if props.iter().all(|(n, _)| n != "Topic") {
            merge(
                &mut props,
                &[("Topic".into(), "Private conversation".into())],
            );
        }
        let g = GroupRecord {
            id: gid.clone(),
            owner: creator.to_string(),
            private: true,
            props,
            welcome: note,
            created_ms: self.base.now_ms(),
        };
        self.create_within_quota(g.clone()).await?;
        self.base
            .store
            .put_pass(
                &gid,
                GroupPass {
                    user: creator.to_string(),
                    kind: PassKind::Invited,
                    until_ms: None,
                },
            )
            .await?;
        tracing::info!(group = %gid, creator, "private conversation created");
        Ok(g)
    }

    /// Joined, or holding a pass that has not run out.
    pub(crate) async fn is_participant(
        &self,
        g: &GroupRecord,
        user: &str,
    ) -> Result<bool, CoreError> {
        if self
            .base
            .store
            .joined(&g.id)
            .await?
            .iter()
            .any(|j| j.user == user)
        {
            return Ok(true);
        }
        let now = self.base.now_ms();
        Ok(self
            .base
            .store
            .pass(&g.id, user)
            .await?
            .is_some_and(|p| p.until_ms.is_none_or(|t| t > now)))
    }

    /// Friendly name, else the user ID: what others see of a participant.
    pub(crate) async fn display_name(&self, user: &str) -> Result<String, CoreError> {
        Ok(self
            .base
            .friendly_name(user)
            .await?
            .unwrap_or_else(|| user.to_string()))
    }

    /// The generated invitation text (PGC-UC).
    pub(crate) async fn invitation_text(&self, inviter: &str) -> Result<String, CoreError> {
        Ok(format!(
            "{} invites you to a conversation",
            self.display_name(inviter).await?
        ))
    }
}

/// `DetailedResult{531, UserID}` for a user who does not exist here.
pub(crate) fn unknown_user_detail(wire: &str) -> Element {
    super::manage::detailed(531, "Unknown user").with_text("UserID", wire)
}
