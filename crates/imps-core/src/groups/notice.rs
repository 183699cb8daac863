//! Joined-user lists on the wire, GroupChangeNotice, SubscribeGroupNotice.
//!
//! The list of joined users has three shapes: 1.1 `UserList{ScreenName*}`,
//! 1.2 `UserMapList{Mapping*}`, 1.3 `UserMapList{UserMapping{Mapping*}}`.
//! The 1.2 shape is not the one the 1.2 schema names (which wraps the
//! mappings in `UserMapping`): the Android engine, the 1.2 client seen in
//! the field, reads the children of `UserMapList` as mappings and fails
//! the join on the wrapper. We write what it reads, in every 1.2 answer.
//!
//! A mapping carries the UserID only when the user lets it be seen (own
//! property ShowID = T) or in a private conversation, whose participants
//! were all invited by ID; otherwise only the screen name (Android then
//! uses the screen name as the ID).

use super::GroupsService;
use std::sync::Arc;

use imps_wire::element::bool_str;
use imps_wire::{Element, Version};

use super::ids::{screen_name, user_elem};
use crate::CoreError;
use crate::session::Session;
use crate::store::{GroupRecord, JoinedUser};
use crate::users::wire_user;

/// `Mapping{SName, UserID?}` for one joined user.
pub(crate) fn mapping(g: &GroupRecord, j: &JoinedUser, domain: &str) -> Element {
    let show = g.private || j.show_id;
    Element::new("Mapping")
        .with_text("SName", j.sname.clone())
        .with_opt(show.then(|| Element::text("UserID", wire_user(&j.user, domain))))
}

/// `UserMapList` in the shape of `version` (see the module doc).
pub(crate) fn user_map_list(version: Version, mappings: Vec<Element>) -> Element {
    let mut l = Element::new("UserMapList");
    if version >= Version::V1_3 {
        let mut m = Element::new("UserMapping");
        m.children = mappings;
        l = l.with(m);
    } else {
        l.children = mappings;
    }
    l
}

/// `UserList{ScreenName*}`, the 1.1 joined list and every version's
/// `Left` list.
pub(crate) fn screen_name_list(g: &GroupRecord, rows: &[JoinedUser]) -> Element {
    let mut l = Element::new("UserList");
    for j in rows {
        l = l.with(screen_name(&j.sname, &g.id));
    }
    l
}

/// The joined users as the version's list: 1.1 `UserList`, later
/// `UserMapList`.
pub(crate) fn joined_list(
    version: Version,
    g: &GroupRecord,
    rows: &[JoinedUser],
    domain: &str,
) -> Element {
    if version == Version::V1_1 {
        screen_name_list(g, rows)
    } else {
        user_map_list(
            version,
            rows.iter().map(|j| mapping(g, j, domain)).collect(),
        )
    }
}

/// `JoinedBlocked{UserList{User{UserID}*}}` (PGC-14).
pub(crate) fn joined_blocked(users: &[String], domain: &str) -> Element {
    let mut l = Element::new("UserList");
    for u in users {
        l = l.with(user_elem(u, domain));
    }
    Element::new("JoinedBlocked").with(l)
}

/// What changed in a group, for GroupChangeNotice.
#[derive(Default)]
pub(crate) struct Change {
    pub joined: Vec<JoinedUser>,
    pub left: Vec<JoinedUser>,
    pub props: Option<Element>,
}

impl GroupsService {
    /// Pushes a GroupChangeNotice to every joined user who subscribed (in a
    /// private conversation to every participant: PGC-5), except
    /// `exclude`. In a private conversation a participant who blocks one
    /// of the joiners is told so in `JoinedBlocked` (PGC-14).
    pub(crate) async fn notify_group(
        &self,
        g: &GroupRecord,
        change: &Change,
        exclude: Option<&str>,
    ) -> Result<(), CoreError> {
        let domain = &self.base.cfg.domain;
        let rows = self.base.store.joined(&g.id).await?;
        let mut by_version: [Option<Element>; 3] = [None, None, None];
        for r in &rows {
            if !(r.subscribed || g.private) || Some(r.user.as_str()) == exclude {
                continue;
            }
            // A row whose session is gone (it dropped out; the row waits
            // for cleanup) gets nothing: skip the block checks for it.
            if !self
                .base
                .router
                .reaches(&r.user, &mut |s| s.session_id == r.session_id)
            {
                continue;
            }
            let mut blocked = Vec::new();
            if g.private {
                for j in &change.joined {
                    if j.user != r.user && self.lists.blocks(&r.user, &j.user).await? {
                        blocked.push(j.user.clone());
                    }
                }
            }
            self.base.router.to_session_shaped(&r.session_id, &mut |s| {
                let v = s.version;
                let idx = match v {
                    Version::V1_1 => 0,
                    Version::V1_2 => 1,
                    Version::V1_3 => 2,
                };
                let mut body = by_version[idx]
                    .get_or_insert_with(|| notice_body(v, g, change, domain))
                    .clone();
                if !blocked.is_empty() {
                    body = body.with(joined_blocked(&blocked, domain));
                }
                vec![body]
            });
        }
        Ok(())
    }

    /// Tells subscribers what properties changed.
    pub(crate) async fn notify_props_changed(
        &self,
        g: &GroupRecord,
        changed: Element,
    ) -> Result<(), CoreError> {
        let change = Change {
            props: Some(changed),
            ..Change::default()
        };
        self.notify_group(g, &change, None).await
    }

    /// SubscribeGroupNotice-Request: G reads, S sets, U unsets the joined
    /// user's subscription; the answer carries the resulting Value.
    pub(crate) async fn subscribe_group_notice(
        &self,
        s: &Arc<Session>,
        body: &Element,
    ) -> Result<Element, CoreError> {
        let gid = self.group_id_of(body)?;
        let g = self.visible_group(&gid, &s.user).await?;
        let joined = self.base.store.joined(&g.id).await?;
        let me = joined
            .iter()
            .find(|j| j.user == s.user)
            .ok_or_else(|| CoreError::NotJoined(gid.clone()))?;
        let kind = body
            .child_text("SubscribeType")
            .unwrap_or("G")
            .to_ascii_uppercase();
        let value = match kind.as_str() {
            "G" => me.subscribed,
            "S" | "U" => {
                let on = kind == "S";
                self.base
                    .store
                    .set_joined_flags(&gid, &s.user, Some(on), None)
                    .await?;
                on
            }
            other => return Err(CoreError::BadParameter(format!("SubscribeType {other:?}"))),
        };
        Ok(Element::new("SubscribeGroupNotice-Response").with_text("Value", bool_str(value)))
    }
}

pub(crate) fn notice_body(v: Version, g: &GroupRecord, change: &Change, domain: &str) -> Element {
    let mut n = Element::new("GroupChangeNotice").with_text("GroupID", g.id.clone());
    if !change.joined.is_empty() {
        n = n.with(Element::new("Joined").with(joined_list(v, g, &change.joined, domain)));
    }
    if !change.left.is_empty() {
        n = n.with(Element::new("Left").with(screen_name_list(g, &change.left)));
    }
    n.with_opt(change.props.clone())
}
