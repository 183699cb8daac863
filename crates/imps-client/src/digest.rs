//! The 4-way login digest: `DigestBytes = Base64(H(nonce ‖ password))`.

use imps_wire::csp::digest::{DigestSchema, digest};

/// Schemas we can answer a challenge with, in our order of preference.
pub const SUPPORTED_SCHEMAS: &[&str] = &["SHA", "MD5"];

/// Computes DigestBytes for a schema, or `None` when we do not know the
/// schema (the server may offer one we never asked for).
pub fn digest_bytes(schema: &str, nonce: &str, password: &str) -> Option<String> {
    DigestSchema::parse(schema).map(|s| digest(s, nonce, password))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

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
        // Above ISO-8859-1 a character counts as '?', as on Android.
        assert_eq!(
            digest_bytes("SHA", "n", "é€"),
            digest_bytes("SHA", "n", "é?")
        );
    }
}
