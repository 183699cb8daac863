//! Presence documents, authorizations, reactive requests and
//! subscriptions; see `imps_core::PresenceStore` and
//! `sql/0003_presence.sql`. Multi-row changes run in one transaction, so
//! a request that names several users is all or nothing.

use async_trait::async_trait;
use imps_core::store::{
    AuthChange, GrantRecord, GrantSubject, PresenceAuthRecords, ReactiveRecord, ReactiveState,
    SubscriptionRecord,
};
use imps_core::{PresenceStore, StoreError};
use tokio_postgres::{IsolationLevel, Row};

use crate::PgStore;
use crate::rows::{backend, col, col_u64, exec, join_names, query, query_opt, split_names, to_i64};

fn subject_columns(s: &GrantSubject) -> (&'static str, &str) {
    match s {
        GrantSubject::Default => ("D", ""),
        GrantSubject::User(u) => ("U", u.as_str()),
        GrantSubject::List(l) => ("L", l.as_str()),
    }
}

fn grant_from_row(r: &Row) -> Result<Option<GrantRecord>, StoreError> {
    let kind: String = col(r, 0)?;
    let subject: String = col(r, 1)?;
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
        attrs: split_names(&col::<String>(r, 2)?),
    }))
}

fn reactive_from_row(r: &Row) -> Result<Option<ReactiveRecord>, StoreError> {
    let Some(state) = ReactiveState::parse(&col::<String>(r, 1)?) else {
        return Ok(None);
    };
    Ok(Some(ReactiveRecord {
        watcher: col(r, 0)?,
        state,
        attrs: col::<Option<String>>(r, 2)?.map(|a| split_names(&a)),
        updated_ms: col_u64(r, 3)?,
    }))
}

const SUB_COLUMNS: &str = "owner, watcher, attrs, active, updated_ms";

fn sub_from_row(r: &Row) -> Result<SubscriptionRecord, StoreError> {
    Ok(SubscriptionRecord {
        owner: col(r, 0)?,
        watcher: col(r, 1)?,
        attrs: col::<Option<String>>(r, 2)?.map(|a| split_names(&a)),
        active: col(r, 3)?,
        updated_ms: col_u64(r, 4)?,
    })
}

#[async_trait]
impl PresenceStore for PgStore {
    async fn presence_doc(&self, user: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let c = self.conn().await?;
        query_opt(
            &c,
            "SELECT doc FROM presence_docs WHERE user_id = $1",
            &[&user],
            &format!("reading presence of {user}"),
        )
        .await?
        .map(|r| col(&r, 0))
        .transpose()
    }

    async fn put_presence_doc(
        &self,
        user: &str,
        doc: Vec<u8>,
        updated_ms: u64,
    ) -> Result<(), StoreError> {
        let at = to_i64(updated_ms, "updated_ms")?;
        let c = self.conn().await?;
        exec(
            &c,
            "INSERT INTO presence_docs (user_id, doc, updated_ms) VALUES ($1, $2, $3)
             ON CONFLICT (user_id) DO UPDATE SET doc = excluded.doc,
               updated_ms = excluded.updated_ms",
            &[&user, &doc, &at],
            &format!("storing presence of {user}"),
        )
        .await
        .map(|_| ())
    }

    async fn presence_auth(&self, owner: &str) -> Result<PresenceAuthRecords, StoreError> {
        let what = format!("reading authorizations of {owner}");
        let mut c = self.conn().await?;
        // Both reads from one snapshot.
        let tx = c
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(|e| backend(&what, &e))?;
        let grants = query(
            &tx,
            "SELECT kind, subject, attrs FROM presence_grants WHERE owner = $1
             ORDER BY kind, subject",
            &[&owner],
            &what,
        )
        .await?;
        let reactive = query(
            &tx,
            "SELECT watcher, state, attrs, updated_ms FROM presence_reactive
             WHERE owner = $1 ORDER BY watcher",
            &[&owner],
            &what,
        )
        .await?;
        tx.commit().await.map_err(|e| backend(&what, &e))?;
        let mut out = PresenceAuthRecords::default();
        for r in &grants {
            out.grants.extend(grant_from_row(r)?);
        }
        for r in &reactive {
            out.reactive.extend(reactive_from_row(r)?);
        }
        Ok(out)
    }

