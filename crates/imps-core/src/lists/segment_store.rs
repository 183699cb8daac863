//! Where the parts of split replies and of uploads in parts wait
//! (SEC-1): bound to one session, expiring, a bounded number per session
//! and a shared byte budget, the oldest dropped first.

use std::collections::{BTreeMap, HashMap};

use imps_wire::Element;
use parking_lot::Mutex;

use super::ListsConfig;
use crate::CoreError;

struct Set {
    session: String,
    seq: u64,
    expires_ms: u64,
    parts: Vec<Element>,
    bytes: usize,
}

/// One part of an upload as it arrives.
pub(crate) struct UploadPart {
    /// (session, the client's upload ID)
    pub key: (String, String),
    /// 1-based position of this part.
    pub reference: u64,
    /// The request without its SegmentInfo.
    pub body: Element,
}

/// One upload in parts (GEN-2), buffered until every part is in.
pub(crate) struct Upload {
    /// The primitive being uploaded (`ListManage-Request`, ...): a part
    /// of another primitive under the same ID is refused.
    pub kind: &'static str,
    /// The list the upload changes (the contact list; fixed for block and
    /// grant lists).
    pub list: String,
    pub count: u64,
    pub parts: BTreeMap<u64, Element>,
    pub entries: usize,
    /// Counts the entries one part adds (bounded by `check`).
    counter: fn(&Element) -> usize,
    seq: u64,
    expires_ms: u64,
    /// How long it lives without a new part.
    ttl_ms: u64,
    bytes: usize,
}

#[derive(Default)]
struct Inner {
    /// token -> parts of one reply
    sets: HashMap<String, Set>,
    /// (session, client's TransactionID) -> upload
    uploads: HashMap<(String, String), Upload>,
    /// Uploads the server gave up on (expired, evicted, refused), until
    /// they would have expired: a later part of one is answered 420 so the
    /// client starts again, instead of silently opening an upload that
    /// can never complete. (session, ID) -> (expires_ms, seq).
    gone: HashMap<(String, String), (u64, u64)>,
    bytes: usize,
    seq: u64,
}

impl Inner {
    fn purge(&mut self, now_ms: u64) {
        let mut freed = 0;
        self.sets.retain(|_, s| {
            let keep = s.expires_ms > now_ms;
            if !keep {
                freed += s.bytes;
            }
            keep
        });
        let mut expired = Vec::new();
        self.uploads.retain(|k, u| {
            let keep = u.expires_ms > now_ms;
            if !keep {
                freed += u.bytes;
                expired.push((k.clone(), u.ttl_ms));
            }
            keep
        });
        self.bytes = self.bytes.saturating_sub(freed);
        self.gone.retain(|_, (expires, _)| *expires > now_ms);
        for (key, ttl_ms) in expired {
            self.mark_gone(key, now_ms.saturating_add(ttl_ms));
        }
    }

    /// Remembers an upload given up on until `until_ms`; each session
    /// keeps at most as many of these as it may hold uploads.
    fn mark_gone(&mut self, key: (String, String), until_ms: u64) {
        self.seq += 1;
        let seq = self.seq;
        let session = key.0.clone();
        self.gone.insert(key, (until_ms, seq));
        loop {
            let mine = self.gone.iter().filter(|((s, _), _)| *s == session);
            if mine.clone().count() <= GONE_PER_SESSION {
                break;
            }
            let Some(oldest) = mine
                .min_by_key(|(_, (_, seq))| *seq)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.gone.remove(&oldest);
        }
    }

    /// The oldest set or upload, of one session or of all.
    fn oldest(&self, session: Option<&str>) -> Option<(u64, bool, String, String)> {
        let sets = self
            .sets
            .iter()
            .filter(|(_, s)| session.is_none_or(|x| x == s.session))
            .map(|(k, s)| (s.seq, true, k.clone(), String::new()));
        let uploads = self
            .uploads
            .iter()
            .filter(|((sess, _), _)| session.is_none_or(|x| x == sess))
            .map(|((sess, id), u)| (u.seq, false, sess.clone(), id.clone()));
        sets.chain(uploads).min()
    }

