//! XML bytes to an [`Element`] tree. The rules are listed in the parent
//! module; this file is the event loop and the iterative tree builder.

use quick_xml::XmlVersion;
use quick_xml::errors::{Error as QxError, SyntaxError};
use quick_xml::events::{BytesDecl, BytesRef, BytesStart, Event};
use quick_xml::reader::Reader;

use std::borrow::Cow;
use std::cell::Cell;

use crate::wbxml::known_name;
use crate::{Attr, Element, Limits, Name, WireError};

pub(super) fn decode(bytes: &[u8], limits: &Limits) -> Result<Element, WireError> {
    // Checked before anything else so an oversized body costs nothing.
    if bytes.len() > limits.max_size {
        return Err(WireError::TooLarge {
            size: bytes.len(),
            limit: limits.max_size,
        });
    }
    // quick-xml checks UTF-8 itself, event by event, as it hands out `&str`
    // (a BOM is skipped); a separate pass over the whole buffer would only
    // repeat the work.
    let mut reader = Reader::from_reader(bytes);
    let mut tree = Builder::new(limits);
    loop {
        let event = reader
            .read_event()
            .map_err(|e| reader_error(e, reader.error_position(), bytes.len()))?;
        let at = reader.buffer_position();
        match event {
            Event::Start(start) => tree.open(&start, at)?,
            Event::Empty(start) => {
                tree.open(&start, at)?;
                tree.close()?;
            }
            Event::End(_) => tree.close()?,
            Event::Text(text) => tree.text(text.xml10_content(), at)?,
            Event::CData(cdata) => tree.cdata(cdata.xml10_content(), at)?,
            Event::GeneralRef(r) => tree.reference(&r, at)?,
            Event::Decl(decl) => check_declaration(&decl, bytes, at)?,
            Event::Comment(_) | Event::PI(_) => {}
            Event::DocType(_) => return Err(WireError::Doctype),
            Event::Eof => return tree.finish(bytes.len()),
        }
    }
}

/// Maps a quick-xml error. Running out of input inside markup is reported
/// as truncation, like running out inside an element.
fn reader_error(e: QxError, at: u64, len: usize) -> WireError {
    match e {
        QxError::Syntax(SyntaxError::InvalidBangMarkup) => {
            WireError::Xml(format!("unknown markup after `<!` near byte {at}"))
        }
        QxError::Syntax(_) => WireError::Truncated { offset: len },
        QxError::Encoding(_) => {
            WireError::Xml(format!("not UTF-8: invalid byte sequence near byte {at}"))
        }
        other => WireError::Xml(format!("{other} (near byte {at})")),
    }
}

/// Accepts a declaration whose encoding is UTF-8, or any encoding when the
/// bytes are plain ASCII (all ASCII-compatible encodings read them alike).
fn check_declaration(decl: &BytesDecl<'_>, bytes: &[u8], at: u64) -> Result<(), WireError> {
    let Some(encoding) = decl.encoding() else {
        return Ok(());
    };
    let encoding = encoding.map_err(|e| WireError::Xml(format!("{e} (near byte {at})")))?;
    let utf8 = ["utf-8", "utf8", "us-ascii", "ascii"]
        .iter()
        .any(|n| encoding.trim().eq_ignore_ascii_case(n));
    if utf8 || bytes.is_ascii() {
        Ok(())
    } else {
        Err(WireError::Xml(format!(
            "declared encoding {encoding} is not supported; send UTF-8"
        )))
    }
}

/// Builds the tree from events. Open elements live on an explicit stack,
/// so depth costs heap (bounded by `max_depth`), never call stack.
///
/// Two things keep allocation down: an open element's text stays borrowed
/// from the input until a second piece or an entity forces a copy, and is
/// owned once, exactly sized, when the element closes (whitespace between
/// children is then dropped without ever being copied); and finished
/// elements wait in `done` until their parent closes and takes them in one
/// exactly sized vector, instead of each parent growing its own.
struct Builder<'a, 'l> {
    limits: &'l Limits,
    open: Vec<Open<'a>>,
    done: Vec<Element>,
    root: Option<Element>,
    elements: usize,
}

/// An element being read: its text so far and where its children start
/// in `done`.
struct Open<'a> {
    element: Element,
    text: Cow<'a, str>,
    first: usize,
}

