//! SQLite tables of the presence area; see `imps_core::PresenceStore` and
//! `sql/0003_presence.sql`. Multi-row changes run in one transaction on the
//! writer thread, so a request that names several users is all or nothing.

use async_trait::async_trait;
use imps_core::PresenceStore;
use imps_core::StoreError;
use imps_core::store::{
    AuthChange, GrantRecord, GrantSubject, PresenceAuthRecords, ReactiveRecord, ReactiveState,
    SubscriptionRecord,
};
use rusqlite::{OptionalExtension, Row};

use crate::SqliteStore;
use crate::rows::{backend, to_sql_int};

/// Attribute names as one column: names never contain spaces.
fn join_attrs(attrs: &[String]) -> String {
    attrs.join(" ")
}

fn split_attrs(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

fn subject_columns(s: &GrantSubject) -> (&'static str, &str) {
    match s {
        GrantSubject::Default => ("D", ""),
        GrantSubject::User(u) => ("U", u.as_str()),
        GrantSubject::List(l) => ("L", l.as_str()),
    }
}

fn u64_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<u64> {
    let v: i64 = row.get(idx)?;
    u64::try_from(v).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(idx, v))
}

fn grant_from_row(row: &Row<'_>) -> rusqlite::Result<Option<GrantRecord>> {
    let kind: String = row.get(0)?;
    let subject: String = row.get(1)?;
    let attrs: String = row.get(2)?;
    let subject = match kind.as_str() {
        "D" => GrantSubject::Default,
        "U" => GrantSubject::User(subject),
        "L" => GrantSubject::List(subject),
        // A kind this build does not know: skip it rather than fail the
        // owner's whole authorization set.
        _ => return Ok(None),
    };
    Ok(Some(GrantRecord {
        subject,
        attrs: split_attrs(&attrs),
    }))
}

fn reactive_from_row(row: &Row<'_>) -> rusqlite::Result<Option<ReactiveRecord>> {
    let state: String = row.get(1)?;
    let Some(state) = ReactiveState::parse(&state) else {
        return Ok(None);
    };
    let attrs: Option<String> = row.get(2)?;
    Ok(Some(ReactiveRecord {
        watcher: row.get(0)?,
        state,
        attrs: attrs.map(|a| split_attrs(&a)),
        updated_ms: u64_col(row, 3)?,
    }))
}

const SUB_COLUMNS: &str = "owner, watcher, attrs, active, updated_ms";

fn sub_from_row(row: &Row<'_>) -> rusqlite::Result<SubscriptionRecord> {
    let attrs: Option<String> = row.get(2)?;
    let active: i64 = row.get(3)?;
    Ok(SubscriptionRecord {
        owner: row.get(0)?,
        watcher: row.get(1)?,
        attrs: attrs.map(|a| split_attrs(&a)),
        active: active != 0,
        updated_ms: u64_col(row, 4)?,
    })
}

#[async_trait]
impl PresenceStore for SqliteStore {
    async fn presence_doc(&self, user: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let user = user.to_owned();
        self.read_lane()
            .run(move |c| {
                c.prepare_cached("SELECT doc FROM presence_docs WHERE user_id = ?1")
                    .and_then(|mut s| s.query_row([&user], |r| r.get::<_, Vec<u8>>(0)).optional())
                    .map_err(|e| backend(&format!("reading presence of {user}"), e))
            })
            .await
    }

    async fn put_presence_doc(
        &self,
        user: &str,
        doc: Vec<u8>,
        updated_ms: u64,
    ) -> Result<(), StoreError> {
        let user = user.to_owned();
        self.writer()
            .run(move |c| {
                let at = to_sql_int(updated_ms, "updated_ms")?;
                c.prepare_cached(
                    "INSERT INTO presence_docs (user_id, doc, updated_ms) VALUES (?1, ?2, ?3)
                     ON CONFLICT (user_id) DO UPDATE SET doc = excluded.doc,
                       updated_ms = excluded.updated_ms",
                )
                .and_then(|mut s| s.execute((&user, &doc, at)))
                .map(|_| ())
                .map_err(|e| backend(&format!("storing presence of {user}"), e))
            })
            .await
    }

    async fn presence_auth(&self, owner: &str) -> Result<PresenceAuthRecords, StoreError> {
        let owner = owner.to_owned();
        self.read_lane()
            .run(move |c| {
                let what = |e| backend(&format!("reading authorizations of {owner}"), e);
                let grants = c
                    .prepare_cached(
                        "SELECT kind, subject, attrs FROM presence_grants WHERE owner = ?1
                         ORDER BY kind, subject",
                    )
                    .and_then(|mut s| {
                        s.query_map([&owner], grant_from_row)?
                            .collect::<rusqlite::Result<Vec<_>>>()
                    })
                    .map_err(what)?;
                let reactive = c
                    .prepare_cached(
                        "SELECT watcher, state, attrs, updated_ms FROM presence_reactive
                         WHERE owner = ?1 ORDER BY watcher",
                    )
                    .and_then(|mut s| {
                        s.query_map([&owner], reactive_from_row)?
                            .collect::<rusqlite::Result<Vec<_>>>()
                    })
                    .map_err(what)?;
                Ok(PresenceAuthRecords {
                    grants: grants.into_iter().flatten().collect(),
                    reactive: reactive.into_iter().flatten().collect(),
                })
            })
            .await
    }

