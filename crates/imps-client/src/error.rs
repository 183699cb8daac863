//! The client's one error type.

use imps_wire::WireError;
use thiserror::Error;

/// Everything a call to the server can end in, other than success.
///
/// `Status` is reserved for a well-formed CSP answer that says no (a
/// `Status` primitive or a `Result/Code` other than 200), so a test can
/// tell "the server refused" from "the server is broken".
#[derive(Debug, Error)]
pub enum ClientError {
    /// A non-200 HTTP answer; the body is kept (lossy UTF-8, capped) because
    /// the server explains non-CSP requests there.
    #[error("HTTP {0}: {1}")]
    Http(u16, String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The HTTP or WebSocket layer failed: connection refused or reset, bad
    /// handshake, invalid URL or header.
    #[error("transport error: {0}")]
    Transport(String),
    /// The server closed the connection (WebSocket or TCP CIR).
    #[error("the server closed the connection")]
    Closed,
    /// The server's bytes were not a CSP message we could read.
    #[error("wire error: {0}")]
    Wire(#[from] WireError),
    /// A readable CSP message that breaks the contract (wrong primitive,
    /// missing SessionID, mismatched TransactionID, ...).
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The server answered with an error code.
    #[error("CSP status {code}: {description}")]
    Status { code: u16, description: String },
    #[error("timed out")]
    Timeout,
}

impl ClientError {
    /// The CSP status code, when the server refused with one.
    pub fn status_code(&self) -> Option<u16> {
        match self {
            ClientError::Status { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// Shorthand used across the crate.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;
