//! WBXML codec for CSP 1.1, 1.2 and 1.3 documents.
//!
//! WBXML (WAP Binary XML 1.3) replaces each known element name and each
//! common value by a token. The token tables come from the project's
//! reference data (`tables/*.tsv`, see `tables.rs` for how they are used).
//!
//! **Decoding** is lenient where real clients differ and strict where bytes
//! are malformed:
//! * header: WBXML version 1-3, numeric public id 0x10/0x11/0x12 or public
//!   id 0 with an FPI in the string table (libwbxml writes that for 1.2),
//!   charset UTF-8 (106) or 0 ("unknown", read as UTF-8);
//! * tags from the union of all versions' tables; a tag token no table
//!   knows becomes an element named `UnknownTag-PP-TT` (page, token), so
//!   the rest of the message still reads and higher layers ignore it as
//!   they ignore any unknown element;
//! * text is every STR_I, STR_T, ENTITY, EXT_T_0 and OPAQUE piece of an
//!   element concatenated in order, kept exactly (no trimming); OPAQUE is
//!   converted as described in `opaque.rs` (integers to decimal, packed
//!   dates to `yyyymmddThhmmssZ`, anything else to base64);
//! * every read is bounds-checked and every [`Limits`] field enforced
//!   (attributes count toward `max_elements`, and the text of the whole
//!   tree may not exceed `max_size`, which stops string-table expansion
//!   bombs); there is no recursion, and no allocation is sized from a
//!   length field.
//!
//! **Encoding** always writes WBXML 1.3, the numeric public id, charset
//! UTF-8, and a string table only when a LITERAL needs one. Empty elements
//! are written without the content bit. Integers on the Android integer
//! elements are OPAQUE; dates are inline strings, because the Android
//! decoder ignores OPAQUE dates and libwbxml writes strings too.

mod decode;
mod encode;
mod envelope;
mod opaque;
mod tables;

pub(crate) use tables::known_name;

use crate::{Element, Limits, Version, WireError};

/// A decoded WBXML document: the root and the version its public id names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub root: Element,
    /// The version named by the public id (numeric or FPI), None when the
    /// id is unknown. The root's `xmlns` is more trustworthy (see
    /// [`crate::Message::from_element`]).
    pub version: Option<Version>,
}

/// Decodes a WBXML document into an element tree.
pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Document, WireError> {
    decode::decode(bytes, limits)
}

pub use envelope::Envelope;

/// The envelope of a WBXML message, read without building its tree;
/// `None` when it cannot be read that way (decode it whole).
pub fn envelope(bytes: &[u8], limits: &Limits) -> Option<Envelope> {
    envelope::envelope(bytes, limits)
}

/// Encodes an element tree as a WBXML document of `version`.
pub fn encode(root: &Element, version: Version) -> Result<Vec<u8>, WireError> {
    encode::encode(root, version)
}

pub use encode::EncodedTree;

/// Encodes a subtree on its own for documents of `version` where code
/// page `entry_page` is current; None when it needs the string table.
pub(crate) fn encode_tree(
    tree: &Element,
    version: Version,
    entry_page: u8,
) -> Result<Option<EncodedTree>, WireError> {
    encode::encode_tree(tree, version, entry_page)
}

/// Whether `text` as the content of an element `name` is written as an
/// inline string of its own bytes.
pub(crate) fn text_as_is(version: Version, name: &str, text: &str) -> bool {
    encode::text_as_is(version, name, text)
}

/// Encodes `root` with `tree` written where its element `at` stands; None
/// when another code page is current there.
pub(crate) fn encode_spliced(
    root: &Element,
    version: Version,
    at: &Element,
    tree: &EncodedTree,
) -> Result<Option<Vec<u8>>, WireError> {
    encode::encode_spliced(root, version, at, tree)
}

/// Global tokens (WBXML 1.3, section 7.1), valid on every code page.
mod token {
    pub const SWITCH_PAGE: u8 = 0x00;
    pub const END: u8 = 0x01;
    pub const ENTITY: u8 = 0x02;
    pub const STR_I: u8 = 0x03;
    pub const LITERAL: u8 = 0x04;
    pub const EXT_T_0: u8 = 0x80;
    pub const STR_T: u8 = 0x83;
    pub const OPAQUE: u8 = 0xC3;

    /// Tag byte flags.
    pub const HAS_CONTENT: u8 = 0x40;
    pub const HAS_ATTRS: u8 = 0x80;

    /// The WBXML version byte we write (1.3).
    pub const WBXML_1_3: u8 = 0x03;
    /// IANA MIBenum of UTF-8.
    pub const UTF8: u32 = 106;
}
