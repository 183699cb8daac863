//! Password checks without paying Argon2 twice (issue 19, login storms).
//!
//! Argon2 is slow on purpose (about 20 ms of a core at the default cost),
//! which is right for a guesser and wrong for ten thousand phones that all
//! log in again after a network blip with the password they used an hour
//! ago. After a successful Argon2 check we remember a keyed digest of
//! (user, password, stored hash); the next login of that user whose
//! digest matches is let in at the cost of one BLAKE2b (microseconds).
//!
//! What keeps this safe:
//! - The key is random per process and never leaves memory, so the table
//!   is useless to anyone who reads it without the key, and nothing of it
//!   survives a restart.
//! - The stored hash (its PHC string, salt included) is part of what is
//!   digested, and it is read from the store at every login: a password
//!   set anew (`impsd user passwd`, any path that writes the store) or
//!   removed no longer matches, at once, even in another process.
//! - Only successes are remembered; a wrong password never matches, so it
//!   still costs Argon2 and still counts against the login throttle,
//!   which is checked before the table is.
//! - The table is bounded (`verifier_cache`); past it the entry used
//!   longest ago goes.

use std::collections::{BTreeMap, HashMap};

use blake2::digest::consts::U32;
use blake2::digest::{KeyInit, Mac};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::auth::HashCost;

/// The `[password]` section, defaults in [`PASSWORD_DEFAULTS`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordConfig {
    /// Argon2id memory per new hash, in KiB.
    pub argon2_memory_kib: u32,
    /// Argon2id passes per new hash.
    pub argon2_iterations: u32,
    /// Argon2id lanes per new hash.
    pub argon2_parallelism: u32,
    /// Users whose last good password is remembered (as a keyed digest)
    /// so their next login skips Argon2; 0 = every login pays Argon2.
    pub verifier_cache: usize,
    /// Longest wait, in milliseconds, for a turn at an Argon2 check
    /// (`login.max_password_checks` run at once); past it the login is
    /// answered 503 with TryAgainTimeout.
    pub check_wait_ms: u64,
}

/// The defaults.
pub const PASSWORD_DEFAULTS: PasswordConfig = PasswordConfig {
    argon2_memory_kib: HashCost::DEFAULT.memory_kib,
    argon2_iterations: HashCost::DEFAULT.iterations,
    argon2_parallelism: HashCost::DEFAULT.parallelism,
    verifier_cache: 100_000,
    check_wait_ms: 5_000,
};

impl Default for PasswordConfig {
    fn default() -> Self {
        PASSWORD_DEFAULTS
    }
}

impl PasswordConfig {
    /// The cost of hashes made with these settings.
    pub fn cost(&self) -> HashCost {
        HashCost {
            memory_kib: self.argon2_memory_kib,
            iterations: self.argon2_iterations,
            parallelism: self.argon2_parallelism,
        }
    }

    /// What serde cannot check.
    pub fn validate(&self) -> Result<(), String> {
        self.cost().check().map_err(|e| format!("[password] {e}"))?;
        if self.check_wait_ms == 0 {
            return Err("password.check_wait_ms must be above 0".into());
        }
        Ok(())
    }
}

type Blake2bMac256 = blake2::Blake2bMac<U32>;

/// A remembered success: its digest and when it was last used.
struct Entry {
    tag: [u8; 32],
    seq: u64,
}

#[derive(Default)]
struct Table {
    map: HashMap<String, Entry>,
    /// Users by last use, oldest first: what goes when full.
    order: BTreeMap<u64, String>,
    next_seq: u64,
}

impl Table {
    fn touch(&mut self, user: &str) {
        let seq = self.next_seq;
        if let Some(e) = self.map.get_mut(user) {
            self.order.remove(&e.seq);
            e.seq = seq;
            self.order.insert(seq, user.to_string());
            self.next_seq += 1;
        }
    }
}

/// The remembered successes, one per user (the latest). One short lock per
/// password login, never held across an await; the digest is computed
/// outside it.
pub(crate) struct VerifierCache {
    /// BLAKE2b keyed with this process's random key, cloned for each
    /// digest.
    mac: Blake2bMac256,
    cap: usize,
    t: Mutex<Table>,
}

