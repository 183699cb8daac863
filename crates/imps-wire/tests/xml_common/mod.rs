//! Helpers shared by the XML test files.

#![allow(dead_code)]

use imps_wire::{Element, Limits, Message, Version, examples, xml};

/// Indents the encoder's compact output for readable snapshots: one tag per
/// line, a leaf's text on its tag's line. It relies on what the encoder
/// guarantees: `>` is escaped inside attribute values, text holds no `<`,
/// and the examples have no mixed content. Decoding the result gives the
/// same tree, because indentation between elements is dropped.
pub fn pretty(xml: &[u8]) -> String {
    #[derive(PartialEq)]
    enum Last {
        Nothing,
        Start,
        End,
        Text,
    }
    let s = String::from_utf8_lossy(xml);
    let mut out = String::with_capacity(s.len() * 2);
    let mut depth = 0usize;
    let mut last = Last::Nothing;
    let mut rest: &str = &s;
    while !rest.is_empty() {
        if rest.starts_with('<') {
            let end = rest.find('>').map_or(rest.len(), |i| i + 1);
            let tag = &rest[..end];
            rest = &rest[end..];
            if tag.starts_with("</") {
                depth = depth.saturating_sub(1);
                if last == Last::End {
                    newline(&mut out, depth);
                }
                out.push_str(tag);
                last = Last::End;
            } else {
                if last != Last::Nothing {
                    newline(&mut out, depth);
                }
                out.push_str(tag);
                if tag.ends_with("/>") {
                    last = Last::End;
                } else {
                    depth += 1;
                    last = Last::Start;
                }
            }
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            out.push_str(&rest[..end]);
            rest = &rest[end..];
            last = Last::Text;
        }
    }
    out.push('\n');
    out
}

fn newline(out: &mut String, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str("  ");
    }
}

/// Every example of every version, with its version.
pub fn all_examples() -> Vec<(Version, &'static str, Message)> {
    Version::ALL
        .into_iter()
        .flat_map(|v| examples::all(v).into_iter().map(move |(n, m)| (v, n, m)))
        .collect()
}

/// Message -> XML -> Message.
pub fn xml_round_trip(msg: &Message) -> Result<Message, String> {
    let bytes = xml::encode(&msg.to_element());
    let root = xml::decode(&bytes, &Limits::default())
        .map_err(|e| format!("{e}\n{}", String::from_utf8_lossy(&bytes)))?;
    Message::from_element(root, None).map_err(|e| e.to_string())
}

/// Limits that never bind, for tests about something else.
pub fn unlimited() -> Limits {
    Limits {
        max_size: usize::MAX,
        max_depth: usize::MAX,
        max_elements: usize::MAX,
        max_text: usize::MAX,
    }
}

/// Decodes with default limits, panicking with the error (tests only).
pub fn parse(xml: &str) -> Element {
    match xml::decode(xml.as_bytes(), &Limits::default()) {
        Ok(e) => e,
        Err(e) => panic!("decode failed: {e}\n{xml}"),
    }
}