    fn remove(&mut self, victim: (u64, bool, String, String)) {
        let freed = if victim.1 {
            self.sets.remove(&victim.2).map_or(0, |s| s.bytes)
        } else {
            self.uploads
                .remove(&(victim.2, victim.3))
                .map_or(0, |u| u.bytes)
        };
        self.bytes = self.bytes.saturating_sub(freed);
    }

    /// Removes an upload to make room for others; its later parts get 420.
    fn evict(&mut self, victim: (u64, bool, String, String), now_ms: u64, cfg: &ListsConfig) {
        let upload = (!victim.1).then(|| (victim.2.clone(), victim.3.clone()));
        self.remove(victim);
        if let Some(key) = upload {
            self.mark_gone(key, now_ms.saturating_add(ttl_ms(cfg)));
        }
    }

    /// Makes room for one more set of `bytes` for `session` (SEC-1).
    fn make_room(&mut self, session: &str, bytes: usize, now_ms: u64, cfg: &ListsConfig) {
        loop {
            let held = self.sets.values().filter(|s| s.session == session).count()
                + self.uploads.keys().filter(|(s, _)| s == session).count();
            if held < cfg.max_segment_sets_per_session.max(1) {
                break;
            }
            match self.oldest(Some(session)) {
                Some(v) => self.evict(v, now_ms, cfg),
                None => break,
            }
        }
        while self.bytes + bytes > cfg.max_segment_bytes_total {
            match self.oldest(None) {
                Some(v) => self.evict(v, now_ms, cfg),
                None => break,
            }
        }
        self.seq += 1;
    }

    /// Frees shared budget for `growth` more bytes of upload `key`, taking
    /// the oldest other sets and uploads first, never `key` itself; false
    /// when even that is not enough.
    fn room_for_growth(
        &mut self,
        key: &(String, String),
        growth: usize,
        now_ms: u64,
        cfg: &ListsConfig,
    ) -> bool {
        while self.bytes + growth > cfg.max_segment_bytes_total {
            let victim = self
                .sets
                .iter()
                .map(|(k, s)| (s.seq, true, k.clone(), String::new()))
                .chain(
                    self.uploads
                        .iter()
                        .filter(|(k, _)| *k != key)
                        .map(|((sess, id), u)| (u.seq, false, sess.clone(), id.clone())),
                )
                .min();
            match victim {
                Some(v) => self.evict(v, now_ms, cfg),
                None => return false,
            }
        }
        true
    }
}

/// Given-up uploads remembered per session; the oldest are forgotten
/// first (their later parts then open a new upload that never completes,
/// as before this memory existed).
const GONE_PER_SESSION: usize = 16;

fn ttl_ms(cfg: &ListsConfig) -> u64 {
    cfg.segment_ttl_secs.saturating_mul(1000)
}

/// Split replies and buffered uploads, by session.
#[derive(Default)]
pub(crate) struct SegmentStore {
    inner: Mutex<Inner>,
}

impl SegmentStore {
    pub(crate) fn insert_set(
        &self,
        token: String,
        session: &str,
        parts: Vec<Element>,
        now_ms: u64,
        cfg: &ListsConfig,
    ) {
        let bytes = parts.iter().map(xml_len).sum();
        let mut g = self.inner.lock();
        g.purge(now_ms);
        g.make_room(session, bytes, now_ms, cfg);
        let seq = g.seq;
        g.bytes += bytes;
        g.sets.insert(
            token,
            Set {
                session: session.to_string(),
                seq,
                expires_ms: now_ms.saturating_add(ttl_ms(cfg)),
                parts,
                bytes,
            },
        );
    }

    /// Part `reference` (1-based) of set `token`, and the part count.
    pub(crate) fn part(
        &self,
        session: &str,
        token: &str,
        reference: u64,
        now_ms: u64,
    ) -> Result<(Element, u64), CoreError> {
        let mut g = self.inner.lock();
        g.purge(now_ms);
        let set = g
            .sets
            .get(token)
            .filter(|s| s.session == session)
            .ok_or_else(|| CoreError::UnknownSegment(token.to_string()))?;
        let count = set.parts.len() as u64;
        let idx = reference
            .checked_sub(1)
            .and_then(|i| usize::try_from(i).ok())
            .filter(|i| *i < set.parts.len())
            .ok_or_else(|| {
                CoreError::BadParameter(format!("SegmentReference {reference} not in 1..={count}"))
            })?;
        Ok((set.parts[idx].clone(), count))
    }

