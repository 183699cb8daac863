//! A user's GeoLocation for GetMap by UserID (PRR-4): only when the
//! requester may see it, by the same rules as GetPresence (location is
//! granted only where an attribute list names it, PRR-UC).

use super::PresenceService;
use imps_wire::Element;

use super::attributes::Attr;
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
            && st.accessed.len() < self.base.cfg.presence.max_access_memory
        {
            st.accessed.insert(requester.to_string());
        }
        Ok(geo)
    }
}
