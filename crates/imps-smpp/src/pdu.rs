//! SMPP 3.4 PDUs: a 16-byte header (command_length, command_id,
//! command_status, sequence_number, all big-endian u32) and a body of
//! C-octet strings (NUL-terminated, with a maximum length each), single
//! octets, a length-prefixed short_message and optional TLVs.
//!
//! Both sides: an ESME encodes requests and decodes responses, the test
//! SMSC does the reverse, with the same types.

use thiserror::Error;

/// Header size.
pub const HEADER_LEN: usize = 16;
/// Longest PDU accepted (a submit_sm is well under 1 KiB; the limit only
/// bounds what a broken peer can make us buffer).
pub const MAX_PDU_LEN: usize = 16 * 1024;
/// interface_version of SMPP 3.4.
pub const INTERFACE_VERSION_34: u8 = 0x34;

/// Command IDs (SMPP 3.4 section 5.1.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandId;

impl CommandId {
    pub const GENERIC_NACK: u32 = 0x8000_0000;
    pub const BIND_RECEIVER: u32 = 0x0000_0001;
    pub const BIND_TRANSMITTER: u32 = 0x0000_0002;
    pub const BIND_TRANSMITTER_RESP: u32 = 0x8000_0002;
    pub const SUBMIT_SM: u32 = 0x0000_0004;
    pub const SUBMIT_SM_RESP: u32 = 0x8000_0004;
    pub const DELIVER_SM: u32 = 0x0000_0005;
    pub const DELIVER_SM_RESP: u32 = 0x8000_0005;
    pub const BIND_TRANSCEIVER: u32 = 0x0000_0009;
    pub const BIND_TRANSCEIVER_RESP: u32 = 0x8000_0009;
    pub const UNBIND: u32 = 0x0000_0006;
    pub const UNBIND_RESP: u32 = 0x8000_0006;
    pub const ENQUIRE_LINK: u32 = 0x0000_0015;
    pub const ENQUIRE_LINK_RESP: u32 = 0x8000_0015;
    /// The bit that makes a request ID its response ID.
    pub const RESPONSE: u32 = 0x8000_0000;
}

/// command_status values (SMPP 3.4 section 5.1.3) the client acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status;

impl Status {
    pub const OK: u32 = 0x0000_0000;
    pub const INVALID_MSG_LEN: u32 = 0x0000_0001;
    pub const INVALID_CMD_LEN: u32 = 0x0000_0002;
    pub const INVALID_CMD_ID: u32 = 0x0000_0003;
    pub const INVALID_BIND_STATUS: u32 = 0x0000_0004;
    pub const ALREADY_BOUND: u32 = 0x0000_0005;
    pub const SYSTEM_ERROR: u32 = 0x0000_0008;
    pub const INVALID_DEST_ADDR: u32 = 0x0000_000B;
    pub const BIND_FAILED: u32 = 0x0000_000D;
    pub const INVALID_PASSWORD: u32 = 0x0000_000E;
    pub const INVALID_SYSTEM_ID: u32 = 0x0000_000F;
    pub const MESSAGE_QUEUE_FULL: u32 = 0x0000_0014;
    pub const THROTTLED: u32 = 0x0000_0058;
    pub const TEMP_APP_ERROR: u32 = 0x0000_0064;

