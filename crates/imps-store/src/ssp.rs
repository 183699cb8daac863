//! SQLite table of the SSP queue; see `imps_core::store::SspStore`,
//! `sql/0014_ssp_queue.sql` and `sql/0018_ssp_depth_handled.sql`. A put
//! reads the peer's depth (kept by triggers in `ssp_peer_depth`) and
//! inserts in the same write job, so two puts never both pass a full
//! peer's bound; nothing here counts the queue's rows.

use async_trait::async_trait;
use imps_core::StoreError;
use imps_core::store::{
    InboundSsp, InboundTaken, NewSspItem, PutOutcome, SspItem, SspPut, SspStore,
};

use rusqlite::OptionalExtension;

use crate::SqliteStore;
use crate::rows::{backend, from_sql_int, to_sql_int};

/// Transactions waiting for `peer` (the depth row its triggers keep).
pub(crate) fn peer_depth(c: &rusqlite::Connection, peer: &str) -> Result<u64, StoreError> {
    let count: i64 = c
        .prepare_cached("SELECT n FROM ssp_peer_depth WHERE peer = ?1")
        .and_then(|mut s| s.query_row([peer], |r| r.get(0)).optional())
        .map_err(|e| backend("reading an SSP queue's depth", e))?
        .unwrap_or(0);
    Ok(u64::try_from(count).unwrap_or(u64::MAX))
}

/// Queues `item` in the writer's transaction; returns its queue ID.
pub(crate) fn insert_item(c: &rusqlite::Connection, item: &NewSspItem) -> Result<u64, StoreError> {
    let created = to_sql_int(item.created_ms, "created_ms")?;
    c.prepare_cached(
        "INSERT INTO ssp_queue (peer, response, transaction_id, body, created_ms, next_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
    )
    .and_then(|mut s| {
        s.execute((
            &item.peer,
            item.response,
            &item.transaction_id,
            &item.body,
            created,
        ))
    })
    .map_err(|e| backend("queueing an SSP transaction", e))?;
    Ok(u64::try_from(c.last_insert_rowid()).unwrap_or_default())
}

#[async_trait]
impl SspStore for SqliteStore {
    async fn put_ssp(&self, item: NewSspItem, max: u64) -> Result<SspPut, StoreError> {
        self.writer()
            .run_batched(move |c| {
                if peer_depth(c, &item.peer)? >= max {
                    return Ok(SspPut::Full);
                }
                Ok(SspPut::Queued(insert_item(c, &item)?))
            })
            .await
    }

    async fn due_ssp(&self, now_ms: u64, limit: usize) -> Result<Vec<SspItem>, StoreError> {
        let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read_lane()
            .run(move |c| {
                let what = |e| backend("reading the SSP queue", e);
                let mut s = c
                    .prepare_cached(
                        "SELECT id, peer, response, transaction_id, body, created_ms, attempts, next_ms
                         FROM ssp_queue WHERE next_ms <= ?1 ORDER BY id LIMIT ?2",
                    )
                    .map_err(what)?;
                let rows = s
                    .query_map((now, limit), item_of)
                    .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                    .map_err(what)?;
                Ok(rows)
            })
            .await
    }

    async fn claim_ssp(
        &self,
        now_ms: u64,
        max_peers: usize,
        per_peer: usize,
        until_ms: u64,
    ) -> Result<Vec<SspItem>, StoreError> {
        let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
        let max_peers = i64::try_from(max_peers).unwrap_or(i64::MAX);
        let per_peer = i64::try_from(per_peer).unwrap_or(i64::MAX);
        let until = i64::try_from(until_ms).unwrap_or(i64::MAX);
        // One write job: the choice of peers and the move of next_ms see
        // no other writer in between (SQLite's single writer is the claim).
        self.writer()
            .run_batched(move |c| {
                let what = |e| backend("claiming SSP queues", e);
                // Each waiting peer's oldest row, through the peer index:
                // a read per peer, not a pass over the queue.
                let waiting: Vec<String> = c
                    .prepare_cached("SELECT peer FROM ssp_peer_depth WHERE n > 0")
                    .and_then(|mut s| {
                        s.query_map([], |r| r.get(0))
                            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                    })
                    .map_err(what)?;
                let mut heads: Vec<(i64, String)> = Vec::new();
                {
                    let mut s = c
                        .prepare_cached(
                            "SELECT id, next_ms FROM ssp_queue WHERE peer = ?1 ORDER BY id LIMIT 1",
                        )
                        .map_err(what)?;
                    for peer in waiting {
                        let head: Option<(i64, i64)> = s
                            .query_row([&peer], |r| Ok((r.get(0)?, r.get(1)?)))
                            .optional()
                            .map_err(what)?;
                        if let Some((id, next)) = head
                            && next <= now
                        {
                            heads.push((id, peer));
                        }
                    }
                }
                heads.sort();
                let peers: Vec<String> = heads
                    .into_iter()
                    .take(usize::try_from(max_peers).unwrap_or(usize::MAX))
                    .map(|(_, p)| p)
                    .collect();
                let mut taken = Vec::new();
                for peer in &peers {
                    let items = c
                        .prepare_cached(
                            "SELECT id, peer, response, transaction_id, body, created_ms, attempts, next_ms
                             FROM ssp_queue WHERE peer = ?1 ORDER BY id LIMIT ?2",
                        )
                        .and_then(|mut s| {
                            s.query_map((peer, per_peer), item_of)
                                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                        })
                        .map_err(what)?;
                    let mut s = c
                        .prepare_cached("UPDATE ssp_queue SET next_ms = ?2 WHERE id = ?1")
                        .map_err(what)?;
                    for i in &items {
                        let id = to_sql_int(i.id, "id")?;
                        s.execute([id, until]).map_err(what)?;
                    }
                    taken.extend(items);
                }
                taken.sort_by_key(|i| i.id);
                Ok(taken)
            })
            .await
    }

