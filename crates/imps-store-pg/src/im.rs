//! Instant messages waiting for delivery; see `imps_core::MessageStore`
//! and `sql/0004_messages.sql`.
//!
//! A message and its queue entries are one transaction. Before it inserts
//! entries, a put takes the queue lock of each recipient (sorted, so two
//! puts cannot deadlock): the quota count and the insert cannot
//! interleave with another put to the same recipient, and one recipient's
//! entries commit in the order their seq numbers were drawn, which is
//! what lets the core read a queue from a seq onwards without missing an
//! entry that commits late. Removals lock the message row first, so two
//! recipients acknowledging the same message at once cannot both leave it
//! behind believing the other still needs it.

use std::sync::Arc;

use async_trait::async_trait;
use deadpool_postgres::Transaction;
use imps_core::StoreError;
use imps_core::store::{
    FontSpec, MessageBody, MessageStore, NewStoredMessage, PutOutcome, RemovedMessage,
    StoredMessage,
};
use tokio_postgres::Row;

use crate::PgStore;
use crate::rows::{
    LockArea, backend, col, col_opt_u64, col_u64, exec, exec_raw, is_unique_violation, limit, lock,
    lock_all, opt_to_i64, query, query_one, query_opt, to_i64,
};

/// Columns of a queue entry joined with its message, for `entry_from_row`.
const ENTRY_COLUMNS: &str = "q.seq, q.msg_id, q.recipient, q.target_client, m.sender, \
     m.delivery_report, m.created_ms, m.expires_ms, m.content_type, m.encoding, m.size, m.name, \
     m.font_size, m.font_styles, m.font_color, m.data, m.sender_name";

