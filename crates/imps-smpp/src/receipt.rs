//! SMSC delivery receipts: a deliver_sm whose esm_class marks it as one
//! (SMPP 3.4 section 5.2.12), telling what became of a submit_sm asked
//! with registered_delivery. The message ID and final state are read from
//! the TLVs receipted_message_id and message_state when the SMSC sends
//! them, else from the text form (appendix B: `id:... stat:DELIVRD err:...`)
//! that most SMSCs put in short_message.

use crate::pdu::SubmitSm;

/// esm_class bits 2-5: the message type.
pub const ESM_CLASS_TYPE_MASK: u8 = 0x3C;
/// esm_class message type of an SMSC delivery receipt.
pub const ESM_CLASS_DELIVERY_RECEIPT: u8 = 0x04;
/// TLV receipted_message_id: C-octet string.
pub const TAG_RECEIPTED_MESSAGE_ID: u16 = 0x001E;
/// TLV message_state: one octet.
pub const TAG_MESSAGE_STATE: u16 = 0x0427;

/// The state a receipt reports (message_state values 1-8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Enroute,
    Delivered,
    Expired,
    Deleted,
    Undeliverable,
    Accepted,
    Unknown,
    Rejected,
}

impl DeliveryState {
    fn from_code(c: u8) -> Option<DeliveryState> {
        Some(match c {
            1 => DeliveryState::Enroute,
            2 => DeliveryState::Delivered,
            3 => DeliveryState::Expired,
            4 => DeliveryState::Deleted,
            5 => DeliveryState::Undeliverable,
            6 => DeliveryState::Accepted,
            7 => DeliveryState::Unknown,
            8 => DeliveryState::Rejected,
            _ => return None,
        })
    }

    /// The `stat:` word of the text form; any case.
    fn from_word(w: &str) -> Option<DeliveryState> {
        Some(match w.to_ascii_uppercase().as_str() {
            "ENROUTE" => DeliveryState::Enroute,
            "DELIVRD" => DeliveryState::Delivered,
            "EXPIRED" => DeliveryState::Expired,
            "DELETED" => DeliveryState::Deleted,
            "UNDELIV" => DeliveryState::Undeliverable,
            "ACCEPTD" => DeliveryState::Accepted,
            "UNKNOWN" => DeliveryState::Unknown,
            "REJECTD" => DeliveryState::Rejected,
            _ => return None,
        })
    }

    /// The word the text form uses.
    pub fn as_word(self) -> &'static str {
        match self {
            DeliveryState::Enroute => "ENROUTE",
            DeliveryState::Delivered => "DELIVRD",
            DeliveryState::Expired => "EXPIRED",
            DeliveryState::Deleted => "DELETED",
            DeliveryState::Undeliverable => "UNDELIV",
            DeliveryState::Accepted => "ACCEPTD",
            DeliveryState::Unknown => "UNKNOWN",
            DeliveryState::Rejected => "REJECTD",
        }
    }

    /// The message reached the phone.
    pub fn is_delivered(self) -> bool {
        self == DeliveryState::Delivered
    }

    /// The SMSC gave up: the message will never arrive.
    pub fn is_final_failure(self) -> bool {
        matches!(
            self,
            DeliveryState::Expired
                | DeliveryState::Deleted
                | DeliveryState::Undeliverable
                | DeliveryState::Rejected
        )
    }
}

/// What one receipt says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The message_id the submit_sm_resp gave.
    pub message_id: String,
    pub state: DeliveryState,
    /// The network's error code (`err:`), when the text form has one.
    pub error: Option<String>,
}

impl Receipt {
    /// The receipt in a deliver_sm; `None` when it is none (a short
    /// message from a phone) or says too little to use.
    pub fn from_deliver_sm(sm: &SubmitSm) -> Option<Receipt> {
        if sm.esm_class & ESM_CLASS_TYPE_MASK != ESM_CLASS_DELIVERY_RECEIPT {
            return None;
        }
        let text = String::from_utf8_lossy(&sm.short_message);
        let field = |key: &str| {
            text.split_ascii_whitespace().find_map(|w| {
                let (k, v) = w.split_once(':')?;
                k.eq_ignore_ascii_case(key).then(|| v.to_string())
            })
        };
        let tlv = |tag: u16| sm.tlvs.iter().find(|t| t.tag == tag).map(|t| &t.value);
        let message_id = tlv(TAG_RECEIPTED_MESSAGE_ID)
            .map(|v| {
                let end = v.iter().position(|c| *c == 0).unwrap_or(v.len());
                String::from_utf8_lossy(&v[..end]).into_owned()
            })
            .filter(|id| !id.is_empty())
            .or_else(|| field("id"))?;
        let state = tlv(TAG_MESSAGE_STATE)
            .and_then(|v| v.first().copied())
            .and_then(DeliveryState::from_code)
            .or_else(|| field("stat").and_then(|w| DeliveryState::from_word(&w)))?;
        Some(Receipt {
            message_id,
            state,
            error: field("err"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdu::Tlv;

    fn receipt_sm(text: &str, tlvs: Vec<Tlv>) -> SubmitSm {
        SubmitSm {
            esm_class: ESM_CLASS_DELIVERY_RECEIPT,
            short_message: text.as_bytes().to_vec(),
            tlvs,
            ..SubmitSm::default()
        }
    }

    #[test]
    fn the_text_form() {
        let sm = receipt_sm(
            "id:m42 sub:001 dlvrd:001 submit date:2612051900 done date:2612051901 stat:DELIVRD err:000 text:WVCI 1.2 abc",
            Vec::new(),
        );
        assert_eq!(
            Receipt::from_deliver_sm(&sm),
            Some(Receipt {
                message_id: "m42".into(),
                state: DeliveryState::Delivered,
                error: Some("000".into()),
            })
        );
        let sm = receipt_sm("id:7 stat:undeliv err:011", Vec::new());
        let r = Receipt::from_deliver_sm(&sm).expect("a receipt");
        assert_eq!(r.state, DeliveryState::Undeliverable);
        assert!(r.state.is_final_failure() && !r.state.is_delivered());
    }

    #[test]
    fn tlvs_win_over_the_text() {
        let sm = receipt_sm(
            "id:wrong stat:DELIVRD",
            vec![
                Tlv {
                    tag: TAG_RECEIPTED_MESSAGE_ID,
                    value: b"right\0".to_vec(),
                },
                Tlv {
                    tag: TAG_MESSAGE_STATE,
                    value: vec![3],
                },
            ],
        );
        let r = Receipt::from_deliver_sm(&sm).expect("a receipt");
        assert_eq!(r.message_id, "right");
        assert_eq!(r.state, DeliveryState::Expired);
    }

    #[test]
    fn not_a_receipt() {
        // A short message from a phone.
        let mut sm = receipt_sm("id:1 stat:DELIVRD", Vec::new());
        sm.esm_class = 0;
        assert_eq!(Receipt::from_deliver_sm(&sm), None);
        // A receipt without an ID or a state it can read.
        assert_eq!(
            Receipt::from_deliver_sm(&receipt_sm("stat:DELIVRD", Vec::new())),
            None
        );
        assert_eq!(
            Receipt::from_deliver_sm(&receipt_sm("id:1 stat:WHATEVER", Vec::new())),
            None
        );
    }
}
