//! The SSP instant-messaging primitives (issue 17, second step), typed:
//! `SendMessageRequest`, `SendMessageResponse` and `DeliveryStatusReport`,
//! the three a 1:1 message and its delivery report need between domains.
//!
//! As in [`crate::ssp`], attributes are read ignoring ASCII case (the one
//! public implementation writes `messageURI` and reads `MessageURI`), IDs
//! are normalized to `wv:user@domain`, and content always travels base64
//! (`ContentData encoding="base64"`), whatever its type.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::ssp::{MetaInfo, SspStatus, attr, normalize_id, parse_yes_no, yes_no};
use crate::{Element, WireError};

fn bad(what: impl Into<String>) -> WireError {
    WireError::Structure(format!("SSP: {}", what.into()))
}

/// `MessageInfo messageID= contentType= contentSize=` with one recipient
/// per `Recipient/User`, the sending user and the time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SspMessageInfo {
    /// The ID the sender's server gave the message: kept end to end, so
    /// a delivery report names what its sender was told.
    pub message_id: String,
    pub content_type: Option<String>,
    pub content_size: Option<u64>,
    /// Recipient user IDs, `wv:user@domain`.
    pub recipients: Vec<String>,
    /// The sending user, `wv:user@domain`; `None` in a report that names
    /// only the message.
    pub sender: Option<String>,
    /// ISO 8601 UTC.
    pub date_time: Option<String>,
}

/// `SendMessageRequest deliveryReport=`: a user of the sending domain
/// sends a message to users of the receiving one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendMessageRequest {
    pub delivery_report: bool,
    pub meta: MetaInfo,
    pub info: SspMessageInfo,
    /// The content's bytes (decoded from base64 on the wire).
    pub content: Vec<u8>,
}

/// `SendMessageResponse messageID=` with the outcome at the recipient's
/// home server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendMessageResponse {
    pub message_id: String,
    pub status: SspStatus,
}

/// `DeliveryStatusReport`: what became of a message at the recipient's
/// home server, for its sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryStatusReport {
    pub meta: MetaInfo,
    /// `DeliveryResult/Status`.
    pub result: SspStatus,
    /// ISO 8601 UTC.
    pub delivery_time: Option<String>,
    /// The message (its ID, recipient and sender).
    pub info: SspMessageInfo,
}

fn user_ids(e: Option<&Element>) -> Result<Vec<String>, WireError> {
    let Some(e) = e else {
        return Ok(Vec::new());
    };
    e.children_named("User")
        .map(|u| {
            let raw = attr(u, "userID").ok_or_else(|| bad("User without userID"))?;
            normalize_id(raw).ok_or_else(|| bad(format!("userID {raw:?} is not a wv: ID")))
        })
        .collect()
}

impl SspMessageInfo {
    pub fn from_element(e: &Element) -> Result<SspMessageInfo, WireError> {
        let message_id = attr(e, "messageID")
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .ok_or_else(|| bad("MessageInfo without messageID"))?
            .to_string();
        let content_size = attr(e, "contentSize")
            .map(|s| {
                s.trim()
                    .parse()
                    .map_err(|_| bad(format!("contentSize {s:?}")))
            })
            .transpose()?;
        let sender = user_ids(e.child("Sender"))?.into_iter().next();
        Ok(SspMessageInfo {
            message_id,
            content_type: attr(e, "contentType").map(str::to_string),
            content_size,
            recipients: user_ids(e.child("Recipient"))?,
            sender,
            date_time: e
                .child("DateTime")
                .map(|d| d.text.trim().to_string())
                .filter(|d| !d.is_empty()),
        })
    }

    pub fn to_element(&self) -> Element {
        let mut e = Element::new("MessageInfo").with_attr("messageID", self.message_id.as_str());
        if let Some(t) = &self.content_type {
            e.set_attr("contentType", t.as_str());
        }
        if let Some(s) = self.content_size {
            e.set_attr("contentSize", s.to_string());
        }
        if !self.recipients.is_empty() {
            let mut r = Element::new("Recipient");
            for u in &self.recipients {
                r.children
                    .push(Element::new("User").with_attr("userID", u.as_str()));
            }
            e.children.push(r);
        }
        if let Some(s) = &self.sender {
            e.children.push(
                Element::new("Sender").with(Element::new("User").with_attr("userID", s.as_str())),
            );
        }
        e.with_opt(
            self.date_time
                .as_deref()
                .map(|d| Element::text("DateTime", d).with_attr("format", "iso8601")),
        )
    }
}

fn need_child<'a>(e: &'a Element, name: &str) -> Result<&'a Element, WireError> {
    e.child(name)
        .ok_or_else(|| bad(format!("{} without {name}", e.name.as_str())))
}

impl SendMessageRequest {
    pub const NAME: &'static str = "SendMessageRequest";