fn entry_from_row(r: &Row) -> Result<StoredMessage, StoreError> {
    let font_size: Option<String> = col(r, 12)?;
    let font_styles: Option<String> = col(r, 13)?;
    let font_color: Option<String> = col(r, 14)?;
    let font = if font_size.is_some() || font_styles.is_some() || font_color.is_some() {
        Some(FontSpec {
            size: font_size,
            styles: font_styles
                .map(|s| {
                    s.split(',')
                        .filter(|x| !x.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            color: font_color,
        })
    } else {
        None
    };
    Ok(StoredMessage {
        seq: col_u64(r, 0)?,
        id: col(r, 1)?,
        recipient: col(r, 2)?,
        target_client: col(r, 3)?,
        sender: col(r, 4)?,
        sender_name: col(r, 16)?,
        delivery_report: col(r, 5)?,
        created_ms: col_u64(r, 6)?,
        expires_ms: col_opt_u64(r, 7)?,
        body: Arc::new(MessageBody {
            content_type: col(r, 8)?,
            encoding: col(r, 9)?,
            size: col_u64(r, 10)?,
            name: col(r, 11)?,
            font,
            data: col(r, 15)?,
        }),
    })
}

async fn put(
    tx: &Transaction<'_>,
    m: &NewStoredMessage,
    dedupe_since_ms: u64,
) -> Result<PutOutcome, StoreError> {
    let created = to_i64(m.created_ms, "created_ms")?;
    let bytes = to_i64(m.entry_bytes(), "bytes")?;
    if let Some(r) = &m.client_ref {
        // Two retries of one send racing: the second waits here, then
        // sees the first's reference.
        lock(tx, LockArea::SendRef, &format!("{}\n{r}", m.sender)).await?;
        let seen = query_opt(
            tx,
            "SELECT msg_id, created_ms FROM im_send_refs WHERE sender = $1 AND client_ref = $2",
            &[&m.sender, r],
            "reading send reference",
        )
        .await?;
        if let Some(row) = seen {
            let at: i64 = col(&row, 1)?;
            if u64::try_from(at).unwrap_or(0) >= dedupe_since_ms {
                return Ok(PutOutcome::Duplicate(col(&row, 0)?));
            }
        }
    }
    let rcpts: Vec<&str> = m.recipients.iter().map(|(r, _)| r.as_str()).collect();
    lock_all(tx, LockArea::Queue, &rcpts).await?;
    if let Some(q) = m.quota {
        let mut over = Vec::new();
        for rcpt in &rcpts {
            let row = query_one(
                tx,
                "SELECT COUNT(*), COALESCE(SUM(bytes), 0)::BIGINT FROM im_queue WHERE recipient = $1",
                &[rcpt],
                &format!("counting the queue of {rcpt}"),
            )
            .await?;
            if !q.admits(col_u64(&row, 0)?, col_u64(&row, 1)?, m.entry_bytes()) {
                over.push((*rcpt).to_string());
            }
        }
        if !over.is_empty() {
            return Ok(PutOutcome::OverQuota(over));
        }
    }
    if let Some(r) = &m.client_ref {
        exec(
            tx,
            "INSERT INTO im_send_refs (sender, client_ref, msg_id, created_ms) VALUES ($1, $2, $3, $4)
             ON CONFLICT (sender, client_ref) DO UPDATE SET msg_id = excluded.msg_id,
               created_ms = excluded.created_ms",
            &[&m.sender, r, &m.id, &created],
            "storing send reference",
        )
        .await?;
    }
    let expires = opt_to_i64(m.expires_ms, "expires_ms")?;
    let size = to_i64(m.body.size, "size")?;
    let font = m.body.font.as_ref();
    let font_size = font.and_then(|f| f.size.as_deref());
    let font_styles = font.map(|f| f.styles.join(","));
    let font_color = font.and_then(|f| f.color.as_deref());
    let res = exec_raw(
        tx,
        "INSERT INTO im_messages (id, sender, delivery_report, created_ms, expires_ms, content_type,
           encoding, size, name, font_size, font_styles, font_color, data, sender_name)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        &[
            &m.id,
            &m.sender,
            &m.delivery_report,
            &created,
            &expires,
            &m.body.content_type,
            &m.body.encoding,
            &size,
            &m.body.name,
            &font_size,
            &font_styles,
            &font_color,
            &m.body.data,
            &m.sender_name,
        ],
        "storing a message",
    )
    .await?;
    match res {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {
            return Err(StoreError::Conflict(format!("message {} exists", m.id)));
        }
        Err(e) => return Err(backend(&format!("storing message {}", m.id), &e)),
    }
    let mut seqs = Vec::with_capacity(m.recipients.len());
    for (rcpt, target) in &m.recipients {
        let row = query_one(
            tx,
            "INSERT INTO im_queue (recipient, msg_id, target_client, bytes) VALUES ($1, $2, $3, $4)
             RETURNING seq",
            &[rcpt, &m.id, target, &bytes],
            &format!("queueing message {} for {rcpt}", m.id),
        )
        .await?;
        seqs.push(col_u64(&row, 0)?);
    }
    Ok(PutOutcome::Stored(seqs))
}

async fn remove(
    tx: &Transaction<'_>,
    user: &str,
    id: &str,
) -> Result<Option<RemovedMessage>, StoreError> {
    let what = format!("removing message {id} for {user}");
    let Some(msg) = query_opt(
        tx,
        "SELECT sender, delivery_report, content_type, size FROM im_messages WHERE id = $1
         FOR UPDATE",
        &[&id],
        &what,
    )
    .await?
    else {
        return Ok(None);
    };
    let Some(entry) = query_opt(
        tx,
        "DELETE FROM im_queue WHERE recipient = $1 AND msg_id = $2 RETURNING seq",
        &[&user, &id],
        &what,
    )
    .await?
    else {
        return Ok(None);
    };
    exec(
        tx,
        "DELETE FROM im_messages WHERE id = $1
           AND NOT EXISTS (SELECT 1 FROM im_queue WHERE msg_id = $1)",
        &[&id],
        &format!("dropping message {id}"),
    )
    .await?;
    Ok(Some(RemovedMessage {
        seq: col_u64(&entry, 0)?,
        id: id.to_string(),
        recipient: user.to_string(),
        sender: col(&msg, 0)?,
        delivery_report: col(&msg, 1)?,
        content_type: col(&msg, 2)?,
        size: col_u64(&msg, 3)?,
    }))
}

/// Drops delivered entries without reading them first (the core knows
/// what they were), and each message once no entry needs it: three
/// statements for the whole batch.
async fn remove_many(tx: &Transaction<'_>, entries: &[(String, String)]) -> Result<(), StoreError> {
    let users: Vec<&str> = entries.iter().map(|(u, _)| u.as_str()).collect();
    let ids: Vec<&str> = entries.iter().map(|(_, i)| i.as_str()).collect();
    let mut msgs = ids.clone();
    msgs.sort_unstable();
    msgs.dedup();
    // Locked in ID order, so two batches cannot deadlock.
    query(
        tx,
        "SELECT id FROM im_messages WHERE id = ANY($1) ORDER BY id FOR UPDATE",
        &[&msgs],
        "locking delivered messages",
    )
    .await?;
    exec(
        tx,
        "DELETE FROM im_queue q USING unnest($1::text[], $2::text[]) AS d (recipient, msg_id)
         WHERE q.recipient = d.recipient AND q.msg_id = d.msg_id",
        &[&users, &ids],
        "removing delivered messages",
    )
    .await?;
    exec(
        tx,
        "DELETE FROM im_messages m WHERE m.id = ANY($1)
           AND NOT EXISTS (SELECT 1 FROM im_queue q WHERE q.msg_id = m.id)",
        &[&msgs],
        "dropping delivered messages",
    )
    .await?;
    Ok(())
}

#[async_trait]
impl MessageStore for PgStore {
    async fn put_message(
        &self,
        msg: NewStoredMessage,
        dedupe_since_ms: u64,
    ) -> Result<PutOutcome, StoreError> {
        let mut c = self.conn().await?;
        let tx = c
            .transaction()
            .await
            .map_err(|e| backend("starting put_message", &e))?;
        let out = put(&tx, &msg, dedupe_since_ms).await?;
        // A duplicate or an over-quota answer wrote nothing; committing it
        // only ends the transaction and its locks.
        tx.commit()
            .await
            .map_err(|e| backend(&format!("committing message {}", msg.id), &e))?;
        Ok(out)
    }

    async fn pending_messages(
        &self,
        user: &str,
        after_seq: u64,
        limit_n: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let after = to_i64(after_seq, "after_seq")?;
        let c = self.conn().await?;
        query(
            &c,
            &format!(
                "SELECT {ENTRY_COLUMNS} FROM im_queue q JOIN im_messages m ON m.id = q.msg_id
                 WHERE q.recipient = $1 AND q.seq > $2 ORDER BY q.seq LIMIT $3"
            ),
            &[&user, &after, &limit(limit_n)],
            &format!("listing messages for {user}"),
        )
        .await?
        .iter()
        .map(entry_from_row)
        .collect()
    }

    async fn pending_count(&self, user: &str) -> Result<u64, StoreError> {
        let c = self.conn().await?;
        let r = query_one(
            &c,
            "SELECT COUNT(*) FROM im_queue WHERE recipient = $1",
            &[&user],
            &format!("counting messages for {user}"),
        )
        .await?;
        col_u64(&r, 0)
    }

    async fn pending_message(
        &self,
        user: &str,
        id: &str,
    ) -> Result<Option<StoredMessage>, StoreError> {
        let c = self.conn().await?;
        query_opt(
            &c,
            &format!(
                "SELECT {ENTRY_COLUMNS} FROM im_queue q JOIN im_messages m ON m.id = q.msg_id
                 WHERE q.recipient = $1 AND q.msg_id = $2"
            ),
            &[&user, &id],
            &format!("reading message {id} for {user}"),
        )
        .await?
        .map(|r| entry_from_row(&r))
        .transpose()
    }

    async fn remove_message(
        &self,
        user: &str,
        id: &str,
    ) -> Result<Option<RemovedMessage>, StoreError> {
        let mut c = self.conn().await?;
        let tx = c
            .transaction()
            .await
            .map_err(|e| backend("starting remove_message", &e))?;
        let out = remove(&tx, user, id).await?;
        tx.commit()
            .await
            .map_err(|e| backend(&format!("committing the removal of {id}"), &e))?;
        Ok(out)
    }

    async fn remove_delivered(&self, entries: &[(String, String)]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut c = self.conn().await?;
        // All or nothing: an error drops the transaction, which rolls back.
        let tx = c
            .transaction()
            .await
            .map_err(|e| backend("starting remove_delivered", &e))?;
        remove_many(&tx, entries).await?;
        tx.commit()
            .await
            .map_err(|e| backend("committing remove_delivered", &e))
    }

    async fn expired_messages(
        &self,
        now_ms: u64,
        limit_n: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let now = to_i64(now_ms, "now_ms")?;
        let c = self.conn().await?;
        query(
            &c,
            &format!(
                "SELECT {ENTRY_COLUMNS} FROM im_messages m JOIN im_queue q ON q.msg_id = m.id
                 WHERE m.expires_ms IS NOT NULL AND m.expires_ms <= $1
                 ORDER BY q.seq LIMIT $2"
            ),
            &[&now, &limit(limit_n)],
            "listing expired messages",
        )
        .await?
        .iter()
        .map(entry_from_row)
        .collect()
    }

    async fn prune_message_refs(&self, before_ms: u64) -> Result<u64, StoreError> {
        let before = to_i64(before_ms, "before_ms")?;
        let c = self.conn().await?;
        exec(
            &c,
            "DELETE FROM im_send_refs WHERE created_ms < $1",
            &[&before],
            "pruning send references",
        )
        .await
    }
}
