//! Typed CSP primitives: structs for the session, IM, presence,
//! system-message, search and public-profile primitives a server handles
//! most, read from and written to the [`Element`] tree of a transaction
//! body.
//!
//! The tree stays the model of record (see `docs/architecture.md`); these
//! types are views a handler or a client can use when it wants fields
//! instead of lookups. Each one:
//!
//! * reads its children by name, in any order, and keeps every child it
//!   does not map in `other`, in document order;
//! * writes its mapped children in the schema order of the version, then
//!   `other`, so reading then writing a schema-ordered element gives the
//!   same element back;
//! * returns [`WireError::Structure`] for a missing required child, a
//!   mapped leaf that holds elements, or a number or boolean that does not
//!   parse. It never panics.
//!
//! Text fields keep their text exactly as sent (not trimmed), so values
//! survive a round trip; callers trim identifiers where they compare them.
//! Numbers and booleans are trimmed before parsing. Attributes on mapped
//! leaf elements are not kept.
//!
//! # Decisions where versions or clients differ
//!
//! * **Children a version does not define at that place** are not mapped
//!   when reading that version: they stay in `other`, so they are kept
//!   and written back as they came. A field the version does not define
//!   is not written. 1.3 only: `ApplicationID` (Login-Request, User),
//!   `FriendlyName` (User), `ContentName`, `Font`, `ExtBlockETEM`
//!   (MessageInfo), `SystemMessageList`, `TryAgainTimeout` (Result),
//!   `MessageTotalCount`, and in Login-Request `SystemMessageResponseList`,
//!   `Functions`, `CapabilityList`, in Login-Response `Functions`,
//!   `AgreedCapabilityList`. 1.2 and later: `Domain` in DetailedResult.
//!   1.1 only: `ClientID` in Service-Request and ClientCapability-Request
//!   (a 1.2 client that still sends it finds it in `other`).
//! * **User and contact-list selectors** (GetPresence-Request): read from
//!   `User{UserID}`, Android's `User{Property{Name UserID, Value ..}}`,
//!   bare `UserID`, `UserIDList{UserID*}`, `ContactList` and
//!   `ContactListIDList{ContactList*}` in any version (the 1.3 wrappers
//!   are another form of the same lists, not new data). Written as
//!   `UserIDList` / `ContactListIDList` for 1.3 and as `User{UserID}*` /
//!   `ContactList*` for 1.1 and 1.2. Children of a `User` selector other
//!   than `UserID` are not kept.
//! * **GetMessageList-Response**: read from `MessageInfoList{MessageInfo*}`
//!   or from bare `MessageInfo*`. Written with the `MessageInfoList`
//!   wrapper (even when empty) and `MessageTotalCount` for 1.3, as bare
//!   `MessageInfo*` for 1.1 and 1.2. Unknown children inside the wrapper
//!   are not kept.
//! * **ClientID** holding bare text instead of `URL`/`MSISDN` (seen from
//!   old clients) is read as its URL and written as `ClientID{URL}`. A
//!   ClientID with neither is an error.
//! * **User** in a Recipient or Sender may carry both `ApplicationID` and
//!   `ClientID` (the schema has one or the other); both are kept and
//!   written in that order.
//! * **Sender** holds one `User` or one `Group`; a second one is kept in
//!   `other`. So is a second `GroupID`/`ScreenName` in a `Group`.
//! * **Repeated singular children** (two `UserID`s in a Login-Request) are
//!   not an error: the first is mapped, the rest are kept in `other`.
//! * **Login-Request** needs a `ClientID` only: `UserID` may be missing
//!   (MSISDN login), and password versus digest is the handler's business.
//!   `DigestSchema` is a list (the client names every schema it supports).
//! * **Result** needs `Code` (Android crashes without it); so does every
//!   `DetailedResult`. Status, Disconnect, KeepAlive-Response,
//!   Login-Response and SendMessage-Response need their `Result`;
//!   GetPresence-Response does not.
//! * **Presence** needs `UserID` (`User{UserID}` is also read, and
//!   written back as `UserID`); `PresenceSubList` is a list (one per
//!   client in 1.3) and each stays an [`Element`]. The PA namespace is
//!   handled by the envelope, not here.
//! * **Booleans** are read as `T`/`F` (also `true`/`false`) and written as
//!   `T`/`F`.
//! * **System messages** (1.3, [`sysmsg`]): a Login-Response's
//!   `SystemMessageList` is read from inside its `Result` or, when the
//!   Result has none, from beside it, and is written inside the Result.
//!   The Login-Request's `SystemMessageResponseList` is a direct child.
//!   `AnswerOption`s are read with or without their `AnswerOptions`
//!   wrapper and written inside it; the other decisions are at the top
//!   of [`sysmsg`].
//! * **Search** ([`search`]): a `SearchPairList` is read with its pairs
//!   either inside `SearchPair` tags (1.3, Android's token table) or
//!   directly in the list (1.1/1.2 and a tagless 1.3 layout), several
//!   flat pairs grouped in document order (a `SearchElement` starts a new
//!   pair unless the open one still lacks it); a pair needs
//!   `SearchElement` and `SearchString`.
//!   Written for 1.3 as one `SearchPairList{SearchPair*}` (with `PairID`)
//!   plus `AdvancedCriteria`; for 1.1 and 1.2 as one
//!   `SearchPairList{SearchElement, SearchString}` per pair, without
//!   `PairID` or `AdvancedCriteria` (read into `other` there).
//!   Search-Response reads a `Result` when a server sends one (not in the
//!   schema) and never requires it. `SearchID` is text.
//! * **Public profiles** (1.3, [`profile`]): GetPublicProfile-Request
//!   reads bare `UserID`, `UserIDList` and `User` selectors and writes
//!   bare `UserID*`; `Property` needs `Name` and `Value`. The other
//!   decisions are at the top of [`profile`].

