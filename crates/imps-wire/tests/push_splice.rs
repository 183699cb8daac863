#![allow(clippy::unwrap_used)]
//! A primitive encoded once and spliced into each recipient's envelope
//! (`SharedBody::encode_for`, and as an answer `encode_answer_for`) gives the same bytes as the whole message
//! encoded for that recipient (`imps_wire::encode`), in every version and
//! encoding: the example primitives of every version, presence
//! notifications (the PA namespace goes on in the body), vendor elements
//! (string table: encoded whole), and random trees.

use imps_wire::{Element, Encoding, Message, SharedBody, Transaction, Version, examples};
use proptest::prelude::*;

use crate::wbxml_prop::tree;

const ENCODINGS: [Encoding; 2] = [Encoding::Xml, Encoding::Wbxml];

/// What the push path wrote before the shared encoding existed.
fn whole(v: Version, sid: &str, tid: &str, poll: bool, body: &Element, e: Encoding) -> Vec<u8> {
    let mut m = Message::single(
        v,
        Some(sid.to_string()),
        Transaction::request(tid, body.clone()),
    );
    m.poll = Some(poll);
    imps_wire::encode(&m, e).unwrap()
}

/// The same body as the server's answer to transaction `tid`.
fn whole_answer(
    v: Version,
    sid: &str,
    tid: &str,
    poll: bool,
    body: &Element,
    e: Encoding,
) -> Vec<u8> {
    let mut m = Message::single(
        v,
        Some(sid.to_string()),
        Transaction::response(Some(tid.to_string()), body.clone()),
    );
    m.poll = Some(poll);
    imps_wire::encode(&m, e).unwrap()
}

/// One shared body sent to several recipients of every version and
/// encoding, each compared with its whole encoding. Recipients are
/// visited twice, so the second round uses the bytes made in the first.
fn check(body: &Element) -> Result<(), TestCaseError> {
    let shared = SharedBody::new(body.clone());
    let recipients = [
        ("196FE717.00000000.test1", "s1", false),
        ("0123456789abcdef0123456789abcdef", "s4294967295", true),
        ("a&<b>", "s2", true),
    ];
    for _round in 0..2 {
        for v in Version::ALL {
            for e in ENCODINGS {
                for (sid, tid, poll) in recipients {
                    let spliced = shared.encode_for(v, sid, tid, poll, e);
                    let mut m = Message::single(
                        v,
                        Some(sid.to_string()),
                        Transaction::request(tid, body.clone()),
                    );
                    m.poll = Some(poll);
                    match imps_wire::encode(&m, e) {
                        Ok(expected) => {
                            prop_assert_eq!(spliced.unwrap(), expected, "{:?} {:?}", v, e)
                        }
                        Err(_) => prop_assert!(spliced.is_err()),
                    }
                    let answer = shared.encode_answer_for(v, sid, tid, poll, e);
                    m.transactions =
                        vec![Transaction::response(Some(tid.to_string()), body.clone())];
                    match imps_wire::encode(&m, e) {
                        Ok(expected) => {
                            prop_assert_eq!(answer.unwrap(), expected, "answer {:?} {:?}", v, e)
                        }
                        Err(_) => prop_assert!(answer.is_err()),
                    }
                }
            }
        }
    }
    Ok(())
}

#[test]
fn every_example_primitive_splices_to_the_whole_encoding() {
    let mut n = 0;
    for v in Version::ALL {
        for (name, m) in examples::all(v) {
            for t in &m.transactions {
                check(&t.body).map_err(|e| format!("{name}: {e}")).unwrap();
                n += 1;
            }
        }
    }
    assert!(n > 100, "{n}");
}

#[test]
fn presence_notifications_get_each_versions_pa_namespace() {
    let body = Element::new("PresenceNotification-Request").with(
        Element::new("Presence")
            .with_text("UserID", "wv:alice@example.com")
            .with(
                Element::new("PresenceSubList").with(
                    Element::new("StatusText")
                        .with_text("Qualifier", "T")
                        .with_text("PresenceValue", "out & about"),
                ),
            ),
    );
    check(&body).unwrap();
    let shared = SharedBody::new(body.clone());
    for v in Version::ALL {
        for e in ENCODINGS {
            let spliced = shared.encode_for(v, "sid", "s1", false, e).unwrap();
            assert_eq!(spliced, whole(v, "sid", "s1", false, &body, e));
        }
        let xml = String::from_utf8(
            shared
                .encode_for(v, "sid", "s1", false, Encoding::Xml)
                .unwrap(),
        )
        .unwrap();
        assert!(
            xml.contains(&format!("<PresenceSubList xmlns=\"{}\">", v.pa_ns())),
            "{xml}"
        );
    }
}

#[test]
fn vendor_elements_need_the_string_table_and_still_match() {
    let body = Element::new("NewMessage")
        .with(Element::new("MessageInfo").with_text("MessageID", "m1"))
        .with(Element::new("x:vendor").with_text("Colibria", "1"))
        .with_text("ContentData", "hi");
    check(&body).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn random_primitives_splice_to_the_whole_encoding(body in tree()) {
        check(&body)?;
    }

    /// The envelope is filled in from a template when the IDs are written
    /// as they are; IDs that a version writes otherwise (a value token, an
    /// integer, an escape) must still come out as the whole encoding.
    #[test]
    fn any_session_and_transaction_id_gives_the_whole_encoding(
        sid in prop_oneof![
            "[A-Za-z0-9._:-]{1,40}",
            Just("Request".to_string()),
            Just("Inband".to_string()),
            Just("T".to_string()),
            Just("12345".to_string()),
            Just("0".to_string()),
            Just("www.wireless-village.org".to_string()),
            "[ -~]{0,12}",
        ],
        tid in prop_oneof![
            "s[0-9]{1,10}",
            Just("Response".to_string()),
            Just("42".to_string()),
            "[ -~]{0,12}",
        ],
        poll in any::<bool>(),
    ) {
        let bodies = [
            Element::new("PresenceNotification-Request").with(
                Element::new("Presence").with_text("UserID", "wv:a@b").with(
                    Element::new("PresenceSubList").with(
                        Element::new("StatusText")
                            .with_text("Qualifier", "T")
                            .with_text("PresenceValue", "x"),
                    ),
                ),
            ),
            Element::new("Status").with(Element::new("Result").with_text("Code", "200")),
        ];
        for body in &bodies {
            let shared = SharedBody::new(body.clone());
            for v in Version::ALL {
                for e in ENCODINGS {
                    let spliced = shared.encode_for(v, &sid, &tid, poll, e).unwrap();
                    prop_assert_eq!(spliced, whole(v, &sid, &tid, poll, body, e), "{:?} {:?}", v, e);
                    let answer = shared.encode_answer_for(v, &sid, &tid, poll, e).unwrap();
                    prop_assert_eq!(answer, whole_answer(v, &sid, &tid, poll, body, e), "answer {:?} {:?}", v, e);
                }
            }
        }
    }
}
