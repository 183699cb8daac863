//! Content policies (GEN-5..GEN-10): which content types the server
//! carries, how large a message may be (text and rich content apart), what
//! happens above the limit, and telling the client all of it in the
//! AgreedCapabilityList. A recipient's own limits (CFG-1 size, accepted
//! content types) are honoured too: a message is offered only to sessions
//! that can take it.

use super::ImService;
use std::sync::Arc;

use imps_wire::{Element, Version};

use super::message::content_bytes;
use super::state::ClientContent;
use crate::CoreError;
use crate::config::{ImConfig, OversizePolicy};
use crate::session::Session;
use crate::store::{MessageBody, StoredMessage};

/// Room we allow for the envelope around ContentData when comparing a
/// message with a client's negotiated maximum message size (CFG-1).
pub(crate) const ENVELOPE_BYTES: u64 = 1024;

/// `type/subtype` in lower case, parameters dropped.
pub(crate) fn media_type(ct: &str) -> String {
    ct.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Whether `ct` is in `allowed` (entries may be `type/*` or `*/*`).
pub(crate) fn type_in(allowed: &[String], ct: &str) -> bool {
    let ct = media_type(ct);
    let major = ct.split('/').next().unwrap_or("");
    allowed.iter().any(|a| {
        let a = media_type(a);
        a == ct || a == "*/*" || a.strip_suffix("/*").is_some_and(|m| m == major)
    })
}

fn is_text(ct: &str) -> bool {
    media_type(ct) == "text/plain"
}

/// Checks a message against the server's policy. `Ok(true)` means it is
/// over the limit but delivered with an extra charge (policy `Charge`).
pub(crate) fn check_content(cfg: &ImConfig, body: &MessageBody) -> Result<bool, CoreError> {
    if !cfg.content_types.is_empty() && !type_in(&cfg.content_types, &body.content_type) {
        return Err(CoreError::ImUnsupportedMediaType(body.content_type.clone()));
    }
    let limit = if is_text(&body.content_type) {
        cfg.max_text_bytes
    } else {
        cfg.max_rich_bytes
    };
    let size = content_bytes(body);
    if limit == 0 || size <= limit {
        return Ok(false);
    }
    match cfg.oversize_policy {
        OversizePolicy::Charge if cfg.charge_limit_bytes == 0 || size <= cfg.charge_limit_bytes => {
            Ok(true)
        }
        OversizePolicy::Charge => Err(CoreError::ImTooLarge {
            size,
            limit: cfg.charge_limit_bytes,
        }),
        OversizePolicy::None | OversizePolicy::Reject => Err(CoreError::ImTooLarge { size, limit }),
    }
}

/// Whether a session can take this message: its negotiated maximum size
/// and, when it listed them, its accepted content types (GEN-7, GEN-10).
pub(crate) fn fits(
    s: &Session,
    content: Option<&ClientContent>,
    m: &StoredMessage,
) -> Result<(), CoreError> {
    fits_body(s, content, &m.body)
}

pub(crate) fn fits_body(
    s: &Session,
    content: Option<&ClientContent>,
    b: &MessageBody,
) -> Result<(), CoreError> {
    if let Some(types) = content.and_then(|c| c.types.as_ref())
        && !type_in(types, &b.content_type)
    {
        return Err(CoreError::ImUnsupportedMediaType(b.content_type.clone()));
    }
    let max = s.with_state(|st| st.caps.as_ref().and_then(|c| c.max_message_size()));
    let size = b.data.len() as u64 + ENVELOPE_BYTES;
    match max {
        Some(limit) if size > limit => Err(CoreError::ImTooLarge { size, limit }),
        _ => Ok(()),
    }
}

/// What the client's CapabilityList says it accepts.
pub(crate) fn client_content(list: &Element) -> ClientContent {
    if list.child_bool("AnyContent") == Some(true) {
        return ClientContent { types: None };
    }
    let types: Vec<String> = list
        .children_named("AcceptedContentType")
        .map(|e| match e.child_text("ContentType") {
            Some(t) => t.to_string(),
            None => e.text.trim().to_string(),
        })
        .filter(|t| !t.is_empty())
        .collect();
    ClientContent {
        types: (!types.is_empty()).then_some(types),
    }
}

fn policy_code(p: OversizePolicy) -> Option<&'static str> {
    match p {
        OversizePolicy::None => None,
        OversizePolicy::Reject => Some("R"),
        OversizePolicy::Charge => Some("C"),
    }
}

