//! SQLite tables of instant messaging; see `imps_core::MessageStore`.
//!
//! Writes use the writer's group commit (`run_batched`): a SendMessage is
//! answered only after its commit, but many sends share one fsync.

use std::sync::Arc;

use async_trait::async_trait;
use imps_core::StoreError;
use imps_core::store::{
    FontSpec, MessageBody, MessageStore, NewStoredMessage, PutOutcome, RemovedMessage,
    StoredMessage,
};
use rusqlite::{Connection, OptionalExtension, Row};

use crate::SqliteStore;
use crate::rows::{backend, to_sql_int};

/// Columns of a queue entry joined with its message, for `entry_from_row`.
const ENTRY_COLUMNS: &str = "q.seq, q.msg_id, q.recipient, q.target_client, m.sender, \
     m.delivery_report, m.created_ms, m.expires_ms, m.content_type, m.encoding, m.size, m.name, \
     m.font_size, m.font_styles, m.font_color, m.data, m.sender_name";

fn u64_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<u64> {
    let v: i64 = row.get(idx)?;
    u64::try_from(v).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(idx, v))
}

fn entry_from_row(row: &Row<'_>) -> rusqlite::Result<StoredMessage> {
    let expires: Option<i64> = row.get(7)?;
    let font_size: Option<String> = row.get(12)?;
    let font_styles: Option<String> = row.get(13)?;
    let font_color: Option<String> = row.get(14)?;
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
        seq: u64_at(row, 0)?,
        id: row.get(1)?,
        recipient: row.get(2)?,
        target_client: row.get(3)?,
        sender: row.get(4)?,
        sender_name: row.get(16)?,
        delivery_report: row.get::<_, i64>(5)? != 0,
        created_ms: u64_at(row, 6)?,
        expires_ms: expires.and_then(|v| u64::try_from(v).ok()),
        body: Arc::new(MessageBody {
            content_type: row.get(8)?,
            encoding: row.get(9)?,
            size: u64_at(row, 10)?,
            name: row.get(11)?,
            font,
            data: row.get(15)?,
        }),
    })
}

