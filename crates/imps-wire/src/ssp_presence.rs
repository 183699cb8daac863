//! The SSP presence and invitation primitives (issue 17, third step),
//! typed: `SubscribeRequest`, `UnsubscribeRequest`, `PresenceNotification`,
//! `GetPresenceRequest` / `GetPresenceResponse`, `InviteRequest`,
//! `InviteResponse` and `CancelInviteRequest`; the simple answers
//! (`SubscribeResponse`, `InviteResponse` to the request itself, …) are a
//! bare Status (see [`StatusResponse`]).
//!
//! The attributes travel as the CSP `PresenceSubList` they are (the PA
//! structure is shared with CSP), in the 1.3 form; the receiving server
//! turns them into each reader's version. IDs are read with or without
//! `wv:` and written `wv:user@domain`, as in [`crate::ssp`].

use crate::ssp::{MetaInfo, SspStatus, attr, normalize_id, parse_yes_no, yes_no};
use crate::{Element, WireError};

fn bad(what: impl Into<String>) -> WireError {
    WireError::Structure(format!("SSP: {}", what.into()))
}

fn id_of(e: &Element, name: &str) -> Result<String, WireError> {
    let raw = attr(e, name).ok_or_else(|| bad(format!("{} without {name}", e.name.as_str())))?;
    normalize_id(raw).ok_or_else(|| bad(format!("{name} {raw:?} is not a wv: ID")))
}

/// The `userID` of every child named `child` (`UserID`, `User`, …).
fn ids(e: &Element, child: &str) -> Result<Vec<String>, WireError> {
    e.children_named(child)
        .map(|u| id_of(u, "userID"))
        .collect()
}

fn with_ids(mut e: Element, child: &str, ids: &[String]) -> Element {
    for u in ids {
        e.children
            .push(Element::new(child).with_attr("userID", u.as_str()));
    }
    e
}

/// `AttributeList{PresenceSubList}`: the attributes asked for, as a CSP
/// `PresenceSubList` of empty attribute elements; `None` = all.
fn attribute_list(e: &Element) -> Option<Element> {
    e.child("AttributeList")
        .and_then(|a| a.child("PresenceSubList"))
        .cloned()
}

fn with_attribute_list(e: Element, list: Option<&Element>) -> Element {
    e.with_opt(list.map(|l| Element::new("AttributeList").with(l.clone())))
}

/// `SubscribeRequest`: a user of the sending domain subscribes to the
/// presence of users of the receiving one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeRequest {
    pub meta: MetaInfo,
    /// The owners, `wv:user@domain`.
    pub users: Vec<String>,
    /// The attributes wanted (`PresenceSubList`); `None` = all.
    pub attributes: Option<Element>,
}

impl SubscribeRequest {
    pub const NAME: &'static str = "SubscribeRequest";

    pub fn from_element(e: &Element) -> Result<SubscribeRequest, WireError> {
        Ok(SubscribeRequest {
            meta: MetaInfo::of(e)?,
            users: ids(e, "UserID")?,
            attributes: attribute_list(e),
        })
    }

    pub fn to_element(&self) -> Element {
        let e = with_ids(
            Element::new(Self::NAME).with(self.meta.to_element()),
            "UserID",
            &self.users,
        );
        with_attribute_list(e, self.attributes.as_ref())
    }
}

/// `UnsubscribeRequest`: the subscription of the acting user ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubscribeRequest {
    pub meta: MetaInfo,
    pub users: Vec<String>,
}

impl UnsubscribeRequest {
    pub const NAME: &'static str = "UnsubscribeRequest";

    pub fn from_element(e: &Element) -> Result<UnsubscribeRequest, WireError> {
        Ok(UnsubscribeRequest {
            meta: MetaInfo::of(e)?,
            users: ids(e, "UserID")?,
        })
    }

    pub fn to_element(&self) -> Element {
        with_ids(
            Element::new(Self::NAME).with(self.meta.to_element()),
            "UserID",
            &self.users,
        )
    }
}

/// `PresenceValue userID=`{PresenceSubList}: one owner's attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceValue {
    pub user_id: String,
    /// The CSP `PresenceSubList` (1.3 form).
    pub list: Element,
}

impl PresenceValue {
    pub fn from_element(e: &Element) -> Result<PresenceValue, WireError> {
        Ok(PresenceValue {
            user_id: id_of(e, "userID")?,
            list: e
                .child("PresenceSubList")
                .cloned()
                .unwrap_or_else(|| Element::new("PresenceSubList")),
        })
    }