    /// Whether a submit refused with `status` may succeed later (the SMSC
    /// is busy or failing), as opposed to never (a bad address).
    pub fn is_transient(status: u32) -> bool {
        matches!(
            status,
            Status::SYSTEM_ERROR
                | Status::MESSAGE_QUEUE_FULL
                | Status::THROTTLED
                | Status::TEMP_APP_ERROR
                | Status::INVALID_BIND_STATUS
        )
    }
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PduError {
    #[error("PDU of {0} bytes is outside 16..={MAX_PDU_LEN}")]
    BadLength(u32),
    #[error("PDU ends early in {0}")]
    Truncated(&'static str),
    #[error("{field} is longer than {max} octets or not terminated")]
    BadString { field: &'static str, max: usize },
    #[error("short_message of {0} octets (at most 254)")]
    MessageTooLong(usize),
    #[error("{0} trailing octets after the body")]
    Trailing(usize),
}

/// One optional parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlv {
    pub tag: u16,
    pub value: Vec<u8>,
}

/// bind_transmitter (and bind_receiver/transceiver, same body).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bind {
    pub system_id: String,
    pub password: String,
    pub system_type: String,
    pub interface_version: u8,
    pub addr_ton: u8,
    pub addr_npi: u8,
    pub address_range: String,
}

/// submit_sm.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubmitSm {
    pub service_type: String,
    pub source_addr_ton: u8,
    pub source_addr_npi: u8,
    pub source_addr: String,
    pub dest_addr_ton: u8,
    pub dest_addr_npi: u8,
    pub destination_addr: String,
    pub esm_class: u8,
    pub protocol_id: u8,
    pub priority_flag: u8,
    pub schedule_delivery_time: String,
    pub validity_period: String,
    /// 1: an SMSC delivery receipt is asked for.
    pub registered_delivery: u8,
    pub replace_if_present_flag: u8,
    /// 0: the SMSC default alphabet; 4: 8-bit binary.
    pub data_coding: u8,
    pub sm_default_msg_id: u8,
    pub short_message: Vec<u8>,
    pub tlvs: Vec<Tlv>,
}

/// What follows the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    BindTransmitter(Bind),
    /// system_id of the SMSC (empty when the bind failed and it sent no
    /// body); TLVs are skipped.
    BindTransmitterResp {
        system_id: String,
    },
    /// The same body as bind_transmitter; used when delivery receipts
    /// are read (they come as deliver_sm on a receiving bind).
    BindTransceiver(Bind),
    BindTransceiverResp {
        system_id: String,
    },
    SubmitSm(Box<SubmitSm>),
    /// message_id (empty on error without a body).
    SubmitSmResp {
        message_id: String,
    },
    /// From the SMSC: a delivery receipt (esm_class says so) or a short
    /// message; the same body as submit_sm.
    DeliverSm(Box<SubmitSm>),
    /// message_id is unused and empty.
    DeliverSmResp {
        message_id: String,
    },
    EnquireLink,
    EnquireLinkResp,
    Unbind,
    UnbindResp,
    GenericNack,
    /// Any other command, body kept as it came.
    Other {
        command_id: u32,
        body: Vec<u8>,
    },
}

impl Body {
    pub fn command_id(&self) -> u32 {
        match self {
            Body::BindTransmitter(_) => CommandId::BIND_TRANSMITTER,
            Body::BindTransmitterResp { .. } => CommandId::BIND_TRANSMITTER_RESP,
            Body::BindTransceiver(_) => CommandId::BIND_TRANSCEIVER,
            Body::BindTransceiverResp { .. } => CommandId::BIND_TRANSCEIVER_RESP,
            Body::SubmitSm(_) => CommandId::SUBMIT_SM,
            Body::SubmitSmResp { .. } => CommandId::SUBMIT_SM_RESP,
            Body::DeliverSm(_) => CommandId::DELIVER_SM,
            Body::DeliverSmResp { .. } => CommandId::DELIVER_SM_RESP,
            Body::EnquireLink => CommandId::ENQUIRE_LINK,
            Body::EnquireLinkResp => CommandId::ENQUIRE_LINK_RESP,
            Body::Unbind => CommandId::UNBIND,
            Body::UnbindResp => CommandId::UNBIND_RESP,
            Body::GenericNack => CommandId::GENERIC_NACK,
            Body::Other { command_id, .. } => *command_id,
        }
    }
}

/// A whole PDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pdu {
    pub status: u32,
    pub sequence: u32,
    pub body: Body,
}

impl Pdu {
    /// A request (status 0).
    pub fn request(sequence: u32, body: Body) -> Pdu {
        Pdu {
            status: Status::OK,
            sequence,
            body,
        }
    }

    pub fn command_id(&self) -> u32 {
        self.body.command_id()
    }

    pub fn is_response(&self) -> bool {
        self.command_id() & CommandId::RESPONSE != 0
    }