impl VerifierCache {
    /// A table of at most `cap` users with a fresh random key. Without
    /// a key from the OS the table stays empty: every login pays Argon2.
    pub(crate) fn new(cap: usize) -> VerifierCache {
        let mut key = blake2::digest::Key::<Blake2bMac256>::default();
        let cap = match getrandom::fill(key.as_mut_slice()) {
            Ok(()) => cap,
            Err(e) => {
                tracing::warn!(error = %e, "no random key for the password verifier cache; it stays off");
                0
            }
        };
        VerifierCache {
            mac: <Blake2bMac256 as KeyInit>::new(&key),
            cap,
            t: Mutex::new(Table::default()),
        }
    }

    /// The keyed digest of one (user, password, stored hash). Each part is
    /// length-prefixed so no two triples digest the same input.
    fn tag(&self, user: &str, password: &str, phc: &str) -> [u8; 32] {
        let mut mac = self.mac.clone();
        for part in [user, password, phc] {
            mac.update(&(part.len() as u64).to_le_bytes());
            mac.update(part.as_bytes());
        }
        mac.finalize().into_bytes().into()
    }

    /// Whether `password` is the one that last passed Argon2 for `user`
    /// against this same stored hash. A hit counts as a use.
    pub(crate) fn matches(&self, user: &str, password: &str, phc: &str) -> bool {
        if self.cap == 0 {
            return false;
        }
        let want = self.tag(user, password, phc);
        let mut t = self.t.lock();
        let hit = t
            .map
            .get(user)
            .is_some_and(|e| bool::from(e.tag.ct_eq(&want)));
        if hit {
            t.touch(user);
        }
        hit
    }

    /// Remembers a success that Argon2 confirmed.
    pub(crate) fn remember(&self, user: &str, password: &str, phc: &str) {
        if self.cap == 0 {
            return;
        }
        let tag = self.tag(user, password, phc);
        let mut t = self.t.lock();
        let seq = t.next_seq;
        t.next_seq += 1;
        if let Some(old) = t.map.insert(user.to_string(), Entry { tag, seq }) {
            t.order.remove(&old.seq);
        }
        t.order.insert(seq, user.to_string());
        while t.map.len() > self.cap {
            let Some((_, oldest)) = t.order.pop_first() else {
                break;
            };
            t.map.remove(&oldest);
        }
    }

    /// Forgets `user`'s remembered password (its password was changed or
    /// its sessions ended by the operator). The stored hash being part of
    /// the digest already makes a changed password miss; this also frees
    /// the entry.
    pub(crate) fn forget(&self, user: &str) {
        let mut t = self.t.lock();
        if let Some(old) = t.map.remove(user) {
            t.order.remove(&old.seq);
        }
    }

    /// Users remembered now.
    pub(crate) fn len(&self) -> usize {
        self.t.lock().map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_a_success_for_that_password_and_that_hash_only() {
        let c = VerifierCache::new(10);
        assert!(!c.matches("alice", "pw", "$h1"));
        c.remember("alice", "pw", "$h1");
        assert!(c.matches("alice", "pw", "$h1"));
        assert!(!c.matches("alice", "px", "$h1"));
        assert!(!c.matches("alice", "pw", "$h2"), "a new stored hash misses");
        assert!(!c.matches("bob", "pw", "$h1"));
        // Length prefixes: moving a byte between parts changes the digest.
        assert!(!c.matches("alicep", "w", "$h1"));
        c.forget("alice");
        assert!(!c.matches("alice", "pw", "$h1"));
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn the_user_used_longest_ago_goes_first_when_full() {
        let c = VerifierCache::new(2);
        c.remember("a", "pw", "h");
        c.remember("b", "pw", "h");
        assert!(c.matches("a", "pw", "h")); // a is now the newer
        c.remember("c", "pw", "h");
        assert_eq!(c.len(), 2);
        assert!(c.matches("a", "pw", "h"));
        assert!(!c.matches("b", "pw", "h"));
        assert!(c.matches("c", "pw", "h"));
        // A user remembered again keeps one entry.
        c.remember("c", "pw2", "h");
        assert_eq!(c.len(), 2);
        assert!(!c.matches("c", "pw", "h"));
    }

    #[test]
    fn a_zero_sized_table_remembers_nothing() {
        let c = VerifierCache::new(0);
        c.remember("a", "pw", "h");
        assert!(!c.matches("a", "pw", "h"));
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn two_processes_never_share_digests() {
        let (a, b) = (VerifierCache::new(1), VerifierCache::new(1));
        assert_ne!(a.tag("u", "p", "h"), b.tag("u", "p", "h"));
    }
}
