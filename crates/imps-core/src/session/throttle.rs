//! Login throttling (issue 14, item 4): failed logins are counted per user
//! ID and per source address; past a number of free failures the key is
//! locked out for a time that doubles with each further failure, up to a
//! cap. A locked key is refused at once (503 with TryAgainTimeout), before
//! any password is hashed: nothing sleeps, so a guesser holds no task and
//! costs no CPU. A successful login clears its user's count.
//!
//! Keys are counted whether or not the user exists, so the lockout itself
//! says nothing about which IDs are real. The table is bounded
//! (`max_tracked`): past it the key whose last failure is oldest is
//! forgotten first.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::CoreError;

/// The `[login_throttle]` section, defaults in [`LOGIN_THROTTLE_DEFAULTS`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoginThrottleConfig {
    /// Count failed logins and lock out past the limits below.
    pub enabled: bool,
    /// Failed logins for one user ID (existing or not) before it is
    /// locked out.
    pub user_free_failures: u32,
    /// Failed logins from one source address (IPv6: its /64) before it is
    /// locked out, whatever user IDs they named. Higher than the user's:
    /// many subscribers may share an address behind NAT.
    pub address_free_failures: u32,
    /// The first lockout, in milliseconds; each further failure doubles it.
    pub base_lockout_ms: u64,
    /// The longest lockout, in seconds.
    pub max_lockout_secs: u64,
    /// A key's failures are forgotten this many seconds after its last
    /// failure or the end of its lockout, whichever is later.
    pub window_secs: u64,
    /// Most user IDs and addresses tracked at once; past it the one whose
    /// last failure is oldest is forgotten.
    pub max_tracked: usize,
}

/// The defaults.
pub const LOGIN_THROTTLE_DEFAULTS: LoginThrottleConfig = LoginThrottleConfig {
    enabled: true,
    user_free_failures: 5,
    address_free_failures: 30,
    base_lockout_ms: 1_000,
    max_lockout_secs: 900,
    window_secs: 900,
    max_tracked: 100_000,
};

impl Default for LoginThrottleConfig {
    fn default() -> Self {
        LOGIN_THROTTLE_DEFAULTS
    }
}

/// What is counted: a user ID (canonical) or a source address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    Addr(IpAddr),
}

#[derive(Debug)]
struct Entry {
    failures: u32,
    last_ms: u64,
    locked_until_ms: u64,
    /// Its place in `Table::order` (older = smaller).
    seq: u64,
}

#[derive(Debug, Default)]
struct Table {
    map: HashMap<Key, Entry>,
    /// Keys by their last failure, oldest first: what goes when full.
    order: BTreeMap<u64, Key>,
    next_seq: u64,
}

/// The failure counts. One short lock per login, never held across an
/// await.
#[derive(Debug)]
pub(crate) struct LoginThrottle {
    cfg: LoginThrottleConfig,
    t: Mutex<Table>,
}

/// The address a failure is counted against: IPv4 as it is (IPv4-mapped
/// IPv6 included), IPv6 by its /64, which one subscriber usually holds
/// whole.
fn addr_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

impl LoginThrottle {
    pub(crate) fn new(cfg: LoginThrottleConfig) -> LoginThrottle {
        LoginThrottle {
            cfg,
            t: Mutex::new(Table::default()),
        }
    }

    fn keys(user: &str, addr: Option<IpAddr>) -> impl Iterator<Item = Key> {
        std::iter::once(Key::User(user.to_string())).chain(addr.map(|a| Key::Addr(addr_key(a))))
    }

    /// Whether an entry's failures have been forgotten at `now`.
    fn stale(&self, e: &Entry, now: u64) -> bool {
        let from = e.last_ms.max(e.locked_until_ms);
        now > from.saturating_add(self.cfg.window_secs.saturating_mul(1000))
    }

    /// Refuses a login while its user or its address is locked out; the
    /// error says in how many seconds to try again.
    pub(crate) fn check(
        &self,
        user: &str,
        addr: Option<IpAddr>,
        now: u64,
    ) -> Result<(), CoreError> {
        if !self.cfg.enabled {
            return Ok(());
        }
        let t = self.t.lock();
        let until = Self::keys(user, addr)
            .filter_map(|k| t.map.get(&k))
            .map(|e| e.locked_until_ms)
            .max()
            .unwrap_or(0);
        if until > now {
            let secs = (until - now).div_ceil(1000).max(1);
            return Err(CoreError::LoginThrottled {
                retry_after_secs: secs,
            });
        }
        Ok(())
    }

