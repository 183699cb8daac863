//! What nodes send each other on NATS: JSON envelopes; CSP primitives
//! inside them as XML text (imps-wire's own encoder and decoder).

use bytes::Bytes;
use imps_core::cluster::RemoteSession;
use imps_core::session::ClientStyle;
use imps_wire::{Element, Limits, Version};
use serde::{Deserialize, Serialize};

/// One session in a directory message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct SessionWire {
    pub id: String,
    pub user: String,
    pub client_key: String,
    /// The ClientID element, as XML.
    pub client_id: String,
    pub version: String,
    pub max_message_size: Option<u64>,
    pub bare_ids: bool,
    pub android_engine: bool,
    pub ready: bool,
    pub language: Option<String>,
}

impl SessionWire {
    pub fn of(r: &RemoteSession) -> SessionWire {
        SessionWire {
            id: r.session_id.clone(),
            user: r.user.clone(),
            client_key: r.client_key.clone(),
            client_id: element_text(&r.client_id),
            version: r.version.as_str().to_string(),
            max_message_size: r.max_message_size,
            bare_ids: r.style.bare_ids,
            android_engine: r.style.android_engine,
            ready: r.ready,
            language: r.language.clone(),
        }
    }

    pub fn to_remote(&self, node: &str, limits: &Limits) -> Option<RemoteSession> {
        Some(RemoteSession {
            node: node.to_string(),
            session_id: self.id.clone(),
            user: self.user.clone(),
            client_key: self.client_key.clone(),
            client_id: element_of(&self.client_id, limits)?,
            version: Version::parse(&self.version)?,
            max_message_size: self.max_message_size,
            style: ClientStyle {
                bare_ids: self.bare_ids,
                android_engine: self.android_engine,
            },
            ready: self.ready,
            language: self.language.clone(),
        })
    }
}

/// A node's directory: a change, or (`reset`) the first part of the
/// whole of it.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct DirMsg {
    pub node: String,
    pub incarnation: u64,
    pub reset: bool,
    pub put: Vec<SessionWire>,
    pub del: Vec<String>,
}

/// What one node sends another in one burst.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct NodeBatch {
    pub from: String,
    pub items: Vec<Item>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(super) enum Item {
    /// Primitives for one session, built by the sender (XML each).
    Ship {
        session: String,
        bodies: Vec<String>,
    },
    /// A message was stored for `user`.
    Stored { user: String, id: String },
}

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct PresenceMsg {
    pub from: String,
    pub owners: Vec<String>,
}

pub(super) fn element_text(e: &Element) -> String {
    String::from_utf8_lossy(&imps_wire::xml::encode(e)).into_owned()
}

pub(super) fn element_of(text: &str, limits: &Limits) -> Option<Element> {
    match imps_wire::xml::decode(text.as_bytes(), limits) {
        Ok(e) => Some(e),
        Err(e) => {
            tracing::warn!(error = %e, "undecodable primitive from another node");
            None
        }
    }
}

/// The content type a node answers when the session is not there.
pub(super) const NOT_HERE: &str = "!not-here";

/// A forwarded CSP request or its answer: the content type, a newline,
/// the body as it came.
pub(super) fn frame(content_type: &str, body: &[u8]) -> Bytes {
    let mut v = Vec::with_capacity(content_type.len() + 1 + body.len());
    v.extend_from_slice(content_type.replace('\n', " ").as_bytes());
    v.push(b'\n');
    v.extend_from_slice(body);
    v.into()
}

pub(super) fn unframe(b: &[u8]) -> Option<(&str, &[u8])> {
    let nl = b.iter().position(|&c| c == b'\n')?;
    let ct = std::str::from_utf8(&b[..nl]).ok()?;
    Some((ct, &b[nl + 1..]))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_session_and_a_frame_come_back_as_they_went() {
        let r = RemoteSession {
            node: "n1".into(),
            session_id: "s1".into(),
            user: "alice".into(),
            client_key: "phone".into(),
            client_id: Element::new("ClientID").with_text("URL", "wv:phone&<1>"),
            version: Version::V1_2,
            max_message_size: Some(900),
            style: ClientStyle {
                bare_ids: true,
                android_engine: false,
            },
            ready: true,
            language: Some("fi".into()),
        };
        let w = SessionWire::of(&r);
        let json = serde_json::to_vec(&w).unwrap();
        let back: SessionWire = serde_json::from_slice(&json).unwrap();
        assert_eq!(back.to_remote("n1", &Limits::default()).unwrap(), r);
        let f = frame("application/vnd.wv.csp.wbxml", &[0, 1, b'\n', 2]);
        assert_eq!(
            unframe(&f).unwrap(),
            ("application/vnd.wv.csp.wbxml", &[0u8, 1, b'\n', 2][..])
        );
    }
}
