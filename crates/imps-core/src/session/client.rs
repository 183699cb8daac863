//! A session's ClientID, kept as small as the usual shape allows.
//!
//! Nearly every client sends `<ClientID><URL>..</URL></ClientID>` (or the
//! same with MSISDN). As an element tree that was three allocations (the
//! element, its child list, the text) plus a copy of the text as the
//! session's key and another in the presence entry's online view: about
//! 280 bytes a session (issue 19). The usual shapes are kept as their one
//! string, which is also the key, and the element is made again when it
//! is echoed (presence's OnlineStatus, the cluster directory). Any other
//! shape (attributes, text beside the children, both URL and MSISDN,
//! more children, spaces around the URL) is kept whole, so what a client
//! sent is what it sees.

use imps_wire::csp::ClientId;
use imps_wire::{Element, Version};

/// One session's ClientID: what it is compared by (its key: the URL,
/// else the MSISDN, else the element's own text) and the element to echo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientIdent {
    /// Exactly `<ClientID><URL>key</URL></ClientID>`.
    Url(Box<str>),
    /// Exactly `<ClientID><MSISDN>key</MSISDN></ClientID>`.
    Msisdn(Box<str>),
    /// Any other shape, with its key.
    Whole(Box<WholeClientId>),
}

/// A ClientID of an unusual shape, as the client sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WholeClientId {
    pub key: Box<str>,
    pub element: Element,
}

impl ClientIdent {
    /// The ClientID a client sent; `None` when it has no key (neither URL
    /// nor MSISDN nor text), which a login refuses.
    pub fn from_element(e: &Element) -> Option<ClientIdent> {
        key_of(e).map(|key| ClientIdent::from_parts(key, e))
    }

    /// A ClientID known by its key and element (from a login, or another
    /// node's directory). The one-string form only when it gives the same
    /// key: the key is the trimmed text, so a URL written with spaces
    /// around it keeps its element whole and both stay as they were.
    pub fn from_parts(key: &str, element: &Element) -> ClientIdent {
        match simple_form(element) {
            Some(simple) if simple.key() == key => simple,
            _ => ClientIdent::Whole(Box::new(WholeClientId {
                key: key.into(),
                element: element.clone(),
            })),
        }
    }

    /// A ClientID that was a URL (a session brought back from the store,
    /// which keeps the key only).
    pub fn url(url: &str) -> ClientIdent {
        ClientIdent::Url(url.into())
    }

    /// What sessions of one user are told apart by (GEN-13).
    pub fn key(&self) -> &str {
        match self {
            ClientIdent::Url(k) | ClientIdent::Msisdn(k) => k,
            ClientIdent::Whole(w) => &w.key,
        }
    }

    /// The element, as the client sent it, for a reader of version `v`.
    pub fn to_element(&self, v: Version) -> Element {
        let typed = |url: Option<&str>, msisdn: Option<&str>| ClientId {
            url: url.map(str::to_string),
            msisdn: msisdn.map(str::to_string),
            other: Vec::new(),
        };
        match self {
            ClientIdent::Url(k) => typed(Some(k), None).to_element(v),
            ClientIdent::Msisdn(k) => typed(None, Some(k)).to_element(v),
            ClientIdent::Whole(w) => w.element.clone(),
        }
    }
}

/// The key of a ClientID element: its URL, else its MSISDN, else its text.
pub(crate) fn key_of(client_id: &Element) -> Option<&str> {
    let url = client_id.child_text("URL").filter(|s| !s.is_empty());
    let msisdn = client_id.child_text("MSISDN").filter(|s| !s.is_empty());
    let text = client_id.text.trim();
    url.or(msisdn)
        .or(if text.is_empty() { None } else { Some(text) })
}

/// The one-string form of `e` when making the element again from it gives
/// back exactly `e`.
fn simple_form(e: &Element) -> Option<ClientIdent> {
    if e.name != ClientId::NAME || !e.attrs.is_empty() || !e.text.is_empty() {
        return None;
    }
    let [child] = e.children.as_slice() else {
        return None;
    };
    if !child.attrs.is_empty() || !child.children.is_empty() || child.text.is_empty() {
        return None;
    }
    let text: Box<str> = child.text.as_str().into();
    if child.name == "URL" {
        Some(ClientIdent::Url(text))
    } else if child.name == "MSISDN" {
        Some(ClientIdent::Msisdn(text))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn url(u: &str) -> Element {
        Element::new("ClientID").with_text("URL", u)
    }

    #[test]
    fn the_usual_shapes_keep_one_string_and_echo_what_was_sent() {
        for (e, want_key) in [
            (url("WV:phone-1"), "WV:phone-1"),
            (
                Element::new("ClientID").with_text("MSISDN", "+358401234"),
                "+358401234",
            ),
        ] {
            let c = ClientIdent::from_element(&e).unwrap();
            assert!(!matches!(c, ClientIdent::Whole(_)), "{c:?}");
            assert_eq!(c.key(), want_key);
            assert_eq!(c.to_element(Version::V1_3), e);
        }
        // A session's own field is no larger than the two it replaces
        // would be without their heap parts.
        assert!(std::mem::size_of::<ClientIdent>() <= 24);
    }

    #[test]
    fn any_other_shape_is_kept_whole_with_the_same_key() {
        let both = Element::new("ClientID")
            .with_text("URL", "WV:a")
            .with_text("MSISDN", "+1");
        let text_only = {
            let mut e = Element::new("ClientID");
            e.text = "  bare-id ".into();
            e
        };
        let mut attr = url("WV:b");
        attr.children[0] = attr.children[0].clone().with_attr("x", "1");
        let empty_url_then_msisdn = Element::new("ClientID")
            .with_text("URL", "")
            .with_text("MSISDN", "+2");
        let padded = url(" WV:c\n");
        for (e, key) in [
            (padded, "WV:c"),
            (both, "WV:a"),
            (text_only, "bare-id"),
            (attr, "WV:b"),
            (empty_url_then_msisdn, "+2"),
        ] {
            let c = ClientIdent::from_element(&e).unwrap();
            assert!(matches!(c, ClientIdent::Whole(_)), "{c:?}");
            assert_eq!(c.key(), key);
            assert_eq!(c.to_element(Version::V1_3), e);
        }
    }

    #[test]
    fn a_client_id_without_a_key_is_none() {
        assert!(ClientIdent::from_element(&Element::new("ClientID")).is_none());
        assert!(ClientIdent::from_element(&url("")).is_none());
    }

    #[test]
    fn parts_from_another_node_keep_the_key_they_came_with() {
        let c = ClientIdent::from_parts("WV:x", &url("WV:x"));
        assert_eq!(c, ClientIdent::Url("WV:x".into()));
        // A key that does not match the element's is kept as given.
        let odd = ClientIdent::from_parts("other", &url("WV:x"));
        assert_eq!(odd.key(), "other");
        assert_eq!(odd.to_element(Version::V1_3), url("WV:x"));
    }
}
