//! Instant messaging: `MessageInfo` and the send, push, notify/get and
//! list primitives.

use super::{
    Builder, CspResult, Recipient, Sender, boolean, expect_kind, expect_name, is_v13, number,
    primitive, required, text,
};
use crate::{Element, PrimitiveKind, Version, WireError};

/// `MessageInfo{MessageID?, MessageURI?, ContentType?, ContentEncoding?,
/// ContentSize?, ContentName? (1.3), Recipient?, Sender?, DateTime?,
/// Font? (1.3), Validity?, ExtBlockETEM* (1.3)}`.
///
/// Which children are needed depends on the primitive (a sent message has
/// no MessageID yet; a pushed one must have it), so none is required here.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageInfo {
    pub message_id: Option<String>,
    pub message_uri: Option<String>,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    /// As the client counted it (Android counts UTF-16 units).
    pub content_size: Option<u64>,
    /// 1.3.
    pub content_name: Option<String>,
    pub recipient: Option<Recipient>,
    pub sender: Option<Sender>,
    /// `yyyymmddThhmmss` with an optional zone letter, as sent.
    pub date_time: Option<String>,
    /// 1.3, kept as a tree.
    pub font: Option<Element>,
    /// Seconds.
    pub validity: Option<u64>,
    /// 1.3, kept as elements (they may carry a namespace).
    pub ext_block_etem: Vec<Element>,
    pub other: Vec<Element>,
}

impl MessageInfo {
    pub const NAME: &'static str = "MessageInfo";

    pub fn from_element(e: &Element, v: Version) -> Result<MessageInfo, WireError> {
        expect_name(e, Self::NAME)?;
        let v13 = is_v13(v);
        let mut r = MessageInfo::default();
        for c in &e.children {
            match c.name.as_str() {
                "MessageID" if r.message_id.is_none() => r.message_id = Some(text(c)?),
                "MessageURI" if r.message_uri.is_none() => r.message_uri = Some(text(c)?),
                "ContentType" if r.content_type.is_none() => r.content_type = Some(text(c)?),
                "ContentEncoding" if r.content_encoding.is_none() => {
                    r.content_encoding = Some(text(c)?);
                }
                "ContentSize" if r.content_size.is_none() => r.content_size = Some(number(c)?),
                "ContentName" if v13 && r.content_name.is_none() => r.content_name = Some(text(c)?),
                "Recipient" if r.recipient.is_none() => {
                    r.recipient = Some(Recipient::from_element(c, v)?);
                }
                "Sender" if r.sender.is_none() => r.sender = Some(Sender::from_element(c, v)?),
                "DateTime" if r.date_time.is_none() => r.date_time = Some(text(c)?),
                "Font" if v13 && r.font.is_none() => r.font = Some(c.clone()),
                "Validity" if r.validity.is_none() => r.validity = Some(number(c)?),
                "ExtBlockETEM" if v13 => r.ext_block_etem.push(c.clone()),
                _ => r.other.push(c.clone()),
            }
        }
        Ok(r)
    }

    pub fn to_element(&self, v: Version) -> Element {
        let v13 = is_v13(v);
        Builder::new(Self::NAME)
            .opt_text("MessageID", self.message_id.as_deref())
            .opt_text("MessageURI", self.message_uri.as_deref())
            .opt_text("ContentType", self.content_type.as_deref())
            .opt_text("ContentEncoding", self.content_encoding.as_deref())
            .number("ContentSize", self.content_size)
            .when(v13, |b| {
                b.opt_text("ContentName", self.content_name.as_deref())
            })
            .opt_child(self.recipient.as_ref().map(|r| r.to_element(v)))
            .opt_child(self.sender.as_ref().map(|s| s.to_element(v)))
            .opt_text("DateTime", self.date_time.as_deref())
            .when(v13, |b| b.opt_child(self.font.clone()))
            .number("Validity", self.validity)
            .when(v13, |b| b.children(self.ext_block_etem.iter().cloned()))
            .finish(&self.other)
    }
}

/// The children of a `{MessageInfo, ContentData?}` primitive.
struct InfoAndData {
    info: Option<MessageInfo>,
    data: Option<String>,
    other: Vec<Element>,
}

fn info_and_data(e: &Element, v: Version) -> Result<InfoAndData, WireError> {
    let mut r = InfoAndData {
        info: None,
        data: None,
        other: Vec::new(),
    };
    for c in &e.children {
        match c.name.as_str() {
            "MessageInfo" if r.info.is_none() => r.info = Some(MessageInfo::from_element(c, v)?),
            "ContentData" if r.data.is_none() => r.data = Some(text(c)?),
            _ => r.other.push(c.clone()),
        }
    }
    Ok(r)
}

