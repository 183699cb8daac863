//! The CSP envelope: `WV-CSP-Message / Session / Transaction*`.
//!
//! The envelope is typed; the primitive inside `TransactionContent` stays
//! an [`Element`]. Namespaces of the CSP, TRC and PA vocabularies are taken
//! off on decode and put back on encode for the message's version, so one
//! model encodes to any version. Vendor namespaces are left alone.

use crate::element::{bool_str, parse_bool};
use crate::{Element, PrimitiveKind, Version, WireError};

/// XML or WBXML.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    Xml,
    Wbxml,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionType {
    Inband,
    Outband,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransactionMode {
    Request,
    Response,
}

/// One transaction: its descriptor and the primitive it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    pub mode: TransactionMode,
    /// Absent in a client's Polling-Request (Android), present everywhere else.
    pub id: Option<String>,
    /// 1.3 segmentation descriptor, kept as an element.
    pub segment_info: Option<Element>,
    /// The primitive element (`Login-Request`, `Status`, ...).
    pub body: Element,
    /// `ExtBlock` elements and anything else beside the content.
    pub ext: Vec<Element>,
}

impl Transaction {
    pub fn request(id: impl Into<String>, body: Element) -> Transaction {
        Transaction {
            mode: TransactionMode::Request,
            id: Some(id.into()),
            segment_info: None,
            body,
            ext: Vec::new(),
        }
    }

    pub fn response(id: Option<String>, body: Element) -> Transaction {
        Transaction {
            mode: TransactionMode::Response,
            id,
            segment_info: None,
            body,
            ext: Vec::new(),
        }
    }

    /// The primitive, when it is one we know.
    pub fn kind(&self) -> Option<PrimitiveKind> {
        PrimitiveKind::from_name(&self.body.name)
    }
}

/// One `WV-CSP-Message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub version: Version,
    pub session_type: SessionType,
    pub session_id: Option<String>,
    pub transactions: Vec<Transaction>,
    /// The Poll flag: more server transactions are waiting.
    pub poll: Option<bool>,
    /// The CIR flag (1.2+): F tells the client its CIR channel is down.
    pub cir: Option<bool>,
    /// Unknown elements in `Session` or `SessionDescriptor`, kept.
    pub session_extra: Vec<Element>,
}

impl Message {
    /// A message with one transaction. Inband when a session ID is given.
    pub fn single(version: Version, session_id: Option<String>, tx: Transaction) -> Message {
        Message {
            version,
            session_type: if session_id.is_some() {
                SessionType::Inband
            } else {
                SessionType::Outband
            },
            session_id,
            transactions: vec![tx],
            poll: None,
            cir: None,
            session_extra: Vec::new(),
        }
    }

    /// Reads a message from its root element. The version comes from the
    /// root's namespace; `hint` (the WBXML public id) is used only when the
    /// namespace is missing or unknown, because real clients get the
    /// public id wrong more often than the namespace.
    pub fn from_element(mut root: Element, hint: Option<Version>) -> Result<Message, WireError> {
        if root.name != "WV-CSP-Message" {
            return Err(WireError::NotCsp(format!("root element is {}", root.name)));
        }
        // A prefixed root (`<wv:WV-CSP-Message xmlns:wv=...>`) declares
        // its namespace under a prefix; use any CSP namespace declared.
        let declared = root.xmlns().map(str::to_string).or_else(|| {
            root.attrs
                .iter()
                .find(|a| {
                    a.name.starts_with("xmlns:") && Version::from_namespace(&a.value).is_some()
                })
                .map(|a| a.value.clone())
        });
        let version = match declared.as_deref() {
            Some(ns) => match Version::from_namespace(ns) {
                Some(v) => v,
                None => hint.ok_or_else(|| WireError::UnsupportedVersion(ns.to_string()))?,
            },
            None => hint.ok_or_else(|| WireError::UnsupportedVersion("no namespace".into()))?,
        };
        let mut session = root
            .take_child("Session")
            .ok_or_else(|| WireError::Structure("WV-CSP-Message has no Session".into()))?;
        let mut msg = Message {
            version,
            session_type: SessionType::Outband,
            session_id: None,
            transactions: Vec::new(),
            poll: None,
            cir: None,
            session_extra: Vec::new(),
        };
        for child in std::mem::take(&mut session.children) {
            match child.name.as_str() {
                "SessionDescriptor" => msg.read_descriptor(child),
                "Transaction" => {
                    let (tx, poll) = read_transaction(child)?;
                    if poll.is_some() && msg.poll.is_none() {
                        msg.poll = poll;
                    }
                    msg.transactions.push(tx);
                }
                "Poll" => msg.poll = parse_bool(&child.text),
                "CIR" => msg.cir = parse_bool(&child.text),
                _ => msg.session_extra.push(child),
            }
        }
        if msg.transactions.is_empty() {
            return Err(WireError::Structure("Session has no Transaction".into()));
        }
        Ok(msg)
    }