    /// Counts a failed login against its user ID and its address.
    pub(crate) fn failed(&self, user: &str, addr: Option<IpAddr>, now: u64) {
        if !self.cfg.enabled {
            return;
        }
        let mut t = self.t.lock();
        for key in Self::keys(user, addr) {
            let free = match key {
                Key::User(_) => self.cfg.user_free_failures,
                Key::Addr(_) => self.cfg.address_free_failures,
            };
            let seq = t.next_seq;
            t.next_seq += 1;
            let failures = match t.map.get(&key) {
                Some(e) if !self.stale(e, now) => e.failures.saturating_add(1),
                _ => 1,
            };
            let locked_until_ms = if failures >= free.max(1) {
                now.saturating_add(self.lockout_ms(failures - free.max(1)))
            } else {
                0
            };
            if let Some(old) = t.map.insert(
                key.clone(),
                Entry {
                    failures,
                    last_ms: now,
                    locked_until_ms,
                    seq,
                },
            ) {
                t.order.remove(&old.seq);
            }
            let kind = key_kind(&key);
            t.order.insert(seq, key);
            while t.map.len() > self.cfg.max_tracked.max(1) {
                let Some((_, oldest)) = t.order.pop_first() else {
                    break;
                };
                t.map.remove(&oldest);
            }
            if locked_until_ms > 0 {
                tracing::warn!(
                    kind,
                    failures,
                    lockout_ms = locked_until_ms - now,
                    "login locked out after repeated failures"
                );
            }
        }
    }

    /// A successful login clears its user's failures (not its address's:
    /// a guesser with one account of their own could otherwise clear it
    /// between guesses).
    pub(crate) fn succeeded(&self, user: &str) {
        if !self.cfg.enabled {
            return;
        }
        let mut t = self.t.lock();
        if let Some(e) = t.map.remove(&Key::User(user.to_string())) {
            t.order.remove(&e.seq);
        }
    }

    /// The lockout after `over` failures past the free ones: the base,
    /// doubled each time, capped.
    fn lockout_ms(&self, over: u32) -> u64 {
        let cap = self.cfg.max_lockout_secs.saturating_mul(1000);
        let factor = 1u64.checked_shl(over.min(63)).unwrap_or(u64::MAX);
        self.cfg.base_lockout_ms.saturating_mul(factor).min(cap)
    }

    /// How many keys are tracked (for tests and metrics).
    pub(crate) fn tracked(&self) -> usize {
        self.t.lock().map.len()
    }
}

/// For the log: which kind of key was locked (the user ID and address
/// are on the login's own log line).
fn key_kind(k: &Key) -> &'static str {
    match k {
        Key::User(_) => "user",
        Key::Addr(_) => "address",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(f: impl FnOnce(&mut LoginThrottleConfig)) -> LoginThrottle {
        let mut c = LoginThrottleConfig::default();
        f(&mut c);
        LoginThrottle::new(c)
    }

    fn retry(r: Result<(), CoreError>) -> Option<u64> {
        match r {
            Ok(()) => None,
            Err(CoreError::LoginThrottled { retry_after_secs }) => Some(retry_after_secs),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn lockout_doubles_up_to_the_cap_and_is_forgotten_after_the_window() {
        let t = throttle(|c| {
            c.user_free_failures = 3;
            c.base_lockout_ms = 1_000;
            c.max_lockout_secs = 4;
            c.window_secs = 10;
        });
        let mut now = 1_000_000;
        for _ in 0..2 {
            t.failed("u", None, now);
            assert_eq!(retry(t.check("u", None, now)), None);
        }
        let mut want = [1, 2, 4, 4].into_iter();
        for _ in 0..4 {
            t.failed("u", None, now);
            assert_eq!(retry(t.check("u", None, now)), want.next());
            now += 4_000;
            assert_eq!(retry(t.check("u", None, now)), None);
        }
        // Quiet for the window after the last lockout: forgotten.
        now += 10_001;
        t.failed("u", None, now);
        assert_eq!(retry(t.check("u", None, now)), None);
        // Other users are not affected; success clears.
        assert_eq!(retry(t.check("v", None, now)), None);
        t.succeeded("u");
        assert_eq!(t.tracked(), 0);
    }

    #[test]
    fn addresses_count_across_users_and_ipv6_by_its_64() {
        let t = throttle(|c| {
            c.user_free_failures = 100;
            c.address_free_failures = 3;
        });
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::7".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        t.failed("u1", Some(a), 0);
        t.failed("u2", Some(b), 0);
        assert_eq!(retry(t.check("u9", Some(a), 0)), None);
        t.failed("u3", Some(a), 0);
        assert_eq!(retry(t.check("u9", Some(b), 0)), Some(1));
        assert_eq!(retry(t.check("u9", Some(other), 0)), None);
        assert_eq!(retry(t.check("u9", None, 0)), None);
    }

    #[test]
    fn the_table_stays_bounded_and_forgets_the_oldest() {
        let t = throttle(|c| {
            c.max_tracked = 10;
            c.user_free_failures = 1;
        });
        t.failed("victim", None, 0);
        assert!(retry(t.check("victim", None, 0)).is_some());
        for i in 0..1_000u32 {
            let ip = IpAddr::from([10, 0, (i >> 8) as u8, i as u8]);
            t.failed(&format!("spray{i}"), Some(ip), 1);
            assert!(t.tracked() <= 10);
        }
        assert_eq!(t.tracked(), 10);
        assert_eq!(retry(t.check("victim", None, 1)), None, "the oldest went");
    }

    #[test]
    fn off_counts_nothing() {
        let t = throttle(|c| c.enabled = false);
        for _ in 0..100 {
            t.failed("u", None, 0);
        }
        assert_eq!(retry(t.check("u", None, 0)), None);
        assert_eq!(t.tracked(), 0);
    }
}
