//! An [`Element`] tree to XML bytes. Hand-written rather than quick-xml's
//! writer: CSP needs only tags, double-quoted attributes and escaped text,
//! and writing straight into one presized buffer is simpler and faster.

use crate::Element;

pub(super) fn encode(root: &Element) -> Vec<u8> {
    encode_spliced(root, None)
}

/// Encodes `root`; with `splice`, the element found at that address (an
/// element of `root`) is not walked and the given bytes (that element
/// encoded on its own: XML has no state across elements) stand in its
/// place.
pub(super) fn encode_spliced(root: &Element, splice: Option<(&Element, &[u8])>) -> Vec<u8> {
    let extra = splice.map_or(0, |(_, bytes)| bytes.len());
    let mut out = Vec::with_capacity(estimate(root) + extra);
    // Explicit stack of (element, index of the next child to write), so a
    // deep tree built in code cannot overflow the call stack.
    let mut stack: Vec<(&Element, usize)> = Vec::with_capacity(16);
    if open_tag(root, &mut out) {
        stack.push((root, 0));
    }
    while let Some(top) = stack.last_mut() {
        let element = top.0;
        match element.children.get(top.1) {
            Some(child) => {
                top.1 += 1;
                if let Some((at, bytes)) = splice
                    && std::ptr::eq(child, at)
                {
                    out.extend_from_slice(bytes);
                    continue;
                }
                if open_tag(child, &mut out) {
                    stack.push((child, 0));
                }
            }
            None => {
                out.extend_from_slice(b"</");
                out.extend_from_slice(element.name.as_bytes());
                out.push(b'>');
                stack.pop();
            }
        }
    }
    out
}

/// Writes the start tag and the text. Returns false when the element was
/// written complete as `<X/>`, true when it still needs children and an
/// end tag.
fn open_tag(e: &Element, out: &mut Vec<u8>) -> bool {
    out.push(b'<');
    out.extend_from_slice(e.name.as_bytes());
    for a in &e.attrs {
        out.push(b' ');
        out.extend_from_slice(a.name.as_bytes());
        out.extend_from_slice(b"=\"");
        escape(a.value.as_bytes(), &ATTR, out);
        out.push(b'"');
    }
    if e.text.is_empty() && e.children.is_empty() {
        out.extend_from_slice(b"/>");
        return false;
    }
    out.push(b'>');
    escape(e.text.as_bytes(), &TEXT, out);
    true
}

/// The output size when nothing needs escaping; a walk over the tree is
/// far cheaper than the reallocations it saves.
fn estimate(root: &Element) -> usize {
    let mut size = 0;
    let mut stack = vec![root];
    while let Some(e) = stack.pop() {
        // `<n>` + `</n>` (or `<n/>`), text, and ` k="v"` per attribute.
        size += 2 * e.name.len() + 5 + e.text.len();
        size += e
            .attrs
            .iter()
            .map(|a| a.name.len() + a.value.len() + 4)
            .sum::<usize>();
        stack.extend(e.children.iter());
    }
    size
}

/// Byte classes: 0 copy as is; otherwise what to do with the byte.
const COPY: u8 = 0;
const AMP: u8 = 1;
const LT: u8 = 2;
const GT: u8 = 3;
const QUOT: u8 = 4;
const TAB: u8 = 5;
const LF: u8 = 6;
const CR: u8 = 7;
/// A C0 control XML 1.0 cannot carry, even as a character reference.
const ILLEGAL: u8 = 8;
/// First byte of U+E000..U+FFFF; U+FFFE and U+FFFF are not XML characters.
const EF: u8 = 9;

const fn table(attr: bool) -> [u8; 256] {
    let mut t = [COPY; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = ILLEGAL;
        b += 1;
    }
    t[b'&' as usize] = AMP;
    t[b'<' as usize] = LT;
    t[b'>' as usize] = GT;
    t[b'\r' as usize] = CR;
    t[0xEF] = EF;
    if attr {
        t[b'"' as usize] = QUOT;
        t[b'\t' as usize] = TAB;
        t[b'\n' as usize] = LF;
    } else {
        t[b'\t' as usize] = COPY;
        t[b'\n' as usize] = COPY;
    }
    t
}

static TEXT: [u8; 256] = table(false);
static ATTR: [u8; 256] = table(true);

const REPLACEMENT: &[u8] = "\u{FFFD}".as_bytes();

/// Appends `s` escaped per `class`. `s` is valid UTF-8, so copying runs of
/// unremarkable bytes keeps it valid.
fn escape(s: &[u8], class: &[u8; 256], out: &mut Vec<u8>) {
    let mut run = 0;
    let mut i = 0;
    while i < s.len() {
        let c = class[s[i] as usize];
        if c == COPY {
            i += 1;
            continue;
        }
        let (replacement, len): (&[u8], usize) = match c {
            AMP => (b"&amp;", 1),
            LT => (b"&lt;", 1),
            GT => (b"&gt;", 1),
            QUOT => (b"&quot;", 1),
            TAB => (b"&#9;", 1),
            LF => (b"&#10;", 1),
            CR => (b"&#13;", 1),
            ILLEGAL => (REPLACEMENT, 1),
            _ => match s.get(i + 1..i + 3) {
                // EF BF BE = U+FFFE, EF BF BF = U+FFFF.
                Some([0xBF, 0xBE | 0xBF]) => (REPLACEMENT, 3),
                _ => {
                    i += 1;
                    continue;
                }
            },
        };
        out.extend_from_slice(&s[run..i]);
        out.extend_from_slice(replacement);
        i += len;
        run = i;
    }
    out.extend_from_slice(&s[run..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> String {
        let mut out = Vec::new();
        escape(s.as_bytes(), &TEXT, &mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    fn attr(s: &str) -> String {
        let mut out = Vec::new();
        escape(s.as_bytes(), &ATTR, &mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn escapes_text() {
        assert_eq!(text("plain"), "plain");
        assert_eq!(text("a<b>&c\"d'e"), "a&lt;b&gt;&amp;c\"d'e");
        assert_eq!(text("l1\r\nl2\tx"), "l1&#13;\nl2\tx");
        assert_eq!(text("\u{1}\u{0}x"), "\u{FFFD}\u{FFFD}x");
        assert_eq!(
            text("\u{FFFE}\u{FFFF}\u{FFFD}\u{E000}é€"),
            "\u{FFFD}\u{FFFD}\u{FFFD}\u{E000}é€"
        );
    }

    #[test]
    fn escapes_attributes() {
        assert_eq!(attr("a\"b'c<&>"), "a&quot;b'c&lt;&amp;&gt;");
        assert_eq!(attr("\t\n\r"), "&#9;&#10;&#13;");
    }

    #[test]
    fn writes_empty_elements_and_order() {
        let e = Element::new("A")
            .with_attr("xmlns", "urn:x")
            .with_attr("b", "1")
            .with(Element::new("B"))
            .with_text("C", "t");
        assert_eq!(
            encode(&e),
            b"<A xmlns=\"urn:x\" b=\"1\"><B/><C>t</C></A>".to_vec()
        );
        assert_eq!(encode(&Element::new("X")), b"<X/>".to_vec());
    }

    #[test]
    fn mixed_content_writes_text_first() {
        let e = Element::text("A", "t").with(Element::new("B"));
        assert_eq!(encode(&e), b"<A>t<B/></A>".to_vec());
    }
}