pub(crate) fn put(
    c: &Connection,
    m: &NewStoredMessage,
    dedupe_since_ms: u64,
) -> Result<PutOutcome, StoreError> {
    let created = to_sql_int(m.created_ms, "created_ms")?;
    let bytes = to_sql_int(m.entry_bytes(), "bytes")?;
    if let Some(r) = &m.client_ref {
        let seen: Option<(String, i64)> = c
            .prepare_cached(
                "SELECT msg_id, created_ms FROM im_send_refs WHERE sender = ?1 AND client_ref = ?2",
            )
            .and_then(|mut s| {
                s.query_row((&m.sender, r), |row| Ok((row.get(0)?, row.get(1)?)))
                    .optional()
            })
            .map_err(|e| backend("reading send reference", e))?;
        if let Some((id, at)) = seen
            && u64::try_from(at).unwrap_or(0) >= dedupe_since_ms
        {
            return Ok(PutOutcome::Duplicate(id));
        }
    }
    // Stored already (a peer's message sent on to more of our users under
    // its MessageID): entries only for the recipients without one. Only a
    // put with a reference can be such; the others have IDs of ours.
    let mut fresh = vec![true; m.recipients.len()];
    let existing = match (&m.client_ref, m.recipients.is_empty()) {
        (Some(_), false) => stored_sender_and_data(c, &m.id)?,
        _ => None,
    };
    if let Some((sender, data)) = &existing {
        if !m.is_stored_as(sender, data) {
            return Err(StoreError::Conflict(format!("message {} exists", m.id)));
        }
        let mut waiting = c
            .prepare_cached("SELECT 1 FROM im_queue WHERE msg_id = ?1 AND recipient = ?2")
            .map_err(|e| backend("preparing queue lookup", e))?;
        for (f, (rcpt, _)) in fresh.iter_mut().zip(&m.recipients) {
            *f = !waiting
                .exists((&m.id, rcpt))
                .map_err(|e| backend(&format!("reading the queue of {rcpt}"), e))?;
        }
        if !fresh.contains(&true) {
            return Ok(PutOutcome::Duplicate(m.id.clone()));
        }
    }
    if let Some(q) = m.quota {
        // In the writer's transaction: no other put can slip in between
        // the count and the insert. The totals are kept by triggers on
        // im_queue (migration 20); no row: an empty queue.
        let mut held = c
            .prepare_cached(
                "SELECT COALESCE(MAX(n), 0), COALESCE(MAX(bytes), 0) FROM im_queue_totals WHERE recipient = ?1",
            )
            .map_err(|e| backend("preparing quota count", e))?;
        let mut over = Vec::new();
        for ((rcpt, _), _) in m.recipients.iter().zip(&fresh).filter(|(_, f)| **f) {
            let (n, b) = held
                .query_row([rcpt], |r| Ok((u64_at(r, 0)?, u64_at(r, 1)?)))
                .map_err(|e| backend(&format!("counting the queue of {rcpt}"), e))?;
            if !q.admits(n, b, m.entry_bytes()) {
                over.push(rcpt.clone());
            }
        }
        if !over.is_empty() {
            return Ok(PutOutcome::OverQuota(over));
        }
    }
    let full =
        imps_core::store::full_peers(&m.remote, m.remote_max, |p| crate::ssp::peer_depth(c, p))?;
    if !full.is_empty() {
        return Ok(PutOutcome::PeerFull(full));
    }
    for item in &m.remote {
        crate::ssp::insert_item(c, item)?;
    }
    if let Some(r) = &m.client_ref {
        c.prepare_cached(
            "INSERT INTO im_send_refs (sender, client_ref, msg_id, created_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (sender, client_ref) DO UPDATE SET msg_id = excluded.msg_id,
               created_ms = excluded.created_ms",
        )
        .and_then(|mut s| s.execute((&m.sender, r, &m.id, created)))
        .map_err(|e| backend("storing send reference", e))?;
    }
    if m.recipients.is_empty() {
        // Only for peer domains: their transactions are the message.
        return Ok(PutOutcome::Stored(Vec::new()));
    }
    let expires = m
        .expires_ms
        .map(|v| to_sql_int(v, "expires_ms"))
        .transpose()?;
    let size = to_sql_int(m.body.size, "size")?;
    let font = m.body.font.as_ref();
    if existing.is_none() {
        insert_message(c, m, created, expires, size, font)?;
    }
    let mut seqs = Vec::with_capacity(m.recipients.len());
    let mut stmt = c
        .prepare_cached(
            "INSERT INTO im_queue (recipient, msg_id, target_client, bytes) VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(|e| backend("preparing queue insert", e))?;
    for ((rcpt, target), f) in m.recipients.iter().zip(&fresh) {
        if !f {
            seqs.push(0);
            continue;
        }
        stmt.execute((rcpt, &m.id, target, bytes))
            .map_err(|e| backend(&format!("queueing message {} for {rcpt}", m.id), e))?;
        seqs.push(u64::try_from(c.last_insert_rowid()).unwrap_or(0));
    }
    Ok(PutOutcome::Stored(seqs))
}

/// The row of a new message (`put`).
fn insert_message(
    c: &Connection,
    m: &NewStoredMessage,
    created: i64,
    expires: Option<i64>,
    size: i64,
    font: Option<&FontSpec>,
) -> Result<(), StoreError> {
    c.prepare_cached(
        "INSERT INTO im_messages (id, sender, delivery_report, created_ms, expires_ms, content_type,
           encoding, size, name, font_size, font_styles, font_color, data, sender_name)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )
    .and_then(|mut s| {
        s.execute(rusqlite::params![
            &m.id,
            &m.sender,
            i64::from(m.delivery_report),
            created,
            expires,
            &m.body.content_type,
            &m.body.encoding,
            size,
            &m.body.name,
            font.and_then(|f| f.size.as_deref()),
            font.map(|f| f.styles.join(",")),
            font.and_then(|f| f.color.as_deref()),
            &m.body.data,
            &m.sender_name,
        ])
    })
    .map_err(|e| {
        if crate::rows::is_uniqueness_violation(&e) {
            StoreError::Conflict(format!("message {} exists", m.id))
        } else {
            backend(&format!("storing message {}", m.id), e)
        }
    })?;
    Ok(())
}

