//! Reactive authorization (PRR-5): a subscription from a user the owner
//! has not authorized at all asks the owner, who accepts or denies; until
//! then the watcher gets nothing.
//!
//! The question reaches the owner's 1.1/1.2 sessions as
//! PresenceAuth-Request, answered with PresenceAuth-User. CSP 1.3 dropped
//! those primitives from its token table, so 1.3 sessions get
//! Notification-Request with type ANU ("authorization needed - user") and
//! the owner answers with CreateAttributeList for that user (or with
//! PresenceAuth-User, which is accepted in every version). A 1.3 session
//! on the Android engine, which knows no other question, is asked with
//! PresenceAuth-Request (issue 13). An owner who is offline is asked when a
//! session of theirs becomes ready.

use super::PresenceService;
use std::sync::Arc;

use imps_wire::{Element, Version};

use super::attributes::AttrSet;
use super::hot::OwnerState;
use super::targets::Targets;
use crate::CoreError;
use crate::reply::{ok_result, ok_status};
use crate::router::Recipient;
use crate::session::Session;
use crate::store::{AuthChange, GrantRecord, GrantSubject, ReactiveRecord, ReactiveState};
use crate::users::wire_user;

/// The question to the owner, in the form their session's version knows.
/// The Android engine handles only PresenceAuth-Request, in 1.3 too (its
/// 1.3 token table still has it), so an owner on it is asked that way.
fn auth_request(
    v: Version,
    android_engine: bool,
    watcher_wire: &str,
    attrs: Option<AttrSet>,
) -> Element {
    let list = attrs.map(|a| a.to_name_list(v));
    if v >= Version::V1_3 && !android_engine {
        Element::new("Notification-Request")
            .with_text("NotificationType", "ANU")
            .with(Element::new("UserIDList").with_text("UserID", watcher_wire))
            .with_opt(list)
    } else {
        Element::new("PresenceAuth-Request")
            .with_text("UserID", watcher_wire)
            .with_opt(list)
    }
}

impl PresenceService {
    /// The question about `r`, shaped for one session of the owner.
    fn owner_question(&self, s: &Recipient<'_>, r: &ReactiveRecord) -> Vec<Element> {
        let attrs = r.attrs.as_deref().map(AttrSet::from_names);
        vec![auth_request(
            s.version,
            s.style.android_engine,
            &wire_user(&r.watcher, &self.base.cfg.domain),
            attrs,
        )]
    }

    /// Asks one session of the owner about `r`.
    pub(crate) fn ask_owner(&self, session_id: &str, r: &ReactiveRecord) {
        self.base
            .router
            .to_session_shaped(session_id, &mut |s| self.owner_question(s, r));
    }

    /// Records a pending request from `watcher` and asks the owner's
    /// sessions. `attrs` = what was subscribed to (`None` = all).
    pub(crate) async fn raise_reactive(
        &self,
        owner: &str,
        st: &mut OwnerState,
        watcher: &str,
        attrs: Option<AttrSet>,
    ) -> Result<(), CoreError> {
        let rec = ReactiveRecord {
            watcher: watcher.to_string(),
            state: ReactiveState::Pending,
            attrs: attrs.map(AttrSet::names),
            updated_ms: self.base.now_ms(),
        };
        self.base
            .store
            .update_presence_auth(
                owner,
                AuthChange {
                    put_reactive: vec![rec.clone()],
                    ..AuthChange::default()
                },
            )
            .await?;
        self.tell_other_nodes(owner);
        self.base
            .router
            .to_user_shaped(owner, &mut |s| self.owner_question(s, &rec));
        st.rare.reactive.insert(watcher.to_string(), rec);
        Ok(())
    }

