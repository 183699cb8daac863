//! CSP 1.3 public profiles: `GetPublicProfile-Request`,
//! `GetPublicProfile-Response`, `UpdatePublicProfile-Request`, and the
//! `PublicProfile{UserID?, Property*}` they carry.
//!
//! These are 1.3 primitives: every element here has a 1.3 WBXML token
//! (`PublicProfile` and `ClearPublicProfile` have none before 1.3), so
//! like [`super::sysmsg`] these types ignore the version; only the
//! `Result` they carry looks at it.
//!
//! Decisions:
//!
//! * `Property{Name, Value}` needs both children (`Value` may be empty
//!   text); its unknown children are not kept. Property names
//!   (`PP_AGE`, `PP_CITY`, ...) are not checked here.
//! * [`PublicProfile::get`] matches names case-sensitively; the first
//!   property with the name wins.
//! * GetPublicProfile-Request: users are read from bare `UserID*` (the
//!   schema), from `UserIDList{UserID*}` and from `User{UserID}` (also
//!   Android's `User{Property{Name UserID, Value ..}}`), and written as
//!   bare `UserID*`. Other children of those wrappers are not kept.
//! * GetPublicProfile-Response: `Result` is read when present and written
//!   when set (the schema has it, but it is not required here, as in
//!   GetPresence-Response).
//! * UpdatePublicProfile-Request: `ClearPublicProfile` is a T/F boolean;
//!   both children are optional.

use super::presence::selector_user;
use super::{Builder, CspResult, boolean, expect_kind, expect_name, primitive, required, text};
use crate::{Element, PrimitiveKind, Version, WireError};

/// `Property{Name, Value}`: one named value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Property {
    pub name: String,
    pub value: String,
}

impl Property {
    pub const NAME: &'static str = "Property";

    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Property {
        Property {
            name: name.into(),
            value: value.into(),
        }
    }

    pub fn from_element(e: &Element, _v: Version) -> Result<Property, WireError> {
        expect_name(e, Self::NAME)?;
        let mut name = None;
        let mut value = None;
        for c in &e.children {
            match c.name.as_str() {
                "Name" if name.is_none() => name = Some(text(c)?),
                "Value" if value.is_none() => value = Some(text(c)?),
                _ => {}
            }
        }
        Ok(Property {
            name: required(name, e, "Name")?,
            value: required(value, e, "Value")?,
        })
    }

    pub fn to_element(&self, _v: Version) -> Element {
        Builder::new(Self::NAME)
            .text("Name", &self.name)
            .text("Value", &self.value)
            .finish(&[])
    }
}

/// `PublicProfile{UserID?, Property*}`: whose profile (absent in an
/// update, which is the sender's own), and its properties.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PublicProfile {
    pub user_id: Option<String>,
    pub properties: Vec<Property>,
    pub other: Vec<Element>,
}

impl PublicProfile {
    pub const NAME: &'static str = "PublicProfile";

    /// The value of the first property named `name` (case-sensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.value.as_str())
    }

    pub fn from_element(e: &Element, v: Version) -> Result<PublicProfile, WireError> {
        expect_name(e, Self::NAME)?;
        let mut r = PublicProfile::default();
        for c in &e.children {
            match c.name.as_str() {
                "UserID" if r.user_id.is_none() => r.user_id = Some(text(c)?),
                Property::NAME => r.properties.push(Property::from_element(c, v)?),
                _ => r.other.push(c.clone()),
            }
        }
        Ok(r)
    }

    pub fn to_element(&self, v: Version) -> Element {
        Builder::new(Self::NAME)
            .opt_text("UserID", self.user_id.as_deref())
            .children(self.properties.iter().map(|p| p.to_element(v)))
            .finish(&self.other)
    }
}

/// `GetPublicProfile-Request{UserID*}`: whose profiles.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GetPublicProfileRequest {
    pub user_ids: Vec<String>,
    pub other: Vec<Element>,
}

impl GetPublicProfileRequest {
    pub fn from_element(e: &Element, _v: Version) -> Result<GetPublicProfileRequest, WireError> {
        expect_kind(e, PrimitiveKind::GetPublicProfileRequest)?;
        let mut r = GetPublicProfileRequest::default();
        for c in &e.children {
            match c.name.as_str() {
                "UserID" => r.user_ids.push(text(c)?),
                "UserIDList" => {
                    for id in c.children_named("UserID") {
                        r.user_ids.push(text(id)?);
                    }
                }
                "User" => r.user_ids.push(selector_user(c)?),
                _ => r.other.push(c.clone()),
            }
        }
        Ok(r)
    }

    pub fn to_element(&self, _v: Version) -> Element {
        Builder::new(PrimitiveKind::GetPublicProfileRequest.name())
            .texts("UserID", &self.user_ids)
            .finish(&self.other)
    }
}
primitive!(GetPublicProfileRequest);

/// `GetPublicProfile-Response{Result?, PublicProfile*}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GetPublicProfileResponse {
    pub result: Option<CspResult>,
    pub profiles: Vec<PublicProfile>,
    pub other: Vec<Element>,
}

impl GetPublicProfileResponse {
    pub fn from_element(e: &Element, v: Version) -> Result<GetPublicProfileResponse, WireError> {
        expect_kind(e, PrimitiveKind::GetPublicProfileResponse)?;
        let mut r = GetPublicProfileResponse::default();
        for c in &e.children {
            match c.name.as_str() {
                CspResult::NAME if r.result.is_none() => {
                    r.result = Some(CspResult::from_element(c, v)?);
                }
                PublicProfile::NAME => r.profiles.push(PublicProfile::from_element(c, v)?),
                _ => r.other.push(c.clone()),
            }
        }
        Ok(r)
    }

    pub fn to_element(&self, v: Version) -> Element {
        Builder::new(PrimitiveKind::GetPublicProfileResponse.name())
            .opt_child(self.result.as_ref().map(|r| r.to_element(v)))
            .children(self.profiles.iter().map(|p| p.to_element(v)))
            .finish(&self.other)
    }
}
primitive!(GetPublicProfileResponse);

/// `UpdatePublicProfile-Request{ClearPublicProfile?, PublicProfile?}`:
/// the sender's own profile; `ClearPublicProfile` T empties it first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UpdatePublicProfileRequest {
    pub clear: Option<bool>,
    pub profile: Option<PublicProfile>,
    pub other: Vec<Element>,
}

impl UpdatePublicProfileRequest {
    pub fn from_element(e: &Element, v: Version) -> Result<UpdatePublicProfileRequest, WireError> {
        expect_kind(e, PrimitiveKind::UpdatePublicProfileRequest)?;
        let mut r = UpdatePublicProfileRequest::default();
        for c in &e.children {
            match c.name.as_str() {
                "ClearPublicProfile" if r.clear.is_none() => r.clear = Some(boolean(c)?),
                PublicProfile::NAME if r.profile.is_none() => {
                    r.profile = Some(PublicProfile::from_element(c, v)?);
                }
                _ => r.other.push(c.clone()),
            }
        }
        Ok(r)
    }

    pub fn to_element(&self, v: Version) -> Element {
        Builder::new(PrimitiveKind::UpdatePublicProfileRequest.name())
            .boolean("ClearPublicProfile", self.clear)
            .opt_child(self.profile.as_ref().map(|p| p.to_element(v)))
            .finish(&self.other)
    }
}
primitive!(UpdatePublicProfileRequest);