    /// The PDU's bytes. Strings longer than their field's maximum are cut
    /// (a caller that cares checks first with [`SubmitSm::check`]).
    pub fn encode(&self) -> Vec<u8> {
        let mut b = vec![0u8; HEADER_LEN];
        match &self.body {
            Body::BindTransmitter(x) | Body::BindTransceiver(x) => {
                cstr(&mut b, &x.system_id, 16);
                cstr(&mut b, &x.password, 9);
                cstr(&mut b, &x.system_type, 13);
                b.push(x.interface_version);
                b.push(x.addr_ton);
                b.push(x.addr_npi);
                cstr(&mut b, &x.address_range, 41);
            }
            Body::BindTransmitterResp { system_id } | Body::BindTransceiverResp { system_id } => {
                // An error response may come without a body.
                if self.status == Status::OK || !system_id.is_empty() {
                    cstr(&mut b, system_id, 16);
                }
            }
            Body::SubmitSm(s) | Body::DeliverSm(s) => {
                cstr(&mut b, &s.service_type, 6);
                b.push(s.source_addr_ton);
                b.push(s.source_addr_npi);
                cstr(&mut b, &s.source_addr, 21);
                b.push(s.dest_addr_ton);
                b.push(s.dest_addr_npi);
                cstr(&mut b, &s.destination_addr, 21);
                b.push(s.esm_class);
                b.push(s.protocol_id);
                b.push(s.priority_flag);
                cstr(&mut b, &s.schedule_delivery_time, 17);
                cstr(&mut b, &s.validity_period, 17);
                b.push(s.registered_delivery);
                b.push(s.replace_if_present_flag);
                b.push(s.data_coding);
                b.push(s.sm_default_msg_id);
                let sm = &s.short_message[..s.short_message.len().min(254)];
                b.push(sm.len() as u8);
                b.extend_from_slice(sm);
                for t in &s.tlvs {
                    b.extend_from_slice(&t.tag.to_be_bytes());
                    let v = &t.value[..t.value.len().min(usize::from(u16::MAX))];
                    b.extend_from_slice(&(v.len() as u16).to_be_bytes());
                    b.extend_from_slice(v);
                }
            }
            Body::SubmitSmResp { message_id } => {
                if self.status == Status::OK || !message_id.is_empty() {
                    cstr(&mut b, message_id, 65);
                }
            }
            // Always with its (empty) message_id, as SMPP 3.4 has it.
            Body::DeliverSmResp { message_id } => cstr(&mut b, message_id, 65),
            Body::EnquireLink
            | Body::EnquireLinkResp
            | Body::Unbind
            | Body::UnbindResp
            | Body::GenericNack => {}
            Body::Other { body, .. } => b.extend_from_slice(body),
        }
        let len = b.len() as u32;
        b[0..4].copy_from_slice(&len.to_be_bytes());
        b[4..8].copy_from_slice(&self.command_id().to_be_bytes());
        b[8..12].copy_from_slice(&self.status.to_be_bytes());
        b[12..16].copy_from_slice(&self.sequence.to_be_bytes());
        b
    }

    /// Reads one whole PDU (exactly `command_length` bytes, see
    /// [`frame_len`]).
    pub fn decode(bytes: &[u8]) -> Result<Pdu, PduError> {
        let len = frame_len(bytes)?.ok_or(PduError::Truncated("header"))?;
        if bytes.len() < len {
            return Err(PduError::Truncated("body"));
        }
        let mut r = Reader {
            b: &bytes[HEADER_LEN..len],
            i: 0,
        };
        let command_id = be32(&bytes[4..8]);
        let status = be32(&bytes[8..12]);
        let sequence = be32(&bytes[12..16]);
        let body = match command_id {
            CommandId::BIND_TRANSMITTER => Body::BindTransmitter(r.bind()?),
            CommandId::BIND_TRANSCEIVER => Body::BindTransceiver(r.bind()?),
            CommandId::BIND_TRANSMITTER_RESP => Body::BindTransmitterResp {
                system_id: r.bind_resp()?,
            },
            CommandId::BIND_TRANSCEIVER_RESP => Body::BindTransceiverResp {
                system_id: r.bind_resp()?,
            },
            CommandId::SUBMIT_SM => Body::SubmitSm(Box::new(r.sm()?)),
            CommandId::DELIVER_SM => Body::DeliverSm(Box::new(r.sm()?)),
            CommandId::SUBMIT_SM_RESP | CommandId::DELIVER_SM_RESP => {
                let message_id = if r.done() {
                    String::new()
                } else {
                    r.cstr("message_id", 65)?
                };
                if command_id == CommandId::SUBMIT_SM_RESP {
                    Body::SubmitSmResp { message_id }
                } else {
                    Body::DeliverSmResp { message_id }
                }
            }
            CommandId::ENQUIRE_LINK => Body::EnquireLink,
            CommandId::ENQUIRE_LINK_RESP => Body::EnquireLinkResp,
            CommandId::UNBIND => Body::Unbind,
            CommandId::UNBIND_RESP => Body::UnbindResp,
            CommandId::GENERIC_NACK => Body::GenericNack,
            other => {
                let body = r.b.to_vec();
                r.i = r.b.len();
                Body::Other {
                    command_id: other,
                    body,
                }
            }
        };
        if !r.done() {
            return Err(PduError::Trailing(r.b.len() - r.i));
        }
        Ok(Pdu {
            status,
            sequence,
            body,
        })
    }
}

