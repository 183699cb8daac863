//! Unguessable identifiers from the OS random source.

use crate::CoreError;

/// 128 random bits as 32 lowercase hex digits. Used for session IDs,
/// login nonces and CIR tokens.
pub fn random_token() -> Result<String, CoreError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| CoreError::Internal(format!("OS RNG failed: {e}")))?;
    Ok(hex::encode(b))
}

/// A random decimal number of `digits` digits (no leading zero), for
/// generated user IDs.
pub fn random_digits(digits: usize) -> Result<String, CoreError> {
    let mut b = vec![0u8; digits];
    getrandom::fill(&mut b).map_err(|e| CoreError::Internal(format!("OS RNG failed: {e}")))?;
    Ok(b.iter()
        .enumerate()
        .map(|(i, x)| {
            let d = if i == 0 { 1 + x % 9 } else { x % 10 };
            char::from(b'0' + d)
        })
        .collect())
}
