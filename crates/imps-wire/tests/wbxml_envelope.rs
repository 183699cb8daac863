#![allow(clippy::unwrap_used)]
//! The envelope read without a tree (`wbxml::envelope`, issue 19) says
//! what the full decode says, or nothing: for every example message of
//! every version, for sends with random content, recipients and IDs, for
//! those bytes cut or with a byte changed, and for random bytes. When it
//! reads an envelope the full decode must succeed and agree with it on
//! the version, the SessionID, the number of transactions and the first
//! one's mode, TransactionID, primitive and group recipients.

use imps_wire::wbxml::Envelope;
use imps_wire::{Element, Encoding, Limits, Message, Transaction, TransactionMode, Version};
use proptest::prelude::*;

use crate::wbxml_prop::tree;

/// What the full decode says about the same bytes.
fn view(m: &Message) -> Envelope {
    let tx = &m.transactions[0];
    Envelope {
        version: m.version,
        session_id: m.session_id.clone(),
        transactions: m.transactions.len(),
        mode: tx.mode,
        transaction_id: tx.id.clone(),
        primitive: imps_wire::PrimitiveKind::from_name(&tx.body.name)
            .map(|k| k.name())
            .unwrap_or("?"),
        to_group: tx
            .body
            .path(&["MessageInfo", "Recipient"])
            .is_some_and(|r| r.child("Group").is_some()),
    }
}

/// The envelope, checked against the full decode; true when it read one.
fn agrees(bytes: &[u8]) -> Result<bool, TestCaseError> {
    let limits = Limits::default();
    let Some(e) = imps_wire::wbxml::envelope(bytes, &limits) else {
        return Ok(false);
    };
    let m = imps_wire::decode(bytes, Encoding::Wbxml, &limits);
    prop_assert!(m.is_ok(), "envelope {:?} of undecodable bytes: {:?}", e, m);
    let m = m.unwrap();
    let mut expected = view(&m);
    if expected.primitive == "?" {
        expected.primitive = e.primitive;
        prop_assert_eq!(e.primitive, m.transactions[0].body.name.as_str());
    }
    prop_assert_eq!(e, expected);
    Ok(true)
}

fn send(
    v: Version,
    sid: &str,
    tid: &str,
    mode: TransactionMode,
    group: bool,
    content: Element,
) -> Vec<u8> {
    let rcpt = if group {
        Element::new("Recipient").with(Element::new("Group").with_text("GroupID", "wv:g@x"))
    } else {
        Element::new("Recipient").with(Element::new("User").with_text("UserID", "wv:bob@x"))
    };
    let body = Element::new("SendMessage-Request")
        .with_text("DeliveryReport", "F")
        .with(
            Element::new("MessageInfo")
                .with_text("ContentType", "text/plain")
                .with(rcpt),
        )
        .with(content);
    let mut tx = Transaction::request(tid, body);
    tx.mode = mode;
    let m = Message::single(v, Some(sid.to_string()), tx);
    imps_wire::encode(&m, Encoding::Wbxml).unwrap()
}

/// A one-line send of session `s1`, transaction `5`, to a user.
fn plain_send(v: Version) -> Vec<u8> {
    send(
        v,
        "s1",
        "5",
        TransactionMode::Request,
        false,
        Element::text("ContentData", "x"),
    )
}

#[test]
fn every_example_message_reads_as_the_full_decode_says() {
    let mut read = 0;
    for v in Version::ALL {
        for (name, m) in imps_wire::examples::all(v) {
            let bytes = imps_wire::encode(&m, Encoding::Wbxml).unwrap();
            if agrees(&bytes).map_err(|e| format!("{name}: {e}")).unwrap() {
                read += 1;
            }
        }
    }
    assert!(read > 100, "{read} read");
}

/// A send as clients write it is read (not left to the full decode).
#[test]
fn a_plain_send_is_read() {
    for v in Version::ALL {
        let bytes = send(
            v,
            "sess-1",
            "17",
            TransactionMode::Request,
            false,
            Element::text("ContentData", "hi"),
        );
        assert!(agrees(&bytes).unwrap(), "{v}");
        let e = imps_wire::wbxml::envelope(&bytes, &Limits::default()).unwrap();
        assert_eq!(e.primitive, "SendMessage-Request");
        assert_eq!(e.transaction_id.as_deref(), Some("17"));
        assert!(!e.to_group);
    }
}

/// Text kept around a child element (mixed content) in an element the
/// envelope reads: the full decode keeps the child out of the text; the
/// quick read leaves such a message to it.
#[test]
fn a_child_inside_the_session_id_is_left_to_the_full_decode() {
    for v in Version::ALL {
        let bytes = plain_send(v);
        let m = imps_wire::decode(&bytes, Encoding::Wbxml, &Limits::default()).unwrap();
        let mut root = m.to_element();
        let sid = root
            .child_mut("Session")
            .and_then(|s| s.child_mut("SessionDescriptor"))
            .and_then(|d| d.child_mut("SessionID"))
            .unwrap();
        sid.children.push(Element::text("Code", "200"));
        let bytes = imps_wire::wbxml::encode(&root, v).unwrap();
        assert!(!agrees(&bytes).unwrap(), "{v}: read although mixed");
    }
}

