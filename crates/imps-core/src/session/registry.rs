//! The table of live sessions, by ID, by user and by CIR token.

use std::borrow::Borrow;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use parking_lot::Mutex;

use super::Session;
use crate::CoreError;

/// How many recently ended session IDs a registry made by `default`
/// remembers (`CoreConfig::expired_memory` for the service's).
const EXPIRED_MEMORY: usize = 10_000;

/// A session filed under one of its own strings: the table's key is the
/// session's string, not a copy of it, and an entry is one pointer
/// (issue 19: three key strings and three 32-byte entries per session
/// otherwise).
macro_rules! keyed_by {
    ($name:ident, $field:ident) => {
        struct $name(Arc<Session>);

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0.$field
            }
        }

        // As `str` hashes and compares, as `Borrow` requires.
        impl Hash for $name {
            fn hash<H: Hasher>(&self, h: &mut H) {
                str::hash(&self.0.$field, h);
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.0.$field == other.0.$field
            }
        }

        impl Eq for $name {}
    };
}

keyed_by!(ById, id);
keyed_by!(ByCir, cir_token);

/// A user's live sessions, never empty, filed under the user ID of the
/// first (they all have the same).
struct OfUser(Vec<Arc<Session>>);

impl OfUser {
    fn user(&self) -> &str {
        self.0.first().map_or("", |s| s.user.as_str())
    }
}

impl Borrow<str> for OfUser {
    fn borrow(&self) -> &str {
        self.user()
    }
}

impl Hash for OfUser {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.user().hash(h);
    }
}

impl PartialEq for OfUser {
    fn eq(&self, other: &Self) -> bool {
        self.user() == other.user()
    }
}

impl Eq for OfUser {}

#[derive(Default)]
struct Tables {
    by_id: HashSet<ById>,
    by_user: HashSet<OfUser>,
    by_cir: HashSet<ByCir>,
    expired: HashMap<String, u64>,
    /// Kicked sessions whose Disconnect has not been collected yet, with
    /// the time they are given up at.
    parting: HashMap<String, (Arc<Session>, u64)>,
}

/// A row of `impsd session list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSummary {
    pub id: String,
    pub user: String,
    pub client: String,
    pub version: String,
    pub created_ms: u64,
    pub last_seen_ms: u64,
}

impl Tables {
    /// Takes a session out of its user's list.
    fn forget_of_user(&mut self, s: &Session) {
        if let Some(OfUser(mut v)) = self.by_user.take(s.user.as_str()) {
            v.retain(|x| x.id != s.id);
            if !v.is_empty() {
                self.by_user.insert(OfUser(v));
            }
        }
    }
}

pub struct SessionRegistry {
    t: Mutex<Tables>,
    /// Ended session IDs remembered for a 600 answer.
    expired_memory: usize,
}

impl Default for SessionRegistry {
    fn default() -> Self {
        SessionRegistry::new(EXPIRED_MEMORY)
    }
}

impl SessionRegistry {
    /// A registry that remembers up to `expired_memory` ended session IDs.
    pub fn new(expired_memory: usize) -> SessionRegistry {
        SessionRegistry {
            t: Mutex::default(),
            expired_memory: expired_memory.max(1),
        }
    }

    /// Adds a session unless the user already has one with the same
    /// ClientID (GEN-13) or has reached `cap` sessions (GEN-16; 0 = no cap).
    /// Earlier sessions are never touched (GEN-15).
    pub fn insert(&self, s: Arc<Session>, cap: usize) -> Result<(), CoreError> {
        let mut t = self.t.lock();
        let existing = t.by_user.get(s.user.as_str()).map_or(&[][..], |v| &v.0[..]);
        if existing.iter().any(|e| e.client_key() == s.client_key()) {
            return Err(CoreError::ClientAlreadyLoggedIn {
                user: s.user.clone(),
                client: s.client_key().to_string(),
            });
        }
        if cap > 0 && existing.len() >= cap {
            return Err(CoreError::SessionLimit {
                user: s.user.clone(),
                limit: cap,
            });
        }
        t.by_id.insert(ById(s.clone()));
        t.by_cir.insert(ByCir(s.clone()));
        // Most users have one session: room for one, not four (issue 19).
        let mut of_user = t
            .by_user
            .take(s.user.as_str())
            .map_or_else(Vec::new, |v| v.0);
        of_user.reserve_exact(1);
        of_user.push(s);
        t.by_user.insert(OfUser(of_user));
        Ok(())
    }

