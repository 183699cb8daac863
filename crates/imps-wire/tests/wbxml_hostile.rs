//! Hostile and malformed input: every failure is a typed error, never a
//! panic, a hang or an allocation the input did not pay for.

use crate::wbxml_common;

use imps_wire::wbxml::{decode, encode};
use imps_wire::{Element, Limits, Version, WireError};
use wbxml_common::documents;

fn err(bytes: &[u8]) -> WireError {
    err_with(bytes, &Limits::default())
}

fn err_with(bytes: &[u8], limits: &Limits) -> WireError {
    match decode(bytes, limits) {
        Ok(doc) => panic!("decoded hostile input: {:?}", doc.root),
        Err(e) => e,
    }
}

fn doc(body: &[u8]) -> Vec<u8> {
    let mut b = vec![0x03, 0x11, 0x6A, 0x00];
    b.extend_from_slice(body);
    b
}

fn is_wbxml_at(e: &WireError, at: usize) -> bool {
    matches!(e, WireError::Wbxml { offset, .. } if *offset == at)
}

#[test]
fn truncated_at_every_offset() {
    for v in Version::ALL {
        for (name, msg) in documents(v) {
            let bytes = encode(&msg.to_element(), v).expect("encode");
            for cut in 0..bytes.len() {
                match decode(&bytes[..cut], &Limits::default()) {
                    Err(WireError::Truncated { offset }) => {
                        assert_eq!(offset, cut, "{v} {name} at {cut}")
                    }
                    other => panic!("{v} {name} cut at {cut}: {other:?}"),
                }
            }
        }
    }
}

#[test]
fn huge_declared_lengths_are_truncation_not_allocation() {
    let max = [0x8F, 0xFF, 0xFF, 0xFF, 0x7F]; // u32::MAX as mb_u_int32
    // String table length.
    let mut b = vec![0x03, 0x11, 0x6A];
    b.extend_from_slice(&max);
    assert!(matches!(err(&b), WireError::Truncated { .. }));
    // OPAQUE length.
    let mut body = vec![0x4D, 0xC3];
    body.extend_from_slice(&max);
    body.extend_from_slice(&[0x01, 0x01]);
    assert!(matches!(err(&doc(&body)), WireError::Truncated { .. }));
    // STR_T offset and LITERAL index far outside the (empty) string table.
    let mut body = vec![0x4D, 0x83];
    body.extend_from_slice(&max);
    body.push(0x01);
    assert!(is_wbxml_at(&err(&doc(&body)), 5));
    let mut body = vec![0x04];
    body.extend_from_slice(&max);
    assert!(is_wbxml_at(&err(&doc(&body)), 4));
}

#[test]
fn bad_multibyte_integers() {
    // Six bytes.
    assert!(is_wbxml_at(
        &err(&[0x03, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10, 0x6A, 0x00, 0x2E]),
        1
    ));
    // Five bytes whose value needs 33 bits.
    assert!(is_wbxml_at(
        &err(&[0x03, 0x90, 0x80, 0x80, 0x80, 0x00, 0x6A, 0x00, 0x2E]),
        1
    ));
    // Entity code points that are not characters.
    assert!(is_wbxml_at(
        &err(&doc(&[0x4D, 0x02, 0x83, 0xB0, 0x00, 0x01])),
        5
    )); // U+D800
    assert!(is_wbxml_at(
        &err(&doc(&[0x4D, 0x02, 0xC4, 0x80, 0x00, 0x01])),
        5
    )); // 0x110000
}

#[test]
fn malformed_structure() {
    // Empty body, END with nothing open, text before the root.
    assert!(matches!(err(&doc(&[])), WireError::Truncated { offset: 4 }));
    assert!(is_wbxml_at(&err(&doc(&[0x01])), 4));
    assert!(is_wbxml_at(&err(&doc(&[0x03, b'x', 0x00, 0x2E])), 4));
    // Data after the root, and a second root.
    assert!(is_wbxml_at(&err(&doc(&[0x2E, 0x00])), 5));
    assert!(is_wbxml_at(&err(&doc(&[0x2E, 0x2E])), 5));
    // Tokens no CSP implementation uses: PI, EXT_I_0, EXT_T_1, EXT_0.
    for tok in [0x43, 0x40, 0x81, 0xC0] {
        assert!(
            is_wbxml_at(&err(&doc(&[0x6D, tok, 0x00, 0x01])), 5),
            "{tok:#x}"
        );
    }
    // Unknown value token; unknown attribute token; attribute value first.
    assert!(is_wbxml_at(&err(&doc(&[0x4D, 0x80, 0x81, 0x12, 0x01])), 5)); // 0x92: a gap in every table
    assert!(is_wbxml_at(&err(&doc(&[0x8D, 0x3F, 0x01])), 5));
    assert!(is_wbxml_at(&err(&doc(&[0x8D, 0x03, b'x', 0x00, 0x01])), 5));
    // Attribute-start token on attribute page 1.
    assert!(is_wbxml_at(&err(&doc(&[0x8D, 0x00, 0x01, 0x08, 0x01])), 7));
    // Invalid UTF-8 inline and in the string table.
    assert!(matches!(
        err(&doc(&[0x4D, 0x03, 0xFF, 0x00, 0x01])),
        WireError::Wbxml { .. }
    ));
    assert!(matches!(
        err(&[0x03, 0x11, 0x6A, 0x02, 0xC3, 0x00, 0x4D, 0x83, 0x00, 0x01]),
        WireError::Wbxml { .. }
    ));
    // String table entry without NUL; FPI index outside the table.
    assert!(matches!(
        err(&[0x03, 0x11, 0x6A, 0x01, b'a', 0x04, 0x00]),
        WireError::Wbxml { .. }
    ));
    assert!(is_wbxml_at(&err(&[0x03, 0x00, 0x05, 0x6A, 0x00, 0x2E]), 2));
}

