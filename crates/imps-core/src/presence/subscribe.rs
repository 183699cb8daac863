//! SubscribePresence and UnsubscribePresence (BASE-PRES).
//!
//! A subscription belongs to the subscribing user, not to one session:
//! every session of the watcher gets the notifications, and it lasts (in
//! the store) until that user unsubscribes. Subscribing to a contact list
//! subscribes to its members at that moment; AutoSubscribe is accepted
//! (we never answer 760) but members added later are not subscribed by
//! it. Right after subscribing the watcher gets one notification with the
//! current values of what they may see; an owner who has authorized the
//! watcher nothing at all is asked (see `reactive`).

use super::PresenceService;
use std::collections::HashSet;
use std::sync::Arc;

use imps_wire::Element;

use super::attributes::AttrSet;
use super::hot::Watch;
use super::notify::RenderCache;
use super::targets::{Targets, outcome_result};
use crate::CoreError;
use crate::session::Session;
use crate::store::SubscriptionRecord;

impl PresenceService {
    pub(crate) async fn subscribe_presence(
        &self,
        s: &Arc<Session>,
        body: &Element,
    ) -> Result<Element, CoreError> {
        let t = Targets::parse(body);
        if t.is_empty() {
            return Err(CoreError::BadParameter(
                "no User or ContactList to subscribe to".into(),
            ));
        }
        let asked = AttrSet::from_request(body.child("PresenceSubList"))?;
        let mut r = self.resolve_targets(&s.user, &t, true).await?;
        self.subscribe_users(&s.user, &r.users, asked).await?;
        // Users of peer domains: their home server decides (federation).
        let remote_ok = self
            .subscribe_remote(
                &s.user,
                &r.remote,
                body.child("PresenceSubList"),
                &mut r.failures,
            )
            .await?;
        Ok(crate::reply::status_with(outcome_result(
            &r.failures,
            !r.users.is_empty() || remote_ok,
        )))
    }

    /// Subscribes `watcher` (one of ours, or `user@domain` of a peer
    /// domain whose server asked) to the presence of our users `owners`:
    /// stored, then each owner's state updated, a reactive question raised
    /// where the owner authorized nothing, and the watcher told what they
    /// may see now.
    pub(crate) async fn subscribe_users(
        &self,
        watcher: &str,
        owners: &[String],
        asked: Option<AttrSet>,
    ) -> Result<(), CoreError> {
        if owners.is_empty() {
            return Ok(());
        }
        let attrs = asked.unwrap_or_else(AttrSet::all);
        let now = self.base.now_ms();
        // Durable first, all targets in one transaction.
        let recs = owners
            .iter()
            .map(|owner| SubscriptionRecord {
                owner: owner.clone(),
                watcher: watcher.to_string(),
                attrs: asked.map(AttrSet::names),
                active: true,
                updated_ms: now,
            })
            .collect();
        self.base.store.put_subscriptions(recs).await?;
        for owner in owners {
            self.tell_other_nodes(owner);
        }
        for owner in owners {
            let cell = self.owner_cell(owner).await?;
            let mut st = cell.lock().await;
            st.watchers.insert(
                watcher.to_string(),
                Watch {
                    attrs,
                    active: true,
                },
            );
            let view = self.list_view(owner, &st.grants).await;
            if owner != watcher
                && st.grants.effective(watcher, &view).is_none()
                && !st.rare.reactive.contains_key(watcher)
            {
                self.raise_reactive(owner, &mut st, watcher, asked).await?;
            }
            let mask = Self::visible_to(owner, &st, watcher, &view).intersect(attrs);
            let online = self.online_view(owner, st.invisible);
            let mut cache = RenderCache::default();
            self.push_presence(watcher, owner, &st, &online, mask, &mut cache);
            self.flush_remote(&mut cache).await;
        }
        Ok(())
    }

    pub(crate) async fn unsubscribe_presence(
        &self,
        s: &Arc<Session>,
        body: &Element,
    ) -> Result<Element, CoreError> {
        let t = Targets::parse(body);
        if t.is_empty() {
            return Err(CoreError::BadParameter(
                "no User or ContactList to unsubscribe from".into(),
            ));
        }
        let mut r = self.resolve_targets(&s.user, &t, true).await?;
        self.unsubscribe_users(&s.user, &r.users).await?;
        let remote_ok = self
            .unsubscribe_remote(&s.user, &r.remote, &mut r.failures)
            .await?;
        Ok(crate::reply::status_with(outcome_result(
            &r.failures,
            !r.users.is_empty() || remote_ok,
        )))
    }

    /// Ends the subscriptions of `watcher` to our users `owners` (those
    /// that exist; the others are left alone).
    pub(crate) async fn unsubscribe_users(
        &self,
        watcher: &str,
        owners: &[String],
    ) -> Result<(), CoreError> {
        if owners.is_empty() {
            return Ok(());
        }
        let current: HashSet<String> = self
            .base
            .store
            .subscriptions_of(watcher)
            .await?
            .into_iter()
            .filter(|x| x.active)
            .map(|x| x.owner)
            .collect();
        let now = self.base.now_ms();
        let ended: Vec<SubscriptionRecord> = owners
            .iter()
            .filter(|o| current.contains(*o))
            .map(|owner| SubscriptionRecord {
                owner: owner.clone(),
                watcher: watcher.to_string(),
                attrs: None,
                active: false,
                updated_ms: now,
            })
            .collect();
        self.base.store.put_subscriptions(ended.clone()).await?;
        for rec in &ended {
            self.tell_other_nodes(&rec.owner);
        }
        for rec in &ended {
            let cell = self.owner_cell(&rec.owner).await?;
            let mut st = cell.lock().await;
            st.watchers.insert(
                watcher.to_string(),
                Watch {
                    attrs: AttrSet::all(),
                    active: false,
                },
            );
        }
        Ok(())
    }
}
