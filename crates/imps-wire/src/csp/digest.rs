//! The 4-way login digest, computed the same way by server and client:
//! `DigestBytes = Base64(H(nonce ‖ password))`, H being MD5 or SHA-1, with
//! both strings taken as ISO-8859-1 bytes as real clients take them
//! (Android's `getBytes("ISO-8859-1")`: characters above U+00FF become
//! `?`, so both sides agree on the same lossy input).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest, Md5};
use sha1::Sha1;

/// The digest schemas of Login (`DigestSchema`), in our order of
/// preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestSchema {
    Sha,
    Md5,
}

impl DigestSchema {
    /// Every schema we compute, in our order of preference.
    pub const ALL: [DigestSchema; 2] = [DigestSchema::Sha, DigestSchema::Md5];

    /// `SHA` (also `SHA1`, `SHA-1`) or `MD5`, any case; `None` for a
    /// schema we do not compute (MD4, vendor ones).
    pub fn parse(s: &str) -> Option<DigestSchema> {
        match s.trim().to_ascii_uppercase().as_str() {
            "SHA" | "SHA1" | "SHA-1" => Some(DigestSchema::Sha),
            "MD5" => Some(DigestSchema::Md5),
            _ => None,
        }
    }

    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            DigestSchema::Sha => "SHA",
            DigestSchema::Md5 => "MD5",
        }
    }
}

/// `Base64(H(nonce ‖ password))`.
pub fn digest(schema: DigestSchema, nonce: &str, password: &str) -> String {
    let bytes: Vec<u8> = nonce.chars().chain(password.chars()).map(latin1).collect();
    let raw = match schema {
        DigestSchema::Md5 => Md5::digest(&bytes).to_vec(),
        DigestSchema::Sha => Sha1::digest(&bytes).to_vec(),
    };
    STANDARD.encode(raw)
}

fn latin1(c: char) -> u8 {
    u8::try_from(u32::from(c)).unwrap_or(b'?')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors_of_abc() {
        // MD5("abc") and SHA-1("abc") from RFC 1321 and FIPS 180.
        assert_eq!(
            digest(DigestSchema::Md5, "a", "bc"),
            "kAFQmDzST7DWlj99KOF/cg=="
        );
        assert_eq!(
            digest(DigestSchema::Sha, "ab", "c"),
            "qZk+NkcGgWq6PiVxeFDCbJzQ2J0="
        );
    }

    #[test]
    fn characters_above_latin1_count_as_question_marks() {
        assert_eq!(
            digest(DigestSchema::Sha, "n", "p\u{20ac}"),
            digest(DigestSchema::Sha, "n", "p?")
        );
        assert_eq!(
            digest(DigestSchema::Md5, "n", "\u{e9}"),
            digest(DigestSchema::Md5, "n", "\u{e9}"),
        );
    }

    #[test]
    fn schema_names() {
        for s in DigestSchema::ALL {
            assert_eq!(DigestSchema::parse(s.as_str()), Some(s));
        }
        assert_eq!(DigestSchema::parse(" sha-1 "), Some(DigestSchema::Sha));
        assert_eq!(DigestSchema::parse("MD4"), None);
    }
}
