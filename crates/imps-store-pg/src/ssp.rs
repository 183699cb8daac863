//! The SSP queue (issue 17); see `imps_core::SspStore` and
//! `sql/0010_ssp_queue.sql`. A put is a transaction under its peer's
//! advisory lock, so the per-peer bound holds when several nodes queue at
//! once, as SQLite's single writer makes it hold.

use std::collections::HashMap;

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use imps_core::StoreError;
use imps_core::store::{
    InboundSsp, InboundTaken, NewSspItem, NewStoredMessage, PutOutcome, SspItem, SspPut, SspStore,
    id_taken_by,
};

use crate::PgStore;
use crate::im::{Put, puts_in};
use crate::rows::{
    LockArea, backend, col, col_u64, exec, limit, lock, query, query_one, query_opt, to_i64,
};

/// Transactions waiting for `peer` (the depth row its triggers keep);
/// the caller holds the peer's lock.
pub(crate) async fn peer_depth<C: GenericClient>(c: &C, peer: &str) -> Result<u64, StoreError> {
    match query_opt(
        c,
        "SELECT n FROM ssp_peer_depth WHERE peer = $1",
        &[&peer],
        "reading an SSP queue's depth",
    )
    .await?
    {
        Some(r) => col_u64(&r, 0),
        None => Ok(0),
    }
}

/// Queues `item` in the caller's transaction; returns its queue ID.
pub(crate) async fn insert_item<C: GenericClient>(
    c: &C,
    item: &NewSspItem,
) -> Result<u64, StoreError> {
    let created = to_i64(item.created_ms, "created_ms")?;
    let row = query_one(
        c,
        "INSERT INTO ssp_queue (peer, response, transaction_id, body, created_ms, next_ms)
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
        &[
            &item.peer,
            &item.response,
            &item.transaction_id,
            &item.body,
            &created,
        ],
        "queueing an SSP transaction",
    )
    .await?;
    col_u64(&row, 0)
}

#[async_trait]
impl SspStore for PgStore {
    async fn put_ssp(&self, item: NewSspItem, max: u64) -> Result<SspPut, StoreError> {
        let what = "queueing an SSP transaction";
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(|e| backend(what, &e))?;
        lock(&tx, LockArea::SspPeer, &item.peer).await?;
        if peer_depth(&tx, &item.peer).await? >= max {
            return Ok(SspPut::Full);
        }
        let id = insert_item(&tx, &item).await?;
        tx.commit().await.map_err(|e| backend(what, &e))?;
        Ok(SspPut::Queued(id))
    }

    async fn due_ssp(&self, now_ms: u64, max: usize) -> Result<Vec<SspItem>, StoreError> {
        let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
        let c = self.conn().await?;
        let rows = query(
            &c,
            "SELECT id, peer, response, transaction_id, body, created_ms, attempts, next_ms
             FROM ssp_queue WHERE next_ms <= $1 ORDER BY id LIMIT $2",
            &[&now, &limit(max)],
            "reading the SSP queue",
        )
        .await?;
        rows.iter().map(item_of).collect()
    }

