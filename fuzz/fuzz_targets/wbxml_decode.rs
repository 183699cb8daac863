//! Fuzzes the WBXML decoder: any input must decode or fail with an error,
//! never panic, hang or allocate without bound. Whatever decodes must
//! re-encode, and decoding that again must give the same tree (the same
//! property `tests/wbxml_prop.rs` checks on a few thousand cases). An
//! envelope read without the tree agrees with the full decode
//! (`tests/wbxml_envelope.rs`).

#![no_main]

use imps_wire::wbxml::{decode, encode};
use imps_wire::{Encoding, Limits, Version};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    // The envelope read without a tree (issue 19) says nothing the full
    // decode does not.
    if let Some(e) = imps_wire::wbxml::envelope(data, &limits) {
        let m = imps_wire::decode(data, Encoding::Wbxml, &limits)
            .expect("an envelope was read, so the message decodes");
        let tx = &m.transactions[0];
        assert_eq!(
            (m.version, &m.session_id, m.transactions.len(), tx.mode, &tx.id),
            (e.version, &e.session_id, e.transactions, e.mode, &e.transaction_id),
            "the envelope differs from the full decode"
        );
        assert_eq!(tx.body.name.as_str(), e.primitive);
    }
    let Ok(doc) = decode(data, &limits) else {
        return;
    };
    // Re-encode in the version the decoder preferred: the root namespace
    // first, then the public id (see wbxml::decode).
    let v = doc
        .root
        .xmlns()
        .and_then(Version::from_namespace)
        .or(doc.version)
        .unwrap_or(Version::V1_3);
    let bytes = encode(&doc.root, v).expect("a decoded tree always re-encodes");
    // Our encoding may be longer than the input (we write inline what the
    // input took from the string table), so max_size may have to grow; that
    // only loosens the text budget tied to it. Every other limit depends
    // only on the tree, so it must still hold.
    let relimits = Limits {
        max_size: limits.max_size.max(bytes.len()),
        ..limits
    };
    let again = decode(&bytes, &relimits).expect("our own output decodes");
    assert_eq!(
        again.root, doc.root,
        "decode -> encode -> decode changed the tree"
    );
});
