//! A user's session relayed over SSP (SUS-1..3): the access server holds
//! the client's CSP link, the user's home server holds the session.
//!
//! The SSP element names of these primitives are not known (see
//! docs/protocol.md, "Sessions in another domain"). Provisionally a CSP
//! primitive travels unchanged inside an SSP `Transaction`, written in
//! the TRC namespace of its CSP version (which is how a receiver tells a
//! relayed CSP primitive from an SSP one, and learns the version). What
//! the CSP envelope would say is put on the primitive as attributes of
//! our own naming:
//!
//! - `userSessionID`: the home server's SessionID of the user session
//!   (absent for a login and an out-of-band GetSPInfo);
//! - `cspMode` / `cspTransactionID`: the CSP TransactionDescriptor, when
//!   it differs from the SSP Transaction's (a server-originated primitive
//!   handed back in answer to a Polling-Request);
//! - `poll`: the CSP Poll flag of an answer (`T`/`F`).
//!
//! A request carries a `MetaInfo` child in the SSP namespace: the access
//! domain and the client's UserID/ClientID.

use crate::element::{bool_str, parse_bool};
use crate::ssp::{MetaInfo, SSP_NS};
use crate::{Element, TransactionMode, Version, WireError};

const USER_SESSION_ID: &str = "userSessionID";
const CSP_MODE: &str = "cspMode";
const CSP_TID: &str = "cspTransactionID";
const POLL: &str = "poll";

/// One relayed CSP primitive with what its envelope said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SusPrimitive {
    pub version: Version,
    pub user_session_id: Option<String>,
    /// Who acts (requests from the access server, and the home server's
    /// Disconnect).
    pub meta: Option<MetaInfo>,
    pub csp_mode: TransactionMode,
    pub csp_transaction_id: Option<String>,
    pub poll: Option<bool>,
    /// The CSP primitive, without namespaces or the attributes above.
    pub body: Element,
}

fn bad(what: impl Into<String>) -> WireError {
    WireError::Structure(format!("SSP relayed session: {}", what.into()))
}

impl SusPrimitive {
    /// Whether an SSP Transaction's primitive is a relayed CSP one: it is
    /// written in a CSP namespace.
    pub fn is_sus(primitive: &Element) -> bool {
        primitive
            .xmlns()
            .is_some_and(|ns| Version::from_namespace(ns).is_some())
    }

