//! The SMS queue (issue 20); see `imps_core::SmsStore` and
//! `sql/0008_sms_queue.sql`. Putting one is a transaction under the
//! queue's advisory lock, so the bound and the coalescing key hold when
//! several nodes queue at once, as SQLite's single writer makes them hold.

use async_trait::async_trait;
use imps_core::StoreError;
use imps_core::store::{NewSms, SmsJob, SmsPut, SmsStore};

use crate::PgStore;
use crate::rows::{LockArea, backend, col, col_u64, exec, limit, lock, query, query_one, to_i64};

/// The advisory lock key of the whole queue.
const QUEUE_KEY: &str = "sms_queue";

#[async_trait]
impl SmsStore for PgStore {
    async fn put_sms(&self, sms: NewSms, max: u64) -> Result<SmsPut, StoreError> {
        let what = "queueing an SMS";
        let created = to_i64(sms.created_ms, "created_ms")?;
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(|e| backend(what, &e))?;
        lock(&tx, LockArea::Queue, QUEUE_KEY).await?;
        if let Some(k) = &sms.key {
            let waiting = query(&tx, "SELECT 1 FROM sms_queue WHERE key = $1", &[k], what).await?;
            if !waiting.is_empty() {
                return Ok(SmsPut::Coalesced);
            }
        }
        let count = col_u64(
            &query_one(&tx, "SELECT COUNT(*) FROM sms_queue", &[], what).await?,
            0,
        )?;
        if count >= max {
            return Ok(SmsPut::Full);
        }
        let row = query_one(
            &tx,
            "INSERT INTO sms_queue (key, destination, udh, binary_data, payload, created_ms, next_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
            &[
                &sms.key,
                &sms.destination,
                &sms.udh,
                &sms.binary,
                &sms.payload,
                &created,
            ],
            what,
        )
        .await?;
        let id = col_u64(&row, 0)?;
        tx.commit().await.map_err(|e| backend(what, &e))?;
        Ok(SmsPut::Queued(id))
    }

    async fn due_sms(&self, now_ms: u64, max: usize) -> Result<Vec<SmsJob>, StoreError> {
        // Any time past what a BIGINT holds is "everything is due".
        let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
        let c = self.conn().await?;
        let rows = query(
            &c,
            "SELECT id, key, destination, udh, binary_data, payload, created_ms, attempts, next_ms
             FROM sms_queue WHERE next_ms <= $1 ORDER BY id LIMIT $2",
            &[&now, &limit(max)],
            "reading the SMS queue",
        )
        .await?;
        rows.iter().map(job_of).collect()
    }

    async fn claim_sms(
        &self,
        now_ms: u64,
        max: usize,
        until_ms: u64,
    ) -> Result<Vec<SmsJob>, StoreError> {
        let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
        let until = i64::try_from(until_ms).unwrap_or(i64::MAX);
        let c = self.conn().await?;
        // Rows another node is claiming at this moment are skipped, not
        // waited for; the old next_ms comes back from the joined row.
        let rows = query(
            &c,
            "UPDATE sms_queue q SET next_ms = $3
             FROM (SELECT id, next_ms FROM sms_queue WHERE next_ms <= $1
                   ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED) due
             WHERE q.id = due.id
             RETURNING q.id, q.key, q.destination, q.udh, q.binary_data, q.payload,
                       q.created_ms, q.attempts, due.next_ms",
            &[&now, &limit(max), &until],
            "claiming SMS jobs",
        )
        .await?;
        let mut jobs = rows.iter().map(job_of).collect::<Result<Vec<_>, _>>()?;
        jobs.sort_by_key(|j| j.id);
        Ok(jobs)
    }

    async fn sms_sent(&self, id: u64) -> Result<(), StoreError> {
        let id = to_i64(id, "id")?;
        let c = self.conn().await?;
        exec(
            &c,
            "DELETE FROM sms_queue WHERE id = $1",
            &[&id],
            "removing a sent SMS",
        )
        .await
        .map(|_| ())
    }

    async fn sms_retry(&self, id: u64, next_ms: u64) -> Result<(), StoreError> {
        let id = to_i64(id, "id")?;
        let next = to_i64(next_ms, "next_ms")?;
        let c = self.conn().await?;
        exec(
            &c,
            "UPDATE sms_queue SET attempts = attempts + 1, next_ms = $2 WHERE id = $1",
            &[&id, &next],
            "rescheduling an SMS",
        )
        .await
        .map(|_| ())
    }

    async fn sms_count(&self) -> Result<u64, StoreError> {
        let c = self.conn().await?;
        let row = query_one(
            &c,
            "SELECT COUNT(*) FROM sms_queue",
            &[],
            "counting the SMS queue",
        )
        .await?;
        col_u64(&row, 0)
    }
}

/// A row of `sms_queue` in the column order the queries above select.
fn job_of(r: &tokio_postgres::Row) -> Result<SmsJob, StoreError> {
    Ok(SmsJob {
        id: col_u64(r, 0)?,
        sms: NewSms {
            key: col(r, 1)?,
            destination: col(r, 2)?,
            udh: col(r, 3)?,
            binary: col(r, 4)?,
            payload: col(r, 5)?,
            created_ms: col_u64(r, 6)?,
        },
        attempts: u32::try_from(col_u64(r, 7)?).unwrap_or(u32::MAX),
        next_ms: col_u64(r, 8)?,
    })
}
