//! WBXML bytes to an element tree.
//!
//! A single loop over the token stream with an explicit stack of open
//! elements, so hostile nesting costs heap (bounded by `max_depth`), never
//! call stack. Every length read from the input is checked against what is
//! left of the input before it is used, and nothing is allocated from a
//! declared length: text grows only by bytes actually present (or by the
//! bounded expansion of tokens), and the whole tree's text is capped.

use super::token::*;
use super::{Document, opaque, tables};
use crate::{Attr, Element, Limits, Name, Version, WireError};

/// The longest mb_u_int32 is 5 bytes (35 bits, of which 32 are used).
const MB_MAX_BYTES: usize = 5;

pub(super) fn decode(bytes: &[u8], limits: &Limits) -> Result<Document, WireError> {
    if bytes.len() > limits.max_size {
        return Err(WireError::TooLarge {
            size: bytes.len(),
            limit: limits.max_size,
        });
    }
    let mut r = Reader { buf: bytes, pos: 0 };
    let (version, strtbl) = header(&mut r)?;
    let mut d = Decoder {
        r,
        strtbl,
        limits,
        table: tables::decode_table(version),
        budget: limits.max_size,
        used: 0,
        elements: 0,
    };
    let root = d.body()?;
    Ok(Document { root, version })
}

/// Bounds-checked cursor over the input.
pub(super) struct Reader<'a> {
    pub(super) buf: &'a [u8],
    pub(super) pos: usize,
}

impl<'a> Reader<'a> {
    fn truncated(&self) -> WireError {
        WireError::Truncated {
            offset: self.buf.len(),
        }
    }

    /// The next byte, not consumed.
    pub(super) fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    pub(super) fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    pub(super) fn byte(&mut self) -> Result<u8, WireError> {
        let b = *self.buf.get(self.pos).ok_or_else(|| self.truncated())?;
        self.pos += 1;
        Ok(b)
    }

    /// A multi-byte unsigned integer: 7 bits per byte, high bit set on all
    /// but the last byte.
    pub(super) fn mb_u32(&mut self) -> Result<u32, WireError> {
        let start = self.pos;
        let mut v: u32 = 0;
        for _ in 0..MB_MAX_BYTES {
            let b = self.byte()?;
            if v > (u32::MAX >> 7) {
                return Err(malformed(start, "mb_u_int32 overflows 32 bits"));
            }
            v = (v << 7) | u32::from(b & 0x7F);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(malformed(start, "mb_u_int32 longer than 5 bytes"))
    }

    /// `len` bytes, when that many are left.
    pub(super) fn take(&mut self, len: u32) -> Result<&'a [u8], WireError> {
        let len = usize::try_from(len).map_err(|_| self.truncated())?;
        let end = self.pos.checked_add(len).ok_or_else(|| self.truncated())?;
        let s = self
            .buf
            .get(self.pos..end)
            .ok_or_else(|| self.truncated())?;
        self.pos = end;
        Ok(s)
    }

    /// A NUL-terminated inline string (the NUL is consumed, not returned).
    pub(super) fn cstr(&mut self) -> Result<&'a [u8], WireError> {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        let n = find_nul(rest).ok_or_else(|| self.truncated())?;
        self.pos += n + 1;
        Ok(&rest[..n])
    }
}

/// Index of the first NUL byte. Inline strings are most of a text-heavy
/// document, so this scan matters. Most strings are short: the first 32
/// bytes are looked at eight at a time here (a word has a zero byte when
/// `(w - 0x01..01) & !w & 0x80..80` is not zero); memchr, which looks at
/// 16 or 32 bytes a step but costs a call, takes the rest.
#[inline]
fn find_nul(bytes: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut base = 0;
    for c in bytes.chunks_exact(8).take(4) {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let w = u64::from_le_bytes(w);
        if w.wrapping_sub(LO) & !w & HI != 0 {
            return c.iter().position(|&b| b == 0).map(|i| base + i);
        }
        base += 8;
    }
    memchr::memchr(0, &bytes[base..]).map(|i| base + i)
}

