//! WBXML codec for CSP documents (placeholder, being written).

use crate::{Element, Limits, Version, WireError};

/// A decoded WBXML document: the root and the version its public id names.
pub struct Document {
    pub root: Element,
    pub version: Option<Version>,
}

pub fn decode(_bytes: &[u8], _limits: &Limits) -> Result<Document, WireError> {
    Err(WireError::Truncated { offset: 0 })
}

pub fn encode(_root: &Element, _version: crate::Version) -> Result<Vec<u8>, WireError> {
    Ok(Vec::new())
}
