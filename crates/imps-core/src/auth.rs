//! Credentials: argon2id password hashes, the CSP login digest, and the
//! encrypted digest secret.
//!
//! The CSP digest is H(nonce ‖ password), so the server needs the password
//! itself, not a one-way hash. We keep it only for accounts that opt in,
//! encrypted with a server key (XChaCha20-Poly1305), and never log it.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use subtle::ConstantTimeEq;

use crate::CoreError;

/// The cost of a new Argon2id hash. A stored hash carries its own cost in
/// its PHC string (`m=..,t=..,p=..`) and is checked with that, so changing
/// these never locks anyone out: only hashes made afterwards cost the new
/// amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashCost {
    /// Memory per hash, in KiB.
    pub memory_kib: u32,
    /// Passes over that memory.
    pub iterations: u32,
    /// Lanes (threads the algorithm may use; our hashing runs each on one
    /// thread, so more lanes cost time, not cores).
    pub parallelism: u32,
}

impl HashCost {
    /// The argon2 crate's default, which is OWASP's minimum for Argon2id
    /// (19 MiB, 2 passes, 1 lane): about 20 ms of one core here.
    pub const DEFAULT: HashCost = HashCost {
        memory_kib: argon2::Params::DEFAULT_M_COST,
        iterations: argon2::Params::DEFAULT_T_COST,
        parallelism: argon2::Params::DEFAULT_P_COST,
    };

    fn params(self) -> Result<argon2::Params, String> {
        argon2::Params::new(self.memory_kib, self.iterations, self.parallelism, None).map_err(|e| {
            format!(
                "argon2 parameters m={}, t={}, p={}: {e}",
                self.memory_kib, self.iterations, self.parallelism
            )
        })
    }

    /// Whether argon2 accepts this cost (memory at least 8 KiB per lane,
    /// at least one pass and one lane).
    pub fn check(self) -> Result<(), String> {
        self.params().map(|_| ())
    }
}

impl Default for HashCost {
    fn default() -> Self {
        HashCost::DEFAULT
    }
}

/// Hashes a password as an Argon2id PHC string at the default cost.
/// CPU-heavy: call it off the async runtime (spawn_blocking).
pub fn hash_password(password: &str) -> Result<String, CoreError> {
    hash_password_with(password, HashCost::DEFAULT)
}

/// Hashes a password as an Argon2id PHC string at `cost`. CPU-heavy.
pub fn hash_password_with(password: &str, cost: HashCost) -> Result<String, CoreError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| CoreError::Internal(format!("OS RNG failed: {e}")))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| CoreError::Internal(e.to_string()))?;
    let params = cost.params().map_err(CoreError::Internal)?;
    Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CoreError::Internal(format!("argon2: {e}")))
}

/// Checks a password against a PHC string, at the cost written in that
/// string (not the configured one). CPU-heavy, like hashing.
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(h) => Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok(),
        Err(_) => false,
    }
}

/// The digest computation is the codec's, shared with the client.
pub use imps_wire::csp::digest::{DigestSchema, digest};

/// Constant-time check of the DigestBytes a client sent.
pub fn verify_digest(schema: DigestSchema, nonce: &str, password: &str, sent: &str) -> bool {
    let want = digest(schema, nonce, password);
    want.as_bytes().ct_eq(sent.trim().as_bytes()).into()
}

/// Encrypts a digest secret for storage: 24-byte nonce ‖ ciphertext.
pub fn seal_secret(key: &[u8; 32], secret: &str) -> Result<Vec<u8>, CoreError> {
    let cipher = XChaCha20Poly1305::new(key.into());
    let mut nonce = [0u8; 24];
    getrandom::fill(&mut nonce).map_err(|e| CoreError::Internal(format!("OS RNG failed: {e}")))?;
    let ct = cipher
        .encrypt(XNonce::from_slice(&nonce), secret.as_bytes())
        .map_err(|_| CoreError::Internal("secret encryption failed".into()))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Decrypts a stored digest secret; `None` when the key is wrong or the
/// blob is damaged.
pub fn open_secret(key: &[u8; 32], blob: &[u8]) -> Option<String> {
    if blob.len() < 24 {
        return None;
    }
    let cipher = XChaCha20Poly1305::new(key.into());
    let pt = cipher
        .decrypt(XNonce::from_slice(&blob[..24]), &blob[24..])
        .ok()?;
    String::from_utf8(pt).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_round_trip() {
        let h = hash_password("s3cret").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("s3cret", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("s3cret", "garbage"));
    }

    #[test]
    fn a_hash_is_checked_at_its_own_cost_not_the_default() {
        let cheap = HashCost {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        };
        let h = hash_password_with("pw", cheap).unwrap();
        assert!(h.contains("m=64,t=1,p=1"), "{h}");
        assert!(verify_password("pw", &h));
        assert!(!verify_password("px", &h));
        assert!(
            HashCost {
                memory_kib: 4,
                ..cheap
            }
            .check()
            .is_err()
        );
        assert!(
            HashCost {
                iterations: 0,
                ..cheap
            }
            .check()
            .is_err()
        );
        assert!(HashCost::DEFAULT.check().is_ok());
    }

    #[test]
    fn digest_matches_known_md5() {
        // MD5("abc") = 900150983cd24fb0d6963f7d28e17f72
        let d = digest(DigestSchema::Md5, "a", "bc");
        let raw = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, d).unwrap();
        assert_eq!(hex::encode(raw), "900150983cd24fb0d6963f7d28e17f72");
        assert!(verify_digest(
            DigestSchema::Md5,
            "a",
            "bc",
            &digest(DigestSchema::Md5, "a", "bc")
        ));
        assert!(!verify_digest(
            DigestSchema::Sha,
            "a",
            "bc",
            &digest(DigestSchema::Md5, "a", "bc")
        ));
    }

    #[test]
    fn secret_seal_open() {
        let key = [7u8; 32];
        let blob = seal_secret(&key, "pw").unwrap();
        assert_eq!(open_secret(&key, &blob).as_deref(), Some("pw"));
        assert_eq!(open_secret(&[8u8; 32], &blob), None);
        assert_eq!(open_secret(&key, &blob[..10]), None);
    }
}