    async fn ssp_sent(&self, id: u64) -> Result<(), StoreError> {
        let id = to_sql_int(id, "id")?;
        self.writer()
            .run_batched(move |c| {
                c.prepare_cached("DELETE FROM ssp_queue WHERE id = ?1")
                    .and_then(|mut s| s.execute([id]))
                    .map_err(|e| backend("removing a sent SSP transaction", e))?;
                Ok(())
            })
            .await
    }

    async fn ssp_retry(&self, id: u64, next_ms: u64) -> Result<(), StoreError> {
        let id = to_sql_int(id, "id")?;
        let next = to_sql_int(next_ms, "next_ms")?;
        self.writer()
            .run_batched(move |c| {
                c.prepare_cached(
                    "UPDATE ssp_queue SET attempts = attempts + 1, next_ms = ?2 WHERE id = ?1",
                )
                .and_then(|mut s| s.execute([id, next]))
                .map_err(|e| backend("rescheduling an SSP transaction", e))?;
                Ok(())
            })
            .await
    }

    async fn ssp_sent_many(&self, ids: &[u64]) -> Result<(), StoreError> {
        self.each_id(
            ids,
            "DELETE FROM ssp_queue WHERE id = ?1",
            None,
            "removing sent SSP transactions",
        )
        .await
    }

    async fn ssp_retry_many(&self, ids: &[u64], next_ms: u64) -> Result<(), StoreError> {
        self.each_id(
            ids,
            "UPDATE ssp_queue SET attempts = attempts + 1, next_ms = ?2 WHERE id = ?1",
            Some(next_ms),
            "rescheduling SSP transactions",
        )
        .await
    }

    async fn ssp_depth(&self, peer: &str) -> Result<u64, StoreError> {
        let peer = peer.to_owned();
        self.read_lane().run(move |c| peer_depth(c, &peer)).await
    }

    async fn ssp_handled(&self, peer: &str, tids: &[String]) -> Result<Vec<String>, StoreError> {
        if tids.is_empty() {
            return Ok(Vec::new());
        }
        let (peer, tids) = (peer.to_owned(), tids.to_vec());
        self.read_lane()
            .run(move |c| {
                let what = |e| backend("reading handled SSP transactions", e);
                let mut s = c
                    .prepare_cached(
                        "SELECT 1 FROM ssp_handled WHERE peer = ?1 AND transaction_id = ?2",
                    )
                    .map_err(what)?;
                let mut seen = Vec::new();
                for t in tids {
                    if s.exists((&peer, &t)).map_err(what)? {
                        seen.push(t);
                    }
                }
                Ok(seen)
            })
            .await
    }

    async fn ssp_mark_handled(
        &self,
        peer: &str,
        tids: &[String],
        now_ms: u64,
    ) -> Result<(), StoreError> {
        if tids.is_empty() {
            return Ok(());
        }
        let (peer, tids) = (peer.to_owned(), tids.to_vec());
        let now = to_sql_int(now_ms, "handled_ms")?;
        self.writer()
            .run_batched(move |c| {
                let what = |e| backend("remembering handled SSP transactions", e);
                let mut s = c
                    .prepare_cached(
                        "INSERT OR IGNORE INTO ssp_handled (peer, transaction_id, handled_ms)
                         VALUES (?1, ?2, ?3)",
                    )
                    .map_err(what)?;
                for t in tids {
                    s.execute((&peer, &t, now)).map_err(what)?;
                }
                Ok(())
            })
            .await
    }

