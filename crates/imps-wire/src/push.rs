//! One server-originated primitive on its way to many sessions (a
//! presence change to its watchers, a group message to its members).
//!
//! What differs between the recipients' messages is the envelope: the
//! version's namespaces, the SessionID, the server TransactionID and the
//! Poll flag. The primitive itself is the same for every recipient of one
//! shape, so [`SharedBody`] keeps it once (queued by reference, not
//! cloned into each outbox) and encodes it once per (version, encoding);
//! each recipient's message is its own envelope with those bytes spliced
//! in. The bytes are the same as [`crate::encode`] of the whole message
//! (a property test in `tests/push_splice.rs` checks every version and
//! encoding): XML has no state across elements, and in WBXML the
//! envelope leaves code page 0 current before the primitive and writes no
//! string table. A primitive that needs the string table (a vendor
//! element without a token) is encoded whole for each recipient, as
//! before.

use std::sync::{Arc, OnceLock};

use crate::wbxml::EncodedTree;
use crate::{Element, Encoding, Message, Transaction, Version, WireError};

/// A primitive shared by every outbox it is queued in, with its encoded
/// bytes made at first need for each (version, encoding).
#[derive(Debug)]
pub struct SharedBody {
    body: Element,
    /// Indexed by [`slot`]; `None` inside: this body is encoded whole each
    /// time (it needs a string table, or does not encode at all).
    encoded: [OnceLock<Option<Encoded>>; 6],
}

#[derive(Debug)]
enum Encoded {
    Xml(Vec<u8>),
    Wbxml(EncodedTree),
}

fn slot(version: Version, encoding: Encoding) -> usize {
    let v = match version {
        Version::V1_1 => 0,
        Version::V1_2 => 1,
        Version::V1_3 => 2,
    };
    v * 2 + usize::from(encoding == Encoding::Wbxml)
}

impl SharedBody {
    pub fn new(body: Element) -> SharedBody {
        SharedBody {
            body,
            encoded: Default::default(),
        }
    }

    /// The primitive.
    pub fn body(&self) -> &Element {
        &self.body
    }

    /// The primitive, taken out when this is its last holder, else copied.
    pub fn into_body(self: Arc<Self>) -> Element {
        match Arc::try_unwrap(self) {
            Ok(s) => s.body,
            Err(shared) => shared.body.clone(),
        }
    }

    /// The whole message carrying this primitive as a server request to
    /// one session, encoded: byte for byte what [`crate::encode`] writes
    /// for `Message::single(version, Some(session_id),
    /// Transaction::request(tid, body))` with the Poll flag `poll`.
    pub fn encode_for(
        &self,
        version: Version,
        session_id: &str,
        tid: &str,
        poll: bool,
        encoding: Encoding,
    ) -> Result<Vec<u8>, WireError> {
        self.encode_as(Mode::Request, version, session_id, tid, poll, encoding)
    }

    /// As [`SharedBody::encode_for`], as the answer to the client's
    /// transaction `tid` (TransactionMode Response): what the server says
    /// the same way to many requests, such as a refusal under overload
    /// (issue 19), costs no element tree for its envelope.
    pub fn encode_answer_for(
        &self,
        version: Version,
        session_id: &str,
        tid: &str,
        poll: bool,
        encoding: Encoding,
    ) -> Result<Vec<u8>, WireError> {
        self.encode_as(Mode::Response, version, session_id, tid, poll, encoding)
    }