fn malformed(offset: usize, what: impl Into<String>) -> WireError {
    WireError::Wbxml {
        offset,
        what: what.into(),
    }
}

/// Text at least this long is validated by simdutf8 (64 bytes a step with
/// SIMD); shorter text by std, which is as quick there and needs no call
/// through simdutf8's CPU dispatch.
const SIMD_UTF8_MIN: usize = 64;

/// Validates text as UTF-8.
#[inline]
fn utf8(bytes: &[u8], offset: usize) -> Result<&str, WireError> {
    let ok = if bytes.len() < SIMD_UTF8_MIN {
        std::str::from_utf8(bytes).ok()
    } else {
        simdutf8::basic::from_utf8(bytes).ok()
    };
    ok.ok_or_else(|| bad_utf8(bytes, offset))
}

/// The error for text that is not UTF-8, with std's account of where.
#[cold]
fn bad_utf8(bytes: &[u8], offset: usize) -> WireError {
    let what = match std::str::from_utf8(bytes) {
        Err(e) => format!("invalid UTF-8: {e}"),
        Ok(_) => "invalid UTF-8".to_string(),
    };
    malformed(offset, what)
}

/// The string starting at `offset` in the string table.
pub(super) fn table_str(strtbl: &[u8], offset: u32, at: usize) -> Result<&str, WireError> {
    let rest = usize::try_from(offset)
        .ok()
        .and_then(|o| strtbl.get(o..))
        .filter(|r| !r.is_empty())
        .ok_or_else(|| malformed(at, format!("string table offset {offset} out of range")))?;
    let n =
        find_nul(rest).ok_or_else(|| malformed(at, "string table entry is not NUL-terminated"))?;
    utf8(&rest[..n], at)
}

/// Reads the header; returns the version named by the public id and the
/// string table.
pub(super) fn header<'a>(r: &mut Reader<'a>) -> Result<(Option<Version>, &'a [u8]), WireError> {
    let wbxml_version = r.byte()?;
    // WBXML 1.0 (0x00) has no charset field, so its header reads differently.
    if !(0x01..=0x03).contains(&wbxml_version) {
        return Err(malformed(
            0,
            format!("unsupported WBXML version byte {wbxml_version:#04x}"),
        ));
    }
    let public_id = r.mb_u32()?;
    let fpi_index = if public_id == 0 {
        Some((r.pos, r.mb_u32()?))
    } else {
        None
    };
    let charset_at = r.pos;
    let charset = r.mb_u32()?;
    // 0 is "unknown"; every CSP client that writes it sends UTF-8.
    if charset != UTF8 && charset != 0 {
        return Err(malformed(
            charset_at,
            format!("charset {charset} is not UTF-8"),
        ));
    }
    let len = r.mb_u32()?;
    let strtbl = r.take(len)?;
    let version = match fpi_index {
        Some((at, index)) => Version::from_fpi(table_str(strtbl, index, at)?),
        None => Version::from_wbxml_public_id(public_id),
    };
    Ok((version, strtbl))
}

/// The decoder's work buffers, kept per thread between decodes so a
/// document does not pay for allocating and growing them each time. They
/// are empty between decodes, and what a thread keeps is bounded: room for
/// `SCRATCH_KEEP` elements each (about 100 KB). A buffer that grew past
/// that is freed, not shrunk: glibc serves large blocks with mmap, and a
/// shrunk one would stay mapped and fault its pages in again on every
/// large document (measured: 300 page faults per 5,000-entry list).
#[derive(Default)]
struct Scratch {
    stack: Vec<(Element, usize)>,
    done: Vec<Element>,
    value: String,
}

/// Room for this many elements per scratch vector is kept between decodes.
const SCRATCH_KEEP: usize = 1024;
/// Bytes of the attribute value buffer kept between decodes.
const VALUE_KEEP: usize = 256;