#[test]
fn size_limit_is_checked_first() {
    let limits = Limits {
        max_size: 10,
        ..Limits::default()
    };
    assert_eq!(
        err_with(&[0xFF; 11], &limits),
        WireError::TooLarge {
            size: 11,
            limit: 10
        }
    );
}

#[test]
fn depth_bomb() {
    // 100,000 nested Session tags with the content bit.
    let mut body = vec![0x6D; 100_000];
    body.extend(std::iter::repeat_n(0x01, 100_000));
    assert_eq!(err(&doc(&body)), WireError::TooDeep { limit: 32 });
    // Exactly at the limit is fine; one more is not.
    let limits = Limits {
        max_depth: 500,
        ..Limits::default()
    };
    for (depth, ok) in [(500, true), (501, false)] {
        let mut body = vec![0x6D; depth - 1];
        body.push(0x2E);
        body.extend(std::iter::repeat_n(0x01, depth - 1));
        let r = decode(&doc(&body), &limits);
        assert_eq!(r.is_ok(), ok, "{depth}: {r:?}");
        if let Ok(d) = r {
            assert_eq!(d.root.depth(), depth);
        }
    }
}

#[test]
fn element_count_bomb() {
    // One root with 500,000 empty children: each costs one input byte.
    let mut body = vec![0x6D];
    body.extend(std::iter::repeat_n(0x2E, 500_000));
    body.push(0x01);
    assert_eq!(
        err(&doc(&body)),
        WireError::TooManyElements { limit: 100_000 }
    );
}

#[test]
fn attribute_count_bomb() {
    // 200,000 attributes with an empty LITERAL name (string table "\0"):
    // two input bytes each. Attributes count toward max_elements.
    let mut b = vec![0x03, 0x11, 0x6A, 0x01, 0x00, 0x8D];
    for _ in 0..200_000 {
        b.extend_from_slice(&[0x04, 0x00]);
    }
    b.push(0x01);
    assert_eq!(err(&b), WireError::TooManyElements { limit: 100_000 });
}

#[test]
fn text_limit_per_element_across_pieces() {
    let limits = Limits {
        max_text: 100,
        ..Limits::default()
    };
    let mut body = vec![0x4D];
    for _ in 0..30 {
        body.extend_from_slice(&[0x80, 0x04]); // 31-byte value token each
    }
    body.push(0x01);
    assert_eq!(
        err_with(&doc(&body), &limits),
        WireError::TextTooLong { limit: 100 }
    );
    let mut body = vec![0x4D, 0x03];
    body.extend(std::iter::repeat_n(b'a', 101));
    body.extend_from_slice(&[0x00, 0x01]);
    assert_eq!(
        err_with(&doc(&body), &limits),
        WireError::TextTooLong { limit: 100 }
    );
}

#[test]
fn string_table_expansion_bomb() {
    // A 10 KB string referenced by 2,000 STR_T pieces spread over elements
    // (each under max_text): 20 MB of text from 24 KB of input.
    let big = vec![b'x'; 10_000];
    let mut b = vec![
        0x03,
        0x11,
        0x6A,
        0x80 | (10_001 >> 7) as u8,
        (10_001 & 0x7F) as u8,
    ];
    b.extend_from_slice(&big);
    b.push(0);
    b.push(0x6D);
    for _ in 0..2_000 {
        b.extend_from_slice(&[0x4D, 0x83, 0x00, 0x01]);
    }
    b.push(0x01);
    assert!(matches!(err(&b), WireError::TooLarge { .. }));
}

#[test]
fn deep_trees_encode_without_recursion() {
    let mut e = Element::text("Code", "1");
    for _ in 0..2_000 {
        e = Element::new("Session").with(e);
    }
    let bytes = encode(&e, Version::V1_2).expect("encode");
    assert_eq!(bytes.len(), 4 + 2_000 * 2 + 5);
    assert_eq!(err(&bytes), WireError::TooDeep { limit: 32 });
}

#[test]
fn names_with_nul_cannot_be_encoded() {
    let e = Element::new("Bad\0Name");
    assert!(matches!(
        encode(&e, Version::V1_2),
        Err(WireError::Encode { .. })
    ));
}

#[test]
fn attribute_start_expansion_re_decodes() {
    // Found by the fuzzer: one-byte attribute-start tokens each stand for a
    // 46-byte namespace, far more text than input. The whole-tree text
    // budget depends on the tree only, so our re-encoding (which is as
    // compact) still decodes to the same tree.
    let mut body = vec![0x89];
    body.extend(std::iter::repeat_n(0x0B, 300));
    body.push(0x01);
    let first = decode(&doc(&body), &Limits::default()).expect("decode");
    assert_eq!(first.root.attrs.len(), 300);
    let again = encode(&first.root, Version::V1_3).expect("encode");
    assert_eq!(again.len(), doc(&body).len());
    assert_eq!(
        decode(&again, &Limits::default()).expect("re-decode").root,
        first.root
    );
    // And the budget itself: more attribute text than max_size is refused.
    let small = Limits {
        max_size: 5_000,
        ..Limits::default()
    };
    assert!(matches!(
        err_with(&doc(&body), &small),
        WireError::TooLarge { limit: 5_000, .. }
    ));
}
