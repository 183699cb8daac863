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
        let attrs = asked.unwrap_or_else(AttrSet::all);
        let r = self.resolve_targets(&s.user, &t, true).await?;
        let now = self.base.now_ms();
        // Durable first, all targets in one transaction.
        let recs = r
            .users
            .iter()
            .map(|owner| SubscriptionRecord {
                owner: owner.clone(),
                watcher: s.user.clone(),
                attrs: asked.map(AttrSet::names),
                active: true,
                updated_ms: now,
            })
            .collect();
        self.base.store.put_subscriptions(recs).await?;
        for owner in &r.users {
            self.tell_other_nodes(owner);
        }
        for owner in &r.users {
            let cell = self.owner_cell(owner).await?;
            let mut st = cell.lock().await;
            st.watchers.insert(
                s.user.clone(),
                Watch {
                    attrs,
                    active: true,
                },
            );
            let view = self.list_view(owner, &st.grants).await;
            if *owner != s.user
                && st.grants.effective(&s.user, &view).is_none()
                && !st.reactive.contains_key(&s.user)
            {
                self.raise_reactive(owner, &mut st, &s.user, asked).await?;
            }
            let mask = Self::visible_to(owner, &st, &s.user, &view).intersect(attrs);
            let online = self.online_view(owner, st.invisible);
            self.push_presence(
                &s.user,
                owner,
                &st,
                &online,
                mask,
                &mut RenderCache::default(),
            );
        }
        Ok(crate::reply::status_with(outcome_result(
            &r.failures,
            !r.users.is_empty(),
        )))
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
        let r = self.resolve_targets(&s.user, &t, true).await?;
        let current: HashSet<String> = self
            .base
            .store
            .subscriptions_of(&s.user)
            .await?
            .into_iter()
            .filter(|x| x.active)
            .map(|x| x.owner)
            .collect();
        let now = self.base.now_ms();
        let ended: Vec<SubscriptionRecord> = r
            .users
            .iter()
            .filter(|o| current.contains(*o))
            .map(|owner| SubscriptionRecord {
                owner: owner.clone(),
                watcher: s.user.clone(),
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
                s.user.clone(),
                Watch {
                    attrs: AttrSet::all(),
                    active: false,
                },
            );
        }
        Ok(crate::reply::status_with(outcome_result(
            &r.failures,
            !r.users.is_empty(),
        )))
    }
}
