//! Users, credentials and sessions; see `imps_core::AccountStore` and
//! `sql/0001_users_sessions.sql`.

use async_trait::async_trait;
use imps_core::store::{ContactDetails, PublicProfile, user_keys};
use imps_core::{AccountStore, NewUser, SessionRecord, StoreError, UserRecord};
use tokio_postgres::Row;

use crate::PgStore;
use crate::directory::{import_users, insert_user_keys};
use crate::rows::{
    backend, col, col_u64, constraint, exec, exec_raw, is_unique_violation, join_names, query,
    query_opt, split_names, to_i64,
};

const USER_COLUMNS: &str = "id, password_hash, digest_secret, msisdn, friendly_name, created_ms";
const SESSION_COLUMNS: &str = "id, user_id, client_id, version, cookie, ttl_secs, created_ms, \
     delivery_method, bare_ids, android_engine, withheld, cir_target, node";

fn user_from_row(r: &Row) -> Result<UserRecord, StoreError> {
    Ok(UserRecord {
        id: col(r, 0)?,
        password_hash: col(r, 1)?,
        digest_secret: col(r, 2)?,
        msisdn: col(r, 3)?,
        friendly_name: col(r, 4)?,
        created_ms: col_u64(r, 5)?,
    })
}

fn session_from_row(r: &Row) -> Result<SessionRecord, StoreError> {
    Ok(SessionRecord {
        id: col(r, 0)?,
        user_id: col(r, 1)?,
        client_id: col(r, 2)?,
        version: col(r, 3)?,
        cookie: col(r, 4)?,
        ttl_secs: col_u64(r, 5)?,
        created_ms: col_u64(r, 6)?,
        delivery_method: col(r, 7)?,
        bare_ids: col(r, 8)?,
        android_engine: col(r, 9)?,
        withheld: split_names(&col::<String>(r, 10)?),
        cir_target: col(r, 11)?,
        node: col(r, 12)?,
    })
}

/// The `Conflict` a unique violation on inserting `u` means: the MSISDN
/// when its constraint says so, the ID otherwise.
fn user_conflict(u: &NewUser, e: &tokio_postgres::Error) -> StoreError {
    match &u.msisdn {
        Some(m) if constraint(e) == Some("users_msisdn_key") => {
            StoreError::Conflict(format!("msisdn {m} taken"))
        }
        _ => StoreError::Conflict(format!("user {} exists", u.id)),
    }
}

#[async_trait]
impl AccountStore for PgStore {
    async fn create_user(&self, u: NewUser) -> Result<(), StoreError> {
        let created_ms = to_i64(u.created_ms, "created_ms")?;
        let mut c = self.conn().await?;
        // The user and its search keys commit together.
        let tx = c
            .transaction()
            .await
            .map_err(|e| backend("starting create_user", &e))?;
        let res = exec_raw(
            &tx,
            &format!("INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"),
            &[
                &u.id,
                &u.password_hash,
                &u.digest_secret,
                &u.msisdn,
                &u.friendly_name,
                &created_ms,
            ],
            "creating a user",
        )
        .await?;
        match res {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Err(user_conflict(&u, &e)),
            Err(e) => return Err(backend(&format!("creating user {}", u.id), &e)),
        }
        let profile = PublicProfile {
            friendly_name: u.friendly_name.clone(),
            ..PublicProfile::default()
        };
        let keys = user_keys(
            &u.id,
            u.msisdn.as_deref(),
            &profile,
            &ContactDetails::default(),
        );
        insert_user_keys(&tx, &u.id, &keys).await?;
        tx.commit()
            .await
            .map_err(|e| backend(&format!("committing user {}", u.id), &e))
    }

    async fn import_users(
        &self,
        users: Vec<(NewUser, PublicProfile, ContactDetails)>,
    ) -> Result<(), StoreError> {
        let mut c = self.conn().await?;
        // One transaction: the users, profiles, contact details and keys
        // commit together, or nothing does (dropping it rolls back).
        let tx = c
            .transaction()
            .await
            .map_err(|e| backend("starting import_users", &e))?;
        import_users(&tx, &users).await?;
        tx.commit()
            .await
            .map_err(|e| backend("committing import_users", &e))
    }

