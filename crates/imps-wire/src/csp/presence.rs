//! Presence: `Presence` and the get, update and notify primitives.
//! Presence attributes stay an [`Element`] tree (`PresenceSubList`).

use super::{Builder, CspResult, expect_kind, expect_name, is_v13, primitive, required, text};
use crate::{Element, PrimitiveKind, Version, WireError};

const PRESENCE_SUB_LIST: &str = "PresenceSubList";

/// `Presence{UserID, PresenceSubList*}`: one user's attributes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Presence {
    pub user_id: String,
    /// Each is a `PresenceSubList` element, attributes inside as sent.
    pub presence_sub_lists: Vec<Element>,
    pub other: Vec<Element>,
}

impl Presence {
    pub const NAME: &'static str = "Presence";

    /// A user's presence with one attribute list.
    pub fn new(user_id: impl Into<String>, presence_sub_list: Element) -> Presence {
        Presence {
            user_id: user_id.into(),
            presence_sub_lists: vec![presence_sub_list],
            other: Vec::new(),
        }
    }

    /// Also reads `User{UserID}` in place of `UserID`; it is written back
    /// as `UserID`.
    pub fn from_element(e: &Element, _v: Version) -> Result<Presence, WireError> {
        expect_name(e, Self::NAME)?;
        let mut user_id = None;
        let mut r = Presence::default();
        for c in &e.children {
            match c.name.as_str() {
                "UserID" if user_id.is_none() => user_id = Some(text(c)?),
                "User" if user_id.is_none() => user_id = Some(selector_user(c)?),
                PRESENCE_SUB_LIST => r.presence_sub_lists.push(c.clone()),
                _ => r.other.push(c.clone()),
            }
        }
        r.user_id = required(user_id, e, "UserID")?;
        Ok(r)
    }

    pub fn to_element(&self, _v: Version) -> Element {
        Builder::new(Self::NAME)
            .text("UserID", &self.user_id)
            .children(self.presence_sub_lists.iter().cloned())
            .finish(&self.other)
    }
}

/// The user ID of a `User` selector: its `UserID`, or the
/// `Property{Name UserID, Value ...}` form Android sends in
/// UnsubscribePresence.
pub(super) fn selector_user(u: &Element) -> Result<String, WireError> {
    if let Some(id) = u.child("UserID") {
        return text(id);
    }
    u.children_named("Property")
        .find(|p| {
            p.child_text("Name")
                .is_some_and(|n| n.eq_ignore_ascii_case("UserID"))
        })
        .and_then(|p| p.child("Value"))
        .map(text)
        .unwrap_or_else(|| Err(WireError::Structure("User has no UserID".into())))
}

/// `UpdatePresence-Request{PresenceSubList}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UpdatePresenceRequest {
    pub presence_sub_list: Element,
    pub other: Vec<Element>,
}

impl UpdatePresenceRequest {
    pub fn from_element(e: &Element, _v: Version) -> Result<UpdatePresenceRequest, WireError> {
        expect_kind(e, PrimitiveKind::UpdatePresenceRequest)?;
        let mut list = None;
        let mut other = Vec::new();
        for c in &e.children {
            match c.name.as_str() {
                PRESENCE_SUB_LIST if list.is_none() => list = Some(c.clone()),
                _ => other.push(c.clone()),
            }
        }
        Ok(UpdatePresenceRequest {
            presence_sub_list: required(list, e, PRESENCE_SUB_LIST)?,
            other,
        })
    }

    pub fn to_element(&self, _v: Version) -> Element {
        Builder::new(PrimitiveKind::UpdatePresenceRequest.name())
            .child(self.presence_sub_list.clone())
            .finish(&self.other)
    }
}
primitive!(UpdatePresenceRequest);

/// `GetPresence-Request`: whose presence (users and contact lists), and
/// optionally which attributes. 1.1/1.2 name users as `User{UserID}*` and
/// lists as `ContactList*`; 1.3 wraps them in `UserIDList` and
/// `ContactListIDList`. Every form is read in every version.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GetPresenceRequest {
    pub user_ids: Vec<String>,
    pub contact_lists: Vec<String>,
    /// Attribute names as empty elements; none means all attributes.
    pub presence_sub_list: Option<Element>,
    pub other: Vec<Element>,
}

