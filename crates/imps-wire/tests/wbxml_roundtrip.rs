//! Element -> WBXML -> Element for realistic messages of every version:
//! the tree must come back exactly, and the typed message too.

use crate::wbxml_common;

use imps_wire::wbxml::{decode, encode};
use imps_wire::{Encoding, Limits, Message, Version};
use wbxml_common::documents;

#[test]
fn realistic_documents_round_trip_exactly() {
    for v in Version::ALL {
        for (name, msg) in documents(v) {
            let root = msg.to_element();
            let bytes = encode(&root, v).unwrap_or_else(|e| panic!("{v} {name}: encode: {e}"));
            let doc = decode(&bytes, &Limits::default())
                .unwrap_or_else(|e| panic!("{v} {name}: decode: {e}"));
            assert_eq!(doc.root, root, "{v} {name}");
            assert_eq!(doc.version, Some(v), "{v} {name}");
            let back = Message::from_element(doc.root, doc.version)
                .unwrap_or_else(|e| panic!("{v} {name}: {e}"));
            assert_eq!(back, msg, "{v} {name}");
        }
    }
}

#[test]
fn crate_level_codec_round_trips() {
    for v in Version::ALL {
        for (name, msg) in documents(v) {
            let bytes = imps_wire::encode(&msg, Encoding::Wbxml)
                .unwrap_or_else(|e| panic!("{v} {name}: {e}"));
            let back = imps_wire::decode(&bytes, Encoding::Wbxml, &Limits::default())
                .unwrap_or_else(|e| panic!("{v} {name}: {e}"));
            assert_eq!(back, msg, "{v} {name}");
        }
    }
}

#[test]
fn documents_compress_and_need_no_string_table_when_all_tags_are_known() {
    for v in Version::ALL {
        for (name, msg) in documents(v) {
            let bytes = encode(&msg.to_element(), v).expect("encode");
            // The function tree has CALI/DALI/GALS (LITERALs in every
            // version: 1.3 dropped them, and Android rejects their tokens).
            let literals = name == "Service-Response";
            assert_eq!(bytes[3] != 0, literals, "{v} {name}: string table");
            // Rough size check against the text alone: tags cost one byte.
            let text: usize = text_len(&msg.to_element());
            assert!(
                bytes.len() < text + 200,
                "{v} {name}: {} bytes for {text} of text",
                bytes.len()
            );
        }
    }
}

fn text_len(e: &imps_wire::Element) -> usize {
    e.text.len()
        + e.attrs.iter().map(|a| a.value.len()).sum::<usize>()
        + e.children.iter().map(text_len).sum::<usize>()
}

#[test]
fn version_specific_tokens() {
    // A 1.3-only element is a LITERAL in 1.2 and a token in 1.3.
    let root = imps_wire::Element::new("WV-CSP-Message").with_text("FriendlyName", "Bob");
    let b12 = encode(&root, Version::V1_2).expect("encode");
    let b13 = encode(&root, Version::V1_3).expect("encode");
    assert!(b12.windows(13).any(|w| w == b"FriendlyName\0"));
    assert_eq!(b13[3], 0);
    for b in [b12, b13] {
        assert_eq!(decode(&b, &Limits::default()).expect("decode").root, root);
    }
}

#[test]
fn every_crate_example_round_trips() {
    let mut n = 0;
    for v in Version::ALL {
        for (name, msg) in imps_wire::examples::all(v) {
            let root = msg.to_element();
            let bytes = encode(&root, v).unwrap_or_else(|e| panic!("{v} {name}: encode: {e}"));
            let doc = decode(&bytes, &Limits::default())
                .unwrap_or_else(|e| panic!("{v} {name}: decode: {e}"));
            assert_eq!(doc.root, root, "{v} {name}");
            n += 1;
        }
    }
    assert!(n > 50, "only {n} examples");
}