    /// PresenceAuth-User{UserID, Acceptance, PresenceSubList?}: the owner's
    /// answer. Accepting grants the attributes named, else those asked for,
    /// else all; location only when the owner's answer names it (PRR-UC).
    /// Denying is an explicit empty attribute list for that user.
    pub(crate) async fn presence_auth_user(
        &self,
        s: &Arc<Session>,
        body: &Element,
    ) -> Result<Element, CoreError> {
        let raw = body
            .child_text("UserID")
            .filter(|u| !u.is_empty())
            .ok_or_else(|| CoreError::BadParameter("PresenceAuth-User without UserID".into()))?;
        let watcher = self.base.canonical_party(raw)?;
        let accept = body
            .child_bool("Acceptance")
            .ok_or_else(|| CoreError::BadParameter("Acceptance must be T or F".into()))?;
        let named = AttrSet::from_request(body.child("PresenceSubList"))?;
        let cell = self.owner_cell(&s.user).await?;
        let mut st = cell.lock().await;
        let requested = st
            .rare
            .reactive
            .get(&watcher)
            .and_then(|r| r.attrs.as_deref().map(AttrSet::from_names));
        let view = self.list_view(&s.user, &st.grants).await;
        let current = st.grants.effective(&watcher, &view).unwrap_or_default();
        let (grant, state) = if accept {
            let add = named.unwrap_or_else(|| {
                requested
                    .unwrap_or_else(AttrSet::all)
                    .intersect(AttrSet::all_but_location())
            });
            (current.union(add), ReactiveState::Granted)
        } else {
            (AttrSet::EMPTY, ReactiveState::Denied)
        };
        let change = AuthChange {
            put_grants: vec![GrantRecord {
                subject: GrantSubject::User(watcher.clone()),
                attrs: grant.names(),
            }],
            put_reactive: vec![ReactiveRecord {
                watcher: watcher.clone(),
                state,
                attrs: requested.map(AttrSet::names),
                updated_ms: self.base.now_ms(),
            }],
            ..AuthChange::default()
        };
        self.change_auth(&s.user, &mut st, change).await?;
        Ok(ok_status())
    }

    /// CancelAuth-Request{UserID, PresenceSubList?}: the owner withdraws the
    /// attributes named (all when none) from a user.
    pub(crate) async fn cancel_auth(
        &self,
        s: &Arc<Session>,
        body: &Element,
    ) -> Result<Element, CoreError> {
        let t = Targets::parse(body);
        if t.users.is_empty() {
            return Err(CoreError::BadParameter(
                "CancelAuth-Request without UserID".into(),
            ));
        }
        let named = AttrSet::from_request(body.child("PresenceSubList"))?;
        let cell = self.owner_cell(&s.user).await?;
        let mut st = cell.lock().await;
        let view = self.list_view(&s.user, &st.grants).await;
        let mut change = AuthChange::default();
        for raw in &t.users {
            let watcher = self.base.canonical_party(raw)?;
            let current = st.grants.effective(&watcher, &view).unwrap_or_default();
            let left = named.map_or(AttrSet::EMPTY, |n| current.minus(n));
            change.put_grants.push(GrantRecord {
                subject: GrantSubject::User(watcher.clone()),
                attrs: left.names(),
            });
            if let Some(r) = st.rare.reactive.get(&watcher) {
                change.put_reactive.push(ReactiveRecord {
                    state: ReactiveState::Denied,
                    updated_ms: self.base.now_ms(),
                    ..r.clone()
                });
            }
        }
        self.change_auth(&s.user, &mut st, change).await?;
        Ok(ok_status())
    }

    /// GetReactiveAuthStatus-Request (1.2): where the requests to this
    /// owner stand, for the users named or for all.
    pub(crate) async fn get_reactive_auth_status(
        &self,
        s: &Arc<Session>,
        body: &Element,
    ) -> Result<Element, CoreError> {
        let t = Targets::parse(body);
        let only: Vec<String> = t
            .users
            .iter()
            .filter_map(|u| self.base.canonical_party(u).ok())
            .collect();
        let cell = self.owner_cell(&s.user).await?;
        let st = cell.lock().await;
        let mut recs: Vec<&ReactiveRecord> = st
            .rare
            .reactive
            .values()
            .filter(|r| only.is_empty() || only.contains(&r.watcher))
            .collect();
        recs.sort_by(|a, b| a.watcher.cmp(&b.watcher));
        let mut list = Element::new("ReactiveAuthStatusList");
        for r in recs {
            list.children.push(
                Element::new("ReactiveAuthStatus")
                    .with_text("UserID", wire_user(&r.watcher, &self.base.cfg.domain))
                    .with_text("ReactiveAuthState", r.state.as_str()),
            );
        }
        drop(st);
        let resp = Element::new("GetReactiveAuthStatus-Response")
            .with(ok_result())
            .with(list);
        // GEN-1 (authorization list): in parts for a small 1.3 client.
        self.lists.segment_reply(
            s,
            resp,
            &[&["ReactiveAuthStatusList", "ReactiveAuthStatus"]],
        )
    }
}
