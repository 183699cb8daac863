//! Bounds on what a decoder accepts. Every field is a setting with a safe
//! default; the server exposes them in its config.

/// Decoder limits. Exceeding one is a typed error, never a panic or an
/// unbounded allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest document accepted, in bytes.
    pub max_size: usize,
    /// Deepest element nesting accepted (the root is depth 1).
    pub max_depth: usize,
    /// Most elements in one document.
    pub max_elements: usize,
    /// Longest text value of one element, in bytes (after decoding).
    pub max_text: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_size: 1024 * 1024,
            max_depth: 32,
            max_elements: 100_000,
            max_text: 512 * 1024,
        }
    }
}
