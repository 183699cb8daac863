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
    bytes: usize,
}

#[derive(Default)]
struct Inner {
    /// token -> parts of one reply
    sets: HashMap<String, Set>,
    /// (session, client's TransactionID) -> upload
    uploads: HashMap<(String, String), Upload>,
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
        self.uploads.retain(|_, u| {
            let keep = u.expires_ms > now_ms;
            if !keep {
                freed += u.bytes;
            }
            keep
        });
        self.bytes = self.bytes.saturating_sub(freed);
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

    /// Makes room for one more set of `bytes` for `session` (SEC-1).
    fn make_room(&mut self, session: &str, bytes: usize, cfg: &ListsConfig) {
        loop {
            let held = self.sets.values().filter(|s| s.session == session).count()
                + self.uploads.keys().filter(|(s, _)| s == session).count();
            if held < cfg.max_segment_sets_per_session.max(1) {
                break;
            }
            match self.oldest(Some(session)) {
                Some(v) => self.remove(v),
                None => break,
            }
        }
        while self.bytes + bytes > cfg.max_segment_bytes_total {
            match self.oldest(None) {
                Some(v) => self.remove(v),
                None => break,
            }
        }
        self.seq += 1;
    }
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
        g.make_room(session, bytes, cfg);
        let seq = g.seq;
        g.bytes += bytes;
        g.sets.insert(
            token,
            Set {
                session: session.to_string(),
                seq,
                expires_ms: now_ms.saturating_add(cfg.segment_ttl_secs.saturating_mul(1000)),
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
        if g.uploads.contains_key(&key) {
            g.remove((0, false, key.0, key.1));
            return true;
        }
        false
    }

    pub(crate) fn drop_session(&self, session: &str) {
        let mut g = self.inner.lock();
        while let Some(v) = g.oldest(Some(session)) {
            g.remove(v);
        }
    }

    /// Adds one part of an upload. Returns the parts in order once all
    /// `count` are in (and forgets the upload), `None` while some are
    /// missing. `check` sees the upload after the part was added and may
    /// refuse it, which drops the whole upload.
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
        if !g.uploads.contains_key(&key) {
            g.make_room(&key.0, bytes, cfg);
            let mut u = fresh;
            u.seq = g.seq;
            u.expires_ms = now_ms.saturating_add(cfg.segment_ttl_secs.saturating_mul(1000));
            g.uploads.insert(key.clone(), u);
        }
        let Some(u) = g.uploads.get_mut(&key) else {
            return Err(CoreError::Internal("upload vanished".into()));
        };
        let entries = (u.counter)(&part);
        if let Some(old) = u.parts.insert(reference, part) {
            u.entries = u.entries.saturating_sub((u.counter)(&old));
            u.bytes = u.bytes.saturating_sub(xml_len(&old));
        }
        u.entries += entries;
        u.bytes += bytes;
        let verdict = check(u);
        let complete = u.parts.len() as u64 == u.count;
        g.bytes += bytes;
        if verdict.is_err() || complete {
            let done = g.uploads.remove(&key);
            g.bytes = g.bytes.saturating_sub(done.as_ref().map_or(0, |u| u.bytes));
            verdict?;
            return Ok(done.map(|u| u.parts.into_values().collect()));
        }
        Ok(None)
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
}