    async fn ssp_forget_handled(&self, before_ms: u64, limit: usize) -> Result<u64, StoreError> {
        let before = i64::try_from(before_ms).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.writer()
            .run_batched(move |c| {
                let n = c
                    .prepare_cached(
                        "DELETE FROM ssp_handled WHERE (peer, transaction_id) IN
                         (SELECT peer, transaction_id FROM ssp_handled
                          WHERE handled_ms < ?1 LIMIT ?2)",
                    )
                    .and_then(|mut s| s.execute((before, limit)))
                    .map_err(|e| backend("forgetting handled SSP transactions", e))?;
                Ok(n as u64)
            })
            .await
    }

    async fn ssp_take_inbound(
        &self,
        peer: &str,
        items: Vec<InboundSsp>,
        dedupe_since_ms: u64,
        answer_max: u64,
        now_ms: u64,
    ) -> Result<Vec<InboundTaken>, StoreError> {
        let peer = peer.to_owned();
        let now = to_sql_int(now_ms, "handled_ms")?;
        // One write job: one savepoint of the writer's group transaction,
        // so all of it commits together (with whatever else shares that
        // commit) or, on an error here, none of it does.
        self.writer()
            .run_batched(move |c| {
                let what = |e| backend("taking a peer's requests", e);
                let room = answer_max.saturating_sub(peer_depth(c, &peer)?);
                let room = usize::try_from(room).unwrap_or(usize::MAX);
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.into_iter().enumerate() {
                    if i >= room {
                        out.push(InboundTaken::NoRoom);
                        continue;
                    }
                    let taken = match &item.message {
                        Some(m) => imps_core::store::id_taken_by(
                            m,
                            crate::im::stored_sender_and_data(c, &m.id)?
                                .as_ref()
                                .map(|(s, d)| (s.as_str(), d.as_str())),
                        ),
                        None => false,
                    };
                    let taken = match &item.message {
                        Some(m) if taken => {
                            out.push(InboundTaken::IdTaken(m.id.clone()));
                            continue;
                        }
                        None => InboundTaken::Stored(Vec::new()),
                        Some(m) => match crate::im::put(c, m, dedupe_since_ms)? {
                            PutOutcome::Stored(seqs) => InboundTaken::Stored(seqs),
                            PutOutcome::Duplicate(id) => InboundTaken::Duplicate(id),
                            // A peer's message has no transactions for
                            // peers of its own: PeerFull cannot come.
                            PutOutcome::OverQuota(full) | PutOutcome::PeerFull(full) => {
                                out.push(InboundTaken::OverQuota(full));
                                continue;
                            }
                        },
                    };
                    insert_item(c, &item.answer)?;
                    if let Some(k) = &item.key {
                        c.prepare_cached(
                            "INSERT OR IGNORE INTO ssp_handled (peer, transaction_id, handled_ms)
                             VALUES (?1, ?2, ?3)",
                        )
                        .and_then(|mut s| s.execute((&peer, k, now)))
                        .map_err(what)?;
                    }
                    out.push(taken);
                }
                Ok(out)
            })
            .await
    }

    async fn ssp_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.read_lane()
            .run(|c| {
                let what = |e| backend("counting the SSP queue", e);
                let mut s = c
                    .prepare_cached("SELECT peer, n FROM ssp_peer_depth WHERE n > 0 ORDER BY peer")
                    .map_err(what)?;
                let rows = s
                    .query_map([], |r| Ok((r.get::<_, String>(0)?, from_sql_int(r, 1)?)))
                    .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                    .map_err(what)?;
                Ok(rows)
            })
            .await
    }
}

impl SqliteStore {
    /// Runs `f` on each of `ids` inside one write job (one transaction,
    /// one commit).
    async fn each_id(
        &self,
        ids: &[u64],
        sql: &'static str,
        next_ms: Option<u64>,
        what: &'static str,
    ) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids = ids
            .iter()
            .map(|&id| to_sql_int(id, "id"))
            .collect::<Result<Vec<_>, _>>()?;
        let next = next_ms.map(|n| to_sql_int(n, "next_ms")).transpose()?;
        self.writer()
            .run_batched(move |c| {
                let mut s = c.prepare_cached(sql).map_err(|e| backend(what, e))?;
                for id in ids {
                    match next {
                        Some(n) => s.execute([id, n]),
                        None => s.execute([id]),
                    }
                    .map_err(|e| backend(what, e))?;
                }
                Ok(())
            })
            .await
    }
}

/// A row of `ssp_queue` in the column order the queries above select.
fn item_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<SspItem> {
    Ok(SspItem {
        id: from_sql_int(r, 0)?,
        item: NewSspItem {
            peer: r.get(1)?,
            response: r.get(2)?,
            transaction_id: r.get(3)?,
            body: r.get(4)?,
            created_ms: from_sql_int(r, 5)?,
        },
        attempts: u32::try_from(from_sql_int(r, 6)?).unwrap_or(u32::MAX),
        next_ms: from_sql_int(r, 7)?,
    })
}