use crate::{Element, PrimitiveKind, Version, WireError};

pub mod common;
pub mod content_type;
pub mod digest;
pub mod im;
pub mod presence;
pub mod profile;
pub mod search;
pub mod session;
pub mod sysmsg;

pub use common::{
    ClientId, CspResult, DetailedResult, Group, GroupRef, Party, Recipient, ScreenName, Sender,
    User,
};
pub use im::{
    GetMessageListRequest, GetMessageListResponse, GetMessageRequest, GetMessageResponse,
    MessageDelivered, MessageInfo, MessageNotification, NewMessage, SendMessageRequest,
    SendMessageResponse,
};
pub use presence::{
    GetPresenceRequest, GetPresenceResponse, Presence, PresenceNotificationRequest,
    UpdatePresenceRequest,
};
pub use profile::{
    GetPublicProfileRequest, GetPublicProfileResponse, Property, PublicProfile,
    UpdatePublicProfileRequest,
};
pub use search::{
    FoundUser, SearchPair, SearchRequest, SearchResponse, SearchResult, StopSearchRequest,
};
pub use session::{
    ClientCapabilityRequest, Disconnect, KeepAliveRequest, KeepAliveResponse, LoginRequest,
    LoginResponse, LogoutRequest, PollingRequest, ServiceRequest, Status,
};
pub use sysmsg::{
    AnswerOption, SystemMessage, SystemMessageList, SystemMessageRequest, SystemMessageResponse,
    SystemMessageResponseList, SystemMessageUser, VerificationMechanism,
};

/// A typed transaction primitive. Every type here also has the same two
/// functions as inherent methods, so the trait is needed only for generic
/// code.
pub trait Primitive: Sized {
    /// The primitive this type reads and writes.
    const KIND: PrimitiveKind;

    /// Reads the primitive from its element (the body of a transaction).
    fn from_element(e: &Element, v: Version) -> Result<Self, WireError>;

    /// Writes the primitive for version `v`.
    fn to_element(&self, v: Version) -> Element;
}

/// Implements [`Primitive`] by delegating to the inherent functions.
macro_rules! primitive {
    ($ty:ident) => {
        impl $crate::csp::Primitive for $ty {
            const KIND: $crate::PrimitiveKind = $crate::PrimitiveKind::$ty;

            fn from_element(
                e: &$crate::Element,
                v: $crate::Version,
            ) -> Result<Self, $crate::WireError> {
                $ty::from_element(e, v)
            }

            fn to_element(&self, v: $crate::Version) -> $crate::Element {
                $ty::to_element(self, v)
            }
        }
    };
}
pub(crate) use primitive;

