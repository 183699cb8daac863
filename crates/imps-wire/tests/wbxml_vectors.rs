//! Known byte vectors: from the reference README, from libwbxml 0.11.8
//! output captured on this machine, and hand-built ones for each decoder
//! rule (concatenated text pieces, STR_T, ENTITY, both empty-element forms,
//! version clashes).

use imps_wire::wbxml::{Document, decode, encode};
use imps_wire::{Element, Limits, Version, WireError};

fn dec(bytes: &[u8]) -> Document {
    decode(bytes, &Limits::default()).unwrap_or_else(|e| panic!("decode failed: {e}"))
}

fn enc(root: &Element, v: Version) -> Vec<u8> {
    encode(root, v).unwrap_or_else(|e| panic!("encode failed: {e}"))
}

/// Header of a document we write for `v` with an empty string table.
fn head(v: Version) -> Vec<u8> {
    vec![0x03, v.wbxml_public_id() as u8, 0x6A, 0x00]
}

fn with_head(v: Version, body: &[u8]) -> Vec<u8> {
    let mut b = head(v);
    b.extend_from_slice(body);
    b
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// WV-CSP-Message xmlns=1.2 / Session / SessionDescriptor / SessionType Outband.
#[test]
fn envelope_1_2_exact_bytes() {
    let root = Element::new("WV-CSP-Message")
        .with_attr("xmlns", Version::V1_2.csp_ns())
        .with(
            Element::new("Session")
                .with(Element::new("SessionDescriptor").with_text("SessionType", "Outband")),
        );
    let expected = with_head(
        Version::V1_2,
        &[
            0xC9, 0x08, 0x03, b'1', b'.', b'2', 0x00,
            0x01, // root, xmlns = prefix 0x08 + "1.2"
            0x6D, 0x6E, 0x70, 0x80, 0x19, 0x01, 0x01, 0x01, 0x01,
        ],
    );
    let bytes = enc(&root, Version::V1_2);
    assert_eq!(bytes, expected);
    let doc = dec(&bytes);
    assert_eq!(doc.root, root);
    assert_eq!(doc.version, Some(Version::V1_2));
}

#[test]
fn code_201_is_opaque_c3_01_c9() {
    let root = Element::new("Result").with_text("Code", "201");
    let bytes = enc(&root, Version::V1_1);
    assert_eq!(
        bytes,
        with_head(Version::V1_1, &[0x6A, 0x4B, 0xC3, 0x01, 0xC9, 0x01, 0x01])
    );
    assert_eq!(dec(&bytes).root, root);
}

#[test]
fn integers_minimum_one_byte_and_plain_decimal_only() {
    for (text, body) in [
        ("0", &[0x5A, 0xC3, 0x01, 0x00, 0x01][..]),
        ("65536", &[0x5A, 0xC3, 0x03, 0x01, 0x00, 0x00, 0x01]),
        (
            "4294967295",
            &[0x5A, 0xC3, 0x04, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
        ),
        ("007", &[0x5A, 0x03, b'0', b'0', b'7', 0x00, 0x01]),
        (
            "4294967296",
            &[
                0x5A, 0x03, b'4', b'2', b'9', b'4', b'9', b'6', b'7', b'2', b'9', b'6', 0x00, 0x01,
            ],
        ),
    ] {
        let root = Element::text("MessageCount", text);
        let bytes = enc(&root, Version::V1_3);
        assert_eq!(bytes, with_head(Version::V1_3, body), "{text}");
        assert_eq!(dec(&bytes).root, root);
    }
    // SearchID is sent as a string: the Android decoder drops OPAQUE there.
    let bytes = enc(&Element::text("SearchID", "5"), Version::V1_2);
    assert!(contains(&bytes, &[0x03, b'5', 0x00]));
}

#[test]
fn opaque_integers_of_length_0_to_4() {
    // libwbxml writes MessageCount 0 as `C3 00`.
    for (opaque, text) in [
        (&[0xC3, 0x00][..], "0"),
        (&[0xC3, 0x01, 0x07], "7"),
        (&[0xC3, 0x02, 0x01, 0x00], "256"),
        (&[0xC3, 0x04, 0x00, 0x00, 0x00, 0x2A], "42"),
    ] {
        let mut body = vec![0x5A];
        body.extend_from_slice(opaque);
        body.push(0x01);
        assert_eq!(dec(&with_head(Version::V1_2, &body)).root.text, text);
    }
}

#[test]
fn opaque_date_e5_and_dates_encoded_as_strings() {
    let body = [0x51, 0xC3, 0x06, 0x1F, 0x46, 0x73, 0x0E, 0xBB, 0x5A, 0x01];
    let doc = dec(&with_head(Version::V1_3, &body));
    assert_eq!(doc.root, Element::text("DateTime", "20010925T165859Z"));
    // We write dates as STR_I (Android ignores OPAQUE dates).
    let bytes = enc(&doc.root, Version::V1_3);
    let mut expected = vec![0x51, 0x03];
    expected.extend_from_slice(b"20010925T165859Z\0");
    expected.push(0x01);
    assert_eq!(bytes, with_head(Version::V1_3, &expected));
}

#[test]
fn other_opaque_becomes_base64() {
    let doc = dec(&with_head(
        Version::V1_2,
        &[0x4D, 0xC3, 0x03, 0xFF, 0x00, 0x41, 0x01],
    ));
    assert_eq!(doc.root, Element::text("ContentData", "/wBB"));
}

#[test]
fn shttp_is_a_two_byte_value_token_in_1_3_only() {
    let root = Element::text("SupportedCIRMethod", "SHTTP");
    assert_eq!(
        enc(&root, Version::V1_3),
        with_head(Version::V1_3, &[0x00, 0x03, 0x50, 0x80, 0x81, 0x25, 0x01])
    );
    assert_eq!(
        enc(&root, Version::V1_2),
        with_head(
            Version::V1_2,
            &[
                0x00, 0x03, 0x50, 0x03, b'S', b'H', b'T', b'T', b'P', 0x00, 0x01
            ]
        )
    );
    // Android writes 1.3 tokens in 1.2 documents: decoding uses the union.
    let doc = dec(&with_head(
        Version::V1_2,
        &[0x00, 0x03, 0x50, 0x80, 0x81, 0x25, 0x01],
    ));
    assert_eq!(doc.root, root);
}

#[test]
fn ambiguous_values_are_written_inline() {
    for v in Version::ALL {
        for s in ["SMS", "GROUP_ID", "History", "AP", "DENIED", "ShowID"] {
            let bytes = enc(&Element::text("Cap", s), v);
            assert!(!bytes.contains(&0x80), "{v} {s}: {bytes:02X?}");
        }
    }
    // IM has an unambiguous token (0x12) besides the clashing 0x68.
    assert!(contains(
        &enc(&Element::text("Cap", "IM"), Version::V1_2),
        &[0x80, 0x12]
    ));
}

#[test]
fn clashing_tokens_follow_the_document_version() {
    // 0x68: IM in 1.1/1.2, AP in 1.3. Page 9 0x0B: ReactiveAuthState / AnswerOptionText.
    let body = [0x00, 0x05, 0x6F, 0x80, 0x68, 0x01];
    assert_eq!(dec(&with_head(Version::V1_2, &body)).root.text, "IM");
    assert_eq!(dec(&with_head(Version::V1_3, &body)).root.text, "AP");
    assert_eq!(
        dec(&with_head(Version::V1_2, &[0x00, 0x09, 0x0B]))
            .root
            .name,
        "ReactiveAuthState"
    );
    assert_eq!(
        dec(&with_head(Version::V1_3, &[0x00, 0x09, 0x0B]))
            .root
            .name,
        "AnswerOptionText"
    );
    // The root's namespace beats the public id (an Android vector has id
    // 0x10 with a 1.2 namespace): here id 1.1, namespace 1.3.
    let mut body = vec![0xC9, 0x0B, 0x03, b'1', b'.', b'3', 0x00, 0x01];
    body.extend_from_slice(&[0x00, 0x05, 0x6F, 0x80, 0x68, 0x01, 0x01]);
    let doc = dec(&with_head(Version::V1_1, &body));
    assert_eq!(doc.version, Some(Version::V1_1));
    assert_eq!(doc.root.children[0].text, "AP");
}

#[test]
fn libwbxml_1_2_document_with_fpi_in_string_table() {
    // `xml2wbxml` 0.11.8 output for a 1.2 Login-Request: public id 0 and
    // the FPI at string table offset 0; xmlns dropped; MessageCount 0 as `C3 00`.
    const B12: &[u8] = &[
        0x03, 0x00, 0x00, 0x6a, 0x1b, 0x2d, 0x2f, 0x2f, 0x4f, 0x4d, 0x41, 0x2f, 0x2f, 0x44, 0x54,
        0x44, 0x20, 0x57, 0x56, 0x2d, 0x43, 0x53, 0x50, 0x20, 0x31, 0x2e, 0x32, 0x2f, 0x2f, 0x45,
        0x4e, 0x00, 0x49, 0x6d, 0x6e, 0x70, 0x80, 0x19, 0x01, 0x01, 0x72, 0x74, 0x76, 0x80, 0x20,
        0x01, 0x75, 0x03, 0x31, 0x00, 0x01, 0x01, 0x73, 0x00, 0x01, 0x5d, 0x00, 0x00, 0x7a, 0x03,
        0x77, 0x76, 0x3a, 0x61, 0x6c, 0x69, 0x63, 0x65, 0x00, 0x01, 0x6a, 0x4b, 0xc3, 0x01, 0xc9,
        0x01, 0x01, 0x51, 0x03, 0x32, 0x30, 0x30, 0x31, 0x30, 0x39, 0x32, 0x35, 0x54, 0x31, 0x36,
        0x35, 0x38, 0x35, 0x39, 0x5a, 0x00, 0x01, 0x5a, 0xc3, 0x00, 0x01, 0x01, 0x01, 0x01, 0x61,
        0x80, 0x0b, 0x01, 0x01, 0x01,
    ];
    let doc = dec(B12);
    assert_eq!(doc.version, Some(Version::V1_2));
    let login = doc
        .root
        .path(&[
            "Session",
            "Transaction",
            "TransactionContent",
            "Login-Request",
        ])
        .expect("Login-Request");
    assert_eq!(login.child_text("UserID"), Some("wv:alice"));
    assert_eq!(
        login.path(&["Result", "Code"]).map(|c| c.text.as_str()),
        Some("201")
    );
    assert_eq!(login.child_text("DateTime"), Some("20010925T165859Z"));
    assert_eq!(login.child_text("MessageCount"), Some("0"));
    assert_eq!(
        doc.root.path(&["Session", "Poll"]).map(|c| c.text.as_str()),
        Some("F")
    );
}

#[test]
fn text_pieces_concatenate() {
    // String table "example.org/\0". Text: STR_I "<" + EXT_T_0 http:// +
    // STR_T 0 + ENTITY U+263A + STR_I ">" (Baraza tokenizes substrings).
    let mut b = vec![0x03, 0x11, 0x6A, 0x0D];
    b.extend_from_slice(b"example.org/\0");
    b.extend_from_slice(&[
        0x77, 0x03, b'<', 0x00, 0x80, 0x0E, 0x83, 0x00, 0x02, 0xCC, 0x3A, 0x03, b'>', 0x00, 0x01,
    ]);
    assert_eq!(
        dec(&b).root,
        Element::text("URL", "<http://example.org/\u{263A}>")
    );
}

#[test]
fn empty_element_both_forms_and_literals() {
    let a = dec(&with_head(Version::V1_2, &[0x6D, 0x2E, 0x01])); // Session { SessionDescriptor }
    let b = dec(&with_head(Version::V1_2, &[0x6D, 0x6E, 0x01, 0x01])); // Android: content bit + END
    assert_eq!(a.root, b.root);
    assert_eq!(
        enc(&a.root, Version::V1_2),
        with_head(Version::V1_2, &[0x6D, 0x2E, 0x01])
    );

    // Unknown names become LITERALs with a string table, shared when repeated.
    let root = Element::new("Foo")
        .with(Element::new("Foo"))
        .with_attr("bar", "1");
    let mut expected = vec![0x03, 0x11, 0x6A, 0x08];
    expected.extend_from_slice(b"Foo\0bar\0");
    expected.extend_from_slice(&[
        0xC4, 0x00, 0x04, 0x04, 0x03, b'1', 0x00, 0x01, 0x04, 0x00, 0x01,
    ]);
    assert_eq!(enc(&root, Version::V1_2), expected);
    assert_eq!(dec(&expected).root, root);
}

#[test]
fn tags_outside_the_safe_subset_are_literals() {
    // CALI exists in 1.1/1.2 but Android's parser rejects its token.
    let bytes = enc(&Element::new("CALI"), Version::V1_2);
    assert_eq!(
        bytes,
        [
            0x03, 0x11, 0x6A, 0x05, b'C', b'A', b'L', b'I', 0x00, 0x04, 0x00
        ]
    );
    // 1.3 elements in a 1.1 document.
    let bytes = enc(&Element::new("FriendlyName"), Version::V1_1);
    assert_eq!(bytes[3], 13);
    // Unknown token: named, not rejected.
    assert_eq!(
        dec(&with_head(Version::V1_3, &[0x00, 0x0B, 0x3F]))
            .root
            .name,
        "UnknownTag-0B-3F"
    );
}

#[test]
fn nul_characters_travel_as_entity_zero() {
    let root = Element::text("Description", "a\0b").with_attr("xmlns", "x\0");
    let bytes = enc(&root, Version::V1_2);
    assert!(contains(
        &bytes,
        &[0x03, b'a', 0x00, 0x02, 0x00, 0x03, b'b', 0x00]
    ));
    assert_eq!(dec(&bytes).root, root);
}

#[test]
fn header_variants() {
    // Charset 0 is read as UTF-8; multi-byte public id; WBXML 1.1 version byte.
    assert_eq!(
        dec(&[0x03, 0x11, 0x00, 0x00, 0x2E]).root.name,
        "SessionDescriptor"
    );
    assert_eq!(
        dec(&[0x01, 0x80, 0x12, 0x6A, 0x00, 0x2E]).version,
        Some(Version::V1_3)
    );
    // Unknown public id: decoded with the union, version unknown.
    assert_eq!(dec(&[0x03, 0x0F, 0x6A, 0x00, 0x2E]).version, None);
    // Baraza's FPI spelling for 1.2; attribute value as STR_T.
    let mut b = vec![0x03, 0x00, 0x00, 0x6A, 0x21];
    b.extend_from_slice(b"-//OMA//DTD IMPS-CSP 1.2//EN\x001.2\0");
    b.extend_from_slice(&[0x89, 0x08, 0x83, 0x1D, 0x01]);
    let doc = dec(&b);
    assert_eq!(doc.version, Some(Version::V1_2));
    assert_eq!(doc.root.xmlns(), Some(Version::V1_2.csp_ns()));
    // Other charsets are refused.
    let err = decode(&[0x03, 0x11, 0x04, 0x00, 0x2E], &Limits::default()).err();
    assert!(
        matches!(err, Some(WireError::Wbxml { offset: 2, .. })),
        "{err:?}"
    );
    let err = decode(&[0x00, 0x11, 0x00, 0x2E], &Limits::default()).err();
    assert!(
        matches!(err, Some(WireError::Wbxml { offset: 0, .. })),
        "{err:?}"
    );
}

#[test]
fn we_always_write_numeric_public_ids() {
    for v in Version::ALL {
        let bytes = enc(&Element::new("WV-CSP-Message"), v);
        assert_eq!(&bytes[..4], &head(v)[..]);
    }
}