    pub fn from_element(e: &Element) -> Result<SusPrimitive, WireError> {
        let version = e
            .xmlns()
            .and_then(Version::from_namespace)
            .ok_or_else(|| bad(format!("{} is not in a CSP namespace", e.name.as_str())))?;
        let meta = match e.child("MetaInfo") {
            Some(_) => Some(MetaInfo::of(e)?),
            None => None,
        };
        let csp_mode = match crate::ssp::attr(e, CSP_MODE) {
            None => TransactionMode::Request,
            Some(m) if m.eq_ignore_ascii_case("request") => TransactionMode::Request,
            Some(m) if m.eq_ignore_ascii_case("response") => TransactionMode::Response,
            Some(m) => return Err(bad(format!("cspMode {m:?}"))),
        };
        let mut body = e.clone();
        let take = |name: &str| {
            crate::ssp::attr(e, name)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let user_session_id = take(USER_SESSION_ID);
        let csp_transaction_id = take(CSP_TID);
        let poll = take(POLL).and_then(|p| parse_bool(&p));
        body.attrs.retain(|a| {
            ![USER_SESSION_ID, CSP_MODE, CSP_TID, POLL]
                .iter()
                .any(|n| a.name.eq_ignore_ascii_case(n))
        });
        body.children.retain(|c| c.name != "MetaInfo");
        strip_namespaces(&mut body);
        Ok(SusPrimitive {
            version,
            user_session_id,
            meta,
            csp_mode,
            csp_transaction_id,
            poll,
            body,
        })
    }

    /// The primitive as it travels, its envelope in attributes.
    pub fn to_element(&self) -> Element {
        let mut e = self.body.clone();
        strip_namespaces(&mut e);
        add_pa_namespace(&mut e, self.version);
        e.set_attr("xmlns", self.version.trc_ns());
        if let Some(id) = &self.user_session_id {
            e.set_attr(USER_SESSION_ID, id.clone());
        }
        if self.csp_mode == TransactionMode::Response {
            e.set_attr(CSP_MODE, "Response");
        }
        if let Some(t) = &self.csp_transaction_id {
            e.set_attr(CSP_TID, t.clone());
        }
        if let Some(p) = self.poll {
            e.set_attr(POLL, bool_str(p));
        }
        if let Some(m) = &self.meta {
            e.children
                .insert(0, m.to_element().with_attr("xmlns", SSP_NS));
        }
        e
    }
}

/// Takes off the `xmlns` attributes of CSP vocabularies (as the CSP
/// decoder does).
fn strip_namespaces(e: &mut Element) {
    e.attrs.retain(|a| {
        !(a.name == "xmlns"
            && (Version::from_namespace(&a.value).is_some() || a.value.trim() == SSP_NS))
    });
    for c in &mut e.children {
        strip_namespaces(c);
    }
}

/// `PresenceSubList` in its PA namespace, as the CSP encoder writes it.
fn add_pa_namespace(e: &mut Element, v: Version) {
    if e.name == "PresenceSubList" && e.xmlns().is_none() {
        e.set_attr("xmlns", v.pa_ns());
    }
    for c in &mut e.children {
        add_pa_namespace(c, v);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::ssp::{SspMessage, SspSession, SspTransaction, SspUser};

    #[test]
    fn a_relayed_login_goes_through_an_ssp_document_and_back() {
        let body = Element::new("Login-Request")
            .with_text("UserID", "wv:alice@b.example")
            .with(Element::new("ClientID").with_text("URL", "phone"))
            .with_text("DigestSchema", "SHA");
        let p = SusPrimitive {
            version: Version::V1_2,
            user_session_id: None,
            meta: Some(MetaInfo {
                client_originated: true,
                service_id: "wv:@a.example".into(),
                user: Some(SspUser {
                    user_id: "wv:alice@b.example".into(),
                    friendly_name: None,
                    client_id: Some("phone".into()),
                }),
            }),
            csp_mode: TransactionMode::Request,
            csp_transaction_id: Some("7".into()),
            poll: None,
            body: body.clone(),
        };
        let doc = SspMessage::Session(SspSession {
            session_id: "1@a.example".into(),
            transactions: vec![SspTransaction {
                mode: crate::ssp::Mode::Request,
                transaction_id: "x1".into(),
                primitive: p.to_element(),
            }],
        })
        .encode();
        let text = String::from_utf8(doc.clone()).unwrap();
        assert!(text.contains("WV-TRC1.2"), "{text}");
        let SspMessage::Session(s) = SspMessage::decode(&doc, &crate::Limits::default()).unwrap()
        else {
            panic!("a Session")
        };
        let got = &s.transactions[0].primitive;
        assert!(SusPrimitive::is_sus(got));
        let back = SusPrimitive::from_element(got).unwrap();
        assert_eq!(back, p);
        assert_eq!(back.body, body);
    }

    #[test]
    fn an_answer_keeps_its_csp_descriptor_and_an_ssp_primitive_is_not_relayed() {
        let p = SusPrimitive {
            version: Version::V1_3,
            user_session_id: Some("S1".into()),
            meta: None,
            csp_mode: TransactionMode::Response,
            csp_transaction_id: Some("s4".into()),
            poll: Some(true),
            body: Element::new("Status").with(
                Element::new("Result")
                    .with_text("Code", "200")
                    .with(Element::new("PresenceSubList")),
            ),
        };
        let e = p.to_element();
        assert_eq!(
            e.path(&["Result", "PresenceSubList"]).unwrap().xmlns(),
            Some(Version::V1_3.pa_ns())
        );
        assert_eq!(SusPrimitive::from_element(&e).unwrap(), p);
        assert!(!SusPrimitive::is_sus(&Element::new("SendMessageRequest")));
        assert!(SusPrimitive::from_element(&Element::new("Login-Request")).is_err());
    }
}