    pub fn to_element(&self) -> Element {
        Element::new("PresenceValue")
            .with_attr("userID", self.user_id.as_str())
            .with(self.list.clone())
    }
}

fn values(e: &Element) -> Result<Vec<PresenceValue>, WireError> {
    e.children_named("PresenceValue")
        .map(PresenceValue::from_element)
        .collect()
}

/// `PresenceNotification`: the owner's server pushes presence to watchers
/// of the receiving domain (`User`* = the watchers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceNotification {
    pub meta: MetaInfo,
    pub watchers: Vec<String>,
    pub values: Vec<PresenceValue>,
}

impl PresenceNotification {
    pub const NAME: &'static str = "PresenceNotification";

    pub fn from_element(e: &Element) -> Result<PresenceNotification, WireError> {
        Ok(PresenceNotification {
            meta: MetaInfo::of(e)?,
            watchers: ids(e, "User")?,
            values: values(e)?,
        })
    }

    pub fn to_element(&self) -> Element {
        let mut e = with_ids(
            Element::new(Self::NAME).with(self.meta.to_element()),
            "User",
            &self.watchers,
        );
        e.children
            .extend(self.values.iter().map(PresenceValue::to_element));
        e
    }
}

/// `GetPresenceRequest`: a user of the sending domain reads presence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetPresenceRequest {
    pub meta: MetaInfo,
    /// The owners (`VerUserID userID=`).
    pub users: Vec<String>,
    pub attributes: Option<Element>,
}

impl GetPresenceRequest {
    pub const NAME: &'static str = "GetPresenceRequest";

    pub fn from_element(e: &Element) -> Result<GetPresenceRequest, WireError> {
        let mut users = ids(e, "VerUserID")?;
        users.extend(ids(e, "UserID")?);
        Ok(GetPresenceRequest {
            meta: MetaInfo::of(e)?,
            users,
            attributes: attribute_list(e),
        })
    }

    pub fn to_element(&self) -> Element {
        let e = with_ids(
            Element::new(Self::NAME).with(self.meta.to_element()),
            "VerUserID",
            &self.users,
        );
        with_attribute_list(e, self.attributes.as_ref())
    }
}

/// `GetPresenceResponse`{Status, PresenceValue*}. A missing Status reads
/// as 200 (the public implementation writes none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetPresenceResponse {
    pub status: SspStatus,
    pub values: Vec<PresenceValue>,
}

impl GetPresenceResponse {
    pub const NAME: &'static str = "GetPresenceResponse";

    pub fn from_element(e: &Element) -> Result<GetPresenceResponse, WireError> {
        Ok(GetPresenceResponse {
            status: status_or_ok(e)?,
            values: values(e)?,
        })
    }

    pub fn to_element(&self) -> Element {
        let mut e = Element::new(Self::NAME).with(self.status.to_element());
        e.children
            .extend(self.values.iter().map(PresenceValue::to_element));
        e
    }
}

fn status_or_ok(e: &Element) -> Result<SspStatus, WireError> {
    Ok(e.child("Status")
        .map(SspStatus::from_element)
        .transpose()?
        .unwrap_or_else(SspStatus::ok))
}

/// Any response that carries only a Status (`SubscribeResponse`,
/// `UnsubscribeResponse`, the answer to an `InviteRequest`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusResponse {
    pub status: SspStatus,
}

impl StatusResponse {
    pub fn from_element(e: &Element) -> Result<StatusResponse, WireError> {
        Ok(StatusResponse {
            status: status_or_ok(e)?,
        })
    }
}

fn user_in(e: &Element, name: &str) -> Result<String, WireError> {
    let w = e
        .child(name)
        .ok_or_else(|| bad(format!("{} without {name}", e.name.as_str())))?;
    let u = w
        .child("User")
        .ok_or_else(|| bad(format!("{name} without User")))?;
    id_of(u, "userID")
}

fn wrap_user(name: &str, id: &str) -> Element {
    Element::new(name).with(Element::new("User").with_attr("userID", id))
}

fn text_child(e: &Element, name: &str) -> Option<String> {
    e.child(name)
        .map(|n| n.text.clone())
        .filter(|t| !t.is_empty())
}

