//! The codec's one error type.

use thiserror::Error;

/// Everything that can go wrong turning bytes into a CSP message or back.
/// Each variant says enough for a log reader to find the fault.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum WireError {
    #[error("document is {size} bytes, over the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("elements nest deeper than the limit of {limit}")]
    TooDeep { limit: usize },
    #[error("document has more than {limit} elements")]
    TooManyElements { limit: usize },
    #[error("a text value is longer than the limit of {limit} bytes")]
    TextTooLong { limit: usize },
    #[error("DOCTYPE and entity declarations are not accepted")]
    Doctype,
    #[error("malformed XML: {0}")]
    Xml(String),
    #[error("input ended early at byte {offset}")]
    Truncated { offset: usize },
    #[error("malformed WBXML at byte {offset}: {what}")]
    Wbxml { offset: usize, what: String },
    #[error("not a CSP document: {0}")]
    NotCsp(String),
    #[error("unsupported CSP version: {0}")]
    UnsupportedVersion(String),
    #[error("CSP structure error: {0}")]
    Structure(String),
    #[error("element {element} cannot be encoded: {what}")]
    Encode { element: String, what: String },
}

impl WireError {
    /// True when the bytes could not be read as XML/WBXML at all, as opposed
    /// to a readable document that is not valid CSP. The HTTP binding answers
    /// the first with HTTP 400 when it cannot even tell the version.
    pub fn is_syntax(&self) -> bool {
        matches!(
            self,
            WireError::Xml(_)
                | WireError::Truncated { .. }
                | WireError::Wbxml { .. }
                | WireError::Doctype
        )
    }
}
