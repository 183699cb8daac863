//! Property tests of the CIR payload readers: arbitrary bytes never make
//! the WSP push or WVCI decoders panic, and what they encode they read
//! back unchanged.

use imps_wire::Version;
use imps_wire::cir::{CirLine, WapPush, get_uintvar, put_uintvar};
use proptest::prelude::*;

fn version() -> impl Strategy<Value = Version> {
    prop_oneof![
        Just(Version::V1_1),
        Just(Version::V1_2),
        Just(Version::V1_3)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn push_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = WapPush::decode(&bytes);
        let _ = CirLine::from_bytes(&bytes);
    }

    #[test]
    fn push_headers_never_panic(hdrs in proptest::collection::vec(any::<u8>(), 0..60), tid in any::<u8>()) {
        // Well-formed envelope, random headers: reaches the header walker.
        let mut pdu = vec![tid, 0x06];
        put_uintvar(&mut pdu, hdrs.len() as u32);
        pdu.extend_from_slice(&hdrs);
        let _ = WapPush::decode(&pdu);
    }

    #[test]
    fn push_round_trips(tid in any::<u8>(), v in version(), cookie in "[0-9A-Za-z]{0,40}") {
        let line = CirLine::new(v, cookie);
        let p = WapPush::cir(tid, &line);
        let back = WapPush::decode(&p.encode()).unwrap();
        prop_assert_eq!(&back, &p);
        prop_assert_eq!(CirLine::from_bytes(&back.body).unwrap(), line);
    }

    #[test]
    fn uintvar_round_trips(v in any::<u32>()) {
        let mut b = Vec::new();
        put_uintvar(&mut b, v);
        prop_assert_eq!(get_uintvar(&b), Some((v, b.len())));
    }
}
