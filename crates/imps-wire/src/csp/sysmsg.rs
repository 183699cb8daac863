//! CSP 1.3 system messages (issue 15): `SystemMessage-Request` (server to
//! client), `SystemMessage-User` (the client's answer), and the two lists
//! they carry, which also travel in a login: `SystemMessageList` in the
//! `Result` of a Login-Response, `SystemMessageResponseList` in a second
//! Login-Request.
//!
//! The structures are the 1.3 ones; every element here has a 1.3 WBXML
//! token and none has one before 1.3, so these types ignore the version
//! (the places that carry them gate it: `Result` and `Login-Request`).
//!
//! Decisions (see also `docs/protocol.md`, "System messages"):
//!
//! * Required: `SystemMessageID` and `SystemMessageText` in a
//!   `SystemMessage`; `AnswerOptionID` and `AnswerOptionText` in an
//!   `AnswerOption`; `SystemMessageID` in a `SystemMessageResponse`.
//!   `ChosenOptionID` is optional: a message without options can still be
//!   acknowledged.
//! * `AnswerOption`s are read from inside `AnswerOptions` (one or more
//!   wrappers) and also bare in the `SystemMessage`; they are written in
//!   one `AnswerOptions`, left out when there are none. Unknown children
//!   inside the wrapper are not kept.
//! * The Android 1.3 token table also names an `AnswerOptionsText` (page
//!   0x0B); it is read as `AnswerOptionText` and never written.
//! * `SystemMessage-Request` and `SystemMessage-User` need their list, but
//!   a `SystemMessage` / `SystemMessageResponse` sent bare in the primitive
//!   is read as a member of it (written inside the list).
//! * `VerificationMechanism` holds `InText` or `URL`; both are read if
//!   both come, and written in that order.
//! * `RequiresResponse` is per message (not per option); absent means no
//!   answer is required.

use super::{Builder, boolean, expect_kind, expect_name, number, primitive, required, text};
use crate::{Element, PrimitiveKind, Version, WireError};

/// `AnswerOption{AnswerOptionID, AnswerOptionText}`: one choice offered
/// with a system message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AnswerOption {
    pub id: u64,
    pub text: String,
    pub other: Vec<Element>,
}

impl AnswerOption {
    pub const NAME: &'static str = "AnswerOption";

    pub fn new(id: u64, text: impl Into<String>) -> AnswerOption {
        AnswerOption {
            id,
            text: text.into(),
            other: Vec::new(),
        }
    }

    pub fn from_element(e: &Element, _v: Version) -> Result<AnswerOption, WireError> {
        expect_name(e, Self::NAME)?;
        let mut id = None;
        let mut option_text = None;
        let mut other = Vec::new();
        for c in &e.children {
            match c.name.as_str() {
                "AnswerOptionID" if id.is_none() => id = Some(number(c)?),
                "AnswerOptionText" | "AnswerOptionsText" if option_text.is_none() => {
                    option_text = Some(text(c)?);
                }
                _ => other.push(c.clone()),
            }
        }
        Ok(AnswerOption {
            id: required(id, e, "AnswerOptionID")?,
            text: required(option_text, e, "AnswerOptionText")?,
            other,
        })
    }

    pub fn to_element(&self, _v: Version) -> Element {
        Builder::new(Self::NAME)
            .number("AnswerOptionID", Some(self.id))
            .text("AnswerOptionText", &self.text)
            .finish(&self.other)
    }
}

/// `VerificationMechanism{InText | URL}`: how the user proves having read
/// the message (the key to send back is in the text, or behind a URL).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VerificationMechanism {
    pub in_text: Option<String>,
    pub url: Option<String>,
    pub other: Vec<Element>,
}

impl VerificationMechanism {
    pub const NAME: &'static str = "VerificationMechanism";

    pub fn from_element(e: &Element, _v: Version) -> Result<VerificationMechanism, WireError> {
        expect_name(e, Self::NAME)?;
        let mut r = VerificationMechanism::default();
        for c in &e.children {
            match c.name.as_str() {
                "InText" if r.in_text.is_none() => r.in_text = Some(text(c)?),
                "URL" if r.url.is_none() => r.url = Some(text(c)?),
                _ => r.other.push(c.clone()),
            }
        }
        Ok(r)
    }

    pub fn to_element(&self, _v: Version) -> Element {
        Builder::new(Self::NAME)
            .opt_text("InText", self.in_text.as_deref())
            .opt_text("URL", self.url.as_deref())
            .finish(&self.other)
    }
}

/// `SystemMessage{SystemMessageID, RequiresResponse?, SystemMessageText,
/// AnswerOptions?{AnswerOption*}, VerificationMechanism?}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SystemMessage {
    /// Chosen by the server; the answer names it.
    pub id: String,
    pub requires_response: Option<bool>,
    pub text: String,
    /// Written inside one `AnswerOptions`, which is left out when empty.
    pub answer_options: Vec<AnswerOption>,
    pub verification: Option<VerificationMechanism>,
    pub other: Vec<Element>,
}

