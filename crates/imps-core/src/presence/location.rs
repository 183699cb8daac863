//! A user's GeoLocation for GetMap by UserID (PRR-4): only when the
//! requester may see it, by the same rules as GetPresence (location is
//! granted only where an attribute list names it, PRR-UC); and who sees a
//! location once it is published, for the privacy advice (SYM-UC).

use super::PresenceService;
use imps_wire::Element;

use std::collections::HashSet;

use super::attributes::{Attr, AttrSet};
use crate::CoreError;

impl PresenceService {
    /// The latest published GeoLocation of `owner` that `requester` may
    /// see. Not authorized is 403 whether or not there is a location, so
    /// nothing about it leaks; authorized without a location is 404.
    pub(crate) async fn geolocation_for(
        &self,
        requester: &str,
        owner: &str,
    ) -> Result<Element, CoreError> {
        let cell = self.owner_cell(owner).await?;
        let mut st = cell.lock().await;
        let view = self.list_view(owner, &st.grants).await;
        if !Self::visible_to(owner, &st, requester, &view).contains(Attr::GeoLocation) {
            return Err(CoreError::Forbidden(
                "not authorized to see this user's location".into(),
            ));
        }
        // A Qualifier F instance says "no value".
        let geo = st
            .doc
            .instances
            .iter()
            .rev()
            .find(|i| i.attr == Attr::GeoLocation && i.elem.child_bool("Qualifier") != Some(false))
            .map(|i| i.elem.clone())
            .ok_or_else(|| CoreError::NoLocation(owner.to_string()))?;
        // Looking at someone's location is looking at their presence (1.3
        // watcher lists show it as PRESENCE_ACCESS).
        let subscribed = st.watchers.get(requester).is_some_and(|w| w.active);
        if owner != requester
            && !subscribed
            && st.rare.accessed.len() < self.base.cfg.presence.max_access_memory
        {
            st.rare.accessed.insert(requester.to_string());
        }
        Ok(geo)
    }
}

/// Whether an UpdatePresence body sets a location attribute to a value
/// (clearing one, or a Qualifier F, shares nothing).
pub(crate) fn publishes_location(body: &Element) -> bool {
    body.child("PresenceSubList").is_some_and(|l| {
        l.children.iter().any(|c| {
            Attr::from_name(&c.name).is_some_and(Attr::is_location)
                && c.child_bool("Qualifier") == Some(true)
        })
    })
}

impl PresenceService {
    /// How many other users may now see a location attribute `owner` has
    /// published: users named in a grant and members of granted contact
    /// lists, not blocked (SYM-UC privacy advice). A DefaultList grant of
    /// location counts the users the other grants name, since "everyone"
    /// has its own advice.
    pub(crate) async fn location_reach(&self, owner: &str) -> Result<usize, CoreError> {
        let cell = self.owner_cell(owner).await?;
        let st = cell.lock().await;
        let published = st
            .doc
            .instances
            .iter()
            .filter(|i| i.attr.is_location() && i.elem.child_bool("Qualifier") != Some(false))
            .fold(AttrSet::EMPTY, |mut set, i| {
                set.insert(i.attr);
                set
            });
        if published.is_empty() {
            return Ok(0);
        }
        let view = self.list_view(owner, &st.grants).await;
        let mut candidates: HashSet<&str> = st.grants.users.keys().map(String::as_str).collect();
        candidates.extend(view.all_members());
        let reach = candidates
            .into_iter()
            .filter(|w| *w != owner)
            .filter(|w| {
                !Self::visible_to(owner, &st, w, &view)
                    .intersect(published)
                    .is_empty()
            })
            .count();
        Ok(reach)
    }
}