    pub fn from_element(e: &Element) -> Result<SendMessageRequest, WireError> {
        let delivery_report = match attr(e, "deliveryReport") {
            Some(v) => parse_yes_no(v).ok_or_else(|| bad(format!("deliveryReport {v:?}")))?,
            None => false,
        };
        let data = need_child(e, "ContentData")?;
        // Base64 is what is written; plain text is taken as it stands.
        let content = match attr(data, "encoding") {
            Some(enc) if enc.trim().eq_ignore_ascii_case("base64") => {
                let compact: String = data
                    .text
                    .chars()
                    .filter(|c| !c.is_ascii_whitespace())
                    .collect();
                B64.decode(compact.as_bytes())
                    .map_err(|_| bad("ContentData is not base64"))?
            }
            _ => data.text.as_bytes().to_vec(),
        };
        Ok(SendMessageRequest {
            delivery_report,
            meta: MetaInfo::of(e)?,
            info: SspMessageInfo::from_element(need_child(e, "MessageInfo")?)?,
            content,
        })
    }

    pub fn to_element(&self) -> Element {
        let mut data =
            Element::text("ContentData", B64.encode(&self.content)).with_attr("encoding", "base64");
        if let Some(t) = &self.info.content_type {
            data.set_attr("contentType", t.as_str());
        }
        Element::new(Self::NAME)
            .with_attr("deliveryReport", yes_no(self.delivery_report))
            .with(self.meta.to_element())
            .with(self.info.to_element())
            .with(data)
    }
}

impl SendMessageResponse {
    pub const NAME: &'static str = "SendMessageResponse";

    pub fn from_element(e: &Element) -> Result<SendMessageResponse, WireError> {
        Ok(SendMessageResponse {
            message_id: attr(e, "messageID").unwrap_or("").trim().to_string(),
            // A missing Status is taken as success (the public
            // implementation leaves it out of some responses).
            status: e
                .child("Status")
                .map(SspStatus::from_element)
                .transpose()?
                .unwrap_or_else(SspStatus::ok),
        })
    }

    pub fn to_element(&self) -> Element {
        Element::new(Self::NAME)
            .with_attr("messageID", self.message_id.as_str())
            .with(self.status.to_element())
    }
}

impl DeliveryStatusReport {
    pub const NAME: &'static str = "DeliveryStatusReport";

    pub fn from_element(e: &Element) -> Result<DeliveryStatusReport, WireError> {
        Ok(DeliveryStatusReport {
            meta: MetaInfo::of(e)?,
            result: need_child(e, "DeliveryResult")?
                .child("Status")
                .map(SspStatus::from_element)
                .transpose()?
                .unwrap_or_else(SspStatus::ok),
            delivery_time: e
                .child("DeliveryTime")
                .map(|d| d.text.trim().to_string())
                .filter(|d| !d.is_empty()),
            info: SspMessageInfo::from_element(need_child(e, "MessageInfo")?)?,
        })
    }

    pub fn to_element(&self) -> Element {
        Element::new(Self::NAME)
            .with(self.meta.to_element())
            .with(Element::new("DeliveryResult").with(self.result.to_element()))
            .with_opt(
                self.delivery_time
                    .as_deref()
                    .map(|t| Element::text("DeliveryTime", t)),
            )
            .with(self.info.to_element())
    }
}

/// The response a refused request gets: the request's name with
/// `Request` turned into `Response` (or `Response` added), holding the
/// status; a SendMessageRequest's keeps its messageID.
pub fn refusal(request: &Element, status: SspStatus) -> Element {
    let name = request.name.as_str();
    let reply = match name.strip_suffix("Request") {
        Some(stem) => format!("{stem}Response"),
        None => format!("{name}Response"),
    };
    let mut e = Element::new(reply.as_str());
    if let Some(id) = request
        .child("MessageInfo")
        .and_then(|i| attr(i, "messageID"))
    {
        e.set_attr("messageID", id);
    }
    e.with(status.to_element())
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
    fn send_message_round_trips_with_base64_content() {
        let m = SendMessageRequest {
            delivery_report: true,
            meta: meta(),
            info: SspMessageInfo {
                message_id: "m-1".into(),
                content_type: Some("text/plain".into()),
                content_size: Some(5),
                recipients: vec!["wv:bob@b.example".into()],
                sender: Some("wv:alice@a.example".into()),
                date_time: Some("2026-01-01T00:00:00Z".into()),
            },
            content: "héllo".as_bytes().to_vec(),
        };
        let e = m.to_element();
        assert_eq!(
            e.child("ContentData").unwrap().text,
            B64.encode("héllo".as_bytes())
        );
        assert_eq!(SendMessageRequest::from_element(&e).unwrap(), m);
    }

    #[test]
    fn report_and_response_round_trip() {
        let r = DeliveryStatusReport {
            meta: MetaInfo {
                client_originated: false,
                service_id: "wv:@b.example".into(),
                user: None,
            },
            result: SspStatus::ok(),
            delivery_time: Some("2026-01-01T00:00:01Z".into()),
            info: SspMessageInfo {
                message_id: "m-1".into(),
                content_type: None,
                content_size: None,
                recipients: vec!["wv:bob@b.example".into()],
                sender: Some("wv:alice@a.example".into()),
                date_time: None,
            },
        };
        assert_eq!(
            DeliveryStatusReport::from_element(&r.to_element()).unwrap(),
            r
        );
        let s = SendMessageResponse {
            message_id: "m-1".into(),
            status: SspStatus {
                code: 531,
                description: Some("unknown user".into()),
                details: Vec::new(),
            },
        };
        assert_eq!(
            SendMessageResponse::from_element(&s.to_element()).unwrap(),
            s
        );
    }
}