    async fn claim_ssp(
        &self,
        now_ms: u64,
        max_peers: usize,
        per_peer: usize,
        until_ms: u64,
    ) -> Result<Vec<SspItem>, StoreError> {
        let what = "claiming SSP queues";
        let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
        let until = i64::try_from(until_ms).unwrap_or(i64::MAX);
        let mut c = self.conn().await?;
        // The peers that look due; each is checked again under its lock.
        // Each waiting peer's oldest row through the (peer, id) index: a
        // read per peer, not a pass over the queue.
        let heads = query(
            &c,
            "SELECT d.peer FROM ssp_peer_depth d
             CROSS JOIN LATERAL (SELECT id, next_ms FROM ssp_queue q WHERE q.peer = d.peer
                                 ORDER BY id LIMIT 1) h
             WHERE d.n > 0 AND h.next_ms <= $1
             ORDER BY h.id LIMIT $2",
            &[&now, &limit(max_peers)],
            what,
        )
        .await?;
        let mut taken = Vec::new();
        for h in &heads {
            let peer: String = col(h, 0)?;
            // Under the peer's advisory lock (as a put takes it), another
            // node's claim of the same peer has committed or not begun:
            // the head read here is the latest.
            let tx = c.transaction().await.map_err(|e| backend(what, &e))?;
            lock(&tx, LockArea::SspPeer, &peer).await?;
            let head = query_opt(
                &tx,
                "SELECT next_ms FROM ssp_queue WHERE peer = $1 ORDER BY id LIMIT 1",
                &[&peer],
                what,
            )
            .await?;
            let due = match head {
                Some(r) => col_u64(&r, 0)? <= now_ms,
                None => false,
            };
            if !due {
                continue;
            }
            let rows = query(
                &tx,
                "UPDATE ssp_queue q SET next_ms = $3
                 FROM (SELECT id, next_ms FROM ssp_queue WHERE peer = $1
                       ORDER BY id LIMIT $2) c
                 WHERE q.id = c.id
                 RETURNING q.id, q.peer, q.response, q.transaction_id, q.body, q.created_ms,
                           q.attempts, c.next_ms",
                &[&peer, &limit(per_peer), &until],
                what,
            )
            .await?;
            tx.commit().await.map_err(|e| backend(what, &e))?;
            for r in &rows {
                taken.push(item_of(r)?);
            }
        }
        taken.sort_by_key(|i| i.id);
        Ok(taken)
    }

    async fn ssp_sent(&self, id: u64) -> Result<(), StoreError> {
        let id = to_i64(id, "id")?;
        let c = self.conn().await?;
        exec(
            &c,
            "DELETE FROM ssp_queue WHERE id = $1",
            &[&id],
            "removing a sent SSP transaction",
        )
        .await
        .map(|_| ())
    }

    async fn ssp_retry(&self, id: u64, next_ms: u64) -> Result<(), StoreError> {
        let id = to_i64(id, "id")?;
        let next = to_i64(next_ms, "next_ms")?;
        let c = self.conn().await?;
        exec(
            &c,
            "UPDATE ssp_queue SET attempts = attempts + 1, next_ms = $2 WHERE id = $1",
            &[&id, &next],
            "rescheduling an SSP transaction",
        )
        .await
        .map(|_| ())
    }

    async fn ssp_sent_many(&self, ids: &[u64]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids = ids
            .iter()
            .map(|&id| to_i64(id, "id"))
            .collect::<Result<Vec<_>, _>>()?;
        let c = self.conn().await?;
        exec(
            &c,
            "DELETE FROM ssp_queue WHERE id = ANY($1)",
            &[&ids],
            "removing sent SSP transactions",
        )
        .await
        .map(|_| ())
    }

