//! A WBXML message's envelope read without building its tree (issue 19,
//! overload): what a server needs to refuse a request unhandled.
//!
//! Past its peak the server refuses most of what it reads, and decoding a
//! request whole (every element and text allocated, then the message
//! built from the tree) was a tenth of its CPU at one and a half times
//! the peak. This walks the same tokens with the same bounds, keeping only
//! the SessionID, the first transaction's mode, ID and primitive, and
//! whether that primitive's recipients include a group. It is
//! conservative: anything it does not read the way the full decoder does
//! (a LITERAL tag, an attribute off the root, an element it needs given
//! twice, a bound passed, malformed bytes) gives `None`, and the caller
//! decodes the message whole as before.

use super::decode::{Reader, header, is_tag, table_str};
use super::token::*;
use super::{opaque, tables};
use crate::{Limits, TransactionMode, Version};

/// What [`envelope`] read. The fields are what [`crate::decode`] of the
/// same bytes gives: the message's version, its SessionID, how many
/// transactions it has, and of the first: its mode, TransactionID,
/// primitive and whether its `MessageInfo/Recipient` names a `Group`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub version: Version,
    pub session_id: Option<String>,
    pub transactions: usize,
    pub mode: TransactionMode,
    pub transaction_id: Option<String>,
    pub primitive: &'static str,
    pub to_group: bool,
}

/// Where the walk is: the names of the open elements, root first.
const MAX_PATH: usize = 8;