/// `SendMessage-Request{DeliveryReport?, MessageInfo, ContentData?}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SendMessageRequest {
    pub delivery_report: Option<bool>,
    pub message_info: MessageInfo,
    pub content_data: Option<String>,
    pub other: Vec<Element>,
}

impl SendMessageRequest {
    pub fn from_element(e: &Element, v: Version) -> Result<SendMessageRequest, WireError> {
        expect_kind(e, PrimitiveKind::SendMessageRequest)?;
        let mut delivery_report = None;
        let mut info = None;
        let mut content_data = None;
        let mut other = Vec::new();
        for c in &e.children {
            match c.name.as_str() {
                "DeliveryReport" if delivery_report.is_none() => {
                    delivery_report = Some(boolean(c)?);
                }
                "MessageInfo" if info.is_none() => info = Some(MessageInfo::from_element(c, v)?),
                "ContentData" if content_data.is_none() => content_data = Some(text(c)?),
                _ => other.push(c.clone()),
            }
        }
        Ok(SendMessageRequest {
            delivery_report,
            message_info: required(info, e, "MessageInfo")?,
            content_data,
            other,
        })
    }

    pub fn to_element(&self, v: Version) -> Element {
        Builder::new(PrimitiveKind::SendMessageRequest.name())
            .boolean("DeliveryReport", self.delivery_report)
            .child(self.message_info.to_element(v))
            .opt_text("ContentData", self.content_data.as_deref())
            .finish(&self.other)
    }
}
primitive!(SendMessageRequest);

/// `SendMessage-Response{Result, MessageID?}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SendMessageResponse {
    pub result: CspResult,
    pub message_id: Option<String>,
    pub other: Vec<Element>,
}

impl SendMessageResponse {
    pub fn from_element(e: &Element, v: Version) -> Result<SendMessageResponse, WireError> {
        expect_kind(e, PrimitiveKind::SendMessageResponse)?;
        let mut result = None;
        let mut message_id = None;
        let mut other = Vec::new();
        for c in &e.children {
            match c.name.as_str() {
                "Result" if result.is_none() => result = Some(CspResult::from_element(c, v)?),
                "MessageID" if message_id.is_none() => message_id = Some(text(c)?),
                _ => other.push(c.clone()),
            }
        }
        Ok(SendMessageResponse {
            result: required(result, e, "Result")?,
            message_id,
            other,
        })
    }

    pub fn to_element(&self, v: Version) -> Element {
        Builder::new(PrimitiveKind::SendMessageResponse.name())
            .child(self.result.to_element(v))
            .opt_text("MessageID", self.message_id.as_deref())
            .finish(&self.other)
    }
}
primitive!(SendMessageResponse);

/// Defines `{MessageInfo, ContentData?}` primitives (NewMessage,
/// GetMessage-Response).
macro_rules! info_and_data_primitive {
    ($(#[$doc:meta])* $ty:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $ty {
            pub message_info: MessageInfo,
            pub content_data: Option<String>,
            pub other: Vec<Element>,
        }

        impl $ty {
            pub fn from_element(e: &Element, v: Version) -> Result<$ty, WireError> {
                expect_kind(e, PrimitiveKind::$ty)?;
                let r = info_and_data(e, v)?;
                Ok($ty {
                    message_info: required(r.info, e, "MessageInfo")?,
                    content_data: r.data,
                    other: r.other,
                })
            }

            pub fn to_element(&self, v: Version) -> Element {
                Builder::new(PrimitiveKind::$ty.name())
                    .child(self.message_info.to_element(v))
                    .opt_text("ContentData", self.content_data.as_deref())
                    .finish(&self.other)
            }
        }
        primitive!($ty);
    };
}

info_and_data_primitive!(
    /// `NewMessage{MessageInfo, ContentData?}`: a message pushed to the
    /// recipient. A missing ContentData is an empty message.
    NewMessage
);
info_and_data_primitive!(
    /// `GetMessage-Response{MessageInfo, ContentData?}`.
    GetMessageResponse
);

/// `MessageNotification{MessageInfo}`: a message waits (notify/get).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageNotification {
    pub message_info: MessageInfo,
    pub other: Vec<Element>,
}

impl MessageNotification {
    pub fn from_element(e: &Element, v: Version) -> Result<MessageNotification, WireError> {
        expect_kind(e, PrimitiveKind::MessageNotification)?;
        let mut info = None;
        let mut other = Vec::new();
        for c in &e.children {
            match c.name.as_str() {
                "MessageInfo" if info.is_none() => info = Some(MessageInfo::from_element(c, v)?),
                _ => other.push(c.clone()),
            }
        }
        Ok(MessageNotification {
            message_info: required(info, e, "MessageInfo")?,
            other,
        })
    }