thread_local! {
    static SCRATCH: std::cell::Cell<Scratch> = const {
        std::cell::Cell::new(Scratch {
            stack: Vec::new(),
            done: Vec::new(),
            value: String::new(),
        })
    };
}

impl Scratch {
    fn take() -> Scratch {
        SCRATCH.try_with(|s| s.take()).unwrap_or_default()
    }

    /// Empties the vectors (an error leaves elements in them), bounds what
    /// they keep, and leaves them for the next decode on this thread.
    fn put_back(mut self) {
        self.stack.clear();
        self.done.clear();
        self.value.clear();
        if self.stack.capacity() > SCRATCH_KEEP {
            self.stack = Vec::new();
        }
        if self.done.capacity() > SCRATCH_KEEP {
            self.done = Vec::new();
        }
        if self.value.capacity() > VALUE_KEEP {
            self.value = String::new();
        }
        let _ = SCRATCH.try_with(|s| s.set(self));
    }
}

struct Decoder<'a, 'l> {
    r: Reader<'a>,
    strtbl: &'a [u8],
    limits: &'l Limits,
    table: &'static tables::DecodeTable,
    /// Bytes of text, attribute values and LITERAL names allowed in the
    /// whole tree: `max_size`, the bound an XML document carrying the same
    /// text would have to meet (its markup only adds to it). Without it,
    /// many STR_T or LITERAL references to one long string-table entry
    /// would be the WBXML form of an entity-expansion bomb, which the
    /// per-element `max_text` does not stop. It depends only on the tree,
    /// not on how it was encoded, so a tree that decoded once always
    /// decodes again after re-encoding.
    budget: usize,
    used: usize,
    elements: usize,
}

