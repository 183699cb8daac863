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

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use async_trait::async_trait;
use deadpool_postgres::{Pool, Transaction};
use imps_core::StoreError;
use imps_core::store::{
    FontSpec, MessageBody, MessageStore, NewStoredMessage, PutOutcome, RemovedMessage,
    StoredMessage,
};
use tokio::sync::oneshot;
use tokio_postgres::{Row, Statement};

use crate::PgStore;
use crate::batch::{PutJob, RemoveJob, stopped};
use crate::rows::{
    LockArea, Param, backend, col, col_opt_u64, col_u64, exec, exec_raw, is_unique_violation,
    limit, lock, lock_all, opt_to_i64, pool_error, query, query_one, query_opt, to_i64,
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

pub(crate) async fn put(
    tx: &Transaction<'_>,
    m: &NewStoredMessage,
    dedupe_since_ms: u64,
) -> Result<PutOutcome, StoreError> {
    let created = to_i64(m.created_ms, "created_ms")?;
    let bytes = to_i64(m.entry_bytes(), "bytes")?;
    // Peers' queue locks first, then the send reference's, then the
    // recipients': the inbound side of federation (a peer's POST of
    // messages for our users, `ssp_take_inbound`) takes them in that
    // order too, so the two never wait on each other in a circle.
    let peers: Vec<&str> = m.remote.iter().map(|i| i.peer.as_str()).collect();
    lock_all(tx, LockArea::SspPeer, &peers).await?;
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
    // Stored already (a peer's message sent on to more of our users under
    // its MessageID): entries only for the recipients without one. Only a
    // put with a reference can be such; the others have IDs of ours.
    let mut fresh = vec![true; rcpts.len()];
    let existing = if m.client_ref.is_some() && !rcpts.is_empty() {
        stored_sender_and_data(tx, &m.id).await?
    } else {
        None
    };
    if let Some((sender, data)) = &existing {
        if !m.is_stored_as(sender, data) {
            return Err(StoreError::Conflict(format!("message {} exists", m.id)));
        }
        let rows = query(
            tx,
            "SELECT recipient FROM im_queue WHERE msg_id = $1 AND recipient = ANY($2)",
            &[&m.id, &rcpts],
            "reading the message's queue entries",
        )
        .await?;
        let mut waiting = HashSet::new();
        for r in rows {
            waiting.insert(col::<String>(&r, 0)?);
        }
        for (f, rcpt) in fresh.iter_mut().zip(&rcpts) {
            *f = !waiting.contains(*rcpt);
        }
        if !fresh.contains(&true) {
            return Ok(PutOutcome::Duplicate(m.id.clone()));
        }
    }
    if let Some(q) = m.quota {
        let mut over = Vec::new();
        for (rcpt, _) in rcpts.iter().zip(&fresh).filter(|(_, f)| **f) {
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
    if !m.remote.is_empty() {
        let mut depths = HashMap::new();
        for p in &peers {
            if !depths.contains_key(p) {
                depths.insert(*p, crate::ssp::peer_depth(tx, p).await?);
            }
        }
        let full = imps_core::store::full_peers(&m.remote, m.remote_max, |p| {
            Ok(depths.get(p).copied().unwrap_or(0))
        })?;
        if !full.is_empty() {
            return Ok(PutOutcome::PeerFull(full));
        }
        for item in &m.remote {
            crate::ssp::insert_item(tx, item).await?;
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
    if m.recipients.is_empty() {
        // Only for peer domains: their transactions are the message.
        return Ok(PutOutcome::Stored(Vec::new()));
    }
    if existing.is_none() {
        insert_message(tx, m).await?;
    }
    let mut seqs = Vec::with_capacity(m.recipients.len());
    for ((rcpt, target), f) in m.recipients.iter().zip(&fresh) {
        if !f {
            seqs.push(0);
            continue;
        }
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

/// The sender and data of the message stored under `id`, if one is,
/// its row taken FOR SHARE (a removal of its last entry, which takes it
/// FOR UPDATE, waits for the caller's transaction, or went first and the
/// row is gone).
pub(crate) async fn stored_sender_and_data(
    tx: &Transaction<'_>,
    id: &str,
) -> Result<Option<(String, String)>, StoreError> {
    query_opt(
        tx,
        "SELECT sender, data FROM im_messages WHERE id = $1 FOR SHARE",
        &[&id],
        "reading the message under the ID",
    )
    .await?
    .map(|r| Ok((col(&r, 0)?, col(&r, 1)?)))
    .transpose()
}

/// The row of a new message ([`put`]).
async fn insert_message(tx: &Transaction<'_>, m: &NewStoredMessage) -> Result<(), StoreError> {
    let created = to_i64(m.created_ms, "created_ms")?;
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
    Ok(())
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

/// One put in its own transaction: the path without batching, a batch
/// of one, and each put of a batch that met a stored message's ID.
async fn put_alone(
    pool: &Pool,
    m: &NewStoredMessage,
    dedupe_since_ms: u64,
) -> Result<PutOutcome, StoreError> {
    let mut c = pool.get().await.map_err(|e| pool_error(&e))?;
    let tx = c
        .transaction()
        .await
        .map_err(|e| backend("starting put_message", &e))?;
    let out = put(&tx, m, dedupe_since_ms).await?;
    // A duplicate or an over-quota answer wrote nothing; committing it
    // only ends the transaction and its locks.
    tx.commit()
        .await
        .map_err(|e| backend(&format!("committing message {}", m.id), &e))?;
    Ok(out)
}

/// Runs one batch of puts and answers each caller after the commit.
pub(crate) async fn run_puts(pool: Pool, jobs: Vec<PutJob>) {
    if jobs.len() > 1 {
        match put_batch(&pool, &jobs).await {
            Ok(Some(outs)) => {
                for (j, out) in jobs.into_iter().zip(outs) {
                    let out = match out {
                        // Under an ID a put before it in the batch took:
                        // alone, after that one's commit, it sees the
                        // message (the same one adds its recipients;
                        // another's ID is taken still).
                        Err(StoreError::Conflict(_)) => {
                            put_alone(&pool, &j.msg, j.dedupe_since_ms).await
                        }
                        out => out,
                    };
                    let _ = j.reply.send(out);
                }
                return;
            }
            // A message ID was already stored: rolled back, and each put
            // goes alone, so each gets exactly the answer it would have.
            Ok(None) => {}
            Err(e) => {
                for j in jobs {
                    let _ = j.reply.send(Err(e.clone()));
                }
                return;
            }
        }
    }
    for j in jobs {
        let out = put_alone(&pool, &j.msg, j.dedupe_since_ms).await;
        let _ = j.reply.send(out);
    }
}

/// The values of a put that are converted for the database.
struct PutNumbers {
    created: i64,
    bytes: i64,
    expires: Option<i64>,
    size: i64,
}

fn numbers(m: &NewStoredMessage) -> Result<PutNumbers, StoreError> {
    Ok(PutNumbers {
        created: to_i64(m.created_ms, "created_ms")?,
        bytes: to_i64(m.entry_bytes(), "bytes")?,
        expires: opt_to_i64(m.expires_ms, "expires_ms")?,
        size: to_i64(m.body.size, "size")?,
    })
}

/// The statements of a batch of puts, in the order a batch runs them.
const BATCH_LOCKS: &str = "SELECT pg_advisory_xact_lock(a, hashtext(k))
     FROM unnest($1::int4[], $2::text[]) WITH ORDINALITY AS t (a, k, n) ORDER BY n";
const BATCH_REFS: &str = "SELECT r.sender, r.client_ref, r.msg_id, r.created_ms FROM im_send_refs r
     JOIN unnest($1::text[], $2::text[]) AS k (sender, client_ref)
       ON r.sender = k.sender AND r.client_ref = k.client_ref";
const BATCH_COUNTS: &str = "SELECT recipient, COUNT(*), COALESCE(SUM(bytes), 0)::BIGINT
     FROM im_queue WHERE recipient = ANY($1) GROUP BY recipient";
const BATCH_MESSAGES: &str = "INSERT INTO im_messages (id, sender, delivery_report, created_ms,
       expires_ms, content_type, encoding, size, name, font_size, font_styles, font_color, data,
       sender_name)
     SELECT * FROM unnest($1::text[], $2::text[], $3::bool[], $4::int8[], $5::int8[],
       $6::text[], $7::text[], $8::int8[], $9::text[], $10::text[], $11::text[],
       $12::text[], $13::text[], $14::text[])";
const BATCH_SEND_REFS: &str = "INSERT INTO im_send_refs (sender, client_ref, msg_id, created_ms)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[])
     ON CONFLICT (sender, client_ref) DO UPDATE SET msg_id = excluded.msg_id,
       created_ms = excluded.created_ms";
const BATCH_QUEUE: &str = "INSERT INTO im_queue (recipient, msg_id, target_client, bytes)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[])
     RETURNING seq, msg_id, recipient";

/// The connection's prepared statements for `sqls` (a round trip only
/// for those it has not prepared yet).
async fn prepare_all<const N: usize>(
    tx: &Transaction<'_>,
    sqls: [&str; N],
) -> Result<Vec<Statement>, StoreError> {
    let mut out = Vec::with_capacity(N);
    for sql in sqls {
        out.push(
            tx.prepare_cached(sql)
                .await
                .map_err(|e| backend("preparing a batch's statements", &e))?,
        );
    }
    Ok(out)
}

/// Of statements pipelined in one transaction, the error that says why:
/// once one failed, those after it only say that the transaction is
/// aborted (25P02).
fn first_cause<const N: usize>(errors: [Option<&StoreError>; N]) -> Result<(), StoreError> {
    let errors: Vec<&StoreError> = errors.into_iter().flatten().collect();
    match errors
        .iter()
        .find(|e| !e.to_string().contains("25P02"))
        .or(errors.first())
    {
        Some(e) => Err((*e).clone()),
        None => Ok(()),
    }
}

/// Several puts in one transaction, with the promises of [`put`] taken
/// one after the other in batch order: the send-reference and queue locks
/// of all of them first (one statement, in the order every put takes
/// them: send references, then queues, each sorted), then what the
/// checks read (pipelined), then the checks themselves here in order (a
/// put sees the ones before it in the batch as if committed), then the
/// writes (three statements, pipelined) and one COMMIT. `Ok(None)` when
/// an ID was already stored (rolled back; the caller runs each alone).
async fn put_batch(
    pool: &Pool,
    jobs: &[PutJob],
) -> Result<Option<Vec<Result<PutOutcome, StoreError>>>, StoreError> {
    let what = "storing a batch of messages";
    let mut c = pool.get().await.map_err(|e| pool_error(&e))?;
    let tx = c.transaction().await.map_err(|e| backend(what, &e))?;
    let puts: Vec<Put<'_>> = jobs.iter().map(|j| (&j.msg, j.dedupe_since_ms)).collect();
    let Some(outs) = puts_in(&tx, &puts).await? else {
        drop(tx);
        return Ok(None);
    };
    tx.commit()
        .await
        .map_err(|e| backend("committing a batch of messages", &e))?;
    Ok(Some(outs))
}

/// A put of a batch: the message and its `dedupe_since_ms`.
pub(crate) type Put<'a> = (&'a NewStoredMessage, u64);

/// The advisory locks the puts of `msgs` take, in the order every put
/// takes them: send references, then queues, each sorted.
fn lock_keys<'a>(msgs: impl Iterator<Item = &'a NewStoredMessage>) -> (Vec<i32>, Vec<String>) {
    let mut ref_keys: Vec<String> = Vec::new();
    let mut queue_keys: Vec<String> = Vec::new();
    for m in msgs {
        if let Some(r) = &m.client_ref {
            ref_keys.push(format!("{}\n{r}", m.sender));
        }
        queue_keys.extend(m.recipients.iter().map(|(r, _)| r.clone()));
    }
    ref_keys.sort_unstable();
    ref_keys.dedup();
    queue_keys.sort_unstable();
    queue_keys.dedup();
    let mut areas: Vec<i32> = vec![LockArea::SendRef as i32; ref_keys.len()];
    areas.resize(ref_keys.len() + queue_keys.len(), LockArea::Queue as i32);
    ref_keys.extend(queue_keys);
    (areas, ref_keys)
}

/// Takes, in one statement, every lock the puts of `msgs` will take, so
/// that puts run one after the other in `tx` (each taking its own again,
/// which a transaction holding them passes) never take one out of the
/// order of all puts.
pub(crate) async fn lock_for_puts(
    tx: &Transaction<'_>,
    msgs: &[&NewStoredMessage],
) -> Result<(), StoreError> {
    let (areas, keys) = lock_keys(msgs.iter().copied());
    if keys.is_empty() {
        return Ok(());
    }
    let st = prepare_all(tx, [BATCH_LOCKS]).await?;
    tx.query(&st[0], &[&areas, &keys])
        .await
        .map_err(|e| backend("taking the puts' locks", &e))?;
    Ok(())
}

/// The puts of [`put_batch`] inside the caller's transaction `tx`, which
/// the caller commits. `Ok(None)` when an ID was already stored (the
/// transaction is then aborted: the caller drops it).
pub(crate) async fn puts_in(
    tx: &Transaction<'_>,
    jobs: &[Put<'_>],
) -> Result<Option<Vec<Result<PutOutcome, StoreError>>>, StoreError> {
    let (mut ref_senders, mut ref_names): (Vec<&str>, Vec<&str>) = (Vec::new(), Vec::new());
    let mut quota_rcpts: Vec<&str> = Vec::new();
    for (m, _) in jobs {
        if let Some(r) = &m.client_ref {
            ref_senders.push(&m.sender);
            ref_names.push(r);
        }
        if m.quota.is_some() {
            quota_rcpts.extend(m.recipients.iter().map(|(r, _)| r.as_str()));
        }
    }
    quota_rcpts.sort_unstable();
    quota_rcpts.dedup();
    let (areas, keys) = lock_keys(jobs.iter().map(|(m, _)| *m));

    // Prepared first (from the connection's cache), so that the three are
    // sent in this order and the server runs them so: the reads see the
    // state under the locks. One round trip for the three.
    let st = prepare_all(tx, [BATCH_LOCKS, BATCH_REFS, BATCH_COUNTS]).await?;
    let lock_params: [Param<'_>; 2] = [&areas, &keys];
    let ref_params: [Param<'_>; 2] = [&ref_senders, &ref_names];
    let count_params: [Param<'_>; 1] = [&quota_rcpts];
    let (locked, refs, counts) = tokio::join!(
        tx.query(&st[0], &lock_params),
        async {
            if ref_senders.is_empty() {
                return Ok(Vec::new());
            }
            tx.query(&st[1], &ref_params).await
        },
        async {
            if quota_rcpts.is_empty() {
                return Ok(Vec::new());
            }
            tx.query(&st[2], &count_params).await
        },
    );
    let locked = locked
        .map(|_| ())
        .map_err(|e| backend("taking the batch's locks", &e));
    let refs = refs.map_err(|e| backend("reading send references", &e));
    let counts = counts.map_err(|e| backend("counting the recipients' queues", &e));
    first_cause([
        locked.as_ref().err(),
        refs.as_ref().err(),
        counts.as_ref().err(),
    ])?;
    let (refs, counts) = (refs?, counts?);
    let mut seen_refs: HashMap<(String, String), (String, i64)> = HashMap::new();
    for r in refs {
        seen_refs.insert((col(&r, 0)?, col(&r, 1)?), (col(&r, 2)?, col(&r, 3)?));
    }
    let mut queued: HashMap<String, (u64, u64)> = HashMap::new();
    for r in counts {
        queued.insert(col(&r, 0)?, (col_u64(&r, 1)?, col_u64(&r, 2)?));
    }

    // The checks of each put, in batch order.
    let mut outs: Vec<Option<Result<PutOutcome, StoreError>>> = jobs.iter().map(|_| None).collect();
    let mut ids: HashSet<&str> = HashSet::new();
    let mut accepted: Vec<(usize, PutNumbers)> = Vec::new();
    let mut new_refs: BTreeMap<(&str, &str), (&str, i64)> = BTreeMap::new();
    for (i, &(m, dedupe_since_ms)) in jobs.iter().enumerate() {
        let n = match numbers(m) {
            Ok(n) => n,
            Err(e) => {
                outs[i] = Some(Err(e));
                continue;
            }
        };
        if let Some(r) = &m.client_ref
            && let Some((id, at)) = seen_refs.get(&(m.sender.clone(), r.clone()))
            && u64::try_from(*at).unwrap_or(0) >= dedupe_since_ms
        {
            outs[i] = Some(Ok(PutOutcome::Duplicate(id.clone())));
            continue;
        }
        if let Some(q) = m.quota {
            let over: Vec<String> = m
                .recipients
                .iter()
                .filter(|(rcpt, _)| {
                    let (count, bytes) = queued.get(rcpt).copied().unwrap_or((0, 0));
                    !q.admits(count, bytes, m.entry_bytes())
                })
                .map(|(rcpt, _)| rcpt.clone())
                .collect();
            if !over.is_empty() {
                outs[i] = Some(Ok(PutOutcome::OverQuota(over)));
                continue;
            }
        }
        if !ids.insert(&m.id) {
            outs[i] = Some(Err(StoreError::Conflict(format!(
                "message {} exists",
                m.id
            ))));
            continue;
        }
        if let Some(r) = &m.client_ref {
            seen_refs.insert((m.sender.clone(), r.clone()), (m.id.clone(), n.created));
            new_refs.insert((&m.sender, r), (&m.id, n.created));
        }
        for (rcpt, _) in &m.recipients {
            let e = queued.entry(rcpt.clone()).or_insert((0, 0));
            e.0 += 1;
            e.1 = e.1.saturating_add(m.entry_bytes());
        }
        accepted.push((i, n));
    }

    if !accepted.is_empty() {
        let Some(seqs) = write_batch(tx, jobs, &accepted, &new_refs).await? else {
            return Ok(None);
        };
        for ((i, _), s) in accepted.iter().zip(seqs) {
            outs[*i] = Some(Ok(PutOutcome::Stored(s)));
        }
    }
    Ok(Some(
        outs.into_iter()
            .map(|o| {
                o.unwrap_or_else(|| {
                    Err(StoreError::Backend(
                        "postgres: a put of a batch was not answered".into(),
                    ))
                })
            })
            .collect(),
    ))
}

/// The writes of the accepted puts of a batch, pipelined: their messages,
/// send references and queue entries; each put's seqs in its recipients'
/// order. `None` when a message ID was already stored.
async fn write_batch(
    tx: &Transaction<'_>,
    jobs: &[Put<'_>],
    accepted: &[(usize, PutNumbers)],
    new_refs: &BTreeMap<(&str, &str), (&str, i64)>,
) -> Result<Option<Vec<Vec<u64>>>, StoreError> {
    let n = accepted.len();
    let mut id = Vec::with_capacity(n);
    let mut sender = Vec::with_capacity(n);
    let mut report = Vec::with_capacity(n);
    let mut created = Vec::with_capacity(n);
    let mut expires = Vec::with_capacity(n);
    let mut ctype = Vec::with_capacity(n);
    let mut encoding = Vec::with_capacity(n);
    let mut size = Vec::with_capacity(n);
    let mut name = Vec::with_capacity(n);
    let mut font_size = Vec::with_capacity(n);
    let mut font_styles = Vec::with_capacity(n);
    let mut font_color = Vec::with_capacity(n);
    let mut data = Vec::with_capacity(n);
    let mut sender_name = Vec::with_capacity(n);
    let (mut q_rcpt, mut q_id, mut q_target, mut q_bytes) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (i, nums) in accepted {
        let m = jobs[*i].0;
        let font = m.body.font.as_ref();
        id.push(m.id.as_str());
        sender.push(m.sender.as_str());
        report.push(m.delivery_report);
        created.push(nums.created);
        expires.push(nums.expires);
        ctype.push(m.body.content_type.as_str());
        encoding.push(m.body.encoding.as_deref());
        size.push(nums.size);
        name.push(m.body.name.as_deref());
        font_size.push(font.and_then(|f| f.size.as_deref()));
        font_styles.push(font.map(|f| f.styles.join(",")));
        font_color.push(font.and_then(|f| f.color.as_deref()));
        data.push(m.body.data.as_str());
        sender_name.push(m.sender_name.as_deref());
        for (rcpt, target) in &m.recipients {
            q_rcpt.push(rcpt.as_str());
            q_id.push(m.id.as_str());
            q_target.push(target.as_deref());
            q_bytes.push(nums.bytes);
        }
    }
    let r_sender: Vec<&str> = new_refs.keys().map(|(s, _)| *s).collect();
    let r_ref: Vec<&str> = new_refs.keys().map(|(_, r)| *r).collect();
    let r_id: Vec<&str> = new_refs.values().map(|(i, _)| *i).collect();
    let r_at: Vec<i64> = new_refs.values().map(|(_, at)| *at).collect();

    let msg_params: [Param<'_>; 14] = [
        &id,
        &sender,
        &report,
        &created,
        &expires,
        &ctype,
        &encoding,
        &size,
        &name,
        &font_size,
        &font_styles,
        &font_color,
        &data,
        &sender_name,
    ];
    let ref_params: [Param<'_>; 4] = [&r_sender, &r_ref, &r_id, &r_at];
    let queue_params: [Param<'_>; 4] = [&q_rcpt, &q_id, &q_target, &q_bytes];
    // Prepared first, so that they are sent (and run) in this order: the
    // queue entries after the messages they refer to.
    let st = prepare_all(tx, [BATCH_MESSAGES, BATCH_SEND_REFS, BATCH_QUEUE]).await?;
    let (msgs, refs, entries) = tokio::join!(
        tx.execute(&st[0], &msg_params),
        async {
            if r_sender.is_empty() {
                return Ok(0);
            }
            tx.execute(&st[1], &ref_params).await
        },
        tx.query(&st[2], &queue_params),
    );
    let msgs = match msgs {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => return Ok(None),
        Err(e) => Err(backend("storing a batch of messages", &e)),
    };
    let refs = refs
        .map(|_| ())
        .map_err(|e| backend("storing send references", &e));
    let entries = entries.map_err(|e| backend("queueing a batch of messages", &e));
    first_cause([
        msgs.as_ref().err(),
        refs.as_ref().err(),
        entries.as_ref().err(),
    ])?;
    let entries = entries?;
    // Each (message, recipient)'s seqs in the order they were drawn.
    let mut drawn: HashMap<(String, String), VecDeque<u64>> = HashMap::new();
    for r in entries {
        drawn
            .entry((col(&r, 1)?, col(&r, 2)?))
            .or_default()
            .push_back(col_u64(&r, 0)?);
    }
    let mut seqs = Vec::with_capacity(n);
    for (i, _) in accepted {
        let m = jobs[*i].0;
        let mut mine = Vec::with_capacity(m.recipients.len());
        for (rcpt, _) in &m.recipients {
            let seq = drawn
                .get_mut(&(m.id.clone(), rcpt.clone()))
                .and_then(VecDeque::pop_front)
                .ok_or_else(|| {
                    StoreError::Backend(format!(
                        "postgres: no queue entry came back for message {} to {rcpt}",
                        m.id
                    ))
                })?;
            mine.push(seq);
        }
        seqs.push(mine);
    }
    Ok(Some(seqs))
}

/// Acknowledged deletes in one transaction (the path without batching).
async fn remove_alone(pool: &Pool, entries: &[(String, String)]) -> Result<(), StoreError> {
    let mut c = pool.get().await.map_err(|e| pool_error(&e))?;
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

/// Runs one batch of acknowledged deletes as one `remove_delivered` of
/// all their entries; every caller gets its outcome.
pub(crate) async fn run_removes(pool: Pool, jobs: Vec<RemoveJob>) {
    let mut all: Vec<(String, String)> = jobs
        .iter()
        .flat_map(|j| j.entries.iter().cloned())
        .collect();
    all.sort_unstable();
    all.dedup();
    let out = remove_alone(&pool, &all).await;
    for j in jobs {
        let _ = j.reply.send(out.clone());
    }
}

#[async_trait]
impl MessageStore for PgStore {
    async fn put_message(
        &self,
        msg: NewStoredMessage,
        dedupe_since_ms: u64,
    ) -> Result<PutOutcome, StoreError> {
        // A message with transactions for peers goes alone: the batch
        // takes no peer locks.
        let Some(b) = self.batch.as_ref().filter(|_| msg.remote.is_empty()) else {
            return put_alone(&self.pool, &msg, dedupe_since_ms).await;
        };
        let (reply, answer) = oneshot::channel();
        let job = PutJob {
            msg,
            dedupe_since_ms,
            reply,
        };
        b.puts.send(job).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
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
        let Some(b) = &self.batch else {
            return remove_alone(&self.pool, entries).await;
        };
        let (reply, answer) = oneshot::channel();
        let job = RemoveJob {
            entries: entries.to_vec(),
            reply,
        };
        b.removes.send(job).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
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