    fn read_descriptor(&mut self, d: Element) {
        for c in d.children {
            match c.name.as_str() {
                "SessionType" => {
                    self.session_type = if c.text.trim().eq_ignore_ascii_case("inband") {
                        SessionType::Inband
                    } else {
                        SessionType::Outband
                    }
                }
                "SessionID" => self.session_id = Some(c.text.trim().to_string()),
                _ => self.session_extra.push(c),
            }
        }
    }

    /// Builds the root element for this message's version.
    pub fn to_element(&self) -> Element {
        let v = self.version;
        let mut sd = Element::new("SessionDescriptor").with_text(
            "SessionType",
            match self.session_type {
                SessionType::Inband => "Inband",
                SessionType::Outband => "Outband",
            },
        );
        if let Some(id) = &self.session_id {
            sd = sd.with_text("SessionID", id.clone());
        }
        let mut session = Element::new("Session").with(sd);
        for (i, tx) in self.transactions.iter().enumerate() {
            // CSP 1.1 carries Poll in the (first) TransactionDescriptor.
            let poll = if v == Version::V1_1 && i == 0 {
                self.poll
            } else {
                None
            };
            session.children.push(write_transaction(tx, v, poll));
        }
        if v != Version::V1_1 {
            if let Some(p) = self.poll {
                session = session.with_text("Poll", bool_str(p));
            }
            if let Some(c) = self.cir {
                session = session.with_text("CIR", bool_str(c));
            }
        }
        session.children.extend(self.session_extra.iter().cloned());
        Element::new("WV-CSP-Message")
            .with_attr("xmlns", v.csp_ns())
            .with(session)
    }
}

fn read_transaction(mut t: Element) -> Result<(Transaction, Option<bool>), WireError> {
    let mut mode = TransactionMode::Request;
    let mut id = None;
    let mut segment_info = None;
    let mut poll = None;
    if let Some(d) = t.take_child("TransactionDescriptor") {
        for c in d.children {
            match c.name.as_str() {
                "TransactionMode" if c.text.trim().eq_ignore_ascii_case("response") => {
                    mode = TransactionMode::Response;
                }
                "TransactionID" => id = Some(c.text.trim().to_string()),
                "SegmentInfo" => segment_info = Some(c),
                "Poll" => poll = parse_bool(&c.text),
                _ => {}
            }
        }
    }
    let mut content = t
        .take_child("TransactionContent")
        .ok_or_else(|| WireError::Structure("Transaction has no TransactionContent".into()))?;
    if content.children.is_empty() {
        return Err(WireError::Structure("TransactionContent is empty".into()));
    }
    let mut body = content.children.swap_remove(0);
    strip_csp_namespaces(&mut body);
    Ok((
        Transaction {
            mode,
            id,
            segment_info,
            body,
            ext: t.children,
        },
        poll,
    ))
}

fn write_transaction(tx: &Transaction, v: Version, poll: Option<bool>) -> Element {
    let mut d = Element::new("TransactionDescriptor").with_text(
        "TransactionMode",
        match tx.mode {
            TransactionMode::Request => "Request",
            TransactionMode::Response => "Response",
        },
    );
    if let Some(id) = &tx.id {
        d = d.with_text("TransactionID", id.clone());
    }
    d = d.with_opt(tx.segment_info.clone());
    if let Some(p) = poll {
        d = d.with_text("Poll", bool_str(p));
    }
    let mut body = tx.body.clone();
    add_pa_namespace(&mut body, v);
    let content = Element::new("TransactionContent")
        .with_attr("xmlns", v.trc_ns())
        .with(body);
    let mut t = Element::new("Transaction").with(d).with(content);
    t.children.extend(tx.ext.iter().cloned());
    t
}

/// Removes `xmlns` attributes that name a CSP vocabulary of any version.
fn strip_csp_namespaces(e: &mut Element) {
    e.attrs
        .retain(|a| !(a.name == "xmlns" && Version::from_namespace(&a.value).is_some()));
    for c in &mut e.children {
        strip_csp_namespaces(c);
    }
}

/// Puts the PA namespace on every `PresenceSubList`, as real clients and
/// servers write it.
pub(crate) fn add_pa_namespace(e: &mut Element, v: Version) {
    if e.name == "PresenceSubList" && e.xmlns().is_none() {
        e.set_attr("xmlns", v.pa_ns());
    }
    for c in &mut e.children {
        add_pa_namespace(c, v);
    }
}