impl SystemMessage {
    pub const NAME: &'static str = "SystemMessage";

    /// A message with this ID and text, no options, no answer required.
    pub fn new(id: impl Into<String>, text: impl Into<String>) -> SystemMessage {
        SystemMessage {
            id: id.into(),
            text: text.into(),
            ..SystemMessage::default()
        }
    }

    /// True when the message says the client must answer it.
    pub fn response_required(&self) -> bool {
        self.requires_response == Some(true)
    }

    /// The option with this ID.
    pub fn option(&self, id: u64) -> Option<&AnswerOption> {
        self.answer_options.iter().find(|o| o.id == id)
    }

    pub fn from_element(e: &Element, v: Version) -> Result<SystemMessage, WireError> {
        expect_name(e, Self::NAME)?;
        let mut r = SystemMessage::default();
        let mut id = None;
        let mut message_text = None;
        for c in &e.children {
            match c.name.as_str() {
                "SystemMessageID" if id.is_none() => id = Some(text(c)?),
                "RequiresResponse" if r.requires_response.is_none() => {
                    r.requires_response = Some(boolean(c)?);
                }
                "SystemMessageText" if message_text.is_none() => message_text = Some(text(c)?),
                "AnswerOptions" => {
                    for o in c.children_named(AnswerOption::NAME) {
                        r.answer_options.push(AnswerOption::from_element(o, v)?);
                    }
                }
                "AnswerOption" => r.answer_options.push(AnswerOption::from_element(c, v)?),
                "VerificationMechanism" if r.verification.is_none() => {
                    r.verification = Some(VerificationMechanism::from_element(c, v)?);
                }
                _ => r.other.push(c.clone()),
            }
        }
        r.id = required(id, e, "SystemMessageID")?;
        r.text = required(message_text, e, "SystemMessageText")?;
        Ok(r)
    }

    pub fn to_element(&self, v: Version) -> Element {
        let options = (!self.answer_options.is_empty()).then(|| {
            Builder::new("AnswerOptions")
                .children(self.answer_options.iter().map(|o| o.to_element(v)))
                .finish(&[])
        });
        Builder::new(Self::NAME)
            .text("SystemMessageID", &self.id)
            .boolean("RequiresResponse", self.requires_response)
            .text("SystemMessageText", &self.text)
            .opt_child(options)
            .opt_child(self.verification.as_ref().map(|m| m.to_element(v)))
            .finish(&self.other)
    }
}

/// `SystemMessageList{SystemMessage*}`: in SystemMessage-Request, and in
/// the `Result` of a 1.3 Login-Response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SystemMessageList {
    pub messages: Vec<SystemMessage>,
    pub other: Vec<Element>,
}

impl SystemMessageList {
    pub const NAME: &'static str = "SystemMessageList";

    pub fn new(messages: Vec<SystemMessage>) -> SystemMessageList {
        SystemMessageList {
            messages,
            other: Vec::new(),
        }
    }

    pub fn from_element(e: &Element, v: Version) -> Result<SystemMessageList, WireError> {
        expect_name(e, Self::NAME)?;
        let mut r = SystemMessageList::default();
        for c in &e.children {
            match c.name.as_str() {
                "SystemMessage" => r.messages.push(SystemMessage::from_element(c, v)?),
                _ => r.other.push(c.clone()),
            }
        }
        Ok(r)
    }

    pub fn to_element(&self, v: Version) -> Element {
        Builder::new(Self::NAME)
            .children(self.messages.iter().map(|m| m.to_element(v)))
            .finish(&self.other)
    }
}

/// `SystemMessageResponse{SystemMessageID, ChosenOptionID?,
/// VerificationKey?}`: the answer to one system message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SystemMessageResponse {
    pub id: String,
    /// Missing when the message offered no options (an acknowledgement).
    pub chosen_option_id: Option<u64>,
    pub verification_key: Option<String>,
    pub other: Vec<Element>,
}

impl SystemMessageResponse {
    pub const NAME: &'static str = "SystemMessageResponse";

    /// The answer to message `id`, choosing option `chosen` if any.
    pub fn new(id: impl Into<String>, chosen: Option<u64>) -> SystemMessageResponse {
        SystemMessageResponse {
            id: id.into(),
            chosen_option_id: chosen,
            ..SystemMessageResponse::default()
        }
    }

    pub fn from_element(e: &Element, _v: Version) -> Result<SystemMessageResponse, WireError> {
        expect_name(e, Self::NAME)?;
        let mut r = SystemMessageResponse::default();
        let mut id = None;
        for c in &e.children {
            match c.name.as_str() {
                "SystemMessageID" if id.is_none() => id = Some(text(c)?),
                "ChosenOptionID" if r.chosen_option_id.is_none() => {
                    r.chosen_option_id = Some(number(c)?);
                }
                "VerificationKey" if r.verification_key.is_none() => {
                    r.verification_key = Some(text(c)?);
                }
                _ => r.other.push(c.clone()),
            }
        }
        r.id = required(id, e, "SystemMessageID")?;
        Ok(r)
    }

