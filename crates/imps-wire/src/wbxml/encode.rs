//! Element tree to WBXML bytes.
//!
//! Walks the tree with an explicit stack (trees built in code have no depth
//! limit, so no recursion) and writes straight into one output buffer. The
//! string table comes before the body in WBXML but is only known after it;
//! the header is written assuming an empty table, which is what almost
//! every CSP document needs, and the table is spliced in at the end in the
//! rare case a LITERAL was written.

use std::collections::HashMap;

use super::opaque;
use super::tables::{self, ElementCode, EncodeTable};
use super::token::*;
use crate::{Element, Version, WireError};

/// Starting capacity: a typical CSP message encodes to a few hundred bytes,
/// so this avoids every reallocation for most and a few for the rest.
const INITIAL_CAPACITY: usize = 512;

/// Offset of the string-table length byte in the header we write: version,
/// public id (one byte: 0x10-0x12), charset (one byte: 0x6A).
const STRTBL_LEN_AT: usize = 3;

pub(super) fn encode(root: &Element, version: Version) -> Result<Vec<u8>, WireError> {
    let mut e = Encoder::new(version, 0);
    e.header(version);
    e.tree(root, None)?;
    e.finish(root)
}

/// A subtree encoded on its own, to be spliced into documents of the same
/// version (see [`encode_spliced`]): its bytes, the code page it starts
/// on and the one it leaves current.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedTree {
    bytes: Vec<u8>,
    entry_page: u8,
    exit_page: u8,
}

impl EncodedTree {
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The encoded bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The code page current after these bytes.
    pub(crate) fn exit_page(&self) -> u8 {
        self.exit_page
    }

    /// Bytes written as they are where code page 0 is current, leaving
    /// `exit_page` current: a stand-in for a primitive, to find where its
    /// bytes go in an envelope.
    pub(crate) fn stand_in(bytes: Vec<u8>, exit_page: u8) -> EncodedTree {
        EncodedTree {
            bytes,
            entry_page: 0,
            exit_page,
        }
    }
}

/// Whether `text` as the content of an element `name` of `version` is
/// written as one inline string of its own bytes (not an OPAQUE integer,
/// not a value token, no NUL to split it).
pub(super) fn text_as_is(version: Version, name: &str, text: &str) -> bool {
    if text.is_empty() || text.contains('\0') {
        return false;
    }
    let table = tables::encode_table(version);
    let int = table.element(name).int && opaque::int_to_bytes(text).is_some();
    !int && table.ext(text).is_none()
}

/// Encodes `tree` as it would be written inside a document of `version`
/// where the current code page is `entry_page`. None when it needs the
/// string table (a LITERAL name): its offsets depend on the rest of the
/// document, so such a tree is encoded in place.
pub(super) fn encode_tree(
    tree: &Element,
    version: Version,
    entry_page: u8,
) -> Result<Option<EncodedTree>, WireError> {
    let mut e = Encoder::new(version, entry_page);
    e.tree(tree, None)?;
    if !e.strtbl.is_empty() {
        return Ok(None);
    }
    Ok(Some(EncodedTree {
        bytes: e.out,
        entry_page,
        exit_page: e.page,
    }))
}

/// Encodes `root` as [`encode`] does, writing the bytes of `tree` where
/// the element `at` (an element of `root`, found by address) stands.
/// None when the code page there is not the one `tree` was encoded for.
pub(super) fn encode_spliced(
    root: &Element,
    version: Version,
    at: &Element,
    tree: &EncodedTree,
) -> Result<Option<Vec<u8>>, WireError> {
    let mut e = Encoder::new(version, 0);
    e.header(version);
    if !e.tree(root, Some((at, tree)))? {
        return Ok(None);
    }
    e.finish(root).map(Some)
}

const MB_MAX: usize = 5;

/// Appends `v` as an mb_u_int32.
fn mb_u32(out: &mut Vec<u8>, v: u32) {
    let mut buf = [0u8; MB_MAX];
    let mut i = MB_MAX - 1;
    buf[i] = (v & 0x7F) as u8;
    let mut rest = v >> 7;
    while rest != 0 {
        i -= 1;
        buf[i] = 0x80 | (rest & 0x7F) as u8;
        rest >>= 7;
    }
    out.extend_from_slice(&buf[i..]);
}

fn encode_error(el: &Element, what: &str) -> WireError {
    WireError::Encode {
        element: el.name.to_string(),
        what: what.to_string(),
    }
}

struct Encoder {
    out: Vec<u8>,
    table: &'static EncodeTable,
    /// Current tag code page (a property of the stream, not of nesting).
    page: u8,
    strtbl: Vec<u8>,
    /// Offsets of names already in the string table.
    literals: HashMap<String, u32>,
}

impl Encoder {
    fn new(version: Version, page: u8) -> Encoder {
        Encoder {
            out: Vec::with_capacity(INITIAL_CAPACITY),
            table: tables::encode_table(version),
            page,
            strtbl: Vec::new(),
            literals: HashMap::new(),
        }
    }

    fn header(&mut self, version: Version) {
        self.out.push(WBXML_1_3);
        mb_u32(&mut self.out, version.wbxml_public_id());
        mb_u32(&mut self.out, UTF8);
        debug_assert_eq!(self.out.len(), STRTBL_LEN_AT);
        self.out.push(0); // string table length, fixed in `finish` if needed
    }