    pub fn get(&self, id: &str) -> Option<Arc<Session>> {
        self.t.lock().by_id.get(id).map(|s| s.0.clone())
    }

    pub fn by_cir_token(&self, token: &str) -> Option<Arc<Session>> {
        self.t.lock().by_cir.get(token).map(|s| s.0.clone())
    }

    /// All live sessions of a user.
    pub fn of_user(&self, user: &str) -> Vec<Arc<Session>> {
        self.t
            .lock()
            .by_user
            .get(user)
            .map(|v| v.0.clone())
            .unwrap_or_default()
    }

    /// Whether this ID belonged to a session that ended recently.
    pub fn was_expired(&self, id: &str) -> bool {
        self.t.lock().expired.contains_key(id)
    }

    /// Removes a session; `expired` remembers it for a 600 answer.
    pub fn remove(&self, id: &str, expired: bool, now_ms: u64) -> Option<Arc<Session>> {
        let mut t = self.t.lock();
        let s = t.by_id.take(id)?.0;
        s.mark_ended();
        t.by_cir.remove(&*s.cir_token);
        t.forget_of_user(&s);
        if expired {
            if t.expired.len() >= self.expired_memory {
                // Forget the oldest half; an old ID then gets 604, which
                // clients treat the same way.
                let mut ages: Vec<u64> = t.expired.values().copied().collect();
                ages.sort_unstable();
                let cut = ages[ages.len() / 2];
                t.expired.retain(|_, at| *at > cut);
            }
            t.expired.insert(id.to_string(), now_ms);
        }
        Some(s)
    }

    /// Takes a kicked session out of the live tables: its ClientID is free,
    /// it is no longer listed or counted, nothing new is routed to it. It
    /// stays findable by ID ([`SessionRegistry::parting`]) and CIR token,
    /// and is not marked ended, so that its push channel or its next poll
    /// still collects the Disconnect; [`SessionRegistry::finish_parting`]
    /// then ends it, at the latest at `deadline_ms`. At most `cap` wait at
    /// once; past it the one due first is ended at once.
    pub fn part(&self, id: &str, deadline_ms: u64, cap: usize) -> Option<Arc<Session>> {
        let mut t = self.t.lock();
        let s = t.by_id.take(id)?.0;
        t.forget_of_user(&s);
        while t.parting.len() >= cap.max(1) {
            let Some(first) = t
                .parting
                .iter()
                .min_by_key(|(_, (_, due))| *due)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some((old, _)) = t.parting.remove(&first) {
                t.by_cir.remove(&*old.cir_token);
                old.mark_ended();
            }
        }
        t.parting.insert(id.to_string(), (s.clone(), deadline_ms));
        Some(s)
    }

    /// A kicked session whose Disconnect waits.
    pub fn parting(&self, id: &str) -> Option<Arc<Session>> {
        self.t.lock().parting.get(id).map(|(s, _)| s.clone())
    }

    /// Ends a kicked session for good (its Disconnect was collected, or
    /// nobody came for it): its push channels close.
    pub fn finish_parting(&self, id: &str) -> Option<Arc<Session>> {
        let mut t = self.t.lock();
        let (s, _) = t.parting.remove(id)?;
        t.by_cir.remove(&*s.cir_token);
        s.mark_ended();
        Some(s)
    }

    /// How many kicked sessions wait for their Disconnect to be collected.
    pub fn parting_len(&self) -> usize {
        self.t.lock().parting.len()
    }