    pub fn to_element(&self, _v: Version) -> Element {
        Builder::new(Self::NAME)
            .text("SystemMessageID", &self.id)
            .number("ChosenOptionID", self.chosen_option_id)
            .opt_text("VerificationKey", self.verification_key.as_deref())
            .finish(&self.other)
    }
}

/// `SystemMessageResponseList{SystemMessageResponse*}`: in
/// SystemMessage-User, and in a 1.3 Login-Request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SystemMessageResponseList {
    pub responses: Vec<SystemMessageResponse>,
    pub other: Vec<Element>,
}

impl SystemMessageResponseList {
    pub const NAME: &'static str = "SystemMessageResponseList";

    pub fn new(responses: Vec<SystemMessageResponse>) -> SystemMessageResponseList {
        SystemMessageResponseList {
            responses,
            other: Vec::new(),
        }
    }

    pub fn from_element(e: &Element, v: Version) -> Result<SystemMessageResponseList, WireError> {
        expect_name(e, Self::NAME)?;
        let mut r = SystemMessageResponseList::default();
        for c in &e.children {
            match c.name.as_str() {
                "SystemMessageResponse" => {
                    r.responses.push(SystemMessageResponse::from_element(c, v)?);
                }
                _ => r.other.push(c.clone()),
            }
        }
        Ok(r)
    }

    pub fn to_element(&self, v: Version) -> Element {
        Builder::new(Self::NAME)
            .children(self.responses.iter().map(|r| r.to_element(v)))
            .finish(&self.other)
    }
}

/// `SystemMessage-Request{SystemMessageList}`: the server pushes system
/// messages to a logged-in client. The client answers with `Status`, and
/// answers the messages themselves with `SystemMessage-User`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SystemMessageRequest {
    pub system_message_list: SystemMessageList,
    pub other: Vec<Element>,
}

impl SystemMessageRequest {
    pub fn from_element(e: &Element, v: Version) -> Result<SystemMessageRequest, WireError> {
        expect_kind(e, PrimitiveKind::SystemMessageRequest)?;
        let mut list: Option<SystemMessageList> = None;
        let mut bare = Vec::new();
        let mut other = Vec::new();
        for c in &e.children {
            match c.name.as_str() {
                "SystemMessageList" if list.is_none() => {
                    list = Some(SystemMessageList::from_element(c, v)?);
                }
                "SystemMessage" => bare.push(SystemMessage::from_element(c, v)?),
                _ => other.push(c.clone()),
            }
        }
        if list.is_none() && !bare.is_empty() {
            list = Some(SystemMessageList::default());
        }
        let mut system_message_list = required(list, e, "SystemMessageList")?;
        system_message_list.messages.extend(bare);
        Ok(SystemMessageRequest {
            system_message_list,
            other,
        })
    }

    pub fn to_element(&self, v: Version) -> Element {
        Builder::new(PrimitiveKind::SystemMessageRequest.name())
            .child(self.system_message_list.to_element(v))
            .finish(&self.other)
    }
}
primitive!(SystemMessageRequest);

/// `SystemMessage-User{SystemMessageResponseList}`: the client answers
/// system messages inside a session (before login completes, the answers
/// travel in the next Login-Request instead).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SystemMessageUser {
    pub system_message_response_list: SystemMessageResponseList,
    pub other: Vec<Element>,
}

impl SystemMessageUser {
    pub fn from_element(e: &Element, v: Version) -> Result<SystemMessageUser, WireError> {
        expect_kind(e, PrimitiveKind::SystemMessageUser)?;
        let mut list: Option<SystemMessageResponseList> = None;
        let mut bare = Vec::new();
        let mut other = Vec::new();
        for c in &e.children {
            match c.name.as_str() {
                "SystemMessageResponseList" if list.is_none() => {
                    list = Some(SystemMessageResponseList::from_element(c, v)?);
                }
                "SystemMessageResponse" => bare.push(SystemMessageResponse::from_element(c, v)?),
                _ => other.push(c.clone()),
            }
        }
        if list.is_none() && !bare.is_empty() {
            list = Some(SystemMessageResponseList::default());
        }
        let mut system_message_response_list = required(list, e, "SystemMessageResponseList")?;
        system_message_response_list.responses.extend(bare);
        Ok(SystemMessageUser {
            system_message_response_list,
            other,
        })
    }

    pub fn to_element(&self, v: Version) -> Element {
        Builder::new(PrimitiveKind::SystemMessageUser.name())
            .child(self.system_message_response_list.to_element(v))
            .finish(&self.other)
    }
}
primitive!(SystemMessageUser);
