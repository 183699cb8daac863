//! Reading a sent message out of its primitive, and writing a stored one
//! into the primitives that carry it to a recipient (NewMessage,
//! MessageNotification, GetMessage-Response, GetMessageList-Response,
//! DeliveryReport-Request), shaped for the reader's CSP version.

use imps_wire::Element;
use imps_wire::csp::{
    ClientId, MessageInfo, MessageNotification, NewMessage, Party, Recipient, Sender, User,
};

use crate::CoreError;
use crate::store::{FontSpec, MessageBody, StoredMessage};
use crate::users::{canonical_user, wire_user};

/// The content type assumed when a client sends none (Android always
/// sends one; the OZ server needs it, per the reference).
pub(crate) const DEFAULT_CONTENT_TYPE: &str = "text/plain";

/// One entry of a Recipient element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RecipientSpec {
    /// A user, optionally one of their clients (ClientID URL/MSISDN, or
    /// the 1.3 ApplicationID).
    User {
        wire: String,
        client: Option<String>,
    },
    ContactList(String),
    Group(String),
}

/// The recipients named in a Recipient element, in document order.
pub(crate) fn recipients(rcpt: &Element) -> Vec<RecipientSpec> {
    let mut out = Vec::new();
    for c in &rcpt.children {
        match c.name.as_str() {
            "User" => {
                let wire = c.child_text("UserID").unwrap_or("").to_string();
                let client = c
                    .child("ClientID")
                    .and_then(|id| id.child_text("URL").or_else(|| id.child_text("MSISDN")))
                    .or_else(|| c.child_text("ApplicationID"))
                    .filter(|s| !s.is_empty())
                    .map(str::to_string);
                out.push(RecipientSpec::User { wire, client });
            }
            "ContactList" => out.push(RecipientSpec::ContactList(c.text.trim().to_string())),
            "Group" => {
                let id = c
                    .child_text("GroupID")
                    .or_else(|| c.path(&["ScreenName", "GroupID"]).map(|g| g.text.trim()))
                    .unwrap_or("");
                out.push(RecipientSpec::Group(id.to_string()));
            }
            _ => {}
        }
    }
    out
}