    async fn update_presence_auth(&self, owner: &str, ch: AuthChange) -> Result<(), StoreError> {
        let owner = owner.to_owned();
        self.writer()
            .run(move |c| {
                let what = |e| backend(&format!("changing authorizations of {owner}"), e);
                let tx = c.transaction().map_err(what)?;
                {
                    let mut del = tx
                        .prepare_cached("DELETE FROM presence_grants WHERE owner = ?1 AND kind = ?2 AND subject = ?3")
                        .map_err(what)?;
                    for s in &ch.delete_grants {
                        let (kind, subject) = subject_columns(s);
                        del.execute((&owner, kind, subject)).map_err(what)?;
                    }
                    let mut put = tx
                        .prepare_cached(
                            "INSERT INTO presence_grants (owner, kind, subject, attrs) VALUES (?1, ?2, ?3, ?4)
                             ON CONFLICT (owner, kind, subject) DO UPDATE SET attrs = excluded.attrs",
                        )
                        .map_err(what)?;
                    for g in &ch.put_grants {
                        let (kind, subject) = subject_columns(&g.subject);
                        put.execute((&owner, kind, subject, join_attrs(&g.attrs)))
                            .map_err(what)?;
                    }
                    let mut del = tx
                        .prepare_cached("DELETE FROM presence_reactive WHERE owner = ?1 AND watcher = ?2")
                        .map_err(what)?;
                    for w in &ch.delete_reactive {
                        del.execute((&owner, w)).map_err(what)?;
                    }
                    let mut put = tx
                        .prepare_cached(
                            "INSERT INTO presence_reactive (owner, watcher, state, attrs, updated_ms)
                             VALUES (?1, ?2, ?3, ?4, ?5)
                             ON CONFLICT (owner, watcher) DO UPDATE SET state = excluded.state,
                               attrs = excluded.attrs, updated_ms = excluded.updated_ms",
                        )
                        .map_err(what)?;
                    for r in &ch.put_reactive {
                        let at = to_sql_int(r.updated_ms, "updated_ms")?;
                        let attrs = r.attrs.as_deref().map(join_attrs);
                        put.execute((&owner, &r.watcher, r.state.as_str(), attrs, at))
                            .map_err(what)?;
                    }
                }
                tx.commit().map_err(what)
            })
            .await
    }

    async fn put_subscriptions(&self, subs: Vec<SubscriptionRecord>) -> Result<(), StoreError> {
        if subs.is_empty() {
            return Ok(());
        }
        self.writer()
            .run(move |c| {
                let what = |e| backend("storing subscriptions", e);
                let tx = c.transaction().map_err(what)?;
                {
                    let mut put = tx
                        .prepare_cached(&format!(
                            "INSERT INTO presence_subscriptions ({SUB_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5)
                             ON CONFLICT (owner, watcher) DO UPDATE SET attrs = excluded.attrs,
                               active = excluded.active, updated_ms = excluded.updated_ms"
                        ))
                        .map_err(what)?;
                    for s in &subs {
                        let at = to_sql_int(s.updated_ms, "updated_ms")?;
                        let attrs = s.attrs.as_deref().map(join_attrs);
                        put.execute((&s.owner, &s.watcher, attrs, i64::from(s.active), at))
                            .map_err(what)?;
                    }
                }
                tx.commit().map_err(what)
            })
            .await
    }

    async fn subscriptions_to(&self, owner: &str) -> Result<Vec<SubscriptionRecord>, StoreError> {
        let owner = owner.to_owned();
        self.read_lane()
            .run(move |c| {
                c.prepare_cached(&format!(
                    "SELECT {SUB_COLUMNS} FROM presence_subscriptions WHERE owner = ?1 ORDER BY watcher"
                ))
                .and_then(|mut s| s.query_map([&owner], sub_from_row)?.collect())
                .map_err(|e| backend(&format!("reading watchers of {owner}"), e))
            })
            .await
    }

    async fn subscriptions_of(&self, watcher: &str) -> Result<Vec<SubscriptionRecord>, StoreError> {
        let watcher = watcher.to_owned();
        self.read_lane()
            .run(move |c| {
                c.prepare_cached(&format!(
                    "SELECT {SUB_COLUMNS} FROM presence_subscriptions WHERE watcher = ?1 ORDER BY owner"
                ))
                .and_then(|mut s| s.query_map([&watcher], sub_from_row)?.collect())
                .map_err(|e| backend(&format!("reading subscriptions of {watcher}"), e))
            })
            .await
    }
}
