//! Proactive authorization (PRR-5, PRR-1): CreateAttributeList,
//! DeleteAttributeList and GetAttributeList. An attribute list says which
//! attributes a user, the members of one of the owner's contact lists, or
//! everyone (DefaultList) may see. Several users in one request are one
//! store transaction: withdrawing from three users is all or nothing.
//! 1.3's DefaultNotify/UserNotify/ContactListNotify are accepted and not
//! acted on.

use super::PresenceService;
use std::sync::Arc;

use imps_wire::Element;

use super::attributes::AttrSet;
use super::targets::{Failure, Targets, outcome_result};
use crate::CoreError;
use crate::reply::ok_result;
use crate::session::Session;
use crate::store::{AuthChange, GrantRecord, GrantSubject, ReactiveRecord, ReactiveState};
use crate::users::wire_user;

/// The subjects a request names; users that cannot be read become
/// failures.
fn subjects(
    svc: &PresenceService,
    body: &Element,
) -> (Vec<String>, Vec<String>, bool, Vec<Failure>) {
    let t = Targets::parse(body);
    let mut users = Vec::new();
    let mut failures = Vec::new();
    for raw in &t.users {
        match svc.base.canonical_party(raw) {
            Ok(u) if !users.contains(&u) => users.push(u),
            Ok(_) => {}
            Err(e) => failures.push(Failure {
                code: e.status_code(),
                description: e.description(),
                kind: "UserID",
                id: raw.clone(),
            }),
        }
    }
    let default = body.child_bool("DefaultList").unwrap_or(false);
    (users, t.lists, default, failures)
}

impl PresenceService {
    /// CreateAttributeList-Request: sets the attribute list of each user,
    /// contact list and (DefaultList T) everyone named. An empty
    /// PresenceSubList is an explicit "nothing". A pending reactive
    /// request from a user named here counts as answered.
    pub(crate) async fn create_attribute_list(
        &self,
        s: &Arc<Session>,
        body: &Element,
    ) -> Result<Element, CoreError> {
        let list = body.child("PresenceSubList").ok_or_else(|| {
            CoreError::BadParameter("CreateAttributeList-Request without PresenceSubList".into())
        })?;
        let set = AttrSet::from_request(Some(list))?.unwrap_or_default();
        let (users, lists, default, mut failures) = subjects(self, body);
        let mut change = AuthChange::default();
        for u in &users {
            // A user of a peer domain (`user@domain`) is for their own
            // server to know; granting them is ours to decide.
            if !u.contains('@') && !self.base.user_exists(u).await? {
                failures.push(Failure {
                    code: 531,
                    description: "Unknown user".into(),
                    kind: "UserID",
                    id: wire_user(u, &self.base.cfg.domain),
                });
                continue;
            }
            change.put_grants.push(GrantRecord {
                subject: GrantSubject::User(u.clone()),
                attrs: set.names(),
            });
        }
        for l in &lists {
            if self.lists.list_members(&s.user, l).await?.is_none() {
                failures.push(Failure {
                    code: 700,
                    description: "Contact list does not exist".into(),
                    kind: "ContactList",
                    id: l.clone(),
                });
                continue;
            }
            change.put_grants.push(GrantRecord {
                subject: GrantSubject::List(l.clone()),
                attrs: set.names(),
            });
        }
        if default {
            change.put_grants.push(GrantRecord {
                subject: GrantSubject::Default,
                attrs: set.names(),
            });
        }
        if change.put_grants.is_empty() && failures.is_empty() {
            return Err(CoreError::BadParameter(
                "no user, contact list or DefaultList named".into(),
            ));
        }
        let cell = self.owner_cell(&s.user).await?;
        let mut st = cell.lock().await;
        for g in &change.put_grants {
            let GrantSubject::User(u) = &g.subject else {
                continue;
            };
            if let Some(r) = st
                .rare
                .reactive
                .get(u)
                .filter(|r| r.state == ReactiveState::Pending)
            {
                let state = if set.is_empty() {
                    ReactiveState::Denied
                } else {
                    ReactiveState::Granted
                };
                change.put_reactive.push(ReactiveRecord {
                    state,
                    updated_ms: self.base.now_ms(),
                    ..r.clone()
                });
            }
        }
        let any_ok = !change.put_grants.is_empty();
        self.change_auth(&s.user, &mut st, change).await?;
        Ok(crate::reply::status_with(outcome_result(&failures, any_ok)))
    }

    /// DeleteAttributeList-Request: removes the attribute lists of the
    /// users, contact lists and (DefaultList T) default named. A user left
    /// with no list sees nothing from then on (PRR-1); their reactive
    /// record goes too, so a new subscription asks the owner again.
    pub(crate) async fn delete_attribute_list(
        &self,
        s: &Arc<Session>,
        body: &Element,
    ) -> Result<Element, CoreError> {
        let (users, lists, default, failures) = subjects(self, body);
        let mut change = AuthChange::default();
        for u in &users {
            change.delete_grants.push(GrantSubject::User(u.clone()));
            change.delete_reactive.push(u.clone());
        }
        for l in lists {
            change.delete_grants.push(GrantSubject::List(l));
        }
        if default {
            change.delete_grants.push(GrantSubject::Default);
        }
        if change.delete_grants.is_empty() && failures.is_empty() {
            return Err(CoreError::BadParameter(
                "no user, contact list or DefaultList named".into(),
            ));
        }
        let any_ok = !change.delete_grants.is_empty();
        let cell = self.owner_cell(&s.user).await?;
        let mut st = cell.lock().await;
        self.change_auth(&s.user, &mut st, change).await?;
        Ok(crate::reply::status_with(outcome_result(&failures, any_ok)))
    }

    /// GetAttributeList-Request: the lists named, or all of them when the
    /// request names none.
    pub(crate) async fn get_attribute_list(
        &self,
        s: &Arc<Session>,
        body: &Element,
    ) -> Result<Element, CoreError> {
        let (users, lists, default, _) = subjects(self, body);
        let everything = users.is_empty() && lists.is_empty() && !default;
        let cell = self.owner_cell(&s.user).await?;
        let st = cell.lock().await;
        let mut resp = Element::new("GetAttributeList-Response").with(ok_result());
        if let Some(d) = st.grants.default.filter(|_| everything || default) {
            resp = resp.with(Element::new("DefaultAttributeList").with(d.to_name_list(s.version)));
        }
        let mut user_ids: Vec<&String> = st
            .grants
            .users
            .keys()
            .filter(|u| everything || users.contains(u))
            .collect();
        user_ids.sort();
        for u in user_ids {
            let set = st.grants.users.get(u).copied().unwrap_or_default();
            resp = resp.with(
                Element::new("Presence")
                    .with_text("UserID", wire_user(u, &self.base.cfg.domain))
                    .with(set.to_name_list(s.version)),
            );
        }
        for (l, set) in st
            .grants
            .lists
            .iter()
            .filter(|(l, _)| everything || lists.contains(l))
        {
            resp = resp.with(
                Element::new("Presence")
                    .with_text("ContactList", l.clone())
                    .with(set.to_name_list(s.version)),
            );
        }
        drop(st);
        // GEN-1 (attribute lists): in parts for a small 1.3 client.
        self.lists.segment_reply(s, resp, &[&["Presence"]])
    }
}
