//! The 4-way login digest: `DigestBytes = Base64(H(nonce ‖ password))`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest, Md5};
use sha1::Sha1;

/// Schemas we can answer a challenge with, in our order of preference.
pub const SUPPORTED_SCHEMAS: &[&str] = &["SHA", "MD5"];

/// Computes DigestBytes for a schema, or `None` when we do not know the
/// schema (the server may offer one we never asked for).
pub fn digest_bytes(schema: &str, nonce: &str, password: &str) -> Option<String> {
    let mut input = latin1(nonce);
    input.extend(latin1(password));
    let hash = match schema.trim().to_ascii_uppercase().as_str() {
        "MD5" => Md5::digest(&input).to_vec(),
        "SHA" | "SHA1" | "SHA-1" => Sha1::digest(&input).to_vec(),
        _ => return None,
    };
    Some(STANDARD.encode(hash))
}

/// ISO-8859-1 bytes, as Android's `getBytes("ISO-8859-1")` makes them:
/// characters above U+00FF become `?`, so we agree with real clients on
/// the same (lossy) input rather than inventing our own.
fn latin1(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_of_abc_matches_the_rfc_1321_vector() {
        // MD5("abc") = 900150983cd24fb0d6963f7d28e17f72
        let expected =
            STANDARD.encode(hex::decode("900150983cd24fb0d6963f7d28e17f72").unwrap_or_default());
        assert_eq!(
            digest_bytes("MD5", "a", "bc").as_deref(),
            Some(expected.as_str())
        );
    }

    #[test]
    fn sha1_of_abc_matches_the_fips_180_vector() {
        // SHA-1("abc") = a9993e364706816aba3e25717850c26c9cd0d89d
        let expected = STANDARD
            .encode(hex::decode("a9993e364706816aba3e25717850c26c9cd0d89d").unwrap_or_default());
        assert_eq!(
            digest_bytes("SHA", "ab", "c").as_deref(),
            Some(expected.as_str())
        );
    }

    #[test]
    fn unknown_schema_gives_none_and_latin1_is_single_byte() {
        assert_eq!(digest_bytes("MD6", "n", "p"), None);
        assert_eq!(latin1("é€"), vec![0xE9, b'?']);
    }
}