impl<'a> Decoder<'a, '_> {
    /// Charges `n` output bytes against the whole-tree budget.
    fn spend(&mut self, n: usize) -> Result<(), WireError> {
        self.used = self.used.saturating_add(n);
        if self.used > self.budget {
            return Err(WireError::TooLarge {
                size: self.used,
                limit: self.budget,
            });
        }
        Ok(())
    }

    /// The token stream after the header: exactly one root element.
    fn body(&mut self) -> Result<Element, WireError> {
        // Open elements, each with where its children start in `done`:
        // finished elements wait there until their parent closes and takes
        // them in one exactly sized allocation, instead of each parent
        // growing its own vector one child at a time.
        let mut scratch = Scratch::take();
        let result = self.tokens(&mut scratch);
        scratch.put_back();
        result
    }

    fn tokens(&mut self, scratch: &mut Scratch) -> Result<Element, WireError> {
        let Scratch { stack, done, value } = scratch;
        let mut page: u8 = 0;
        let mut attr_page: u8 = 0;
        loop {
            let at = self.r.pos;
            let tok = self.r.byte()?;
            match tok {
                SWITCH_PAGE => page = self.r.byte()?,
                END => {
                    let (mut el, first) = stack
                        .pop()
                        .ok_or_else(|| malformed(at, "END outside an element"))?;
                    if done.len() > first {
                        el.children = done.split_off(first);
                    }
                    if stack.is_empty() {
                        return self.finish(el);
                    }
                    done.push(el);
                }
                ENTITY | STR_I | STR_T | EXT_T_0 | OPAQUE => {
                    let (el, _) = stack
                        .last_mut()
                        .ok_or_else(|| malformed(at, "text outside the root element"))?;
                    self.text_piece(tok, at, el)?;
                }
                _ if is_tag(tok) => {
                    let mut el = self.start_tag(tok, page, stack.len(), at)?;
                    if tok & HAS_ATTRS != 0 {
                        self.attributes(&mut el, &mut attr_page, value)?;
                        if stack.is_empty() {
                            // Trust the root's namespace over the public id
                            // for which table wins a clash (reference (a)).
                            if let Some(v) = el.xmlns().and_then(Version::from_namespace) {
                                self.table = tables::decode_table(Some(v));
                            }
                        }
                    }
                    if tok & HAS_CONTENT != 0 {
                        // Most elements are leaves with one text piece:
                        // those skip the trip through `stack`.
                        if self.r.peek().is_some_and(is_text) {
                            let at = self.r.pos;
                            let piece = self.r.byte()?;
                            self.text_piece(piece, at, &mut el)?;
                            if self.r.peek() == Some(END) {
                                self.r.pos += 1;
                                if stack.is_empty() {
                                    return self.finish(el);
                                }
                                done.push(el);
                                continue;
                            }
                        }
                        stack.push((el, done.len()));
                    } else if stack.is_empty() {
                        return self.finish(el);
                    } else {
                        done.push(el);
                    }
                }
                _ => return Err(unsupported(tok, at)),
            }
        }
    }

    /// After the root closes, only the end of input may follow.
    fn finish(&self, root: Element) -> Result<Element, WireError> {
        if self.r.at_end() {
            Ok(root)
        } else {
            Err(malformed(self.r.pos, "data after the root element"))
        }
    }

    /// Counts an element or attribute against `max_elements`. Attributes
    /// count too: each costs as little input as an empty element, so an
    /// attribute bomb must be bounded the same way.
    fn count_node(&mut self) -> Result<(), WireError> {
        self.elements += 1;
        if self.elements > self.limits.max_elements {
            return Err(WireError::TooManyElements {
                limit: self.limits.max_elements,
            });
        }
        Ok(())
    }

    /// Opens an element for a tag or LITERAL token; checks the count and
    /// depth limits first.
    fn start_tag(
        &mut self,
        tok: u8,
        page: u8,
        open: usize,
        at: usize,
    ) -> Result<Element, WireError> {
        self.count_node()?;
        if open >= self.limits.max_depth {
            return Err(WireError::TooDeep {
                limit: self.limits.max_depth,
            });
        }
        let name = if tok & 0x3F == LITERAL {
            let index = self.r.mb_u32()?;
            let name = table_str(self.strtbl, index, at)?;
            self.spend(name.len())?;
            Name::new(name)
        } else {
            match self.table.tag(page, tok & 0x3F) {
                Some(name) => Name::from_static(name),
                None => Name::from(format!("UnknownTag-{page:02X}-{:02X}", tok & 0x3F)),
            }
        };
        Ok(Element::new(name))
    }

    /// Attribute list after a tag with the attribute bit, up to its END.
    /// The value of the attribute being read is built in `value` (kept
    /// between decodes) and copied into the attribute once, exactly sized,
    /// when the next attribute or the END comes.
    fn attributes(
        &mut self,
        el: &mut Element,
        attr_page: &mut u8,
        value: &mut String,
    ) -> Result<(), WireError> {
        loop {
            let at = self.r.pos;
            let tok = self.r.byte()?;
            match tok {
                END => {
                    end_value(el, value);
                    return Ok(());
                }
                SWITCH_PAGE => *attr_page = self.r.byte()?,
                LITERAL => {
                    end_value(el, value);
                    self.count_node()?;
                    let index = self.r.mb_u32()?;
                    let name = table_str(self.strtbl, index, at)?;
                    self.spend(name.len())?;
                    el.attrs.push(Attr {
                        name: Name::new(name),
                        value: String::new(),
                    });
                }
                ENTITY | STR_I | STR_T | EXT_T_0 | OPAQUE => {
                    if el.attrs.is_empty() {
                        return Err(malformed(at, "attribute value before any attribute name"));
                    }
                    self.piece(tok, at, &el.name, value)?;
                }
                // Attribute-start tokens: 0x05-0x7F minus the global 0x40-0x44.
                0x05..=0x3F | 0x45..=0x7F => {
                    end_value(el, value);
                    self.count_node()?;
                    let prefix = (*attr_page == 0)
                        .then(|| tables::attr_start(tok))
                        .flatten()
                        .ok_or_else(|| {
                            malformed(
                                at,
                                format!(
                                    "unknown attribute token {tok:#04x} on page {attr_page:#04x}"
                                ),
                            )
                        })?;
                    self.spend(prefix.len())?;
                    el.attrs.push(Attr {
                        name: Name::from_static("xmlns"),
                        value: String::new(),
                    });
                    value.push_str(prefix);
                }
                _ => return Err(unsupported(tok, at)),
            }
        }
    }

    /// One piece of an element's text.
    fn text_piece(&mut self, tok: u8, at: usize, el: &mut Element) -> Result<(), WireError> {
        let Element { name, text, .. } = el;
        self.piece(tok, at, name, text)
    }

    /// Appends one text piece (STR_I, STR_T, ENTITY, EXT_T_0, OPAQUE) to
    /// `out`, the text of element `name` or one of its attribute values.
    fn piece(&mut self, tok: u8, at: usize, name: &str, out: &mut String) -> Result<(), WireError> {
        let before = out.len();
        match tok {
            STR_I => {
                let s = self.r.cstr()?;
                self.check_grow(out.len(), s.len())?;
                append(out, utf8(s, at + 1)?);
            }
            STR_T => {
                let offset = self.r.mb_u32()?;
                let s = table_str(self.strtbl, offset, at)?;
                self.check_grow(out.len(), s.len())?;
                append(out, s);
            }
            ENTITY => {
                let cp = self.r.mb_u32()?;
                let c = char::from_u32(cp)
                    .ok_or_else(|| malformed(at, format!("ENTITY {cp:#x} is not a character")))?;
                self.check_grow(out.len(), c.len_utf8())?;
                out.push(c);
            }
            EXT_T_0 => {
                let index = self.r.mb_u32()?;
                let s = self.table.ext(index).ok_or_else(|| {
                    malformed(at, format!("unknown value token EXT_T_0 {index:#x}"))
                })?;
                self.check_grow(out.len(), s.len())?;
                append(out, s);
            }
            _ => {
                let len = self.r.mb_u32()?;
                let bytes = self.r.take(len)?;
                // Converted text is at most 4/3 of bytes present in the
                // input, so the check can follow the growth.
                opaque::to_text(name, bytes, out);
                self.check_grow(before, out.len() - before)?;
            }
        }
        self.spend(out.len() - before)
    }

    /// Fails when `len` + `add` exceeds `max_text`.
    fn check_grow(&self, len: usize, add: usize) -> Result<(), WireError> {
        if len.saturating_add(add) > self.limits.max_text {
            return Err(WireError::TextTooLong {
                limit: self.limits.max_text,
            });
        }
        Ok(())
    }
}