    /// Drops this session's set or upload named `id`; false when none.
    pub(crate) fn drop_id(&self, session: &str, id: &str, now_ms: u64) -> bool {
        let mut g = self.inner.lock();
        g.purge(now_ms);
        if g.sets.get(id).is_some_and(|s| s.session == session) {
            g.remove((0, true, id.to_string(), String::new()));
            return true;
        }
        let key = (session.to_string(), id.to_string());
        let forgotten = g.gone.remove(&key).is_some();
        if g.uploads.contains_key(&key) {
            g.remove((0, false, key.0, key.1));
            return true;
        }
        forgotten
    }

    pub(crate) fn drop_session(&self, session: &str) {
        let mut g = self.inner.lock();
        while let Some(v) = g.oldest(Some(session)) {
            g.remove(v);
        }
        g.gone.retain(|(s, _), _| s != session);
    }

    /// Adds one part of an upload. Returns the parts in order once all
    /// `count` are in (and forgets the upload), `None` while some are
    /// missing. `check` sees the upload after the part was added and may
    /// refuse it, which drops the whole upload. Every part is held to the
    /// upload's own byte bound and to the shared budget; an upload the
    /// server gave up on answers its later parts with 420.
    pub(crate) fn upload_part(
        &self,
        part: UploadPart,
        fresh: Upload,
        check: impl FnOnce(&Upload) -> Result<(), CoreError>,
        now_ms: u64,
        cfg: &ListsConfig,
    ) -> Result<Option<Vec<Element>>, CoreError> {
        let UploadPart {
            key,
            reference,
            body: part,
        } = part;
        let bytes = xml_len(&part);
        let mut g = self.inner.lock();
        g.purge(now_ms);
        if g.gone.contains_key(&key) {
            return Err(CoreError::UnknownSegment(format!(
                "upload {} expired or was dropped; send it again under a new ID",
                key.1
            )));
        }
        if !g.uploads.contains_key(&key) {
            g.make_room(&key.0, 0, now_ms, cfg);
            let mut u = fresh;
            u.seq = g.seq;
            u.ttl_ms = ttl_ms(cfg);
            g.uploads.insert(key.clone(), u);
        }
        // The bounds, before anything is kept: the upload's own size, then
        // the shared budget (other sets may give way, this upload not).
        let (old_bytes, held) = match g.uploads.get(&key) {
            Some(u) => (u.parts.get(&reference).map_or(0, xml_len), u.bytes),
            None => return Err(CoreError::Internal("upload vanished".into())),
        };
        let after = held.saturating_sub(old_bytes) + bytes;
        // A refusal drops the upload. After a 402 the ID may start afresh
        // (as after a mismatched part); after a 503 the client may simply
        // retry the part, which must not quietly open a new upload that
        // lacks the earlier parts, so the ID is remembered as gone.
        if after > cfg.max_upload_bytes {
            g.remove((0, false, key.0.clone(), key.1.clone()));
            return Err(CoreError::BadParameter(format!(
                "upload {} would hold {after} bytes, above the limit of {}",
                key.1, cfg.max_upload_bytes
            )));
        }
        if !g.room_for_growth(&key, bytes.saturating_sub(old_bytes), now_ms, cfg) {
            g.remove((0, false, key.0.clone(), key.1.clone()));
            let e = CoreError::Busy(format!(
                "no room to buffer upload {}; send it again later under a new ID",
                key.1
            ));
            g.mark_gone(key, now_ms.saturating_add(ttl_ms(cfg)));
            return Err(e);
        }
        let Some(u) = g.uploads.get_mut(&key) else {
            return Err(CoreError::Internal("upload vanished".into()));
        };
        // A live upload stays as long as parts keep coming.
        u.expires_ms = now_ms.saturating_add(ttl_ms(cfg));
        let entries = (u.counter)(&part);
        if let Some(old) = u.parts.insert(reference, part) {
            u.entries = u.entries.saturating_sub((u.counter)(&old));
        }
        u.entries += entries;
        u.bytes = after;
        let verdict = check(u);
        let complete = u.parts.len() as u64 == u.count;
        g.bytes = g.bytes.saturating_sub(old_bytes) + bytes;
        if verdict.is_err() || complete {
            let done = g.uploads.remove(&key);
            g.bytes = g.bytes.saturating_sub(done.as_ref().map_or(0, |u| u.bytes));
            verdict?;
            return Ok(done.map(|u| u.parts.into_values().collect()));
        }
        Ok(None)
    }