/// The sender and data of the message stored under `id`, if one is.
pub(crate) fn stored_sender_and_data(
    c: &Connection,
    id: &str,
) -> Result<Option<(String, String)>, StoreError> {
    c.prepare_cached("SELECT sender, data FROM im_messages WHERE id = ?1")
        .and_then(|mut s| s.query_row([id], |r| Ok((r.get(0)?, r.get(1)?))).optional())
        .map_err(|e| backend(&format!("reading message {id}"), e))
}

fn remove(c: &Connection, user: &str, id: &str) -> Result<Option<RemovedMessage>, StoreError> {
    let found = c
        .prepare_cached(
            "SELECT q.seq, m.sender, m.delivery_report, m.content_type, m.size
             FROM im_queue q JOIN im_messages m ON m.id = q.msg_id
             WHERE q.recipient = ?1 AND q.msg_id = ?2",
        )
        .and_then(|mut s| {
            s.query_row((user, id), |r| {
                Ok((
                    u64_at(r, 0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)? != 0,
                    r.get::<_, String>(3)?,
                    u64_at(r, 4)?,
                ))
            })
            .optional()
        })
        .map_err(|e| backend(&format!("finding message {id} for {user}"), e))?;
    let Some((seq, sender, report, content_type, size)) = found else {
        return Ok(None);
    };
    let seq_sql = to_sql_int(seq, "seq")?;
    c.prepare_cached("DELETE FROM im_queue WHERE seq = ?1")
        .and_then(|mut s| s.execute([seq_sql]))
        .map_err(|e| backend(&format!("removing message {id} for {user}"), e))?;
    c.prepare_cached(
        "DELETE FROM im_messages WHERE id = ?1
           AND NOT EXISTS (SELECT 1 FROM im_queue WHERE msg_id = ?1)",
    )
    .and_then(|mut s| s.execute([id]))
    .map_err(|e| backend(&format!("dropping message {id}"), e))?;
    Ok(Some(RemovedMessage {
        seq,
        id: id.to_string(),
        recipient: user.to_string(),
        sender,
        delivery_report: report,
        content_type,
        size,
    }))
}

/// Drops delivered entries without reading them first (the core knows
/// what they were), and each message once no entry needs it.
fn remove_many(c: &Connection, entries: &[(String, String)]) -> Result<(), StoreError> {
    let mut del_q = c
        .prepare_cached("DELETE FROM im_queue WHERE recipient = ?1 AND msg_id = ?2")
        .map_err(|e| backend("preparing queue delete", e))?;
    let mut del_m = c
        .prepare_cached(
            "DELETE FROM im_messages WHERE id = ?1
               AND NOT EXISTS (SELECT 1 FROM im_queue WHERE msg_id = ?1)",
        )
        .map_err(|e| backend("preparing message delete", e))?;
    for (user, id) in entries {
        del_q
            .execute((user, id))
            .map_err(|e| backend(&format!("removing message {id} for {user}"), e))?;
        del_m
            .execute([id])
            .map_err(|e| backend(&format!("dropping message {id}"), e))?;
    }
    Ok(())
}

#[async_trait]
impl MessageStore for SqliteStore {
    async fn put_message(
        &self,
        msg: NewStoredMessage,
        dedupe_since_ms: u64,
    ) -> Result<PutOutcome, StoreError> {
        self.writer()
            .run_batched(move |c| put(c, &msg, dedupe_since_ms))
            .await
    }

    async fn pending_messages(
        &self,
        user: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let user = user.to_owned();
        let after = to_sql_int(after_seq, "after_seq")?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read_lane()
            .run(move |c| {
                c.prepare_cached(&format!(
                    "SELECT {ENTRY_COLUMNS} FROM im_queue q JOIN im_messages m ON m.id = q.msg_id
                     WHERE q.recipient = ?1 AND q.seq > ?2 ORDER BY q.seq LIMIT ?3"
                ))
                .and_then(|mut s| {
                    s.query_map((&user, after, limit), entry_from_row)?
                        .collect()
                })
                .map_err(|e| backend(&format!("listing messages for {user}"), e))
            })
            .await
    }

