//! SQLite table of the SMS queue; see `imps_core::store::SmsStore` and
//! `sql/0011_sms_queue.sql`. A put checks the bound and the key in the
//! same write job, so two puts never both pass a full queue's bound.

use async_trait::async_trait;
use imps_core::StoreError;
use imps_core::store::{NewSms, SmsJob, SmsPut, SmsStore};
use rusqlite::OptionalExtension;

use crate::SqliteStore;
use crate::rows::{backend, from_sql_int, to_sql_int};

#[async_trait]
impl SmsStore for SqliteStore {
    async fn put_sms(&self, sms: NewSms, max: u64) -> Result<SmsPut, StoreError> {
        self.writer()
            .run_batched(move |c| {
                let what = |e| backend("queueing an SMS", e);
                if let Some(k) = &sms.key {
                    let waiting: Option<i64> = c
                        .prepare_cached("SELECT id FROM sms_queue WHERE key = ?1")
                        .and_then(|mut s| s.query_row([k], |r| r.get(0)).optional())
                        .map_err(what)?;
                    if waiting.is_some() {
                        return Ok(SmsPut::Coalesced);
                    }
                }
                let count: i64 = c
                    .prepare_cached("SELECT COUNT(*) FROM sms_queue")
                    .and_then(|mut s| s.query_row([], |r| r.get(0)))
                    .map_err(what)?;
                if u64::try_from(count).unwrap_or(u64::MAX) >= max {
                    return Ok(SmsPut::Full);
                }
                let created = to_sql_int(sms.created_ms, "created_ms")?;
                c.prepare_cached(
                    "INSERT INTO sms_queue (key, destination, udh, binary_data, payload, created_ms, next_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                )
                .and_then(|mut s| {
                    s.execute((
                        &sms.key,
                        &sms.destination,
                        sms.udh,
                        sms.binary,
                        &sms.payload,
                        created,
                    ))
                })
                .map_err(what)?;
                let id = u64::try_from(c.last_insert_rowid()).unwrap_or_default();
                Ok(SmsPut::Queued(id))
            })
            .await
    }

    async fn due_sms(&self, now_ms: u64, limit: usize) -> Result<Vec<SmsJob>, StoreError> {
        // Any time past what SQLite holds is "everything is due".
        let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read_lane().run(move |c| due(c, now, limit)).await
    }

    async fn claim_sms(
        &self,
        now_ms: u64,
        limit: usize,
        until_ms: u64,
    ) -> Result<Vec<SmsJob>, StoreError> {
        let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let until = i64::try_from(until_ms).unwrap_or(i64::MAX);
        // One write job: the read and the move of next_ms see no other
        // writer in between (SQLite's single writer is the claim).
        self.writer()
            .run_batched(move |c| {
                let jobs = due(c, now, limit)?;
                let mut s = c
                    .prepare_cached("UPDATE sms_queue SET next_ms = ?2 WHERE id = ?1")
                    .map_err(|e| backend("claiming SMS jobs", e))?;
                for j in &jobs {
                    let id = to_sql_int(j.id, "id")?;
                    s.execute([id, until])
                        .map_err(|e| backend("claiming SMS jobs", e))?;
                }
                Ok(jobs)
            })
            .await
    }

    async fn sms_sent(&self, id: u64) -> Result<(), StoreError> {
        let id = to_sql_int(id, "id")?;
        self.writer()
            .run_batched(move |c| {
                c.prepare_cached("DELETE FROM sms_queue WHERE id = ?1")
                    .and_then(|mut s| s.execute([id]))
                    .map_err(|e| backend("removing a sent SMS", e))?;
                Ok(())
            })
            .await
    }

    async fn sms_retry(&self, id: u64, next_ms: u64) -> Result<(), StoreError> {
        let id = to_sql_int(id, "id")?;
        let next = to_sql_int(next_ms, "next_ms")?;
        self.writer()
            .run_batched(move |c| {
                c.prepare_cached(
                    "UPDATE sms_queue SET attempts = attempts + 1, next_ms = ?2 WHERE id = ?1",
                )
                .and_then(|mut s| s.execute([id, next]))
                .map_err(|e| backend("rescheduling an SMS", e))?;
                Ok(())
            })
            .await
    }

    async fn sms_count(&self) -> Result<u64, StoreError> {
        self.read_lane()
            .run(|c| {
                let n: i64 = c
                    .prepare_cached("SELECT COUNT(*) FROM sms_queue")
                    .and_then(|mut s| s.query_row([], |r| r.get(0)))
                    .map_err(|e| backend("counting the SMS queue", e))?;
                Ok(u64::try_from(n).unwrap_or_default())
            })
            .await
    }
}

/// The jobs due at `now`, oldest first, at most `limit`.
fn due(c: &rusqlite::Connection, now: i64, limit: i64) -> Result<Vec<SmsJob>, StoreError> {
    let mut s = c
        .prepare_cached(
            "SELECT id, key, destination, udh, binary_data, payload, created_ms, attempts, next_ms
             FROM sms_queue WHERE next_ms <= ?1 ORDER BY id LIMIT ?2",
        )
        .map_err(|e| backend("reading the SMS queue", e))?;
    s.query_map((now, limit), |r| {
        Ok(SmsJob {
            id: from_sql_int(r, 0)?,
            sms: NewSms {
                key: r.get(1)?,
                destination: r.get(2)?,
                udh: r.get(3)?,
                binary: r.get(4)?,
                payload: r.get(5)?,
                created_ms: from_sql_int(r, 6)?,
            },
            attempts: u32::try_from(from_sql_int(r, 7)?).unwrap_or(u32::MAX),
            next_ms: from_sql_int(r, 8)?,
        })
    })
    .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
    .map_err(|e| backend("reading the SMS queue", e))
}