    /// Bytes held by all sessions' parts together (for tests).
    #[cfg(test)]
    fn held_bytes(&self) -> usize {
        self.inner.lock().bytes
    }
}

impl Upload {
    pub(crate) fn new(
        kind: &'static str,
        list: String,
        count: u64,
        counter: fn(&Element) -> usize,
    ) -> Upload {
        Upload {
            kind,
            list,
            count,
            parts: BTreeMap::new(),
            entries: 0,
            counter,
            seq: 0,
            expires_ms: 0,
            ttl_ms: 0,
            bytes: 0,
        }
    }
}

/// Size of an element as XML, the larger of the two encodings.
pub(crate) fn xml_len(e: &Element) -> usize {
    imps_wire::xml::encode(e).len()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sec_1_sets_are_bound_to_their_session_and_bounded() {
        let store = SegmentStore::default();
        let cfg = ListsConfig {
            max_segment_sets_per_session: 2,
            segment_ttl_secs: 10,
            ..ListsConfig::default()
        };
        let parts = || vec![Element::new("A"), Element::new("B")];
        store.insert_set("t1".into(), "s1", parts(), 0, &cfg);
        assert!(store.part("s1", "t1", 2, 0).is_ok());
        assert!(matches!(
            store.part("s2", "t1", 1, 0),
            Err(CoreError::UnknownSegment(_))
        ));
        assert!(matches!(
            store.part("s1", "t1", 3, 0),
            Err(CoreError::BadParameter(_))
        ));
        assert!(!store.drop_id("s2", "t1", 0));
        store.insert_set("t2".into(), "s1", parts(), 1, &cfg);
        store.insert_set("t3".into(), "s1", parts(), 2, &cfg);
        assert!(
            store.part("s1", "t1", 1, 2).is_err(),
            "oldest dropped beyond the bound"
        );
        assert!(store.part("s1", "t3", 1, 9_999).is_ok());
        assert!(store.part("s1", "t3", 1, 12_000).is_err(), "expired");
        store.insert_set("t4".into(), "s1", parts(), 0, &cfg);
        store.drop_session("s1");
        assert!(store.part("s1", "t4", 1, 0).is_err());
    }

    fn part_of(session: &str, id: &str, reference: u64, text: &str) -> UploadPart {
        UploadPart {
            key: (session.into(), id.into()),
            reference,
            body: Element::new("ListManage-Request").with_text("ContactList", text),
        }
    }

    fn fresh(count: u64) -> Upload {
        Upload::new("ListManage-Request", "l".into(), count, |_| 1)
    }

    fn add(
        store: &SegmentStore,
        p: UploadPart,
        count: u64,
        now: u64,
        cfg: &ListsConfig,
    ) -> Result<Option<Vec<Element>>, CoreError> {
        store.upload_part(p, fresh(count), |_| Ok(()), now, cfg)
    }

    #[test]
    fn sec_1_a_part_sent_again_is_counted_once() {
        let store = SegmentStore::default();
        let cfg = ListsConfig::default();
        for _ in 0..50 {
            add(
                &store,
                part_of("s1", "u1", 1, &"x".repeat(1000)),
                3,
                0,
                &cfg,
            )
            .unwrap();
        }
        let one = store.held_bytes();
        assert!((1000..2000).contains(&one), "{one}");
        add(&store, part_of("s1", "u1", 2, "y"), 3, 0, &cfg).unwrap();
        assert!(store.drop_id("s1", "u1", 0));
        assert_eq!(store.held_bytes(), 0, "nothing left counted after the drop");
        add(&store, part_of("s1", "u2", 1, "a"), 2, 0, &cfg).unwrap();
        let done = add(&store, part_of("s1", "u2", 2, "b"), 2, 0, &cfg).unwrap();
        assert_eq!(done.map(|p| p.len()), Some(2));
        assert_eq!(
            store.held_bytes(),
            0,
            "nothing left counted after completion"
        );
    }

    #[test]
    fn sec_1_every_part_is_held_to_the_budgets() {
        let store = SegmentStore::default();
        let cfg = ListsConfig {
            max_segment_bytes_total: 10_000,
            max_upload_bytes: 6_000,
            ..ListsConfig::default()
        };
        let big = "x".repeat(2_500);
        // One upload may not outgrow its own bound: 402, and it is gone.
        add(&store, part_of("s1", "u1", 1, &big), 5, 0, &cfg).unwrap();
        add(&store, part_of("s1", "u1", 2, &big), 5, 0, &cfg).unwrap();
        let e = add(&store, part_of("s1", "u1", 3, &big), 5, 0, &cfg).unwrap_err();
        assert_eq!(e.status_code(), 402, "{e}");
        assert_eq!(store.held_bytes(), 0);
        assert!(
            add(&store, part_of("s1", "u1", 1, "small"), 5, 0, &cfg).is_ok(),
            "after a 402 the ID starts afresh"
        );
        assert!(store.drop_id("s1", "u1", 0));
        // The shared budget holds on later parts too: older uploads of
        // other sessions give way, the growing one does not.
        for s in ["a", "b", "c"] {
            add(&store, part_of(s, "u", 1, &big), 5, 0, &cfg).unwrap();
        }
        add(&store, part_of("d", "u", 1, &big), 5, 0, &cfg).unwrap();
        assert!(store.held_bytes() <= 10_000, "{}", store.held_bytes());
        let e = add(&store, part_of("a", "u", 2, "more"), 5, 0, &cfg).unwrap_err();
        assert_eq!(e.status_code(), 420, "the evicted upload says so: {e}");
        add(&store, part_of("d", "u", 2, &big), 5, 0, &cfg).unwrap();
        assert!(store.held_bytes() <= 10_000, "{}", store.held_bytes());
        // An upload alone bigger than the shared budget: 503, and a retry
        // of the part is told to start again under a new ID.
        let tight = ListsConfig {
            max_segment_bytes_total: 4_000,
            ..cfg
        };
        let store = SegmentStore::default();
        add(&store, part_of("s1", "u9", 1, &big), 5, 0, &tight).unwrap();
        let e = add(&store, part_of("s1", "u9", 2, &big), 5, 0, &tight).unwrap_err();
        assert_eq!(e.status_code(), 503, "{e}");
        assert_eq!(store.held_bytes(), 0);
        let e = add(&store, part_of("s1", "u9", 2, &big), 5, 0, &tight).unwrap_err();
        assert_eq!(e.status_code(), 420, "{e}");
    }

    #[test]
    fn sec_1_an_upload_lives_while_parts_come_and_says_when_it_expired() {
        let store = SegmentStore::default();
        let cfg = ListsConfig {
            segment_ttl_secs: 10,
            ..ListsConfig::default()
        };
        // Each part comes within the TTL of the one before: still alive.
        for (i, t) in [(1, 0), (2, 8_000), (3, 16_000)] {
            add(&store, part_of("s1", "u1", i, "p"), 4, t, &cfg).unwrap();
        }
        // Then a pause longer than the TTL: the last part hears 420.
        let e = add(&store, part_of("s1", "u1", 4, "p"), 4, 40_000, &cfg).unwrap_err();
        assert_eq!(e.status_code(), 420, "{e}");
        // Dropping the ID clears the memory; the ID may be used afresh.
        assert!(store.drop_id("s1", "u1", 40_000));
        assert!(add(&store, part_of("s1", "u1", 1, "p"), 2, 40_000, &cfg).is_ok());
    }
}