    async fn pending_count(&self, user: &str) -> Result<u64, StoreError> {
        let user = user.to_owned();
        self.read_lane()
            .run(move |c| {
                c.prepare_cached("SELECT COUNT(*) FROM im_queue WHERE recipient = ?1")
                    .and_then(|mut s| s.query_row([&user], |r| u64_at(r, 0)))
                    .map_err(|e| backend(&format!("counting messages for {user}"), e))
            })
            .await
    }

    async fn pending_message(
        &self,
        user: &str,
        id: &str,
    ) -> Result<Option<StoredMessage>, StoreError> {
        let (user, id) = (user.to_owned(), id.to_owned());
        self.read_lane()
            .run(move |c| {
                c.prepare_cached(&format!(
                    "SELECT {ENTRY_COLUMNS} FROM im_queue q JOIN im_messages m ON m.id = q.msg_id
                     WHERE q.recipient = ?1 AND q.msg_id = ?2"
                ))
                .and_then(|mut s| s.query_row((&user, &id), entry_from_row).optional())
                .map_err(|e| backend(&format!("reading message {id} for {user}"), e))
            })
            .await
    }

    async fn remove_message(
        &self,
        user: &str,
        id: &str,
    ) -> Result<Option<RemovedMessage>, StoreError> {
        let (user, id) = (user.to_owned(), id.to_owned());
        self.writer()
            .run_batched(move |c| remove(c, &user, &id))
            .await
    }

    async fn remove_delivered(&self, entries: &[(String, String)]) -> Result<(), StoreError> {
        let entries = entries.to_vec();
        self.writer()
            .run_batched(move |c| remove_many(c, &entries))
            .await
    }

    async fn expired_messages(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let now = to_sql_int(now_ms, "now_ms")?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read_lane()
            .run(move |c| {
                c.prepare_cached(&format!(
                    "SELECT {ENTRY_COLUMNS} FROM im_messages m JOIN im_queue q ON q.msg_id = m.id
                     WHERE m.expires_ms IS NOT NULL AND m.expires_ms <= ?1
                     ORDER BY q.seq LIMIT ?2"
                ))
                .and_then(|mut s| s.query_map((now, limit), entry_from_row)?.collect())
                .map_err(|e| backend("listing expired messages", e))
            })
            .await
    }

    async fn prune_message_refs(&self, before_ms: u64) -> Result<u64, StoreError> {
        let before = to_sql_int(before_ms, "before_ms")?;
        self.writer()
            .run_batched(move |c| {
                c.prepare_cached("DELETE FROM im_send_refs WHERE created_ms < ?1")
                    .and_then(|mut s| s.execute([before]))
                    .map(|n| n as u64)
                    .map_err(|e| backend("pruning send references", e))
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SqliteOptions;
    use crate::conformance_im;
    use imps_core::MemStore;

    /// The IM conformance checks on SQLite and on the reference; on
    /// SQLite, no message outlives its last entry.
    #[tokio::test]
    async fn im_conformance_on_sqlite_and_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let sqlite =
            SqliteStore::open(&dir.path().join("im.db"), SqliteOptions::default()).unwrap();
        conformance_im::run_all(&sqlite).await;
        conformance_im::remote_transactions_go_with_the_message(&sqlite).await;
        let left: i64 = sqlite
            .writer()
            .run(|c| {
                c.query_row(
                    "SELECT COUNT(*) FROM im_messages m WHERE NOT EXISTS
                       (SELECT 1 FROM im_queue q WHERE q.msg_id = m.id)",
                    [],
                    |r| r.get(0),
                )
                .map_err(|e| backend("count", e))
            })
            .await
            .unwrap();
        assert_eq!(left, 0, "every message went with its last entry");
        conformance_im::run_all(&MemStore::default()).await;
        conformance_im::remote_transactions_go_with_the_message(&MemStore::default()).await;
    }
}
