//! `imps-client` speaks OMA IMPS / Wireless Village CSP to a server the way
//! a phone does: HTTP POST (XML or WBXML, CSP 1.1-1.3), WebSocket, TCP and
//! HTTP CIR. The server's end-to-end tests, the `imps` CLI and the load
//! tool drive impsd through it, so it must stay a client of the real
//! protocol.
//!
//! It must never depend on server internals (imps-core, impsd, the
//! store): everything it knows comes from bytes on the wire, through
//! `imps-wire`. And it must never panic on what a server sends: every
//! read is bounded by [`Limits`] and a timeout, and every surprise is a
//! [`ClientError`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), imps_client::ClientError> {
//! use imps_client::{Client, ClientConfig, Encoding, Version};
//! let alice = Client::new(ClientConfig::new("http://127.0.0.1:8080/imps", Version::V1_2, Encoding::Xml))?;
//! let info = alice.login_digest("alice", "secret", &["SHA", "MD5"]).await?;
//! let agreed = alice.client_capability(&["STCP", "SHTTP"], Some(262_144)).await?;
//! alice.service_request_all().await?;
//! while let Some(msg) = alice.poll().await? { /* NewMessage, ... */ }
//! alice.logout().await?;
//! # let _ = (info, agreed); Ok(()) }
//! ```

pub mod cir;
#[cfg(feature = "cli")]
pub mod cli;
pub mod client;
pub mod config;
pub mod digest;
pub mod error;
pub mod http;
pub mod ops;
pub mod primitives;
pub mod transport;
#[cfg(feature = "cli")]
pub mod tui;
pub mod ws;

pub use cir::{TcpCir, UdpCir, agreed_cir_methods, http_cir_url, tcp_cir_addr, udp_cir_target};
pub use client::{Client, TidCounter};
pub use config::{ClientConfig, content_type};
pub use digest::digest_bytes;
pub use error::{ClientError, Result};
pub use http::{HttpClient, HttpTransport, http_cir_check};
pub use imps_wire::{Element, Encoding, Limits, Message, Transaction, TransactionMode, Version};
pub use ops::{LoginInfo, LoginStep};
pub use primitives::{LoginAuth, status_of};
pub use transport::Transport;
pub use ws::{WsClient, WsTransport};
