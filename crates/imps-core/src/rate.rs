//! How fast one user may send (issue 14): a token bucket per sender,
//! shared by every area that accepts messages (one-to-one, forwarded and
//! group messages). A sender may send `burst` messages at once and
//! `per_sec` a second on average; past that a send is refused with a
//! hint of when the next one fits, and nothing of it is stored.
//!
//! Memory is bounded: at most `max_senders` buckets. When that many are
//! held, buckets that have refilled (they say nothing a new bucket would
//! not) are dropped first; if every one is still draining, the oldest
//! half goes, which can only let those senders send again sooner.

use std::collections::HashMap;

use parking_lot::Mutex;

/// The limiter's settings (from `ImConfig`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateSettings {
    /// Messages a second on average; 0 turns the limit off.
    pub per_sec: u32,
    /// Messages that may go at once after a quiet spell.
    pub burst: u32,
    /// Most senders tracked at once.
    pub max_senders: usize,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Tokens left, in thousandths of a message.
    milli: u64,
    /// When `milli` was last brought up to date.
    at_ms: u64,
}

pub(crate) struct SendRate {
    cfg: RateSettings,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl SendRate {
    pub(crate) fn new(cfg: RateSettings) -> SendRate {
        SendRate {
            cfg,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn capacity(&self) -> u64 {
        u64::from(self.cfg.burst.max(1)) * 1000
    }

    /// The bucket refilled up to `now_ms`.
    fn refilled(&self, b: Bucket, now_ms: u64) -> Bucket {
        let gained = now_ms
            .saturating_sub(b.at_ms)
            .saturating_mul(u64::from(self.cfg.per_sec));
        Bucket {
            milli: b.milli.saturating_add(gained).min(self.capacity()),
            at_ms: now_ms.max(b.at_ms),
        }
    }

    /// Takes one message's token for `sender`. `Err(ms)`: none left; one
    /// will be there in `ms` milliseconds.
    pub(crate) fn take(&self, sender: &str, now_ms: u64) -> Result<(), u64> {
        if self.cfg.per_sec == 0 {
            return Ok(());
        }
        let full = Bucket {
            milli: self.capacity(),
            at_ms: now_ms,
        };
        let mut g = self.buckets.lock();
        if !g.contains_key(sender) && g.len() >= self.cfg.max_senders.max(1) {
            self.make_room(&mut g, now_ms);
        }
        let b = g.entry(sender.to_string()).or_insert(full);
        *b = self.refilled(*b, now_ms);
        if b.milli >= 1000 {
            b.milli -= 1000;
            return Ok(());
        }
        let per_sec = u64::from(self.cfg.per_sec);
        Err((1000 - b.milli).div_ceil(per_sec))
    }

    fn make_room(&self, g: &mut HashMap<String, Bucket>, now_ms: u64) {
        let cap = self.capacity();
        g.retain(|_, b| self.refilled(*b, now_ms).milli < cap);
        if g.len() >= self.cfg.max_senders.max(1) {
            let mut ages: Vec<u64> = g.values().map(|b| b.at_ms).collect();
            ages.sort_unstable();
            let cut = ages[ages.len() / 2];
            g.retain(|_, b| b.at_ms > cut);
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.buckets.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_sec: u32, burst: u32, max_senders: usize) -> SendRate {
        SendRate::new(RateSettings {
            per_sec,
            burst,
            max_senders,
        })
    }

    #[test]
    fn a_burst_then_the_average_rate() {
        let r = limiter(10, 3, 100);
        for _ in 0..3 {
            assert_eq!(r.take("ann", 1_000), Ok(()));
        }
        // Empty: the next token comes in 100 ms at 10 a second.
        assert_eq!(r.take("ann", 1_000), Err(100));
        assert_eq!(r.take("ann", 1_050), Err(50));
        assert_eq!(r.take("ann", 1_100), Ok(()));
        // Another sender has their own bucket.
        assert_eq!(r.take("bob", 1_100), Ok(()));
        // A long quiet spell refills only up to the burst.
        for _ in 0..3 {
            assert_eq!(r.take("ann", 60_000), Ok(()));
        }
        assert!(r.take("ann", 60_000).is_err());
    }

    #[test]
    fn zero_turns_it_off() {
        let r = limiter(0, 1, 10);
        for _ in 0..1000 {
            assert_eq!(r.take("ann", 5), Ok(()));
        }
        assert_eq!(r.tracked(), 0);
    }

    #[test]
    fn memory_stays_bounded_under_a_spray_of_senders() {
        let r = limiter(1, 5, 64);
        for i in 0..10_000u64 {
            let _ = r.take(&format!("u{i}"), i);
            assert!(r.tracked() <= 64, "{} buckets", r.tracked());
        }
    }

    #[test]
    fn a_clock_going_back_gives_nothing_away() {
        let r = limiter(10, 1, 10);
        assert_eq!(r.take("ann", 5_000), Ok(()));
        assert!(r.take("ann", 1_000).is_err());
    }
}
