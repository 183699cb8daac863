//! Remembered answers to "does `owner` refuse `other`?" (block and grant
//! lists), because IM asks it for every message and the answer rarely
//! changes.
//!
//! Every change to an owner's block or grant list made through this
//! service calls [`AccessCache::invalidate`] once the store has it, which
//! also bumps the owner's generation: an answer read from the store while
//! a change was under way is then not kept (it may predate the change).
//! Answers also age out (`lists.access_cache_ms`), which bounds how long a
//! change made behind this service's back (another process on the same
//! store) goes unseen.

use std::collections::HashMap;

use parking_lot::Mutex;

#[derive(Default)]
struct Owner {
    generation: u64,
    /// other -> (refuses, read at ms)
    answers: HashMap<String, (bool, u64)>,
}

pub(crate) struct AccessCache {
    inner: Mutex<Inner>,
    /// How long an answer is kept.
    max_age_ms: u64,
    /// Most answers kept in all; past it the cache starts over.
    max_entries: usize,
}

#[derive(Default)]
struct Inner {
    owners: HashMap<String, Owner>,
    entries: usize,
}

impl AccessCache {
    pub fn new(max_entries: usize, max_age_ms: u64) -> AccessCache {
        AccessCache {
            inner: Mutex::default(),
            max_age_ms,
            max_entries,
        }
    }

    /// A fresh answer, if one is kept.
    pub fn get(&self, owner: &str, other: &str, now_ms: u64) -> Option<bool> {
        let g = self.inner.lock();
        let (refuses, at) = *g.owners.get(owner)?.answers.get(other)?;
        (now_ms.saturating_sub(at) < self.max_age_ms).then_some(refuses)
    }

    /// The owner's generation, taken before reading the store.
    pub fn generation(&self, owner: &str) -> u64 {
        self.inner
            .lock()
            .owners
            .get(owner)
            .map_or(0, |o| o.generation)
    }

    /// Keeps an answer read from the store, unless the owner's lists
    /// changed since `generation` was taken.
    pub fn put(&self, owner: &str, other: &str, generation: u64, refuses: bool, now_ms: u64) {
        let mut g = self.inner.lock();
        if g.entries >= self.max_entries {
            // Keep the generations (they guard reads in flight), drop
            // the answers.
            for o in g.owners.values_mut() {
                o.answers.clear();
            }
            g.entries = 0;
        }
        let o = g.owners.entry(owner.to_string()).or_default();
        if o.generation != generation {
            return;
        }
        let fresh = o
            .answers
            .insert(other.to_string(), (refuses, now_ms))
            .is_none();
        if fresh {
            g.entries += 1;
        }
    }

    /// The owner's block or grant list (or whether they are in use)
    /// changed: forget every answer about them.
    pub fn invalidate(&self, owner: &str) {
        let mut g = self.inner.lock();
        let o = g.owners.entry(owner.to_string()).or_default();
        o.generation += 1;
        let n = o.answers.len();
        o.answers.clear();
        g.entries -= n.min(g.entries);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_kept_until_invalidated_or_old() {
        let c = AccessCache::new(100, 10_000);
        let g = c.generation("ann");
        c.put("ann", "bob", g, true, 1_000);
        assert_eq!(c.get("ann", "bob", 1_500), Some(true));
        assert_eq!(c.get("ann", "cat", 1_500), None);
        assert_eq!(c.get("ann", "bob", 1_000 + 10_000), None);
        c.invalidate("ann");
        assert_eq!(c.get("ann", "bob", 1_500), None);
    }

    #[test]
    fn a_read_that_raced_a_change_is_not_kept() {
        let c = AccessCache::new(100, 10_000);
        let g = c.generation("ann");
        // The store read runs; meanwhile ann blocks bob.
        c.invalidate("ann");
        c.put("ann", "bob", g, false, 1_000);
        assert_eq!(c.get("ann", "bob", 1_001), None);
        let g = c.generation("ann");
        c.put("ann", "bob", g, true, 1_002);
        assert_eq!(c.get("ann", "bob", 1_003), Some(true));
    }
}
