//! PresenceNotification-Request to watchers: the fan-out of one change,
//! rendered once per (version, visible attributes, size limit) and queued
//! on every session of each watcher. A session that negotiated a maximum
//! message size (CFG-1) gets the update in as many notifications as it
//! takes (GEN-1), each under its limit, never splitting one attribute's
//! instances, so it ends up with the whole picture.

use super::PresenceService;
use std::collections::HashMap;
use std::sync::Arc;

use imps_wire::csp::{Presence, PresenceNotificationRequest};
use imps_wire::{Element, Encoding, Message, SharedBody, Transaction, Version};

use super::attributes::{AttrSet, OnlineView, render};
use super::hot::OwnerState;
use crate::router::Recipient;
use crate::users::wire_user;

/// Room left for what the transport adds after we measure (the Poll flag,
/// a longer TransactionID).
const SIZE_MARGIN: usize = 64;

/// A server TransactionID as long as any we hand out in practice.
const TID_PLACEHOLDER: &str = "s4294967295";

/// Bodies already built in one fan-out, keyed by what decides their shape.
#[derive(Default)]
pub(crate) struct RenderCache {
    /// Shared by every session of that shape: queued without a copy and
    /// encoded once per encoding (`SharedBody`).
    bodies: HashMap<(Version, AttrSet, Option<u64>), Vec<Arc<SharedBody>>>,
    /// Attributes that changed: those without a value any more are
    /// reported as removed.
    cleared: AttrSet,
    /// Notifications for watchers of peer domains, (peer, primitive),
    /// queued by [`PresenceService::flush_remote`] once the fan-out is
    /// done.
    pub(crate) remote: Vec<(String, Element)>,
}

impl RenderCache {
    /// For telling watchers about a change: removals included.
    pub(crate) fn for_changes(changed: AttrSet) -> RenderCache {
        RenderCache {
            cleared: changed,
            ..RenderCache::default()
        }
    }
}

/// `Presence{UserID, PresenceSubList}`: both always present, Android
/// dereferences them without checking. The same shape in every version.
pub(crate) fn presence_elem(owner_wire: &str, list: Element) -> Element {
    Presence::new(owner_wire, list).to_element(Version::V1_3)
}

/// A PresenceNotification-Request carrying one owner's attributes.
pub(crate) fn notification(v: Version, owner_wire: &str, list: Element) -> Element {
    PresenceNotificationRequest {
        presences: vec![Presence::new(owner_wire, list)],
        other: Vec::new(),
    }
    .to_element(v)
}

/// Bytes of `body` sent to this session as a whole message, in XML (WBXML
/// is never larger, so this bounds both encodings).
fn message_len(s: &Recipient<'_>, body: &Element) -> usize {
    let mut m = Message::single(
        s.version,
        Some(s.session_id.to_string()),
        Transaction::request(TID_PLACEHOLDER, body.clone()),
    );
    m.poll = Some(true);
    imps_wire::encode(&m, Encoding::Xml).map_or(usize::MAX, |b| b.len()) + SIZE_MARGIN
}

/// One notification when it fits (or no limit was negotiated), else the
/// attributes packed greedily into as many as needed. An attribute alone
/// larger than the limit still goes, alone: losing it would leave the
/// client with a wrong picture, and no smaller form exists.
fn split(s: &Recipient<'_>, owner_wire: &str, list: Element, max: Option<u64>) -> Vec<Element> {
    let whole = notification(s.version, owner_wire, list.clone());
    let Some(max) = max.and_then(|m| usize::try_from(m).ok()) else {
        return vec![whole];
    };
    if message_len(s, &whole) <= max {
        return vec![whole];
    }
    // Group the instances of each attribute: they travel together.
    let mut groups: Vec<Vec<Element>> = Vec::new();
    for c in list.children {
        match groups.last_mut() {
            Some(g) if g.first().is_some_and(|f| f.name == c.name) => g.push(c),
            _ => groups.push(vec![c]),
        }
    }
    let mut out = Vec::new();
    let mut cur = Element::new("PresenceSubList");
    for g in groups {
        let mut next = cur.clone();
        next.children.extend(g.iter().cloned());
        let fits = message_len(s, &notification(s.version, owner_wire, next.clone())) <= max;
        if fits || cur.children.is_empty() {
            cur = next;
        } else {
            out.push(notification(
                s.version,
                owner_wire,
                std::mem::replace(&mut cur, Element::new("PresenceSubList")),
            ));
            cur.children.extend(g);
        }
    }
    if !cur.children.is_empty() {
        out.push(notification(s.version, owner_wire, cur));
    }
    out
}