/// `InviteRequest inviteID= inviteType= validity=`: a user of the sending
/// domain invites one user of the receiving one (one transaction per
/// invitee).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteRequest {
    pub meta: MetaInfo,
    pub invite_id: String,
    /// `IM`, `GR`, `PR`, `SC`, … as in CSP's InviteType.
    pub invite_type: String,
    pub validity: Option<u64>,
    pub inviting: String,
    pub invited: String,
    pub group_id: Option<String>,
    /// The attributes offered (`PR`), as a CSP `PresenceSubList`.
    pub attributes: Option<Element>,
    pub note: Option<String>,
    pub screen_name: Option<String>,
}

impl InviteRequest {
    pub const NAME: &'static str = "InviteRequest";

    pub fn from_element(e: &Element) -> Result<InviteRequest, WireError> {
        let invite_id = attr(e, "inviteID")
            .map(str::trim)
            .filter(|i| !i.is_empty())
            .ok_or_else(|| bad("InviteRequest without inviteID"))?
            .to_string();
        let validity = attr(e, "validity")
            .map(|v| v.trim().parse().map_err(|_| bad(format!("validity {v:?}"))))
            .transpose()?;
        Ok(InviteRequest {
            meta: MetaInfo::of(e)?,
            invite_id,
            invite_type: attr(e, "inviteType").unwrap_or("IM").trim().to_string(),
            validity,
            inviting: user_in(e, "Inviting")?,
            invited: user_in(e, "Invited")?,
            group_id: e
                .child("GroupID")
                .and_then(|g| attr(g, "groupID"))
                .map(str::to_string),
            attributes: attribute_list(e),
            note: text_child(e, "InviteNote"),
            screen_name: text_child(e, "ScreenName"),
        })
    }

    pub fn to_element(&self) -> Element {
        let mut e = Element::new(Self::NAME)
            .with_attr("inviteID", self.invite_id.as_str())
            .with_attr("inviteType", self.invite_type.as_str());
        if let Some(v) = self.validity {
            e.set_attr("validity", v.to_string());
        }
        let e = e
            .with(self.meta.to_element())
            .with(wrap_user("Inviting", &self.inviting))
            .with(wrap_user("Invited", &self.invited))
            .with_opt(
                self.group_id
                    .as_deref()
                    .map(|g| Element::new("GroupID").with_attr("groupID", g)),
            );
        with_attribute_list(e, self.attributes.as_ref())
            .with_opt(self.note.as_deref().map(|n| Element::text("InviteNote", n)))
            .with_opt(
                self.screen_name
                    .as_deref()
                    .map(|n| Element::text("ScreenName", n)),
            )
    }
}

/// `InviteResponse inviteID= acceptance=`: the invited user's answer,
/// sent by their server to the inviter's. `Responding` is the user who
/// answers, `Inviting` the inviter (the reference's bug 2, decided).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteAnswer {
    pub meta: MetaInfo,
    pub invite_id: String,
    pub acceptance: bool,
    pub inviting: String,
    pub responding: String,
    pub note: Option<String>,
    pub screen_name: Option<String>,
}

impl InviteAnswer {
    /// The element's name: the reference's `InviteResponse`, sent as a
    /// Request-mode transaction of its own.
    pub const NAME: &'static str = "InviteResponse";

    pub fn from_element(e: &Element) -> Result<InviteAnswer, WireError> {
        let acceptance = attr(e, "acceptance")
            .and_then(parse_yes_no)
            .ok_or_else(|| bad("InviteResponse without acceptance"))?;
        Ok(InviteAnswer {
            meta: MetaInfo::of(e)?,
            invite_id: attr(e, "inviteID")
                .map(str::trim)
                .filter(|i| !i.is_empty())
                .ok_or_else(|| bad("InviteResponse without inviteID"))?
                .to_string(),
            acceptance,
            inviting: user_in(e, "Inviting")?,
            responding: user_in(e, "Responding")?,
            note: text_child(e, "ResponseNote"),
            screen_name: text_child(e, "ScreenName"),
        })
    }

    pub fn to_element(&self) -> Element {
        let status = if self.acceptance {
            SspStatus::ok()
        } else {
            SspStatus {
                code: 404,
                description: Some("Invitation declined".into()),
                details: Vec::new(),
            }
        };
        Element::new(Self::NAME)
            .with_attr("inviteID", self.invite_id.as_str())
            .with_attr("acceptance", yes_no(self.acceptance))
            .with(self.meta.to_element())
            .with(status.to_element())
            .with(wrap_user("Inviting", &self.inviting))
            .with(wrap_user("Responding", &self.responding))
            .with_opt(
                self.note
                    .as_deref()
                    .map(|n| Element::text("ResponseNote", n)),
            )
            .with_opt(
                self.screen_name
                    .as_deref()
                    .map(|n| Element::text("ScreenName", n)),
            )
    }
}

