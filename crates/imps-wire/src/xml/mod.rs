//! XML codec for CSP documents: bytes to an [`Element`] tree and back.
//!
//! The decoder sits on quick-xml's pull reader and builds the tree with an
//! explicit stack, so nesting depth can never exhaust the call stack. It is
//! deliberately strict about what could hurt us and lenient about what real
//! clients get wrong:
//!
//! * Every [`Limits`] bound is a typed error. `max_size` is checked before
//!   any parsing, `max_depth` and `max_elements` as each start tag is read,
//!   `max_text` on each finished text value and each attribute value.
//! * Any `<!DOCTYPE` is refused ([`WireError::Doctype`]): CSP needs no DTD,
//!   and refusing it removes entity expansion (billion laughs) and external
//!   entities (XXE) in one stroke. Entity references other than the five
//!   predefined ones and numeric character references are errors.
//! * The XML declaration, comments and processing instructions are skipped;
//!   CDATA sections are text. Line ends are normalised (`\r\n`, `\r` to
//!   `\n`) as XML 1.0 requires.
//! * The document must be UTF-8 (a BOM is allowed). A declaration naming
//!   another encoding is accepted only when the bytes are pure ASCII, where
//!   every ASCII-compatible encoding agrees.
//! * Element names keep only their local part (`wv:Login-Request` becomes
//!   `Login-Request`), because clients match on local names; prefixes are
//!   not resolved. Attribute names are kept as written, prefix included
//!   (`xmlns:xsi`, `xsi:type`), in document order.
//! * Text: a leaf keeps its text exactly as written, after unescaping; it is
//!   **not** trimmed (readers trim where a value is parsed, see
//!   [`Element::child_text`]). An element with child elements drops text
//!   that is only whitespace (indentation). CSP has no mixed content; if a
//!   sender mixes non-whitespace text with children anyway, all of the
//!   element's character data is concatenated into `text` and the children
//!   are kept, and the encoder writes that text before the children.
//! * A document that ends inside an element or inside markup (a tag,
//!   comment, CDATA section) is [`WireError::Truncated`]; every other
//!   well-formedness fault (mismatched end tag, content after the root, no
//!   root, bad UTF-8, undefined entity, duplicate attribute, a name XML
//!   does not allow) is [`WireError::Xml`] with an approximate byte offset
//!   in the message.
//!
//! The encoder writes UTF-8 with no XML declaration, as the Android client
//! does, empty elements as `<X/>`, attributes double-quoted in their order.
//! Text escapes `&`, `<` and `>` (and `\r` as `&#13;` so it survives line-end
//! normalisation); attribute values also escape `"`, tab and newlines, which
//! attribute-value normalisation would otherwise turn into spaces.
//! Characters XML 1.0 cannot carry at all (C0 controls other than tab, LF
//! and CR; U+FFFE; U+FFFF) are written as U+FFFD, because a client parser
//! that meets one rejects the whole message. Names are written as they are:
//! the decoder only produces valid names, and the rest of impsd builds
//! elements from constants.

use crate::{Element, Limits, WireError};

mod decode;
mod encode;

/// Decodes one XML document into its root element, within `limits`.
pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Element, WireError> {
    decode::decode(bytes, limits)
}

/// Encodes an element tree as an XML document (UTF-8, no declaration).
pub fn encode(root: &Element) -> Vec<u8> {
    encode::encode(root)
}

/// Encodes `root` with the bytes of an element encoded before (by
/// [`encode`]) written where the element `at` of `root` stands.
pub(crate) fn encode_spliced(root: &Element, at: &Element, bytes: &[u8]) -> Vec<u8> {
    encode::encode_spliced(root, Some((at, bytes)))
}