impl<'a> Open<'a> {
    fn push_text(&mut self, piece: Cow<'a, str>) {
        if self.text.is_empty() {
            self.text = piece;
        } else {
            self.text.to_mut().push_str(&piece);
        }
    }
}

impl<'a, 'l> Builder<'a, 'l> {
    fn new(limits: &'l Limits) -> Self {
        Builder {
            limits,
            open: Vec::with_capacity(limits.max_depth.min(16)),
            done: DONE.try_with(Cell::take).unwrap_or_default(),
            root: None,
            elements: 0,
        }
    }

    fn open(&mut self, start: &BytesStart<'_>, at: u64) -> Result<(), WireError> {
        if self.root.is_some() {
            return Err(WireError::Xml(format!(
                "second root element near byte {at}"
            )));
        }
        if self.open.len() >= self.limits.max_depth {
            return Err(WireError::TooDeep {
                limit: self.limits.max_depth,
            });
        }
        self.elements += 1;
        if self.elements > self.limits.max_elements {
            return Err(WireError::TooManyElements {
                limit: self.limits.max_elements,
            });
        }
        let qname = start.name();
        let name = qname.local_name();
        let name: &str = name.as_ref();
        let name = match known_name(name) {
            // Every CSP name is a valid XML name without a colon.
            Some(known) => Name::from_static(known),
            None => {
                // The local part itself may not hold a colon (`a:b:c`): it
                // would read back as a different name.
                if !is_name(name) || name.contains(':') {
                    return Err(WireError::Xml(format!(
                        "invalid element name {:?} near byte {at}",
                        qname.as_ref()
                    )));
                }
                Name::from(name.to_owned())
            }
        };
        let mut element = Element::new(name);
        // Most elements have no attributes: skip the iterator for them.
        if !is_xml_whitespace(start.attributes_raw()) {
            self.attributes(start, at, &mut element)?;
        }
        self.open.push(Open {
            element,
            text: Cow::Borrowed(""),
            first: self.done.len(),
        });
        Ok(())
    }

    /// The attributes of a start tag.
    fn attributes(
        &self,
        start: &BytesStart<'_>,
        at: u64,
        element: &mut Element,
    ) -> Result<(), WireError> {
        for attr in start.attributes() {
            let attr = attr.map_err(|e| WireError::Xml(format!("{e} (near byte {at})")))?;
            let key: &str = attr.key.as_ref();
            if !is_name(key) {
                return Err(WireError::Xml(format!(
                    "invalid attribute name {key:?} near byte {at}"
                )));
            }
            // Normalisation resolves only the predefined entities and
            // character references; anything else is an error here.
            let value = attr
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|e| WireError::Xml(format!("attribute {key}: {e} (near byte {at})")))?;
            if value.len() > self.limits.max_text {
                return Err(WireError::TextTooLong {
                    limit: self.limits.max_text,
                });
            }
            element.attrs.push(Attr {
                name: Name::new(key),
                value: value.into_owned(),
            });
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), WireError> {
        // quick-xml has already matched the end tag's name against the
        // start tag, and refuses an end tag with nothing open.
        let Some(Open {
            mut element,
            text,
            first,
        }) = self.open.pop()
        else {
            return Err(WireError::Xml("end tag without a start tag".into()));
        };
        let has_children = self.done.len() > first;
        if !(has_children && is_xml_whitespace(&text)) {
            // Checked on the final value: whitespace between children does
            // not count, and memory meanwhile is bounded by `max_size`.
            if text.len() > self.limits.max_text {
                return Err(WireError::TextTooLong {
                    limit: self.limits.max_text,
                });
            }
            element.text = text.into_owned();
        }
        if has_children {
            element.children = self.done.split_off(first);
        }
        if self.open.is_empty() {
            self.root = Some(element);
        } else {
            self.done.push(element);
        }
        Ok(())
    }

    /// Character data. Outside the root only whitespace is allowed.
    fn text(&mut self, text: Cow<'a, str>, at: u64) -> Result<(), WireError> {
        match self.open.last_mut() {
            Some(open) => {
                open.push_text(text);
                Ok(())
            }
            None if is_xml_whitespace(&text) => Ok(()),
            None => Err(outside_root(at)),
        }
    }