impl SubmitSm {
    /// Whether every field fits its maximum (encode would cut it).
    pub fn check(&self) -> Result<(), PduError> {
        for (field, v, max) in [
            ("service_type", &self.service_type, 6),
            ("source_addr", &self.source_addr, 21),
            ("destination_addr", &self.destination_addr, 21),
            ("schedule_delivery_time", &self.schedule_delivery_time, 17),
            ("validity_period", &self.validity_period, 17),
        ] {
            if v.len() >= max || v.contains('\0') {
                return Err(PduError::BadString { field, max });
            }
        }
        if self.short_message.len() > 254 {
            return Err(PduError::MessageTooLong(self.short_message.len()));
        }
        Ok(())
    }
}

/// The length of the PDU at the start of `buf` once its header is in
/// (`Ok(None)` before that); an error for a length no PDU can have.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, PduError> {
    let Some(h) = buf.get(0..4) else {
        return Ok(None);
    };
    let len = be32(h);
    if (len as usize) < HEADER_LEN || len as usize > MAX_PDU_LEN {
        return Err(PduError::BadLength(len));
    }
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    Ok(Some(len as usize))
}

fn be32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_be_bytes(a)
}

/// A C-octet string of at most `max` octets with its NUL; longer text
/// is cut, NULs inside are dropped.
fn cstr(b: &mut Vec<u8>, s: &str, max: usize) {
    let bytes: Vec<u8> = s.bytes().filter(|c| *c != 0).take(max - 1).collect();
    b.extend_from_slice(&bytes);
    b.push(0);
}

struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Reader<'a> {
    fn done(&self) -> bool {
        self.i >= self.b.len()
    }

    /// The body of every bind.
    fn bind(&mut self) -> Result<Bind, PduError> {
        Ok(Bind {
            system_id: self.cstr("system_id", 16)?,
            password: self.cstr("password", 9)?,
            system_type: self.cstr("system_type", 13)?,
            interface_version: self.u8("interface_version")?,
            addr_ton: self.u8("addr_ton")?,
            addr_npi: self.u8("addr_npi")?,
            address_range: self.cstr("address_range", 41)?,
        })
    }

    /// A bind response's system_id (none in an error without a body).
    fn bind_resp(&mut self) -> Result<String, PduError> {
        let system_id = if self.done() {
            String::new()
        } else {
            self.cstr("system_id", 16)?
        };
        // Optional TLVs (sc_interface_version): skipped.
        self.i = self.b.len();
        Ok(system_id)
    }

    /// The body of submit_sm and deliver_sm.
    fn sm(&mut self) -> Result<SubmitSm, PduError> {
        let mut s = SubmitSm {
            service_type: self.cstr("service_type", 6)?,
            source_addr_ton: self.u8("source_addr_ton")?,
            source_addr_npi: self.u8("source_addr_npi")?,
            source_addr: self.cstr("source_addr", 21)?,
            dest_addr_ton: self.u8("dest_addr_ton")?,
            dest_addr_npi: self.u8("dest_addr_npi")?,
            destination_addr: self.cstr("destination_addr", 21)?,
            esm_class: self.u8("esm_class")?,
            protocol_id: self.u8("protocol_id")?,
            priority_flag: self.u8("priority_flag")?,
            schedule_delivery_time: self.cstr("schedule_delivery_time", 17)?,
            validity_period: self.cstr("validity_period", 17)?,
            registered_delivery: self.u8("registered_delivery")?,
            replace_if_present_flag: self.u8("replace_if_present_flag")?,
            data_coding: self.u8("data_coding")?,
            sm_default_msg_id: self.u8("sm_default_msg_id")?,
            ..SubmitSm::default()
        };
        let sm_len = usize::from(self.u8("sm_length")?);
        if sm_len > 254 {
            return Err(PduError::MessageTooLong(sm_len));
        }
        s.short_message = self.take("short_message", sm_len)?.to_vec();
        while !self.done() {
            let tag = u16::from_be_bytes([self.u8("tlv tag")?, self.u8("tlv tag")?]);
            let l = u16::from_be_bytes([self.u8("tlv length")?, self.u8("tlv length")?]);
            let value = self.take("tlv value", usize::from(l))?.to_vec();
            s.tlvs.push(Tlv { tag, value });
        }
        Ok(s)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, PduError> {
        let v = *self.b.get(self.i).ok_or(PduError::Truncated(field))?;
        self.i += 1;
        Ok(v)
    }

    fn take(&mut self, field: &'static str, n: usize) -> Result<&'a [u8], PduError> {
        let end = self.i.checked_add(n).ok_or(PduError::Truncated(field))?;
        let v = self.b.get(self.i..end).ok_or(PduError::Truncated(field))?;
        self.i = end;
        Ok(v)
    }

    /// A C-octet string of at most `max` octets including the NUL. Text
    /// that is not UTF-8 is kept lossily (addresses and IDs are ASCII).
    fn cstr(&mut self, field: &'static str, max: usize) -> Result<String, PduError> {
        let rest = &self.b[self.i.min(self.b.len())..];
        let Some(nul) = rest.iter().take(max).position(|c| *c == 0) else {
            return Err(if rest.len() < max && !rest.contains(&0) {
                PduError::Truncated(field)
            } else {
                PduError::BadString { field, max }
            });
        };
        let s = String::from_utf8_lossy(&rest[..nul]).into_owned();
        self.i += nul + 1;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enquire_link_is_a_bare_header() {
        let p = Pdu::request(7, Body::EnquireLink);
        assert_eq!(
            p.encode(),
            [0, 0, 0, 16, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 7]
        );
        assert_eq!(Pdu::decode(&p.encode()), Ok(p));
    }

    #[test]
    fn bind_transmitter_bytes() {
        let p = Pdu::request(
            1,
            Body::BindTransmitter(Bind {
                system_id: "impsd".into(),
                password: "pw".into(),
                system_type: "IMPS".into(),
                interface_version: INTERFACE_VERSION_34,
                ..Bind::default()
            }),
        );
        let mut want = vec![0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1];
        want.extend_from_slice(b"impsd\0pw\0IMPS\0\x34\0\0\0");
        let l = want.len() as u8;
        want[3] = l;
        assert_eq!(p.encode(), want);
        assert_eq!(Pdu::decode(&want), Ok(p));
    }

    #[test]
    fn error_responses_without_a_body() {
        let raw = [0, 0, 0, 16, 0x80, 0, 0, 4, 0, 0, 0, 0x58, 0, 0, 0, 9];
        let p = Pdu::decode(&raw).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.status, Status::THROTTLED);
        assert_eq!(
            p.body,
            Body::SubmitSmResp {
                message_id: String::new()
            }
        );
        assert_eq!(p.encode(), raw);
    }

    #[test]
    fn bad_frames_are_errors() {
        assert_eq!(frame_len(&[0, 0, 0]), Ok(None));
        assert_eq!(frame_len(&[0, 0, 0, 15]), Err(PduError::BadLength(15)));
        assert_eq!(frame_len(&[0, 0, 0, 16]), Ok(None));
        // A C-string without its NUL within the maximum.
        let mut raw = vec![0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1];
        raw.extend_from_slice(&[b'a'; 20]);
        let l = raw.len() as u8;
        raw[3] = l;
        assert!(matches!(
            Pdu::decode(&raw),
            Err(PduError::BadString {
                field: "system_id",
                ..
            })
        ));
        // Trailing bytes after an enquire_link.
        let raw = [0, 0, 0, 17, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 1, 9];
        assert_eq!(Pdu::decode(&raw), Err(PduError::Trailing(1)));
    }
}
