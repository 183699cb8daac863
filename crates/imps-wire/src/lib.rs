//! `imps-wire` is the only place in impsd that knows what CSP looks like on
//! the wire. It turns XML or WBXML bytes of CSP 1.1, 1.2 and 1.3 into an
//! element tree and a typed [`Message`] envelope, and back again.
//!
//! It must never do I/O, spawn tasks or read the clock: bytes in, values
//! out, with every size, depth and count bounded by [`Limits`]. Hostile input
//! returns a [`WireError`]; it never panics and never allocates without
//! bound.

pub mod cir;
pub mod csp;
pub mod element;
pub mod error;
#[doc(hidden)]
pub mod examples;
pub mod limits;
pub mod message;
pub mod primitive;
pub mod push;
pub mod ssp;
pub mod ssp_groups;
pub mod ssp_im;
pub mod ssp_presence;
pub mod ssp_search;
pub mod ssp_sus;
pub mod version;
pub mod wbxml;
pub mod xml;

pub use element::{Attr, Element, Name};
pub use error::WireError;
pub use limits::Limits;
pub use message::{Encoding, Message, SessionType, Transaction, TransactionMode};
pub use primitive::PrimitiveKind;
pub use push::SharedBody;
pub use version::Version;

/// Decodes one CSP document in the given encoding into a [`Message`].
pub fn decode(bytes: &[u8], encoding: Encoding, limits: &Limits) -> Result<Message, WireError> {
    let (root, hint) = match encoding {
        Encoding::Xml => (xml::decode(bytes, limits)?, None),
        Encoding::Wbxml => {
            let doc = wbxml::decode(bytes, limits)?;
            (doc.root, doc.version)
        }
    };
    Message::from_element(root, hint)
}

/// Encodes a [`Message`] in the given encoding, in the message's own version.
pub fn encode(msg: &Message, encoding: Encoding) -> Result<Vec<u8>, WireError> {
    let root = msg.to_element();
    match encoding {
        Encoding::Xml => Ok(xml::encode(&root)),
        Encoding::Wbxml => wbxml::encode(&root, msg.version),
    }
}
