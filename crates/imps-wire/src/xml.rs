//! XML codec for CSP documents (placeholder, being written).

use crate::{Element, Limits, WireError};

pub fn decode(_bytes: &[u8], _limits: &Limits) -> Result<Element, WireError> {
    Err(WireError::Xml("not implemented".into()))
}

pub fn encode(_root: &Element) -> Vec<u8> {
    Vec::new()
}
