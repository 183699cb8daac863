//! Property tests of the SMPP PDU codec: arbitrary bytes never make the
//! decoder panic, and every PDU it encodes decodes to itself.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use imps_smpp::pdu::{Bind, Body, Pdu, SubmitSm, Tlv, frame_len};
use proptest::prelude::*;

/// Printable ASCII without NUL, shorter than `max` (a C-octet string's
/// room includes its NUL).
fn cstr(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[ -~]{{0,{}}}", max - 1)).unwrap()
}

fn submit() -> impl Strategy<Value = SubmitSm> {
    (
        (
            cstr(6),
            any::<u8>(),
            any::<u8>(),
            cstr(21),
            any::<u8>(),
            any::<u8>(),
            cstr(21),
        ),
        (any::<u8>(), any::<u8>(), any::<u8>(), cstr(17), cstr(17)),
        (any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>()),
        proptest::collection::vec(any::<u8>(), 0..=254),
        proptest::collection::vec(
            (any::<u16>(), proptest::collection::vec(any::<u8>(), 0..20))
                .prop_map(|(tag, value)| Tlv { tag, value }),
            0..3,
        ),
    )
        .prop_map(|(a, b, c, short_message, tlvs)| SubmitSm {
            service_type: a.0,
            source_addr_ton: a.1,
            source_addr_npi: a.2,
            source_addr: a.3,
            dest_addr_ton: a.4,
            dest_addr_npi: a.5,
            destination_addr: a.6,
            esm_class: b.0,
            protocol_id: b.1,
            priority_flag: b.2,
            schedule_delivery_time: b.3,
            validity_period: b.4,
            registered_delivery: c.0,
            replace_if_present_flag: c.1,
            data_coding: c.2,
            sm_default_msg_id: c.3,
            short_message,
            tlvs,
        })
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        (
            cstr(16),
            cstr(9),
            cstr(13),
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
            cstr(41)
        )
            .prop_map(
                |(
                    system_id,
                    password,
                    system_type,
                    interface_version,
                    addr_ton,
                    addr_npi,
                    address_range,
                )| {
                    Bind {
                        system_id,
                        password,
                        system_type,
                        interface_version,
                        addr_ton,
                        addr_npi,
                        address_range,
                    }
                }
            )
            .prop_flat_map(|b| prop_oneof![
                Just(Body::BindTransmitter(b.clone())),
                Just(Body::BindTransceiver(b)),
            ]),
        cstr(16).prop_map(|system_id| Body::BindTransmitterResp { system_id }),
        cstr(16).prop_map(|system_id| Body::BindTransceiverResp { system_id }),
        submit().prop_map(|s| Body::SubmitSm(Box::new(s))),
        submit().prop_map(|s| Body::DeliverSm(Box::new(s))),
        cstr(65).prop_map(|message_id| Body::DeliverSmResp { message_id }),
        cstr(65).prop_map(|message_id| Body::SubmitSmResp { message_id }),
        Just(Body::EnquireLink),
        Just(Body::EnquireLinkResp),
        Just(Body::Unbind),
        Just(Body::UnbindResp),
        Just(Body::GenericNack),
        (
            0x0000_0100u32..0x0000_0200,
            proptest::collection::vec(any::<u8>(), 0..40)
        )
            .prop_map(|(command_id, body)| Body::Other { command_id, body }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = frame_len(&bytes);
        let _ = Pdu::decode(&bytes);
    }

    #[test]
    fn decoder_never_panics_on_framed_bodies(
        id in prop_oneof![Just(2u32), Just(4), Just(0x8000_0002), Just(0x8000_0004), Just(0x15), any::<u32>()],
        body in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        // A well-formed header over random bytes reaches every field reader.
        let mut raw = Vec::new();
        raw.extend_from_slice(&((16 + body.len()) as u32).to_be_bytes());
        raw.extend_from_slice(&id.to_be_bytes());
        raw.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]);
        raw.extend_from_slice(&body);
        let _ = Pdu::decode(&raw);
    }

    #[test]
    fn pdus_round_trip(body in body(), sequence in 1u32..0x7FFF_FFFF, status in prop_oneof![Just(0u32), any::<u32>()]) {
        // Error responses may come without a body: give them one here so
        // the round trip is exact.
        let pdu = Pdu { status, sequence, body };
        let bytes = pdu.encode();
        prop_assert_eq!(frame_len(&bytes).unwrap(), Some(bytes.len()));
        let back = Pdu::decode(&bytes).unwrap();
        // An error response without a body re-encodes without one.
        let bodiless = matches!(
            (&pdu.body, status),
            (Body::SubmitSmResp { message_id }, s)
                | (Body::BindTransmitterResp { system_id: message_id }, s)
                if s != 0 && message_id.is_empty()
        );
        let keep = !bodiless;
        if keep {
            prop_assert_eq!(back, pdu);
        } else {
            prop_assert_eq!(back.encode(), bytes);
        }
    }
}
