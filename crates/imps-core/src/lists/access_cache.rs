//! Remembered answers to "does `owner` refuse `other`?" (block and grant
//! lists), because IM asks it for every message and the answer rarely
//! changes.
//!
//! Every change to an owner's block or grant list made through this
//! service calls [`AccessCache::invalidate`] once the store has it, which
//! also bumps the owner's generation: an answer read from the store while
//! a change was under way is then not kept (it may predate the change).
//! Answers also age out after [`MAX_AGE_MS`], which bounds how long a
//! change made behind this service's back (another process on the same
//! store) goes unseen.

use std::collections::HashMap;

use parking_lot::Mutex;

/// How long an answer is kept.
pub(crate) const MAX_AGE_MS: u64 = 10_000;
/// Most answers kept in all; past it the cache starts over.
const MAX_ENTRIES: usize = 200_000;

#[derive(Default)]
struct Owner {
    generation: u64,
    /// other -> (refuses, read at ms)
    answers: HashMap<String, (bool, u64)>,
}

#[derive(Default)]
pub(crate) struct AccessCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    owners: HashMap<String, Owner>,
    entries: usize,
}

impl AccessCache {
    /// A fresh answer, if one is kept.
    pub fn get(&self, owner: &str, other: &str, now_ms: u64) -> Option<bool> {
        let g = self.inner.lock();
        let (refuses, at) = *g.owners.get(owner)?.answers.get(other)?;
        (now_ms.saturating_sub(at) < MAX_AGE_MS).then_some(refuses)
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
        if g.entries >= MAX_ENTRIES {
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
        let c = AccessCache::default();
        let g = c.generation("ann");
        c.put("ann", "bob", g, true, 1_000);
        assert_eq!(c.get("ann", "bob", 1_500), Some(true));
        assert_eq!(c.get("ann", "cat", 1_500), None);
        assert_eq!(c.get("ann", "bob", 1_000 + MAX_AGE_MS), None);
        c.invalidate("ann");
        assert_eq!(c.get("ann", "bob", 1_500), None);
    }

    #[test]
    fn a_read_that_raced_a_change_is_not_kept() {
        let c = AccessCache::default();
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