    pub fn to_element(&self, v: Version) -> Element {
        Builder::new(PrimitiveKind::MessageNotification.name())
            .child(self.message_info.to_element(v))
            .finish(&self.other)
    }
}
primitive!(MessageNotification);

/// Defines `{MessageID}` primitives (MessageDelivered, GetMessage-Request).
macro_rules! message_id_primitive {
    ($(#[$doc:meta])* $ty:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $ty {
            pub message_id: String,
            pub other: Vec<Element>,
        }

        impl $ty {
            pub fn from_element(e: &Element, _v: Version) -> Result<$ty, WireError> {
                expect_kind(e, PrimitiveKind::$ty)?;
                let mut message_id = None;
                let mut other = Vec::new();
                for c in &e.children {
                    match c.name.as_str() {
                        "MessageID" if message_id.is_none() => message_id = Some(text(c)?),
                        _ => other.push(c.clone()),
                    }
                }
                Ok($ty {
                    message_id: required(message_id, e, "MessageID")?,
                    other,
                })
            }

            pub fn to_element(&self, _v: Version) -> Element {
                Builder::new(PrimitiveKind::$ty.name())
                    .text("MessageID", &self.message_id)
                    .finish(&self.other)
            }
        }
        primitive!($ty);
    };
}

message_id_primitive!(
    /// `MessageDelivered{MessageID}`: the client has the message. Sent as
    /// the Response leg of NewMessage (Android) or as a request.
    MessageDelivered
);
message_id_primitive!(
    /// `GetMessage-Request{MessageID}`.
    GetMessageRequest
);

/// `GetMessageList-Request{GroupID?, MessageCount?}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GetMessageListRequest {
    pub group_id: Option<String>,
    /// The most messages to list.
    pub message_count: Option<u64>,
    pub other: Vec<Element>,
}

impl GetMessageListRequest {
    pub fn from_element(e: &Element, _v: Version) -> Result<GetMessageListRequest, WireError> {
        expect_kind(e, PrimitiveKind::GetMessageListRequest)?;
        let mut r = GetMessageListRequest::default();
        for c in &e.children {
            match c.name.as_str() {
                "GroupID" if r.group_id.is_none() => r.group_id = Some(text(c)?),
                "MessageCount" if r.message_count.is_none() => {
                    r.message_count = Some(number(c)?);
                }
                _ => r.other.push(c.clone()),
            }
        }
        Ok(r)
    }

    pub fn to_element(&self, _v: Version) -> Element {
        Builder::new(PrimitiveKind::GetMessageListRequest.name())
            .opt_text("GroupID", self.group_id.as_deref())
            .number("MessageCount", self.message_count)
            .finish(&self.other)
    }
}
primitive!(GetMessageListRequest);

/// `GetMessageList-Response`: 1.3 `{MessageInfoList{MessageInfo*},
/// MessageTotalCount?}`, 1.1/1.2 `{MessageInfo*}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GetMessageListResponse {
    pub messages: Vec<MessageInfo>,
    /// 1.3: how many messages wait in all.
    pub message_total_count: Option<u64>,
    pub other: Vec<Element>,
}

impl GetMessageListResponse {
    pub fn from_element(e: &Element, v: Version) -> Result<GetMessageListResponse, WireError> {
        expect_kind(e, PrimitiveKind::GetMessageListResponse)?;
        let mut r = GetMessageListResponse::default();
        for c in &e.children {
            match c.name.as_str() {
                "MessageInfoList" => {
                    for m in c.children_named(MessageInfo::NAME) {
                        r.messages.push(MessageInfo::from_element(m, v)?);
                    }
                }
                "MessageInfo" => r.messages.push(MessageInfo::from_element(c, v)?),
                "MessageTotalCount" if is_v13(v) && r.message_total_count.is_none() => {
                    r.message_total_count = Some(number(c)?);
                }
                _ => r.other.push(c.clone()),
            }
        }
        Ok(r)
    }

    pub fn to_element(&self, v: Version) -> Element {
        let infos = self.messages.iter().map(|m| m.to_element(v));
        let b = Builder::new(PrimitiveKind::GetMessageListResponse.name());
        if is_v13(v) {
            b.child(Builder::new("MessageInfoList").children(infos).finish(&[]))
                .number("MessageTotalCount", self.message_total_count)
        } else {
            b.children(infos)
        }
        .finish(&self.other)
    }
}
primitive!(GetMessageListResponse);
