//! SQLite tables of the system-messages area; see `imps_core::SysmsgStore`
//! and `sql/0009_sysmsg.sql`. Writes are batched jobs on the writer thread
//! (one fsync for many logins' worth of "sent" marks); each job checks the
//! message and writes in one go, so a message and its rows are stored
//! whole or not at all, and a mark never lands on a message that is not
//! addressed to the user.

use async_trait::async_trait;
use imps_core::store::{SysDelivery, SysMessageRecord, SysOption, TermsAgreement};
use imps_core::{StoreError, SysmsgStore};
use rusqlite::{Connection, OptionalExtension, Params, Row};

use crate::SqliteStore;
use crate::rows::{
    backend, from_sql_int, is_uniqueness_violation, opt_from_sql_int, opt_to_sql_int, to_sql_int,
};

/// Columns of `sysmsgs`, for [`head_from_row`]; `m` is the table's alias.
const MESSAGE_COLUMNS: &str =
    "m.id, m.text, m.requires_response, m.everyone, m.origin, m.created_ms";

const DELIVERY_COLUMNS: &str = "message_id, user_id, sent_count, last_sent_ms, answered_ms, chosen";

/// A message without its options (read separately, in their order).
fn head_from_row(row: &Row<'_>) -> rusqlite::Result<SysMessageRecord> {
    Ok(SysMessageRecord {
        id: row.get(0)?,
        text: row.get(1)?,
        options: Vec::new(),
        requires_response: row.get(2)?,
        everyone: row.get(3)?,
        origin: row.get(4)?,
        created_ms: from_sql_int(row, 5)?,
    })
}

fn option_from_row(row: &Row<'_>) -> rusqlite::Result<SysOption> {
    Ok(SysOption {
        id: from_sql_int(row, 0)?,
        text: row.get(1)?,
        action: row.get(2)?,
    })
}

fn delivery_from_row(row: &Row<'_>) -> rusqlite::Result<SysDelivery> {
    Ok(SysDelivery {
        message_id: row.get(0)?,
        user: row.get(1)?,
        // rusqlite's u32 conversion is checked: an out-of-range value is
        // an error, not a wrapped count.
        sent_count: row.get(2)?,
        last_sent_ms: opt_from_sql_int(row, 3)?,
        answered_ms: opt_from_sql_int(row, 4)?,
        chosen: opt_from_sql_int(row, 5)?,
    })
}

/// Messages selected by `sql` (whose columns are [`MESSAGE_COLUMNS`]),
/// each completed with its options in their order. No transaction around
/// the two reads: options are written with their message and never change
/// (nothing deletes a message yet; a delete would want one read
/// transaction here), so a message we see has all of its options visible.
fn read_messages<P: Params>(
    c: &Connection,
    sql: &str,
    params: P,
    what: &str,
) -> Result<Vec<SysMessageRecord>, StoreError> {
    let fail = |e| backend(what, e);
    let mut messages: Vec<SysMessageRecord> = c
        .prepare_cached(sql)
        .and_then(|mut s| s.query_map(params, head_from_row)?.collect())
        .map_err(fail)?;
    let mut opts = c
        .prepare_cached(
            "SELECT option_id, text, action FROM sysmsg_options WHERE message_id = ?1
             ORDER BY ordinal",
        )
        .map_err(fail)?;
    for m in &mut messages {
        m.options = opts
            .query_map([&m.id], option_from_row)
            .and_then(Iterator::collect)
            .map_err(fail)?;
    }
    Ok(messages)
}

/// Whether the message exists, and whether it is addressed to everyone.
fn message_kind(c: &Connection, id: &str) -> Result<Option<bool>, StoreError> {
    c.prepare_cached("SELECT everyone FROM sysmsgs WHERE id = ?1")
        .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
        .map_err(|e| backend(&format!("looking up system message {id}"), e))
}

/// Writes the delivery row of (`id`, `user`) with `upsert` when the
/// message is to everyone (the row may not exist yet), with `update` when
/// it is to named users (no row: not addressed, nothing written). False
/// when the message does not exist or the update found no row. Both
/// statements take `params`, which start with the ID and the user.
fn write_delivery<P: Params>(
    c: &Connection,
    (id, user): (&str, &str),
    upsert: &str,
    update: &str,
    params: P,
    what: &str,
) -> Result<bool, StoreError> {
    let Some(everyone) = message_kind(c, id)? else {
        return Ok(false);
    };
    let sql = if everyone { upsert } else { update };
    c.prepare_cached(sql)
        .and_then(|mut s| s.execute(params))
        .map(|n| n > 0)
        .map_err(|e| backend(&format!("{what} {id} for {user}"), e))
}