pub(super) fn envelope(bytes: &[u8], limits: &Limits) -> Option<Envelope> {
    if bytes.len() > limits.max_size {
        return None;
    }
    let mut r = Reader { buf: bytes, pos: 0 };
    let (hint, strtbl) = header(&mut r).ok()?;
    let mut table = tables::decode_table(hint);
    let mut declared: Option<Version> = None;
    // Open elements below the depth we look at are counted, not named.
    let mut path: [&'static str; MAX_PATH] = [""; MAX_PATH];
    let mut depth = 0usize;
    let mut elements = 0usize;
    let mut used = 0usize;
    let mut page = 0u8;
    // The attribute code page, like the decoder's, lasts across elements.
    let mut attr_page = 0u8;

    let mut session_id: Option<String> = None;
    let mut transactions = 0usize;
    let mut mode: Option<String> = None;
    let mut tid: Option<String> = None;
    let mut primitive: Option<&'static str> = None;
    let mut to_group = false;
    // Seen once each in the first transaction (a second one: `None`).
    let mut seen = Seen::default();
    // The text being read, for the element it belongs to.
    let mut text: Option<(Want, String)> = None;
    // Text length of each open element (the full decoder bounds each
    // element's text, pieces around child elements included).
    let mut lens: Vec<usize> = Vec::new();
    let mut opaque_text = String::new();

    loop {
        let at = r.pos;
        let tok = r.byte().ok()?;
        match tok {
            SWITCH_PAGE => page = r.byte().ok()?,
            END => {
                depth = depth.checked_sub(1)?;
                lens.pop();
                if let Some((want, t)) = text.take() {
                    let t = t.trim().to_string();
                    match want {
                        Want::SessionId => session_id = Some(t),
                        Want::Mode => mode = Some(t),
                        Want::Tid => tid = Some(t),
                    }
                }
                if depth == 0 {
                    if !r.at_end() || path[0] != "WV-CSP-Message" {
                        return None;
                    }
                    break;
                }
            }
            ENTITY | STR_I | STR_T | EXT_T_0 | OPAQUE => {
                if depth == 0 {
                    return None;
                }
                let name = if depth <= MAX_PATH {
                    path[depth - 1]
                } else {
                    ""
                };
                // OPAQUE text depends on the element's name: unknown or
                // unnamed here, leave it to the full decode.
                if tok == OPAQUE && name.is_empty() {
                    return None;
                }
                let added = match piece(&mut r, tok, at, name, strtbl, table, &mut opaque_text)? {
                    Piece::Str(p) => {
                        if let Some((_, t)) = text.as_mut() {
                            t.push_str(p);
                        }
                        p.len()
                    }
                    Piece::Char(c) => {
                        if let Some((_, t)) = text.as_mut() {
                            t.push(c);
                        }
                        c.len_utf8()
                    }
                    Piece::Opaque => {
                        if let Some((_, t)) = text.as_mut() {
                            t.push_str(&opaque_text);
                        }
                        opaque_text.len()
                    }
                };
                let len = lens.last_mut()?;
                *len = len.saturating_add(added);
                used = used.saturating_add(added);
                if *len > limits.max_text || used > limits.max_size {
                    return None;
                }
            }
            _ if is_tag(tok) => {
                // An element inside one whose text is kept: left to the
                // full decode (it keeps the text around the child apart).
                if text.is_some() {
                    return None;
                }
                elements += 1;
                if elements > limits.max_elements || depth >= limits.max_depth {
                    return None;
                }
                if tok & 0x3F == LITERAL {
                    return None;
                }
                let name = table.tag(page, tok & 0x3F).unwrap_or("");
                if tok & HAS_ATTRS != 0 {
                    let mut list = AttrList {
                        page: &mut attr_page,
                        elements: &mut elements,
                        used: &mut used,
                    };
                    let xmlns =
                        attributes(&mut r, strtbl, table, limits, name, depth == 0, &mut list)?;
                    // The root's namespace picks the version (and the
                    // token table from here on), as the full decode does.
                    if let Some(ns) = xmlns {
                        let v = Version::from_namespace(&ns)?;
                        declared = Some(v);
                        table = tables::decode_table(Some(v));
                    }
                }
                if depth < MAX_PATH {
                    path[depth] = name;
                }
                let want = look_at(&path, depth, name, transactions, &mut seen)?;
                if depth == 2 && name == "Transaction" && path[1] == "Session" {
                    transactions += 1;
                }
                match want {
                    Look::Text(w) if tok & HAS_CONTENT != 0 => text = Some((w, String::new())),
                    Look::Text(w) => match w {
                        Want::SessionId => session_id = Some(String::new()),
                        Want::Mode => mode = Some(String::new()),
                        Want::Tid => tid = Some(String::new()),
                    },
                    Look::Primitive => primitive = Some(name),
                    Look::Group => to_group = true,
                    Look::Nothing => {}
                }
                if tok & HAS_CONTENT != 0 {
                    depth += 1;
                    lens.push(0);
                } else if depth == 0 {
                    return None;
                }
            }
            _ => return None,
        }
    }
    let version = declared.or(hint)?;
    // A later transaction is not looked into (the full decode may refuse
    // it): a message of more than one is left to the full decode.
    if transactions != 1 || !seen.content {
        return None;
    }
    let mode = match mode {
        Some(m) if m.eq_ignore_ascii_case("response") => TransactionMode::Response,
        _ => TransactionMode::Request,
    };
    Some(Envelope {
        version,
        session_id,
        transactions,
        mode,
        transaction_id: tid,
        primitive: primitive?,
        to_group,
    })
}

/// Text of an element the envelope keeps.
#[derive(Debug, Clone, Copy)]
enum Want {
    SessionId,
    Mode,
    Tid,
}

enum Look {
    Text(Want),
    Primitive,
    Group,
    Nothing,
}

/// Elements of the first transaction (and the session) that must come
/// once for the walk to say what the full decoder says.
#[derive(Default)]
struct Seen {
    session: bool,
    descriptor: bool,
    session_id: bool,
    tx_descriptor: bool,
    mode: bool,
    tid: bool,
    content: bool,
    primitive: bool,
    info: bool,
    recipient: bool,
}

/// What the element `name` opened at `depth` under `path` is to the
/// envelope; `None` when it is one it needs given a second time.
fn look_at(
    path: &[&'static str; MAX_PATH],
    depth: usize,
    name: &'static str,
    transactions: usize,
    seen: &mut Seen,
) -> Option<Look> {
    let once = |flag: &mut bool| -> Option<()> { (!std::mem::replace(flag, true)).then_some(()) };
    // The open elements between the root and this one, exactly.
    let under = |ancestors: &[&str]| depth == ancestors.len() + 1 && path[1..depth] == *ancestors;
    let first_tx = transactions == 1;
    const TX: [&str; 2] = ["Session", "Transaction"];
    const CONTENT: [&str; 3] = ["Session", "Transaction", "TransactionContent"];
    Some(match name {
        "Session" if under(&[]) => {
            once(&mut seen.session)?;
            Look::Nothing
        }
        "SessionDescriptor" if under(&["Session"]) => {
            once(&mut seen.descriptor)?;
            Look::Nothing
        }
        "SessionID" if under(&["Session", "SessionDescriptor"]) => {
            once(&mut seen.session_id)?;
            Look::Text(Want::SessionId)
        }
        "TransactionDescriptor" if first_tx && under(&TX) => {
            once(&mut seen.tx_descriptor)?;
            Look::Nothing
        }
        "TransactionMode"
            if first_tx && under(&["Session", "Transaction", "TransactionDescriptor"]) =>
        {
            once(&mut seen.mode)?;
            Look::Text(Want::Mode)
        }
        "TransactionID"
            if first_tx && under(&["Session", "Transaction", "TransactionDescriptor"]) =>
        {
            once(&mut seen.tid)?;
            Look::Text(Want::Tid)
        }
        "TransactionContent" if first_tx && under(&TX) => {
            once(&mut seen.content)?;
            Look::Nothing
        }
        _ if first_tx && under(&CONTENT) => {
            once(&mut seen.primitive)?;
            if name.is_empty() {
                return None;
            }
            Look::Primitive
        }
        "MessageInfo" if first_tx && depth == 5 && path[1..4] == CONTENT => {
            once(&mut seen.info)?;
            Look::Nothing
        }
        "Recipient"
            if first_tx && depth == 6 && path[1..4] == CONTENT && path[5] == "MessageInfo" =>
        {
            once(&mut seen.recipient)?;
            Look::Nothing
        }
        "Group"
            if first_tx
                && depth == 7
                && path[1..4] == CONTENT
                && path[5] == "MessageInfo"
                && path[6] == "Recipient" =>
        {
            Look::Group
        }
        _ => Look::Nothing,
    })
}

/// The walk's state an attribute list reads and charges.
struct AttrList<'s> {
    /// The attribute code page (kept across elements, as the decoder does).
    page: &'s mut u8,
    /// Elements and attributes so far (`max_elements`).
    elements: &'s mut usize,
    /// Bytes of text, names and values so far (the whole tree's budget).
    used: &'s mut usize,
}

/// Reads an attribute list up to its END as the full decoder does,
/// charging each attribute and each piece as it comes. On the root
/// (`root`) it gives back the first attribute's value when that is an
/// `xmlns` made from an attribute-start token, and gives up on a LITERAL
/// name (a prefixed namespace the full decode also looks at).
fn attributes<'a>(
    r: &mut Reader<'a>,
    strtbl: &'a [u8],
    table: &'static tables::DecodeTable,
    limits: &Limits,
    element: &str,
    root: bool,
    list: &mut AttrList<'_>,
) -> Option<Option<String>> {
    let mut xmlns: Option<String> = None;
    let mut count = 0usize;
    // Length of the value being read; whether it is the root's first.
    let mut value_len = 0usize;
    let mut keep = false;
    let mut opaque_text = String::new();
    let charge = |list: &mut AttrList<'_>, nodes: usize, bytes: usize| -> Option<()> {
        *list.elements = list.elements.saturating_add(nodes);
        *list.used = list.used.saturating_add(bytes);
        (*list.elements <= limits.max_elements && *list.used <= limits.max_size).then_some(())
    };
    loop {
        let at = r.pos;
        let tok = r.byte().ok()?;
        match tok {
            END => return Some(xmlns),
            SWITCH_PAGE => *list.page = r.byte().ok()?,
            LITERAL => {
                if root {
                    return None;
                }
                count += 1;
                let name = table_str(strtbl, r.mb_u32().ok()?, at).ok()?;
                charge(list, 1, name.len())?;
                value_len = 0;
                keep = false;
            }
            ENTITY | STR_I | STR_T | EXT_T_0 | OPAQUE => {
                if count == 0 {
                    return None;
                }
                let p = piece(r, tok, at, element, strtbl, table, &mut opaque_text)?;
                let added = match p {
                    Piece::Str(p) => {
                        if keep && let Some(v) = xmlns.as_mut() {
                            v.push_str(p);
                        }
                        p.len()
                    }
                    Piece::Char(c) => {
                        if keep && let Some(v) = xmlns.as_mut() {
                            v.push(c);
                        }
                        c.len_utf8()
                    }
                    Piece::Opaque => {
                        if keep && let Some(v) = xmlns.as_mut() {
                            v.push_str(&opaque_text);
                        }
                        opaque_text.len()
                    }
                };
                value_len = value_len.saturating_add(added);
                if value_len > limits.max_text {
                    return None;
                }
                charge(list, 0, added)?;
            }
            0x05..=0x3F | 0x45..=0x7F => {
                if *list.page != 0 {
                    return None;
                }
                let prefix = tables::attr_start(tok)?;
                count += 1;
                charge(list, 1, prefix.len())?;
                value_len = prefix.len();
                keep = root && count == 1;
                if keep {
                    xmlns = Some(prefix.to_string());
                }
            }
            _ => return None,
        }
    }
}

/// One piece of text as the full decoder reads it.
enum Piece<'a> {
    Str(&'a str),
    Char(char),
    /// Converted into the caller's buffer.
    Opaque,
}

/// Reads one text piece (OPAQUE converted into `opaque_text`, emptied
/// first); `None` where the full decoder fails.
fn piece<'a>(
    r: &mut Reader<'a>,
    tok: u8,
    at: usize,
    name: &str,
    strtbl: &'a [u8],
    table: &'static tables::DecodeTable,
    opaque_text: &mut String,
) -> Option<Piece<'a>> {
    Some(match tok {
        STR_I => Piece::Str(std::str::from_utf8(r.cstr().ok()?).ok()?),
        STR_T => Piece::Str(table_str(strtbl, r.mb_u32().ok()?, at).ok()?),
        ENTITY => Piece::Char(char::from_u32(r.mb_u32().ok()?)?),
        EXT_T_0 => Piece::Str(table.ext(r.mb_u32().ok()?)?),
        _ => {
            let len = r.mb_u32().ok()?;
            opaque_text.clear();
            opaque::to_text(name, r.take(len).ok()?, opaque_text);
            Piece::Opaque
        }
    })
}
