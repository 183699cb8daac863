//! `imps-smpp`: what impsd needs of SMPP 3.4 to reach an SMSC.
//!
//! * [`pdu`]: the PDU codec, both sides (an ESME's requests and an SMSC's
//!   answers), for the PDUs impsd uses: bind_transmitter and
//!   bind_transceiver, submit_sm, deliver_sm, enquire_link, unbind,
//!   generic_nack and their responses;
//!   anything else is kept as [`pdu::Body::Other`]. No I/O; the decoder
//!   never panics (a property test feeds it arbitrary bytes).
//! * [`udh`]: the user data header of port-addressed SMS (WAP Push, SMS CIR).
//! * [`client`]: an ESME bound as transmitter (or transceiver, to read
//!   delivery receipts) over TCP: enquire_link keep-alive, reconnect with
//!   back-off, a window of outstanding submits, throttling
//!   (ESME_RTHROTTLED) honoured.
//! * [`receipt`]: what a delivery receipt says.
//!
//! Written for impsd rather than taken from crates.io: see
//! `docs/architecture.md` ("Choices that differ").

pub mod client;
pub mod pdu;
pub mod receipt;
pub mod udh;

pub use client::{ClientConfig, SmppClient, SubmitError};
pub use pdu::{Body, CommandId, Pdu, PduError, Status, SubmitSm};
pub use receipt::{DeliveryState, Receipt};
