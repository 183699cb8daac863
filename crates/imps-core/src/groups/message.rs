//! Messages to a group: SendMessage-Request whose Recipient holds
//! `Group{GroupID}` (everyone joined) or `Group{ScreenName{SName, GroupID}}`
//! (one participant: a private message, if the group allows them).
//!
//! Group messages are live chat: pushed as NewMessage to the sessions
//! joined now, never stored for later, so nobody sees what was said before
//! they joined (PGC-4). The sender is shown by screen name
//! (`Sender{Group{ScreenName}}`), not by UserID, and does not get its own
//! message back. A DeliveryReport is not sent for group messages. A
//! Recipient mixing users and groups is refused (402): the two go
//! different ways and one answer could not say what happened to each.

use super::GroupsService;
use std::sync::Arc;

use imps_wire::{Element, SharedBody};

use super::ids::screen_name;
use super::manage::detail;
use super::props::is_true;
use super::time::csp_datetime;
use crate::CoreError;
use crate::session::Session;
use crate::store::JoinedUser;

/// One group addressed by a SendMessage-Request.
pub(crate) enum Target {
    Group(String),
    /// A private message to the participant with this screen name.
    Whisper {
        group: String,
        sname: String,
    },
}

/// The group recipients of a SendMessage-Request; `None` when it names no
/// group (the IM area's), an error when it mixes groups and users.
pub(crate) fn group_recipients(body: &Element) -> Option<Result<Vec<Target>, CoreError>> {
    let rcpt = body.path(&["MessageInfo", "Recipient"])?;
    let groups: Vec<&Element> = rcpt.children_named("Group").collect();
    if groups.is_empty() {
        return None;
    }
    if rcpt.child("User").is_some() || rcpt.child("ContactList").is_some() {
        return Some(Err(CoreError::BadParameter(
            "a message goes to users or to groups, not both".into(),
        )));
    }
    let mut out = Vec::new();
    for g in groups {
        let t = match g.child("ScreenName") {
            Some(sn) => Target::Whisper {
                group: sn.child_text("GroupID").unwrap_or("").to_string(),
                sname: sn.child_text("SName").unwrap_or("").to_string(),
            },
            None => Target::Group(g.child_text("GroupID").unwrap_or("").to_string()),
        };
        out.push(t);
    }
    Some(Ok(out))
}

impl GroupsService {
    /// Delivers to every group target; SendMessage-Response with one
    /// MessageID. With several groups, failures are DetailedResults (201).
    pub(crate) async fn send_to_groups(
        &self,
        s: &Arc<Session>,
        body: &Element,
        targets: Vec<Target>,
    ) -> Result<Element, CoreError> {
        self.base.charge_send(&s.user)?;
        let message_id = crate::ids::random_token()?;
        let single = targets.len() == 1;
        let mut failures = Vec::new();
        for t in targets {
            let raw = match &t {
                Target::Group(g) | Target::Whisper { group: g, .. } => g.clone(),
            };
            match self.send_to_group(s, body, &message_id, t).await {
                Ok(()) => {}
                Err(e) if single => return Err(e),
                Err(e) => failures.push(detail(&e, &raw)),
            }
        }
        let code = if failures.is_empty() { 200 } else { 201 };
        let mut result = crate::reply::result(
            code,
            if code == 200 {
                "Successful"
            } else {
                "Partially successful"
            },
        );
        result.children.extend(failures);
        Ok(Element::new("SendMessage-Response")
            .with(result)
            .with_text("MessageID", message_id))
    }

