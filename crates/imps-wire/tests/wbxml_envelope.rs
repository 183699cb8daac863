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
        let bytes = send(
            v,
            "s1",
            "5",
            TransactionMode::Request,
            false,
            Element::text("ContentData", "x"),
        );
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
