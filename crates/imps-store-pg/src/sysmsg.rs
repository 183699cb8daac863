//! System messages, their deliveries and terms agreements; see
//! `imps_core::SysmsgStore` and `sql/0006_sysmsg.sql`. A message, its
//! options and its delivery rows are one transaction; a mark or an answer
//! is one statement on a message that never changes once stored.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use imps_core::store::{SysDelivery, SysMessageRecord, SysOption, TermsAgreement};
use imps_core::{StoreError, SysmsgStore};
use tokio_postgres::Row;

use crate::PgStore;
use crate::rows::{
    Param, backend, col, col_opt_u64, col_u64, exec, exec_raw, is_unique_violation, opt_to_i64,
    query, query_opt, to_i64,
};

/// Columns of `sysmsgs`, for [`head_from_row`]; `m` is the table's alias.
const MESSAGE_COLUMNS: &str =
    "m.id, m.text, m.requires_response, m.everyone, m.origin, m.created_ms";

const DELIVERY_COLUMNS: &str = "message_id, user_id, sent_count, last_sent_ms, answered_ms, chosen";

fn head_from_row(r: &Row) -> Result<SysMessageRecord, StoreError> {
    Ok(SysMessageRecord {
        id: col(r, 0)?,
        text: col(r, 1)?,
        options: Vec::new(),
        requires_response: col(r, 2)?,
        everyone: col(r, 3)?,
        origin: col(r, 4)?,
        created_ms: col_u64(r, 5)?,
    })
}

fn delivery_from_row(r: &Row) -> Result<SysDelivery, StoreError> {
    let sent = col_u64(r, 2)?;
    Ok(SysDelivery {
        message_id: col(r, 0)?,
        user: col(r, 1)?,
        sent_count: u32::try_from(sent)
            .map_err(|_| StoreError::Backend(format!("postgres: sent_count {sent} too large")))?,
        last_sent_ms: col_opt_u64(r, 3)?,
        answered_ms: col_opt_u64(r, 4)?,
        chosen: col_opt_u64(r, 5)?,
    })
}