/// `CancelInviteRequest inviteID=`: the inviter takes an invitation back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelInviteRequest {
    pub meta: MetaInfo,
    pub invite_id: String,
    pub canceling: String,
    pub canceled: String,
    pub note: Option<String>,
}

impl CancelInviteRequest {
    pub const NAME: &'static str = "CancelInviteRequest";

    pub fn from_element(e: &Element) -> Result<CancelInviteRequest, WireError> {
        Ok(CancelInviteRequest {
            meta: MetaInfo::of(e)?,
            invite_id: attr(e, "inviteID")
                .map(str::trim)
                .filter(|i| !i.is_empty())
                .ok_or_else(|| bad("CancelInviteRequest without inviteID"))?
                .to_string(),
            canceling: user_in(e, "Canceling")?,
            canceled: user_in(e, "Canceled")?,
            note: text_child(e, "CancelNote"),
        })
    }

    pub fn to_element(&self) -> Element {
        Element::new(Self::NAME)
            .with_attr("inviteID", self.invite_id.as_str())
            .with(self.meta.to_element())
            .with(wrap_user("Canceling", &self.canceling))
            .with(wrap_user("Canceled", &self.canceled))
            .with_opt(self.note.as_deref().map(|n| Element::text("CancelNote", n)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::ssp::SspUser;

    fn meta() -> MetaInfo {
        MetaInfo {
            client_originated: true,
            service_id: "wv:@a.example".into(),
            user: Some(SspUser {
                user_id: "wv:alice@a.example".into(),
                friendly_name: None,
                client_id: None,
            }),
        }
    }

    #[test]
    fn presence_primitives_round_trip() {
        let list = Element::new("PresenceSubList").with(Element::new("StatusText"));
        let s = SubscribeRequest {
            meta: meta(),
            users: vec!["wv:bob@b.example".into()],
            attributes: Some(list.clone()),
        };
        assert_eq!(SubscribeRequest::from_element(&s.to_element()).unwrap(), s);
        let g = GetPresenceRequest {
            meta: meta(),
            users: vec!["wv:bob@b.example".into()],
            attributes: None,
        };
        assert_eq!(
            GetPresenceRequest::from_element(&g.to_element()).unwrap(),
            g
        );
        let n = PresenceNotification {
            meta: MetaInfo {
                client_originated: false,
                service_id: "wv:@b.example".into(),
                user: None,
            },
            watchers: vec!["wv:alice@a.example".into()],
            values: vec![PresenceValue {
                user_id: "wv:bob@b.example".into(),
                list,
            }],
        };
        assert_eq!(
            PresenceNotification::from_element(&n.to_element()).unwrap(),
            n
        );
        // No Status reads as 200 (the reference's bug 4).
        let r = GetPresenceResponse::from_element(&Element::new("GetPresenceResponse")).unwrap();
        assert_eq!(r.status.code, 200);
    }

    #[test]
    fn invitation_primitives_round_trip() {
        let i = InviteRequest {
            meta: meta(),
            invite_id: "inv-1".into(),
            invite_type: "IM".into(),
            validity: Some(600),
            inviting: "wv:alice@a.example".into(),
            invited: "wv:bob@b.example".into(),
            group_id: None,
            attributes: None,
            note: Some("talk?".into()),
            screen_name: None,
        };
        assert_eq!(InviteRequest::from_element(&i.to_element()).unwrap(), i);
        let a = InviteAnswer {
            meta: meta(),
            invite_id: "inv-1".into(),
            acceptance: false,
            inviting: "wv:alice@a.example".into(),
            responding: "wv:bob@b.example".into(),
            note: Some("no".into()),
            screen_name: None,
        };
        assert_eq!(InviteAnswer::from_element(&a.to_element()).unwrap(), a);
        let c = CancelInviteRequest {
            meta: meta(),
            invite_id: "inv-1".into(),
            canceling: "wv:alice@a.example".into(),
            canceled: "wv:bob@b.example".into(),
            note: None,
        };
        assert_eq!(
            CancelInviteRequest::from_element(&c.to_element()).unwrap(),
            c
        );
    }
}