/// Longest piece of a bad value quoted in an error message.
const QUOTE_MAX: usize = 40;

fn quote(s: &str) -> String {
    let mut q: String = s.chars().take(QUOTE_MAX).collect();
    if q.len() < s.len() {
        q.push('…');
    }
    format!("{q:?}")
}

fn structure(msg: String) -> WireError {
    WireError::Structure(msg)
}

/// The element must be the primitive `kind` (or one of its older names).
pub(crate) fn expect_kind(e: &Element, kind: PrimitiveKind) -> Result<(), WireError> {
    if PrimitiveKind::from_name(&e.name) == Some(kind) {
        Ok(())
    } else {
        Err(structure(format!(
            "expected {}, found {}",
            kind.name(),
            quote(&e.name)
        )))
    }
}

/// The element must be named `name`.
pub(crate) fn expect_name(e: &Element, name: &str) -> Result<(), WireError> {
    if e.name == name {
        Ok(())
    } else {
        Err(structure(format!(
            "expected {name}, found {}",
            quote(&e.name)
        )))
    }
}

/// A required child that was not there.
pub(crate) fn required<T>(value: Option<T>, parent: &Element, child: &str) -> Result<T, WireError> {
    value.ok_or_else(|| structure(format!("{} has no {child}", parent.name)))
}

/// The text of a leaf, as written.
pub(crate) fn text(c: &Element) -> Result<String, WireError> {
    if c.children.is_empty() {
        Ok(c.text.clone())
    } else {
        Err(structure(format!(
            "{} holds elements where text is expected",
            c.name
        )))
    }
}

/// A decimal number leaf.
pub(crate) fn number(c: &Element) -> Result<u64, WireError> {
    let t = text(c)?;
    t.trim()
        .parse()
        .map_err(|_| structure(format!("{} is not a number: {}", c.name, quote(&t))))
}

/// A CSP boolean leaf.
pub(crate) fn boolean(c: &Element) -> Result<bool, WireError> {
    let t = text(c)?;
    crate::element::parse_bool(&t)
        .ok_or_else(|| structure(format!("{} is not T or F: {}", c.name, quote(&t))))
}

/// Builds an element child by child, in the order of the calls.
pub(crate) struct Builder(Element);

impl Builder {
    pub(crate) fn new(name: &str) -> Builder {
        Builder(Element::new(name))
    }

    pub(crate) fn text(mut self, name: &str, value: &str) -> Builder {
        self.0.children.push(Element::text(name, value));
        self
    }

    pub(crate) fn opt_text(self, name: &str, value: Option<&str>) -> Builder {
        match value {
            Some(t) => self.text(name, t),
            None => self,
        }
    }

    pub(crate) fn texts(mut self, name: &str, values: &[String]) -> Builder {
        for t in values {
            self.0.children.push(Element::text(name, t.as_str()));
        }
        self
    }

    pub(crate) fn number(self, name: &str, value: Option<u64>) -> Builder {
        match value {
            Some(n) => self.text(name, &n.to_string()),
            None => self,
        }
    }

    pub(crate) fn boolean(self, name: &str, value: Option<bool>) -> Builder {
        match value {
            Some(b) => self.text(name, crate::element::bool_str(b)),
            None => self,
        }
    }

    pub(crate) fn child(mut self, child: Element) -> Builder {
        self.0.children.push(child);
        self
    }

    pub(crate) fn opt_child(self, child: Option<Element>) -> Builder {
        match child {
            Some(c) => self.child(c),
            None => self,
        }
    }

    pub(crate) fn children(mut self, children: impl IntoIterator<Item = Element>) -> Builder {
        self.0.children.extend(children);
        self
    }

    /// Applies `f` only when `cond` holds (version-dependent children).
    pub(crate) fn when(self, cond: bool, f: impl FnOnce(Builder) -> Builder) -> Builder {
        if cond { f(self) } else { self }
    }

    /// Appends the unknown children and returns the element.
    pub(crate) fn finish(mut self, other: &[Element]) -> Element {
        self.0.children.extend(other.iter().cloned());
        self.0
    }
}

/// True for 1.3 and later.
pub(crate) fn is_v13(v: Version) -> bool {
    v >= Version::V1_3
}