/// The content of a SendMessage-Request (MessageInfo plus ContentData).
pub(crate) fn body_of(req: &Element) -> Result<MessageBody, CoreError> {
    let info = req
        .child("MessageInfo")
        .ok_or_else(|| CoreError::BadRequest("SendMessage-Request without MessageInfo".into()))?;
    let data = req
        .child("ContentData")
        .map(|d| d.text.clone())
        .unwrap_or_default();
    let content_type = info
        .child_text("ContentType")
        .filter(|t| !t.is_empty())
        .unwrap_or(DEFAULT_CONTENT_TYPE)
        .to_string();
    let encoding = info
        .child_text("ContentEncoding")
        .filter(|e| !e.is_empty() && !e.eq_ignore_ascii_case("None"))
        .map(str::to_ascii_uppercase);
    if let Some(e) = &encoding
        && e != "BASE64"
    {
        return Err(CoreError::BadParameter(format!("ContentEncoding {e}")));
    }
    let size = info.child_u64("ContentSize").unwrap_or_else(|| {
        if encoding.is_some() {
            decoded_len(&data)
        } else {
            // Android counts UTF-16 units; do the same when none is given.
            data.encode_utf16().count() as u64
        }
    });
    let font = info.child("Font").map(|f| FontSpec {
        size: f.child_text("Size").map(str::to_string),
        styles: f
            .children_named("Style")
            .map(|s| s.text.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        color: f.child_text("Color").map(str::to_string),
    });
    Ok(MessageBody {
        content_type,
        encoding,
        size,
        name: info
            .child_text("ContentName")
            .filter(|n| !n.is_empty())
            .map(str::to_string),
        font,
        data,
    })
}

/// Bytes of content a base64 text stands for (whitespace ignored).
pub(crate) fn decoded_len(b64: &str) -> u64 {
    let n = b64.bytes().filter(|b| !b.is_ascii_whitespace()).count() as u64;
    let pad = b64
        .trim_end()
        .bytes()
        .rev()
        .take_while(|b| *b == b'=')
        .count() as u64;
    (n / 4 * 3 + (n % 4).saturating_sub(1)).saturating_sub(pad.min(2))
}

/// Bytes the content takes once decoded: what the size limits count.
pub(crate) fn content_bytes(body: &MessageBody) -> u64 {
    match body.encoding {
        Some(_) => decoded_len(&body.data),
        None => body.data.len() as u64,
    }
}

/// MessageInfo of a stored message as the recipient's version reads it.
/// The sender is shown by User ID and, to 1.3 readers, Friendly Name
/// (IMR-8); 1.3-only elements (FriendlyName, ContentName, Font) are left
/// out for older readers by the typed message itself.
pub(crate) fn message_info(m: &StoredMessage, domain: &str) -> MessageInfo {
    let b = &m.body;
    let mut recipient = User::id(wire_user(&m.recipient, domain));
    recipient.client_id = m.target_client.clone().map(ClientId::url);
    let mut sender = User::id(wire_user(&m.sender, domain));
    sender.friendly_name = m.sender_name.clone();
    MessageInfo {
        message_id: Some(m.id.clone()),
        content_type: Some(b.content_type.clone()),
        content_encoding: b.encoding.clone(),
        content_size: Some(b.size),
        content_name: b.name.clone(),
        recipient: Some(Recipient {
            users: vec![recipient],
            ..Recipient::default()
        }),
        sender: Some(Sender {
            party: Party::User(sender),
            other: Vec::new(),
        }),
        date_time: Some(date_time(m.created_ms)),
        font: b.font.as_ref().map(font_element),
        ..MessageInfo::default()
    }
}

/// `Font{Size?, Style*, Color?}` (1.3; the typed MessageInfo keeps it as a
/// tree).
fn font_element(f: &FontSpec) -> Element {
    let mut font = Element::new("Font");
    if let Some(s) = &f.size {
        font = font.with_text("Size", s.clone());
    }
    for s in &f.styles {
        font = font.with_text("Style", s.clone());
    }
    if let Some(c) = &f.color {
        font = font.with_text("Color", c.clone());
    }
    font
}

/// The pushed NewMessage.
pub(crate) fn new_message(m: &StoredMessage, domain: &str) -> NewMessage {
    NewMessage {
        message_info: message_info(m, domain),
        content_data: Some(m.body.data.clone()),
        other: Vec::new(),
    }
}

/// The notify/get announcement.
pub(crate) fn notification(m: &StoredMessage, domain: &str) -> MessageNotification {
    MessageNotification {
        message_info: message_info(m, domain),
        other: Vec::new(),
    }
}

/// A DeliveryReport-Request telling the sender what became of a message
/// to one recipient.
pub(crate) fn delivery_report(
    code: u16,
    description: &str,
    id: &str,
    recipient: &str,
    at_ms: u64,
    domain: &str,
) -> Element {
    Element::new("DeliveryReport-Request")
        .with(crate::reply::result(code, description))
        .with_text("DeliveryTime", date_time(at_ms))
        .with(
            Element::new("MessageInfo").with_text("MessageID", id).with(
                Element::new("Recipient")
                    .with(Element::new("User").with_text("UserID", wire_user(recipient, domain))),
            ),
        )
}

/// Checks that a Sender element names the session's own user; a message
/// always goes out under the session's identity.
pub(crate) fn check_sender(req: &Element, user: &str, domain: &str) -> Result<(), CoreError> {
    let Some(sender) = req.path(&["MessageInfo", "Sender"]) else {
        return Ok(());
    };
    if sender.child("Group").is_some() {
        return Err(CoreError::NotImplemented(
            "messages sent as a group member (groups)".into(),
        ));
    }
    match sender.path(&["User", "UserID"]).map(|u| u.text.trim()) {
        None | Some("") => Ok(()),
        Some(id) => match canonical_user(id, domain) {
            Ok(c) if c == user => Ok(()),
            _ => Err(CoreError::BadParameter(format!(
                "Sender {id} is not the session's user"
            ))),
        },
    }
}

/// CSP DateTime, `yyyymmddThhmmssZ` (UTC).
pub(crate) fn date_time(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_time_is_iso_basic_utc() {
        assert_eq!(date_time(0), "19700101T000000Z");
        assert_eq!(date_time(1_704_164_645_000), "20240102T030405Z");
        assert_eq!(date_time(951_782_400_000), "20000229T000000Z");
    }

    #[test]
    fn base64_lengths() {
        assert_eq!(decoded_len("TWFu"), 3);
        assert_eq!(decoded_len("TWE="), 2);
        assert_eq!(decoded_len("TQ=="), 1);
        assert_eq!(decoded_len("TWFu\nTWFu"), 6);
        assert_eq!(decoded_len(""), 0);
    }

    #[test]
    fn recipients_of_every_kind() {
        let r = Element::new("Recipient")
            .with(Element::new("User").with_text("UserID", "wv:bob"))
            .with(
                Element::new("User")
                    .with_text("UserID", "wv:carol")
                    .with(Element::new("ClientID").with_text("URL", "phone")),
            )
            .with_text("ContactList", "wv:alice/friends@localhost")
            .with(Element::new("Group").with_text("GroupID", "wv:x/g"));
        let got = recipients(&r);
        assert_eq!(got.len(), 4);
        assert_eq!(
            got[1],
            RecipientSpec::User {
                wire: "wv:carol".into(),
                client: Some("phone".into())
            }
        );
    }
}