    pub(crate) async fn send_to_group(
        &self,
        s: &Arc<Session>,
        body: &Element,
        message_id: &str,
        t: Target,
    ) -> Result<(), CoreError> {
        let max_name = self.groups_cfg().max_group_name_chars;
        let (raw, whisper) = match &t {
            Target::Group(g) => (g.as_str(), None),
            Target::Whisper { group, sname } => (group.as_str(), Some(sname.as_str())),
        };
        if let Some((gid, peer)) = self.remote_group(raw) {
            if whisper.is_some() {
                return Err(CoreError::NotImplemented(
                    "private messages in a group of another domain".into(),
                ));
            }
            return self
                .send_to_remote_group(s, body, message_id, &gid, &peer)
                .await;
        }
        let gid = super::canonical_group(raw, &self.base.cfg.domain, max_name)?;
        let g = self.visible_group(&gid, &s.user).await?;
        let joined = self.joined_now(&gid).await?;
        let me = joined
            .iter()
            .find(|j| j.user == s.user)
            .ok_or_else(|| CoreError::NotJoined(gid.clone()))?;
        let sender =
            Element::new("Sender").with(Element::new("Group").with(screen_name(&me.sname, &gid)));
        match whisper {
            None => {
                let recipient = Element::new("Recipient")
                    .with(Element::new("Group").with_text("GroupID", gid.clone()));
                // One copy for every member, encoded once per version and
                // encoding (issue 19).
                let msg = Arc::new(SharedBody::new(
                    self.new_message(body, message_id, sender, recipient),
                ));
                let mut n = 0usize;
                let others: Vec<JoinedUser> = joined
                    .iter()
                    .filter(|j| j.user != s.user)
                    .cloned()
                    .collect();
                // Members of other domains: one request per domain.
                self.fan_out_remote(&gid, &me.sname, body, message_id, &others)
                    .await;
                for j in others.iter().filter(|j| !super::hosted::is_remote(&j.user)) {
                    if self.push_joined(j, &msg) {
                        n += 1;
                    }
                }
                tracing::debug!(group = %gid, from = %s.user, delivered = n, "group message");
            }
            Some(sname) => {
                // PGC-13: never inside a private conversation.
                if g.private || !is_true(&g, "PrivateMessaging") {
                    return Err(CoreError::PrivateMessagingDisabled(gid));
                }
                let to = joined
                    .iter()
                    .find(|j| j.sname.to_lowercase() == sname.trim().to_lowercase())
                    .ok_or_else(|| CoreError::UnknownUser(format!("{sname} in {gid}")))?;
                let recipient = Element::new("Recipient")
                    .with(Element::new("Group").with(screen_name(&to.sname, &gid)));
                let msg = self.new_message(body, message_id, sender, recipient);
                self.push_joined(to, &Arc::new(SharedBody::new(msg)));
            }
        }
        Ok(())
    }

    /// Queues `msg` for the session a user joined from; false when that
    /// session is gone (it dropped out and its row waits for cleanup).
    fn push_joined(&self, j: &JoinedUser, msg: &Arc<SharedBody>) -> bool {
        self.base.router.to_session_body(&j.session_id, msg)
    }

    /// `NewMessage{MessageInfo{...}, ContentData}` from the request's
    /// content, with our MessageID, the given Sender and Recipient, and
    /// the server's DateTime.
    fn new_message(
        &self,
        body: &Element,
        message_id: &str,
        sender: Element,
        recipient: Element,
    ) -> Element {
        let info = body.child("MessageInfo");
        let text = |n: &str| info.and_then(|i| i.child_text(n)).filter(|t| !t.is_empty());
        let data = body
            .child("ContentData")
            .map(|d| d.text.clone())
            .unwrap_or_default();
        let size = text("ContentSize")
            .map(str::to_string)
            .unwrap_or_else(|| data.chars().count().to_string());
        let mut mi = Element::new("MessageInfo")
            .with_text("MessageID", message_id)
            .with_text("ContentType", text("ContentType").unwrap_or("text/plain"))
            .with_opt(text("ContentEncoding").map(|e| Element::text("ContentEncoding", e)))
            .with_text("ContentSize", size)
            .with_opt(text("ContentName").map(|e| Element::text("ContentName", e)))
            .with(recipient)
            .with(sender)
            .with_text("DateTime", csp_datetime(self.base.now_ms()));
        if let Some(font) = info.and_then(|i| i.child("Font")) {
            mi = mi.with(font.clone());
        }
        Element::new("NewMessage")
            .with(mi)
            .with_text("ContentData", data)
    }
}