    async fn ssp_retry_many(&self, ids: &[u64], next_ms: u64) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids = ids
            .iter()
            .map(|&id| to_i64(id, "id"))
            .collect::<Result<Vec<_>, _>>()?;
        let next = to_i64(next_ms, "next_ms")?;
        let c = self.conn().await?;
        exec(
            &c,
            "UPDATE ssp_queue SET attempts = attempts + 1, next_ms = $2 WHERE id = ANY($1)",
            &[&ids, &next],
            "rescheduling SSP transactions",
        )
        .await
        .map(|_| ())
    }

    async fn ssp_depth(&self, peer: &str) -> Result<u64, StoreError> {
        peer_depth(&self.conn().await?, peer).await
    }

    async fn ssp_handled(&self, peer: &str, tids: &[String]) -> Result<Vec<String>, StoreError> {
        if tids.is_empty() {
            return Ok(Vec::new());
        }
        let c = self.conn().await?;
        let rows = query(
            &c,
            "SELECT transaction_id FROM ssp_handled
             WHERE peer = $1 AND transaction_id = ANY($2)",
            &[&peer, &tids],
            "reading handled SSP transactions",
        )
        .await?;
        rows.iter().map(|r| col(r, 0)).collect()
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
        let now = to_i64(now_ms, "handled_ms")?;
        let c = self.conn().await?;
        exec(
            &c,
            "INSERT INTO ssp_handled (peer, transaction_id, handled_ms)
             SELECT $1, t, $3 FROM UNNEST($2::text[]) AS t
             ON CONFLICT DO NOTHING",
            &[&peer, &tids, &now],
            "remembering handled SSP transactions",
        )
        .await
        .map(|_| ())
    }

    async fn ssp_forget_handled(&self, before_ms: u64, max: usize) -> Result<u64, StoreError> {
        let before = i64::try_from(before_ms).unwrap_or(i64::MAX);
        let c = self.conn().await?;
        exec(
            &c,
            "DELETE FROM ssp_handled WHERE (peer, transaction_id) IN
             (SELECT peer, transaction_id FROM ssp_handled WHERE handled_ms < $1 LIMIT $2)",
            &[&before, &limit(max)],
            "forgetting handled SSP transactions",
        )
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
        let what = "taking a peer's requests";
        let now = to_i64(now_ms, "handled_ms")?;
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(|e| backend(what, &e))?;
        // The peer's lock first (its depth cannot change under us), then
        // the puts' locks (all at once, sorted as every put takes them,
        // `lock_for_puts`); a put takes peers' locks before its own too
        // (`im::put`), so no cycle.
        lock(&tx, LockArea::SspPeer, peer).await?;
        let depth = peer_depth(&tx, peer).await?;
        let room = usize::try_from(answer_max.saturating_sub(depth)).unwrap_or(usize::MAX);
        let tried = items.len().min(room);
        // Messages stored under these IDs already: not put with the batch.
        let msgs: Vec<&NewStoredMessage> = items[..tried]
            .iter()
            .filter_map(|i| i.message.as_ref())
            .collect();
        // Every lock of every put of the batch at once, in the order of
        // all puts: the puts of messages stored before, run one by one
        // after the batch's, then take none out of that order.
        crate::im::lock_for_puts(&tx, &msgs).await?;
        let ids: Vec<&str> = msgs.iter().map(|m| m.id.as_str()).collect();
        let mut stored: HashMap<String, (String, String)> = HashMap::new();
        if !ids.is_empty() {
            let rows = query(
                &tx,
                // FOR SHARE, in ID order as removals take them FOR
                // UPDATE: a removal of a message's last entry does not
                // take it away under the entries added to it.
                "SELECT id, sender, data FROM im_messages WHERE id = ANY($1) ORDER BY id FOR SHARE",
                &[&ids],
                "reading messages under the batch's IDs",
            )
            .await?;
            for r in rows {
                stored.insert(col(&r, 0)?, (col(&r, 1)?, col(&r, 2)?));
            }
        }
        // What each item's message meets under its ID: nothing (put with
        // the batch), the same message (put alone, adding recipients),
        // or another (its ID taken).
        let pre: Vec<Under> = items[..tried]
            .iter()
            .map(|i| {
                let Some(m) = i.message.as_ref() else {
                    return Under::Free;
                };
                match stored.get(&m.id) {
                    None => Under::Free,
                    Some((s, d)) if m.is_stored_as(s, d) => Under::Same,
                    Some(_) => Under::Taken,
                }
            })
            .collect();
        let puts: Vec<Put<'_>> = items[..tried]
            .iter()
            .zip(&pre)
            .filter(|(_, p)| **p == Under::Free)
            .filter_map(|(i, _)| i.message.as_ref())
            .map(|m| (m, dedupe_since_ms))
            .collect();
        let puts = if puts.is_empty() {
            Vec::new()
        } else {
            match puts_in(&tx, &puts).await? {
                Some(outs) => outs,
                // Stored meanwhile under one of the IDs by another
                // transaction; the transaction is aborted: nothing of it
                // stays, and the peer sends the POST again.
                None => {
                    return Err(StoreError::Conflict(
                        "a message of the batch is stored under its ID already".into(),
                    ));
                }
            }
        };
        let mut puts = puts.into_iter();
        let mut out = Vec::with_capacity(items.len());
        let (mut a_peer, mut a_response, mut a_tid, mut a_body, mut a_created) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut keys: Vec<&str> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            if i >= tried {
                out.push(InboundTaken::NoRoom);
                continue;
            }
            let put = match (&item.message, pre[i]) {
                (None, _) => Ok(PutOutcome::Stored(Vec::new())),
                (Some(m), Under::Taken) => {
                    out.push(InboundTaken::IdTaken(m.id.clone()));
                    continue;
                }
                (Some(m), Under::Same) => crate::im::put(&tx, m, dedupe_since_ms).await,
                (Some(m), Under::Free) => match puts.next() {
                    // Under an ID an item before it in the batch took:
                    // the same message (sent on to more of our users)
                    // adds its recipients; another's ID is taken.
                    Some(Err(StoreError::Conflict(_))) => {
                        let now_stored = crate::im::stored_sender_and_data(&tx, &m.id).await?;
                        if id_taken_by(
                            m,
                            now_stored.as_ref().map(|(s, d)| (s.as_str(), d.as_str())),
                        ) {
                            out.push(InboundTaken::IdTaken(m.id.clone()));
                            continue;
                        }
                        crate::im::put(&tx, m, dedupe_since_ms).await
                    }
                    Some(r) => r,
                    None => {
                        return Err(StoreError::Backend(
                            "postgres: a put of an inbound batch was not answered".into(),
                        ));
                    }
                },
            };
            let taken = match put? {
                PutOutcome::Stored(seqs) => InboundTaken::Stored(seqs),
                PutOutcome::Duplicate(id) => InboundTaken::Duplicate(id),
                // A peer's message has no transactions for peers of its
                // own: PeerFull cannot come.
                PutOutcome::OverQuota(full) | PutOutcome::PeerFull(full) => {
                    out.push(InboundTaken::OverQuota(full));
                    continue;
                }
            };
            let a = &item.answer;
            a_peer.push(a.peer.as_str());
            a_response.push(a.response);
            a_tid.push(a.transaction_id.as_deref());
            a_body.push(a.body.as_slice());
            a_created.push(to_i64(a.created_ms, "created_ms")?);
            keys.extend(item.key.as_deref());
            out.push(taken);
        }
        if !a_peer.is_empty() {
            exec(
                &tx,
                "INSERT INTO ssp_queue (peer, response, transaction_id, body, created_ms, next_ms)
                 SELECT p, r, t, b, c, c
                 FROM unnest($1::text[], $2::bool[], $3::text[], $4::bytea[], $5::int8[])
                      WITH ORDINALITY AS a (p, r, t, b, c, n)
                 ORDER BY n",
                &[&a_peer, &a_response, &a_tid, &a_body, &a_created],
                "queueing answers to a peer",
            )
            .await?;
        }
        if !keys.is_empty() {
            exec(
                &tx,
                "INSERT INTO ssp_handled (peer, transaction_id, handled_ms)
                 SELECT $1, t, $3 FROM UNNEST($2::text[]) AS t
                 ON CONFLICT DO NOTHING",
                &[&peer, &keys, &now],
                "remembering handled SSP transactions",
            )
            .await?;
        }
        tx.commit().await.map_err(|e| backend(what, &e))?;
        Ok(out)
    }

    async fn ssp_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let c = self.conn().await?;
        let rows = query(
            &c,
            "SELECT peer, n FROM ssp_peer_depth WHERE n > 0 ORDER BY peer",
            &[],
            "counting the SSP queue",
        )
        .await?;
        rows.iter()
            .map(|r| Ok((col(r, 0)?, col_u64(r, 1)?)))
            .collect()
    }
}

/// A row of `ssp_queue` in the column order the queries above select.
fn item_of(r: &tokio_postgres::Row) -> Result<SspItem, StoreError> {
    Ok(SspItem {
        id: col_u64(r, 0)?,
        item: NewSspItem {
            peer: col(r, 1)?,
            response: col(r, 2)?,
            transaction_id: col(r, 3)?,
            body: col(r, 4)?,
            created_ms: col_u64(r, 5)?,
        },
        attempts: u32::try_from(col_u64(r, 6)?).unwrap_or(u32::MAX),
        next_ms: col_u64(r, 7)?,
    })
}

/// What a peer's message meets under its MessageID (`ssp_take_inbound`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Under {
    /// Nothing stored under it before the batch (or no message).
    Free,
    /// This message, stored before.
    Same,
    /// Another message (`imps_core::store::id_taken_by`).
    Taken,
}
