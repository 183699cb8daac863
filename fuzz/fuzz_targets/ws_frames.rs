//! The server's WebSocket frame reader (`impsd::websocket::Decoder`) on
//! any bytes: it never panics, never gives a data message over its limit
//! or a text message that is not UTF-8, and reads the same messages (and
//! the same error) whether the bytes come at once or in pieces.
//!
//! cargo +nightly fuzz run ws_frames
#![no_main]

use impsd::websocket::{Decoder, WsMessage};
use libfuzzer_sys::fuzz_target;

/// Every message read, then how the reading ended (an error or waiting).
fn read_all(max: usize, pieces: &mut dyn Iterator<Item = &[u8]>) -> (Vec<WsMessage>, bool) {
    let mut dec = Decoder::new(max);
    let mut buf = bytes::BytesMut::new();
    let mut got = Vec::new();
    for p in pieces {
        buf.extend_from_slice(p);
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(m)) => got.push(m),
                Ok(None) => break,
                Err(_) => return (got, true),
            }
        }
    }
    (got, false)
}

fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else {
        return;
    };
    let max = (head as usize) * 8;
    let piece = (head as usize % 7) + 1;
    let whole = read_all(max, &mut std::iter::once(rest));
    let cut = read_all(max, &mut rest.chunks(piece));
    assert_eq!(whole, cut, "pieces of {piece} bytes read otherwise");
    for m in &whole.0 {
        match m {
            WsMessage::Text(b) => {
                assert!(b.len() <= max);
                assert!(std::str::from_utf8(b).is_ok());
            }
            WsMessage::Binary(b) => assert!(b.len() <= max),
            WsMessage::Ping(b) | WsMessage::Pong(b) => assert!(b.len() <= 125),
            WsMessage::Close(_) => {}
        }
    }
});