/// Moves an attribute value built in `value` into the last attribute.
fn end_value(el: &mut Element, value: &mut String) {
    if let Some(attr) = el.attrs.last_mut()
        && !value.is_empty()
    {
        attr.value = value.as_str().to_owned();
        value.clear();
    }
}

/// Appends a text piece. Most elements have one piece, so the first is
/// copied into an exactly sized string, without the growth path (a string
/// that already has room, as the attribute value buffer, is appended to).
fn append(out: &mut String, piece: &str) {
    if out.capacity() == 0 {
        *out = piece.to_owned();
    } else {
        out.push_str(piece);
    }
}

/// Tokens that carry a piece of text.
pub(super) fn is_text(tok: u8) -> bool {
    matches!(tok, ENTITY | STR_I | STR_T | EXT_T_0 | OPAQUE)
}

/// Tag tokens (and LITERAL variants): low 6 bits 0x04 or above 0x04.
pub(super) fn is_tag(tok: u8) -> bool {
    tok & 0x3F >= LITERAL
}

/// Global tokens a CSP decoder does not handle: PI, EXT_I_*, EXT_T_1/2,
/// EXT_0..2 (none of them is used by any CSP implementation; the Android
/// parser rejects them too).
fn unsupported(tok: u8, at: usize) -> WireError {
    let what = match tok {
        0x40..=0x42 => "EXT_I_n",
        0x43 => "processing instruction (PI)",
        0x81 | 0x82 => "EXT_T_1/EXT_T_2",
        0xC0..=0xC2 => "EXT_n",
        _ => "token not allowed here",
    };
    malformed(at, format!("unsupported token {tok:#04x}: {what}"))
}