    fn encode_as(
        &self,
        mode: Mode,
        version: Version,
        session_id: &str,
        tid: &str,
        poll: bool,
        encoding: Encoding,
    ) -> Result<Vec<u8>, WireError> {
        if let Some(done) = self.encoded(version, encoding) {
            let (bytes, exit_page) = match done {
                Encoded::Xml(bytes) => (bytes.as_slice(), 0),
                Encoded::Wbxml(tree) => (tree.bytes(), tree.exit_page()),
            };
            if let Some(t) = template(mode, version, encoding, poll, exit_page)
                && fits_template(version, encoding, session_id, tid)
            {
                return Ok(t.fill(session_id, tid, bytes));
            }
            // The envelope with an empty stand-in where the primitive goes.
            let mut m = Message::single(
                version,
                Some(session_id.to_string()),
                mode.transaction(tid, Element::default()),
            );
            m.poll = Some(poll);
            let root = m.to_element();
            if let Some(at) = stand_in(&root) {
                let spliced = match done {
                    Encoded::Xml(bytes) => Some(crate::xml::encode_spliced(&root, at, bytes)),
                    Encoded::Wbxml(tree) => crate::wbxml::encode_spliced(&root, version, at, tree)?,
                };
                if let Some(bytes) = spliced {
                    return Ok(bytes);
                }
            }
        }
        let mut m = Message::single(
            version,
            Some(session_id.to_string()),
            mode.transaction(tid, self.body.clone()),
        );
        m.poll = Some(poll);
        crate::encode(&m, encoding)
    }

    fn encoded(&self, version: Version, encoding: Encoding) -> Option<&Encoded> {
        self.encoded[slot(version, encoding)]
            .get_or_init(|| {
                let mut body = self.body.clone();
                crate::message::add_pa_namespace(&mut body, version);
                match encoding {
                    Encoding::Xml => Some(Encoded::Xml(crate::xml::encode(&body))),
                    // The envelope before TransactionContent's child is
                    // all code page 0.
                    Encoding::Wbxml => crate::wbxml::encode_tree(&body, version, 0)
                        .ok()
                        .flatten()
                        .map(Encoded::Wbxml),
                }
            })
            .as_ref()
    }
}

impl From<Element> for SharedBody {
    fn from(body: Element) -> SharedBody {
        SharedBody::new(body)
    }
}

/// Whether the server sends the primitive (a push) or answers with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Request,
    Response,
}

impl Mode {
    fn transaction(self, tid: &str, body: Element) -> Transaction {
        match self {
            Mode::Request => Transaction::request(tid, body),
            Mode::Response => Transaction::response(Some(tid.to_string()), body),
        }
    }
}

/// The envelope of a push (or an answer) for one (version, encoding, Poll flag, code
/// page the primitive leaves current), encoded once and cut where the
/// SessionID, the TransactionID and the primitive go: a push is then
/// four copies and three inserts, with no element tree built for its
/// envelope (issue 19, the fan-out cost). Only IDs that are written as
/// they are ([`fits_template`]) are inserted; any other goes the long
/// way, and a test checks both against [`crate::encode`].
#[derive(Debug)]
struct Template {
    parts: [Box<[u8]>; 4],
}

impl Template {
    fn fill(&self, session_id: &str, tid: &str, body: &[u8]) -> Vec<u8> {
        let [a, b, c, d] = &self.parts;
        let len = a.len() + b.len() + c.len() + d.len() + session_id.len() + tid.len() + body.len();
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(a);
        out.extend_from_slice(session_id.as_bytes());
        out.extend_from_slice(b);
        out.extend_from_slice(tid.as_bytes());
        out.extend_from_slice(c);
        out.extend_from_slice(body);
        out.extend_from_slice(d);
        out
    }
}

/// Where the SessionID, the TransactionID and the primitive stand while a
/// template is made (IDs that are written as they are in both encodings).
const SID_MARK: &str = "zzSessionIDzz";
const TID_MARK: &str = "zzTransactionIDzz";
const BODY_MARK: &[u8] = b"\x01zzPrimitivezz\x01";

/// WBXML code pages a template is kept for (CSP uses fewer); XML's
/// templates go in the slot after them.
const PAGES: usize = 16;

static TEMPLATES: [OnceLock<Option<Template>>; 2 * 3 * 2 * (PAGES + 1)] =
    [const { OnceLock::new() }; 2 * 3 * 2 * (PAGES + 1)];