    async fn user(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
        let c = self.conn().await?;
        query_opt(
            &c,
            &format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"),
            &[&id],
            &format!("reading user {id}"),
        )
        .await?
        .map(|r| user_from_row(&r))
        .transpose()
    }

    async fn user_by_msisdn(&self, msisdn: &str) -> Result<Option<UserRecord>, StoreError> {
        let c = self.conn().await?;
        query_opt(
            &c,
            &format!("SELECT {USER_COLUMNS} FROM users WHERE msisdn = $1"),
            &[&msisdn],
            &format!("reading user by msisdn {msisdn}"),
        )
        .await?
        .map(|r| user_from_row(&r))
        .transpose()
    }

    async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let c = self.conn().await?;
        query(
            &c,
            &format!("SELECT {USER_COLUMNS} FROM users ORDER BY id"),
            &[],
            "listing users",
        )
        .await?
        .iter()
        .map(user_from_row)
        .collect()
    }

    async fn set_password(
        &self,
        id: &str,
        password_hash: Option<String>,
        digest_secret: Option<Vec<u8>>,
    ) -> Result<bool, StoreError> {
        let c = self.conn().await?;
        let n = exec(
            &c,
            "UPDATE users SET password_hash = $2, digest_secret = $3 WHERE id = $1",
            &[&id, &password_hash, &digest_secret],
            &format!("setting the password of {id}"),
        )
        .await?;
        Ok(n > 0)
    }

    async fn put_session(&self, s: SessionRecord) -> Result<(), StoreError> {
        let ttl_secs = to_i64(s.ttl_secs, "ttl_secs")?;
        let created_ms = to_i64(s.created_ms, "created_ms")?;
        let withheld = join_names(&s.withheld);
        let c = self.conn().await?;
        // Upsert: a session re-persisted (new TTL, cookie) replaces the
        // old row instead of conflicting with it.
        exec(
            &c,
            &format!(
                "INSERT INTO sessions ({SESSION_COLUMNS})
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                 ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id,
                   client_id = excluded.client_id, version = excluded.version,
                   cookie = excluded.cookie, ttl_secs = excluded.ttl_secs,
                   created_ms = excluded.created_ms,
                   delivery_method = excluded.delivery_method,
                   bare_ids = excluded.bare_ids,
                   android_engine = excluded.android_engine,
                   withheld = excluded.withheld,
                   cir_target = excluded.cir_target,
                   node = excluded.node"
            ),
            &[
                &s.id,
                &s.user_id,
                &s.client_id,
                &s.version,
                &s.cookie,
                &ttl_secs,
                &created_ms,
                &s.delivery_method,
                &s.bare_ids,
                &s.android_engine,
                &withheld,
                &s.cir_target,
                &s.node,
            ],
            &format!("storing session {}", s.id),
        )
        .await
        .map(|_| ())
    }

    async fn delete_session(&self, id: &str) -> Result<(), StoreError> {
        let c = self.conn().await?;
        exec(
            &c,
            "DELETE FROM sessions WHERE id = $1",
            &[&id],
            &format!("deleting session {id}"),
        )
        .await
        .map(|_| ())
    }

    async fn take_sessions_of_node(&self, node: &str) -> Result<Vec<SessionRecord>, StoreError> {
        let c = self.conn().await?;
        let mut v = query(
            &c,
            &format!("DELETE FROM sessions WHERE node = $1 RETURNING {SESSION_COLUMNS}"),
            &[&node],
            &format!("taking the sessions of node {node}"),
        )
        .await?
        .iter()
        .map(session_from_row)
        .collect::<Result<Vec<_>, _>>()?;
        v.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(v)
    }

    async fn sessions(&self) -> Result<Vec<SessionRecord>, StoreError> {
        let c = self.conn().await?;
        query(
            &c,
            &format!("SELECT {SESSION_COLUMNS} FROM sessions ORDER BY id"),
            &[],
            "listing sessions",
        )
        .await?
        .iter()
        .map(session_from_row)
        .collect()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        // The bookkeeping table, not `SELECT 1`: a database that answers
        // but lost impsd's schema (dropped, or the search path wrong)
        // cannot serve anything either.
        let c = self.conn().await?;
        query(
            &c,
            "SELECT MAX(version) FROM schema_version",
            &[],
            "pinging the store",
        )
        .await
        .map(|_| ())
    }
}