    /// Writes `root` and its subtree. With `splice`, the element found at
    /// that address is not walked: the encoded tree's bytes stand in its
    /// place. False when the splice could not be made (another code page
    /// is current there).
    fn tree(
        &mut self,
        root: &Element,
        splice: Option<(&Element, &EncodedTree)>,
    ) -> Result<bool, WireError> {
        let mut stack: Vec<(&Element, usize)> = Vec::new();
        if self.open(root)? {
            stack.push((root, 0));
        }
        while let Some(top) = stack.last_mut() {
            let (el, next) = *top;
            match el.children.get(next) {
                Some(child) => {
                    top.1 += 1;
                    if let Some((at, tree)) = splice
                        && std::ptr::eq(child, at)
                    {
                        if self.page != tree.entry_page {
                            return Ok(false);
                        }
                        self.out.extend_from_slice(&tree.bytes);
                        self.page = tree.exit_page;
                        continue;
                    }
                    if self.open(child)? {
                        stack.push((child, 0));
                    }
                }
                None => {
                    self.out.push(END);
                    stack.pop();
                }
            }
        }
        Ok(true)
    }

    /// Puts the string table, if any, into the header.
    fn finish(mut self, root: &Element) -> Result<Vec<u8>, WireError> {
        if !self.strtbl.is_empty() {
            let len = u32::try_from(self.strtbl.len())
                .map_err(|_| encode_error(root, "string table over 4 GiB"))?;
            let mut head = Vec::with_capacity(MB_MAX + self.strtbl.len());
            mb_u32(&mut head, len);
            head.extend_from_slice(&self.strtbl);
            self.out.splice(STRTBL_LEN_AT..=STRTBL_LEN_AT, head);
        }
        Ok(self.out)
    }

    /// Writes an element's start tag, attributes and text. Returns true
    /// when it has children, which the caller writes before its END; an
    /// element with text only gets its END here.
    fn open(&mut self, el: &Element) -> Result<bool, WireError> {
        let has_content = !el.text.is_empty() || !el.children.is_empty();
        let mut flags = 0;
        if has_content {
            flags |= HAS_CONTENT;
        }
        if !el.attrs.is_empty() {
            flags |= HAS_ATTRS;
        }
        let code = self.table.element(&el.name);
        match code.tag {
            Some((page, token)) => {
                if page != self.page {
                    self.out.extend_from_slice(&[SWITCH_PAGE, page]);
                    self.page = page;
                }
                self.out.push(token | flags);
            }
            None => {
                let index = self.literal(&el.name, el)?;
                self.out.push(LITERAL | flags);
                mb_u32(&mut self.out, index);
            }
        }
        if !el.attrs.is_empty() {
            self.attributes(el)?;
        }
        if !el.text.is_empty() {
            self.text(el, code);
        }
        if el.children.is_empty() {
            if has_content {
                self.out.push(END);
            }
            Ok(false)
        } else {
            Ok(true)
        }
    }

    /// `xmlns` with a known prefix becomes the attribute-start token and
    /// the rest of the value; any other attribute is a LITERAL name.
    fn attributes(&mut self, el: &Element) -> Result<(), WireError> {
        for a in &el.attrs {
            let value = match (a.name == "xmlns")
                .then(|| self.table.xmlns_start(&a.value))
                .flatten()
            {
                Some((token, rest)) => {
                    self.out.push(token);
                    rest
                }
                None => {
                    let index = self.literal(&a.name, el)?;
                    self.out.push(LITERAL);
                    mb_u32(&mut self.out, index);
                    a.value.as_str()
                }
            };
            self.inline(value);
        }
        self.out.push(END);
        Ok(())
    }

    /// Element text: an OPAQUE integer, a value token, or an inline string.
    fn text(&mut self, el: &Element, code: ElementCode) {
        let int = code.int.then(|| opaque::int_to_bytes(&el.text)).flatten();
        if let Some((bytes, len)) = int {
            self.out.push(OPAQUE);
            self.out.push(len as u8);
            self.out.extend_from_slice(&bytes[..len]);
            return;
        }
        if let Some(index) = self.table.ext(&el.text) {
            self.out.push(EXT_T_0);
            mb_u32(&mut self.out, index);
            return;
        }
        self.inline(&el.text);
    }

    /// A string as STR_I. STR_I cannot hold NUL, so each NUL character is
    /// written as ENTITY 0 between the pieces.
    fn inline(&mut self, s: &str) {
        for (i, piece) in s.split('\0').enumerate() {
            if i > 0 {
                self.out.extend_from_slice(&[ENTITY, 0]);
            }
            if !piece.is_empty() {
                self.out.push(STR_I);
                self.out.extend_from_slice(piece.as_bytes());
                self.out.push(0);
            }
        }
    }

    /// Offset of `name` in the string table, adding it the first time.
    fn literal(&mut self, name: &str, el: &Element) -> Result<u32, WireError> {
        if let Some(&offset) = self.literals.get(name) {
            return Ok(offset);
        }
        if name.contains('\0') {
            return Err(encode_error(el, "a name contains a NUL character"));
        }
        let offset = u32::try_from(self.strtbl.len())
            .map_err(|_| encode_error(el, "string table over 4 GiB"))?;
        self.strtbl.extend_from_slice(name.as_bytes());
        self.strtbl.push(0);
        self.literals.insert(name.to_string(), offset);
        Ok(offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mb_u32_encodings() {
        for (v, bytes) in [
            (0u32, &[0x00][..]),
            (0x7F, &[0x7F]),
            (0x80, &[0x81, 0x00]),
            (0xA5, &[0x81, 0x25]),
            (u32::MAX, &[0x8F, 0xFF, 0xFF, 0xFF, 0x7F]),
        ] {
            let mut out = Vec::new();
            mb_u32(&mut out, v);
            assert_eq!(out, bytes, "{v:#x}");
        }
    }
}