/// Messages selected by `sql` (whose columns are [`MESSAGE_COLUMNS`]),
/// each completed with its options in their order (one more statement
/// for all of them). Options are written with their message and never
/// change, so a message we see has all of its options visible.
async fn read_messages<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[Param<'_>],
    what: &str,
) -> Result<Vec<SysMessageRecord>, StoreError> {
    let mut messages = query(c, sql, params, what)
        .await?
        .iter()
        .map(head_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    if messages.is_empty() {
        return Ok(messages);
    }
    let ids: Vec<&str> = messages.iter().map(|m| m.id.as_str()).collect();
    let opts = query(
        c,
        "SELECT message_id, option_id, text, action FROM sysmsg_options
         WHERE message_id = ANY($1) ORDER BY message_id, ordinal",
        &[&ids],
        what,
    )
    .await?;
    for r in &opts {
        let id: String = col(r, 0)?;
        let o = SysOption {
            id: col_u64(r, 1)?,
            text: col(r, 2)?,
            action: col(r, 3)?,
        };
        for m in messages.iter_mut().filter(|m| m.id == id) {
            m.options.push(o.clone());
        }
    }
    Ok(messages)
}

/// Writes the delivery row of (`id`, `user`) with `upsert` when the
/// message is to everyone (the row may not exist yet), with `update` when
/// it is to named users (no row: not addressed, nothing written). False
/// when the message does not exist or the update found no row.
async fn write_delivery<C: GenericClient>(
    c: &C,
    (id, user): (&str, &str),
    upsert: &str,
    update: &str,
    params: &[Param<'_>],
    what: &str,
) -> Result<bool, StoreError> {
    let Some(kind) = query_opt(
        c,
        "SELECT everyone FROM sysmsgs WHERE id = $1",
        &[&id],
        &format!("looking up system message {id}"),
    )
    .await?
    else {
        return Ok(false);
    };
    let sql = if col::<bool>(&kind, 0)? {
        upsert
    } else {
        update
    };
    Ok(exec(c, sql, params, &format!("{what} {id} for {user}")).await? > 0)
}

#[async_trait]
impl SysmsgStore for PgStore {
    async fn put_sysmsg(&self, m: SysMessageRecord, to: &[String]) -> Result<(), StoreError> {
        let what = format!("storing system message {}", m.id);
        let created = to_i64(m.created_ms, "created_ms")?;
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(|e| backend(&what, &e))?;
        let res = exec_raw(
            &tx,
            "INSERT INTO sysmsgs (id, text, requires_response, everyone, origin, created_ms)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &m.id,
                &m.text,
                &m.requires_response,
                &m.everyone,
                &m.origin,
                &created,
            ],
            &what,
        )
        .await?;
        match res {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::Conflict(format!(
                    "system message {} exists",
                    m.id
                )));
            }
            Err(e) => return Err(backend(&what, &e)),
        }
        // Any error below drops the transaction: the message goes with it.
        for (ordinal, o) in m.options.iter().enumerate() {
            let ordinal = i64::try_from(ordinal)
                .map_err(|_| StoreError::Backend(format!("option ordinal {ordinal} too large")))?;
            let option_id = to_i64(o.id, "option id")?;
            exec(
                &tx,
                "INSERT INTO sysmsg_options (message_id, ordinal, option_id, text, action)
                 VALUES ($1, $2, $3, $4, $5)",
                &[&m.id, &ordinal, &option_id, &o.text, &o.action],
                &what,
            )
            .await?;
        }
        if !to.is_empty() {
            // A user named twice gets one row.
            exec(
                &tx,
                "INSERT INTO sysmsg_deliveries (message_id, user_id)
                 SELECT $1, u FROM unnest($2::text[]) AS u
                 ON CONFLICT (message_id, user_id) DO NOTHING",
                &[&m.id, &to],
                &what,
            )
            .await?;
        }
        tx.commit().await.map_err(|e| backend(&what, &e))
    }

    async fn sysmsg(&self, id: &str) -> Result<Option<SysMessageRecord>, StoreError> {
        let c = self.conn().await?;
        let found = read_messages(
            &c,
            &format!("SELECT {MESSAGE_COLUMNS} FROM sysmsgs m WHERE m.id = $1"),
            &[&id],
            &format!("reading system message {id}"),
        )
        .await?;
        Ok(found.into_iter().next())
    }

    async fn sysmsgs(&self) -> Result<Vec<SysMessageRecord>, StoreError> {
        let c = self.conn().await?;
        read_messages(
            &c,
            &format!("SELECT {MESSAGE_COLUMNS} FROM sysmsgs m ORDER BY m.created_ms, m.id"),
            &[],
            "listing system messages",
        )
        .await
    }

    async fn sysmsgs_due(&self, user: &str) -> Result<Vec<SysMessageRecord>, StoreError> {
        let c = self.conn().await?;
        // `sysmsg_is_due` in SQL: the user's unanswered rows that were
        // never sent or wait for a required answer, then messages to
        // everyone the user has no row for.
        read_messages(
            &c,
            &format!(
                "SELECT {MESSAGE_COLUMNS} FROM sysmsg_deliveries d
                   JOIN sysmsgs m ON m.id = d.message_id
                 WHERE d.user_id = $1
                   AND d.answered_ms IS NULL
                   AND (d.sent_count = 0 OR m.requires_response)
                 UNION ALL
                 SELECT {MESSAGE_COLUMNS} FROM sysmsgs m
                 WHERE m.everyone
                   AND NOT EXISTS (SELECT 1 FROM sysmsg_deliveries d
                                   WHERE d.message_id = m.id AND d.user_id = $1)
                 ORDER BY created_ms, id"
            ),
            &[&user],
            &format!("reading system messages due to {user}"),
        )
        .await
    }

    async fn mark_sysmsg_sent(
        &self,
        id: &str,
        user: &str,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        let now = to_i64(now_ms, "now_ms")?;
        let c = self.conn().await?;
        // The count stops at u32::MAX, like the reference's saturating
        // add, so reading it back cannot fail.
        write_delivery(
            &c,
            (id, user),
            "INSERT INTO sysmsg_deliveries (message_id, user_id, sent_count, last_sent_ms)
             VALUES ($1, $2, 1, $3)
             ON CONFLICT (message_id, user_id) DO UPDATE SET
               sent_count = LEAST(sysmsg_deliveries.sent_count + 1, 4294967295),
               last_sent_ms = excluded.last_sent_ms",
            "UPDATE sysmsg_deliveries SET sent_count = LEAST(sent_count + 1, 4294967295),
               last_sent_ms = $3
             WHERE message_id = $1 AND user_id = $2",
            &[&id, &user, &now],
            "marking system message",
        )
        .await
    }

    async fn answer_sysmsg(
        &self,
        id: &str,
        user: &str,
        chosen: Option<u64>,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        let now = to_i64(now_ms, "now_ms")?;
        let chosen = opt_to_i64(chosen, "chosen")?;
        let c = self.conn().await?;
        // The latest answer counts: both columns are replaced, `chosen`
        // with NULL when this answer names no option.
        write_delivery(
            &c,
            (id, user),
            "INSERT INTO sysmsg_deliveries (message_id, user_id, answered_ms, chosen)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (message_id, user_id) DO UPDATE SET
               answered_ms = excluded.answered_ms, chosen = excluded.chosen",
            "UPDATE sysmsg_deliveries SET answered_ms = $3, chosen = $4
             WHERE message_id = $1 AND user_id = $2",
            &[&id, &user, &now, &chosen],
            "answering system message",
        )
        .await
    }

    async fn sysmsg_deliveries(&self, id: &str) -> Result<Vec<SysDelivery>, StoreError> {
        let c = self.conn().await?;
        query(
            &c,
            &format!(
                "SELECT {DELIVERY_COLUMNS} FROM sysmsg_deliveries WHERE message_id = $1
                 ORDER BY user_id"
            ),
            &[&id],
            &format!("reading deliveries of system message {id}"),
        )
        .await?
        .iter()
        .map(delivery_from_row)
        .collect()
    }

    async fn sysmsg_delivery(
        &self,
        id: &str,
        user: &str,
    ) -> Result<Option<SysDelivery>, StoreError> {
        let c = self.conn().await?;
        query_opt(
            &c,
            &format!(
                "SELECT {DELIVERY_COLUMNS} FROM sysmsg_deliveries
                 WHERE message_id = $1 AND user_id = $2"
            ),
            &[&id, &user],
            &format!("reading {user}'s copy of system message {id}"),
        )
        .await?
        .map(|r| delivery_from_row(&r))
        .transpose()
    }

    async fn terms_agreement(&self, user: &str) -> Result<Option<TermsAgreement>, StoreError> {
        let c = self.conn().await?;
        query_opt(
            &c,
            "SELECT version, option_id, agreed_ms FROM terms_agreements WHERE user_id = $1",
            &[&user],
            &format!("reading the terms agreement of {user}"),
        )
        .await?
        .map(|r| {
            Ok(TermsAgreement {
                version: col(&r, 0)?,
                option: col_u64(&r, 1)?,
                agreed_ms: col_u64(&r, 2)?,
            })
        })
        .transpose()
    }

    async fn put_terms_agreement(&self, user: &str, a: TermsAgreement) -> Result<(), StoreError> {
        let option = to_i64(a.option, "option")?;
        let agreed = to_i64(a.agreed_ms, "agreed_ms")?;
        let c = self.conn().await?;
        exec(
            &c,
            "INSERT INTO terms_agreements (user_id, version, option_id, agreed_ms)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (user_id) DO UPDATE SET version = excluded.version,
               option_id = excluded.option_id, agreed_ms = excluded.agreed_ms",
            &[&user, &a.version, &option, &agreed],
            &format!("storing the terms agreement of {user}"),
        )
        .await
        .map(|_| ())
    }
}