#[cfg(test)]
mod tests {
    use super::{SCRATCH, SCRATCH_KEEP, find_nul, utf8};
    use crate::{Element, Limits, Version, wbxml};

    #[test]
    fn utf8_agrees_with_std_on_both_sides_of_the_simd_length() {
        // Mixed ASCII and multi-byte text, cut at every length around the
        // 64-byte switch, then spoiled at several places: a stray
        // continuation byte, a truncated sequence, an overlong form.
        let text = "grüße 👋 Lorem ipsum <dolor> sit amet & ".repeat(6);
        for len in (0..=text.len()).filter(|&n| text.is_char_boundary(n)) {
            let good = &text.as_bytes()[..len];
            assert_eq!(utf8(good, 0).ok(), std::str::from_utf8(good).ok());
            for (at, bad) in [(0, 0x80u8), (len / 2, 0xC3), (len.saturating_sub(1), 0xC0)] {
                let mut v = good.to_vec();
                if at < v.len() {
                    v[at] = bad;
                }
                match (utf8(&v, 7), std::str::from_utf8(&v)) {
                    (Ok(a), Ok(b)) => assert_eq!(a, b),
                    (Err(e), Err(std_e)) => {
                        assert!(e.to_string().contains(&std_e.to_string()), "{e}")
                    }
                    (a, b) => panic!("len {len} at {at}: ours {a:?}, std {b:?}"),
                }
            }
        }
    }

    #[test]
    fn scratch_is_left_empty_and_bounded() {
        let mut root = Element::new("WV-CSP-Message");
        for i in 0..3 * SCRATCH_KEEP {
            root = root.with(Element::text("UserID", format!("u{i}")));
        }
        let bytes = wbxml::encode(&root, Version::V1_2).expect("encode");
        let limits = Limits {
            max_elements: 10 * SCRATCH_KEEP,
            ..Limits::default()
        };
        // A large document, then the same cut short (fails with elements
        // still open and waiting), then the whole one again: the failed
        // decode leaves nothing behind that shows up in the next tree.
        assert_eq!(wbxml::decode(&bytes, &limits).expect("decode").root, root);
        assert!(wbxml::decode(&bytes[..bytes.len() / 2], &limits).is_err());
        let kept = SCRATCH.with(|s| {
            let v = s.take();
            let kept = (v.stack.len(), v.done.len(), v.done.capacity());
            s.set(v);
            kept
        });
        assert_eq!((kept.0, kept.1), (0, 0));
        assert!(kept.2 <= SCRATCH_KEEP, "{kept:?}");
        assert_eq!(wbxml::decode(&bytes, &limits).expect("decode").root, root);
    }

    #[test]
    fn find_nul_agrees_with_a_plain_scan() {
        // Every length up to past the word scan and into memchr's, NUL at every
        // place or nowhere, with bytes around it that trip naive word tricks
        // (0x80, 0x01, 0xFF).
        for len in 0..80 {
            for nul in (0..len).map(Some).chain([None]) {
                let mut v: Vec<u8> = (0..len).map(|i| [0x80, 0x01, 0xFF, b'a'][i % 4]).collect();
                if let Some(i) = nul {
                    v[i] = 0;
                    if i + 1 < len {
                        v[i + 1] = 0;
                    }
                }
                assert_eq!(find_nul(&v), v.iter().position(|&b| b == 0), "{v:?}");
            }
        }
    }
}
