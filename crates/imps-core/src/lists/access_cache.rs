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
//!
//! Most owners refuse nobody (an empty block list, no grant list in use).
//! For them one answer stands for every other user ([`AccessCache::put_open`]),
//! so a user writing to many correspondents costs one store read per
//! owner and age, not one per pair.

use std::collections::HashMap;

use parking_lot::Mutex;

#[derive(Default)]
struct Owner {
    generation: u64,
    /// When the owner was last seen refusing nobody at all (ms).
    open_at: Option<u64>,
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
        let o = g.owners.get(owner)?;
        let fresh = |at: u64| now_ms.saturating_sub(at) < self.max_age_ms;
        if o.open_at.is_some_and(fresh) {
            return Some(false);
        }
        let (refuses, at) = *o.answers.get(other)?;
        fresh(at).then_some(refuses)
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
        let Some(o) = g.owner_at(owner, generation, self.max_entries) else {
            return;
        };
        let fresh = o
            .answers
            .insert(other.to_string(), (refuses, now_ms))
            .is_none();
        if fresh {
            g.entries += 1;
        }
    }

    /// Keeps the answer "the owner refuses nobody", read from the store,
    /// unless the owner's lists changed since `generation` was taken. It
    /// answers for every other user until it ages out or is invalidated.
    pub fn put_open(&self, owner: &str, generation: u64, now_ms: u64) {
        let mut g = self.inner.lock();
        let Some(o) = g.owner_at(owner, generation, self.max_entries) else {
            return;
        };
        // Answers about single users are older than this one, and it
        // covers them.
        let dropped = o.answers.len();
        o.answers = HashMap::new();
        let was_open = o.open_at.replace(now_ms).is_some();
        g.entries -= dropped.min(g.entries);
        if !was_open {
            g.entries += 1;
        }
    }

    /// The owner's block or grant list (or whether they are in use)
    /// changed: forget every answer about them.
    pub fn invalidate(&self, owner: &str) {
        let mut g = self.inner.lock();
        let o = g.owners.entry(owner.to_string()).or_default();
        o.generation += 1;
        let n = o.answers.len() + usize::from(o.open_at.take().is_some());
        o.answers.clear();
        g.entries -= n.min(g.entries);
    }
}

impl Inner {
    /// The owner's entry to keep a new answer in, or `None` when the
    /// owner's lists changed since `generation` (the answer may predate
    /// the change). Past `max_entries` every answer is dropped first; the
    /// generations stay (they guard reads in flight).
    fn owner_at(&mut self, owner: &str, generation: u64, max_entries: usize) -> Option<&mut Owner> {
        if self.entries >= max_entries {
            for o in self.owners.values_mut() {
                o.answers.clear();
                o.open_at = None;
            }
            self.entries = 0;
        }
        let o = self.owners.entry(owner.to_string()).or_default();
        (o.generation == generation).then_some(o)
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

    #[test]
    fn an_owner_who_refuses_nobody_is_one_answer_for_everyone() {
        let c = AccessCache::new(100, 10_000);
        let g = c.generation("ann");
        c.put("ann", "bob", g, false, 500);
        c.put_open("ann", g, 1_000);
        assert_eq!(c.inner.lock().entries, 1, "the pair answer is covered");
        for other in ["bob", "cat", "dan"] {
            assert_eq!(c.get("ann", other, 1_500), Some(false), "{other}");
        }
        assert_eq!(c.get("bob", "ann", 1_500), None, "only ann's answer");
        assert_eq!(c.get("ann", "cat", 1_000 + 10_000), None, "aged out");
        // A change (ann blocks cat) forgets it, and a read that raced
        // the change is not kept.
        c.invalidate("ann");
        assert_eq!(c.get("ann", "cat", 1_500), None);
        assert_eq!(c.inner.lock().entries, 0);
        c.put_open("ann", g, 1_600);
        assert_eq!(c.get("ann", "cat", 1_700), None);
    }

    #[test]
    fn a_full_cache_starts_over_with_open_owners_too() {
        let c = AccessCache::new(2, 10_000);
        c.put_open("ann", 0, 1);
        c.put_open("bob", 0, 1);
        c.put_open("cat", 0, 2);
        assert_eq!(c.get("ann", "x", 3), None);
        assert_eq!(c.get("cat", "x", 3), Some(false));
        assert_eq!(c.inner.lock().entries, 1);
    }
}
