//! Joined-user lists on the wire, GroupChangeNotice, SubscribeGroupNotice.
//!
//! The list of joined users has three shapes ([`MemberLists`]): 1.1
//! `UserList{ScreenName*}`, the flat `UserMapList{Mapping*}`, and 1.3's
//! `UserMapList{UserMapping{Mapping*}}`. The flat shape is not one a schema
//! names (1.2's also wraps the mappings in `UserMapping`), but it is the
//! one the Android engine reads in every version: it takes the children of
//! `UserMapList` as mappings, finds nothing in the spec shapes, and throws
//! inside a GroupChangeNotice. Which session gets which shape is decided in
//! [`MemberLists::for_client`] (docs/protocol.md, issue 13).
//!
//! A mapping carries the UserID only when the user lets it be seen (own
//! property ShowID = T) or in a private conversation, whose participants
//! were all invited by ID; otherwise only the screen name (Android then
//! uses the screen name as the ID).

use super::GroupsService;
use std::sync::Arc;

use imps_wire::element::bool_str;
use imps_wire::{Element, Version};

use super::MemberListPolicy;
use super::ids::{screen_name, user_elem};
use crate::CoreError;
use crate::session::{ClientStyle, Session};
use crate::store::{GroupRecord, JoinedUser};
use crate::users::wire_user;

/// The shape of a joined-user list one session reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MemberLists {
    /// 1.1: `UserList{ScreenName*}`.
    ScreenNames,
    /// `UserMapList{Mapping*}`, directly under a JoinGroup-Response.
    Flat,
    /// 1.3: `UserMapList{UserMapping{Mapping*}}`, under `Joined`.
    Wrapped,
}

impl MemberLists {
    /// What the operator's policy gives a client of version `v`.
    pub(crate) fn for_client(policy: MemberListPolicy, v: Version, style: ClientStyle) -> Self {
        let spec = match v {
            Version::V1_1 => MemberLists::ScreenNames,
            Version::V1_2 | Version::V1_3 => MemberLists::Wrapped,
        };
        match policy {
            MemberListPolicy::Spec => spec,
            MemberListPolicy::Flat => MemberLists::Flat,
            // 1.2: the Android engine is the 1.2 client seen in the field.
            MemberListPolicy::Auto if v == Version::V1_2 || style.android_engine => {
                MemberLists::Flat
            }
            MemberListPolicy::Auto => spec,
        }
    }

    /// Index for caching one body per shape.
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl GroupsService {
    /// The shape session `s` reads.
    pub(crate) fn member_lists(&self, s: &Session) -> MemberLists {
        MemberLists::for_client(self.base.cfg.groups.member_lists, s.version, s.style())
    }

    /// The shape a router recipient reads.
    pub(crate) fn member_lists_for(&self, r: &crate::router::Recipient<'_>) -> MemberLists {
        MemberLists::for_client(self.base.cfg.groups.member_lists, r.version, r.style)
    }
}

/// `Mapping{SName, UserID?}` for one joined user.
pub(crate) fn mapping(g: &GroupRecord, j: &JoinedUser, domain: &str) -> Element {
    let show = g.private || j.show_id;
    Element::new("Mapping")
        .with_text("SName", j.sname.clone())
        .with_opt(show.then(|| Element::text("UserID", wire_user(&j.user, domain))))
}

/// `UserMapList` in `shape` (a 1.1 client asking for one gets it flat).
pub(crate) fn user_map_list(shape: MemberLists, mappings: Vec<Element>) -> Element {
    let mut l = Element::new("UserMapList");
    if shape == MemberLists::Wrapped {
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

/// The joined users as a list of `shape`.
pub(crate) fn joined_list(
    shape: MemberLists,
    g: &GroupRecord,
    rows: &[JoinedUser],
    domain: &str,
) -> Element {
    if shape == MemberLists::ScreenNames {
        screen_name_list(g, rows)
    } else {
        user_map_list(shape, rows.iter().map(|j| mapping(g, j, domain)).collect())
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
        let mut by_shape: [Option<Element>; 3] = [None, None, None];
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
                let shape = self.member_lists_for(s);
                let mut body = by_shape[shape.index()]
                    .get_or_insert_with(|| notice_body(shape, g, change, domain))
                    .clone();
                if !blocked.is_empty() {
                    body = body.with(joined_blocked(&blocked, domain));
                }
                vec![body]
            });
        }
        self.notify_remote(g, &rows, change, exclude).await;
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
                self.flags_joined(&gid, &s.user, Some(on), None).await?;
                on
            }
            other => return Err(CoreError::BadParameter(format!("SubscribeType {other:?}"))),
        };
        Ok(Element::new("SubscribeGroupNotice-Response").with_text("Value", bool_str(value)))
    }
}

pub(crate) fn notice_body(
    shape: MemberLists,
    g: &GroupRecord,
    change: &Change,
    domain: &str,
) -> Element {
    let mut n = Element::new("GroupChangeNotice").with_text("GroupID", g.id.clone());
    if !change.joined.is_empty() {
        n = n.with(Element::new("Joined").with(joined_list(shape, g, &change.joined, domain)));
    }
    if !change.left.is_empty() {
        n = n.with(Element::new("Left").with(screen_name_list(g, &change.left)));
    }
    n.with_opt(change.props.clone())
}