    /// Kicked sessions whose Disconnect was not collected by `now_ms`.
    pub fn parting_overdue(&self, now_ms: u64) -> Vec<String> {
        let t = self.t.lock();
        t.parting
            .iter()
            .filter(|(_, (_, due))| *due <= now_ms)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Sessions idle for longer than their TTL at `now_ms`.
    pub fn idle(&self, now_ms: u64) -> Vec<Arc<Session>> {
        let t = self.t.lock();
        t.by_id
            .iter()
            .map(|s| &s.0)
            .filter(|s| {
                s.with_state(|st| {
                    now_ms.saturating_sub(st.last_seen_ms) > u64::from(st.ttl_secs) * 1000
                })
            })
            .cloned()
            .collect()
    }

    /// Every live session (the cluster directory publishes them).
    pub fn all(&self) -> Vec<Arc<Session>> {
        self.t.lock().by_id.iter().map(|s| s.0.clone()).collect()
    }

    pub fn len(&self) -> usize {
        self.t.lock().by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn summaries(&self) -> Vec<SessionSummary> {
        let t = self.t.lock();
        let mut v: Vec<_> = t
            .by_id
            .iter()
            .map(|ById(s)| SessionSummary {
                id: s.id.clone(),
                user: s.user.clone(),
                client: s.client_key().to_string(),
                version: s.version.as_str().to_string(),
                created_ms: s.created_ms,
                last_seen_ms: s.with_state(|st| st.last_seen_ms),
            })
            .collect();
        v.sort_by(|a, b| (&a.user, &a.id).cmp(&(&b.user, &b.id)));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(id: &str) -> Arc<Session> {
        Arc::new(Session::new(
            id.into(),
            format!("user-{id}"),
            crate::session::ClientIdent::url("phone"),
            imps_wire::Version::V1_3,
            "cookie".into(),
            format!("tok-{id}"),
            0,
            60,
        ))
    }

    /// A user's list of sessions lives as long as they are logged in
    /// (issue 19): room for as many as there are, not four.
    #[test]
    fn a_users_sessions_keep_no_spare_room() {
        let r = SessionRegistry::default();
        r.insert(session("s1"), 0).expect("insert");
        let cap = |r: &SessionRegistry| r.t.lock().by_user.get("user-s1").map(|v| v.0.capacity());
        assert_eq!(cap(&r), Some(1));
        let mut second = session("s2");
        let s = Arc::get_mut(&mut second).expect("unshared");
        s.user = "user-s1".into();
        s.client = crate::session::ClientIdent::url("tablet");
        r.insert(second, 0).expect("insert");
        assert_eq!(cap(&r), Some(2));
    }

    /// The tables file a session under its own strings (issue 19): an
    /// entry is the session's pointer (or its user's list), no key string.
    #[test]
    fn the_tables_keep_no_copy_of_a_sessions_strings() {
        fn entry<T>(_: &HashSet<T>) -> usize {
            std::mem::size_of::<T>()
        }
        let t = Tables::default();
        assert_eq!(entry(&t.by_id), std::mem::size_of::<usize>());
        assert_eq!(entry(&t.by_cir), std::mem::size_of::<usize>());
        assert_eq!(entry(&t.by_user), std::mem::size_of::<Vec<Arc<Session>>>());

        let r = SessionRegistry::default();
        let s = session("s1");
        r.insert(s.clone(), 0).expect("insert");
        assert!(Arc::ptr_eq(&r.get("s1").expect("by id"), &s));
        assert!(Arc::ptr_eq(
            &r.by_cir_token("tok-s1").expect("by token"),
            &s
        ));
        assert_eq!(r.of_user("user-s1").len(), 1);
        r.remove("s1", false, 1);
        assert!(r.get("s1").is_none() && r.by_cir_token("tok-s1").is_none());
        assert!(r.of_user("user-s1").is_empty());
        assert!(r.t.lock().by_user.is_empty());
    }

    #[test]
    fn expired_ids_are_remembered_up_to_the_setting() {
        let r = SessionRegistry::new(2);
        for (i, id) in ["s1", "s2", "s3"].iter().enumerate() {
            r.insert(session(id), 0).expect("insert");
            r.remove(id, true, i as u64 + 1);
        }
        // Full at two: the older half went before the third was noted.
        assert!(!r.was_expired("s1"));
        assert!(!r.was_expired("s2"));
        assert!(r.was_expired("s3"));

        let roomy = SessionRegistry::default();
        for (i, id) in ["s1", "s2", "s3"].iter().enumerate() {
            roomy.insert(session(id), 0).expect("insert");
            roomy.remove(id, true, i as u64 + 1);
        }
        assert!(["s1", "s2", "s3"].iter().all(|id| roomy.was_expired(id)));
    }
}
