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

/// How a session ID (a bearer token) appears in logs: the first 8 hex
/// digits of its SHA-1, enough to follow one session through a log and
/// useless to anyone reading the log to take the session over. An empty
/// ID shows as empty.
pub fn log_tag(id: &str) -> LogTag {
    use sha1::{Digest, Sha1};
    if id.is_empty() {
        return LogTag(String::new());
    }
    let d = Sha1::digest(id.as_bytes());
    LogTag(hex::encode(&d[..4]))
}

/// A session ID's log form; see [`log_tag`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogTag(String);

impl std::fmt::Display for LogTag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tag_tests {
    use super::log_tag;

    #[test]
    fn a_log_tag_is_short_stable_and_not_the_id() {
        let id = "0123456789abcdef0123456789abcdef";
        let t = log_tag(id).to_string();
        assert_eq!(t.len(), 8);
        assert!(!id.contains(&t));
        assert_eq!(t, log_tag(id).to_string());
        assert_ne!(t, log_tag("0123456789abcdef0123456789abcdee").to_string());
        assert_eq!(log_tag("").to_string(), "");
    }
}