impl PresenceService {
    /// Queues the attributes in `mask` of `owner` for every session of
    /// `watcher`. The caller decided that the watcher may see them.
    pub(crate) fn push_presence(
        &self,
        watcher: &str,
        owner: &str,
        st: &OwnerState,
        online: &OnlineView,
        mask: AttrSet,
        cache: &mut RenderCache,
    ) {
        if mask.is_empty() {
            return;
        }
        if let Some((_, peer)) = watcher.rsplit_once('@') {
            // A watcher of a peer domain: their server gets the 1.3 form
            // and shapes it for each of their sessions.
            let list = render(&st.doc, online, Version::V1_3, mask, cache.cleared);
            if !list.children.is_empty() {
                let n = self.remote_notification(watcher, owner, list);
                cache.remote.push((peer.to_string(), n));
            }
            return;
        }
        let cleared = cache.cleared;
        self.base.router.to_user_shared(watcher, &mut |s| {
            let max = s.max_message_size;
            let key = (s.version, mask, max);
            cache
                .bodies
                .entry(key)
                .or_insert_with(|| {
                    let list = render(&st.doc, online, s.version, mask, cleared);
                    if list.children.is_empty() {
                        return Vec::new();
                    }
                    // Written only for the first watcher of each shape.
                    let owner_wire = wire_user(owner, &self.base.cfg.domain);
                    split(s, &owner_wire, list, max)
                        .into_iter()
                        .map(|b| Arc::new(SharedBody::new(b)))
                        .collect()
                })
                .clone()
        });
    }

    /// Tells every subscribed watcher who may see something in `changed`
    /// the owner's whole presence as they may see it: every attribute they
    /// subscribed to and are allowed, not only what changed. Clients
    /// rebuild a contact's presence from each notification (a missing
    /// OnlineStatus reads as offline), so each one is a snapshot; removed
    /// attributes among `changed` come as Qualifier F. Rendered once per
    /// (version, visible set, size limit), not per watcher. One pass over
    /// the watchers, no store access besides the owner's contact lists
    /// when a grant names one.
    pub(crate) async fn fan_out(&self, owner: &str, st: &OwnerState, changed: AttrSet) -> usize {
        if changed.is_empty() || st.watchers.is_empty() {
            return 0;
        }
        let view = self.list_view(owner, &st.grants).await;
        let online = self.online_view(owner, st.invisible);
        let mut cache = RenderCache::for_changes(changed);
        let mut told = 0;
        for (watcher, w) in &st.watchers {
            if !w.active {
                continue;
            }
            let mask = Self::visible_to(owner, st, watcher, &view).intersect(w.attrs);
            if !mask.intersect(changed).is_empty() {
                self.push_presence(watcher, owner, st, &online, mask, &mut cache);
                told += 1;
            }
        }
        self.flush_remote(&mut cache).await;
        told
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn session(v: Version) -> Recipient<'static> {
        Recipient {
            session_id: "0123456789abcdef0123456789abcdef",
            user: "bob",
            client_key: "c",
            version: v,
            max_message_size: None,
            style: Default::default(),
            ready: true,
            language: None,
        }
    }

    #[test]
    fn split_keeps_every_attribute_and_each_part_fits() {
        let mut list = Element::new("PresenceSubList");
        for (i, name) in ["StatusText", "Alias", "StatusMood", "PreferredLanguage"]
            .iter()
            .enumerate()
        {
            list.children.push(
                Element::new(*name)
                    .with_text("Qualifier", "T")
                    .with_text("PresenceValue", "x".repeat(600 + i)),
            );
        }
        let s = session(Version::V1_2);
        let parts = split(&s, "wv:alice@localhost", list.clone(), Some(1500));
        assert!(parts.len() >= 3, "{}", parts.len());
        let mut names = Vec::new();
        for p in &parts {
            assert!(message_len(&s, p) <= 1500);
            let pl = p.path(&["Presence", "PresenceSubList"]).unwrap();
            assert_eq!(
                p.path(&["Presence", "UserID"]).unwrap().text,
                "wv:alice@localhost"
            );
            names.extend(pl.children.iter().map(|c| c.name.clone()));
        }
        assert_eq!(names.len(), 4);
        assert_eq!(split(&s, "wv:alice@localhost", list, None).len(), 1);
    }
}