fn template(
    mode: Mode,
    version: Version,
    encoding: Encoding,
    poll: bool,
    exit_page: u8,
) -> Option<&'static Template> {
    let page = match encoding {
        Encoding::Xml => PAGES,
        Encoding::Wbxml if usize::from(exit_page) < PAGES => usize::from(exit_page),
        Encoding::Wbxml => return None,
    };
    let v = match version {
        Version::V1_1 => 0,
        Version::V1_2 => 1,
        Version::V1_3 => 2,
    };
    let m = usize::from(mode == Mode::Response);
    let slot = ((m * 3 + v) * 2 + usize::from(poll)) * (PAGES + 1) + page;
    TEMPLATES
        .get(slot)?
        .get_or_init(|| make_template(mode, version, encoding, poll, exit_page))
        .as_ref()
}

fn make_template(
    mode: Mode,
    version: Version,
    encoding: Encoding,
    poll: bool,
    exit_page: u8,
) -> Option<Template> {
    let mut m = Message::single(
        version,
        Some(SID_MARK.to_string()),
        mode.transaction(TID_MARK, Element::default()),
    );
    m.poll = Some(poll);
    let root = m.to_element();
    let at = stand_in(&root)?;
    let bytes = match encoding {
        Encoding::Xml => crate::xml::encode_spliced(&root, at, BODY_MARK),
        Encoding::Wbxml => {
            let mark = EncodedTree::stand_in(BODY_MARK.to_vec(), exit_page);
            crate::wbxml::encode_spliced(&root, version, at, &mark).ok()??
        }
    };
    let (a, rest) = cut(&bytes, SID_MARK.as_bytes())?;
    let (b, rest) = cut(rest, TID_MARK.as_bytes())?;
    let (c, d) = cut(rest, BODY_MARK)?;
    // Each mark exactly once, in that order.
    let marks = [SID_MARK.as_bytes(), TID_MARK.as_bytes(), BODY_MARK];
    if [a, b, c, d]
        .iter()
        .any(|p| marks.iter().any(|m| cut(p, m).is_some()))
    {
        return None;
    }
    Some(Template {
        parts: [a.into(), b.into(), c.into(), d.into()],
    })
}

/// `bytes` before and after the first `mark`.
fn cut<'b>(bytes: &'b [u8], mark: &[u8]) -> Option<(&'b [u8], &'b [u8])> {
    let at = bytes.windows(mark.len()).position(|w| w == mark)?;
    Some((&bytes[..at], &bytes[at + mark.len()..]))
}

/// Whether the SessionID and TransactionID are written as they are, as
/// the template's marks were: ASCII letters, digits and `.-_:` need no
/// escape in XML, and in WBXML must be neither an integer nor a value
/// token there.
fn fits_template(version: Version, encoding: Encoding, session_id: &str, tid: &str) -> bool {
    let plain = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'))
    };
    plain(session_id)
        && plain(tid)
        && (encoding == Encoding::Xml
            || (crate::wbxml::text_as_is(version, "SessionID", session_id)
                && crate::wbxml::text_as_is(version, "TransactionID", tid)))
}

/// The primitive's place in an envelope built by [`Message::to_element`].
fn stand_in(root: &Element) -> Option<&Element> {
    root.path(&["Session", "Transaction", "TransactionContent"])?
        .children
        .first()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every envelope shape has its template: pushes and shared answers
    /// with ordinary IDs never build an element tree for their envelope.
    #[test]
    fn every_shape_of_envelope_has_a_template() {
        for v in Version::ALL {
            for (mode, poll) in [Mode::Request, Mode::Response]
                .into_iter()
                .flat_map(|m| [(m, false), (m, true)])
            {
                assert!(
                    template(mode, v, Encoding::Xml, poll, 0).is_some(),
                    "{v} xml"
                );
                for page in 0..16u8 {
                    assert!(
                        template(mode, v, Encoding::Wbxml, poll, page).is_some(),
                        "{v} {mode:?} {page}"
                    );
                }
            }
            assert!(fits_template(v, Encoding::Wbxml, "0123456789abcdef", "s17"));
            assert!(!fits_template(v, Encoding::Xml, "a&b", "s1"));
        }
    }
}
