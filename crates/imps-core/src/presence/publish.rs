//! UpdatePresence and GetPresence (BASE-PRES), and OnlineStatus following
//! the sessions (SYM-13).
//!
//! OnlineStatus is the server's: a user is online while one of their
//! sessions is ready (service negotiated, or a first service request from
//! a client that skips negotiation) and offline when the last one ends.
//! A client's OnlineStatus F makes the user appear offline until it sends
//! T or its last session ends; a client's T never shows a user online
//! without a ready session.

use super::PresenceService;
use std::sync::Arc;

use imps_wire::Element;

use super::attributes::{Attr, AttrSet, Update, render};
use super::hot::OwnerState;
use super::notify::presence_elem;
use super::targets::{Targets, outcome_result};
use crate::CoreError;
use crate::reply::ok_status;
use crate::session::Session;
use crate::users::wire_user;

impl PresenceService {
    /// UpdatePresence-Request{PresenceSubList}: validates every attribute
    /// first (750 unknown, 751 no Qualifier), stores the result in one
    /// write, then tells the watchers what changed.
    pub(crate) async fn update_presence(
        &self,
        s: &Arc<Session>,
        body: &Element,
    ) -> Result<Element, CoreError> {
        let list = body.child("PresenceSubList").ok_or_else(|| {
            CoreError::BadParameter("UpdatePresence-Request without PresenceSubList".into())
        })?;
        let up = Update::parse(list)?;
        let cell = self.owner_cell(&s.user).await?;
        let mut st = cell.lock().await;
        let mut doc = st.doc.clone();
        let mut changed = doc.apply(&up);
        if !changed.is_empty() {
            self.base
                .store
                .put_presence_doc(&s.user, doc.encode(), self.base.now_ms())
                .await?;
            self.tell_other_nodes(&s.user);
            st.doc = doc;
        }
        if let Some(v) = up.online {
            st.invisible = !v;
        }
        if self.sync_online(&s.user, &mut st) {
            changed.insert(Attr::OnlineStatus);
        }
        self.fan_out(&s.user, &st, changed).await;
        Ok(ok_status())
    }

    /// Whether OnlineStatus differs from what watchers were last told;
    /// records the new value as told.
    fn sync_online(&self, user: &str, st: &mut OwnerState) -> bool {
        let now = self.online_view(user, st.invisible);
        if now == st.announced {
            return false;
        }
        st.announced = now;
        true
    }

    /// GetPresence-Request: for each user named or in a contact list
    /// named, `Presence{UserID, PresenceSubList}` with only what the
    /// requester may see (maybe nothing: an empty PresenceSubList), narrowed
    /// to the attributes asked for.
    pub(crate) async fn get_presence(
        &self,
        s: &Arc<Session>,
        body: &Element,
    ) -> Result<Element, CoreError> {
        let t = Targets::parse(body);
        if t.is_empty() {
            return Err(CoreError::BadParameter(
                "no User or ContactList to get presence of".into(),
            ));
        }
        let wanted =
            AttrSet::from_request(body.child("PresenceSubList"))?.unwrap_or_else(AttrSet::all);
        let mut r = self.resolve_targets(&s.user, &t, true).await?;
        let mut presences = Vec::with_capacity(r.users.len() + r.remote.len());
        for owner in &r.users {
            let cell = self.owner_cell(owner).await?;
            let mut st = cell.lock().await;
            let view = self.list_view(owner, &st.grants).await;
            let mask = Self::visible_to(owner, &st, &s.user, &view).intersect(wanted);
            let online = self.online_view(owner, st.invisible);
            presences.push(presence_elem(
                &wire_user(owner, &self.base.cfg.domain),
                render(&st.doc, &online, s.version, mask, AttrSet::EMPTY),
            ));
            let subscribed = st.watchers.get(&s.user).is_some_and(|w| w.active);
            if *owner != s.user
                && !subscribed
                && st.rare.accessed.len() < self.base.cfg.presence.max_access_memory
            {
                st.rare.accessed.insert(s.user.clone());
            }
        }
        // Users of peer domains: asked of their home servers, which
        // decide what the requester may see.
        let remote = self
            .get_presence_remote(
                &s.user,
                s.version,
                &r.remote,
                body.child("PresenceSubList"),
                &mut r.failures,
            )
            .await?;
        let any = !r.users.is_empty() || !remote.is_empty();
        presences.extend(remote);
        let mut resp = Element::new("GetPresence-Response").with(outcome_result(&r.failures, any));
        resp.children.extend(presences);
        // GEN-1 (presence updates): a small 1.3 client gets it in parts,
        // one or more users' Presence per part.
        self.lists.segment_reply(s, resp, &[&["Presence"]])
    }

    /// Whether `watcher` may learn that `owner` is online (PRI-1): they
    /// may see the owner's OnlineStatus and the owner does not appear
    /// offline. IM asks before it answers a message aimed at one client.
    pub(crate) async fn may_see_online(
        &self,
        owner: &str,
        watcher: &str,
    ) -> Result<bool, CoreError> {
        if owner == watcher {
            return Ok(true);
        }
        let cell = self.owner_cell(owner).await?;
        let st = cell.lock().await;
        if st.invisible {
            return Ok(false);
        }
        let view = self.list_view(owner, &st.grants).await;
        Ok(Self::visible_to(owner, &st, watcher, &view).contains(Attr::OnlineStatus))
    }

    /// A session became ready: its user may now show online, and questions
    /// waiting for this owner (reactive requests) are asked on it.
    pub(crate) async fn presence_online(&self, s: &Arc<Session>) -> Result<(), CoreError> {
        let cell = self.owner_cell(&s.user).await?;
        let mut st = cell.lock().await;
        if self.sync_online(&s.user, &mut st) {
            self.fan_out(&s.user, &st, AttrSet::only(Attr::OnlineStatus))
                .await;
        }
        for r in st.rare.reactive.values() {
            if r.state == crate::store::ReactiveState::Pending {
                self.ask_owner(&s.id, r);
            }
        }
        Ok(())
    }

    /// A session ended: when it was the user's last, they go offline and
    /// any "appear offline" wish ends with it.
    pub(crate) async fn presence_offline(&self, s: &Arc<Session>) -> Result<(), CoreError> {
        let cell = self.owner_cell(&s.user).await?;
        let mut st = cell.lock().await;
        if self.base.sessions.of_user(&s.user).is_empty() {
            st.invisible = false;
        }
        if self.sync_online(&s.user, &mut st) {
            self.fan_out(&s.user, &st, AttrSet::only(Attr::OnlineStatus))
                .await;
        }
        Ok(())
    }

    /// Cluster: sessions of `user` on a dead node were ended by this one.
    /// That node told the watchers she was online and cannot say
    /// otherwise; this node's entry may never have shown her online at
    /// all, so watchers are told her OnlineStatus as it is now, whatever
    /// this node told them before (once, by the one node that ended the
    /// sessions).
    pub(crate) async fn presence_gone_with_node(&self, user: &str) {
        let cell = match self.owner_cell(user).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(user, error = %e, "could not show the user offline after their node died");
                return;
            }
        };
        let mut st = cell.lock().await;
        if self.base.sessions.of_user(user).is_empty() {
            st.invisible = false;
        }
        st.announced = self.online_view(user, st.invisible);
        self.fan_out(user, &st, AttrSet::only(Attr::OnlineStatus))
            .await;
    }
}
