//! Hash maps that many small entries each hold (issue 19).
//!
//! `std`'s `RandomState` keeps its two SipHash keys in every map: 16 bytes
//! per map, which in a presence owner's entry (one per online user, two
//! maps) took the entry to the next allocation size. [`SharedKeys`] is the
//! same SipHash with keys drawn at random once per process: as hard to
//! flood with colliding keys from outside, and no bytes in the map.

use std::collections::HashMap;
use std::collections::hash_map::{DefaultHasher, RandomState};
use std::hash::BuildHasher;
use std::sync::LazyLock;

/// Keys drawn from the OS once, on first use.
static KEYS: LazyLock<RandomState> = LazyLock::new(RandomState::new);

/// Builds SipHash hashers with the process's keys; takes no room.
#[derive(Clone, Copy, Default, Debug)]
pub struct SharedKeys;

impl BuildHasher for SharedKeys {
    type Hasher = DefaultHasher;

    fn build_hasher(&self) -> DefaultHasher {
        KEYS.build_hasher()
    }
}

/// A `HashMap` with the process's hash keys.
pub type SmallMap<K, V> = HashMap<K, V, SharedKeys>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_map_keeps_no_hash_keys_of_its_own_and_hashes_alike() {
        assert_eq!(
            std::mem::size_of::<SmallMap<String, u32>>() + 16,
            std::mem::size_of::<HashMap<String, u32>>()
        );
        let mut m: SmallMap<String, u32> = SmallMap::default();
        m.insert("alice".into(), 1);
        assert_eq!(m.get("alice"), Some(&1));
        // One process, one set of keys: two builders hash alike.
        assert_eq!(SharedKeys.hash_one("x"), SharedKeys.hash_one("x"));
    }
}
