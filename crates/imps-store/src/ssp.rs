//! SQLite table of the SSP queue; see `imps_core::store::SspStore` and
//! `sql/0014_ssp_queue.sql`. A put counts the peer's rows and inserts in
//! the same write job, so two puts never both pass a full peer's bound.

use async_trait::async_trait;
use imps_core::StoreError;
use imps_core::store::{NewSspItem, SspItem, SspPut, SspStore};

use crate::SqliteStore;
use crate::rows::{backend, from_sql_int, to_sql_int};

#[async_trait]
impl SspStore for SqliteStore {
    async fn put_ssp(&self, item: NewSspItem, max: u64) -> Result<SspPut, StoreError> {
        self.writer()
            .run_batched(move |c| {
                let what = |e| backend("queueing an SSP transaction", e);
                let count: i64 = c
                    .prepare_cached("SELECT COUNT(*) FROM ssp_queue WHERE peer = ?1")
                    .and_then(|mut s| s.query_row([&item.peer], |r| r.get(0)))
                    .map_err(what)?;
                if u64::try_from(count).unwrap_or(u64::MAX) >= max {
                    return Ok(SspPut::Full);
                }
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
                .map_err(what)?;
                let id = u64::try_from(c.last_insert_rowid()).unwrap_or_default();
                Ok(SspPut::Queued(id))
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
                let peers: Vec<String> = c
                    .prepare_cached(
                        "SELECT q.peer FROM ssp_queue q
                         WHERE q.id IN (SELECT MIN(id) FROM ssp_queue GROUP BY peer)
                           AND q.next_ms <= ?1
                         ORDER BY q.id LIMIT ?2",
                    )
                    .and_then(|mut s| {
                        s.query_map((now, max_peers), |r| r.get(0))
                            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                    })
                    .map_err(what)?;
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

    async fn ssp_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.read_lane()
            .run(|c| {
                let what = |e| backend("counting the SSP queue", e);
                let mut s = c
                    .prepare_cached(
                        "SELECT peer, COUNT(*) FROM ssp_queue GROUP BY peer ORDER BY peer",
                    )
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
