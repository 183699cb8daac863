//! Row mapping and shared queries of the groups tables.

use imps_core::StoreError;
use imps_core::store::{GroupPass, GroupRecord, InviteRecord, JoinedUser, PassKind, WelcomeNote};
use rusqlite::{Connection, OptionalExtension, Row};

use crate::rows::{backend, to_sql_int};

pub(super) fn u64_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<u64> {
    let v: i64 = row.get(idx)?;
    u64::try_from(v).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(idx, v))
}

pub(super) fn opt_u64_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<u64>> {
    let v: Option<i64> = row.get(idx)?;
    v.map(|v| u64::try_from(v).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(idx, v)))
        .transpose()
}

pub(super) fn opt_int(v: Option<u64>, field: &str) -> Result<Option<i64>, StoreError> {
    v.map(|v| to_sql_int(v, field)).transpose()
}

pub(super) const JOINED_COLUMNS: &str =
    "user_id, sname, session_id, subscribed, show_id, joined_ms";

pub(super) fn joined_from_row(row: &Row<'_>) -> rusqlite::Result<JoinedUser> {
    Ok(JoinedUser {
        user: row.get(0)?,
        sname: row.get(1)?,
        session_id: row.get(2)?,
        subscribed: row.get(3)?,
        show_id: row.get(4)?,
        joined_ms: u64_at(row, 5)?,
    })
}

pub(super) const INVITE_COLUMNS: &str = "invite_id, invitee, inviter, kind, group_id, note, sname, urls, created_ms, expires_ms, delivered";

pub(super) fn invite_from_row(row: &Row<'_>) -> rusqlite::Result<InviteRecord> {
    let urls: String = row.get(7)?;
    Ok(InviteRecord {
        invite_id: row.get(0)?,
        invitee: row.get(1)?,
        inviter: row.get(2)?,
        kind: row.get(3)?,
        group_id: row.get(4)?,
        note: row.get(5)?,
        sname: row.get(6)?,
        urls: urls
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
        created_ms: u64_at(row, 8)?,
        expires_ms: opt_u64_at(row, 9)?,
        delivered: row.get(10)?,
    })
}

pub(super) fn pass_from_row(row: &Row<'_>) -> rusqlite::Result<GroupPass> {
    let kind: String = row.get(1)?;
    Ok(GroupPass {
        user: row.get(0)?,
        kind: PassKind::parse(&kind).unwrap_or(PassKind::Invited),
        until_ms: opt_u64_at(row, 2)?,
    })
}

/// A group with its properties, read on one connection.
pub(super) fn read_group(c: &Connection, id: &str) -> Result<Option<GroupRecord>, StoreError> {
    let head = c
        .prepare_cached(
            "SELECT id, owner, private, welcome_type, welcome_encoding, welcome_data, created_ms
             FROM chat_groups WHERE id = ?1",
        )
        .and_then(|mut s| {
            s.query_row([id], |r| {
                let wtype: Option<String> = r.get(3)?;
                let data: Option<String> = r.get(5)?;
                let welcome = match (wtype, data) {
                    (Some(t), Some(d)) => Some(WelcomeNote {
                        content_type: t,
                        encoding: r.get(4)?,
                        data: d,
                    }),
                    _ => None,
                };
                Ok(GroupRecord {
                    id: r.get(0)?,
                    owner: r.get(1)?,
                    private: r.get(2)?,
                    props: Vec::new(),
                    welcome,
                    created_ms: u64_at(r, 6)?,
                })
            })
            .optional()
        })
        .map_err(|e| backend(&format!("reading group {id}"), e))?;
    let Some(mut g) = head else { return Ok(None) };
    g.props = c
        .prepare_cached("SELECT name, value FROM group_props WHERE group_id = ?1 ORDER BY name")
        .and_then(|mut s| s.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
        .map_err(|e| backend(&format!("reading properties of {id}"), e))?;
    Ok(Some(g))
}

/// Writes the properties and welcome note of an existing group.
pub(super) fn write_props(c: &Connection, g: &GroupRecord) -> Result<(), StoreError> {
    let w = g.welcome.as_ref();
    c.prepare_cached(
        "UPDATE chat_groups SET welcome_type = ?2, welcome_encoding = ?3, welcome_data = ?4 WHERE id = ?1",
    )
    .and_then(|mut s| {
        s.execute((
            &g.id,
            w.map(|w| &w.content_type),
            w.and_then(|w| w.encoding.as_ref()),
            w.map(|w| &w.data),
        ))
    })
    .map_err(|e| backend(&format!("writing welcome note of {}", g.id), e))?;
    c.prepare_cached("DELETE FROM group_props WHERE group_id = ?1")
        .and_then(|mut s| s.execute([&g.id]))
        .map_err(|e| backend(&format!("clearing properties of {}", g.id), e))?;
    let mut ins = c
        .prepare_cached("INSERT INTO group_props (group_id, name, value) VALUES (?1, ?2, ?3)")
        .map_err(|e| backend("preparing property insert", e))?;
    for (n, v) in &g.props {
        ins.execute((&g.id, n, v))
            .map_err(|e| backend(&format!("writing property {n} of {}", g.id), e))?;
    }
    Ok(())
}

pub(super) fn read_all<T, P, F>(
    c: &Connection,
    sql: &str,
    params: P,
    f: F,
    ctx: &str,
) -> Result<Vec<T>, StoreError>
where
    P: rusqlite::Params,
    F: FnMut(&Row<'_>) -> rusqlite::Result<T>,
{
    c.prepare_cached(sql)
        .and_then(|mut s| s.query_map(params, f)?.collect())
        .map_err(|e| backend(ctx, e))
}

pub(super) fn changed(
    c: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    ctx: &str,
) -> Result<bool, StoreError> {
    c.prepare_cached(sql)
        .and_then(|mut s| s.execute(params))
        .map(|n| n > 0)
        .map_err(|e| backend(ctx, e))
}