    /// A CDATA section is text, but even an empty one is content.
    fn cdata(&mut self, text: Cow<'a, str>, at: u64) -> Result<(), WireError> {
        match self.open.last_mut() {
            Some(open) => {
                open.push_text(text);
                Ok(())
            }
            None => Err(outside_root(at)),
        }
    }

    fn reference(&mut self, r: &BytesRef<'_>, at: u64) -> Result<(), WireError> {
        let ch = if r.is_char_ref() {
            match r.resolve_char_ref() {
                Ok(Some(ch)) => ch,
                Ok(None) | Err(_) => {
                    return Err(WireError::Xml(format!(
                        "invalid character reference &{}; near byte {at}",
                        r.as_ref() as &str
                    )));
                }
            }
        } else {
            match r.as_ref() as &str {
                "lt" => '<',
                "gt" => '>',
                "amp" => '&',
                "apos" => '\'',
                "quot" => '"',
                other => {
                    return Err(WireError::Xml(format!(
                        "undefined entity &{other}; near byte {at}"
                    )));
                }
            }
        };
        match self.open.last_mut() {
            Some(open) => {
                open.text.to_mut().push(ch);
                Ok(())
            }
            None => Err(outside_root(at)),
        }
    }

    fn finish(mut self, len: usize) -> Result<Element, WireError> {
        if !self.open.is_empty() {
            return Err(WireError::Truncated { offset: len });
        }
        self.root
            .take()
            .ok_or_else(|| WireError::Xml("no root element".into()))
    }
}

/// Room for this many finished elements is kept per thread between
/// decodes (about 100 KB at most).
const DONE_KEEP: usize = 1024;

thread_local! {
    /// The `done` vector of the last decode on this thread, empty, so the
    /// next one does not allocate and grow it again.
    static DONE: Cell<Vec<Element>> = const { Cell::new(Vec::new()) };
}

impl Drop for Builder<'_, '_> {
    fn drop(&mut self) {
        let mut done = std::mem::take(&mut self.done);
        done.clear();
        // Freed rather than shrunk past the bound: see the WBXML decoder's
        // `Scratch` for why (glibc's mmap'd blocks).
        if done.capacity() > DONE_KEEP {
            done = Vec::new();
        }
        let _ = DONE.try_with(|d| d.set(done));
    }
}

fn outside_root(at: u64) -> WireError {
    WireError::Xml(format!("text outside the root element near byte {at}"))
}

fn is_xml_whitespace(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}

/// A conservative XML Name check. quick-xml cuts names at whitespace but
/// accepts almost any other byte; we refuse the ASCII characters XML does
/// not allow in names, so every name we keep can be written back as is.
/// Non-ASCII characters are allowed (XML allows most of them).
fn is_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    let Some(first) = bytes.next() else {
        return false;
    };
    let start_ok = first.is_ascii_alphabetic() || first == b'_' || first == b':' || first >= 0x80;
    start_ok
        && bytes.all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'-' | b'.') || b >= 0x80
        })
}

#[cfg(test)]
mod tests {
    use super::{DONE, DONE_KEEP};
    use crate::{Element, Limits, xml};

    #[test]
    fn kept_done_vector_is_left_empty_and_bounded() {
        let mut root = Element::new("WV-CSP-Message");
        for i in 0..3 * DONE_KEEP {
            root = root.with(Element::text("UserID", format!("u{i}")));
        }
        let bytes = xml::encode(&root);
        let limits = Limits {
            max_elements: 10 * DONE_KEEP,
            ..Limits::default()
        };
        // Whole, cut short (fails with finished elements waiting), whole
        // again: nothing of the failed decode shows up in the next tree.
        assert_eq!(xml::decode(&bytes, &limits).expect("decode"), root);
        assert!(xml::decode(&bytes[..bytes.len() / 2], &limits).is_err());
        let kept = DONE.with(|d| {
            let v = d.take();
            let kept = (v.len(), v.capacity());
            d.set(v);
            kept
        });
        assert_eq!(kept.0, 0);
        assert!(kept.1 <= DONE_KEEP, "{kept:?}");
        assert_eq!(xml::decode(&bytes, &limits).expect("decode"), root);
    }
}