#[async_trait]
impl SysmsgStore for SqliteStore {
    async fn put_sysmsg(&self, m: SysMessageRecord, to: &[String]) -> Result<(), StoreError> {
        let to = to.to_vec();
        self.writer()
            .run_batched(move |c| {
                let what = |e| backend(&format!("storing system message {}", m.id), e);
                let created = to_sql_int(m.created_ms, "created_ms")?;
                let res = c
                    .prepare_cached(
                        "INSERT INTO sysmsgs (id, text, requires_response, everyone, origin, created_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    )
                    .and_then(|mut s| {
                        s.execute((
                            &m.id,
                            &m.text,
                            m.requires_response,
                            m.everyone,
                            &m.origin,
                            created,
                        ))
                    });
                match res {
                    Ok(_) => {}
                    Err(e) if is_uniqueness_violation(&e) => {
                        return Err(StoreError::Conflict(format!(
                            "system message {} exists",
                            m.id
                        )));
                    }
                    Err(e) => return Err(what(e)),
                }
                // Any error below fails the job, which rolls back to its
                // savepoint: the message goes with it.
                let mut put = c
                    .prepare_cached(
                        "INSERT INTO sysmsg_options (message_id, ordinal, option_id, text, action)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                    )
                    .map_err(what)?;
                for (ordinal, o) in m.options.iter().enumerate() {
                    let ordinal = i64::try_from(ordinal).map_err(|_| {
                        StoreError::Backend(format!("option ordinal {ordinal} too large"))
                    })?;
                    let option_id = to_sql_int(o.id, "option id")?;
                    put.execute((&m.id, ordinal, option_id, &o.text, &o.action))
                        .map_err(what)?;
                }
                // A user named twice gets one row.
                let mut row = c
                    .prepare_cached(
                        "INSERT INTO sysmsg_deliveries (message_id, user_id) VALUES (?1, ?2)
                         ON CONFLICT (message_id, user_id) DO NOTHING",
                    )
                    .map_err(what)?;
                for u in &to {
                    row.execute((&m.id, u)).map_err(what)?;
                }
                Ok(())
            })
            .await
    }

    async fn sysmsg(&self, id: &str) -> Result<Option<SysMessageRecord>, StoreError> {
        let id = id.to_owned();
        self.read_lane()
            .run(move |c| {
                let found = read_messages(
                    c,
                    &format!("SELECT {MESSAGE_COLUMNS} FROM sysmsgs m WHERE m.id = ?1"),
                    [&id],
                    &format!("reading system message {id}"),
                )?;
                Ok(found.into_iter().next())
            })
            .await
    }

    async fn sysmsgs(&self) -> Result<Vec<SysMessageRecord>, StoreError> {
        self.read_lane()
            .run(|c| {
                read_messages(
                    c,
                    &format!("SELECT {MESSAGE_COLUMNS} FROM sysmsgs m ORDER BY m.created_ms, m.id"),
                    [],
                    "listing system messages",
                )
            })
            .await
    }

    async fn sysmsgs_due(&self, user: &str) -> Result<Vec<SysMessageRecord>, StoreError> {
        let user = user.to_owned();
        self.read_lane()
            .run(move |c| {
                // `sysmsg_is_due` in SQL. The user's unanswered rows (by
                // the user index): never sent, or waiting for a required
                // answer;
                // then messages to everyone (by their partial index) the
                // user has no row for.
                read_messages(
                    c,
                    &format!(
                        "SELECT {MESSAGE_COLUMNS} FROM sysmsg_deliveries d
                           JOIN sysmsgs m ON m.id = d.message_id
                         WHERE d.user_id = ?1
                           AND d.answered_ms IS NULL
                           AND (d.sent_count = 0 OR m.requires_response)
                         UNION ALL
                         SELECT {MESSAGE_COLUMNS} FROM sysmsgs m
                         WHERE m.everyone = 1
                           AND NOT EXISTS (SELECT 1 FROM sysmsg_deliveries d
                                           WHERE d.message_id = m.id AND d.user_id = ?1)
                         ORDER BY created_ms, id"
                    ),
                    [&user],
                    &format!("reading system messages due to {user}"),
                )
            })
            .await
    }

    async fn mark_sysmsg_sent(
        &self,
        id: &str,
        user: &str,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        let (id, user) = (id.to_owned(), user.to_owned());
        self.writer()
            .run_batched(move |c| {
                let now = to_sql_int(now_ms, "now_ms")?;
                // The count stops at u32::MAX, like the reference's
                // saturating add, so reading it back cannot fail.
                write_delivery(
                    c,
                    (&id, &user),
                    "INSERT INTO sysmsg_deliveries (message_id, user_id, sent_count, last_sent_ms)
                     VALUES (?1, ?2, 1, ?3)
                     ON CONFLICT (message_id, user_id) DO UPDATE SET
                       sent_count = MIN(sent_count + 1, 4294967295),
                       last_sent_ms = excluded.last_sent_ms",
                    "UPDATE sysmsg_deliveries SET sent_count = MIN(sent_count + 1, 4294967295),
                       last_sent_ms = ?3
                     WHERE message_id = ?1 AND user_id = ?2",
                    (&id, &user, now),
                    "marking system message",
                )
            })
            .await
    }

    async fn answer_sysmsg(
        &self,
        id: &str,
        user: &str,
        chosen: Option<u64>,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        let (id, user) = (id.to_owned(), user.to_owned());
        self.writer()
            .run_batched(move |c| {
                let now = to_sql_int(now_ms, "now_ms")?;
                let chosen = opt_to_sql_int(chosen, "chosen")?;
                // The latest answer counts: both columns are replaced,
                // `chosen` with NULL when this answer names no option.
                write_delivery(
                    c,
                    (&id, &user),
                    "INSERT INTO sysmsg_deliveries (message_id, user_id, answered_ms, chosen)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (message_id, user_id) DO UPDATE SET
                       answered_ms = excluded.answered_ms, chosen = excluded.chosen",
                    "UPDATE sysmsg_deliveries SET answered_ms = ?3, chosen = ?4
                     WHERE message_id = ?1 AND user_id = ?2",
                    (&id, &user, now, chosen),
                    "answering system message",
                )
            })
            .await
    }

    async fn sysmsg_deliveries(&self, id: &str) -> Result<Vec<SysDelivery>, StoreError> {
        let id = id.to_owned();
        self.read_lane()
            .run(move |c| {
                c.prepare_cached(&format!(
                    "SELECT {DELIVERY_COLUMNS} FROM sysmsg_deliveries WHERE message_id = ?1
                     ORDER BY user_id"
                ))
                .and_then(|mut s| s.query_map([&id], delivery_from_row)?.collect())
                .map_err(|e| backend(&format!("reading deliveries of system message {id}"), e))
            })
            .await
    }

    async fn sysmsg_delivery(
        &self,
        id: &str,
        user: &str,
    ) -> Result<Option<SysDelivery>, StoreError> {
        let (id, user) = (id.to_owned(), user.to_owned());
        self.read_lane()
            .run(move |c| {
                c.prepare_cached(&format!(
                    "SELECT {DELIVERY_COLUMNS} FROM sysmsg_deliveries
                     WHERE message_id = ?1 AND user_id = ?2"
                ))
                .and_then(|mut s| s.query_row([&id, &user], delivery_from_row).optional())
                .map_err(|e| backend(&format!("reading {user}'s copy of system message {id}"), e))
            })
            .await
    }

    async fn terms_agreement(&self, user: &str) -> Result<Option<TermsAgreement>, StoreError> {
        let user = user.to_owned();
        self.read_lane()
            .run(move |c| {
                c.prepare_cached(
                    "SELECT version, option_id, agreed_ms FROM terms_agreements WHERE user_id = ?1",
                )
                .and_then(|mut s| {
                    s.query_row([&user], |r| {
                        Ok(TermsAgreement {
                            version: r.get(0)?,
                            option: from_sql_int(r, 1)?,
                            agreed_ms: from_sql_int(r, 2)?,
                        })
                    })
                    .optional()
                })
                .map_err(|e| backend(&format!("reading terms agreement of {user}"), e))
            })
            .await
    }

    async fn put_terms_agreement(&self, user: &str, a: TermsAgreement) -> Result<(), StoreError> {
        let user = user.to_owned();
        self.writer()
            .run_batched(move |c| {
                let option = to_sql_int(a.option, "option")?;
                let agreed = to_sql_int(a.agreed_ms, "agreed_ms")?;
                c.prepare_cached(
                    "INSERT INTO terms_agreements (user_id, version, option_id, agreed_ms)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (user_id) DO UPDATE SET version = excluded.version,
                       option_id = excluded.option_id, agreed_ms = excluded.agreed_ms",
                )
                .and_then(|mut s| s.execute((&user, &a.version, option, agreed)))
                .map(|_| ())
                .map_err(|e| backend(&format!("storing terms agreement of {user}"), e))
            })
            .await
    }
}
