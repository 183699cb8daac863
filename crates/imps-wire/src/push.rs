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
        if let Some(done) = self.encoded(version, encoding) {
            // The envelope with an empty stand-in where the primitive goes.
            let mut m = Message::single(
                version,
                Some(session_id.to_string()),
                Transaction::request(tid, Element::default()),
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
            Transaction::request(tid, self.body.clone()),
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

/// The primitive's place in an envelope built by [`Message::to_element`].
fn stand_in(root: &Element) -> Option<&Element> {
    root.path(&["Session", "Transaction", "TransactionContent"])?
        .children
        .first()
}