/// A send's tree changed by `f`, encoded in `v`.
fn changed_send(v: Version, session_id: Option<&str>, f: impl FnOnce(&mut Element)) -> Vec<u8> {
    let bytes = plain_send(v);
    let mut m = imps_wire::decode(&bytes, Encoding::Wbxml, &Limits::default()).unwrap();
    m.session_id = session_id.map(str::to_string);
    let mut root = m.to_element();
    f(&mut root);
    imps_wire::wbxml::encode(&root, v).unwrap()
}

/// Elements of the names the envelope reads, in places the full decode
/// does not look (another root child, a second descriptor, deeper in the
/// transaction), and a second transaction the full decode refuses: the
/// quick read agrees or says nothing.
#[test]
fn names_in_other_places_and_later_transactions_do_not_mislead() {
    let sd = |id: &str| Element::new("SessionDescriptor").with(Element::text("SessionID", id));
    for v in Version::ALL {
        let cases: Vec<Vec<u8>> =
            vec![
                changed_send(v, None, |root| {
                    root.children.push(Element::new("Foo").with(sd("x")));
                }),
                changed_send(v, Some("s1"), |root| {
                    let session = root.child_mut("Session").unwrap();
                    session.children.push(
                        Element::new("Poll").with(
                            Element::new("TransactionDescriptor")
                                .with_text("TransactionMode", "Response")
                                .with_text("TransactionID", "99"),
                        ),
                    );
                    session.children.push(Element::new("Poll").with(
                        Element::new("TransactionContent").with(Element::new("Login-Request")),
                    ));
                }),
                changed_send(v, Some("s1"), |root| {
                    let tx = root
                        .child_mut("Session")
                        .and_then(|s| s.child_mut("Transaction"))
                        .unwrap();
                    tx.children.push(
                        Element::new("Foo").with(
                            Element::new("Bar").with(
                                Element::new("MessageInfo").with(
                                    Element::new("Recipient")
                                        .with(Element::new("Group").with_text("GroupID", "g")),
                                ),
                            ),
                        ),
                    );
                }),
                changed_send(v, Some("s1"), |root| {
                    root.child_mut("Session")
                        .unwrap()
                        .children
                        .push(Element::new("Transaction"));
                }),
            ];
        for (i, bytes) in cases.iter().enumerate() {
            agrees(bytes)
                .map_err(|e| format!("{v} case {i}: {e}"))
                .unwrap();
        }
    }
}

/// The attribute code page lasts from one element's attributes to the
/// next element's, in the decoder: a switch at the end of the root's
/// attributes makes a later xmlns token unknown there, and the quick read
/// must not take the message the decoder refuses.
#[test]
fn the_attribute_page_carries_over_as_in_the_decoder() {
    for v in Version::ALL {
        let mut bytes = plain_send(v);
        // Header: version, public id, charset, empty string table; then
        // the root tag with attributes, whose list ends at the first END.
        assert_eq!(bytes[4] & 0x80, 0x80, "{v}: the root has attributes");
        let end = 5 + bytes[5..].iter().position(|b| *b == 0x01).unwrap();
        bytes.splice(end..end, [0x00, 0x01]);
        agrees(&bytes).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn sends_read_as_the_full_decode_says(
        v in prop::sample::select(Version::ALL.to_vec()),
        sid in prop_oneof!["[A-Za-z0-9._:-]{1,30}", "[ -~]{0,12}", Just("Inband".to_string())],
        tid in prop_oneof!["[0-9]{1,6}", "[ -~]{0,8}", Just("Response".to_string())],
        response in any::<bool>(),
        group in any::<bool>(),
        content in tree(),
    ) {
        let mode = if response { TransactionMode::Response } else { TransactionMode::Request };
        let bytes = send(v, &sid, &tid, mode, group, content);
        agrees(&bytes)?;
    }

    #[test]
    fn damaged_sends_say_nothing_the_full_decode_does_not(
        v in prop::sample::select(Version::ALL.to_vec()),
        content in tree(),
        cut in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let bytes = send(v, "s1", "5", TransactionMode::Request, false, content);
        agrees(&bytes[..cut.index(bytes.len())])?;
        let mut changed = bytes.clone();
        let i = at.index(changed.len());
        changed[i] = byte;
        agrees(&changed)?;
    }

    #[test]
    fn random_bytes_say_nothing_the_full_decode_does_not(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        agrees(&bytes)?;
    }
}
