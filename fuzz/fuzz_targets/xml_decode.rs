//! Fuzzes the XML decoder: any bytes must give a tree or a typed error,
//! never a panic, and whatever decodes must re-encode to a fixpoint
//! (encode(decode(encode(t))) == encode(t)), so the encoder never writes
//! something its own decoder reads differently. When the tree is a CSP
//! message, the envelope reader and writer run too.
//!
//! cargo +nightly fuzz run xml_decode

#![no_main]

use imps_wire::{Limits, Message, xml};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let Ok(tree) = xml::decode(data, &limits) else {
        return;
    };
    let once = xml::encode(&tree);
    // Escaping can make the output longer than the input, so the size
    // limit is lifted for the second read; the other limits still hold.
    let relaxed = Limits {
        max_size: usize::MAX,
        ..limits
    };
    let again = match xml::decode(&once, &relaxed) {
        Ok(t) => t,
        Err(e) => panic!("re-decoding our own output failed: {e}"),
    };
    assert_eq!(xml::encode(&again), once, "encoding is not a fixpoint");
    if let Ok(msg) = Message::from_element(tree, None) {
        let _ = xml::encode(&msg.to_element());
    }
});