impl GetPresenceRequest {
    pub fn from_element(e: &Element, _v: Version) -> Result<GetPresenceRequest, WireError> {
        expect_kind(e, PrimitiveKind::GetPresenceRequest)?;
        let mut r = GetPresenceRequest::default();
        for c in &e.children {
            match c.name.as_str() {
                "User" => r.user_ids.push(selector_user(c)?),
                "UserID" => r.user_ids.push(text(c)?),
                "UserIDList" => {
                    for id in c.children_named("UserID") {
                        r.user_ids.push(text(id)?);
                    }
                }
                "ContactList" => r.contact_lists.push(text(c)?),
                "ContactListIDList" => {
                    for l in c.children_named("ContactList") {
                        r.contact_lists.push(text(l)?);
                    }
                }
                PRESENCE_SUB_LIST if r.presence_sub_list.is_none() => {
                    r.presence_sub_list = Some(c.clone());
                }
                _ => r.other.push(c.clone()),
            }
        }
        Ok(r)
    }

    pub fn to_element(&self, v: Version) -> Element {
        let b = Builder::new(PrimitiveKind::GetPresenceRequest.name());
        let b = if is_v13(v) {
            let users = (!self.user_ids.is_empty())
                .then(|| Builder::new("UserIDList").texts("UserID", &self.user_ids));
            let lists = (!self.contact_lists.is_empty()).then(|| {
                Builder::new("ContactListIDList").texts("ContactList", &self.contact_lists)
            });
            b.opt_child(users.map(|u| u.finish(&[])))
                .opt_child(lists.map(|l| l.finish(&[])))
        } else {
            b.children(
                self.user_ids
                    .iter()
                    .map(|id| Element::new("User").with_text("UserID", id.as_str())),
            )
            .texts("ContactList", &self.contact_lists)
        };
        b.opt_child(self.presence_sub_list.clone())
            .finish(&self.other)
    }
}
primitive!(GetPresenceRequest);

/// Reads `Presence*` and keeps the rest.
fn presences(
    e: &Element,
    v: Version,
    mut other: impl FnMut(&Element) -> Result<bool, WireError>,
) -> Result<(Vec<Presence>, Vec<Element>), WireError> {
    let mut list = Vec::new();
    let mut rest = Vec::new();
    for c in &e.children {
        if c.name == Presence::NAME {
            list.push(Presence::from_element(c, v)?);
        } else if !other(c)? {
            rest.push(c.clone());
        }
    }
    Ok((list, rest))
}

/// `GetPresence-Response{Result?, Presence*}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GetPresenceResponse {
    pub result: Option<CspResult>,
    pub presences: Vec<Presence>,
    pub other: Vec<Element>,
}

impl GetPresenceResponse {
    pub fn from_element(e: &Element, v: Version) -> Result<GetPresenceResponse, WireError> {
        expect_kind(e, PrimitiveKind::GetPresenceResponse)?;
        let mut result = None;
        let (presences, other) = presences(e, v, |c| {
            if c.name == CspResult::NAME && result.is_none() {
                result = Some(CspResult::from_element(c, v)?);
                Ok(true)
            } else {
                Ok(false)
            }
        })?;
        Ok(GetPresenceResponse {
            result,
            presences,
            other,
        })
    }

    pub fn to_element(&self, v: Version) -> Element {
        Builder::new(PrimitiveKind::GetPresenceResponse.name())
            .opt_child(self.result.as_ref().map(|r| r.to_element(v)))
            .children(self.presences.iter().map(|p| p.to_element(v)))
            .finish(&self.other)
    }
}
primitive!(GetPresenceResponse);

/// `PresenceNotification-Request{Presence*}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PresenceNotificationRequest {
    pub presences: Vec<Presence>,
    pub other: Vec<Element>,
}

impl PresenceNotificationRequest {
    pub fn from_element(e: &Element, v: Version) -> Result<PresenceNotificationRequest, WireError> {
        expect_kind(e, PrimitiveKind::PresenceNotificationRequest)?;
        let (presences, other) = presences(e, v, |_| Ok(false))?;
        Ok(PresenceNotificationRequest { presences, other })
    }

    pub fn to_element(&self, v: Version) -> Element {
        Builder::new(PrimitiveKind::PresenceNotificationRequest.name())
            .children(self.presences.iter().map(|p| p.to_element(v)))
            .finish(&self.other)
    }
}
primitive!(PresenceNotificationRequest);