    async fn update_presence_auth(&self, owner: &str, ch: AuthChange) -> Result<(), StoreError> {
        let what = format!("changing authorizations of {owner}");
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(|e| backend(&what, &e))?;
        for s in &ch.delete_grants {
            let (kind, subject) = subject_columns(s);
            exec(
                &tx,
                "DELETE FROM presence_grants WHERE owner = $1 AND kind = $2 AND subject = $3",
                &[&owner, &kind, &subject],
                &what,
            )
            .await?;
        }
        for g in &ch.put_grants {
            let (kind, subject) = subject_columns(&g.subject);
            exec(
                &tx,
                "INSERT INTO presence_grants (owner, kind, subject, attrs) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (owner, kind, subject) DO UPDATE SET attrs = excluded.attrs",
                &[&owner, &kind, &subject, &join_names(&g.attrs)],
                &what,
            )
            .await?;
        }
        for w in &ch.delete_reactive {
            exec(
                &tx,
                "DELETE FROM presence_reactive WHERE owner = $1 AND watcher = $2",
                &[&owner, w],
                &what,
            )
            .await?;
        }
        for r in &ch.put_reactive {
            let at = to_i64(r.updated_ms, "updated_ms")?;
            let attrs = r.attrs.as_deref().map(join_names);
            exec(
                &tx,
                "INSERT INTO presence_reactive (owner, watcher, state, attrs, updated_ms)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (owner, watcher) DO UPDATE SET state = excluded.state,
                   attrs = excluded.attrs, updated_ms = excluded.updated_ms",
                &[&owner, &r.watcher, &r.state.as_str(), &attrs, &at],
                &what,
            )
            .await?;
        }
        tx.commit().await.map_err(|e| backend(&what, &e))
    }

    async fn put_subscriptions(&self, subs: Vec<SubscriptionRecord>) -> Result<(), StoreError> {
        if subs.is_empty() {
            return Ok(());
        }
        let what = "storing subscriptions";
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(|e| backend(what, &e))?;
        for s in &subs {
            let at = to_i64(s.updated_ms, "updated_ms")?;
            let attrs = s.attrs.as_deref().map(join_names);
            exec(
                &tx,
                &format!(
                    "INSERT INTO presence_subscriptions ({SUB_COLUMNS}) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (owner, watcher) DO UPDATE SET attrs = excluded.attrs,
                       active = excluded.active, updated_ms = excluded.updated_ms"
                ),
                &[&s.owner, &s.watcher, &attrs, &s.active, &at],
                what,
            )
            .await?;
        }
        tx.commit().await.map_err(|e| backend(what, &e))
    }

    async fn subscriptions_to(&self, owner: &str) -> Result<Vec<SubscriptionRecord>, StoreError> {
        let c = self.conn().await?;
        query(
            &c,
            &format!(
                "SELECT {SUB_COLUMNS} FROM presence_subscriptions WHERE owner = $1 ORDER BY watcher"
            ),
            &[&owner],
            &format!("reading watchers of {owner}"),
        )
        .await?
        .iter()
        .map(sub_from_row)
        .collect()
    }

    async fn subscriptions_of(&self, watcher: &str) -> Result<Vec<SubscriptionRecord>, StoreError> {
        let c = self.conn().await?;
        query(
            &c,
            &format!(
                "SELECT {SUB_COLUMNS} FROM presence_subscriptions WHERE watcher = $1 ORDER BY owner"
            ),
            &[&watcher],
            &format!("reading subscriptions of {watcher}"),
        )
        .await?
        .iter()
        .map(sub_from_row)
        .collect()
    }
}