/// The policy elements of the AgreedCapabilityList (GEN-6, GEN-9). 1.3
/// has AcceptedTextContentLength and a structured AcceptedContentType per
/// type with its rich-content limit and oversize policy; older versions
/// only list the types.
pub(crate) fn capability_elements(cfg: &ImConfig, v: Version) -> Vec<Element> {
    let mut out = Vec::new();
    if cfg.content_types.is_empty() {
        out.push(Element::text("AnyContent", "T"));
    }
    if v < Version::V1_3 {
        out.extend(
            cfg.content_types
                .iter()
                .map(|t| Element::text("AcceptedContentType", t.clone())),
        );
        return out;
    }
    let policy = policy_code(cfg.oversize_policy);
    let add_policy = |mut e: Element| {
        if let Some(p) = policy {
            e = e.with_text("ContentPolicy", p);
            if cfg.oversize_policy == OversizePolicy::Charge && cfg.charge_limit_bytes > 0 {
                e = e.with_text("ContentPolicyLimit", cfg.charge_limit_bytes.to_string());
            }
        }
        e
    };
    for t in &cfg.content_types {
        let mut e = Element::new("AcceptedContentType").with_text("ContentType", t.clone());
        if !is_text(t) && cfg.max_rich_bytes > 0 {
            e = e.with_text("AcceptedRichContentLength", cfg.max_rich_bytes.to_string());
        }
        out.push(add_policy(e));
    }
    if cfg.max_text_bytes > 0 {
        out.push(Element::text(
            "AcceptedTextContentLength",
            cfg.max_text_bytes.to_string(),
        ));
    }
    out
}

impl ImService {
    /// Called from ClientCapability negotiation: notes what content the
    /// client accepts (GEN-10) and returns the IM policy elements to add
    /// to the agreed list (GEN-6, GEN-9).
    pub(crate) fn im_capabilities(&self, s: &Arc<Session>, list: &Element) -> Vec<Element> {
        let st = self.im();
        st.set_client_content(&s.id, client_content(list));
        // A session that negotiates again may now take messages it was
        // passed over for (too big, wrong type): look at the queue anew.
        st.with_user(&s.user, |q| {
            if let Some(sq) = q.session_mut(&s.id) {
                sq.cursor = 0;
            }
            self.pump(&st, q);
        });
        capability_elements(&self.base.cfg.im, s.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(ct: &str, data: &str, b64: bool) -> MessageBody {
        MessageBody {
            content_type: ct.into(),
            encoding: b64.then(|| "BASE64".into()),
            data: data.into(),
            ..MessageBody::default()
        }
    }

    #[test]
    fn types_match_with_wildcards_and_parameters() {
        let allowed = vec!["text/plain".to_string(), "image/*".to_string()];
        assert!(type_in(&allowed, "TEXT/PLAIN; charset=utf-8"));
        assert!(type_in(&allowed, "image/png"));
        assert!(!type_in(&allowed, "audio/amr"));
    }

    #[test]
    fn oversize_policies() {
        let mut cfg = ImConfig {
            max_text_bytes: 4,
            max_rich_bytes: 3,
            ..ImConfig::default()
        };
        assert_eq!(
            check_content(&cfg, &body("text/plain", "abcd", false)).ok(),
            Some(false)
        );
        assert!(check_content(&cfg, &body("text/plain", "abcde", false)).is_err());
        // "TWFuTQ==" is 4 bytes: over the rich limit of 3.
        assert!(check_content(&cfg, &body("image/png", "TWFuTQ==", true)).is_err());
        cfg.oversize_policy = OversizePolicy::Charge;
        cfg.charge_limit_bytes = 5;
        assert_eq!(
            check_content(&cfg, &body("text/plain", "abcde", false)).ok(),
            Some(true)
        );
        assert!(check_content(&cfg, &body("text/plain", "abcdef", false)).is_err());
        assert!(matches!(
            check_content(&cfg, &body("application/x-evil", "a", false)),
            Err(CoreError::ImUnsupportedMediaType(_))
        ));
    }
}
