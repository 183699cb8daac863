//! The `Store` operations as SQL. Writes go to the single writer thread,
//! reads to the reader pool; each closure owns its arguments because it
//! runs on another thread after the caller's borrow has ended.

use async_trait::async_trait;
use imps_core::store::{ContactDetails, PublicProfile, user_keys};
use imps_core::{AccountStore, NewUser, SessionRecord, StoreError, UserRecord};
use rusqlite::OptionalExtension;

use crate::directory::insert_user_keys;
use crate::rows::{
    SESSION_COLUMNS, USER_COLUMNS, backend, is_uniqueness_violation, join_names, session_from_row,
    to_sql_int, user_from_row, violation_mentions,
};
use crate::sqlite::SqliteStore;

#[async_trait]
impl AccountStore for SqliteStore {
    async fn create_user(&self, u: NewUser) -> Result<(), StoreError> {
        self.writer()
            .run(move |c| {
                let created_ms = to_sql_int(u.created_ms, "created_ms")?;
                // The user and its search keys commit together.
                let tx = c
                    .transaction()
                    .map_err(|e| backend("starting create_user", e))?;
                let mut stmt = tx
                    .prepare_cached(&format!(
                        "INSERT INTO users ({USER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                    ))
                    .map_err(|e| backend("preparing create_user", e))?;
                let res = stmt.execute((
                    &u.id,
                    &u.password_hash,
                    &u.digest_secret,
                    &u.msisdn,
                    &u.friendly_name,
                    created_ms,
                ));
                drop(stmt);
                match res {
                    Ok(_) => {
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
                        insert_user_keys(&tx, &u.id, &profile, &keys)?;
                        tx.commit()
                            .map_err(|e| backend(&format!("committing user {}", u.id), e))
                    }
                    Err(e) if is_uniqueness_violation(&e) => Err(match &u.msisdn {
                        Some(m) if violation_mentions(&e, "users.msisdn") => {
                            StoreError::Conflict(format!("msisdn {m} taken"))
                        }
                        _ => StoreError::Conflict(format!("user {} exists", u.id)),
                    }),
                    Err(e) => Err(backend(&format!("creating user {}", u.id), e)),
                }
            })
            .await
    }

    async fn import_users(
        &self,
        users: Vec<(NewUser, PublicProfile, ContactDetails)>,
    ) -> Result<(), StoreError> {
        self.writer()
            .run(move |c| {
                // One transaction: the users, profiles, contact details and
                // keys commit together, or nothing does.
                let tx = c
                    .transaction()
                    .map_err(|e| backend("starting import_users", e))?;
                crate::directory::import_users(&tx, &users)?;
                tx.commit()
                    .map_err(|e| backend("committing import_users", e))
            })
            .await
    }

    async fn user(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
        let id = id.to_owned();
        self.read_lane()
            .run(move |c| {
                c.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"))
                    .and_then(|mut s| s.query_row([&id], user_from_row).optional())
                    .map_err(|e| backend(&format!("reading user {id}"), e))
            })
            .await
    }

    async fn user_by_msisdn(&self, msisdn: &str) -> Result<Option<UserRecord>, StoreError> {
        let msisdn = msisdn.to_owned();
        self.read_lane()
            .run(move |c| {
                c.prepare_cached(&format!(
                    "SELECT {USER_COLUMNS} FROM users WHERE msisdn = ?1"
                ))
                .and_then(|mut s| s.query_row([&msisdn], user_from_row).optional())
                .map_err(|e| backend(&format!("reading user by msisdn {msisdn}"), e))
            })
            .await
    }

    async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
        self.read_lane()
            .run(|c| {
                c.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY id"))
                    .and_then(|mut s| s.query_map([], user_from_row)?.collect())
                    .map_err(|e| backend("listing users", e))
            })
            .await
    }

    async fn set_password(
        &self,
        id: &str,
        password_hash: Option<String>,
        digest_secret: Option<Vec<u8>>,
    ) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.writer()
            .run(move |c| {
                c.prepare_cached(
                    "UPDATE users SET password_hash = ?2, digest_secret = ?3 WHERE id = ?1",
                )
                .and_then(|mut s| s.execute((&id, &password_hash, &digest_secret)))
                .map(|changed| changed > 0)
                .map_err(|e| backend(&format!("setting password of {id}"), e))
            })
            .await
    }

    async fn put_session(&self, s: SessionRecord) -> Result<(), StoreError> {
        self.writer()
            .run(move |c| {
                let ttl_secs = to_sql_int(s.ttl_secs, "ttl_secs")?;
                let created_ms = to_sql_int(s.created_ms, "created_ms")?;
                // Upsert: a session re-persisted (new TTL, cookie) replaces
                // the old row instead of conflicting with it.
                c.prepare_cached(&format!(
                    "INSERT INTO sessions ({SESSION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
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
                ))
                .and_then(|mut st| {
                    st.execute((
                        &s.id,
                        &s.user_id,
                        &s.client_id,
                        &s.version,
                        &s.cookie,
                        ttl_secs,
                        created_ms,
                        &s.delivery_method,
                        s.bare_ids,
                        s.android_engine,
                        join_names(&s.withheld),
                        &s.cir_target,
                        &s.node,
                    ))
                })
                .map(|_| ())
                .map_err(|e| backend(&format!("storing session {}", s.id), e))
            })
            .await
    }

    async fn delete_session(&self, id: &str) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.writer()
            .run(move |c| {
                c.prepare_cached("DELETE FROM sessions WHERE id = ?1")
                    .and_then(|mut s| s.execute([&id]))
                    .map(|_| ())
                    .map_err(|e| backend(&format!("deleting session {id}"), e))
            })
            .await
    }

    async fn sessions(&self) -> Result<Vec<SessionRecord>, StoreError> {
        self.read_lane()
            .run(|c| {
                c.prepare_cached(&format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions ORDER BY id"
                ))
                .and_then(|mut s| s.query_map([], session_from_row)?.collect())
                .map_err(|e| backend("listing sessions", e))
            })
            .await
    }

    async fn take_sessions_of_node(&self, node: &str) -> Result<Vec<SessionRecord>, StoreError> {
        let node = node.to_owned();
        self.writer()
            .run(move |c| {
                c.prepare_cached(&format!(
                    "DELETE FROM sessions WHERE node = ?1 RETURNING {SESSION_COLUMNS}"
                ))
                .and_then(|mut s| s.query_map([&node], session_from_row)?.collect())
                .map(|mut v: Vec<SessionRecord>| {
                    v.sort_by(|a, b| a.id.cmp(&b.id));
                    v
                })
                .map_err(|e| backend(&format!("taking the sessions of node {node}"), e))
            })
            .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        // Through the writer: the single writer is where a stuck or broken
        // store shows first (its queue full, its file gone bad).
        self.writer()
            .run(|c| {
                c.query_row("SELECT MAX(version) FROM schema_migrations", [], |_| Ok(()))
                    .map_err(|e| backend("pinging the store", e))
            })
            .await
    }
}
